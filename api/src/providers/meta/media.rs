//! Media on the Cloud API: where a customer's file is (`GET /{media-id}`), downloading it with
//! the number's token (only from Meta's hosts or the API's own), and uploading an agent's file
//! for sending (`POST /{phone-number-id}/media`). Transfers have connect and idle-read
//! timeouts, no total limit.

use secrecy::ExposeSecret;
use serde_json::Value;

use super::{CALL_TIMEOUT, NumberApi, WhatsappGateway, meta_error};
use crate::providers::GatewayError;
use crate::traces::SendTraced;

/// What `GET /{media-id}` answers: where to download the file (for 5 minutes), and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaInfo {
    pub url: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub file_size: Option<u64>,
}

impl NumberApi<'_> {
    /// Where to download a customer's media (`GET /{media-id}?phone_number_id=…`: Meta only
    /// answers for the number the media was sent to).
    ///
    /// # Errors
    /// The provider's refusal (404: gone), or a transport failure (retryable).
    pub async fn media_info(&self, media_id: &str) -> Result<MediaInfo, GatewayError> {
        let (client, base, token) = self.cloud()?;
        let response = client
            .get(format!("{base}/{media_id}"))
            .timeout(CALL_TIMEOUT)
            .query(&[("phone_number_id", self.phone_number_id)])
            .bearer_auth(token.expose_secret())
            .send_traced()
            .await
            .map_err(|e| GatewayError::transport(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(media_gone());
        }
        if !status.is_success() {
            return Err(meta_error(status.as_u16(), &body));
        }
        let Some(url) = body["url"].as_str() else {
            return Err(GatewayError::bad_answer("media answer without a url"));
        };
        let file_size =
            body["file_size"].as_u64().or_else(|| body["file_size"].as_str().and_then(|s| s.parse().ok()));
        Ok(MediaInfo {
            url: url.to_owned(),
            mime_type: body["mime_type"].as_str().map(str::to_owned),
            sha256: body["sha256"].as_str().map(str::to_owned),
            file_size,
        })
    }

    /// Starts a download of a media URL with the bearer token; the body is read as a stream.
    ///
    /// # Errors
    /// A refused URL, the provider's refusal (404: gone), or a transport failure (retryable).
    pub async fn download(&self, url: &str) -> Result<reqwest::Response, GatewayError> {
        let (client, _, token) = self.cloud()?;
        if !self.gateway.may_download_from(url) {
            return Err(GatewayError::not_sent("the media URL is not on a WhatsApp host"));
        }
        let response = client
            .get(url)
            .bearer_auth(token.expose_secret())
            .send_traced()
            .await
            .map_err(|e| GatewayError::transport(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(media_gone());
        }
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            return Err(meta_error(status.as_u16(), &body));
        }
        Ok(response)
    }

    /// Uploads a file for sending (`POST /{phone-number-id}/media`, multipart); returns Meta's
    /// media id. The sandbox answers with a made-up id.
    ///
    /// # Errors
    /// The provider's refusal, or a transport failure (retryable).
    pub async fn upload_media(
        &self,
        bytes: bytes::Bytes,
        mime_type: &str,
        file_name: &str,
    ) -> Result<String, GatewayError> {
        if self.is_sandbox() {
            return Ok(format!("SANDBOX-MEDIA-{}", uuid::Uuid::new_v4().simple()));
        }
        let (client, base, token) = self.cloud()?;
        let phone_number_id = self.phone_number_id;
        let part = reqwest::multipart::Part::stream(bytes)
            .file_name(file_name.to_owned())
            .mime_str(mime_type)
            .map_err(|_| GatewayError::not_sent("invalid MIME type"))?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_owned())
            .part("file", part);
        let response = client
            .post(format!("{base}/{phone_number_id}/media"))
            .bearer_auth(token.expose_secret())
            .multipart(form)
            .send_traced()
            .await
            .map_err(|e| GatewayError::transport(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(meta_error(status.as_u16(), &body));
        }
        body["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or(GatewayError::bad_answer("upload answer without a media id"))
    }
}

/// A media id or URL WhatsApp answers 404 for: expired or never there; retrying does not help.
fn media_gone() -> GatewayError {
    GatewayError::http(404, None, "WhatsApp no longer has this media (HTTP 404)".to_owned())
}

impl WhatsappGateway {
    /// Whether the bearer token may be sent to `url`: Meta's download hosts over https, or the
    /// configured API host itself. Anything else would hand the token to whoever the URL names.
    #[must_use]
    pub fn may_download_from(&self, url: &str) -> bool {
        let (Ok(url), Ok(base)) = (reqwest::Url::parse(url), reqwest::Url::parse(&self.base)) else {
            return false;
        };
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else { return false };
        if base.host_str().map(str::to_ascii_lowercase).as_deref() == Some(host.as_str())
            && url.port_or_known_default() == base.port_or_known_default()
        {
            return true;
        }
        let meta = ["fbsbx.com", "facebook.com", "fbcdn.net", "whatsapp.net"];
        url.scheme() == "https" && meta.iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn the_bearer_token_goes_only_to_whatsapp_hosts() {
        let gateway =
            WhatsappGateway::new("http://127.0.0.1:9999/v23.0", Some(&SecretString::from("t".to_owned())))
                .unwrap();
        assert!(
            gateway.may_download_from("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1")
        );
        assert!(gateway.may_download_from("http://127.0.0.1:9999/download/1"));
        for url in [
            "http://lookaside.fbsbx.com/x",
            "https://evil.example.com/x",
            "https://fbsbx.com.evil.example/x",
            "http://127.0.0.1:9998/x",
            "https://169.254.169.254/latest",
        ] {
            assert!(!gateway.may_download_from(url), "{url}");
        }
    }
}
