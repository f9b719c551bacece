//! Each workspace's settings (PRODUCT.md section 15), kept on its row.

use domain::WorkspaceId;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel};

use crate::entities::workspace::{Entity, Model};
use crate::error::{DbContext, Error};

pub use crate::workspaces::DEFAULT_WINDOW_WARNING_MINUTES;

/// A workspace's settings as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkspaceSettings {
    /// `None`: the process default.
    pub read_receipts: Option<bool>,
    pub auto_link_attested_phone: bool,
    pub window_warning_minutes: i32,
    pub retention_days: Option<i32>,
}

impl From<&Model> for WorkspaceSettings {
    fn from(w: &Model) -> Self {
        Self {
            read_receipts: w.read_receipts,
            auto_link_attested_phone: w.auto_link_attested_phone,
            window_warning_minutes: w.window_warning_minutes,
            retention_days: w.retention_days,
        }
    }
}

/// The settings to change; `None` leaves one as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub read_receipts: Option<bool>,
    pub auto_link_attested_phone: Option<bool>,
    pub window_warning_minutes: Option<i32>,
    /// `Some(None)`: no retention limit (everything is kept).
    pub retention_days: Option<Option<i32>>,
}

/// The workspace's settings (`None`: no such workspace).
///
/// # Errors
/// On a database failure.
pub async fn of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
) -> Result<Option<WorkspaceSettings>, Error> {
    let row = Entity::find_by_id(workspace).one(db).await.context("failed to load workspace settings")?;
    Ok(row.as_ref().map(WorkspaceSettings::from))
}

/// Applies `change`; returns the settings before and after (`None`: no such workspace).
///
/// # Errors
/// On a database failure.
pub async fn update(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    change: SettingsChange,
) -> Result<Option<(WorkspaceSettings, WorkspaceSettings)>, Error> {
    let Some(row) = crate::workspaces::lock(db, workspace).await? else {
        return Ok(None);
    };
    let before = WorkspaceSettings::from(&row);
    let mut model = row.into_active_model();
    if let Some(on) = change.read_receipts {
        model.read_receipts = Set(Some(on));
    }
    if let Some(on) = change.auto_link_attested_phone {
        model.auto_link_attested_phone = Set(on);
    }
    if let Some(minutes) = change.window_warning_minutes {
        model.window_warning_minutes = Set(minutes);
    }
    if let Some(days) = change.retention_days {
        model.retention_days = Set(days);
    }
    let saved = model.update(db).await.context("failed to update workspace settings")?;
    Ok(Some((before, WorkspaceSettings::from(&saved))))
}
