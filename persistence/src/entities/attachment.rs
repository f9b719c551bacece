//! The `attachments` table.

use domain::{
    AgentId, AttachmentId, AttachmentKind, AttachmentStatus, BusinessNumberId, ConversationId, Direction,
    MessageId, WorkspaceId,
};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AttachmentId,
    pub workspace_id: WorkspaceId,
    /// The message it belongs to; `None` for an upload not sent yet.
    pub message_id: Option<MessageId>,
    pub conversation_id: Option<ConversationId>,
    /// The number whose credentials fetch it (inbound) or upload it (outbound).
    pub business_number_id: Option<BusinessNumberId>,
    pub direction: Direction,
    pub kind: AttachmentKind,
    pub mime_type: String,
    pub file_name: Option<String>,
    pub caption: Option<String>,
    pub size_bytes: Option<i64>,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: Option<String>,
    /// The digest the provider announced, as it wrote it (base64 or hex).
    pub provider_sha256: Option<String>,
    /// The provider's media id (inbound: to fetch it; outbound: once uploaded there).
    pub provider_media_id: Option<String>,
    /// A download URL the provider gave in the webhook (it still needs the bearer token).
    pub provider_url: Option<String>,
    pub status: AttachmentStatus,
    /// Where the bytes are in the blob store.
    pub blob_key: Option<String>,
    pub failure_reason: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    /// After this, a fetch that keeps failing is given up (`FAILED`).
    pub fetch_deadline: Option<DateTimeUtc>,
    pub uploaded_by_agent_id: Option<AgentId>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
