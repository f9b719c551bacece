//! Business-username calls on the Cloud API: set, delete, read and suggestions.

use secrecy::ExposeSecret;
use serde_json::Value;

use super::{CALL_TIMEOUT, NumberApi, meta_error};
use crate::providers::GatewayError;
use crate::traces::SendTraced;

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
        let response = request.send_traced().await.map_err(|e| {
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
