//! The thread's object graph: `Conversation`, its `Customer` and capabilities, its `Message`s
//! (with attachments and reactions) and its `Contact`, which reference one another and so live
//! together; `Label` and `Team` live here too: a conversation shows them. A message's own
//! objects (`Message`, `Attachment`, `Reaction`) are [`super::message_types`] (they name no
//! conversation); the inbox (query, filter, assign, resolve, reopen) is [`super::inbox`].

use super::context::{db, loaders_of, now, viewer};
use super::enums;
use super::loaders::{
    AgentKey, BusinessNumberKey, ContactKey, ConversationKey, IdentitiesKey, LabelsKey, LastMessageKey,
    OwnerKey, ReadKey, TeamKey,
};
pub use super::message_types::{Attachment, Message, Reaction};
use super::pagination;
use super::setup::{Agent, BusinessNumber};
use crate::error::ApiError;
use crate::workflow::conversations;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::capabilities::Capability;
use domain::display::{display_name, phone_notice};
use persistence::inbox::{ConversationFilter as StoreFilter, InboxCursor};
use persistence::messages::MessageCursor;

/// A conversation: the messages between one business number and one customer on one channel.
pub struct Conversation(pub persistence::Conversation);

impl Conversation {
    async fn linked_contact(&self, ctx: &Context<'_>) -> Result<Option<persistence::Contact>> {
        match self.0.contact_id {
            Some(id) => Ok(loaders_of(ctx)?.load_one(ContactKey(id)).await.map_err(ApiError::from)?),
            None => Ok(None),
        }
    }
}

/// A conversation: the messages between one business number and one customer on one channel.
#[Object]
impl Conversation {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The channel the conversation's replies go through now.
    async fn channel(&self) -> enums::Channel {
        self.0.active_channel.into()
    }

    /// Whether agents still need to act on it.
    async fn status(&self) -> enums::ConversationStatus {
        self.0.status.into()
    }

    /// Why the conversation exists.
    async fn origin(&self) -> enums::ThreadOrigin {
        self.0.origin.into()
    }

    /// The customer's name for agents: linked contact's name, else WhatsApp profile name, else
    /// `@username`, else phone number.
    async fn display_name(&self, ctx: &Context<'_>) -> Result<String> {
        let contact = self.linked_contact(ctx).await?;
        Ok(display_name(
            contact.as_ref().map(|c| c.name.as_str()),
            self.0.customer_profile_name.as_deref(),
            self.0.customer_username.as_ref(),
            self.0.customer_phone.as_ref(),
        ))
    }

