//! Conversations: the thread's object graph (`Conversation`, its `Customer` and capabilities,
//! its `Message`s and its `Contact`, which reference one another and so live together), the
//! inbox query and filter, and the mutations that change a conversation's state (assign,
//! resolve, reopen). `Label` and `Team` live here too: a conversation shows them.

use super::guards::RoleGuard;
use super::loaders::{
    AgentKey, AttachmentsKey, BusinessNumberKey, ContactKey, ConversationKey, IdentitiesKey, LabelsKey,
    LastMessageKey, MessageKey, OwnerKey, ReactionsKey, ReadKey, TeamKey, TeamMembersKey,
};
use super::setup::{Agent, BusinessNumber, parse_agent_id};
use super::{db, enums, loaders, now, pagination, parse_id, viewer};
use crate::error::ApiError;
use crate::workflow::conversations;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::Permission;
use domain::capabilities::Capability;
use domain::display::{display_name, phone_notice};
use domain::{AgentId, ContactId, ConversationId, ConversationStatus, LabelId, TeamId};
use persistence::conversations::{ConversationFilter as StoreFilter, InboxCursor};
use persistence::entities::{contact, contact_identity, conversation, label, message, team};
use persistence::messages::MessageCursor;

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
        let state = loaders(ctx)?.load_one(ReadKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(i32::try_from(state.unwrap_or_default().unread).unwrap_or(i32::MAX))
    }

    /// When the signed-in agent last marked it read (null: never).
    async fn last_read_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        let state = loaders(ctx)?.load_one(ReadKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(state.and_then(|s| s.last_read_at))
    }

    /// When free-form replies stop being allowed (WhatsApp; null before any inbound message).
    async fn service_window_ends_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        let around = conversations::Around { contact_phone_known: false, number_connected: true };
        Ok(conversations::capabilities_of(&self.0, around, now(ctx)).service_window_ends_at)
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

    /// The labels it carries, by name.
    async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<Label>> {
        let rows = loaders(ctx)?.load_one(LabelsKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(rows.unwrap_or_default().into_iter().map(Label).collect())
    }

    /// The team it is routed to.
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.team_id {
            Some(id) => Ok(loaders(ctx)?.load_one(TeamKey(id)).await.map_err(ApiError::from)?.map(Team)),
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
        let owners: Vec<domain::ContactId> =
            loader.load_many(keys).await.map_err(ApiError::from)?.values().map(|o| o.contact_id).collect();
        match domain::contacts::suggested_contact(false, previous_contact, &owners) {
            Some(id) => Ok(loader.load_one(ContactKey(id)).await.map_err(ApiError::from)?.map(Contact)),
            None => Ok(None),
        }
    }

    /// What an agent may do here now, and why not.
    async fn capabilities(&self, ctx: &Context<'_>) -> Result<ConversationCapabilities> {
        let contact_phone_known = self.linked_contact(ctx).await?.is_some_and(|c| c.phone.is_some());
        let number_connected = loaders(ctx)?
            .load_one(BusinessNumberKey(self.0.business_number_id))
            .await
            .map_err(ApiError::from)?
            .is_some_and(|n| n.connected);
        let around = conversations::Around { contact_phone_known, number_connected };
        Ok(ConversationCapabilities(conversations::capabilities_of(&self.0, around, now(ctx))))
    }

    /// The latest message in either direction (the inbox preview).
    async fn last_message(&self, ctx: &Context<'_>) -> Result<Option<Message>> {
        Ok(loaders(ctx)?.load_one(LastMessageKey(self.0.id)).await.map_err(ApiError::from)?.map(Message))
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
    let rows = conversations::list(db(ctx)?, viewer(ctx)?, filter, cursor, limit + 1).await?;
    let page = ctx.look_ahead();
    let nodes = [page.field("edges").field("node"), page.field("nodes")];
    let shows = |field: &str| nodes.iter().any(|node| node.field(field).exists());
    let shown = super::loaders::Shown {
        read_state: shows("unreadCount") || shows("lastReadAt"),
        labels: shows("labels"),
        team: shows("team"),
        team_members: nodes.iter().any(|node| node.field("team").field("members").exists()),
    };
    super::loaders::prefetch_conversations(loaders(ctx)?, &rows, shown).await.map_err(ApiError::from)?;
    Ok(pagination::connection(
        rows,
        limit,
        after.is_some(),
        |c| pagination::encode(c.last_activity_at, c.id),
        Conversation,
    ))
}

/// What WhatsApp told us about the customer of a conversation.
pub struct Customer(conversation::Model);

/// What WhatsApp told us about the customer of a conversation.
#[Object]
impl Customer {
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

    /// Send a photo, video, audio, document or sticker.
    async fn media(&self) -> CapabilityState {
        self.0.media.into()
    }

    /// React to a message (or remove the reaction).
    async fn react(&self) -> CapabilityState {
        self.0.react.into()
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

/// How the inbox may be filtered.
#[derive(InputObject, Default)]
pub struct ConversationFilter {
    /// `@username` (exact or prefix, `@` optional, case-insensitive), profile or contact name
    /// (case-insensitive substring), or phone digits.
    pub search: Option<String>,
    /// Only conversations with this status.
    pub status: Option<enums::ConversationStatus>,
    /// Only conversations assigned to the signed-in agent.
    pub assigned_to_me: Option<bool>,
    /// Only conversations linked to this contact.
    pub contact_id: Option<ID>,
    /// Only customers whose phone number is unknown (true) or known (false).
    pub username_only: Option<bool>,
    /// Only conversations assigned to this agent.
    pub assignee_id: Option<ID>,
    /// Only conversations assigned to no one (true) or to someone (false).
    pub unassigned: Option<bool>,
    /// Only conversations whose replies go through this channel now.
    pub channel: Option<enums::Channel>,
    /// Only conversations of this business number.
    pub business_number_id: Option<ID>,
    /// Only conversations with messages the signed-in agent has not read (true), or without
    /// (false).
    pub unread: Option<bool>,
    /// Only conversations carrying at least one of these labels (at most 20).
    pub label_ids: Option<Vec<ID>>,
    /// Only conversations routed to this team.
    pub team_id: Option<ID>,
}

/// The most labels one filter names.
const MAX_FILTER_LABELS: usize = 20;

/// The `labelIds` of a filter (a list field: its length is bounded like any input).
fn label_ids(ids: Option<&[ID]>) -> Result<Vec<LabelId>, ApiError> {
    let ids = ids.unwrap_or_default();
    if ids.len() > MAX_FILTER_LABELS {
        return Err(ApiError::bad_input(format!("labelIds takes at most {MAX_FILTER_LABELS} labels")));
    }
    ids.iter().map(|id| parse_id::<LabelId>(id, "labelIds")).collect()
}

/// The inbox.
#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// The workspace's conversations, newest activity first.
    #[graphql(complexity = "super::pagination::page_cost(first, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ConversationFilter>,
    ) -> Result<Connection<String, Conversation>> {
        let viewer = viewer(ctx)?;
        let filter = filter.unwrap_or_default();
        let assignee =
            filter.assignee_id.as_ref().map(|id| parse_id::<AgentId>(id, "assigneeId")).transpose()?;
        let mine = filter.assigned_to_me.unwrap_or(false).then_some(viewer.agent_id);
        if let (Some(given), Some(me)) = (assignee, mine)
            && given != me
        {
            return Err(ApiError::bad_input("assignedToMe and assigneeId name different agents").into());
        }
        let store_filter = StoreFilter {
            status: filter.status.map(Into::into),
            assignee: assignee.or(mine),
            unassigned: filter.unassigned,
            channel: filter.channel.map(Into::into),
            business_number: filter
                .business_number_id
                .as_ref()
                .map(|id| parse_id::<domain::BusinessNumberId>(id, "businessNumberId"))
                .transpose()?,
            unread: filter.unread.map(|unread| (viewer.agent_id, unread)),
            contact: filter
                .contact_id
                .as_ref()
                .map(|id| parse_id::<ContactId>(id, "contactId"))
                .transpose()?,
            username_only: filter.username_only,
            search: crate::input::valid_search(filter.search.as_deref())?,
            labels: label_ids(filter.label_ids.as_deref())?,
            team: filter.team_id.as_ref().map(|id| parse_id::<TeamId>(id, "teamId")).transpose()?,
        };
        conversation_page(ctx, &store_filter, first, after).await
    }

    /// One conversation of the workspace.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let viewer = viewer(ctx)?;
        let id = parse_id::<ConversationId>(&id, "id")?;
        Ok(Conversation(crate::workflow::conversations::get(db(ctx)?.conn(), viewer, id).await?))
    }
}

