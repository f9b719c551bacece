//! The transactional outbox: every state change writes its event here, in the same
//! transaction as the change, so no event is lost and none describes a rolled-back change.
//!
//! Each event is stored as a whole CloudEvents 1.0 object with a per-workspace, gap-free,
//! monotonically increasing cursor (see [`crate::workspaces::next_event_cursor`]).

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{ContactId, ConversationId, EventId, WorkspaceId};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use crate::entities::event::{self, Column, Entity};
use crate::error::{DbContext, StoreError};
use crate::workspaces;

/// Event types (PRODUCT.md section 6).
pub mod types {
    pub const CONVERSATION_CREATED: &str = "conversation.created";
    pub const CONVERSATION_UPDATED: &str = "conversation.updated";
    pub const CONVERSATION_LINKED: &str = "conversation.linked";
    pub const CONVERSATION_UNLINKED: &str = "conversation.unlinked";
    pub const MESSAGE_RECEIVED: &str = "message.received";
    pub const MESSAGE_SENT: &str = "message.sent";
    pub const MESSAGE_STATUS_UPDATED: &str = "message.status_updated";
    pub const CONTACT_CREATED: &str = "contact.created";
    pub const CONTACT_UPDATED: &str = "contact.updated";
    pub const CUSTOMER_PHONE_SHARED: &str = "customer.phone_shared";
    pub const BUSINESS_USERNAME_UPDATED: &str = "business_username.updated";

    /// Every type, for validating subscription filters.
    pub const ALL: &[&str] = &[
        CONVERSATION_CREATED,
        CONVERSATION_UPDATED,
        CONVERSATION_LINKED,
        CONVERSATION_UNLINKED,
        MESSAGE_RECEIVED,
        MESSAGE_SENT,
        MESSAGE_STATUS_UPDATED,
        CONTACT_CREATED,
        CONTACT_UPDATED,
        CUSTOMER_PHONE_SHARED,
        BUSINESS_USERNAME_UPDATED,
    ];
}

/// An event to write.
#[derive(Debug)]
pub struct NewEvent {
    pub event_type: &'static str,
    pub conversation_id: Option<ConversationId>,
    pub contact_id: Option<ContactId>,
    /// The CloudEvent's `data`: what an integration needs without a second call.
    pub data: Value,
}

/// Writes one event. Call it with the transaction that makes the change.
///
/// # Errors
/// On a database failure.
pub async fn append(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    new: NewEvent,
    now: DateTime<Utc>,
) -> Result<event::Model, StoreError> {
    let cursor = workspaces::next_event_cursor(db, workspace).await?;
    let id = EventId::new();
    let payload = json!({
        "specversion": "1.0",
        "id": id.to_string(),
        "source": format!("/parley/workspaces/{workspace}"),
        "type": new.event_type,
        "time": now.to_rfc3339_opts(SecondsFormat::Micros, true),
        "datacontenttype": "application/json",
        "sequence": cursor.to_string(),
        "data": new.data,
    });
    let model = event::ActiveModel {
        id: Set(id.as_uuid()),
        workspace_id: Set(workspace.as_uuid()),
        cursor: Set(cursor),
        event_type: Set(new.event_type.to_owned()),
        conversation_id: Set(new.conversation_id.map(|c| c.as_uuid())),
        contact_id: Set(new.contact_id.map(|c| c.as_uuid())),
        payload: Set(payload),
        occurred_at: Set(now),
    };
    let saved = Entity::insert(model).exec_with_returning(db).await.context("failed to write event")?;
    // On PostgreSQL a trigger announces the event on NOTIFY_CHANNEL at commit (migration 5).
    Ok(saved)
}

/// The PostgreSQL `LISTEN` channel on which committed events are announced to all processes
/// (by the `events_notify` trigger; the payload is the workspace id).
pub const NOTIFY_CHANNEL: &str = "parley_events";

/// The workspace's latest event cursor (0 when it has none).
///
/// # Errors
/// On a database failure.
pub async fn latest_cursor(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<i64, StoreError> {
    let found = Entity::find()
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .order_by_desc(Column::Cursor)
        .one(db)
        .await
        .context("failed to read the latest event cursor")?;
    Ok(found.map_or(0, |e| e.cursor))
}

/// Events of the workspace after `after` (exclusive), oldest first, optionally of some types.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    after: i64,
    limit: u64,
    event_types: Option<&[String]>,
) -> Result<Vec<event::Model>, StoreError> {
    let mut query =
        Entity::find().filter(Column::WorkspaceId.eq(workspace.as_uuid())).filter(Column::Cursor.gt(after));
    if let Some(types) = event_types {
        query = query.filter(Column::EventType.is_in(types.iter().cloned()));
    }
    query.order_by_asc(Column::Cursor).limit(limit).all(db).await.context("failed to list events")
}

/// Events touching one conversation, oldest first (handy for tests and audits).
///
/// # Errors
/// On a database failure.
pub async fn for_conversation(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversation: ConversationId,
) -> Result<Vec<event::Model>, StoreError> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .filter(Column::ConversationId.eq(conversation.as_uuid()))
        .order_by_asc(Column::Cursor)
        .all(db)
        .await
        .context("failed to list conversation events")
}