    /// When the conversation was opened.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When anything last changed on it.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// When the customer's latest message was written (drives the 24-hour window).
    async fn last_inbound_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_inbound_at
    }

    /// When the latest message in either direction was written (the inbox order).
    async fn last_activity_at(&self) -> DateTime<Utc> {
        self.0.last_activity_at
    }

    /// When a `SNOOZED` conversation opens again by itself (null otherwise).
    async fn snoozed_until(&self) -> Option<DateTime<Utc>> {
        self.0.snoozed_until
    }

    /// The signed-in agent's unread inbound messages here (notes and outbound messages never
    /// count).
    async fn unread_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let state = loaders_of(ctx)?.load_one(ReadKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(i32::try_from(state.unwrap_or_default().unread).unwrap_or(i32::MAX))
    }

    /// When the signed-in agent last marked it read (null: never).
    async fn last_read_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        let state = loaders_of(ctx)?.load_one(ReadKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(state.and_then(|s| s.last_read_at))
    }

    /// When free-form replies stop being allowed (WhatsApp; null before any inbound message).
    async fn service_window_ends_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        let around = conversations::Around { contact_phone_known: false, number_connected: true };
        Ok(conversations::capabilities_of(&self.0, around, now(ctx)).service_window_ends_at)
    }

    /// The business number the customer wrote to.
    async fn business_number(&self, ctx: &Context<'_>) -> Result<BusinessNumber> {
        let number = loaders_of(ctx)?
            .load_one(BusinessNumberKey(self.0.business_number_id))
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("conversation without business number")))?;
        Ok(BusinessNumber(number))
    }

    /// What WhatsApp told us about the customer.
    async fn customer(&self) -> Customer<'_> {
        Customer(&self.0)
    }

    /// The contact this conversation is linked to.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        Ok(self.linked_contact(ctx).await?.map(Contact))
    }

    /// The agent working the conversation.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        match self.0.assignee_id {
            Some(id) => Ok(loaders_of(ctx)?.load_one(AgentKey(id)).await.map_err(ApiError::from)?.map(Agent)),
            None => Ok(None),
        }
    }

    /// The labels it carries, by name.
    async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<Label>> {
        let rows = loaders_of(ctx)?.load_one(LabelsKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(rows.unwrap_or_default().into_iter().map(Label).collect())
    }

    /// The nearest due time of its running SLA targets (what `orderBy: SLA_DUE` sorts by;
    /// null: none running).
    async fn sla_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.sla_due_at
    }

    /// A target of its current SLA cycles is breached (the `slaBreached` filter).
    async fn sla_breached(&self) -> bool {
        self.0.sla_breached
    }

    /// When an agent first answered the customer (null: not yet, or the customer never
    /// wrote).
    async fn first_response_at(&self) -> Option<DateTime<Utc>> {
        self.0.first_response_at
    }

    /// When it was resolved (null while it is not).
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }

    /// Its SLA: policy, due times, targets met and breached (null: no policy).
    async fn sla(&self, ctx: &Context<'_>) -> Result<Option<super::center_types::ConversationSla>> {
        super::center_types::conversation_sla(ctx, &self.0).await
    }

    /// The team it is routed to.
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.team_id {
            Some(id) => Ok(loaders_of(ctx)?.load_one(TeamKey(id)).await.map_err(ApiError::from)?.map(Team)),
            None => Ok(None),
        }
    }

    /// For a returning customer who hid the number: the earlier conversation it probably
    /// continues. Nothing is linked automatically.
    async fn previous_conversation(&self, ctx: &Context<'_>) -> Result<Option<Conversation>> {
        match self.0.previous_conversation_id {
            Some(id) => Ok(loaders_of(ctx)?
                .load_one(ConversationKey(id))
                .await
                .map_err(ApiError::from)?
                .map(Conversation)),
            None => Ok(None),
        }
    }

    /// The contact this customer probably is, offered so that linking is one `linkToExisting`
    /// call: the contact of `previousConversation`, else the one contact that already has this
    /// conversation's BSUID or username. Null once the conversation is linked, and nothing is
    /// linked automatically.
    async fn suggested_contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        if self.0.contact_id.is_some() {
            return Ok(None);
        }
        let loader = loaders_of(ctx)?;
        let previous_contact = match self.0.previous_conversation_id {
            Some(previous) => loader
                .load_one(ConversationKey(previous))
                .await
                .map_err(ApiError::from)?
                .and_then(|p| p.contact_id),
            None => None,
        };
        let mut keys = Vec::new();
        if previous_contact.is_none() {
            if let Some(bsuid) = &self.0.customer_bsuid {
                keys.push(OwnerKey(domain::IdentityKind::Bsuid, bsuid.as_str().to_owned()));
            }
            if let Some(key) = &self.0.customer_username_key {
                keys.push(OwnerKey(domain::IdentityKind::Username, key.clone()));
            }
        }
        let owners: Vec<domain::ContactId> = loader
            .load_many(keys)
            .await
            .map_err(ApiError::from)?
            .values()
            .flatten()
            .map(|o| o.contact_id)
            .collect();
        match domain::contacts::suggested_contact(false, previous_contact, &owners) {
            Some(id) => Ok(loader.load_one(ContactKey(id)).await.map_err(ApiError::from)?.map(Contact)),
            None => Ok(None),
        }
    }

    /// What an agent may do here now, and why not.
    async fn capabilities(&self, ctx: &Context<'_>) -> Result<ConversationCapabilities> {
        let contact_phone_known = self.linked_contact(ctx).await?.is_some_and(|c| c.phone.is_some());
        let number = loaders_of(ctx)?
            .load_one(BusinessNumberKey(self.0.business_number_id))
            .await
            .map_err(ApiError::from)?;
        let number_connected = number.as_ref().is_some_and(|n| n.connected);
        let around = conversations::Around { contact_phone_known, number_connected };
        Ok(ConversationCapabilities {
            capabilities: conversations::capabilities_of(&self.0, around, now(ctx)),
            waba: number.map(|n| n.waba_id).unwrap_or_default(),
        })
    }

    /// The latest message in either direction (the inbox preview).
    async fn last_message(&self, ctx: &Context<'_>) -> Result<Option<Message>> {
        Ok(loaders_of(ctx)?.load_one(LastMessageKey(self.0.id)).await.map_err(ApiError::from)?.map(Message))
    }

    /// The messages, newest first.
    #[graphql(complexity = "super::pagination::page_cost(first, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Message>> {
        let limit = pagination::page_size(first)?;
        let after = after.as_deref().map(pagination::decode::<domain::MessageId>).transpose()?;
        let cursor = after.map(|(sent_at, id)| MessageCursor { sent_at, id });
        let rows = conversations::messages(db(ctx)?, viewer(ctx)?, self.0.id, cursor, limit + 1).await?;
        Ok(pagination::connection(
            rows,
            limit,
            after.is_some(),
            |m| pagination::encode(m.sent_at, m.id),
            Message,
        ))
    }
}

