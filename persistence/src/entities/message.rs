//! The `messages` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub conversation_id: Uuid,
    pub business_number_id: Uuid,
    pub direction: String,
    pub channel: String,
    pub kind: String,
    pub text: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub content: Option<Json>,
    pub template_id: Option<Uuid>,
    pub template_name: Option<String>,
    pub template_category: Option<String>,
    pub status: String,
    pub external_id: Option<String>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub author_agent_id: Option<Uuid>,
    pub idempotency_key: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub sent_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
