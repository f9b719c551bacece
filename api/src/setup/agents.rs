//! Agents: creating them (admins only).

use chrono::{DateTime, Utc};
use domain::{AgentId, Email, Role};
use persistence::entities::agent;
use persistence::{Database, agents};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::input::valid_name;

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
) -> ApiResult<agent::Model> {
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
pub async fn me(db: &Database, viewer: &Viewer) -> ApiResult<agent::Model> {
    agents::find(db.conn(), viewer.workspace_id, viewer.agent_id)
        .await?
        .ok_or(ApiError::Unauthenticated("The agent of this token does not exist or is inactive."))
}

/// Every agent of the workspace, by name.
///
/// # Errors
/// Storage failures.
pub async fn list(db: &Database, viewer: &Viewer) -> ApiResult<Vec<agent::Model>> {
    Ok(agents::list(db.conn(), viewer.workspace_id).await?)
}
