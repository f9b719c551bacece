//! The `conversations` table.

use domain::{
    AgentId, Bsuid, BusinessNumberId, Channel, ContactId, ConversationId, ConversationStatus, MessageId,
    ParentBsuid, PhoneNumber, TeamId, ThreadKeyKind, ThreadOrigin, Username, WorkspaceId,
};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub business_number_id: BusinessNumberId,
    /// The channel the conversation was opened on (fixed).
    pub channel: Channel,
    /// The channel replies go through now (`switchChannel`).
    pub active_channel: Channel,
    pub key_kind: ThreadKeyKind,
    /// The phone or BSUID the conversation is keyed by, as stored in `customer_*`.
    pub key_value: String,
    pub customer_phone: Option<PhoneNumber>,
    pub customer_bsuid: Option<Bsuid>,
    pub customer_parent_bsuid: Option<ParentBsuid>,
    pub customer_username: Option<Username>,
    pub customer_username_key: Option<String>,
    pub customer_profile_name: Option<String>,
    pub customer_profile_name_folded: Option<String>,
    pub contact_id: Option<ContactId>,
    pub linked_by_agent_id: Option<AgentId>,
    pub linked_at: Option<DateTimeUtc>,
    pub assignee_id: Option<AgentId>,
    /// The team it is routed to.
    pub team_id: Option<TeamId>,
    pub status: ConversationStatus,
    pub origin: ThreadOrigin,
    pub previous_conversation_id: Option<ConversationId>,
    pub last_inbound_at: Option<DateTimeUtc>,
    /// When its latest inbound message was stored (what an agent's read marker is compared
    /// with: the conversation is unread for an agent whose marker is older or missing).
    pub inbound_stored_at: Option<DateTimeUtc>,
    /// The `last_inbound_at` whose window `conversation.window_closing` was emitted for.
    pub window_warned_for: Option<DateTimeUtc>,
    /// The `last_inbound_at` whose window `conversation.window_closed` was emitted for.
    pub window_closed_for: Option<DateTimeUtc>,
    pub last_activity_at: DateTimeUtc,
    /// Until when the away reply sent in a closed period covers it (that period's end).
    pub away_until: Option<DateTimeUtc>,
    /// The SLA policy its clocks run under.
    pub sla_policy_id: Option<domain::SlaPolicyId>,
    /// The nearest due time of its running SLA clocks (the `SLA_DUE` order).
    pub sla_due_at: Option<DateTimeUtc>,
    /// A target of its current SLA cycles is breached.
    pub sla_breached: bool,
    /// Until when a `SNOOZED` conversation stays aside.
    pub snoozed_until: Option<DateTimeUtc>,
    /// The customer opted out of SMS from the workspace's number (replied STOP).
    pub sms_opted_out: bool,
    /// The latest inbound message a read receipt was sent for (one receipt per read).
    pub read_receipt_message_id: Option<MessageId>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When an agent first answered the customer (reports).
    pub first_response_at: Option<DateTimeUtc>,
    /// How long that took from the customer's first message (open time when the SLA policy
    /// counts business hours only).
    pub first_response_seconds: Option<i64>,
    /// When it was resolved (cleared when it reopens).
    pub resolved_at: Option<DateTimeUtc>,
    /// How long it took from its opening to that resolution (open time likewise).
    pub resolution_seconds: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
