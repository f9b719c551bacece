//! The `contacts` table.

use domain::{AgentId, ContactId, Email, PhoneNumber, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ContactId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub name_folded: String,
    pub email: Option<Email>,
    pub phone: Option<PhoneNumber>,
    pub created_by_agent_id: Option<AgentId>,
    /// The CRM's own id of the record (unique per workspace).
    pub external_id: Option<String>,
    /// Free attributes from the CRM: a JSON object.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub attributes: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
