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
