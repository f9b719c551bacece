//! The one reader of Meta's webhooks: a body becomes its changes, each a list of typed items
//! (a message, a status, an identity change, a business-username update) or a reason to keep
//! it as a dead letter. [`super::apply`] stores what this reads and never looks at JSON:
//! what it keeps, it keeps as [`Kept`], which renders the original (ids digested) on demand.

use domain::statuses::{self, TemplateUpdate, UsernameState};
use domain::{
    Bsuid, BusinessUsername, BusinessUsernameStatus, MessageStatus, ParentBsuid, PhoneNumber,
    TemplateQuality, TemplateStatus,
};
use persistence::messages::{ProviderError, digest_wamids};
use serde_json::{Value, json};

pub use super::message::{InboundError, InboundMessage, Reaction, read_message};
use super::payload::{
    BusinessUsernameUpdate, Change, MessagesValue, Metadata, StatusItem, UserIdUpdate, UserIdUpdateValue,
    Webhook, read_value,
};
pub use domain::identity_change::IdentityChange;

/// One `entry[].changes[]`, read.
#[derive(Debug)]
pub struct ReadChange<'a> {
    /// The entry's WABA id (attributes a dead letter when its number is unknown).
    pub waba: Option<&'a str>,
    /// The whole change, should it be kept.
    pub kept: Kept<'a>,
    pub body: ChangeBody<'a>,
}

/// What a change says.
#[derive(Debug)]
pub enum ChangeBody<'a> {
    /// Items for the business number with this `phone_number_id` (messages, statuses, BSUID
    /// rotations), in the order Meta listed them.
    ForNumber { phone_number_id: String, items: Vec<Item<'a>> },
    /// A business username update, for the WABA's number with this display number.
    Username(UsernameUpdate),
    /// Meta's review of one of the WABA's templates changed.
    Template(TemplateUpdate),
    /// Nothing Parley can apply: kept whole.
    Unreadable { kind: &'static str, detail: String },
}

/// One item of a change for a business number.
#[derive(Debug)]
pub enum Item<'a> {
    Message(Box<InboundMessage>),
    Status(StatusUpdate),
    IdentityChange(IdentityChange),
    /// An item that could not be read: kept (in its number's workspace) with its reason.
    Unreadable {
        kind: &'static str,
        detail: String,
        kept: Kept<'a>,
    },
}

/// A business username update, read.
#[derive(Debug)]
pub struct UsernameUpdate {
    /// The number it is about (its display number).
    pub display: Option<PhoneNumber>,
    /// The username and status it gives that number (both `None`: deleted), or why it cannot
    /// be read.
    pub state: Result<(Option<BusinessUsername>, Option<BusinessUsernameStatus>), String>,
    /// The canonical digest of the change: a replay of the same body changes nothing.
    pub receipt: String,
}

/// The original of what may be kept as a dead letter: rendered only when it is kept.
#[derive(Debug, Clone, Copy)]
pub enum Kept<'a> {
    /// A whole change.
    Change { entry: Option<&'a str>, change: &'a Change },
    /// One item of a change, with the change's metadata.
    Item { field: &'static str, name: &'static str, metadata: Option<&'a Value>, item: &'a Value },
    /// A BSUID rotation: only its previous BSUID is kept (its phone may be a hidden customer's).
    Rotation { metadata: Option<&'a Value>, previous: Option<&'a str> },
}

impl Kept<'_> {
    /// The dead letter's payload: the original JSON with every `wamid` replaced by its digest
    /// (it may be a hidden customer's, which can encode the phone).
    #[must_use]
    pub fn payload(&self) -> String {
        let mut value = match *self {
            Kept::Change { entry, change } => {
                json!({ "entry": entry, "field": change.field, "value": change.value })
            }
            Kept::Item { field, name, metadata, item } => {
                json!({ "field": field, "metadata": metadata, name: item })
            }
            Kept::Rotation { metadata, previous } => {
                json!({ "field": "user_id_update", "metadata": metadata, "update": previous })
            }
        };
        digest_wamids(&mut value);
        value.to_string()
    }
}

