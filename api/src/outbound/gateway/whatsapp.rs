//! The WhatsApp gateway: `sandbox` (records nothing remotely, accepts with a generated id) or
//! `cloud` (`POST {base}/{phone_number_id}/messages` with a bearer token).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use persistence::entities::business_number;
use persistence::sealed::{Keyring, Purpose};

use super::{Accepted, GatewayError, OutboundContent, Recipient};

/// Meta error codes worth retrying: rate limits and transient platform errors.
const RETRYABLE_CODES: &[i64] = &[1, 2, 4, 17, 80007, 130429, 131000, 131016, 131056];

/// Meta error codes Parley explains (the rest keep Meta's own text).
#[must_use]
pub fn describe(code: i64) -> Option<&'static str> {
    Some(match code {
        131047 => "Re-engagement message: more than 24 hours have passed since the customer last wrote.",
        131062 => "Business-scoped User ID (BSUID) recipients are not supported for this message.",
        131056 => "Too many messages to this customer in a short time (pair rate limit); retrying.",
        130429 => "Cloud API throughput reached; retrying.",
        131026 => "Message undeliverable.",
        131049 => "Not delivered to maintain healthy ecosystem engagement.",
        131051 => "Unsupported message type.",
        131009 => "Parameter value is not valid (for example a retired BSUID).",
        132001 => "Template does not exist in this language.",
        132000 => "Template parameter count mismatch.",
        100 => "Invalid parameter.",
        190 => "Access token expired or invalid.",
        10 => "Permission denied.",
        _ => return None,
    })
}

/// The Cloud API as Parley reaches it: its base URL and the process's default token
/// (`PARLEY_WHATSAPP_ACCESS_TOKEN`). Each business number calls it with its own token when it
/// has one ([`WhatsappGateway::for_number`]); a number with no token at all is in the sandbox:
/// sends are accepted with a made-up id, nothing goes over the network.
#[derive(Clone)]
pub struct WhatsappGateway {
    client: reqwest::Client,
    base: String,
    default_token: Option<SecretString>,
}

impl std::fmt::Debug for WhatsappGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsappGateway").field("base", &self.base).finish_non_exhaustive()
    }
}

/// The gateway as one business number uses it: its phone number id and its token (or none:
/// the sandbox).
pub struct NumberApi<'a> {
    gateway: &'a WhatsappGateway,
    token: Option<SecretString>,
    pub phone_number_id: &'a str,
}

impl std::fmt::Debug for NumberApi<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberApi").field("phone_number_id", &self.phone_number_id).finish_non_exhaustive()
    }
}

/// Most pages of a WABA's numbers read while proving a number.
const MAX_PAGES: usize = 20;

/// Why a number could not be proven to belong to the token that claims it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberProof {
    #[error("the Cloud API does not show this phoneNumberId to the given accessToken")]
    NotVisible,
    #[error("the Cloud API does not list this phoneNumberId among the numbers of wabaId")]
    NotInWaba,
    #[error("the Cloud API could not be reached to check the number; try again")]
    Unreachable,
}

/// Longest wait for a connection to the Cloud API.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait for the next bytes of an answer (a stalled transfer fails; a slow one goes on).
pub const IDLE_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Total limit of a short call (a send, a look-up), not of media transfers.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

