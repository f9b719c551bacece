//! The conversation lifecycle (PRODUCT.md section 12): starting a conversation, read state and
//! read receipts, the typing indicator, snoozing, the inbox counts.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::{BusinessNumberId, ContactId, ConversationId, Permission, TemplateId};

use super::context::{db, now, parse_id, viewer};
use super::conversations::Conversation;
use super::guards::RoleGuard;
use crate::outbound::start::StartRequest;
use crate::workflow::lifecycle;

/// Who to write to first, from which number, and what.
#[derive(InputObject)]
pub struct StartConversationInput {
    /// The number to write from: a WhatsApp number (first message: a template) or an SMS
    /// number (first message: text).
    pub business_number_id: ID,
    /// The customer's phone, E.164. Exactly one of this and `contactId`; never a username or
    /// BSUID (WhatsApp offers no look-up by either).
    pub phone_number: Option<String>,
    /// A contact with a phone number.
    pub contact_id: Option<ID>,
    /// The template (WhatsApp: the customer service window is closed).
    pub template_id: Option<ID>,
    /// The template's `{{n}}` parameters, in order.
    pub parameters: Option<Vec<String>>,
    /// The text (SMS).
    pub text: Option<String>,
    /// Repeating the call with the same key returns the same conversation and sends nothing
    /// more.
    pub idempotency_key: Option<String>,
}

/// The inbox at a glance, for the signed-in agent.
#[derive(SimpleObject)]
pub struct InboxCounts {
    /// Open conversations.
    pub open: i64,
    /// Open conversations with messages the agent has not read.
    pub unread: i64,
    /// Open conversations assigned to the agent.
    pub mine: i64,
    /// Open conversations assigned to no one.
    pub unassigned: i64,
    /// Open conversations waiting in a team's queue (in a team, assigned to no one).
    pub waiting: i64,
}

/// Inbox counts.
#[derive(Default)]
pub struct LifecycleQuery;

#[Object]
impl LifecycleQuery {
    /// The signed-in agent's inbox counts (open, unread, mine, unassigned, waiting). Concurrent requests
    /// share one read; a change made through this server is counted in the next answer, one
    /// made through another server process within about a second.
    async fn inbox_counts(&self, ctx: &Context<'_>) -> Result<InboxCounts> {
        let cache = ctx.data_opt::<crate::workflow::counts::CountsCache>();
        let counts = lifecycle::inbox_counts(db(ctx)?, viewer(ctx)?, cache).await?;
        Ok(InboxCounts {
            open: counts.open,
            unread: counts.unread,
            mine: counts.mine,
            unassigned: counts.unassigned,
            waiting: counts.waiting,
        })
    }
}

/// Starting, reading, snoozing.
#[derive(Default)]
pub struct LifecycleMutation;

#[Object]
impl LifecycleMutation {
    /// Writes first to a known phone (or a contact's): reuses the workspace's conversation
    /// with that phone on that number, else opens one (`AGENT_STARTED`, assigned to the agent,
    /// linked to the contact). On WhatsApp a template, on SMS text.
    #[graphql(guard = "RoleGuard::new(Permission::ReachCustomer)")]
    async fn start_conversation(
        &self,
        ctx: &Context<'_>,
        input: StartConversationInput,
    ) -> Result<Conversation> {
        let request = StartRequest {
            business_number: parse_id::<BusinessNumberId>(&input.business_number_id, "businessNumberId")?,
            phone: input.phone_number.as_deref(),
            contact: input
                .contact_id
                .as_ref()
                .map(|id| parse_id::<ContactId>(id, "contactId"))
                .transpose()?,
            template: input
                .template_id
                .as_ref()
                .map(|id| parse_id::<TemplateId>(id, "templateId"))
                .transpose()?,
            parameters: input.parameters.as_deref().unwrap_or_default(),
            text: input.text.as_deref(),
            idempotency_key: input.idempotency_key.as_deref(),
        };
        let (conversation, _) =
            crate::outbound::start::start(db(ctx)?, viewer(ctx)?, request, now(ctx)).await?;
        Ok(Conversation(conversation))
    }

    /// Records that the signed-in agent has read the conversation. On WhatsApp the customer's
    /// latest message gets a read receipt (once), unless `PARLEY_WHATSAPP_READ_RECEIPTS=false`.
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn mark_conversation_read(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let receipts = super::settings::receipts(ctx);
        let conversation = lifecycle::mark_read(db(ctx)?, viewer(ctx)?, id, receipts, now(ctx)).await?;
        Ok(Conversation(conversation))
    }

    /// Shows the customer WhatsApp's typing indicator on their latest message (window open);
    /// true when queued.
    #[graphql(guard = "RoleGuard::new(Permission::ReachCustomer)")]
    async fn send_typing_indicator(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<bool> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        lifecycle::send_typing(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?;
        Ok(true)
    }

    /// Puts a conversation aside (`SNOOZED`) until `until` (future, at most a year ahead); it
    /// is `OPEN` again then, or at the customer's next message.
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn snooze_conversation(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        until: DateTime<Utc>,
    ) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        Ok(Conversation(lifecycle::snooze(db(ctx)?, viewer(ctx)?, id, until, now(ctx)).await?))
    }
}
