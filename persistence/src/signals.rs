//! Signals to the provider that are not messages: read receipts and typing indicators, queued
//! for the delivery worker (claimed like messages: workspaces in turns, a lease, retries).

use chrono::{DateTime, Utc};
use domain::{MessageId, MessageStatus};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel};

use crate::dialect::{Queue, claim_in_turns};
use crate::entities::conversation;
use crate::entities::provider_signal::{ActiveModel, Entity, Model};
use crate::error::{DbContext, Error};
use crate::messages::SendResult;
use crate::work::{Announce, Work};

/// A read receipt (Meta: `"status":"read"` for a received message; it covers earlier ones).
pub const READ: &str = "READ";
/// A typing indicator (Meta marks the message read and shows "typing…" for up to 25 s).
pub const TYPING: &str = "TYPING";

/// Queues a signal about `message` of `conversation`, due now.
///
/// # Errors
/// On a database failure.
pub async fn enqueue(
    db: &impl Announce,
    conversation: &conversation::Model,
    message: MessageId,
    kind: &'static str,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    db.announce(Work::Delivery);
    let row = ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        workspace_id: Set(conversation.workspace_id),
        conversation_id: Set(conversation.id),
        message_id: Set(message),
        kind: Set(kind.to_owned()),
        status: Set(MessageStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        error_title: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(row).exec_with_returning(db).await.context("failed to queue a provider signal")
}

/// Claims up to `limit` signals due for sending (see [`crate::messages::claim_due`]).
///
/// # Errors
/// On a database failure.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    claim_in_turns::<Entity, uuid::Uuid>(db, outbox(), now, limit, lease_until, |s| s.id).await
}

/// Read receipts and typing indicators waiting to be sent.
pub(crate) fn outbox() -> Queue<'static> {
    Queue::waiting("provider_signals", "created_at", MessageStatus::Pending.as_str(), None)
}

/// Records a delivery attempt of a signal.
///
/// # Errors
/// On a database failure.
pub async fn record(
    db: &impl ConnectionTrait,
    signal: Model,
    result: SendResult,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let mut change = signal.into_active_model();
    match result {
        SendResult::Sent { .. } => {
            change.status = Set(MessageStatus::Sent);
            change.next_attempt_at = Set(None);
            change.error_title = Set(None);
        }
        SendResult::Retry { error, retry_at } => {
            change.error_title = Set(error.title);
            change.next_attempt_at = Set(Some(retry_at));
        }
        SendResult::Failed { error } => {
            change.status = Set(MessageStatus::Failed);
            change.error_title = Set(error.title);
            change.next_attempt_at = Set(None);
        }
    }
    change.updated_at = Set(now);
    change.update(db).await.context("failed to record a provider signal")
}
