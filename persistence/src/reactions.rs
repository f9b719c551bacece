//! Reactions on messages: one per side (the customer's, the business's) per message, upserted;
//! an empty emoji is a removal. The business's reactions queue for the delivery worker like
//! messages do (`PENDING` → `SENT` or `FAILED`).

use chrono::{DateTime, Utc};
use domain::{AgentId, Direction, MessageId, MessageStatus, ReactionId, WorkspaceId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

use crate::dialect::{Queue, claim_in_turns};
use crate::entities::message;
use crate::entities::message_reaction::{ActiveModel, Column, Entity, Model};
use crate::error::{DbContext, Error};
use crate::messages::{ProviderError, SendResult};
use crate::work::{Announce, Work};

/// Sets one side's reaction on `message` (an empty emoji removes it): the customer's as
/// received, the business's (with its agent) as `PENDING` for the delivery worker. Returns the
/// reaction as stored.
///
/// # Errors
/// On a database failure.
pub async fn set(
    db: &impl Announce,
    message: &message::Model,
    direction: Direction,
    agent: Option<AgentId>,
    emoji: &str,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let (status, next_attempt_at) = match direction {
        Direction::Inbound => (MessageStatus::Received, None),
        _ => {
            db.announce(Work::Delivery);
            (MessageStatus::Pending, Some(now))
        }
    };
    let row = ActiveModel {
        id: Set(ReactionId::new()),
        workspace_id: Set(message.workspace_id),
        message_id: Set(message.id),
        conversation_id: Set(message.conversation_id),
        direction: Set(direction),
        agent_id: Set(agent),
        emoji: Set(emoji.to_owned()),
        status: Set(status),
        attempts: Set(0),
        next_attempt_at: Set(next_attempt_at),
        error_code: Set(None),
        error_title: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::MessageId, Column::Direction])
                .update_columns([
                    Column::AgentId,
                    Column::Emoji,
                    Column::Status,
                    Column::Attempts,
                    Column::NextAttemptAt,
                    Column::ErrorCode,
                    Column::ErrorTitle,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .context("failed to store a reaction")?;
    Entity::find()
        .filter(Column::MessageId.eq(message.id))
        .filter(Column::Direction.eq(direction))
        .one(db)
        .await
        .context("failed to load a reaction")?
        .ok_or(Error::MissingReference { what: "reaction" })
}

/// The reactions (not removed) of the given messages.
///
/// # Errors
/// On a database failure.
pub async fn of_messages(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    messages: &[MessageId],
) -> Result<Vec<Model>, Error> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::MessageId.is_in(messages.iter().copied()))
        .filter(Column::Emoji.ne(""))
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await
        .context("failed to load reactions")
}

/// Claims up to `limit` of the business's reactions due for sending, workspaces taking turns
/// (see [`crate::messages::claim_due`]).
///
/// # Errors
/// On a database failure.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    claim_in_turns::<Entity, ReactionId>(db, outbox(), now, limit, lease_until, |r| r.id).await
}

/// The business's reactions waiting to be sent.
pub(crate) fn outbox() -> Queue<'static> {
    let pending = MessageStatus::Pending.as_str();
    Queue::waiting("message_reactions", "updated_at", pending, Some(Direction::Outbound.as_str()))
}

/// Records a delivery attempt of the business's reaction. A sent removal is deleted.
///
/// # Errors
/// On a database failure.
pub async fn record_send(
    db: &impl ConnectionTrait,
    reaction: Model,
    result: SendResult,
    now: DateTime<Utc>,
) -> Result<Option<Model>, Error> {
    // Erased (or replaced) while the provider answered: nothing to record.
    let Some(reaction) =
        Entity::find_by_id(reaction.id).one(db).await.context("failed to load a reaction")?
    else {
        return Ok(None);
    };
    let removed = reaction.emoji.is_empty();
    let mut change = reaction.into_active_model();
    let error = |change: &mut ActiveModel, e: ProviderError| {
        change.error_code = Set(e.code);
        change.error_title = Set(e.title);
    };
    match result {
        SendResult::Sent { .. } => {
            if removed {
                Entity::delete(change).exec(db).await.context("failed to drop a removed reaction")?;
                return Ok(None);
            }
            change.status = Set(MessageStatus::Sent);
            change.next_attempt_at = Set(None);
            change.error_code = Set(None);
            change.error_title = Set(None);
        }
        SendResult::Retry { error: e, retry_at } => {
            error(&mut change, e);
            change.next_attempt_at = Set(Some(retry_at));
        }
        SendResult::Failed { error: e } => {
            error(&mut change, e);
            change.status = Set(MessageStatus::Failed);
            change.next_attempt_at = Set(None);
        }
    }
    change.updated_at = Set(now);
    change.update(db).await.map(Some).context("failed to record a reaction's delivery")
}
