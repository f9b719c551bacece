//! The providers' wing: everything that speaks Meta's Graph API or the SMS provider's API, and
//! their signature checks. Inbound webhooks, setup (connecting numbers, usernames), GraphQL and
//! the delivery worker use it; it only speaks the wire formats (which messages to send, and when
//! to retry, is the delivery worker's business: [`crate::outbound::delivery`]).
//!
//! - [`meta`]: the WhatsApp Cloud API (or its sandbox) and `X-Hub-Signature-256`.
//! - [`sms`]: a Twilio-compatible REST API (or its sandbox) and `X-Twilio-Signature`.

pub mod meta;
pub mod sms;

/// Who a WhatsApp message goes to. A BSUID is never put in `to` (WhatsApp silently drops such
/// sends); it goes in the top-level `recipient` field.
pub use domain::delivery::Recipient;

/// What to send: the content stored with the outbound message.
pub use domain::content::OutboundContent;

/// The provider accepted the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The provider's id (`wamid.…`, `SM…`).
    pub provider_id: String,
}

/// The provider refused the message or could not be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayError {
    /// Worth trying again later (5xx, timeouts, rate limits).
    pub retryable: bool,
    /// The provider's error code (Meta: 131047, 131062, 131056…).
    pub code: Option<i64>,
    pub title: String,
    /// What kind of failure it was, for the logs (never a secret nor the provider's text).
    pub failure: Failure,
}

/// The class of a failed call: what an operator reads in `send failed` logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing was sent: a refusal of Parley's own (no token, a disconnected number, a plan
    /// refused, a blob the store could not read).
    NotSent,
    /// The call timed out.
    Timeout,
    /// No connection: the host did not resolve, refused, or could not be reached.
    Unreachable,
    /// The request failed on the way (TLS, a reset connection, a body that could not be sent).
    Transport,
    /// The provider answered with this HTTP status.
    Http(u16),
    /// The provider answered success with a body Parley cannot read.
    BadAnswer,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotSent => f.write_str("not sent"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Unreachable => f.write_str("host unreachable"),
            Failure::Transport => f.write_str("transport error"),
            Failure::Http(status) => write!(f, "HTTP {status}"),
            Failure::BadAnswer => f.write_str("unreadable answer"),
        }
    }
}

impl GatewayError {
    /// A call that got no answer (retryable), classed by what went wrong.
    pub(crate) fn transport(err: &reqwest::Error) -> Self {
        let (failure, title) = if err.is_timeout() {
            (Failure::Timeout, "provider timed out")
        } else if err.is_connect() {
            (Failure::Unreachable, "provider unreachable")
        } else {
            (Failure::Transport, "the request to the provider failed")
        };
        Self { retryable: true, code: None, title: title.to_owned(), failure }
    }

    /// Refused before anything was sent.
    pub(crate) fn not_sent(title: impl Into<String>) -> Self {
        Self { retryable: false, code: None, title: title.into(), failure: Failure::NotSent }
    }

    /// A success status with a body that lacks what it should hold.
    pub(crate) fn bad_answer(title: impl Into<String>) -> Self {
        Self { retryable: false, code: None, title: title.into(), failure: Failure::BadAnswer }
    }

    /// The provider's refusal with an HTTP status: retryable for 5xx and 429.
    pub(crate) fn http(status: u16, code: Option<i64>, title: String) -> Self {
        Self { retryable: status >= 500 || status == 429, code, title, failure: Failure::Http(status) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed call says what kind of failure it was: what `send failed` logs print.
    #[tokio::test]
    async fn a_failed_call_is_classed_for_the_logs() {
        // Nothing listens on port 9 (discard) of the loopback address here: connection refused.
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().unwrap();
        let refused = client.get("http://127.0.0.1:9/").send().await.unwrap_err();
        let error = GatewayError::transport(&refused);
        assert_eq!((error.failure, error.retryable), (Failure::Unreachable, true));
        assert_eq!(error.failure.to_string(), "host unreachable");

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let silent = format!("http://{}/", listener.local_addr().unwrap());
        let slow =
            client.get(silent).timeout(std::time::Duration::from_millis(200)).send().await.unwrap_err();
        assert_eq!(GatewayError::transport(&slow).failure.to_string(), "timeout");

        let answered = GatewayError::http(503, None, "busy".into());
        assert_eq!((answered.failure.to_string(), answered.retryable), ("HTTP 503".to_owned(), true));
        assert_eq!(GatewayError::http(400, Some(131_047), "x".into()).failure.to_string(), "HTTP 400");
        assert_eq!(GatewayError::not_sent("no token").failure.to_string(), "not sent");
        assert_eq!(GatewayError::bad_answer("no id").failure.to_string(), "unreadable answer");
    }
}
