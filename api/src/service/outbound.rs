//! Agent actions that reach the customer: replies, templates, the phone-number request, calls
//! and the channel switch. Each checks its capability (the same domain function the API shows)
//! inside the transaction; a denied action fails with `CAPABILITY_DENIED` and stores and sends
//! nothing. An allowed send is stored as `PENDING` with its `message.sent` event in one
//! transaction; the delivery worker ([`crate::delivery`]) then sends it.

use chrono::{DateTime, Utc};
use domain::capabilities::Capabilities;
use domain::{
    Channel, ContactId, ConversationId, Direction, MessageId, MessageStatus, PhoneNumber, TemplateId,
};
use persistence::entities::{contact, conversation, message};
use persistence::events::{self, NewEvent, types};
use persistence::{ConnectionTrait, Database, StoreError, contacts, conversations, messages, templates};
use sea_orm::ActiveValue::Set;
use sea_orm::IntoActiveModel;
use serde_json::{Value, json};

use super::conversations::capabilities_of;
use super::{commit_error, event_data, stored};
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// WhatsApp's limit for a text body.
const MAX_TEXT: usize = 4096;
/// What the request-contact-info message says unless the agent writes something else.
pub const DEFAULT_PHONE_REQUEST: &str = "Could you share your phone number with us? Tap the button below.";

/// A conversation with what its capabilities depend on, loaded inside a transaction.
struct Loaded {
    conversation: conversation::Model,
    contact: Option<contact::Model>,
    capabilities: Capabilities,
}

async fn load(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: ConversationId,
    now: DateTime<Utc>,
) -> ApiResult<Loaded> {
    let conversation = conversations::find_for_update(db, viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    let contact = match conversation.contact_id {
        Some(c) => contacts::find(db, viewer.workspace_id, ContactId::from_uuid(c)).await?,
        None => None,
    };
    let capabilities =
        capabilities_of(&conversation, contact.as_ref().is_some_and(|c| c.phone.is_some()), now)?;
    Ok(Loaded { conversation, contact, capabilities })
}

fn valid_idempotency_key(key: Option<&str>) -> ApiResult<Option<String>> {
    match key.map(str::trim) {
        None => Ok(None),
        Some(k) if !k.is_empty() && k.len() <= 128 && k.chars().all(|c| c.is_ascii_graphic()) => {
            Ok(Some(k.to_owned()))
        }
        Some(_) => Err(ApiError::bad_input("idempotencyKey must be 1 to 128 visible ASCII characters")),
    }
}

fn valid_text(field: &str, text: &str) -> ApiResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        return Err(ApiError::bad_input(format!("{field} must be 1 to {MAX_TEXT} characters")));
    }
    Ok(text.to_owned())
}

/// What an agent asked to send.
struct Outgoing {
    kind: &'static str,
    text: String,
    content: Value,
    template: Option<(TemplateId, String, String)>,
}

