//! The workspace's settings.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use persistence::settings::SettingsChange;

use super::context::{db, now, viewer};
use super::guards::RoleGuard;
use crate::setup::settings::{self, Settings};
use crate::workflow::lifecycle::ReadReceipts;

/// How the workspace works: read receipts, auto-link on an attested phone, the service window
/// warning and retention.
#[derive(SimpleObject)]
pub struct WorkspaceSettings {
    /// Marking a WhatsApp conversation read sends Meta a read receipt (default: on, or the
    /// server's `PARLEY_WHATSAPP_READ_RECEIPTS`).
    pub read_receipts: bool,
    /// When a customer shares a phone through the request button (attested by Meta) and exactly
    /// one contact of the workspace has it, link the conversation to that contact (default: off).
    pub auto_link_attested_phone: bool,
    /// How many minutes before the 24-hour service window closes `conversation.window_closing`
    /// is emitted (default 60).
    pub window_warning_minutes: i32,
    /// Message texts, content and media older than this many days are erased by a daily job,
    /// and older event payloads keep their type and ids only; null keeps everything (default).
    pub retention_days: Option<i32>,
}

impl From<Settings> for WorkspaceSettings {
    fn from(s: Settings) -> Self {
        Self {
            read_receipts: s.read_receipts,
            auto_link_attested_phone: s.auto_link_attested_phone,
            window_warning_minutes: s.window_warning_minutes,
            retention_days: s.retention_days,
        }
    }
}

/// The settings to change; a field left out keeps its value.
#[derive(InputObject)]
pub struct UpdateWorkspaceSettingsInput {
    /// Send Meta read receipts when agents read WhatsApp conversations.
    pub read_receipts: Option<bool>,
    /// Link a conversation to the one contact with the phone a customer shared on request.
    pub auto_link_attested_phone: Option<bool>,
    /// 1 to 1,440 minutes before the window closes.
    pub window_warning_minutes: Option<i32>,
    /// 1 to 36,500 days; `null` keeps everything.
    pub retention_days: MaybeUndefined<i32>,
}

/// The server's read-receipt default (`PARLEY_WHATSAPP_READ_RECEIPTS`; on when not configured).
pub(super) fn receipts(ctx: &Context<'_>) -> ReadReceipts {
    ctx.data_opt::<ReadReceipts>().copied().unwrap_or(ReadReceipts(true))
}

/// The workspace's settings.
#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// The signed-in agent's workspace settings.
    async fn workspace_settings(&self, ctx: &Context<'_>) -> Result<WorkspaceSettings> {
        Ok(settings::read(db(ctx)?, viewer(ctx)?, receipts(ctx)).await?.into())
    }
}

/// Changing the workspace's settings.
#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Changes the workspace's settings (ADMIN); audited as `workspace.settings_updated` with the
    /// settings before and after. `BAD_USER_INPUT` for a value out of range.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn update_workspace_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkspaceSettingsInput,
    ) -> Result<WorkspaceSettings> {
        let change = SettingsChange {
            read_receipts: input.read_receipts,
            auto_link_attested_phone: input.auto_link_attested_phone,
            window_warning_minutes: input.window_warning_minutes,
            retention_days: match input.retention_days {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(days) => Some(Some(days)),
            },
        };
        Ok(settings::update(db(ctx)?, viewer(ctx)?, change, receipts(ctx), now(ctx)).await?.into())
    }
}
