//! GraphQL object types. Each wraps a persistence row and resolves relations through the
//! request's dataloaders; none of them is a sea-orm model itself.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::capabilities::Capability;
use domain::display::{display_name, phone_notice};
use domain::{ConversationId, PhoneNumber, Username, WorkspaceId};
use persistence::conversations::{self as conversation_store, ConversationFilter, InboxCursor};
use persistence::entities::{
    agent, business_number, contact, contact_identity, conversation, event, message, template,
};
use persistence::messages::{self, MessageCursor};

use super::enums;
use super::loaders::{
    AgentKey, BusinessNumberKey, ContactKey, ConversationKey, IdentitiesKey, LastMessageKey, OwnerKey,
};
use super::pagination;
use super::{db, loaders, now, viewer};
use crate::error::ApiError;
use crate::service::{conversations, stored};

/// A conversation: the messages between one business number and one customer on one channel.
pub struct Conversation(pub conversation::Model);

impl Conversation {
    async fn linked_contact(&self, ctx: &Context<'_>) -> Result<Option<contact::Model>> {
        match self.0.contact_id {
            Some(id) => Ok(loaders(ctx)?.load_one(ContactKey(id)).await.map_err(ApiError::from)?),
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
    async fn channel(&self) -> Result<enums::Channel> {
        Ok(stored::<domain::Channel>(&self.0.active_channel)?.into())
    }

    /// Whether agents still need to act on it.
    async fn status(&self) -> Result<enums::ConversationStatus> {
        Ok(stored::<domain::ConversationStatus>(&self.0.status)?.into())
    }

    /// Why the conversation exists.
    async fn origin(&self) -> Result<enums::ThreadOrigin> {
        Ok(stored::<domain::ThreadOrigin>(&self.0.origin)?.into())
    }

    /// The customer's name for agents: linked contact's name, else WhatsApp profile name, else
    /// `@username`, else phone number.
    async fn display_name(&self, ctx: &Context<'_>) -> Result<String> {
        let contact = self.linked_contact(ctx).await?;
        let username = self.0.customer_username.as_deref().and_then(|u| Username::parse(u).ok());
        let phone = self.0.customer_phone.as_deref().and_then(|p| PhoneNumber::parse(p).ok());
        Ok(display_name(
            contact.as_ref().map(|c| c.name.as_str()),
            self.0.customer_profile_name.as_deref(),
            username.as_ref(),
            phone.as_ref(),
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

    /// When free-form replies stop being allowed (WhatsApp; null before any inbound message).
    async fn service_window_ends_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(conversations::capabilities_of(&self.0, false, now(ctx))?.service_window_ends_at)
    }

    /// The business number the customer wrote to.
    async fn business_number(&self, ctx: &Context<'_>) -> Result<BusinessNumber> {
        let number = loaders(ctx)?
            .load_one(BusinessNumberKey(self.0.business_number_id))
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("conversation without business number")))?;
        Ok(BusinessNumber(number))
    }

    /// What WhatsApp told us about the customer.
    async fn customer(&self) -> Customer {
        Customer(self.0.clone())
    }

    /// The contact this conversation is linked to.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        Ok(self.linked_contact(ctx).await?.map(Contact))
    }

    /// The agent working the conversation.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        match self.0.assignee_id {
            Some(id) => Ok(loaders(ctx)?.load_one(AgentKey(id)).await.map_err(ApiError::from)?.map(Agent)),
            None => Ok(None),
        }
    }

    /// For a returning customer who hid the number: the earlier conversation it probably
    /// continues. Nothing is linked automatically.
    async fn previous_conversation(&self, ctx: &Context<'_>) -> Result<Option<Conversation>> {
        match self.0.previous_conversation_id {
            Some(id) => Ok(loaders(ctx)?
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
        let loader = loaders(ctx)?;
        if let Some(previous) = self.0.previous_conversation_id {
            let previous = loader.load_one(ConversationKey(previous)).await.map_err(ApiError::from)?;
            if let Some(contact) = previous.and_then(|p| p.contact_id) {
                return Ok(loader.load_one(ContactKey(contact)).await.map_err(ApiError::from)?.map(Contact));
            }
        }
        let mut keys = Vec::new();
        if let Some(bsuid) = &self.0.customer_bsuid {
            keys.push(OwnerKey(domain::IdentityKind::Bsuid, bsuid.clone()));
        }
        if let Some(key) = &self.0.customer_username_key {
            keys.push(OwnerKey(domain::IdentityKind::Username, key.clone()));
        }
        let owners = loader.load_many(keys).await.map_err(ApiError::from)?;
        let mut contacts: Vec<uuid::Uuid> = owners.values().map(|o| o.contact_id).collect();
        contacts.sort();
        contacts.dedup();
        match contacts.as_slice() {
            [only] => Ok(loader.load_one(ContactKey(*only)).await.map_err(ApiError::from)?.map(Contact)),
            _ => Ok(None),
        }
    }

    /// What an agent may do here now, and why not.
    async fn capabilities(&self, ctx: &Context<'_>) -> Result<ConversationCapabilities> {
        let contact_phone = self.linked_contact(ctx).await?.is_some_and(|c| c.phone.is_some());
        Ok(ConversationCapabilities(conversations::capabilities_of(&self.0, contact_phone, now(ctx))?))
    }

    /// The latest message in either direction (the inbox preview).
    async fn last_message(&self, ctx: &Context<'_>) -> Result<Option<Message>> {
        Ok(loaders(ctx)?.load_one(LastMessageKey(self.0.id)).await.map_err(ApiError::from)?.map(Message))
    }

    /// The messages, newest first.
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Message>> {
        let limit = pagination::page_size(first)?;
        let after = after.as_deref().map(pagination::decode).transpose()?;
        let viewer = viewer(ctx)?;
        let rows = messages::list(
            db(ctx)?.conn(),
            viewer.workspace_id,
            ConversationId::from_uuid(self.0.id),
            after.map(|(sent_at, id)| MessageCursor { sent_at, id }),
            limit + 1,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(connection(rows, limit, after.is_some(), |m| pagination::encode(m.sent_at, m.id), Message))
    }
}

/// One page of conversations (the inbox, a contact's history), relations prefetched in a
/// fixed number of batches.
///
/// # Errors
/// `BAD_USER_INPUT` for the page arguments; storage failures.
pub(crate) async fn conversation_page(
    ctx: &Context<'_>,
    workspace: WorkspaceId,
    filter: &ConversationFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, Conversation>> {
    let limit = pagination::page_size(first)?;
    let after = after.as_deref().map(pagination::decode).transpose()?;
    let rows = conversation_store::list(
        db(ctx)?.conn(),
        workspace,
        filter,
        after.map(|(last_activity_at, id)| InboxCursor { last_activity_at, id }),
        limit + 1,
    )
    .await
    .map_err(ApiError::from)?;
    super::loaders::prefetch_conversations(loaders(ctx)?, &rows).await.map_err(ApiError::from)?;
    Ok(connection(
        rows,
        limit,
        after.is_some(),
        |c| pagination::encode(c.last_activity_at, c.id),
        Conversation,
    ))
}

/// Builds a Relay connection from `limit + 1` rows.
pub(crate) fn connection<M, N: async_graphql::OutputType>(
    mut rows: Vec<M>,
    limit: u64,
    has_previous: bool,
    cursor: impl Fn(&M) -> String,
    node: impl Fn(M) -> N,
) -> Connection<String, N> {
    let has_next = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut page = Connection::new(has_previous, has_next);
    page.edges.extend(rows.into_iter().map(|row| Edge::new(cursor(&row), node(row))));
    page
}

/// What WhatsApp told us about the customer of a conversation.
pub struct Customer(conversation::Model);

/// What WhatsApp told us about the customer of a conversation.
#[Object]
impl Customer {
    /// E.164 phone number; null when the customer hid it.
    async fn phone_number(&self) -> Option<&str> {
        self.0.customer_phone.as_deref()
    }

    /// Business-scoped user id (`CC.…`).
    async fn bsuid(&self) -> Option<&str> {
        self.0.customer_bsuid.as_deref()
    }

    /// Parent BSUID (`CC.ENT.…`), when the business is enrolled in parent BSUIDs.
    async fn parent_bsuid(&self) -> Option<&str> {
        self.0.customer_parent_bsuid.as_deref()
    }

    /// WhatsApp username, shown as `@name`.
    async fn username(&self) -> Option<String> {
        self.0.customer_username.as_deref().and_then(|u| Username::parse(u).ok()).map(|u| u.display())
    }

    /// WhatsApp profile name.
    async fn profile_name(&self) -> Option<&str> {
        self.0.customer_profile_name.as_deref()
    }

    /// True when the customer's phone number is unknown to the business.
    async fn phone_hidden(&self) -> bool {
        self.0.customer_phone.is_none()
    }

    /// `No phone number provided by user.` when the phone is unknown.
    async fn notice(&self) -> Option<&'static str> {
        let phone = self.0.customer_phone.as_deref().and_then(|p| PhoneNumber::parse(p).ok());
        phone_notice(phone.as_ref())
    }
}

/// Whether one action is allowed, and why not.
#[derive(SimpleObject)]
pub struct CapabilityState {
    /// Whether the action is allowed now.
    pub allowed: bool,
    /// Why not, when it is not.
    pub reason: Option<String>,
}

impl From<Capability> for CapabilityState {
    fn from(c: Capability) -> Self {
        Self { allowed: c.allowed(), reason: c.reason().map(str::to_owned) }
    }
}

/// Whether templates of one category may be sent, and why not.
#[derive(SimpleObject)]
pub struct TemplateCapability {
    /// The template category.
    pub category: enums::TemplateCategory,
    /// Whether templates of this category may be sent now.
    pub allowed: bool,
    /// Why not, when they may not.
    pub reason: Option<String>,
}

/// Everything an agent may or may not do in a conversation now.
pub struct ConversationCapabilities(domain::Capabilities);

/// Everything an agent may or may not do in a conversation now.
#[Object]
impl ConversationCapabilities {
    /// Send a free-form message.
    async fn reply(&self) -> CapabilityState {
        self.0.reply.into()
    }

    /// Place an outbound phone call through the workspace's telephony.
    async fn call(&self) -> CapabilityState {
        self.0.call.into()
    }

    /// Move the conversation to SMS.
    async fn switch_to_sms(&self) -> CapabilityState {
        self.0.switch_to_sms.into()
    }

    /// Ask the customer to share their phone number.
    async fn request_phone_number(&self) -> CapabilityState {
        self.0.request_phone_number.into()
    }

    /// Send a template, per category.
    async fn templates(&self) -> Vec<TemplateCapability> {
        domain::TemplateCategory::ALL
            .iter()
            .map(|category| {
                let c = self.0.template(*category);
                TemplateCapability {
                    category: (*category).into(),
                    allowed: c.allowed(),
                    reason: c.reason().map(str::to_owned),
                }
            })
            .collect()
    }
}

/// One message.
pub struct Message(pub message::Model);

/// One message.
#[Object]
impl Message {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Who wrote it.
    async fn direction(&self) -> Result<enums::Direction> {
        Ok(stored::<domain::Direction>(&self.0.direction)?.into())
    }

    /// WhatsApp message type: text, image, audio, video, document, sticker, location,
    /// contacts, interactive, button, reaction, order, system, unsupported, template.
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The text, or a readable summary for other types (`[image] caption`).
    async fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }

    /// The template's name, for template messages.
    async fn template_name(&self) -> Option<&str> {
        self.0.template_name.as_deref()
    }

    /// The template's category, for template messages.
    async fn template_category(&self) -> Result<Option<enums::TemplateCategory>> {
        Ok(self
            .0
            .template_category
            .as_deref()
            .map(stored::<domain::TemplateCategory>)
            .transpose()?
            .map(Into::into))
    }

    /// Delivery state.
    async fn status(&self) -> Result<enums::MessageStatus> {
        Ok(stored::<domain::MessageStatus>(&self.0.status)?.into())
    }

    /// The provider's message id. For a customer who hid the number this is a digest
    /// (`sha256:…`), because WhatsApp ids can encode the phone number.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }

    /// The channel it went through.
    async fn channel(&self) -> Result<enums::Channel> {
        Ok(stored::<domain::Channel>(&self.0.channel)?.into())
    }

    /// When it was written (WhatsApp's own timestamp for inbound messages).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.sent_at
    }

    /// The provider's error code, for failed messages.
    async fn error_code(&self) -> Option<i64> {
        self.0.error_code
    }

    /// The provider's error title, for failed messages.
    async fn error_title(&self) -> Option<&str> {
        self.0.error_title.as_deref()
    }
}