/// One page of conversations (the inbox, a contact's history), relations prefetched in a
/// fixed number of batches.
///
/// # Errors
/// `BAD_USER_INPUT` for the page arguments; storage failures.
pub(crate) async fn conversation_page(
    ctx: &Context<'_>,
    filter: &StoreFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, Conversation>> {
    let limit = pagination::page_size(first)?;
    let after = after.as_deref().map(pagination::decode::<domain::ConversationId>).transpose()?;
    let cursor = after.map(|(last_activity_at, id)| InboxCursor { last_activity_at, id });
    let order = filter.order;
    let rows = conversations::list(db(ctx)?, viewer(ctx)?, filter, cursor, limit + 1).await?;
    let page = ctx.look_ahead();
    let nodes = [page.field("edges").field("node"), page.field("nodes")];
    let shows = |field: &str| nodes.iter().any(|node| node.field(field).exists());
    let shown = super::loaders::Shown {
        contact: shows("displayName") || shows("contact") || shows("capabilities"),
        number: shows("businessNumber") || shows("capabilities"),
        assignee: shows("assignee"),
        last_message: shows("lastMessage"),
        suggestion: shows("suggestedContact") || shows("previousConversation"),
        read_state: shows("unreadCount") || shows("lastReadAt"),
        labels: shows("labels"),
        team: shows("team"),
        team_members: nodes.iter().any(|node| node.field("team").field("members").exists()),
        sla: shows("sla"),
        team_queue: nodes.iter().any(|node| node.field("team").field("queue").exists()),
        team_policy: nodes.iter().any(|node| node.field("team").field("slaPolicy").exists()),
    };
    super::loaders::prefetch_conversations(loaders_of(ctx)?, &rows, shown).await.map_err(ApiError::from)?;
    Ok(pagination::connection(
        rows,
        limit,
        after.is_some(),
        |c| {
            let key = InboxCursor::in_order(c, order);
            pagination::encode(key.last_activity_at, key.id)
        },
        Conversation,
    ))
}

/// What WhatsApp told us about the customer of a conversation (read from the conversation's
/// row, not copied).
pub struct Customer<'a>(&'a persistence::Conversation);