impl WhatsappGateway {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base: &str, default_token: Option<&SecretString>) -> anyhow::Result<Self> {
        Ok(Self {
            // Connect and idle-read timeouts, no total limit: a 100 MB file on a slow link
            // takes as long as it takes while bytes keep coming. Short calls (sends, look-ups)
            // have a total limit of their own ([`CALL_TIMEOUT`]).
            client: reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(IDLE_READ_TIMEOUT)
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
            default_token: default_token.cloned(),
        })
    }

    /// Proves that `token` may use the number: Meta shows the number to the token
    /// (`GET /{phone-number-id}?fields=display_phone_number,verified_name`) and lists it among
    /// the WABA's numbers (`GET /{waba-id}/phone_numbers`, page by page through `paging.next`,
    /// on the same host). The token travels in the `Authorization` header only.
    ///
    /// # Errors
    /// [`NumberProof`] naming the check that failed.
    pub async fn prove_number(
        &self,
        token: &str,
        phone_number_id: &str,
        waba_id: &str,
    ) -> Result<(), NumberProof> {
        let base = &self.base;
        let seen = self
            .client
            .get(format!("{base}/{phone_number_id}"))
            .timeout(CALL_TIMEOUT)
            .query(&[("fields", "display_phone_number,verified_name")])
            .bearer_auth(token)
            .send()
            .await
            .map_err(|_| NumberProof::Unreachable)?;
        if !seen.status().is_success() {
            return Err(NumberProof::NotVisible);
        }
        let mut page = format!("{base}/{waba_id}/phone_numbers");
        for _ in 0..MAX_PAGES {
            let answer = self
                .client
                .get(&page)
                .timeout(CALL_TIMEOUT)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|_| NumberProof::Unreachable)?;
            if !answer.status().is_success() {
                return Err(NumberProof::NotInWaba);
            }
            let body: Value = answer.json().await.map_err(|_| NumberProof::NotInWaba)?;
            let listed = body["data"].as_array().into_iter().flatten();
            if listed.clone().any(|n| n["id"].as_str() == Some(phone_number_id)) {
                return Ok(());
            }
            // The next page, only on the API's own host (a token never goes anywhere else).
            match body["paging"]["next"].as_str() {
                Some(next) if next.starts_with(base.as_str()) => page = next.to_owned(),
                _ => return Err(NumberProof::NotInWaba),
            }
        }
        Err(NumberProof::NotInWaba)
    }

    /// The gateway for one number: its own sealed token, opened, else the default token.
    ///
    /// # Errors
    /// When the number's token does not open (a refused send, not a sandbox one).
    pub fn for_number<'a>(
        &'a self,
        number: &'a business_number::Model,
        keyring: &Keyring,
    ) -> Result<NumberApi<'a>, GatewayError> {
        let token = match &number.access_token_sealed {
            Some(sealed) => Some(keyring.open(Purpose::AccessToken, sealed).map_err(|err| {
                tracing::error!(error = %err, "a business number's access token does not open");
                GatewayError {
                    retryable: false,
                    code: None,
                    title: "the number's access token cannot be read".into(),
                }
            })?),
            // The operator's token serves only the numbers the operator connected.
            None if number.operator_connected => self.default_token.clone(),
            None if self.default_token.is_none() => None,
            None => {
                return Err(GatewayError {
                    retryable: false,
                    code: None,
                    title: "the number has no access token of its own".into(),
                });
            }
        };
        Ok(NumberApi { gateway: self, token, phone_number_id: &number.phone_number_id })
    }

    fn envelope(recipient: &Recipient) -> Value {
        let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual" });
        match recipient {
            Recipient::Phone(phone) => body["to"] = json!(phone.digits()),
            Recipient::Bsuid(bsuid) => body["recipient"] = json!(bsuid.as_str()),
        }
        body
    }

    /// The Cloud API request body of a message: `media_id` is the provider's id of a media
    /// message's uploaded file, `reply_to` the raw `wamid` it replies to (`context.message_id`).
    #[must_use]
    pub fn request_body(
        recipient: &Recipient,
        content: &OutboundContent,
        media_id: Option<&str>,
        reply_to: Option<&str>,
    ) -> Value {
        let mut body = Self::envelope(recipient);
        if let Some(wamid) = reply_to {
            body["context"] = json!({ "message_id": wamid });
        }
        match content {
            OutboundContent::Text { body: text } => {
                body["type"] = json!("text");
                body["text"] = json!({ "preview_url": false, "body": text });
            }
            OutboundContent::Template { name, language, parameters } => {
                let mut template = json!({ "name": name, "language": { "code": language } });
                if !parameters.is_empty() {
                    let params: Vec<Value> =
                        parameters.iter().map(|p| json!({ "type": "text", "text": p })).collect();
                    template["components"] = json!([{ "type": "body", "parameters": params }]);
                }
                body["type"] = json!("template");
                body["template"] = template;
            }
            OutboundContent::RequestContactInfo { body: text } => {
                body["type"] = json!("interactive");
                body["interactive"] = json!({
                    "type": "request_contact_info",
                    "body": { "text": text },
                    "action": { "name": "request_contact_info" },
                });
            }
            OutboundContent::Media { kind, caption, file_name, .. } => {
                let kind = *kind;
                let message_type = domain::media::message_type(kind);
                let mut media = json!({ "id": media_id });
                if let Some(caption) = caption.as_ref().filter(|_| domain::media::takes_caption(kind)) {
                    media["caption"] = json!(caption);
                }
                if let (Some(name), domain::AttachmentKind::Document) = (file_name, kind) {
                    media["filename"] = json!(name);
                }
                body["type"] = json!(message_type);
                body[message_type] = media;
            }
        }
        body
    }

    /// The Cloud API request body of a read receipt for a received message (it covers earlier
    /// ones), with Meta's typing indicator when `typing` (shown for up to 25 s). Neither names a
    /// recipient: the `wamid` identifies the thread, phone or BSUID alike.
    #[must_use]
    pub fn signal_body(message_id: &str, typing: bool) -> Value {
        let mut body = json!({ "messaging_product": "whatsapp", "status": "read", "message_id": message_id });
        if typing {
            body["typing_indicator"] = json!({ "type": "text" });
        }
        body
    }

    /// The Cloud API request body of a reaction (an empty emoji removes it). A reaction is never
    /// a contextual reply.
    #[must_use]
    pub fn reaction_body(recipient: &Recipient, message_id: &str, emoji: &str) -> Value {
        let mut body = Self::envelope(recipient);
        body["type"] = json!("reaction");
        body["reaction"] = json!({ "message_id": message_id, "emoji": emoji });
        body
    }
}

