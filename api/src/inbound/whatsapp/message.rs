//! One inbound `messages[]` item, read: the customer's identity, the type, a readable summary,
//! what may be stored, its file, reaction or reply target, or a reason to keep it as a dead
//! letter. [`super::read`] calls it for every message of a webhook.

use chrono::{DateTime, Utc};
use domain::threading::InboundIdentity;
use domain::{Bsuid, ParentBsuid, PhoneNumber, Username};
use serde_json::Value;

use persistence::attachments::Announced;

use super::payload::{ContactInfo, MessageHead, read_value};

/// One inbound message, read and checked.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// Meta's `wamid`: opaque, never parsed, never logged.
    pub wamid: String,
    pub identity: InboundIdentity,
    pub parent_bsuid: Option<ParentBsuid>,
    pub username: Option<Username>,
    pub profile_name: Option<String>,
    /// Meta's message type (`text`, `image`, …).
    pub kind: String,
    /// A readable summary (the body of a text, a caption, `[location] …`).
    pub summary: String,
    /// The message object minus ids that could reveal a hidden phone.
    pub content: Value,
    /// When the customer wrote it (the message's own timestamp).
    pub sent_at: DateTime<Utc>,
    /// Whether the message opens or extends the 24-hour window (system notices do not).
    pub counts_for_window: bool,
    /// A phone the customer shared with the request-contact-info button (`contacts` message
    /// with `origin: contact_request`); a contact card shared by hand (`origin: other`) is not.
    pub shared_phone: Option<PhoneNumber>,
    /// For `system` messages of type `user_changed_user_id` / `user_changed_number`: the
    /// customer's new identity.
    pub identity_change: Option<IdentityChange>,
    /// The file of an image, video, audio (voice note), document or sticker message, to fetch.
    pub media: Option<Announced>,
    /// A reaction: not a message but an emoji on the message it names.
    pub reaction: Option<Reaction>,
    /// `context.id`: the `wamid` of the message this one replies to.
    pub reply_to: Option<String>,
}

/// An inbound reaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The `wamid` of the message reacted to.
    pub message_id: String,
    /// The emoji; empty (or absent in Meta's payload) when the reaction is removed.
    pub emoji: String,
}

pub use domain::identity_change::IdentityChange;

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("{0}")]
    Shape(String),
    #[error("message timestamp {0:?} is not a Unix time")]
    Timestamp(String),
    #[error("message carries neither a phone number nor a BSUID")]
    NoIdentity,
    #[error("invalid {field}: {problem}")]
    Identity { field: &'static str, problem: String },
    #[error("group messages are not supported")]
    Group,
}

