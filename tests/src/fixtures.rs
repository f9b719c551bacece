//! What the black-box tests and `parley-bench` both build: customers' WhatsApp messages as
//! Meta sends them, the webhook envelope, Meta's signature, and message rows imported as
//! history. One builder each, so a shape fixed here is fixed for both.

use chrono::{DateTime, Duration, Utc};
use domain::{Channel, Direction, MessageStatus};
use hmac::Mac;
use persistence::messages::{NewMessage, Origin, StoredId, Thread};
use serde_json::{Value, json};

/// The display number of every fixture business number (digits, as Meta sends it).
pub const DISPLAY_PHONE_NUMBER: &str = "15550783881";

/// One customer message as Meta delivers it in a `messages` change.
#[derive(Clone, Debug)]
pub struct Inbound {
    pub name: Option<String>,
    pub username: Option<String>,
    /// WhatsApp digits (`16505551234`); `None` for a customer who hid the number.
    pub phone: Option<String>,
    pub bsuid: Option<String>,
    pub text: String,
    /// When the customer wrote it, before now.
    pub ago: Duration,
    pub wamid: String,
}

impl Inbound {
    /// A username-only customer (no phone).
    #[must_use]
    pub fn hidden(bsuid: &str, username: &str, name: &str) -> Self {
        Self {
            name: Some(name.to_owned()),
            username: Some(username.to_owned()),
            phone: None,
            bsuid: Some(bsuid.to_owned()),
            text: "Hello".to_owned(),
            ago: Duration::minutes(1),
            wamid: format!("wamid.TEST{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// A customer whose phone is shown.
    #[must_use]
    pub fn with_phone(phone: &str, bsuid: &str, name: &str) -> Self {
        Self { phone: Some(phone.to_owned()), username: None, ..Self::hidden(bsuid, "x", name) }
    }

    #[must_use]
    pub fn ago(mut self, ago: Duration) -> Self {
        self.ago = ago;
        self
    }

    #[must_use]
    pub fn without_phone(mut self) -> Self {
        self.phone = None;
        self
    }

    #[must_use]
    pub fn fresh_id(mut self) -> Self {
        self.wamid = format!("wamid.TEST{}", uuid::Uuid::new_v4().simple());
        self
    }

    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    #[must_use]
    pub fn wamid(mut self, wamid: impl Into<String>) -> Self {
        self.wamid = wamid.into();
        self
    }

    /// The `value` of a `messages` change carrying this message.
    #[must_use]
    pub fn value(&self, phone_number_id: &str) -> Value {
        messages_value(phone_number_id, std::slice::from_ref(self))
    }
}

/// The `value` of one `messages` change carrying several customers' messages.
#[must_use]
pub fn messages_value(phone_number_id: &str, messages: &[Inbound]) -> Value {
    let (contacts, messages): (Vec<Value>, Vec<Value>) = messages.iter().map(parts).unzip();
    json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": phone_number_id },
        "contacts": contacts,
        "messages": messages,
    })
}

fn parts(inbound: &Inbound) -> (Value, Value) {
    let sent = Utc::now() - inbound.ago;
    let mut profile = json!({});
    if let Some(n) = &inbound.name {
        profile["name"] = json!(n);
    }
    if let Some(u) = &inbound.username {
        profile["username"] = json!(u);
    }
    let mut contact = json!({ "profile": profile });
    let mut message = json!({
        "id": inbound.wamid,
        "timestamp": sent.timestamp().to_string(),
        "type": "text",
        "text": { "body": inbound.text },
    });
    if let Some(b) = &inbound.bsuid {
        contact["user_id"] = json!(b);
        message["from_user_id"] = json!(b);
    }
    if let Some(p) = &inbound.phone {
        contact["wa_id"] = json!(p);
        message["from"] = json!(p);
    }
    (contact, message)
}

/// A whole webhook: one entry of WABA `waba_id` with one change of `field`.
#[must_use]
pub fn webhook(waba_id: &str, field: &str, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": waba_id, "changes": [{ "field": field, "value": value }] }],
    })
}

/// `X-Hub-Signature-256` of a body under a Meta app secret.
#[must_use]
#[expect(clippy::expect_used, reason = "HMAC-SHA256 accepts keys of any length")]
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(app_secret).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A message row brought in as history (never sent, text only): `direction` and `status` as
/// given.
#[must_use]
pub fn imported_message(
    thread: Thread,
    direction: Direction,
    status: MessageStatus,
    external_id: Option<String>,
    text: &str,
    sent_at: DateTime<Utc>,
) -> (Thread, NewMessage) {
    let new = NewMessage {
        origin: Origin::Imported {
            direction,
            status,
            id: external_id.map(|external_id| StoredId { external_id, sealed: None }),
        },
        channel: Channel::Whatsapp,
        kind: "text".into(),
        text: text.to_owned(),
        content: None,
        sent_at,
        reply_to: None,
    };
    (thread, new)
}

