//! The `message_reactions` table.

use domain::{AgentId, ConversationId, Direction, MessageId, MessageStatus, ReactionId, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "message_reactions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ReactionId,
    pub workspace_id: WorkspaceId,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    /// `INBOUND`: the customer's; `OUTBOUND`: the business's (one each per message).
    pub direction: Direction,
    /// The agent who set the business's reaction.
    pub agent_id: Option<AgentId>,
    /// Empty: removed (kept until the removal is sent, for the business's).
    pub emoji: String,
    /// `RECEIVED` for the customer's; `PENDING`, `SENT` or `FAILED` for the business's.
    pub status: MessageStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
