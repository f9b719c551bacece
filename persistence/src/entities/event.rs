//! The `events` table.

use domain::{ContactId, ConversationId, EventId, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: EventId,
    pub workspace_id: WorkspaceId,
    pub cursor: i64,
    pub event_type: String,
    pub conversation_id: Option<ConversationId>,
    pub contact_id: Option<ContactId>,
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
