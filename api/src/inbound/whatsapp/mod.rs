//! Meta's webhook (PRODUCT.md section 7).
//!
//! - [`http`]: `GET|POST /webhooks/whatsapp`: the handshake, the signature check over the raw
//!   body, the answer Meta gets.
//! - [`payload`]: serde types of Meta's webhook envelope, lenient where Meta varies.
//! - [`read`]: the one reader of Meta's payloads: every change becomes typed items (messages,
//!   statuses, identity changes, business-username updates) or a reason to keep it as a dead
//!   letter; [`message`] reads one inbound message.
//! - [`apply`]: the items of one webhook in one transaction: routing by business number,
//!   statuses, identity changes, business-username updates, dead letters.
//! - [`thread`]: one inbound message stored: threading (PRODUCT.md section 3) and the append
//!   plan.
//! - [`media`]: the fetcher that brings customers' files from WhatsApp into the blob store.

pub mod apply;
pub mod http;
pub mod media;
pub mod message;
pub mod payload;
pub mod read;
pub mod thread;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use persistence::WriteTransaction;
use persistence::sealed::Keyring;

pub use apply::WebhookSummary;

/// Meta's webhooks go through the group committer.
impl crate::inbound::batch::Apply for payload::Webhook {
    type Output = WebhookSummary;

    fn apply<'a>(
        &'a self,
        db: &'a WriteTransaction,
        keyring: &'a Keyring,
        received_at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<WebhookSummary, persistence::Error>> {
        Box::pin(apply_webhook(db, self, received_at, keyring))
    }
}

/// Reads a webhook and applies it in the caller's transaction.
///
/// # Errors
/// On a database failure (nothing Meta sent is ever an error: what cannot be read is kept as a
/// dead letter).
pub async fn apply_webhook(
    db: &impl persistence::Announce,
    webhook: &payload::Webhook,
    now: DateTime<Utc>,
    keyring: &Keyring,
) -> Result<WebhookSummary, persistence::Error> {
    apply::apply(db, &read::read_webhook(webhook), now, keyring).await
}