/// Reads every change of a webhook.
#[must_use]
pub fn read_webhook(webhook: &Webhook) -> Vec<ReadChange<'_>> {
    let mut changes = Vec::new();
    for entry in &webhook.entry {
        let waba = entry.id.as_deref();
        for change in &entry.changes {
            let kept = Kept::Change { entry: entry.id.as_deref(), change };
            let body = match change.field.as_str() {
                "messages" => messages_change(change),
                "user_id_update" => rotations(change),
                "business_username_update" | "business_username_updates" => {
                    username_change(entry.id.as_deref(), change)
                }
                "message_template_status_update"
                | "message_template_quality_update"
                | "template_category_update" => template_change(change),
                other => {
                    ChangeBody::Unreadable { kind: "unsupported webhook field", detail: format!("{other:?}") }
                }
            };
            changes.push(ReadChange { waba, kept, body });
        }
    }
    changes
}

fn unreadable_change(reason: String) -> ChangeBody<'static> {
    ChangeBody::Unreadable { kind: "unreadable change", detail: reason }
}

fn number_of(metadata: &Metadata) -> String {
    metadata.phone_number_id.clone()
}

fn messages_change(change: &Change) -> ChangeBody<'_> {
    let value: MessagesValue = match read_value(&change.field, &change.value) {
        Ok(value) => value,
        Err(reason) => return unreadable_change(reason),
    };
    let metadata = change.value.get("metadata");
    let mut items = Vec::with_capacity(value.messages.len() + value.statuses.len());
    let raw_messages = change.value.get("messages").and_then(Value::as_array);
    for raw in raw_messages.into_iter().flatten() {
        items.push(match read_message(raw, &value.contacts) {
            Ok(message) => Item::Message(Box::new(message)),
            Err(err) => {
                let (kind, detail) = match err {
                    InboundError::Group => ("group messages are not supported", String::new()),
                    other => ("unreadable message", other.to_string()),
                };
                let kept = Kept::Item { field: "messages", name: "message", metadata, item: raw };
                Item::Unreadable { kind, detail, kept }
            }
        });
    }
    let raw_statuses = change.value.get("statuses").and_then(Value::as_array);
    for raw in raw_statuses.into_iter().flatten() {
        items.push(match read_status(raw) {
            Ok(status) => Item::Status(status),
            Err(detail) => {
                let kept = Kept::Item { field: "statuses", name: "status", metadata, item: raw };
                Item::Unreadable { kind: "unreadable status", detail, kept }
            }
        });
    }
    ChangeBody::ForNumber { phone_number_id: number_of(&value.metadata), items }
}

fn rotations(change: &Change) -> ChangeBody<'_> {
    let value: UserIdUpdateValue = match read_value(&change.field, &change.value) {
        Ok(value) => value,
        Err(reason) => return unreadable_change(reason),
    };
    let metadata = change.value.get("metadata");
    let raw_updates = change.value.get("user_id_update").and_then(Value::as_array);
    let items = value
        .user_id_update
        .iter()
        .zip(raw_updates.into_iter().flatten())
        .map(|(update, raw)| match read_identity_change(update) {
            Ok(change) => Item::IdentityChange(change),
            Err(reason) => {
                let previous = raw.get("user_id").and_then(|u| u.get("previous")).and_then(Value::as_str);
                let kept = Kept::Rotation { metadata, previous };
                Item::Unreadable { kind: "unreadable identity update", detail: reason.to_owned(), kept }
            }
        })
        .collect();
    ChangeBody::ForNumber { phone_number_id: number_of(&value.metadata), items }
}

fn username_change<'a>(entry: Option<&str>, change: &'a Change) -> ChangeBody<'a> {
    let value: BusinessUsernameUpdate = match read_value(&change.field, &change.value) {
        Ok(value) => value,
        Err(reason) => return unreadable_change(reason),
    };
    let whole = json!({ "entry": entry, "field": change.field, "value": change.value });
    ChangeBody::Username(UsernameUpdate {
        display: PhoneNumber::from_whatsapp(&value.display_phone_number).ok(),
        state: read_username_update(&value),
        receipt: persistence::receipts::digest(&whole),
    })
}