/// A CRM record that agents create or link.
pub struct Contact(pub contact::Model);

impl Contact {
    async fn identities(&self, ctx: &Context<'_>) -> Result<Vec<contact_identity::Model>> {
        Ok(loaders(ctx)?
            .load_one(IdentitiesKey(self.0.id))
            .await
            .map_err(ApiError::from)?
            .unwrap_or_default())
    }
}

fn values_of(identities: &[contact_identity::Model], kind: domain::IdentityKind) -> Vec<String> {
    identities.iter().filter(|i| i.kind == kind.as_str()).map(|i| i.value.clone()).collect()
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
        self.0.email.as_deref()
    }

    /// E.164 phone number.
    async fn phone_number(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    /// WhatsApp usernames saved on the contact, as `@name`.
    async fn usernames(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(values_of(&self.identities(ctx).await?, domain::IdentityKind::Username)
            .into_iter()
            .map(|u| Username::parse(&u).map(|u| u.display()).unwrap_or(u))
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

    /// Every conversation linked to the contact (its history), newest activity first.
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Conversation>> {
        let filter = ConversationFilter {
            contact: Some(domain::ContactId::from_uuid(self.0.id)),
            ..Default::default()
        };
        conversation_page(ctx, WorkspaceId::from_uuid(self.0.workspace_id), &filter, first, after).await
    }
}

/// A person or integration that calls the API.
pub struct Agent(pub agent::Model);

/// A person or integration that calls the API.
#[Object]
impl Agent {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// E-mail address.
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// Role; read from the database on every request.
    async fn role(&self) -> Result<enums::Role> {
        Ok(stored::<domain::Role>(&self.0.role)?.into())
    }

    /// Inactive agents cannot call the API.
    async fn active(&self) -> bool {
        self.0.active
    }

    /// The agent's workspace.
    async fn workspace_id(&self) -> ID {
        ID(self.0.workspace_id.to_string())
    }
}

/// A WhatsApp business phone number of the workspace.
pub struct BusinessNumber(pub business_number::Model);

/// A WhatsApp business phone number of the workspace.
#[Object]
impl BusinessNumber {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Meta's `phone_number_id`.
    async fn phone_number_id(&self) -> &str {
        &self.0.phone_number_id
    }

    /// The number customers see, E.164.
    async fn display_phone_number(&self) -> &str {
        &self.0.display_phone_number
    }

    /// The WhatsApp Business Account id.
    async fn waba_id(&self) -> &str {
        &self.0.waba_id
    }

    /// The business portfolio id (BSUIDs are scoped to it).
    async fn portfolio_id(&self) -> &str {
        &self.0.portfolio_id
    }

    /// The business username, if any.
    async fn username(&self) -> Option<&str> {
        self.0.username.as_deref()
    }

    /// The business username's status.
    async fn username_status(&self) -> Result<Option<enums::BusinessUsernameStatus>> {
        Ok(self
            .0
            .username_status
            .as_deref()
            .map(stored::<domain::BusinessUsernameStatus>)
            .transpose()?
            .map(Into::into))
    }
}

/// A message template.
pub struct Template(pub template::Model);

/// A message template.
#[Object]
impl Template {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// WhatsApp template name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Language code, such as `en_US`.
    async fn language(&self) -> &str {
        &self.0.language
    }

    /// Category (decides when it may be sent).
    async fn category(&self) -> Result<enums::TemplateCategory> {
        Ok(stored::<domain::TemplateCategory>(&self.0.category)?.into())
    }

    /// Body with `{{1}}`-style parameters.
    async fn body(&self) -> &str {
        &self.0.body
    }
}

/// A durable event (CloudEvents 1.0).
/// Shared: a live event is resolved once per subscriber, without copying it.
pub struct Event(pub std::sync::Arc<event::Model>);

/// A durable event (CloudEvents 1.0).
#[Object]
impl Event {
    /// The CloudEvent id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Position in the workspace's event stream; pass it as `after` to resume.
    async fn cursor(&self) -> String {
        self.0.cursor.to_string()
    }

    /// Event type, such as `message.received`.
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    /// The conversation it concerns.
    async fn conversation_id(&self) -> Option<ID> {
        self.0.conversation_id.map(|id| ID(id.to_string()))
    }

    /// The contact it concerns.
    async fn contact_id(&self) -> Option<ID> {
        self.0.contact_id.map(|id| ID(id.to_string()))
    }

    /// The whole CloudEvent.
    async fn payload(&self) -> Json<&serde_json::Value> {
        Json(&self.0.payload)
    }
}

/// A webhook change Parley could not route or read, kept whole for an admin.
pub struct DeadLetter(pub persistence::entities::dead_letter::Model);

/// A webhook change Parley could not route or read, kept whole for an admin.
#[Object]
impl DeadLetter {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Why it could not be applied.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The change as Meta sent it (JSON text).
    async fn payload(&self) -> &str {
        &self.0.payload
    }

    /// When it arrived.
    async fn received_at(&self) -> DateTime<Utc> {
        self.0.received_at
    }
}

/// A CRM endpoint that receives the workspace's events as signed POSTs.
pub struct WebhookEndpoint(pub persistence::entities::webhook_endpoint::Model);

/// A CRM endpoint that receives the workspace's events as signed POSTs.
#[Object]
impl WebhookEndpoint {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Where events are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The event types it receives (empty: all).
    async fn event_types(&self) -> Vec<String> {
        serde_json::from_value(self.0.event_types.clone()).unwrap_or_default()
    }

    /// When it was paused after repeated failures (null: active).
    async fn paused_at(&self) -> Option<DateTime<Utc>> {
        self.0.paused_at
    }

    /// Failed attempts in a row.
    async fn consecutive_failures(&self) -> i32 {
        self.0.consecutive_failures
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Its most recent deliveries, newest event first.
    async fn deliveries(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<WebhookDelivery>> {
        let limit = pagination::page_size(first)?;
        let rows = persistence::webhooks::recent_deliveries(
            db(ctx)?.conn(),
            WorkspaceId::from_uuid(self.0.workspace_id),
            domain::WebhookEndpointId::from_uuid(self.0.id),
            limit,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(WebhookDelivery).collect())
    }
}

/// One event sent (or to be sent) to one endpoint.
pub struct WebhookDelivery(pub persistence::entities::webhook_delivery::Model);

/// One event sent (or to be sent) to one endpoint.
#[Object]
impl WebhookDelivery {
    /// Opaque id (pass it to `redeliverWebhook`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The event (also the `webhook-id` header, stable across retries).
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.to_string())
    }

    /// The event's cursor.
    async fn event_cursor(&self) -> String {
        self.0.event_cursor.to_string()
    }

    /// PENDING, DELIVERED or FAILED (retries exhausted; can be redelivered).
    async fn status(&self) -> &str {
        &self.0.status
    }

    /// Attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// The HTTP status of the last attempt.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }

    /// What went wrong on the last attempt.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// When the next attempt is due.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at
    }

    /// When it was delivered.
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}

/// One audited action.
pub struct AuditEntry(pub persistence::entities::audit_entry::Model);

/// One audited action: who did what to which record, and when.
#[Object]
impl AuditEntry {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What was done: `conversation.linked`, `conversation.unlinked`, `conversation.assigned`,
    /// `business_username.set`, `business_username.deleted`, `business_username.transferred_away`,
    /// `webhook_endpoint.created`, `webhook_endpoint.deleted`, `webhook_endpoint.resumed`,
    /// `webhook_delivery.redelivered`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The agent who did it.
    async fn agent_id(&self) -> Option<ID> {
        self.0.agent_id.map(|id| ID(id.to_string()))
    }

    /// The kind of record acted on.
    async fn subject_type(&self) -> &str {
        &self.0.subject_type
    }

    /// The record acted on.
    async fn subject_id(&self) -> ID {
        ID(self.0.subject_id.to_string())
    }

    /// What changed.
    async fn details(&self) -> Option<Json<serde_json::Value>> {
        self.0.details.clone().map(Json)
    }

    /// When.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
}
