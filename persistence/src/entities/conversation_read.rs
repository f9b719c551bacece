//! The `conversation_reads` table: each agent's read marker per conversation.

use domain::{AgentId, ConversationId, MessageId, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation_reads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    /// Messages stored after this are unread for the agent.
    pub last_read_at: DateTimeUtc,
    pub last_read_message_id: Option<MessageId>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
