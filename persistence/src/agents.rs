//! Agents: people and integrations that call the API.

use chrono::{DateTime, Utc};
use domain::{AgentId, Email, Role, WorkspaceId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::agent::{self, Column, Entity};
use crate::error::{DbContext, Error};
use crate::work::{Announce, Work};

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
/// [`Error::Duplicate`] when the workspace already has an agent with this e-mail.
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewAgent<'_>,
    now: DateTime<Utc>,
) -> Result<agent::Model, Error> {
    let model = agent::ActiveModel {
        id: Set(new.id),
        workspace_id: Set(new.workspace_id),
        email: Set(new.email.clone()),
        name: Set(new.name.to_owned()),
        role: Set(new.role),
        active: Set(true),
        availability: Set(domain::Availability::Online),
        present_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(model)
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to create agent", "an agent with this e-mail"))
}

/// An agent of the workspace, active or not.
///
/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: AgentId,
) -> Result<Option<agent::Model>, Error> {
    Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load agent")
}

/// Any agent by id, whatever its workspace (for `parley token`, run by an operator).
///
/// # Errors
/// On a database failure.
pub async fn find_any(db: &impl ConnectionTrait, id: AgentId) -> Result<Option<agent::Model>, Error> {
    Entity::find_by_id(id).one(db).await.context("failed to load agent")
}

/// Agents among `ids`, whatever their workspace (the sweep of open WebSockets, which checks
/// every connected agent of the process at once).
///
/// # Errors
/// On a database failure.
pub async fn find_any_of(db: &impl ConnectionTrait, ids: &[AgentId]) -> Result<Vec<agent::Model>, Error> {
    crate::lookup::any_of::<Entity, _>(db, Column::Id, ids, "failed to load agents").await
}

/// Agents of the workspace among `ids` (for the dataloader).
///
/// # Errors
/// On a database failure.
pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    ids: &[AgentId],
) -> Result<Vec<agent::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
        .context("failed to load agents")
}

/// Every agent of the workspace, by name.
///
/// # Errors
/// On a database failure.
pub async fn list(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<Vec<agent::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .order_by_asc(Column::Name)
        .all(db)
        .await
        .context("failed to list agents")
}

/// What to change on an agent; `None` leaves it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentChange<'a> {
    pub active: Option<bool>,
    pub role: Option<Role>,
    pub name: Option<&'a str>,
}

/// Changes an agent; `false` when the workspace has no such agent.
///
/// # Errors
/// On a database failure.
pub async fn update(
    db: &impl Announce,
    workspace: WorkspaceId,
    id: AgentId,
    change: AgentChange<'_>,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    if change.active.is_some() || change.role.is_some() {
        // Open sockets of the agent are checked against the change at once.
        db.announce(Work::Agents);
    }
    use sea_orm::sea_query::Expr;
    let mut update = Entity::update_many().col_expr(Column::UpdatedAt, Expr::value(now));
    if let Some(active) = change.active {
        update = update.col_expr(Column::Active, Expr::value(active));
    }
    if let Some(role) = change.role {
        update = update.col_expr(Column::Role, Expr::value(role));
    }
    if let Some(name) = change.name {
        update = update.col_expr(Column::Name, Expr::value(name));
    }
    let result = update
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .context("failed to update agent")?;
    Ok(result.rows_affected > 0)
}

/// The workspace's active admins, locked until the transaction ends (PostgreSQL; SQLite's
/// writers are serialised already), so that two admins demoting each other at once cannot
/// both succeed and leave the workspace without one.
///
/// # Errors
/// On a database failure.
pub async fn active_admins_for_update(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
) -> Result<Vec<agent::Model>, Error> {
    let query = Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::Role.eq(Role::Admin))
        .filter(Column::Active.eq(true))
        .order_by_asc(Column::Id);
    crate::dialect::Dialect::of(db)
        .lock_for_update(query)
        .all(db)
        .await
        .context("failed to load the workspace's admins")
}
