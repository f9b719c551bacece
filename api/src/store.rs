//! What every use case shares around its transaction: the commit error and the audit trail.

use chrono::{DateTime, Utc};
use persistence::ConnectionTrait;

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// Maps a database error raised while beginning or committing a transaction.
pub(crate) fn commit_error(err: sea_orm::DbErr) -> ApiError {
    ApiError::from(persistence::Error::Unexpected(anyhow::Error::new(err).context("failed to commit")))
}

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
