//! The `contact_identities` table.

use domain::{ContactId, ConversationId, IdentityKind, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    pub contact_id: ContactId,
    pub kind: IdentityKind,
    pub value: String,
    pub value_key: String,
    pub source_conversation_id: Option<ConversationId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