/// Working the inbox.
#[derive(Default)]
pub struct ConversationMutation;

#[Object]
impl ConversationMutation {
    /// Assigns a conversation to an agent of the workspace (a null or absent `agentId`
    /// unassigns it) and, when `teamId` is given, routes it to that team (null: to no team;
    /// absent: the team stays). An agent given with a team must be its member.
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn assign_conversation(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        agent_id: Option<ID>,
        team_id: MaybeUndefined<ID>,
    ) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let agent = parse_agent_id(agent_id.as_ref())?;
        let team = Option::<Option<ID>>::from(team_id)
            .map(|team| team.map(|id| parse_id::<TeamId>(&id, "teamId")).transpose())
            .transpose()?;
        let to = conversations::Assignment { agent, team };
        Ok(Conversation(conversations::assign(db(ctx)?, viewer(ctx)?, id, to, now(ctx)).await?))
    }

    /// Marks a conversation resolved. A new inbound message reopens it.
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn resolve_conversation(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let saved = crate::workflow::conversations::set_status(
            db(ctx)?,
            viewer(ctx)?,
            id,
            ConversationStatus::Resolved,
            now(ctx),
        )
        .await?;
        Ok(Conversation(saved))
    }

    /// Reopens a resolved conversation.
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn reopen_conversation(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let saved = crate::workflow::conversations::set_status(
            db(ctx)?,
            viewer(ctx)?,
            id,
            ConversationStatus::Open,
            now(ctx),
        )
        .await?;
        Ok(Conversation(saved))
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
    async fn direction(&self) -> enums::Direction {
        self.0.direction.into()
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
    async fn template_category(&self) -> Option<enums::TemplateCategory> {
        self.0.template_category.map(Into::into)
    }

    /// Delivery state.
    async fn status(&self) -> enums::MessageStatus {
        self.0.status.into()
    }

    /// The provider's message id. For a customer who hid the number this is a digest
    /// (`sha256:…`), because WhatsApp ids can encode the phone number.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }

    /// The channel it went through.
    async fn channel(&self) -> enums::Channel {
        self.0.channel.into()
    }

    /// When it was written (WhatsApp's own timestamp for inbound messages).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.sent_at
    }

    /// The agent who wrote it (outbound messages and notes; null for the customer's and for
    /// imported history).
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        match self.0.author_agent_id {
            Some(id) => Ok(loaders(ctx)?.load_one(AgentKey(id)).await.map_err(ApiError::from)?.map(Agent)),
            None => Ok(None),
        }
    }

    /// The provider's error code, for failed messages.
    async fn error_code(&self) -> Option<i64> {
        self.0.error_code
    }

    /// The provider's error title, for failed messages.
    async fn error_title(&self) -> Option<&str> {
        self.0.error_title.as_deref()
    }

    /// Its files (a photo, voice note, document…); empty for text.
    async fn attachments(&self, ctx: &Context<'_>) -> Result<Vec<Attachment>> {
        let rows = loaders(ctx)?.load_one(AttachmentsKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(rows.unwrap_or_default().into_iter().map(Attachment).collect())
    }

    /// The message it replies to (quotes), of the same conversation.
    async fn reply_to(&self, ctx: &Context<'_>) -> Result<Option<Message>> {
        match self.0.reply_to_message_id {
            Some(id) => {
                Ok(loaders(ctx)?.load_one(MessageKey(id)).await.map_err(ApiError::from)?.map(Message))
            }
            None => Ok(None),
        }
    }

    /// The reactions on it: the customer's and the business's (at most one each).
    async fn reactions(&self, ctx: &Context<'_>) -> Result<Vec<Reaction>> {
        let rows = loaders(ctx)?.load_one(ReactionsKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(rows.unwrap_or_default().into_iter().map(Reaction).collect())
    }
}

/// A file attached to a message.
pub struct Attachment(pub persistence::entities::attachment::Model);

/// A file attached to a message: a customer's photo, voice note or document (fetched from
/// WhatsApp into Parley's store), or an agent's upload.
#[Object]
impl Attachment {
    /// Opaque id (pass it to `sendMedia` for an upload).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What kind of file it is.
    async fn kind(&self) -> enums::AttachmentKind {
        self.0.kind.into()
    }

    /// Its MIME type, such as `image/jpeg`.
    async fn mime_type(&self) -> &str {
        &self.0.mime_type
    }

    /// Its file name, for documents.
    async fn file_name(&self) -> Option<&str> {
        self.0.file_name.as_deref()
    }

    /// Its size, once stored.
    async fn size_bytes(&self) -> Option<i64> {
        self.0.size_bytes
    }

    /// SHA-256 of the stored bytes (hex), once stored.
    async fn sha256(&self) -> Option<&str> {
        self.0.sha256.as_deref()
    }

    /// The caption shown with it.
    async fn caption(&self) -> Option<&str> {
        self.0.caption.as_deref()
    }

    /// Whether its bytes are stored (fetching is prompt, retried for 24 hours).
    async fn status(&self) -> enums::AttachmentStatus {
        self.0.status.into()
    }

    /// Why it could not be fetched, for `FAILED` ones.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }

    /// A signed download link valid for 15 minutes (`/media/{id}?exp=…&sig=…`, usable as an
    /// `<img src>`), once stored; `GET /media/{id}` with a bearer token works too.
    async fn url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        if self.0.status != domain::AttachmentStatus::Stored {
            return Ok(None);
        }
        let links = ctx.data::<crate::links::MediaLinks>()?;
        let keyring = ctx.data::<persistence::sealed::Keyring>()?;
        Ok(Some(links.url(keyring, self.0.id, now(ctx))))
    }
}

