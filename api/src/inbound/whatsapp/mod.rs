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
mod auto_link;
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

use crate::inbound::group::{Group, Hints};

pub use apply::WebhookSummary;

/// Meta's webhooks go through the group committer, and share its look-ups and held writes.
impl crate::inbound::batch::Apply for payload::Webhook {
    type Output = WebhookSummary;

    const USES_GROUP: bool = true;

    fn hint(&self, hints: &mut Hints) {
        apply::hint(&read::read_webhook(self), hints);
    }

    fn apply<'a>(
        &'a self,
        db: &'a WriteTransaction,
        keyring: &'a Keyring,
        received_at: DateTime<Utc>,
        group: &'a mut Group,
    ) -> BoxFuture<'a, Result<WebhookSummary, persistence::Error>> {
        Box::pin(
            async move { apply::apply(db, &read::read_webhook(self), received_at, keyring, group).await },
        )
    }
}