/// What WhatsApp told us about the customer of a conversation.
#[Object]
impl Customer<'_> {
    /// E.164 phone number; null when the customer hid it.
    async fn phone_number(&self) -> Option<&str> {
        self.0.customer_phone.as_ref().map(domain::PhoneNumber::as_str)
    }

    /// Business-scoped user id (`CC.…`).
    async fn bsuid(&self) -> Option<&str> {
        self.0.customer_bsuid.as_ref().map(domain::Bsuid::as_str)
    }

    /// Parent BSUID (`CC.ENT.…`), when the business is enrolled in parent BSUIDs.
    async fn parent_bsuid(&self) -> Option<&str> {
        self.0.customer_parent_bsuid.as_ref().map(domain::ParentBsuid::as_str)
    }

    /// WhatsApp username, shown as `@name`.
    async fn username(&self) -> Option<String> {
        self.0.customer_username.as_ref().map(domain::Username::display)
    }

    /// WhatsApp profile name.
    async fn profile_name(&self) -> Option<&str> {
        self.0.customer_profile_name.as_deref()
    }

    /// True when the customer replied STOP to the workspace's SMS number: no SMS goes to them
    /// until they reply START.
    async fn sms_opted_out(&self) -> bool {
        self.0.sms_opted_out
    }

    /// True when the customer's phone number is unknown to the business.
    async fn phone_hidden(&self) -> bool {
        self.0.customer_phone.is_none()
    }

    /// `No phone number provided by user.` when the phone is unknown.
    async fn notice(&self) -> Option<&'static str> {
        phone_notice(self.0.customer_phone.as_ref())
    }
}

/// Whether one action is allowed, and why not.
#[derive(SimpleObject)]
pub struct CapabilityState {
    /// Whether the action is allowed now.
    pub allowed: bool,
    /// Why not, when it is not (English).
    pub reason: Option<String>,
    /// Why not, as a code to translate; null when allowed.
    pub reason_code: Option<enums::DenialReason>,
}

impl From<Capability> for CapabilityState {
    fn from(c: Capability) -> Self {
        Self {
            allowed: c.allowed(),
            reason: c.reason().map(str::to_owned),
            reason_code: c.denial().map(|d| d.code().into()),
        }
    }
}

/// Whether templates of one category, or one template, may be sent, and why not.
#[derive(SimpleObject)]
pub struct TemplateCapability {
    /// The template, for a template's own entry; null for a category's.
    pub template: Option<super::setup::Template>,
    /// The template category.
    pub category: enums::TemplateCategory,
    /// Whether templates of this category may be sent now.
    pub allowed: bool,
    /// Why not, when they may not (English).
    pub reason: Option<String>,
    /// Why not, as a code to translate; null when allowed.
    pub reason_code: Option<enums::DenialReason>,
}

/// Everything an agent may or may not do in a conversation now.
pub struct ConversationCapabilities {
    capabilities: domain::Capabilities,
    /// The WABA of the conversation's number (whose templates it may send).
    waba: String,
}

/// Everything an agent may or may not do in a conversation now.
#[Object]
impl ConversationCapabilities {
    /// Send a free-form message.
    async fn reply(&self) -> CapabilityState {
        self.capabilities.reply.into()
    }

    /// Place an outbound phone call through the workspace's telephony.
    async fn call(&self) -> CapabilityState {
        self.capabilities.call.into()
    }

    /// Move the conversation to SMS.
    async fn switch_to_sms(&self) -> CapabilityState {
        self.capabilities.switch_to_sms.into()
    }

    /// Ask the customer to share their phone number.
    async fn request_phone_number(&self) -> CapabilityState {
        self.capabilities.request_phone_number.into()
    }

