//! The SMS provider's webhook (PRODUCT.md section 12).
//!
//! - [`http`]: `POST /webhooks/sms`: the form post, its `X-Twilio-Signature` and routing
//!   checked before anything is stored.
//! - [`read`]: a verified post becomes a typed item (a customer's text, a status callback).
//! - [`apply`]: the item stored (threading, opt-outs, status moves).

pub mod apply;
pub mod http;
pub mod read;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use persistence::WriteTransaction;
use persistence::sealed::Keyring;

/// The SMS provider's verified posts go through the group committer.
impl crate::inbound::batch::Apply for read::SmsPost {
    type Output = apply::Applied;

    fn apply<'a>(
        &'a self,
        db: &'a WriteTransaction,
        _keyring: &'a Keyring,
        received_at: DateTime<Utc>,
        _group: &'a mut crate::inbound::group::Group,
    ) -> BoxFuture<'a, Result<apply::Applied, persistence::Error>> {
        Box::pin(apply::apply(db, self, received_at))
    }
}
