//! Agents: creating and changing them (admins only).

use chrono::{DateTime, Utc};
use domain::{AgentId, Email, Role};
use persistence::Agent;
use persistence::{Database, agents};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::input::valid_name;
use crate::store::audit;

/// Creates an agent in the viewer's workspace.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `BAD_USER_INPUT` for a bad e-mail or name, `CONFLICT` when the
/// e-mail is taken in the workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn create(
    db: &Database,
    viewer: &Viewer,
    email: &str,
    name: &str,
    role: Role,
    now: DateTime<Utc>,
) -> ApiResult<Agent> {
    viewer.require_admin()?;
    let email = Email::parse(email).map_err(|e| ApiError::bad_input(format!("email: {e}")))?;
    let name = valid_name("name", name)?;
    let new = agents::NewAgent {
        id: AgentId::new(),
        workspace_id: viewer.workspace_id,
        email: &email,
        name: &name,
        role,
    };
    Ok(db.write(async |txn| agents::create(txn, new, now).await).await?)
}

/// The signed-in agent.
///
/// # Errors
/// `UNAUTHENTICATED` when the agent is gone (it was removed after its token was checked).
pub async fn me(db: &Database, viewer: &Viewer) -> ApiResult<Agent> {
    agents::find(db.conn(), viewer.workspace_id, viewer.agent_id)
        .await?
        .ok_or(ApiError::Unauthenticated("The agent of this token does not exist or is inactive."))
}

/// Every agent of the workspace, by name.
///
/// # Errors
/// Storage failures.
pub async fn list(db: &Database, viewer: &Viewer) -> ApiResult<Vec<Agent>> {
    Ok(agents::list(db.conn(), viewer.workspace_id).await?)
}

/// What an admin changes on an agent; `None` leaves it.
#[derive(Clone, Debug, Default)]
pub struct AgentUpdate {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// Changes an agent's name, role or active flag (admins), audited. A deactivated agent's
/// tokens stop working at once (every request and every socket operation loads the agent) and
/// its open sockets are closed within seconds. The workspace keeps at least one active admin.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `NOT_FOUND` for an agent of another workspace, `BAD_USER_INPUT`
/// for a bad name, `CONFLICT` when the change would leave the workspace without an active admin.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, agent_id = %id))]
pub async fn update(
    db: &Database,
    viewer: &Viewer,
    id: AgentId,
    update: AgentUpdate,
    now: DateTime<Utc>,
) -> ApiResult<Agent> {
    viewer.require_admin()?;
    let name = update.name.as_deref().map(|n| valid_name("name", n)).transpose()?;
    db.write(async |txn| {
        let admins = agents::active_admins_for_update(txn, viewer.workspace_id).await?;
        let current = agents::find(txn, viewer.workspace_id, id).await?.ok_or(ApiError::NotFound("agent"))?;
        let stays_admin =
            update.active.unwrap_or(current.active) && update.role.unwrap_or(current.role) == Role::Admin;
        if admins.iter().all(|a| a.id == id) && !admins.is_empty() && !stays_admin {
            return Err(ApiError::Conflict(
                "this is the workspace's last active admin: promote or activate another admin first"
                    .to_owned(),
            ));
        }
        let change = agents::AgentChange { active: update.active, role: update.role, name: name.as_deref() };
        agents::update(txn, viewer.workspace_id, id, change, now).await?;
        let saved = agents::find(txn, viewer.workspace_id, id).await?.ok_or(ApiError::NotFound("agent"))?;
        let details = serde_json::json!({
            "name": update.name.is_some().then_some(&saved.name),
            "role": update.role.map(|_| saved.role),
            "active": update.active.map(|_| saved.active),
            "before": { "role": current.role, "active": current.active },
        });
        audit(txn, viewer, "agent.updated", ("agent", id), details, now).await?;
        Ok(saved)
    })
    .await
}
