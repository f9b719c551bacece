//! Signals to the provider that are not messages: read receipts and typing indicators, queued
//! for the delivery worker (claimed like messages: workspaces in turns, a lease, retries).

use chrono::{DateTime, Utc};
use domain::{MessageId, MessageStatus};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel};

use crate::dialect::{Dialect, Queue, claim_in_turns};
use crate::entities::conversation;
use crate::entities::provider_signal::{ActiveModel, Entity, Model};
use crate::error::{DbContext, Error};
use crate::messages::SendResult;

/// A read receipt (Meta: `"status":"read"` for a received message; it covers earlier ones).
pub const READ: &str = "READ";
/// A typing indicator (Meta marks the message read and shows "typing…" for up to 25 s).
pub const TYPING: &str = "TYPING";

/// Queues a signal about `message` of `conversation`, due now.
///
/// # Errors
/// On a database failure.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    conversation: &conversation::Model,
    message: MessageId,
    kind: &'static str,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
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
    let p = |n| Dialect::of(db).placeholder(n);
    let filter = format!(
        "status = {pending} AND (next_attempt_at IS NULL OR next_attempt_at <= {now})",
        pending = p(1),
        now = p(2),
    );
    let values = vec![MessageStatus::Pending.as_str().into(), now.into()];
    let queue = Queue { table: "provider_signals", order: "created_at", filter, values };
    claim_in_turns::<Entity, uuid::Uuid>(db, queue, limit, lease_until, |s| s.id).await
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
