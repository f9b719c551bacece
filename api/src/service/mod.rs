//! Use cases. Each opens its transaction, loads the facts, asks the domain to decide, writes
//! the result and its event, and commits. Resolvers and HTTP handlers call exactly one of these.
//!
//! - [`workspaces`]: bootstrap a workspace with its admin and business number.
//! - [`agents`], [`templates`]: admin set-up.
//! - [`conversations`]: the inbox: listing, capabilities, assignment, resolve/reopen.
//! - [`ingest`]: inbound WhatsApp messages → threading → conversations and messages.
//! - [`outbound`]: replies, templates, phone-number requests, calls, channel switches.
//! - [`webhook`]: one Meta webhook in one transaction.
//! - [`group_commit`]: concurrent Meta webhooks committed together, each answered after the
//!   shared commit.
//! - [`event_data`]: the `data` of each event type.
//! - [`demo`]: the demo workspace of `parley serve --demo`.

pub mod agents;
pub mod contacts;
pub mod conversations;
pub mod demo;
pub mod event_data;
pub mod group_commit;
pub mod ingest;
pub mod outbound;
pub mod templates;
pub mod usernames;
pub mod webhook;
pub mod webhooks;
pub mod workspaces;

use std::str::FromStr;

use crate::error::{ApiError, ApiResult};

/// Reads an enum stored by Parley itself; an unknown value is a bug, hence internal.
pub fn stored<T>(value: &str) -> ApiResult<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value.parse::<T>().map_err(ApiError::internal)
}

/// Maps a database error raised while committing.
pub(crate) fn commit_error(err: sea_orm::DbErr) -> ApiError {
    ApiError::from(persistence::StoreError::Unexpected(anyhow::Error::new(err).context("failed to commit")))
}

/// Records an admin-relevant action in the audit trail (inside the caller's transaction).
pub(crate) async fn audit(
    db: &impl persistence::ConnectionTrait,
    viewer: &crate::auth::Viewer,
    action: &str,
    subject: (&str, uuid::Uuid),
    details: serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    let entry = persistence::audit::Entry {
        agent: Some(viewer.agent_id),
        action,
        subject_type: subject.0,
        subject_id: subject.1,
        details: Some(details),
    };
    persistence::audit::record(db, viewer.workspace_id, entry, now).await?;
    Ok(())
}
