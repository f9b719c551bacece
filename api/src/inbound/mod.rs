//! The providers' inbound webhooks (Meta's and the SMS provider's), from the HTTP request to
//! the stored rows and events.
//!
//! - [`http`]: `GET|POST /webhooks/whatsapp`: the handshake, the signature check over the raw
//!   body, the answer Meta gets.
//! - [`payload`]: serde types of Meta's webhook envelope, lenient where Meta varies.
//! - [`read`]: the one reader of Meta's payloads: messages, statuses, identity changes and
//!   business-username updates become typed values (or a reason to dead-letter them).
//! - [`batch`]: group commit: concurrent webhooks applied in one transaction, each answered
//!   after the shared commit.
//! - [`apply`]: one webhook in one transaction: routing by business number, statuses, identity
//!   changes, business-username updates, dead letters.
//! - [`media`]: the fetcher that brings customers' files from WhatsApp into the blob store.
//! - [`messages`]: one inbound message: threading (PRODUCT.md section 3) and the append plan.
//! - [`sms_webhook`]: `POST /webhooks/sms`: the SMS provider's form posts, signature and
//!   routing checked; [`sms`]: a verified post stored (threading, opt-outs, status callbacks).

pub mod apply;
pub mod batch;
pub mod http;
pub mod media;
pub mod messages;
pub mod payload;
pub mod read;
pub mod sms;
pub mod sms_webhook;
