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
}

impl GatewayError {
    pub(crate) fn transport(err: &reqwest::Error) -> Self {
        let title = if err.is_timeout() { "provider timed out" } else { "provider unreachable" };
        Self { retryable: true, code: None, title: title.to_owned() }
    }
}
