//! Meta's WhatsApp Cloud API as Parley speaks it: the client ([`WhatsappGateway`], and
//! [`NumberApi`] for one business number with its own token or the operator's), its error
//! envelope, and, by topic:
//!
//! - [`bodies`]: the request bodies of messages, reactions, read receipts and typing indicators;
//! - [`media`]: where a customer's file is, downloading it (only from Meta's hosts) and uploads;
//! - [`usernames`]: business-username calls;
//! - [`numbers`]: proving that a token may use a number (`connectWhatsAppNumber`);
//! - [`templates`]: a WABA's message templates (listing, submitting for review);
//! - [`signature`]: `X-Hub-Signature-256` of inbound webhooks.
//!
//! A number with no token at all is in the sandbox: sends are accepted with a made-up id and
//! nothing goes over the network.

pub mod bodies;
pub mod media;
pub mod numbers;
pub mod signature;
pub mod templates;
pub mod usernames;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use persistence::BusinessNumber;
use persistence::sealed::{Keyring, Purpose};

use super::{Accepted, GatewayError};
use crate::traces::SendTraced;
pub use media::MediaInfo;
pub use numbers::NumberProof;
pub use signature::signature_valid;
pub use templates::ListedTemplate;
pub use usernames::{UsernameError, UsernameReply};

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
    pub(super) client: reqwest::Client,
    pub(super) base: String,
    default_token: Option<SecretString>,
    /// The demo only: where the sandbox finds simulated customers' photos.
    sandbox_media: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for WhatsappGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsappGateway").field("base", &self.base).finish_non_exhaustive()
    }
}

/// The gateway as one business number uses it: its phone number id and its token (or none:
/// the sandbox).
pub struct NumberApi<'a> {
    pub(super) gateway: &'a WhatsappGateway,
    pub(super) token: Option<SecretString>,
    pub phone_number_id: &'a str,
}

impl std::fmt::Debug for NumberApi<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberApi").field("phone_number_id", &self.phone_number_id).finish_non_exhaustive()
    }
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
            sandbox_media: None,
        })
    }

    /// The demo's sandbox: photos `parley simulate` left in `dir` are what the sandbox
    /// number fetches for media ids `sandbox-<sha256>`.
    #[must_use]
    pub fn with_sandbox_media(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.sandbox_media = dir;
        self
    }

    /// The gateway for one number: its own sealed token, opened, else the default token.
    ///
    /// # Errors
    /// When the number's token does not open (a refused send, not a sandbox one).
    pub fn for_number<'a>(
        &'a self,
        number: &'a BusinessNumber,
        keyring: &Keyring,
    ) -> Result<NumberApi<'a>, GatewayError> {
        let token = match &number.access_token_sealed {
            Some(sealed) => Some(keyring.open(Purpose::AccessToken, sealed).map_err(|err| {
                tracing::error!(error = %err, "a business number's access token does not open");
                GatewayError::not_sent("the number's access token cannot be read")
            })?),
            // The operator's token serves only the numbers the operator connected.
            None if number.operator_connected => self.default_token.clone(),
            None if self.default_token.is_none() => None,
            None => {
                return Err(GatewayError::not_sent("the number has no access token of its own"));
            }
        };
        Ok(NumberApi { gateway: self, token, phone_number_id: &number.phone_number_id })
    }
}

impl NumberApi<'_> {
    /// Whether the number is in the sandbox (no token): nothing goes over the network.
    #[must_use]
    pub fn is_sandbox(&self) -> bool {
        self.token.is_none()
    }

    /// A photo a simulated customer sent to the demo's sandbox number: `None` unless the
    /// number is in the sandbox, the demo keeps sandbox media and `media_id` is
    /// `sandbox-<64 hex digits>` (never a path).
    ///
    /// # Errors
    /// When such a file is not there (it will not appear: not retried).
    pub async fn sandbox_file(&self, media_id: &str) -> Result<Option<bytes::Bytes>, GatewayError> {
        let Some(dir) = self.gateway.sandbox_media.as_ref().filter(|_| self.is_sandbox()) else {
            return Ok(None);
        };
        let Some(digest) = media_id
            .strip_prefix("sandbox-")
            .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            return Ok(None);
        };
        match tokio::fs::read(dir.join(digest.to_ascii_lowercase())).await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(_) => {
                Err(GatewayError::not_sent("the sandbox has no such media (send it with parley simulate)"))
            }
        }
    }

    pub(super) fn cloud(&self) -> Result<(&reqwest::Client, &str, &SecretString), GatewayError> {
        match &self.token {
            Some(token) => Ok((&self.gateway.client, &self.gateway.base, token)),
            None => Err(GatewayError::not_sent("the sandbox gateway has no Cloud API to fetch media from")),
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
            .send_traced()
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
            return Err(GatewayError::bad_answer("response without a message id"));
        }
        Err(meta_error(status.as_u16(), &body))
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
    let mut error = GatewayError::http(status, code, title);
    error.retryable |= code.is_some_and(|c| RETRYABLE_CODES.contains(&c));
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
