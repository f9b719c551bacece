//! The `messages` table.

use domain::{
    AgentId, BusinessNumberId, Channel, ConversationId, Direction, MessageId, MessageStatus, TeamId,
    TemplateCategory, TemplateId, WorkspaceId,
};
use sea_orm::entity::prelude::*;

use crate::content::MessageContent;
use crate::sealed::Sealed;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MessageId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub business_number_id: BusinessNumberId,
    pub direction: Direction,
    pub channel: Channel,
    /// The provider's message type (`text`, `image`, …): an open set, kept as sent.
    pub kind: String,
    pub text: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub content: Option<MessageContent>,
    pub template_id: Option<TemplateId>,
    pub template_name: Option<String>,
    pub template_category: Option<TemplateCategory>,
    pub status: MessageStatus,
    pub external_id: Option<String>,
    /// The raw provider id, sealed, when `external_id` is its digest (a customer who hid the
    /// number): what replies, reactions and read receipts send to the provider.
    pub external_id_sealed: Option<Sealed>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub author_agent_id: Option<AgentId>,
    /// The message this one replies to (same conversation).
    pub reply_to_message_id: Option<MessageId>,
    pub idempotency_key: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub sent_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The conversation's assignee, kept equal to it (a report's messages are counted by it
    /// without reading the conversations).
    pub conversation_assignee_id: Option<AgentId>,
    /// The conversation's team, kept equal to it likewise.
    pub conversation_team_id: Option<TeamId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
