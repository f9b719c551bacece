//! The audit trail, written in the same transaction as the change it records.

use chrono::{DateTime, Utc};
use domain::{AgentId, WorkspaceId};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use crate::entities::audit_entry::{self, Column, Entity};
use crate::error::{DbContext, Error};

/// One audited action.
#[derive(Debug)]
pub struct Entry<'a> {
    pub agent: Option<AgentId>,
    /// `conversation.linked`, `conversation.assigned`, `business_username.set`…
    pub action: &'a str,
    /// `conversation`, `business_number`, `webhook_endpoint`, `webhook_delivery`.
    pub subject_type: &'a str,
    pub subject_id: Uuid,
    pub details: Option<Value>,
}

/// # Errors
/// On a database failure.
pub async fn record(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    entry: Entry<'_>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let model = audit_entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace),
        agent_id: Set(entry.agent),
        action: Set(entry.action.to_owned()),
        subject_type: Set(entry.subject_type.to_owned()),
        subject_id: Set(entry.subject_id),
        details: Set(entry.details),
        occurred_at: Set(now),
    };
    Entity::insert(model).exec_without_returning(db).await.context("failed to write the audit trail")?;
    Ok(())
}

/// The workspace's audit trail, newest first.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    limit: u64,
) -> Result<Vec<audit_entry::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .order_by_desc(Column::OccurredAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .context("failed to read the audit trail")
}