/// A customer as Meta names them in webhooks (`contacts[]`, `from…`, `recipient…`).
#[derive(Clone, Debug, Default)]
pub struct Customer {
    pub name: Option<String>,
    pub username: Option<String>,
    /// WhatsApp digits; `None` for a customer who hid the number.
    pub phone: Option<String>,
    pub bsuid: Option<String>,
    pub parent_bsuid: Option<String>,
}

impl Customer {
    /// A customer with every identity field Meta can send.
    #[must_use]
    pub fn full(name: &str, username: &str, phone: &str, bsuid: &str, parent_bsuid: &str) -> Self {
        Self {
            name: Some(name.to_owned()),
            username: Some(username.to_owned()),
            phone: Some(phone.to_owned()),
            bsuid: Some(bsuid.to_owned()),
            parent_bsuid: Some(parent_bsuid.to_owned()),
        }
    }

    /// The customer without the phone (hidden behind the username).
    #[must_use]
    pub fn hiding_phone(mut self) -> Self {
        self.phone = None;
        self
    }

    /// The customer as a phone only (before usernames: no BSUID, no username).
    #[must_use]
    pub fn phone_only(mut self) -> Self {
        (self.username, self.bsuid, self.parent_bsuid) = (None, None, None);
        self
    }

    /// The `contacts[]` entry.
    #[must_use]
    pub fn contact(&self) -> Value {
        let mut profile = json!({});
        set(&mut profile, "name", self.name.as_deref());
        set(&mut profile, "username", self.username.as_deref());
        let mut contact = json!({ "profile": profile });
        set(&mut contact, "wa_id", self.phone.as_deref());
        set(&mut contact, "user_id", self.bsuid.as_deref());
        set(&mut contact, "parent_user_id", self.parent_bsuid.as_deref());
        contact
    }

    /// A message from the customer: the sender fields, id, timestamp and type.
    #[must_use]
    pub fn message(&self, wamid: &str, kind: &str, sent: DateTime<Utc>) -> Value {
        let mut message = json!({ "id": wamid, "timestamp": sent.timestamp().to_string(), "type": kind });
        set(&mut message, "from", self.phone.as_deref());
        set(&mut message, "from_user_id", self.bsuid.as_deref());
        set(&mut message, "from_parent_user_id", self.parent_bsuid.as_deref());
        message
    }

    /// A text message from the customer.
    #[must_use]
    pub fn text(&self, wamid: &str, body: &str, sent: DateTime<Utc>) -> Value {
        let mut message = self.message(wamid, "text", sent);
        message["text"] = json!({ "body": body });
        message
    }

    /// A status of a message sent to the customer (Meta names the recipient as it knows them).
    #[must_use]
    pub fn status(&self, wamid: &str, status: &str, at: DateTime<Utc>) -> Value {
        let mut item = json!({ "id": wamid, "status": status, "timestamp": at.timestamp().to_string() });
        set(&mut item, "recipient_id", self.phone.as_deref());
        set(&mut item, "recipient_user_id", self.bsuid.as_deref());
        set(&mut item, "recipient_parent_user_id", self.parent_bsuid.as_deref());
        if status != "failed" {
            item["pricing"] = json!({ "billable": true, "pricing_model": "PMP", "type": "regular", "category": "marketing" });
        }
        item
    }
}

fn set(object: &mut Value, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        object[key] = json!(value);
    }
}

/// The `value` of a change of a business number: Meta's `metadata`, the customers' `contacts`
/// (when given) and `items` under `list` (`messages`, `statuses`, `user_id_update`, …).
#[must_use]
pub fn number_change(phone_number_id: &str, contacts: &[&Customer], list: &str, items: Vec<Value>) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": phone_number_id },
    });
    if !contacts.is_empty() {
        value["contacts"] = contacts.iter().map(|c| c.contact()).collect();
    }
    value[list] = Value::Array(items);
    value
}

/// A failure of a status (`statuses[].errors[]`), as Meta words it.
#[must_use]
pub fn status_error(code: i64, title: &str) -> Value {
    json!([{
        "code": code,
        "title": title,
        "message": title,
        "error_data": { "details": title },
        "href": "/documentation/business-messaging/whatsapp/support/error-codes",
    }])
}

/// A customer's reply to a call-permission request (an `interactive` message).
#[must_use]
pub fn call_permission_reply(
    customer: &Customer,
    wamid: &str,
    replying_to: &str,
    sent: DateTime<Utc>,
) -> Value {
    let mut message = customer.message(wamid, "interactive", sent);
    message["context"] = json!({ "from": DISPLAY_PHONE_NUMBER, "id": replying_to });
    message["interactive"] = json!({
        "type": "call_permission_reply",
        "call_permission_reply": {
            "response": "accept",
            "expiration_timestamp": (sent + Duration::days(7)).timestamp().to_string(),
            "response_source": "user_action",
        },
    });
    message
}

