//! Agents: people and integrations that call the API.

use chrono::{DateTime, Utc};
use domain::{AgentId, Email, Role, WorkspaceId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::agent::{self, Column, Entity};
use crate::error::{DbContext, StoreError};

/// A new agent.
#[derive(Debug)]
pub struct NewAgent<'a> {
    pub id: AgentId,
    pub workspace_id: WorkspaceId,
    pub email: &'a Email,
    pub name: &'a str,
    pub role: Role,
}

/// # Errors
/// [`StoreError::Duplicate`] when the workspace already has an agent with this e-mail.
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewAgent<'_>,
    now: DateTime<Utc>,
) -> Result<agent::Model, StoreError> {
    let model = agent::ActiveModel {
        id: Set(new.id.as_uuid()),
        workspace_id: Set(new.workspace_id.as_uuid()),
        email: Set(new.email.as_str().to_owned()),
        name: Set(new.name.to_owned()),
        role: Set(new.role.as_str().to_owned()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(model)
        .exec_with_returning(db)
        .await
        .map_err(|e| StoreError::from_db(e, "failed to create agent", "an agent with this e-mail"))
}

/// An agent of the workspace, active or not.
///
/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: AgentId,
) -> Result<Option<agent::Model>, StoreError> {
    Entity::find_by_id(id.as_uuid())
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .one(db)
        .await
        .context("failed to load agent")
}

/// Any agent by id, whatever its workspace (for `parley token`, run by an operator).
///
/// # Errors
/// On a database failure.
pub async fn find_any(db: &impl ConnectionTrait, id: AgentId) -> Result<Option<agent::Model>, StoreError> {
    Entity::find_by_id(id.as_uuid()).one(db).await.context("failed to load agent")
}

/// Agents of the workspace among `ids` (for the dataloader).
///
/// # Errors
/// On a database failure.
pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    ids: &[AgentId],
) -> Result<Vec<agent::Model>, StoreError> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .filter(Column::Id.is_in(ids.iter().map(AgentId::as_uuid)))
        .all(db)
        .await
        .context("failed to load agents")
}

/// Every agent of the workspace, by name.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
) -> Result<Vec<agent::Model>, StoreError> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .order_by_asc(Column::Name)
        .all(db)
        .await
        .context("failed to list agents")
}
