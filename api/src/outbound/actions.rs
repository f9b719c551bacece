//! Agent actions that reach the customer: replies, templates, the phone-number request, calls
//! and the channel switch. Each checks its capability (the same domain function the API shows)
//! inside the transaction; a denied action fails with `CAPABILITY_DENIED` and stores and sends
//! nothing. An allowed send is stored as `PENDING` with its `message.sent` event in one
//! transaction; the delivery worker ([`crate::outbound::delivery`]) then sends it.

use chrono::{DateTime, Utc};
use domain::capabilities::Capabilities;
use domain::content::OutboundContent;
use domain::{
    AttachmentId, AttachmentStatus, Channel, ConversationId, Direction, MessageId, Permission, PhoneNumber,
    TemplateId,
};
use persistence::Announce;
use persistence::content::MessageContent;
use persistence::conversations::ConversationChange;
use persistence::messages::{NewMessage, Origin, TemplateRef};
use persistence::{Attachment, Contact, Conversation, Message};
use persistence::{
    ConnectionTrait, Database, attachments, contacts, conversations, messages, reactions, templates,
};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::input::valid_text;
use crate::workflow::conversations::{Around, capabilities_of};

/// What the request-contact-info message says unless the agent writes something else.
pub const DEFAULT_PHONE_REQUEST: &str = "Could you share your phone number with us? Tap the button below.";

/// A conversation with what its capabilities depend on, loaded inside a transaction.
pub(super) struct Loaded {
    conversation: Conversation,
    contact: Option<Contact>,
    /// The WhatsApp Business Account of the conversation's number (empty for an SMS number).
    waba: String,
    capabilities: Capabilities,
}

async fn load(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: ConversationId,
    now: DateTime<Utc>,
) -> ApiResult<Loaded> {
    let (conversation, number) = conversations::find_for_update_with_number(db, viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    let contact = match conversation.contact_id {
        Some(c) => contacts::find(db, viewer.workspace_id, c).await?,
        None => None,
    };
    let around = Around {
        contact_phone_known: contact.as_ref().is_some_and(|c| c.phone.is_some()),
        number_connected: number.as_ref().is_some_and(|n| n.connected),
    };
    let capabilities = capabilities_of(&conversation, around, now);
    let waba = number.map(|n| n.waba_id).unwrap_or_default();
    Ok(Loaded { conversation, contact, waba, capabilities })
}

pub(super) fn valid_idempotency_key(key: Option<&str>) -> ApiResult<Option<String>> {
    match key.map(str::trim) {
        None => Ok(None),
        Some(k) if !k.is_empty() && k.len() <= 128 && k.chars().all(|c| c.is_ascii_graphic()) => {
            Ok(Some(k.to_owned()))
        }
        Some(_) => Err(ApiError::bad_input("idempotencyKey must be 1 to 128 visible ASCII characters")),
    }
}

/// What an agent asked to send.
pub(super) struct Outgoing {
    text: String,
    content: OutboundContent,
    template: Option<TemplateRef>,
    /// The uploaded file a media message carries (attached to the stored message).
    upload: Option<Attachment>,
}

/// What a send refers to besides its conversation.
#[derive(Clone, Copy, Debug, Default)]
pub struct SendOptions<'a> {
    /// Repeating a send with the same key returns the first message instead of sending twice.
    pub idempotency_key: Option<&'a str>,
    /// The message of the conversation this one replies to (sent as Meta's `context.message_id`).
    pub reply_to: Option<MessageId>,
}

/// The message a send replies to: of the same conversation, and known to the provider (it has
/// the provider's id, raw or sealed).
async fn reply_target(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    conversation: ConversationId,
    reply_to: Option<MessageId>,
) -> ApiResult<Option<MessageId>> {
    let Some(id) = reply_to else { return Ok(None) };
    let quoted = messages::find(db, viewer.workspace_id, id)
        .await?
        .filter(|m| m.conversation_id == conversation)
        .ok_or(ApiError::NotFound("message"))?;
    if quoted.external_id.is_none() {
        return Err(ApiError::bad_input(
            "replyToMessageId names a message WhatsApp does not know yet (not sent); reply to another",
        ));
    }
    Ok(Some(quoted.id))
}

