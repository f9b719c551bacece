//! The WhatsApp gateway: `sandbox` (records nothing remotely, accepts with a generated id) or
//! `cloud` (`POST {base}/{phone_number_id}/messages` with a bearer token).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

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

/// The WhatsApp gateway chosen by configuration.
#[derive(Clone)]
pub enum WhatsappGateway {
    Sandbox,
    Cloud { client: reqwest::Client, base: String, token: SecretString },
}

impl std::fmt::Debug for WhatsappGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WhatsappGateway::Sandbox => f.write_str("WhatsappGateway::Sandbox"),
            WhatsappGateway::Cloud { base, .. } => write!(f, "WhatsappGateway::Cloud({base})"),
        }
    }
}

impl WhatsappGateway {
    /// `cloud` when an access token is configured, `sandbox` otherwise.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base: &str, token: Option<&SecretString>) -> anyhow::Result<Self> {
        Ok(match token {
            None => WhatsappGateway::Sandbox,
            Some(token) => WhatsappGateway::Cloud {
                client: reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?,
                base: base.trim_end_matches('/').to_owned(),
                token: token.clone(),
            },
        })
    }

    /// The Cloud API request body.
    #[must_use]
    pub fn request_body(recipient: &Recipient, content: &OutboundContent) -> Value {
        let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual" });
        match recipient {
            Recipient::Phone(phone) => body["to"] = json!(phone.digits()),
            Recipient::Bsuid(bsuid) => body["recipient"] = json!(bsuid.as_str()),
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
        }
        body
    }

    /// Sends one message.
    ///
    /// # Errors
    /// The provider's refusal, or a transport failure (retryable).
    pub async fn send(
        &self,
        phone_number_id: &str,
        recipient: &Recipient,
        content: &OutboundContent,
    ) -> Result<Accepted, GatewayError> {
        let (client, base, token) = match self {
            WhatsappGateway::Sandbox => {
                return Ok(Accepted {
                    provider_id: format!("wamid.SANDBOX{}", uuid::Uuid::new_v4().simple()),
                });
            }
            WhatsappGateway::Cloud { client, base, token } => (client, base, token),
        };
        let response = client
            .post(format!("{base}/{phone_number_id}/messages"))
            .bearer_auth(token.expose_secret())
            .json(&Self::request_body(recipient, content))
            .send()
            .await
            .map_err(|e| GatewayError::transport(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return match body["messages"][0]["id"].as_str() {
                Some(id) => Ok(Accepted { provider_id: id.to_owned() }),
                None => Err(GatewayError {
                    retryable: false,
                    code: None,
                    title: "response without a message id".to_owned(),
                }),
            };
        }
        Err(meta_error(status.as_u16(), &body))
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
    /// `POST /{phone_number_id}/username`, `DELETE …/username` or `GET …/username_suggestions`
    /// (cloud mode only; the sandbox decides locally and never calls this).
    ///
    /// # Errors
    /// Meta's refusal or a transport failure.
    pub async fn username_call(
        &self,
        method: reqwest::Method,
        phone_number_id: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<UsernameReply, UsernameError> {
        let WhatsappGateway::Cloud { client, base, token } = self else {
            return Err(UsernameError {
                code: None,
                message: "the sandbox gateway has no remote API".into(),
                retryable: false,
            });
        };
        let mut request = client
            .request(method, format!("{base}/{phone_number_id}/{path}"))
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

    /// Whether usernames are decided locally (sandbox).
    #[must_use]
    pub fn is_sandbox(&self) -> bool {
        matches!(self, WhatsappGateway::Sandbox)
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
        let body = WhatsappGateway::request_body(&bsuid, &OutboundContent::Text { body: "Hi".into() });
        assert_eq!(body["recipient"], "US.13491208655302741918");
        assert!(body.get("to").is_none());
        assert_eq!(body["recipient_type"], "individual");
        let phone = Recipient::Phone(PhoneNumber::parse("+16505551234").unwrap());
        let body = WhatsappGateway::request_body(&phone, &OutboundContent::Text { body: "Hi".into() });
        assert_eq!(body["to"], "16505551234");
        assert!(body.get("recipient").is_none());
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
