//! What every use case shares around its transaction (written through `Database::write`): the
//! audit trail (writing it, and reading it for admins).

use chrono::{DateTime, Utc};
use persistence::ConnectionTrait;

use crate::auth::Viewer;
use crate::error::ApiResult;

/// Records an admin-relevant action in the audit trail (inside the caller's transaction).
pub(crate) async fn audit(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    action: &str,
    subject: (&str, impl Into<uuid::Uuid>),
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let entry = persistence::audit::Entry {
        agent: Some(viewer.agent_id),
        action,
        subject_type: subject.0,
        subject_id: subject.1.into(),
        details: Some(details),
    };
    persistence::audit::record(db, viewer.workspace_id, entry, now).await?;
    Ok(())
}

/// The workspace's audit trail, newest first (admins).
///
/// # Errors
/// `FORBIDDEN` for non-admins, storage failures.
pub async fn audit_log(
    db: &persistence::Database,
    viewer: &Viewer,
    limit: u64,
) -> ApiResult<Vec<persistence::AuditEntry>> {
    viewer.require_admin()?;
    Ok(persistence::audit::list(db.conn(), viewer.workspace_id, limit).await?)
}