/// Stores an allowed send (or returns the first result for a repeated idempotency key).
async fn store(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    options: SendOptions<'_>,
    now: DateTime<Utc>,
    decide: impl FnOnce(&Loaded) -> ApiResult<Outgoing>,
) -> ApiResult<Message> {
    db.write(async |txn| {
        let saved = store_in(txn, viewer, id, options, now, decide).await?;
        Ok(saved)
    })
    .await
}

/// [`store`] inside the caller's transaction.
pub(super) async fn store_in(
    txn: &impl Announce,
    viewer: &Viewer,
    id: ConversationId,
    options: SendOptions<'_>,
    now: DateTime<Utc>,
    decide: impl FnOnce(&Loaded) -> ApiResult<Outgoing>,
) -> ApiResult<Message> {
    let key = valid_idempotency_key(options.idempotency_key)?;
    let loaded = load(txn, viewer, id, now).await?;
    let existing = match &key {
        Some(key) => messages::find_by_idempotency_key(txn, id, key).await?,
        None => None,
    };
    if let Some(existing) = existing {
        return Ok(existing);
    }
    let outgoing = decide(&loaded)?;
    let reply_to = reply_target(txn, viewer, id, options.reply_to).await?;
    let new = NewMessage {
        origin: Origin::Outbound {
            author: viewer.agent_id,
            idempotency_key: key,
            template: outgoing.template,
        },
        channel: loaded.conversation.active_channel,
        kind: outgoing.content.kind().to_owned(),
        text: outgoing.text,
        content: Some(MessageContent::Outbound(outgoing.content.clone())),
        sent_at: now,
        reply_to,
    };
    let saved = match messages::insert(txn, &loaded.conversation, new, now).await {
        Ok(saved) => saved,
        // Two requests with one idempotency key raced: the other one committed first.
        Err(persistence::Error::Duplicate { .. }) => {
            return Err(ApiError::Conflict(
                "a send with this idempotencyKey is in progress; retry".to_owned(),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    if let (Some(upload), OutboundContent::Media { caption, .. }) = (&outgoing.upload, &outgoing.content) {
        attachments::attach(txn, upload, &saved, caption.clone(), now).await?;
    }
    let last_activity_at = now.max(loaded.conversation.last_activity_at);
    let touch =
        ConversationChange { last_activity_at: Some(last_activity_at), ..ConversationChange::default() };
    let mut conversation = conversations::update(txn, loaded.conversation, touch, now).await?;
    crate::workflow::sla::agent_wrote(txn, &conversation, now).await?;
    crate::workflow::facts::agent_wrote(txn, &mut conversation, now).await?;
    crate::events::emit(txn, Event::MessageSent { message: &saved, conversation: &conversation }, now)
        .await?;
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
    options: SendOptions<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Message> {
    viewer.require(Permission::ReachCustomer)?;
    let text = valid_text("text", text)?;
    store(db, viewer, id, options, now, |loaded| reply_of(loaded, text)).await
}

/// A free-form reply, if the conversation allows one.
pub(super) fn reply_of(loaded: &Loaded, text: String) -> ApiResult<Outgoing> {
    loaded.capabilities.reply.check().map_err(|d| ApiError::denied("reply", d))?;
    Ok(Outgoing { content: OutboundContent::Text { body: text.clone() }, text, template: None, upload: None })
}

/// A template ready to send: the stored template and its body filled in.
pub(super) struct FilledTemplate {
    template: persistence::Template,
    parameters: Vec<String>,
    text: String,
}

/// Loads a template of the workspace and fills its parameters.
///
/// # Errors
/// `NOT_FOUND`, `BAD_USER_INPUT` for the parameters.
pub(super) async fn fill_template(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    template_id: TemplateId,
    parameters: &[String],
) -> ApiResult<FilledTemplate> {
    let template =
        templates::find(db, viewer.workspace_id, template_id).await?.ok_or(ApiError::NotFound("template"))?;
    let text = render_template(&template.body, parameters)?;
    Ok(FilledTemplate { template, parameters: parameters.to_vec(), text })
}

/// A template message, if it is approved, of the WABA of the conversation's number, and the
/// conversation allows its category.
pub(super) fn template_of(loaded: &Loaded, filled: &FilledTemplate) -> ApiResult<Outgoing> {
    let template = &filled.template;
    let category = template.category;
    if !template.waba_id.is_empty() && template.waba_id != loaded.waba {
        return Err(ApiError::bad_input(
            "templateId: this template belongs to another WhatsApp Business Account than the conversation's number",
        ));
    }
    let name = match category {
        domain::TemplateCategory::Marketing => "templates.MARKETING",
        domain::TemplateCategory::Utility => "templates.UTILITY",
        domain::TemplateCategory::Authentication => "templates.AUTHENTICATION",
    };
    let capability = loaded.capabilities.one_template(category, template.status);
    capability.check().map_err(|d| ApiError::denied(name, d))?;
    Ok(Outgoing {
        content: OutboundContent::Template {
            name: template.name.clone(),
            language: template.language.clone(),
            parameters: filled.parameters.clone(),
        },
        text: filled.text.clone(),
        template: Some(TemplateRef { id: template.id, name: template.name.clone(), category }),
        upload: None,
    })
}

/// Fills `{{1}}`, `{{2}}`… with the parameters, requiring exactly as many as the body uses.
///
/// # Errors
/// `BAD_USER_INPUT` when the count differs or a parameter is empty.
pub fn render_template(body: &str, parameters: &[String]) -> ApiResult<String> {
    let highest = domain::content::parameter_count(body);
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
    options: SendOptions<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Message> {
    viewer.require(Permission::ReachCustomer)?;
    let filled = fill_template(db.conn(), viewer, template_id, parameters).await?;
    store(db, viewer, id, options, now, |loaded| template_of(loaded, &filled)).await
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
) -> ApiResult<Message> {
    viewer.require(Permission::ReachCustomer)?;
    let text = valid_text("text", text.unwrap_or(DEFAULT_PHONE_REQUEST))?;
    let options = SendOptions { idempotency_key, reply_to: None };
    store(db, viewer, id, options, now, |loaded| {
        loaded
            .capabilities
            .request_phone_number
            .check()
            .map_err(|d| ApiError::denied("requestPhoneNumber", d))?;
        Ok(Outgoing {
            content: OutboundContent::RequestContactInfo { body: text.clone() },
            text,
            template: None,
            upload: None,
        })
    })
    .await
}

/// A photo, video, audio, document or sticker the agent uploaded (`POST /media`), with a
/// caption where WhatsApp shows one.
///
/// # Errors
/// `CAPABILITY_DENIED` (`media`) outside the window or off WhatsApp; `NOT_FOUND` for an unknown
/// attachment (also another workspace's); `BAD_USER_INPUT` for an attachment that is not a
/// stored upload, or a caption that is too long or on a kind that takes none.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn send_media(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    attachment_id: AttachmentId,
    caption: Option<&str>,
    options: SendOptions<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Message> {
    viewer.require(Permission::ReachCustomer)?;
    let upload = attachments::find(db.conn(), viewer.workspace_id, attachment_id)
        .await?
        .ok_or(ApiError::NotFound("attachment"))?;
    if upload.direction != Direction::Outbound || upload.status != AttachmentStatus::Stored {
        return Err(ApiError::bad_input("attachmentId must name a file uploaded with POST /media"));
    }
    let caption = match caption.map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(_) if !domain::media::takes_caption(upload.kind) => {
            return Err(ApiError::bad_input(format!("{} attachments take no caption", upload.kind)));
        }
        Some(c) if c.chars().count() > domain::media::MAX_CAPTION => {
            return Err(ApiError::bad_input(format!(
                "caption must be at most {} characters",
                domain::media::MAX_CAPTION
            )));
        }
        Some(c) => Some(c.to_owned()),
    };
    let text = caption.clone().unwrap_or_else(|| format!("[{}]", domain::media::message_type(upload.kind)));
    store(db, viewer, id, options, now, |loaded| {
        loaded.capabilities.media.check().map_err(|d| ApiError::denied("media", d))?;
        let content = OutboundContent::Media {
            attachment_id: upload.id,
            kind: upload.kind,
            caption: caption.clone(),
            file_name: upload.file_name.clone(),
        };
        Ok(Outgoing { text, content, template: None, upload: Some(upload.clone()) })
    })
    .await
}

/// The longest reaction accepted: one emoji, which may be several code points (skin tones,
/// joiners, flags).
const MAX_EMOJI_CHARS: usize = 16;

/// Sets the business's reaction on a message of a conversation (`""` removes it); the delivery
/// worker sends it to WhatsApp. Returns the message.
///
/// # Errors
/// `CAPABILITY_DENIED` (`react`) outside the window or off WhatsApp; `NOT_FOUND`;
/// `BAD_USER_INPUT` for text that is not an emoji, or a message WhatsApp does not know.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, message_id = %message_id))]
pub async fn react(
    db: &Database,
    viewer: &Viewer,
    message_id: MessageId,
    emoji: &str,
    now: DateTime<Utc>,
) -> ApiResult<Message> {
    viewer.require(Permission::ReachCustomer)?;
    let emoji = emoji.trim();
    let looks_like_emoji = emoji.chars().count() <= MAX_EMOJI_CHARS
        && !emoji.chars().any(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || c.is_control());
    if !looks_like_emoji {
        return Err(ApiError::bad_input("emoji must be one emoji, or \"\" to remove the reaction"));
    }
    db.write(async |txn| {
        let message = messages::find(txn, viewer.workspace_id, message_id)
            .await?
            .ok_or(ApiError::NotFound("message"))?;
        let loaded = load(txn, viewer, message.conversation_id, now).await?;
        loaded.capabilities.react.check().map_err(|d| ApiError::denied("react", d))?;
        if message.external_id.is_none() {
            return Err(ApiError::bad_input("this message is not on WhatsApp yet; react once it is sent"));
        }
        let reaction =
            reactions::set(txn, &message, Direction::Outbound, Some(viewer.agent_id), emoji, now).await?;
        crate::events::emit(
            txn,
            crate::events::Event::Reaction {
                reaction: &reaction,
                message: &message,
                conversation: &loaded.conversation,
            },
            now,
        )
        .await?;
        Ok(message)
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
fn reachable_phone(loaded: &Loaded) -> Option<(PhoneNumber, NumberSource)> {
    if let Some(p) = &loaded.conversation.customer_phone {
        return Some((p.clone(), NumberSource::Conversation));
    }
    loaded.contact.as_ref().and_then(|c| c.phone.clone()).map(|p| (p, NumberSource::Contact))
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
    viewer.require(Permission::ReachCustomer)?;
    let loaded = load(db.conn(), viewer, id, now).await?;
    loaded.capabilities.call.check().map_err(|d| ApiError::denied("call", d))?;
    let (phone, source) = reachable_phone(&loaded)
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
) -> ApiResult<Conversation> {
    viewer.require(Permission::ReachCustomer)?;
    db.write(async |txn| {
        let loaded = load(txn, viewer, id, now).await?;
        if channel == Channel::Sms {
            loaded.capabilities.switch_to_sms.check().map_err(|d| ApiError::denied("switchToSms", d))?;
        } else if loaded.conversation.channel != Channel::Whatsapp {
            return Err(ApiError::bad_input("only a WhatsApp conversation can switch back to WhatsApp"));
        }
        if loaded.conversation.active_channel == channel {
            return Ok(loaded.conversation);
        }
        let change = ConversationChange { active_channel: Some(channel), ..ConversationChange::default() };
        let saved = conversations::update(txn, loaded.conversation, change, now).await?;
        crate::events::emit(txn, Event::ConversationUpdated(&saved), now).await?;
        Ok(saved)
    })
    .await
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
