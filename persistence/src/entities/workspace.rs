//! The `workspaces` table.

use domain::WorkspaceId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WorkspaceId,
    pub name: String,
    pub event_seq: i64,
    pub usernames_live: bool,
    /// Read receipts on WhatsApp (`None`: the process default, `PARLEY_WHATSAPP_READ_RECEIPTS`).
    pub read_receipts: Option<bool>,
    /// Link a conversation to the one contact with the phone a customer shared on request.
    pub auto_link_attested_phone: bool,
    /// How long before the service window closes `conversation.window_closing` is emitted.
    pub window_warning_minutes: i32,
    /// Message texts, content and media older than this many days are erased (`None`: kept).
    pub retention_days: Option<i32>,
    /// Everything stored before this was erased by the retention job (its latest cutoff).
    pub retention_erased_before: Option<DateTimeUtc>,
    /// The business hours (`persistence::hours`'s JSON; `None`: always open).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub business_hours: Option<Json>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
