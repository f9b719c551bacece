//! Events for integrations (the outbox itself is `persistence::events`).
//!
//! - [`catalogue`]: the event types a client may ask for, when each is written, its `data`.
//! - [`data`]: the `data` of each event type.
//! - [`hub`]: the live fan-out of committed events to this process's subscriptions.
//! - [`Event`], [`emit`]: every event type as a variant, and the one writer of events.
//! - [`history`], [`validate_types`]: the event history, and the one check of type filters
//!   (history, subscriptions, CRM endpoints).

pub mod catalogue;
pub mod data;
pub mod hub;

use chrono::{DateTime, Utc};
use domain::appending::PhoneSource;
use domain::{ContactId, ConversationId, LabelId, MessageStatus, WorkspaceId};
use persistence::Announce;
use persistence::events::{self, NewEvent, types};
use persistence::staged::Staged;
use persistence::{Attachment, BusinessNumber, Contact, Conversation, Message, MessageReaction};
use serde_json::{Value, json};

/// Every event Parley writes (PRODUCT.md section 6): a variant per type, with the records it
/// describes. [`emit`] derives the type string, the ids and the `data` from it, so adding an
/// event is adding a variant, and a misspelt type is a compile error.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// `conversation.created`.
    ConversationCreated(&'a Conversation),
    /// `conversation.updated`: the conversation as it is now.
    ConversationUpdated(&'a Conversation),
    /// `conversation.updated` after its labels changed, with the labels it carries now.
    LabelsChanged { conversation: &'a Conversation, labels: &'a [LabelId] },
    /// `conversation.linked` to `contact`.
    /// `automatic`: Parley linked it (auto-link on an attested phone), not an agent.
    ConversationLinked { conversation: &'a Conversation, contact: &'a Contact, automatic: bool },
    /// `conversation.unlinked` from `previous`.
    ConversationUnlinked { conversation: &'a Conversation, previous: ContactId },
    /// `customer.phone_shared`: the customer's phone became known.
    PhoneShared { conversation: &'a Conversation, source: PhoneSource },
    /// `conversation.window_closing`: the service window closes in `minutes_left`.
    WindowClosing { conversation: &'a Conversation, minutes_left: i64 },
    /// `conversation.window_closed`.
    WindowClosed(&'a Conversation),
    /// `conversation.capabilities_changed` by `cause` (`window_closed`, `phone_shared`…).
    CapabilitiesChanged {
        conversation: &'a Conversation,
        cause: &'static str,
        before: &'a domain::Capabilities,
        after: &'a domain::Capabilities,
    },
    /// `message.received`.
    MessageReceived { message: &'a Message, conversation: &'a Conversation },
    /// `message.sent` (stored `PENDING` for the delivery worker).
    MessageSent { message: &'a Message, conversation: &'a Conversation },
    /// `message.status_updated` from `previous` to the stored status (with the provider's
    /// error, when there is one).
    MessageStatusUpdated { message: &'a Message, conversation: &'a Conversation, previous: MessageStatus },
    /// `message.reaction`: one side's reaction set on a message (an empty emoji: removed).
    Reaction { reaction: &'a MessageReaction, message: &'a Message, conversation: &'a Conversation },
    /// `note.added`.
    NoteAdded { note: &'a Message, conversation: &'a Conversation },
    /// `attachment.stored` (or failed for good).
    AttachmentStored { attachment: &'a Attachment, conversation: &'a Conversation },
    /// `contact.created`, from a conversation or on its own.
    ContactCreated { contact: &'a Contact, conversation: Option<&'a Conversation> },
    /// `contact.updated`.
    ContactUpdated { contact: &'a Contact, conversation: Option<&'a Conversation> },
    /// `contact.merged`: `merged` went into `contact`, with its conversations.
    ContactMerged { contact: &'a Contact, merged: ContactId, conversations: &'a [ConversationId] },
    /// `contact.deleted`, and the conversations it was unlinked from.
    ContactDeleted { contact: &'a Contact, conversations: &'a [ConversationId] },
    /// `customer.erased`: ids only.
    CustomerErased { workspace: WorkspaceId, conversations: &'a [ConversationId], contacts: &'a [ContactId] },
    /// `business_username.updated`.
    BusinessUsernameUpdated(&'a BusinessNumber),
    /// `conversation.assigned` to `agent` (in `team`); `automatic`: by the team's router.
    ConversationAssigned {
        conversation: &'a Conversation,
        agent: Option<domain::AgentId>,
        team: Option<domain::TeamId>,
        automatic: bool,
    },
    /// `agent.availability_changed` from `previous`, by `by`.
    AvailabilityChanged { agent: &'a persistence::Agent, previous: domain::Availability, by: domain::AgentId },
    /// `sla.warning`: 80% of a target's time has passed.
    SlaWarning { clock: &'a persistence::sla::SlaClock },
    /// `sla.breached`: a target's due time passed unmet.
    SlaBreached { clock: &'a persistence::sla::SlaClock },
    /// `template.updated`: Meta's review of a template changed (from `previous`).
    TemplateUpdated { template: &'a persistence::Template, previous: domain::TemplateStatus },
}

impl Event<'_> {
    /// The CloudEvents `type`.
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Event::ConversationCreated(_) => types::CONVERSATION_CREATED,
            Event::ConversationUpdated(_) | Event::LabelsChanged { .. } => types::CONVERSATION_UPDATED,
            Event::ConversationLinked { .. } => types::CONVERSATION_LINKED,
            Event::ConversationUnlinked { .. } => types::CONVERSATION_UNLINKED,
            Event::PhoneShared { .. } => types::CUSTOMER_PHONE_SHARED,
            Event::WindowClosing { .. } => types::CONVERSATION_WINDOW_CLOSING,
            Event::WindowClosed(_) => types::CONVERSATION_WINDOW_CLOSED,
            Event::CapabilitiesChanged { .. } => types::CONVERSATION_CAPABILITIES_CHANGED,
            Event::MessageReceived { .. } => types::MESSAGE_RECEIVED,
            Event::MessageSent { .. } => types::MESSAGE_SENT,
            Event::MessageStatusUpdated { .. } => types::MESSAGE_STATUS_UPDATED,
            Event::Reaction { .. } => types::MESSAGE_REACTION,
            Event::NoteAdded { .. } => types::NOTE_ADDED,
            Event::AttachmentStored { .. } => types::ATTACHMENT_STORED,
            Event::ContactCreated { .. } => types::CONTACT_CREATED,
            Event::ContactUpdated { .. } => types::CONTACT_UPDATED,
            Event::ContactMerged { .. } => types::CONTACT_MERGED,
            Event::ContactDeleted { .. } => types::CONTACT_DELETED,
            Event::CustomerErased { .. } => types::CUSTOMER_ERASED,
            Event::BusinessUsernameUpdated(_) => types::BUSINESS_USERNAME_UPDATED,
            Event::ConversationAssigned { .. } => types::CONVERSATION_ASSIGNED,
            Event::AvailabilityChanged { .. } => types::AGENT_AVAILABILITY_CHANGED,
            Event::SlaWarning { .. } => types::SLA_WARNING,
            Event::SlaBreached { .. } => types::SLA_BREACHED,
            Event::TemplateUpdated { .. } => types::TEMPLATE_UPDATED,
        }
    }

    /// The workspace, the conversation id and the contact id the stored event carries.
    fn ids(&self) -> (WorkspaceId, Option<ConversationId>, Option<ContactId>) {
        match *self {
            Event::ConversationLinked { conversation, contact, .. } => {
                (conversation.workspace_id, Some(conversation.id), Some(contact.id))
            }
            Event::ConversationUnlinked { conversation, previous } => {
                (conversation.workspace_id, Some(conversation.id), Some(previous))
            }
            Event::ContactCreated { contact, conversation }
            | Event::ContactUpdated { contact, conversation } => {
                (contact.workspace_id, conversation.map(|c| c.id), Some(contact.id))
            }
            Event::ContactMerged { contact, .. } | Event::ContactDeleted { contact, .. } => {
                (contact.workspace_id, None, Some(contact.id))
            }
            Event::CustomerErased { workspace, .. } => (workspace, None, None),
            Event::BusinessUsernameUpdated(number) => (number.workspace_id, None, None),
            Event::TemplateUpdated { template, .. } => (template.workspace_id, None, None),
            Event::AvailabilityChanged { agent, .. } => (agent.workspace_id, None, None),
            Event::SlaWarning { clock } | Event::SlaBreached { clock } => {
                (clock.workspace_id, Some(clock.conversation_id), None)
            }
            Event::ConversationCreated(c)
            | Event::ConversationUpdated(c)
            | Event::LabelsChanged { conversation: c, .. }
            | Event::PhoneShared { conversation: c, .. }
            | Event::WindowClosing { conversation: c, .. }
            | Event::WindowClosed(c)
            | Event::CapabilitiesChanged { conversation: c, .. }
            | Event::MessageReceived { conversation: c, .. }
            | Event::MessageSent { conversation: c, .. }
            | Event::MessageStatusUpdated { conversation: c, .. }
            | Event::Reaction { conversation: c, .. }
            | Event::NoteAdded { conversation: c, .. }
            | Event::AttachmentStored { conversation: c, .. }
            | Event::ConversationAssigned { conversation: c, .. } => {
                (c.workspace_id, Some(c.id), c.contact_id)
            }
        }
    }

    /// The CloudEvent's `data`: what an integration needs without a second call.
    fn data(&self) -> Value {
        match *self {
            Event::ConversationCreated(c) | Event::ConversationUpdated(c) => data::conversation(c),
            Event::LabelsChanged { conversation, labels } => {
                let mut data = data::conversation(conversation);
                data["labelIds"] = json!(labels);
                data
            }
            Event::ConversationLinked { conversation, contact, automatic } => {
                let mut data = data::conversation(conversation);
                data["contact"] = data::contact(contact);
                data["automatic"] = json!(automatic);
                data
            }
            Event::ConversationUnlinked { conversation, previous } => {
                let mut data = data::conversation(conversation);
                data["previousContactId"] = json!(previous);
                data
            }
            Event::PhoneShared { conversation, source } => json!({
                "conversationId": conversation.id,
                "phoneNumber": conversation.customer_phone,
                "source": source.as_str(),
                "customer": data::customer(conversation),
            }),
            Event::WindowClosing { conversation, minutes_left } => {
                let mut data = data::window(conversation);
                data["minutesLeft"] = json!(minutes_left);
                data
            }
            Event::WindowClosed(conversation) => data::window(conversation),
            Event::CapabilitiesChanged { conversation, cause, before, after } => json!({
                "conversationId": conversation.id,
                "cause": cause,
                "before": data::capabilities(before),
                "after": data::capabilities(after),
            }),
            Event::MessageReceived { message, conversation }
            | Event::MessageSent { message, conversation }
            | Event::NoteAdded { note: message, conversation } => data::message(message, conversation),
            Event::MessageStatusUpdated { message, conversation, previous } => {
                let mut data = data::message(message, conversation);
                data["previousStatus"] = json!(previous.as_str());
                data["errorCode"] = json!(message.error_code);
                data["errorTitle"] = json!(message.error_title);
                data
            }
            Event::Reaction { reaction, message, conversation } => {
                data::reaction(reaction, message, conversation)
            }
            Event::AttachmentStored { attachment, conversation } => {
                data::attachment(attachment, conversation)
            }
            Event::ContactCreated { contact, .. } | Event::ContactUpdated { contact, .. } => {
                data::contact(contact)
            }
            Event::ContactMerged { contact, merged, conversations } => {
                let mut data = data::contact(contact);
                data["mergedContactId"] = json!(merged);
                data["conversationIds"] = json!(conversations);
                data
            }
            Event::ContactDeleted { contact, conversations } => {
                json!({ "contactId": contact.id, "conversationIds": conversations })
            }
            Event::CustomerErased { conversations, contacts, .. } => {
                json!({ "conversationIds": conversations, "contactIds": contacts })
            }
            Event::BusinessUsernameUpdated(number) => data::business_username(number),
            Event::ConversationAssigned { conversation, agent, team, automatic } => {
                let mut data = data::conversation(conversation);
                data["agentId"] = json!(agent);
                data["teamId"] = json!(team);
                data["automatic"] = json!(automatic);
                data
            }
            Event::AvailabilityChanged { agent, previous, by } => json!({
                "agentId": agent.id,
                "availability": agent.availability.as_str(),
                "previous": previous.as_str(),
                "changedBy": by,
            }),
            Event::SlaWarning { clock } | Event::SlaBreached { clock } => json!({
                "conversationId": clock.conversation_id,
                "policyId": clock.policy_id,
                "target": clock.target.as_str(),
                "startedAt": clock.started_at,
                "dueAt": clock.due_at,
            }),
            Event::TemplateUpdated { template, previous } => json!({
                "templateId": template.id,
                "businessNumberId": template.business_number_id,
                "wabaId": Some(template.waba_id.as_str()).filter(|w| !w.is_empty()),
                "name": template.name,
                "language": template.language,
                "category": template.category.as_str(),
                "status": template.status.as_str(),
                "previousStatus": previous.as_str(),
                "qualityScore": template.quality.as_str(),
                "rejectedReason": template.rejected_reason,
            }),
        }
    }
}

/// Writes `event` in the transaction that makes the change it describes (the outbox).
///
/// # Errors
/// On a database failure.
pub async fn emit(
    db: &impl Announce,
    event: Event<'_>,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    let (workspace, new) = event.written();
    events::append(db, workspace, new, now).await?;
    Ok(())
}

/// Holds `event` with the writes it describes, to be written with them ([`Staged::flush`]).
pub fn stage(staged: &mut Staged, event: Event<'_>, now: DateTime<Utc>) {
    let (workspace, new) = event.written();
    staged.append_event(workspace, new, now);
}

impl Event<'_> {
    /// The row it is written as, and its workspace.
    fn written(&self) -> (WorkspaceId, NewEvent) {
        let (workspace, conversation_id, contact_id) = self.ids();
        (workspace, NewEvent { event_type: self.type_name(), conversation_id, contact_id, data: self.data() })
    }
}

/// Events after cursor `after`, oldest first, optionally of some types (admins and
/// integrations).
///
/// # Errors
/// `FORBIDDEN` for agents, `BAD_USER_INPUT` for an unknown type, storage failures.
pub async fn history(
    db: &persistence::Database,
    viewer: &crate::auth::Viewer,
    after: i64,
    limit: u64,
    types: Option<&[String]>,
) -> crate::error::ApiResult<Vec<persistence::StoredEvent>> {
    viewer.require(domain::Permission::EventHistory)?;
    validate_types(types)?;
    Ok(events::list(db.conn(), viewer.workspace_id, after, limit, types).await?)
}

/// Checks event-type filters against the known types.
///
/// # Errors
/// `BAD_USER_INPUT` naming the first unknown type and the valid ones.
pub fn validate_types(types: Option<&[String]>) -> crate::error::ApiResult<()> {
    match types.into_iter().flatten().find(|t| !types::ALL.contains(&t.as_str())) {
        Some(bad) => Err(crate::error::ApiError::bad_input(format!(
            "unknown event type {bad:?}; the event types are: {}",
            catalogue::names()
        ))),
        None => Ok(()),
    }
}
