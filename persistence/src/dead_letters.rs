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

/// When the oldest of the operator's dead letters (those of no workspace) was received
/// (`None`: there are none); it expires `ttl` later.
///
/// # Errors
/// On a database failure.
pub async fn oldest_unowned(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, Error> {
    let oldest: Option<DateTime<Utc>> = Entity::find()
        .select_only()
        .column(Column::ReceivedAt)
        .filter(Column::WorkspaceId.is_null())
        .order_by_asc(Column::ReceivedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
        .context("failed to read the oldest unowned dead letter")?;
    Ok(oldest)
}

/// Deletes the operator's dead letters (those of no workspace) received before `before`; a
/// tenant's dead letters are theirs to keep. Returns how many went.
///
/// # Errors
/// On a database failure.
pub async fn expire_unowned(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, Error> {
    let deleted = Entity::delete_many()
        .filter(Column::WorkspaceId.is_null())
        .filter(Column::ReceivedAt.lt(before))
        .exec(db)
        .await
        .context("failed to expire unowned dead letters")?;
    Ok(deleted.rows_affected)
}