/// An emoji on a message.
pub struct Reaction(pub persistence::entities::message_reaction::Model);

/// An emoji on a message: the customer's, or the business's (set by an agent).
#[Object]
impl Reaction {
    /// The emoji.
    async fn emoji(&self) -> &str {
        &self.0.emoji
    }

    /// `INBOUND`: the customer's; `OUTBOUND`: the business's.
    async fn direction(&self) -> enums::Direction {
        self.0.direction.into()
    }

    /// The agent who set the business's reaction.
    async fn agent(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        match self.0.agent_id {
            Some(id) => Ok(loaders(ctx)?.load_one(AgentKey(id)).await.map_err(ApiError::from)?.map(Agent)),
            None => Ok(None),
        }
    }

    /// When it was set.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.updated_at
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
pub struct Label(pub label::Model);

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

/// A team of agents conversations are routed to.
pub struct Team(pub team::Model);

/// A team of agents conversations are routed to (names unique per workspace, ignoring case).
#[Object]
impl Team {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Name, as created.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its agents, in the order they joined.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Agent>> {
        let loader = loaders(ctx)?;
        let ids =
            loader.load_one(TeamMembersKey(self.0.id)).await.map_err(ApiError::from)?.unwrap_or_default();
        let agents = loader.load_many(ids.iter().copied().map(AgentKey)).await.map_err(ApiError::from)?;
        Ok(ids.iter().filter_map(|id| agents.get(&AgentKey(*id)).cloned().map(Agent)).collect())
    }
}