impl NumberApi<'_> {
    /// Whether the number is in the sandbox (no token): nothing goes over the network.
    #[must_use]
    pub fn is_sandbox(&self) -> bool {
        self.token.is_none()
    }

    fn cloud(&self) -> Result<(&reqwest::Client, &str, &SecretString), GatewayError> {
        match &self.token {
            Some(token) => Ok((&self.gateway.client, &self.gateway.base, token)),
            None => Err(GatewayError {
                retryable: false,
                code: None,
                title: "the sandbox gateway has no Cloud API to fetch media from".to_owned(),
            }),
        }
    }

    /// Sends one message (a body from [`WhatsappGateway::request_body`],
    /// [`WhatsappGateway::reaction_body`] or [`WhatsappGateway::signal_body`]).
    ///
    /// # Errors
    /// The provider's refusal, or a transport failure (retryable).
    pub async fn send(&self, body: &Value) -> Result<Accepted, GatewayError> {
        let Some(token) = &self.token else {
            return Ok(Accepted { provider_id: format!("wamid.SANDBOX{}", uuid::Uuid::new_v4().simple()) });
        };
        let (client, base, phone_number_id) =
            (&self.gateway.client, &self.gateway.base, self.phone_number_id);
        let response = client
            .post(format!("{base}/{phone_number_id}/messages"))
            .timeout(CALL_TIMEOUT)
            .bearer_auth(token.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(|e| GatewayError::transport(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            if let Some(id) = body["messages"][0]["id"].as_str() {
                return Ok(Accepted { provider_id: id.to_owned() });
            }
            // Read receipts and typing indicators answer `{"success": true}`.
            if body["success"].as_bool() == Some(true) {
                return Ok(Accepted { provider_id: String::new() });
            }
            return Err(GatewayError {
                retryable: false,
                code: None,
                title: "response without a message id".to_owned(),
            });
        }
        Err(meta_error(status.as_u16(), &body))
    }
}

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
            .send()
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
            return Err(GatewayError {
                retryable: false,
                code: None,
                title: "media answer without a url".into(),
            });
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
            return Err(GatewayError {
                retryable: false,
                code: None,
                title: "the media URL is not on a WhatsApp host".to_owned(),
            });
        }
        let response = client
            .get(url)
            .bearer_auth(token.expose_secret())
            .send()
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
            .map_err(|_| GatewayError { retryable: false, code: None, title: "invalid MIME type".into() })?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_owned())
            .part("file", part);
        let response = client
            .post(format!("{base}/{phone_number_id}/media"))
            .bearer_auth(token.expose_secret())
            .multipart(form)
            .send()
            .await
            .map_err(|e| GatewayError::transport(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(meta_error(status.as_u16(), &body));
        }
        body["id"].as_str().map(str::to_owned).ok_or(GatewayError {
            retryable: false,
            code: None,
            title: "upload answer without a media id".to_owned(),
        })
    }
}

