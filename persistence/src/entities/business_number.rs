//! The `business_numbers` table.

use domain::{BusinessNumberId, BusinessUsername, BusinessUsernameStatus, Channel, PhoneNumber, WorkspaceId};

use crate::sealed::Sealed;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "business_numbers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: BusinessNumberId,
    pub workspace_id: WorkspaceId,
    pub phone_number_id: String,
    pub display_phone_number: PhoneNumber,
    pub waba_id: String,
    pub portfolio_id: String,
    pub business_name: Option<String>,
    pub username: Option<BusinessUsername>,
    pub username_key: Option<String>,
    pub username_status: Option<BusinessUsernameStatus>,
    /// WhatsApp (Meta's ids above) or SMS (`phone_number_id` holds the E.164 number; no WABA or
    /// portfolio).
    pub channel: Channel,
    /// Disconnected numbers keep their conversations readable; every action is denied.
    pub connected: bool,
    /// The number's own Cloud API token (else, for a number the operator connected, the
    /// process's `PARLEY_WHATSAPP_ACCESS_TOKEN`).
    pub access_token_sealed: Option<Sealed>,
    /// Connected by the operator from the command line (`bootstrap`, `connect-number`): only
    /// such a number may use the operator's token.
    pub operator_connected: bool,
    /// An SMS number's provider account.
    pub sms_account_sid: Option<String>,
    pub sms_auth_token_sealed: Option<Sealed>,
    /// The team a new conversation on this number joins.
    pub default_team_id: Option<domain::TeamId>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