/// A contact card the customer shared (`origin: contact_request` when sent with the
/// request-contact-info button).
#[must_use]
pub fn shared_contact(
    customer: &Customer,
    wamid: &str,
    phone: &str,
    origin: &str,
    sent: DateTime<Utc>,
) -> Value {
    let mut message = customer.message(wamid, "contacts", sent);
    message["contacts"] = json!([{
        "vcard": "BEGIN:VCARD\nEND:VCARD",
        "origin": origin,
        "phones": [{ "phone": format!("+{phone}"), "wa_id": phone, "type": "CELL" }],
    }]);
    message
}

/// A `system` message: the customer changed BSUID (`user_changed_user_id`) or number.
#[must_use]
pub fn system_change(
    customer: &Customer,
    wamid: &str,
    new: &Customer,
    kind: &str,
    sent: DateTime<Utc>,
) -> Value {
    let mut message = customer.message(wamid, "system", sent);
    let mut system = json!({ "body": "User changed", "type": kind });
    set(&mut system, "wa_id", new.phone.as_deref());
    set(&mut system, "user_id", new.bsuid.as_deref());
    set(&mut system, "parent_user_id", new.parent_bsuid.as_deref());
    message["system"] = system;
    message
}

/// One `user_id_update[]` item: the customer's BSUID (and parent BSUID) rotated.
#[must_use]
pub fn user_id_update(previous: &Customer, current: &Customer, at: DateTime<Utc>) -> Value {
    let mut update = json!({
        "detail": "User id has been updated.",
        "user_id": { "previous": previous.bsuid, "current": current.bsuid },
        "parent_user_id": { "previous": previous.parent_bsuid, "current": current.parent_bsuid },
        "timestamp": at.timestamp().to_string(),
    });
    set(&mut update, "wa_id", current.phone.as_deref());
    update
}

/// The `value` of a `business_username_update` change.
#[must_use]
pub fn business_username_update(display_phone_number: &str, username: &str, status: &str) -> Value {
    json!({ "display_phone_number": display_phone_number, "username": username, "status": status })
}

/// A message the business sent from the WhatsApp Business app (`smb_message_echoes[]`).
#[must_use]
pub fn message_echo(customer: &Customer, wamid: &str, sent: DateTime<Utc>) -> Value {
    let mut echo = json!({
        "from": DISPLAY_PHONE_NUMBER,
        "id": wamid,
        "timestamp": sent.timestamp().to_string(),
        "type": "text",
        "text": { "body": "Sent from the app" },
    });
    set(&mut echo, "to", customer.phone.as_deref());
    set(&mut echo, "to_user_id", customer.bsuid.as_deref());
    set(&mut echo, "to_parent_user_id", customer.parent_bsuid.as_deref());
    echo
}

/// A customer's marketing preference (`user_preferences[]`).
#[must_use]
pub fn user_preference(customer: &Customer, value: &str, at: DateTime<Utc>) -> Value {
    let mut preference = json!({
        "detail": "User requested to stop marketing messages",
        "category": "marketing_messages",
        "value": value,
        "timestamp": at.timestamp().to_string(),
    });
    set(&mut preference, "wa_id", customer.phone.as_deref());
    set(&mut preference, "user_id", customer.bsuid.as_deref());
    set(&mut preference, "parent_user_id", customer.parent_bsuid.as_deref());
    preference
}

/// A template as Meta lists it (`GET /{waba-id}/message_templates`).
#[must_use]
pub fn meta_template(id: &str, name: &str, category: &str, status: &str, quality: &str, body: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "language": "en_US",
        "category": category,
        "status": status,
        "quality_score": { "score": quality, "date": 1_764_979_200 },
        "rejected_reason": if status == "REJECTED" { "INVALID_FORMAT" } else { "NONE" },
        "components": [
            { "type": "HEADER", "format": "TEXT", "text": "Acme" },
            { "type": "BODY", "text": body },
            { "type": "FOOTER", "text": "Reply STOP to opt out" }
        ]
    })
}

/// The value of a `message_template_status_update` webhook.
#[must_use]
pub fn template_status_update(id: &str, name: &str, event: &str, reason: &str) -> Value {
    json!({
        "event": event,
        "message_template_id": id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n)),
        "message_template_name": name,
        "message_template_language": "en_US",
        "reason": reason,
    })
}

/// The value of a `message_template_quality_update` webhook.
#[must_use]
pub fn template_quality_update(id: &str, name: &str, previous: &str, new: &str) -> Value {
    json!({
        "previous_quality_score": previous,
        "new_quality_score": new,
        "message_template_id": id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n)),
        "message_template_name": name,
        "message_template_language": "en_US",
    })
}

/// The value of a `template_category_update` webhook.
#[must_use]
pub fn template_category_update(id: &str, name: &str, previous: &str, new: &str) -> Value {
    json!({
        "message_template_id": id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n)),
        "message_template_name": name,
        "message_template_language": "en_US",
        "previous_category": previous,
        "new_category": new,
    })
}