/// Reads one `messages[]` item with the change's `contacts[]`.
///
/// # Errors
/// When the message lacks its id, timestamp or type, or names no valid identity.
pub fn read_message(raw: &Value, contacts: &[ContactInfo]) -> Result<InboundMessage, InboundError> {
    let head: MessageHead = read_value("messages", raw).map_err(InboundError::Shape)?;
    if raw.get("group_id").is_some() {
        return Err(InboundError::Group);
    }
    let contact = matching_contact(&head, contacts);
    let phone_text = head.from.as_deref().or(contact.and_then(|c| c.wa_id.as_deref()));
    let bsuid_text = head.from_user_id.as_deref().or(contact.and_then(|c| c.user_id.as_deref()));
    let parent_text =
        head.from_parent_user_id.as_deref().or(contact.and_then(|c| c.parent_user_id.as_deref()));
    let phone = non_empty(phone_text)
        .map(PhoneNumber::from_whatsapp)
        .transpose()
        .map_err(|e| InboundError::Identity { field: "from", problem: e.to_string() })?;
    let bsuid = non_empty(bsuid_text)
        .map(Bsuid::parse)
        .transpose()
        .map_err(|e| InboundError::Identity { field: "from_user_id", problem: e.to_string() })?;
    // A malformed parent BSUID or username is dropped, not fatal: they are attributes.
    let parent_bsuid = non_empty(parent_text).and_then(|p| ParentBsuid::parse(p).ok());
    let profile = contact.and_then(|c| c.profile.as_ref());
    let username =
        profile.and_then(|p| non_empty(p.username.as_deref())).and_then(|u| Username::parse(u).ok());
    let profile_name = profile.and_then(|p| non_empty(p.name.as_deref())).map(|n| n.trim().to_owned());
    let identity = InboundIdentity::new(phone, bsuid).map_err(|_| InboundError::NoIdentity)?;
    let seconds: i64 =
        head.timestamp.trim().parse().map_err(|_| InboundError::Timestamp(head.timestamp.clone()))?;
    let sent_at =
        DateTime::<Utc>::from_timestamp(seconds, 0).ok_or(InboundError::Timestamp(head.timestamp.clone()))?;
    let identity_change = (head.kind == "system").then(|| system_change(raw, identity.bsuid())).flatten();
    let reaction = (head.kind == "reaction").then(|| raw.get("reaction")).flatten().and_then(|r| {
        let message_id = r.get("message_id")?.as_str()?.to_owned();
        let emoji = r.get("emoji").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
        Some(Reaction { message_id, emoji })
    });
    let reply_to = text_at(raw, &["context", "id"]).map(str::to_owned);
    Ok(InboundMessage {
        media: announced_media(&head.kind, raw),
        reaction,
        reply_to,
        counts_for_window: head.kind != "system",
        shared_phone: if head.kind == "contacts" { requested_phone(raw) } else { None },
        identity_change,
        summary: summarize(&head.kind, raw),
        content: storable_content(raw),
        wamid: head.id,
        identity,
        parent_bsuid,
        username,
        profile_name,
        kind: head.kind,
        sent_at,
    })
}

/// The file an image, video, audio, document or sticker message announces: Meta's media id
/// (and, lately, a download `url`), MIME type, SHA-256, caption and file name.
fn announced_media(kind: &str, raw: &Value) -> Option<Announced> {
    let object = raw.get(kind)?;
    let voice = object.get("voice").and_then(Value::as_bool).unwrap_or(false);
    let kind = domain::media::inbound_kind(kind, voice)?;
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    Some(Announced {
        kind,
        mime_type: text("mime_type").unwrap_or("application/octet-stream").to_owned(),
        file_name: text("filename").map(str::to_owned),
        caption: text("caption").map(str::to_owned),
        provider_media_id: text("id")?.to_owned(),
        provider_sha256: text("sha256").map(str::to_owned),
        provider_url: text("url").map(str::to_owned),
    })
}

/// The phone of a `contacts` message sent with the request-contact-info button.
fn requested_phone(raw: &Value) -> Option<PhoneNumber> {
    raw.get("contacts")?.as_array()?.iter().find_map(|card| {
        if card.get("origin").and_then(Value::as_str) != Some("contact_request") {
            return None;
        }
        card.get("phones")?.as_array()?.iter().find_map(|p| {
            let wa_id =
                p.get("wa_id").and_then(Value::as_str).and_then(|d| PhoneNumber::from_whatsapp(d).ok());
            wa_id.or_else(|| p.get("phone").and_then(Value::as_str).and_then(|d| PhoneNumber::parse(d).ok()))
        })
    })
}

/// The new identity in a `system` message about a changed number or BSUID.
fn system_change(raw: &Value, sender: Option<&Bsuid>) -> Option<IdentityChange> {
    let system = raw.get("system")?;
    let kind = system.get("type").and_then(Value::as_str)?;
    if kind != "user_changed_user_id" && kind != "user_changed_number" {
        return None;
    }
    let text = |key: &str| system.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    Some(IdentityChange {
        previous_bsuid: sender.cloned(),
        new_bsuid: text("user_id").and_then(|b| Bsuid::parse(b).ok()),
        new_parent_bsuid: text("parent_user_id").and_then(|b| ParentBsuid::parse(b).ok()),
        new_phone: text("wa_id").and_then(|p| PhoneNumber::from_whatsapp(p).ok()),
    })
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The `contacts[]` entry of the message's sender: by BSUID, then phone, then the only one.
fn matching_contact<'a>(head: &MessageHead, contacts: &'a [ContactInfo]) -> Option<&'a ContactInfo> {
    let by_bsuid =
        head.from_user_id.as_deref().and_then(|u| contacts.iter().find(|c| c.user_id.as_deref() == Some(u)));
    let by_phone =
        || head.from.as_deref().and_then(|f| contacts.iter().find(|c| c.wa_id.as_deref() == Some(f)));
    by_bsuid.or_else(by_phone).or_else(|| if contacts.len() == 1 { contacts.first() } else { None })
}