/// A template webhook: the template it names and what it says changed.
fn template_change(change: &Change) -> ChangeBody<'_> {
    let value = &change.value;
    let text = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())))
    };
    let mut update = TemplateUpdate {
        meta_id: text("message_template_id"),
        name: text("message_template_name"),
        language: text("message_template_language"),
        ..TemplateUpdate::default()
    };
    match change.field.as_str() {
        "message_template_status_update" => {
            let event = text("event").unwrap_or_default();
            let Some(status) = TemplateStatus::from_meta(&event) else {
                return unreadable_change(format!("unknown template status {event:?}"));
            };
            update.status = Some(status);
            update.reason = Some(text("reason").filter(|r| !r.is_empty() && r != "NONE"));
        }
        "message_template_quality_update" => {
            update.quality = text("new_quality_score").map(|q| TemplateQuality::from_meta(&q));
        }
        _ => update.category = text("new_category").and_then(|c| c.to_ascii_uppercase().parse().ok()),
    }
    if update.meta_id.is_none() && (update.name.is_none() || update.language.is_none()) {
        return unreadable_change("template update without its id, or its name and language".to_owned());
    }
    if update.status.is_none() && update.quality.is_none() && update.category.is_none() {
        return unreadable_change("template update without a status, quality or category".to_owned());
    }
    ChangeBody::Template(update)
}

/// One `statuses[]` item, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The `wamid` of the outbound message it is about.
    pub wamid: String,
    /// `None` for a word Parley does not track (the update is ignored).
    pub status: Option<MessageStatus>,
    /// Meta's first error, for `failed`.
    pub error: Option<ProviderError>,
    /// The recipient's BSUID and parent BSUID, when Meta names them (recorded as aliases).
    pub recipient_bsuid: Option<Bsuid>,
    pub recipient_parent_bsuid: Option<ParentBsuid>,
}

/// Reads one `statuses[]` item.
///
/// # Errors
/// The reason, when it lacks its id or status.
pub fn read_status(raw: &Value) -> Result<StatusUpdate, String> {
    let item: StatusItem = read_value("statuses", raw)?;
    let status = statuses::message_status(&item.status);
    let error = (status == Some(MessageStatus::Failed)).then(|| {
        let first = item.errors.first();
        ProviderError {
            code: first.and_then(|e| e.code),
            title: first.and_then(|e| e.title.clone().or_else(|| e.message.clone())),
        }
    });
    Ok(StatusUpdate {
        recipient_bsuid: item.recipient_user_id.as_deref().and_then(|b| Bsuid::parse(b).ok()),
        recipient_parent_bsuid: item.parent_bsuid().and_then(|b| ParentBsuid::parse(b).ok()),
        wamid: item.id,
        status,
        error,
    })
}

/// Reads one `user_id_update[]` item (a BSUID rotation).
///
/// # Errors
/// The reason, when the previous or current BSUID is missing or invalid.
pub fn read_identity_change(update: &UserIdUpdate) -> Result<IdentityChange, &'static str> {
    let bsuid = |v: Option<&String>| v.and_then(|b| Bsuid::parse(b).ok());
    let (Some(previous), Some(current)) =
        (bsuid(update.user_id.previous.as_ref()), bsuid(update.user_id.current.as_ref()))
    else {
        return Err("user_id_update without a valid previous and current BSUID");
    };
    Ok(IdentityChange {
        previous_bsuid: Some(previous),
        new_bsuid: Some(current),
        new_parent_bsuid: update
            .parent_user_id
            .as_ref()
            .and_then(|p| p.current.as_deref())
            .and_then(|p| ParentBsuid::parse(p).ok()),
        new_phone: update.wa_id.as_deref().and_then(|p| PhoneNumber::from_whatsapp(p).ok()),
    })
}

/// The username and status a `business_username_update` gives its number: both `None` when
/// the username was deleted.
///
/// # Errors
/// The reason, for an unknown status or a held username that is missing or invalid.
pub fn read_username_update(
    update: &BusinessUsernameUpdate,
) -> Result<(Option<BusinessUsername>, Option<BusinessUsernameStatus>), String> {
    match statuses::username_state(&update.status) {
        Some(UsernameState::Deleted) => Ok((None, None)),
        Some(UsernameState::Held(status)) => match update.username.as_deref().map(BusinessUsername::parse) {
            Some(Ok(username)) => Ok((Some(username), Some(status))),
            _ => Err("business username update without a valid username".to_owned()),
        },
        None => Err(format!("unknown business username status {:?}", update.status)),
    }
}