    /// Send a photo, video, audio, document or sticker.
    async fn media(&self) -> CapabilityState {
        self.capabilities.media.into()
    }

    /// React to a message (or remove the reaction).
    async fn react(&self) -> CapabilityState {
        self.capabilities.react.into()
    }

    /// Send a template: one entry per category (`template` null), then one per template the
    /// conversation's number may use (its WABA's, and the workspace's own), by name. A
    /// template's entry is denied when WhatsApp has not approved it (`TEMPLATE_NOT_APPROVED`,
    /// its status in the reason) or when its category is denied here.
    async fn templates(&self, ctx: &Context<'_>) -> Result<Vec<TemplateCapability>> {
        let entry =
            |template: Option<&persistence::Template>, category: domain::TemplateCategory, c: Capability| {
                TemplateCapability {
                    template: template.cloned().map(super::setup::Template),
                    category: category.into(),
                    allowed: c.allowed(),
                    reason: c.reason().map(str::to_owned),
                    reason_code: c.denial().map(|d| d.code().into()),
                }
            };
        let caps = &self.capabilities;
        let mut all: Vec<TemplateCapability> = domain::TemplateCategory::ALL
            .iter()
            .map(|category| entry(None, *category, caps.template(*category)))
            .collect();
        let templates = loaders_of(ctx)?.loader().templates().await.map_err(ApiError::from)?;
        for t in templates.iter().filter(|t| t.waba_id.is_empty() || t.waba_id == self.waba) {
            all.push(entry(Some(t), t.category, caps.one_template(t.category, t.status)));
        }
        Ok(all)
    }
}

/// A CRM record that agents create or link.
pub struct Contact(pub persistence::Contact);

impl Contact {
    async fn identities(&self, ctx: &Context<'_>) -> Result<Vec<persistence::ContactIdentity>> {
        Ok(loaders_of(ctx)?
            .load_one(IdentitiesKey(self.0.id))
            .await
            .map_err(ApiError::from)?
            .unwrap_or_default())
    }
}

fn values_of(identities: &[persistence::ContactIdentity], kind: domain::IdentityKind) -> Vec<String> {
    identities.iter().filter(|i| i.kind == kind).map(|i| i.value.clone()).collect()
}

/// A CRM record that agents create or link.
#[Object]
impl Contact {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// E-mail address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_ref().map(domain::Email::as_str)
    }

    /// E.164 phone number.
    async fn phone_number(&self) -> Option<&str> {
        self.0.phone.as_ref().map(domain::PhoneNumber::as_str)
    }

    /// WhatsApp usernames saved on the contact, as `@name`.
    async fn usernames(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(values_of(&self.identities(ctx).await?, domain::IdentityKind::Username)
            .into_iter()
            .map(|u| domain::Username::parse(&u).map(|u| u.display()).unwrap_or(u))
            .collect())
    }

    /// BSUIDs saved on the contact.
    async fn bsuids(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(values_of(&self.identities(ctx).await?, domain::IdentityKind::Bsuid))
    }

    /// When the contact was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The CRM's own id of the record (unique in the workspace).
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }

    /// Free attributes from the CRM (a JSON object).
    async fn attributes(&self) -> Option<async_graphql::Json<&serde_json::Value>> {
        self.0.attributes.as_ref().map(async_graphql::Json)
    }

    /// Every conversation linked to the contact (its history), newest activity first.
    #[graphql(complexity = "super::pagination::page_cost(first, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Conversation>> {
        let filter = StoreFilter { contact: Some(self.0.id), ..Default::default() };
        conversation_page(ctx, &filter, first, after).await
    }
}

/// A label agents put on conversations.
pub struct Label(pub persistence::Label);

/// A label agents put on conversations (names unique per workspace, ignoring case).
#[Object]
impl Label {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Name, as created.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Colour, `#rrggbb`.
    async fn color(&self) -> &str {
        &self.0.color
    }
}

pub use super::people::Team;
