//! Agents: creating them (admins only).

use chrono::{DateTime, Utc};
use domain::{AgentId, Email, Role};
use persistence::entities::agent;
use persistence::{Database, agents};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// Validates an agent's display name: trimmed, 1–200 characters.
///
/// # Errors
/// `BAD_USER_INPUT` naming the field.
pub fn valid_name(field: &str, name: &str) -> ApiResult<String> {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_input(format!(
            "{field} must be 1 to 200 characters without control characters"
        )));
    }
    Ok(name.to_owned())
}

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
