//! Retention (PRODUCT.md section 15): a workspace with `retention_days` has, once a day, the
//! texts, content and media of its messages stored before `now - retention_days` erased, and
//! its older events cut to their type and ids ([`crate::privacy`]'s eraser: files shared with a
//! newer message keep their bytes, the others are deleted after the commit). Conversations,
//! contacts and the audit log stay.
//!
//! A run is claimed on the workspace's row: it locks it, checks that the last cutoff
//! (`retention_erased_before`) is at least a day old, erases and moves the cutoff, in one
//! transaction, so whichever process comes second finds it done.

use chrono::{DateTime, Duration, Utc};
use domain::WorkspaceId;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};

use crate::entities::{event, workspace};
use crate::error::{DbContext, Error};
use crate::privacy::{Messages, cut_to_ids, erase_messages};
use crate::work::Announce;

/// How often a workspace's retention runs.
pub const EVERY: Duration = Duration::days(1);

/// What one run erased.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retained {
    /// Everything stored before this was erased.
    pub cutoff: DateTime<Utc>,
    pub attachments: usize,
    /// Files listed for deletion after the commit.
    pub blobs: usize,
    pub events: usize,
}

/// When each workspace with a retention limit is next due (at once when it never ran).
///
/// # Errors
/// On a database failure.
pub async fn due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<(WorkspaceId, DateTime<Utc>)>, Error> {
    let rows = workspace::Entity::find()
        .filter(workspace::Column::RetentionDays.is_not_null())
        .all(db)
        .await
        .context("failed to read retention settings")?;
    Ok(rows
        .into_iter()
        .filter_map(|w| {
            let days = Duration::days(w.retention_days?.into());
            Some((w.id, w.retention_erased_before.map_or(now, |before| before + days + EVERY)))
        })
        .collect())
}

/// Runs the workspace's retention at `now` if it is due; `None` when it is not (no limit, or
/// another process ran it less than a day ago).
///
/// # Errors
/// On a database failure (the transaction should then be rolled back).
pub async fn run(
    db: &impl Announce,
    workspace: WorkspaceId,
    now: DateTime<Utc>,
) -> Result<Option<Retained>, Error> {
    let Some(row) = crate::workspaces::lock(db, workspace).await? else {
        return Ok(None);
    };
    let Some(days) = row.retention_days else {
        return Ok(None);
    };
    let cutoff = now - Duration::days(days.into());
    let previous = row.retention_erased_before;
    if previous.is_some_and(|before| before + EVERY > cutoff) {
        return Ok(None);
    }
    let erased = erase_messages(db, workspace, Messages::StoredBefore(cutoff), now).await?;
    let mut older = event::Entity::find()
        .filter(event::Column::WorkspaceId.eq(workspace))
        .filter(event::Column::OccurredAt.lt(cutoff));
    if let Some(before) = previous {
        older = older.filter(event::Column::OccurredAt.gte(before));
    }
    let events = cut_to_ids(db, older.all(db).await.context("failed to load old events")?).await?;
    let mut change = row.into_active_model();
    change.retention_erased_before = Set(Some(cutoff));
    change.update(db).await.context("failed to record a retention run")?;
    Ok(Some(Retained { cutoff, attachments: erased.attachments, blobs: erased.blobs, events }))
}
