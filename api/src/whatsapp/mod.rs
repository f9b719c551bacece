//! WhatsApp Cloud API: webhook payloads and their reading.
//!
//! - [`payload`]: serde types of Meta's webhook envelope, lenient where Meta varies.
//! - [`inbound`]: turns one `messages` change into [`inbound::InboundMessage`]s.

pub mod inbound;
pub mod payload;
