//! The workspace's settings (PRODUCT.md section 15): read receipts, auto-link on an attested
//! phone, the service window warning and retention. Every agent reads them (the desktop shows
//! the warning); admins change them, audited with what they were before.

use chrono::{DateTime, Utc};
use persistence::Database;
use persistence::settings::{self, SettingsChange, WorkspaceSettings};
use serde_json::json;

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::workflow::lifecycle::ReadReceipts;

/// The longest window warning: the whole 24-hour window.
pub const MAX_WINDOW_WARNING_MINUTES: i32 = 24 * 60;
/// The longest retention accepted (a hundred years: longer is no limit).
pub const MAX_RETENTION_DAYS: i32 = 36_500;

/// The settings as the API shows them (read receipts resolved against the process default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub read_receipts: bool,
    pub auto_link_attested_phone: bool,
    pub window_warning_minutes: i32,
    pub retention_days: Option<i32>,
}

impl Settings {
    #[must_use]
    pub fn resolve(stored: WorkspaceSettings, default_receipts: ReadReceipts) -> Self {
        Self {
            read_receipts: stored.read_receipts.unwrap_or(default_receipts.0),
            auto_link_attested_phone: stored.auto_link_attested_phone,
            window_warning_minutes: stored.window_warning_minutes,
            retention_days: stored.retention_days,
        }
    }

    fn audited(self) -> serde_json::Value {
        json!({
            "readReceipts": self.read_receipts,
            "autoLinkAttestedPhone": self.auto_link_attested_phone,
            "windowWarningMinutes": self.window_warning_minutes,
            "retentionDays": self.retention_days,
        })
    }
}

/// The viewer's workspace settings.
///
/// # Errors
/// `FORBIDDEN` without read access; storage failures.
pub async fn read(db: &Database, viewer: &Viewer, default_receipts: ReadReceipts) -> ApiResult<Settings> {
    viewer.require(domain::Permission::Read)?;
    let stored =
        settings::of(db.conn(), viewer.workspace_id).await?.ok_or(ApiError::NotFound("workspace"))?;
    Ok(Settings::resolve(stored, default_receipts))
}

/// Checks a change: a warning of 1 to 1,440 minutes, a retention of 1 to 36,500 days.
///
/// # Errors
/// `BAD_USER_INPUT` naming the field.
pub fn validate(change: &SettingsChange) -> ApiResult<()> {
    if let Some(minutes) = change.window_warning_minutes
        && !(1..=MAX_WINDOW_WARNING_MINUTES).contains(&minutes)
    {
        return Err(ApiError::bad_input(format!(
            "windowWarningMinutes must be between 1 and {MAX_WINDOW_WARNING_MINUTES}"
        )));
    }
    if let Some(Some(days)) = change.retention_days
        && !(1..=MAX_RETENTION_DAYS).contains(&days)
    {
        return Err(ApiError::bad_input(format!(
            "retentionDays must be between 1 and {MAX_RETENTION_DAYS}, or null to keep everything"
        )));
    }
    Ok(())
}

/// Changes the workspace's settings (ADMIN); the audit entry `workspace.settings_updated`
/// holds the settings before and after, in the same transaction.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `BAD_USER_INPUT` (see [`validate`]), storage failures.
pub async fn update(
    db: &Database,
    viewer: &Viewer,
    change: SettingsChange,
    default_receipts: ReadReceipts,
    now: DateTime<Utc>,
) -> ApiResult<Settings> {
    viewer.require_admin()?;
    validate(&change)?;
    db.write(async |txn| {
        let (before, after) = settings::update(txn, viewer.workspace_id, change)
            .await?
            .ok_or(ApiError::NotFound("workspace"))?;
        let (before, after) =
            (Settings::resolve(before, default_receipts), Settings::resolve(after, default_receipts));
        let details = json!({ "before": before.audited(), "after": after.audited() });
        crate::store::audit(
            txn,
            viewer,
            "workspace.settings_updated",
            ("workspace", viewer.workspace_id),
            details,
            now,
        )
        .await?;
        Ok(after)
    })
    .await
}