/// A media id or URL WhatsApp answers 404 for: expired or never there; retrying does not help.
fn media_gone() -> GatewayError {
    GatewayError {
        retryable: false,
        code: None,
        title: "WhatsApp no longer has this media (HTTP 404)".to_owned(),
    }
}

/// What Meta answered to a business-username call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsernameReply {
    /// `{"status": "approved" | "reserved"}` (or the read's `{"username", "status"}`).
    Status(String),
    /// `{"success": true}` (delete).
    Done,
    /// `{"data": [{"username_suggestions": [...]}]}`.
    Suggestions(Vec<String>),
}

/// A refused business-username call: Meta's code and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsernameError {
    pub code: Option<i64>,
    pub message: String,
    pub retryable: bool,
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

impl NumberApi<'_> {
    /// `POST /{phone_number_id}/username`, `DELETE …/username` or `GET …/username_suggestions`
    /// (cloud mode only; the sandbox decides locally and never calls this).
    ///
    /// # Errors
    /// Meta's refusal or a transport failure.
    pub async fn username_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<UsernameReply, UsernameError> {
        let Ok((client, base, token)) = self.cloud() else {
            return Err(UsernameError {
                code: None,
                message: "the sandbox gateway has no remote API".into(),
                retryable: false,
            });
        };
        let phone_number_id = self.phone_number_id;
        let mut request = client
            .request(method, format!("{base}/{phone_number_id}/{path}"))
            .timeout(CALL_TIMEOUT)
            .bearer_auth(token.expose_secret());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| {
            let g = GatewayError::transport(&e);
            UsernameError { code: None, message: g.title, retryable: true }
        })?;
        let status = response.status().as_u16();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            if let Some(list) = json["data"][0]["username_suggestions"].as_array() {
                return Ok(UsernameReply::Suggestions(
                    list.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
                ));
            }
            if let Some(status) = json["status"].as_str() {
                return Ok(UsernameReply::Status(status.to_owned()));
            }
            if json["success"].as_bool() == Some(true) {
                return Ok(UsernameReply::Done);
            }
            return Err(UsernameError {
                code: None,
                message: format!("unexpected answer from WhatsApp: {json}"),
                retryable: false,
            });
        }
        let error = meta_error(status, &json);
        let message = json["error"]["error_data"]["details"]
            .as_str()
            .or_else(|| json["error"]["message"].as_str())
            .map_or(error.title.clone(), str::to_owned);
        Err(UsernameError { code: error.code, message, retryable: error.retryable })
    }
}

