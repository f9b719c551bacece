//! The delivery worker's queues together: outbound messages, the business's reactions and
//! provider signals (read receipts, typing indicators).

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::error::Error;

/// When the delivery worker next has something due: the earliest of the outbound messages,
/// the business's reactions and the provider signals waiting (`None`: nothing waits). One
/// indexed statement: the worker's idle poll.
///
/// # Errors
/// On a database failure.
pub async fn next_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, Error> {
    crate::dialect::next_due(
        db,
        vec![crate::messages::outbox(), crate::reactions::outbox(), crate::signals::outbox()],
    )
    .await
}