/// Stores an allowed send (or returns the first result for a repeated idempotency key).
async fn store(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    idempotency_key: Option<&str>,
    now: DateTime<Utc>,
    decide: impl FnOnce(&Loaded) -> ApiResult<Outgoing>,
) -> ApiResult<message::Model> {
    let key = valid_idempotency_key(idempotency_key)?;
    let txn = db.begin().await.map_err(commit_error)?;
    let loaded = load(&*txn, viewer, id, now).await?;
    let existing = match &key {
        Some(key) => messages::find_by_idempotency_key(&*txn, id, key).await?,
        None => None,
    };
    if let Some(existing) = existing {
        return Ok(existing);
    }
    let outgoing = decide(&loaded)?;
    let channel = stored::<Channel>(&loaded.conversation.active_channel)?;
    let (template_id, template_name, template_category) = match outgoing.template {
        Some((id, name, category)) => (Some(id.as_uuid()), Some(name), Some(category)),
        None => (None, None, None),
    };
    let message = message::ActiveModel {
        id: Set(MessageId::new().as_uuid()),
        workspace_id: Set(viewer.workspace_id.as_uuid()),
        conversation_id: Set(loaded.conversation.id),
        business_number_id: Set(loaded.conversation.business_number_id),
        direction: Set(Direction::Outbound.as_str().to_owned()),
        channel: Set(channel.as_str().to_owned()),
        kind: Set(outgoing.kind.to_owned()),
        text: Set(Some(outgoing.text)),
        content: Set(Some(outgoing.content)),
        template_id: Set(template_id),
        template_name: Set(template_name),
        template_category: Set(template_category),
        status: Set(MessageStatus::Pending.as_str().to_owned()),
        external_id: Set(None),
        error_code: Set(None),
        error_title: Set(None),
        author_agent_id: Set(Some(viewer.agent_id.as_uuid())),
        idempotency_key: Set(key),
        attempts: Set(0),
        next_attempt_at: Set(None),
        sent_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let saved = match messages::insert(&*txn, message).await {
        Ok(saved) => saved,
        // Two requests with one idempotency key raced: the other one committed first.
        Err(StoreError::Duplicate { .. }) => {
            return Err(ApiError::Conflict(
                "a send with this idempotencyKey is in progress; retry".to_owned(),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    let mut touch = loaded.conversation.clone().into_active_model();
    touch.last_activity_at = Set(now.max(loaded.conversation.last_activity_at));
    touch.updated_at = Set(now);
    let conversation = conversations::update(&*txn, touch).await?;
    let event = NewEvent {
        event_type: types::MESSAGE_SENT,
        conversation_id: Some(id),
        contact_id: conversation.contact_id.map(ContactId::from_uuid),
        data: event_data::message(&saved, &conversation),
    };
    events::append(&*txn, viewer.workspace_id, event, now).await?;
    txn.commit().await.map_err(commit_error)?;
    Ok(saved)
}

/// A free-form reply.
///
/// # Errors
/// `CAPABILITY_DENIED` (`reply`) outside the service window, `BAD_USER_INPUT`, `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn send_text(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    text: &str,
    idempotency_key: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<message::Model> {
    let text = valid_text("text", text)?;
    store(db, viewer, id, idempotency_key, now, |loaded| {
        loaded.capabilities.reply.check().map_err(|d| ApiError::denied("reply", d))?;
        Ok(Outgoing { kind: "text", content: json!({ "type": "text", "body": text }), text, template: None })
    })
    .await
}

/// Fills `{{1}}`, `{{2}}`… with the parameters, requiring exactly as many as the body uses.
///
/// # Errors
/// `BAD_USER_INPUT` when the count differs or a parameter is empty.
pub fn render_template(body: &str, parameters: &[String]) -> ApiResult<String> {
    let mut highest = 0;
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if let Ok(n) = after[..end].trim().parse::<usize>() {
            highest = highest.max(n);
        }
        rest = &after[end + 2..];
    }
    if parameters.len() != highest {
        return Err(ApiError::bad_input(format!(
            "this template needs {highest} parameter(s), got {}",
            parameters.len()
        )));
    }
    if parameters.iter().any(|p| p.trim().is_empty() || p.chars().count() > 1024) {
        return Err(ApiError::bad_input("template parameters must be 1 to 1024 characters"));
    }
    let mut text = body.to_owned();
    for (i, p) in parameters.iter().enumerate().rev() {
        text = text.replace(&format!("{{{{{}}}}}", i + 1), p.trim());
    }
    Ok(text)
}

/// A template message.
///
/// # Errors
/// `CAPABILITY_DENIED` (`templates.AUTHENTICATION` without the customer's phone, or not on
/// WhatsApp), `BAD_USER_INPUT` for parameters, `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn send_template(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    template_id: TemplateId,
    parameters: &[String],
    idempotency_key: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<message::Model> {
    let template = templates::find(db.conn(), viewer.workspace_id, template_id)
        .await?
        .ok_or(ApiError::NotFound("template"))?;
    let category = stored::<domain::TemplateCategory>(&template.category)?;
    let text = render_template(&template.body, parameters)?;
    store(db, viewer, id, idempotency_key, now, |loaded| {
        let name = match category {
            domain::TemplateCategory::Marketing => "templates.MARKETING",
            domain::TemplateCategory::Utility => "templates.UTILITY",
            domain::TemplateCategory::Authentication => "templates.AUTHENTICATION",
        };
        loaded.capabilities.template(category).check().map_err(|d| ApiError::denied(name, d))?;
        Ok(Outgoing {
            kind: "template",
            content: json!({ "type": "template", "name": template.name, "language": template.language, "parameters": parameters }),
            text,
            template: Some((template_id, template.name.clone(), template.category.clone())),
        })
    })
    .await
}

/// WhatsApp's request-contact-info message.
///
/// # Errors
/// `CAPABILITY_DENIED` (`requestPhoneNumber`) when the phone is known or the window closed.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn request_phone_number(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    text: Option<&str>,
    idempotency_key: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<message::Model> {
    let text = valid_text("text", text.unwrap_or(DEFAULT_PHONE_REQUEST))?;
    store(db, viewer, id, idempotency_key, now, |loaded| {
        loaded
            .capabilities
            .request_phone_number
            .check()
            .map_err(|d| ApiError::denied("requestPhoneNumber", d))?;
        Ok(Outgoing {
            kind: "interactive",
            content: json!({ "type": "request_contact_info", "body": text }),
            text,
            template: None,
        })
    })
    .await
}

/// Where the number to dial comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberSource {
    Conversation,
    Contact,
}

/// An outbound call to place through the workspace's telephony.
#[derive(Clone, Debug)]
pub struct Call {
    pub conversation_id: ConversationId,
    pub phone: PhoneNumber,
    pub source: NumberSource,
}

/// The customer's phone: the conversation's own, else the linked contact's.
fn reachable_phone(loaded: &Loaded) -> ApiResult<Option<(PhoneNumber, NumberSource)>> {
    let parse = |p: &str| PhoneNumber::parse(p).map_err(ApiError::internal);
    if let Some(p) = &loaded.conversation.customer_phone {
        return Ok(Some((parse(p)?, NumberSource::Conversation)));
    }
    match loaded.contact.as_ref().and_then(|c| c.phone.as_deref()) {
        Some(p) => Ok(Some((parse(p)?, NumberSource::Contact))),
        None => Ok(None),
    }
}

/// The number to dial for an outbound call.
///
/// # Errors
/// `CAPABILITY_DENIED` (`call`) without a known phone.
pub async fn start_call(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    now: DateTime<Utc>,
) -> ApiResult<Call> {
    let loaded = load(db.conn(), viewer, id, now).await?;
    loaded.capabilities.call.check().map_err(|d| ApiError::denied("call", d))?;
    let (phone, source) = reachable_phone(&loaded)?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("call allowed without a phone")))?;
    tracing::info!(source = ?source, "outbound call requested");
    Ok(Call { conversation_id: id, phone, source })
}

/// Moves the conversation's replies to SMS (needs a phone) or back to WhatsApp.
///
/// # Errors
/// `CAPABILITY_DENIED` (`switchToSms`) without a phone; `BAD_USER_INPUT` for a conversation
/// that did not start on WhatsApp.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn switch_channel(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    channel: Channel,
    now: DateTime<Utc>,
) -> ApiResult<conversation::Model> {
    let txn = db.begin().await.map_err(commit_error)?;
    let loaded = load(&*txn, viewer, id, now).await?;
    if channel == Channel::Sms {
        loaded.capabilities.switch_to_sms.check().map_err(|d| ApiError::denied("switchToSms", d))?;
    } else if loaded.conversation.channel != Channel::Whatsapp.as_str() {
        return Err(ApiError::bad_input("only a WhatsApp conversation can switch back to WhatsApp"));
    }
    if loaded.conversation.active_channel == channel.as_str() {
        return Ok(loaded.conversation);
    }
    let mut change = loaded.conversation.into_active_model();
    change.active_channel = Set(channel.as_str().to_owned());
    change.updated_at = Set(now);
    let saved = conversations::update(&*txn, change).await?;
    let event = NewEvent {
        event_type: types::CONVERSATION_UPDATED,
        conversation_id: Some(id),
        contact_id: saved.contact_id.map(ContactId::from_uuid),
        data: event_data::conversation(&saved),
    };
    events::append(&*txn, viewer.workspace_id, event, now).await?;
    txn.commit().await.map_err(commit_error)?;
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_with_exactly_their_parameters() {
        let body = "Hi {{1}}, order {{2}} ships {{2}} times";
        assert_eq!(
            render_template(body, &["Ana".into(), "42".into()]).unwrap(),
            "Hi Ana, order 42 ships 42 times"
        );
        assert!(render_template(body, &["Ana".into()]).is_err());
        assert!(render_template("No params", &["x".into()]).is_err());
        assert_eq!(render_template("No params", &[]).unwrap(), "No params");
        assert!(render_template("{{1}}", &[" ".into()]).is_err());
        assert_eq!(
            render_template("{{1}} and {{10}}", &(1..=10).map(|i| i.to_string()).collect::<Vec<_>>())
                .unwrap(),
            "1 and 10"
        );
    }
}
