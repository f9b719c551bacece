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
    Ok(agents::create(db.conn(), new, now).await?)
}
