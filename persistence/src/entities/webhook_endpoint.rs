//! The `webhook_endpoints` table.

use domain::{WebhookEndpointId, WorkspaceId};

use crate::content::EventTypes;
use crate::sealed::Sealed;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WebhookEndpointId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub secret: Sealed,
    #[sea_orm(column_type = "JsonBinary")]
    pub event_types: EventTypes,
    pub active: bool,
    pub paused_at: Option<DateTimeUtc>,
    pub consecutive_failures: i32,
    pub enqueued_cursor: i64,
    pub lease_until: Option<DateTimeUtc>,
    /// The secret before the last rotation; it signs too until `previous_secret_until`.
    pub previous_secret: Option<Sealed>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
