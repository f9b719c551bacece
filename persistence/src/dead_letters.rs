//! Webhook payloads Parley could not route or understand, kept whole for an admin to inspect.

use chrono::{DateTime, Utc};
use domain::WorkspaceId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entities::dead_letter::{self, Column, Entity};
use crate::error::{DbContext, Error};

/// # Errors
/// On a database failure.
pub async fn create(
    db: &impl ConnectionTrait,
    workspace: Option<WorkspaceId>,
    reason: &str,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<dead_letter::Model, Error> {
    let model = dead_letter::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace),
        reason: Set(reason.to_owned()),
        payload: Set(payload.to_owned()),
        received_at: Set(now),
    };
    Entity::insert(model).exec_with_returning(db).await.context("failed to store dead letter")
}

/// The workspace's dead letters, newest first.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    limit: u64,
) -> Result<Vec<dead_letter::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .order_by_desc(Column::ReceivedAt)
        .limit(limit)
        .all(db)
        .await
        .context("failed to list dead letters")
}
