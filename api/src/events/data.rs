//! The `data` of events: everything an integration needs without a second call. A hidden
//! phone is `null`, never omitted and never guessed.

use domain::Username;
use persistence::{BusinessNumber, Contact, Conversation, Message};
use serde_json::{Value, json};

/// The customer as an integration sees it.
#[must_use]
pub fn customer(c: &Conversation) -> Value {
    json!({
        "phoneNumber": c.customer_phone,
        "phoneHidden": c.customer_phone.is_none(),
        "bsuid": c.customer_bsuid,
        "parentBsuid": c.customer_parent_bsuid,
        "username": c.customer_username.as_ref().map(Username::display),
        "profileName": c.customer_profile_name,
    })
}

/// A conversation snapshot.
#[must_use]
pub fn conversation(c: &Conversation) -> Value {
    json!({
        "conversationId": c.id,
        "businessNumberId": c.business_number_id,
        "channel": c.active_channel,
        "status": c.status,
        "snoozedUntil": c.snoozed_until,
        "origin": c.origin,
        "previousConversationId": c.previous_conversation_id,
        "contactId": c.contact_id,
        "assigneeId": c.assignee_id,
        "teamId": c.team_id,
        "lastInboundAt": c.last_inbound_at,
        "customer": customer(c),
    })
}

/// A message with its conversation's customer.
#[must_use]
pub fn message(m: &Message, c: &Conversation) -> Value {
    json!({
        "messageId": m.id,
        "conversationId": c.id,
        "businessNumberId": c.business_number_id,
        "contactId": c.contact_id,
        "direction": m.direction,
        "channel": m.channel,
        "kind": m.kind,
        "text": m.text,
        "status": m.status,
        "authorId": m.author_agent_id,
        "templateName": m.template_name,
        "templateCategory": m.template_category,
        "sentAt": m.sent_at,
        "customer": customer(c),
    })
}

/// A reaction on a message (an empty emoji: removed).
#[must_use]
pub fn reaction(r: &persistence::MessageReaction, m: &Message, c: &Conversation) -> Value {
    json!({
        "messageId": m.id,
        "conversationId": c.id,
        "direction": r.direction,
        "emoji": r.emoji,
        "removed": r.emoji.is_empty(),
        "agentId": r.agent_id,
        "customer": customer(c),
    })
}

/// An attachment whose bytes are stored (or could not be).
#[must_use]
pub fn attachment(a: &persistence::Attachment, c: &Conversation) -> Value {
    json!({
        "attachmentId": a.id,
        "messageId": a.message_id,
        "conversationId": c.id,
        "kind": a.kind,
        "mimeType": a.mime_type,
        "sizeBytes": a.size_bytes,
        "sha256": a.sha256,
        "status": a.status,
        "customer": customer(c),
    })
}

/// A contact snapshot.
#[must_use]
pub fn contact(c: &Contact) -> Value {
    json!({
        "contactId": c.id,
        "name": c.name,
        "email": c.email,
        "phoneNumber": c.phone,
        "externalId": c.external_id,
        "attributes": c.attributes,
    })
}

/// A business number's username and status.
#[must_use]
pub fn business_username(number: &BusinessNumber) -> Value {
    json!({
        "businessNumberId": number.id,
        "phoneNumberId": number.phone_number_id,
        "displayPhoneNumber": number.display_phone_number,
        "username": number.username,
        "status": number.username_status,
    })
}

/// A conversation's capabilities as the API shows them (`ConversationCapabilities`).
#[must_use]
pub fn capabilities(c: &domain::Capabilities) -> Value {
    let state = |c: domain::Capability| {
        json!({
            "allowed": c.allowed(),
            "reason": c.reason(),
            "reasonCode": c.denial().map(|d| d.code().as_str()),
        })
    };
    let templates: Vec<Value> = domain::TemplateCategory::ALL
        .iter()
        .map(|category| {
            let mut t = state(c.template(*category));
            t["category"] = json!(category.as_str());
            t
        })
        .collect();
    json!({
        "reply": state(c.reply),
        "call": state(c.call),
        "switchToSms": state(c.switch_to_sms),
        "requestPhoneNumber": state(c.request_phone_number),
        "media": state(c.media),
        "react": state(c.react),
        "templates": templates,
        "serviceWindowEndsAt": c.service_window_ends_at,
    })
}

/// A conversation's service window (`conversation.window_closing`, `conversation.window_closed`).
#[must_use]
pub fn window(c: &Conversation) -> Value {
    json!({
        "conversationId": c.id,
        "lastInboundAt": c.last_inbound_at,
        "serviceWindowEndsAt": c.last_inbound_at.map(|at| at + domain::SERVICE_WINDOW),
    })
}
