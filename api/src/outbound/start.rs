//! Starting a conversation (PRODUCT.md section 12): an agent writes first to a known phone,
//! by number or through a contact. On WhatsApp the customer service window is closed, so the
//! first message is a template; on an SMS number it is text. The workspace's existing
//! conversation with that phone on that number is reused; otherwise a new one is opened, keyed
//! by the phone, `AGENT_STARTED`, assigned to the agent and linked to the contact it started
//! from. Never by username or BSUID: WhatsApp offers no look-up by either.

use chrono::{DateTime, Utc};
use domain::capabilities::Denial;
use domain::threading::ThreadKey;
use domain::{BusinessNumberId, Channel, ContactId, ConversationStatus, Permission, PhoneNumber, TemplateId};
use persistence::Announce;
use persistence::conversations::{ConversationChange, CustomerFacts, Link, NewConversation};
use persistence::{BusinessNumber, Conversation, Message};
use persistence::{Database, business_numbers, contacts, conversations, opt_outs};

use super::actions::{SendOptions, fill_template, reply_of, store_in, template_of};
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::input::valid_text;

/// Who to write to, from which number, and what.
#[derive(Clone, Copy, Debug)]
pub struct StartRequest<'a> {
    pub business_number: BusinessNumberId,
    /// The customer's phone (E.164); exactly one of this and `contact`.
    pub phone: Option<&'a str>,
    /// A contact of the workspace with a phone.
    pub contact: Option<ContactId>,
    /// The template that opens a WhatsApp conversation.
    pub template: Option<TemplateId>,
    pub parameters: &'a [String],
    /// The text that opens an SMS conversation.
    pub text: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
}

/// What opens the conversation, checked before anything is stored.
enum Opening {
    Template(Box<super::actions::FilledTemplate>),
    Text(String),
}

/// The phone a start names: a real E.164 number, never a username or BSUID.
fn start_phone(raw: &str) -> ApiResult<PhoneNumber> {
    let raw = raw.trim();
    if raw.starts_with('@') || raw.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(ApiError::bad_input(
            "phoneNumber must be a phone number: WhatsApp offers no look-up by username or BSUID",
        ));
    }
    PhoneNumber::parse(raw).map_err(|_| ApiError::bad_input("phoneNumber must be an E.164 phone number"))
}