/// The message object without its own `id` (stored apart), `from` and `timestamp`. Nested ids
/// (a reply's `context`, a reaction's `message_id`) stay; the ingestion replaces them by their
/// digests for a customer who hid the number, whose `wamid`s can encode the phone.
fn storable_content(raw: &Value) -> Value {
    let mut content = raw.clone();
    if let Some(object) = content.as_object_mut() {
        for key in ["id", "from", "timestamp"] {
            object.remove(key);
        }
    }
    content
}

fn text_at<'a>(raw: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut node = raw;
    for key in path {
        node = node.get(key)?;
    }
    node.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A one-line, human-readable summary of any message type.
#[must_use]
pub fn summarize(kind: &str, raw: &Value) -> String {
    let with = |label: &str, detail: Option<&str>| match detail {
        Some(d) => format!("[{label}] {d}"),
        None => format!("[{label}]"),
    };
    match kind {
        "text" => text_at(raw, &["text", "body"]).unwrap_or_default().to_owned(),
        "image" | "video" | "document" | "audio" | "sticker" => {
            let caption = text_at(raw, &[kind, "caption"]).or_else(|| text_at(raw, &[kind, "filename"]));
            with(kind, caption)
        }
        "location" => {
            let name = text_at(raw, &["location", "name"]).or_else(|| text_at(raw, &["location", "address"]));
            with("location", name)
        }
        "contacts" => {
            let names: Vec<&str> = raw
                .get("contacts")
                .and_then(Value::as_array)
                .map(|cards| cards.iter().filter_map(|c| text_at(c, &["name", "formatted_name"])).collect())
                .unwrap_or_default();
            with("contact", (!names.is_empty()).then(|| names.join(", ")).as_deref())
        }
        "interactive" => {
            let title = text_at(raw, &["interactive", "button_reply", "title"])
                .or_else(|| text_at(raw, &["interactive", "list_reply", "title"]))
                .or_else(|| text_at(raw, &["interactive", "nfm_reply", "name"]));
            with("reply", title)
        }
        "button" => with("button", text_at(raw, &["button", "text"])),
        "reaction" => with("reaction", text_at(raw, &["reaction", "emoji"])),
        "order" => {
            let items =
                raw.get("order").and_then(|o| o.get("product_items")).and_then(Value::as_array).map(Vec::len);
            with("order", items.map(|n| format!("{n} item(s)")).as_deref())
        }
        "system" => with("system", text_at(raw, &["system", "body"])),
        "unsupported" | "unknown" => "[unsupported message]".to_owned(),
        other => format!("[{other}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_username_only_message_has_no_phone_and_keeps_no_wamid() {
        let contacts = vec![ContactInfo {
            profile: Some(super::super::payload::Profile {
                name: Some("Sheena Nelson".into()),
                username: Some("@realsheenanelson".into()),
            }),
            user_id: Some("US.13491208655302741918".into()),
            parent_user_id: Some("US.ENT.11815799212886844830".into()),
            wa_id: None,
        }];
        let raw = json!({
            "from_user_id": "US.13491208655302741918",
            "from_parent_user_id": "US.ENT.11815799212886844830",
            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            "timestamp": "1749416383",
            "type": "text",
            "text": { "body": "Does it come in another color?" }
        });
        let m = read_message(&raw, &contacts).unwrap();
        assert_eq!(m.identity.phone(), None);
        assert_eq!(m.identity.bsuid().unwrap().as_str(), "US.13491208655302741918");
        assert_eq!(m.username.unwrap().display(), "@realsheenanelson");
        assert_eq!(m.summary, "Does it come in another color?");
        assert!(m.content.get("id").is_none());
        assert!(!m.content.to_string().contains("HBgL"));
    }

    #[test]
    fn summaries_cover_every_message_type() {
        let cases = [
            ("image", json!({"image": {"caption": "receipt"}}), "[image] receipt"),
            ("audio", json!({"audio": {"id": "1"}}), "[audio]"),
            ("document", json!({"document": {"filename": "invoice.pdf"}}), "[document] invoice.pdf"),
            ("location", json!({"location": {"name": "Store 4"}}), "[location] Store 4"),
            ("contacts", json!({"contacts": [{"name": {"formatted_name": "Ana"}}]}), "[contact] Ana"),
            ("interactive", json!({"interactive": {"button_reply": {"title": "Yes"}}}), "[reply] Yes"),
            ("interactive", json!({"interactive": {"list_reply": {"title": "Blue"}}}), "[reply] Blue"),
            ("button", json!({"button": {"text": "Stop promotions"}}), "[button] Stop promotions"),
            ("reaction", json!({"reaction": {"emoji": "👍"}}), "[reaction] 👍"),
            ("order", json!({"order": {"product_items": [{}, {}]}}), "[order] 2 item(s)"),
            ("system", json!({"system": {"body": "User changed"}}), "[system] User changed"),
            ("unsupported", json!({}), "[unsupported message]"),
            ("sticker", json!({"sticker": {}}), "[sticker]"),
            ("video", json!({"video": {"caption": "demo"}}), "[video] demo"),
        ];
        for (kind, raw, expected) in cases {
            assert_eq!(summarize(kind, &raw), expected, "{kind}");
        }
    }

    #[test]
    fn only_a_requested_contact_card_shares_the_phone() {
        let contacts = vec![ContactInfo { user_id: Some("US.1349".into()), ..Default::default() }];
        let mut raw = json!({
            "id": "wamid.x", "timestamp": "1749416383", "type": "contacts", "from_user_id": "US.1349",
            "contacts": [{ "origin": "contact_request", "phones": [{ "phone": "+16505551234", "wa_id": "16505551234", "type": "CELL" }] }]
        });
        let m = read_message(&raw, &contacts).unwrap();
        assert_eq!(m.shared_phone.unwrap().as_str(), "+16505551234");
        raw["contacts"][0]["origin"] = json!("other");
        raw["contacts"][0]["name"] = json!({ "formatted_name": "Ana" });
        let m = read_message(&raw, &contacts).unwrap();
        assert_eq!(m.shared_phone, None);
        assert_eq!(m.summary, "[contact] Ana");
    }

    #[test]
    fn system_messages_announce_a_new_bsuid_and_do_not_open_the_window() {
        let raw = json!({
            "from_user_id": "US.1111", "id": "wamid.x", "timestamp": "1749416383", "type": "system",
            "system": { "body": "User A changed from US.1111 to US.2222", "user_id": "US.2222", "parent_user_id": "US.ENT.3", "type": "user_changed_user_id" }
        });
        let m = read_message(&raw, &[]).unwrap();
        assert!(!m.counts_for_window);
        let change = m.identity_change.unwrap();
        assert_eq!(change.previous_bsuid.unwrap().as_str(), "US.1111");
        assert_eq!(change.new_bsuid.unwrap().as_str(), "US.2222");
        assert_eq!(change.new_parent_bsuid.unwrap().as_str(), "US.ENT.3");
    }

    #[test]
    fn group_messages_are_refused() {
        let raw = json!({"from_user_id": "US.1", "group_id": "g1", "id": "wamid.x", "timestamp": "1", "type": "text"});
        assert!(matches!(read_message(&raw, &[]), Err(InboundError::Group)));
    }

    #[test]
    fn a_message_without_any_identity_is_refused() {
        let raw = json!({"id": "wamid.x", "timestamp": "1749416383", "type": "text", "text": {"body": "hi"}});
        assert!(matches!(read_message(&raw, &[]), Err(InboundError::NoIdentity)));
    }
}
