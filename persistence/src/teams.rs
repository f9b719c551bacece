//! Teams of a workspace and their members.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{AgentId, TeamId, WorkspaceId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::team::{self, Column, Entity, Model};
use crate::entities::team_member as member;
use crate::error::{DbContext, Error};

/// # Errors
/// [`Error::Duplicate`] when the workspace has a team of that name (ignoring case).
pub async fn create(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let row = team::ActiveModel {
        id: Set(TeamId::new()),
        workspace_id: Set(workspace),
        name: Set(name.to_owned()),
        name_key: Set(name.to_lowercase()),
        routing_mode: Set(domain::RoutingMode::Manual),
        capacity: Set(None),
        sla_policy_id: Set(None),
        created_at: Set(now),
    };
    Entity::insert(row)
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to create team", "a team with this name"))
}

/// The workspace's teams, by name.
///
/// # Errors
/// On a database failure.
pub async fn list(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<Vec<Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .order_by_asc(Column::NameKey)
        .all(db)
        .await
        .context("failed to list teams")
}

/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: TeamId,
) -> Result<Option<Model>, Error> {
    Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load team")
}

/// Teams by id (a page of conversations' teams in one statement).
///
/// # Errors
/// On a database failure.
pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    ids: &[TeamId],
) -> Result<Vec<Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
        .context("failed to load teams")
}

/// Adds an agent to a team; `false` when it was a member already.
///
/// # Errors
/// On a database failure.
pub async fn add_member(
    db: &impl crate::Announce,
    team: &Model,
    agent: AgentId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let row = member::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        workspace_id: Set(team.workspace_id),
        team_id: Set(team.id),
        agent_id: Set(agent),
        last_assigned: Set(0),
        created_at: Set(now),
    };
    // A new member may have room for the team's queue.
    db.announce(crate::Work::Route);
    let inserted = member::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([member::Column::TeamId, member::Column::AgentId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .context("failed to add a team member")?;
    Ok(inserted > 0)
}

/// Removes an agent from a team; `false` when it was not a member.
///
/// # Errors
/// On a database failure.
pub async fn remove_member(db: &impl ConnectionTrait, team: &Model, agent: AgentId) -> Result<bool, Error> {
    let result = member::Entity::delete_many()
        .filter(member::Column::TeamId.eq(team.id))
        .filter(member::Column::AgentId.eq(agent))
        .exec(db)
        .await
        .context("failed to remove a team member")?;
    Ok(result.rows_affected > 0)
}

/// Whether the agent belongs to the team.
///
/// # Errors
/// On a database failure.
pub async fn is_member(db: &impl ConnectionTrait, team: TeamId, agent: AgentId) -> Result<bool, Error> {
    let found = member::Entity::find()
        .filter(member::Column::TeamId.eq(team))
        .filter(member::Column::AgentId.eq(agent))
        .one(db)
        .await
        .context("failed to check team membership")?;
    Ok(found.is_some())
}

/// The member agent ids of each team (one statement), in the order they joined.
///
/// # Errors
/// On a database failure.
pub async fn members_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    teams: &[TeamId],
) -> Result<HashMap<TeamId, Vec<AgentId>>, Error> {
    let rows = member::Entity::find()
        .filter(member::Column::WorkspaceId.eq(workspace))
        .filter(member::Column::TeamId.is_in(teams.iter().copied()))
        .order_by_asc(member::Column::CreatedAt)
        .order_by_asc(member::Column::Id)
        .all(db)
        .await
        .context("failed to load team members")?;
    let mut grouped: HashMap<TeamId, Vec<AgentId>> = teams.iter().map(|t| (*t, Vec::new())).collect();
    for row in rows {
        grouped.entry(row.team_id).or_default().push(row.agent_id);
    }
    Ok(grouped)
}

/// What changes on a team (`None`: kept).
#[derive(Clone, Debug, Default)]
pub struct TeamChange {
    pub name: Option<String>,
    /// Mode and capacity.
    pub routing: Option<(domain::RoutingMode, Option<i32>)>,
    /// `Some(None)`: no policy.
    pub sla_policy: Option<Option<domain::SlaPolicyId>>,
}

/// Applies `change` to `team`; wakes the router when its routing changed.
///
/// # Errors
/// [`Error::Duplicate`] for a name the workspace has (ignoring case).
pub async fn update(db: &impl crate::Announce, team: Model, change: TeamChange) -> Result<Model, Error> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let mut model = team.into_active_model();
    if let Some(name) = change.name {
        model.name_key = Set(name.to_lowercase());
        model.name = Set(name);
    }
    if let Some((mode, capacity)) = change.routing {
        model.routing_mode = Set(mode);
        model.capacity = Set(capacity);
        db.announce(crate::Work::Route);
    }
    if let Some(policy) = change.sla_policy {
        model.sla_policy_id = Set(policy);
    }
    model.update(db).await.map_err(|e| Error::from_db(e, "failed to update team", "a team with this name"))
}