/// Maps Meta's error envelope `{"error": {"code", "message", "error_data": {"details"}}}`.
#[must_use]
pub fn meta_error(status: u16, body: &Value) -> GatewayError {
    let error = &body["error"];
    let code = error["code"].as_i64().or_else(|| error["code"].as_str().and_then(|c| c.parse().ok()));
    let meta_text = error["error_data"]["details"].as_str().or_else(|| error["message"].as_str());
    let title = code
        .and_then(describe)
        .map(str::to_owned)
        .or_else(|| meta_text.map(str::to_owned))
        .unwrap_or_else(|| format!("provider answered HTTP {status}"));
    let retryable = status >= 500 || status == 429 || code.is_some_and(|c| RETRYABLE_CODES.contains(&c));
    GatewayError { retryable, code, title }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Bsuid, PhoneNumber};

    #[test]
    fn a_bsuid_goes_in_recipient_and_never_in_to() {
        let bsuid = Recipient::Bsuid(Bsuid::parse("US.13491208655302741918").unwrap());
        let body =
            WhatsappGateway::request_body(&bsuid, &OutboundContent::Text { body: "Hi".into() }, None, None);
        assert_eq!(body["recipient"], "US.13491208655302741918");
        assert!(body.get("to").is_none());
        assert_eq!(body["recipient_type"], "individual");
        let phone = Recipient::Phone(PhoneNumber::parse("+16505551234").unwrap());
        let body =
            WhatsappGateway::request_body(&phone, &OutboundContent::Text { body: "Hi".into() }, None, None);
        assert_eq!(body["to"], "16505551234");
        assert!(body.get("recipient").is_none());
    }

    #[test]
    fn media_replies_and_reactions_have_metas_shapes() {
        let bsuid = Recipient::Bsuid(Bsuid::parse("US.1349").unwrap());
        let image = OutboundContent::Media {
            attachment_id: domain::AttachmentId::new(),
            kind: domain::AttachmentKind::Image,
            caption: Some("Receipt".into()),
            file_name: Some("r.jpg".into()),
        };
        let body = WhatsappGateway::request_body(&bsuid, &image, Some("1037543291543636"), Some("wamid.Q"));
        assert_eq!(body["type"], "image");
        assert_eq!(body["image"], json!({ "id": "1037543291543636", "caption": "Receipt" }));
        assert_eq!(body["context"], json!({ "message_id": "wamid.Q" }));
        assert_eq!(body["recipient"], "US.1349");
        let voice = OutboundContent::Media {
            attachment_id: domain::AttachmentId::new(),
            kind: domain::AttachmentKind::Voice,
            caption: Some("ignored".into()),
            file_name: None,
        };
        let body = WhatsappGateway::request_body(&bsuid, &voice, Some("9"), None);
        assert_eq!((body["type"].as_str(), &body["audio"]), (Some("audio"), &json!({ "id": "9" })));
        assert!(body.get("context").is_none());
        let document = OutboundContent::Media {
            attachment_id: domain::AttachmentId::new(),
            kind: domain::AttachmentKind::Document,
            caption: None,
            file_name: Some("invoice.pdf".into()),
        };
        let body = WhatsappGateway::request_body(&bsuid, &document, Some("7"), None);
        assert_eq!(body["document"], json!({ "id": "7", "filename": "invoice.pdf" }));
        let reaction = WhatsappGateway::reaction_body(&bsuid, "wamid.R", "👍");
        assert_eq!(reaction["type"], "reaction");
        assert_eq!(reaction["reaction"], json!({ "message_id": "wamid.R", "emoji": "👍" }));
    }

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

    #[test]
    fn meta_errors_are_mapped_and_classified() {
        let window =
            meta_error(400, &json!({ "error": { "code": 131047, "message": "Re-engagement message" } }));
        assert_eq!((window.retryable, window.code), (false, Some(131047)));
        let bsuid = meta_error(400, &json!({ "error": { "code": 131062, "message": "x" } }));
        assert!(bsuid.title.contains("BSUID"));
        assert!(meta_error(400, &json!({ "error": { "code": 131056 } })).retryable);
        assert!(meta_error(503, &Value::Null).retryable);
        assert!(!meta_error(400, &json!({ "error": { "code": "100", "message": "bad" } })).retryable);
    }
}
