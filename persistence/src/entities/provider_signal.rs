//! The `provider_signals` table: read receipts and typing indicators queued for the provider.

use domain::{ConversationId, MessageId, MessageStatus, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_signals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    /// The inbound message the signal names (Meta's `message_id`).
    pub message_id: MessageId,
    /// `READ` (a read receipt) or `TYPING` (a typing indicator, which also marks it read).
    pub kind: String,
    /// `PENDING`, `SENT` or `FAILED`.
    pub status: MessageStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub error_title: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