/// Opens (or reuses) a conversation with a phone and sends its first message; returns the
/// conversation and the message.
///
/// # Errors
/// `BAD_USER_INPUT` for both or neither of phone and contact, a username or BSUID, a contact
/// without a phone, text on WhatsApp or a template on SMS; `NOT_FOUND`; `CAPABILITY_DENIED` for
/// a disconnected number, a customer who opted out of SMS, or a template the conversation
/// refuses.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, business_number_id = %request.business_number))]
pub async fn start(
    db: &Database,
    viewer: &Viewer,
    request: StartRequest<'_>,
    now: DateTime<Utc>,
) -> ApiResult<(Conversation, Message)> {
    viewer.require(Permission::ReachCustomer)?;
    let number = business_numbers::find(db.conn(), viewer.workspace_id, request.business_number)
        .await?
        .ok_or(ApiError::NotFound("business number"))?;
    let (phone, contact) = match (request.phone, request.contact) {
        (Some(phone), None) => (start_phone(phone)?, None),
        (None, Some(id)) => {
            let contact = contacts::find(db.conn(), viewer.workspace_id, id)
                .await?
                .ok_or(ApiError::NotFound("contact"))?;
            let phone = contact.phone.clone().ok_or_else(|| {
                ApiError::bad_input("the contact has no phone number: WhatsApp offers no look-up by username")
            })?;
            (phone, Some(contact))
        }
        _ => return Err(ApiError::bad_input("give exactly one of phoneNumber and contactId")),
    };
    let opening = match (number.channel, request.template, request.text) {
        (Channel::Whatsapp, Some(template), None) => {
            Opening::Template(Box::new(fill_template(db.conn(), viewer, template, request.parameters).await?))
        }
        (Channel::Whatsapp, _, _) => {
            return Err(ApiError::bad_input(
                "a WhatsApp conversation starts with a template (templateId, no text): the customer service window is closed",
            ));
        }
        (Channel::Sms, None, Some(text)) => Opening::Text(valid_text("text", text)?),
        (Channel::Sms, _, _) => {
            return Err(ApiError::bad_input("an SMS conversation starts with text (no templateId)"));
        }
    };
    if !number.connected {
        return Err(ApiError::denied("startConversation", Denial::NumberDisconnected));
    }
    let opted_out =
        number.channel == Channel::Sms && opt_outs::is_opted_out(db.conn(), &number, &phone).await?;
    if opted_out {
        return Err(ApiError::denied("startConversation", Denial::OptedOut));
    }

    db.write(async |txn| {
        let link = contact.map(|c| Link { contact: c.id, by: Some(viewer.agent_id), at: now });
        let conversation = find_or_open(txn, viewer, &number, phone, link, opted_out, now).await?;
        let options = SendOptions { idempotency_key: request.idempotency_key, reply_to: None };
        let message = store_in(txn, viewer, conversation.id, options, now, |loaded| match &opening {
            Opening::Template(filled) => template_of(loaded, filled),
            Opening::Text(text) => reply_of(loaded, text.clone()),
        })
        .await?;
        let conversation = conversations::find(txn, viewer.workspace_id, conversation.id)
            .await?
            .ok_or(ApiError::NotFound("conversation"))?;
        Ok((conversation, message))
    })
    .await
}

/// The workspace's conversation with `phone` on the number (reopened when resolved or
/// snoozed: the agent is talking again), or a new one.
async fn find_or_open(
    db: &impl Announce,
    viewer: &Viewer,
    number: &BusinessNumber,
    phone: PhoneNumber,
    link: Option<Link>,
    sms_opted_out: bool,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    if let Some(existing) = conversations::with_phone_on_number(db, number.id, &phone).await? {
        if existing.status == ConversationStatus::Open {
            return Ok(existing);
        }
        let change =
            ConversationChange { status: Some(ConversationStatus::Open), ..ConversationChange::default() };
        let reopened = conversations::update(db, existing, change, now).await?;
        crate::events::emit(db, Event::ConversationUpdated(&reopened), now).await?;
        return Ok(reopened);
    }
    let new = NewConversation {
        workspace_id: viewer.workspace_id,
        business_number_id: number.id,
        channel: number.channel,
        key: ThreadKey::Phone(phone.clone()),
        customer: CustomerFacts {
            phone: Some(phone),
            bsuid: None,
            parent_bsuid: None,
            username: None,
            profile_name: None,
        },
        origin: domain::ThreadOrigin::AgentStarted,
        previous: None,
        last_inbound_at: None,
        inbound_stored_at: None,
        last_activity_at: now,
        assignee: Some(viewer.agent_id),
        team: number.default_team_id,
        link,
        sms_opted_out,
    };
    let opened = match conversations::insert(db, new, now).await {
        Ok(opened) => opened,
        // Another start (or the customer's own message) opened it a moment ago.
        Err(persistence::Error::Duplicate { .. }) => {
            return Err(ApiError::Conflict("a conversation with this phone was just opened; retry".into()));
        }
        Err(err) => return Err(err.into()),
    };
    let opened = crate::workflow::sla::joined_team(db, opened, now).await?;
    crate::events::emit(db, Event::ConversationCreated(&opened), now).await?;
    Ok(opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_names_a_phone_never_a_username_or_bsuid() {
        assert_eq!(start_phone(" +16505551234 ").unwrap().as_str(), "+16505551234");
        for refused in ["@maria", "maria", "US.13491208655302741918", "", "12"] {
            assert!(start_phone(refused).is_err(), "{refused}");
        }
    }
}
