//! The `conversations` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub business_number_id: Uuid,
    pub channel: String,
    pub active_channel: String,
    pub key_kind: String,
    pub key_value: String,
    pub customer_phone: Option<String>,
    pub customer_bsuid: Option<String>,
    pub customer_parent_bsuid: Option<String>,
    pub customer_username: Option<String>,
    pub customer_username_key: Option<String>,
    pub customer_profile_name: Option<String>,
    pub customer_profile_name_folded: Option<String>,
    pub contact_id: Option<Uuid>,
    pub linked_by_agent_id: Option<Uuid>,
    pub linked_at: Option<DateTimeUtc>,
    pub assignee_id: Option<Uuid>,
    pub status: String,
    pub origin: String,
    pub previous_conversation_id: Option<Uuid>,
    pub last_inbound_at: Option<DateTimeUtc>,
    pub last_activity_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
