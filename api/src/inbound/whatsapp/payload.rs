//! Meta's webhook envelope (`reference/whatsapp-cloud-api.md` §2, §6, §7, §9).
//!
//! Only the envelope is parsed strictly enough to route; each change's `value` stays a JSON
//! value until its field is known, so one change Parley cannot read never stops the others.

use serde::Deserialize;
use serde_json::Value;

/// `{"object": "whatsapp_business_account", "entry": [...]}`.
#[derive(Debug, Deserialize)]
pub struct Webhook {
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

/// One WABA's batch of changes.
#[derive(Debug, Deserialize)]
pub struct Entry {
    /// The WABA id.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// One change: its field name and its value.
#[derive(Debug, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

/// The value of a `messages` change.
#[derive(Debug, Deserialize)]
pub struct MessagesValue {
    pub metadata: Metadata,
    #[serde(default)]
    pub contacts: Vec<ContactInfo>,
    /// Checked to be a list; [`super::read`] reads each item from the change's value.
    #[serde(default)]
    pub messages: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    pub statuses: Vec<serde::de::IgnoredAny>,
}

/// Which business number the change is for.
#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    pub phone_number_id: String,
}

/// `contacts[]`: who wrote.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContactInfo {
    #[serde(default)]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub parent_user_id: Option<String>,
}

/// `contacts[].profile`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

/// The fields of `messages[]` that every message type has.
#[derive(Debug, Deserialize)]
pub struct MessageHead {
    pub id: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub from_user_id: Option<String>,
    #[serde(default)]
    pub from_parent_user_id: Option<String>,
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Reads a change's value as `T`, naming the field on failure.
///
/// # Errors
/// When the value does not have the expected shape.
pub fn read_value<T: for<'de> Deserialize<'de>>(field: &str, value: &Value) -> Result<T, String> {
    T::deserialize(value).map_err(|e| format!("unreadable {field} change: {e}"))
}

/// One item of `statuses[]`.
#[derive(Debug, Deserialize)]
pub struct StatusItem {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub recipient_user_id: Option<String>,
    /// The parent BSUID under its current name…
    #[serde(default)]
    pub recipient_parent_user_id: Option<String>,
    /// …its name from April 2026…
    #[serde(default)]
    pub parent_recipient_user_id: Option<String>,
    /// …and its first name.
    #[serde(default)]
    pub parent_user_id: Option<String>,
    #[serde(default)]
    pub errors: Vec<StatusError>,
}

impl StatusItem {
    /// The parent BSUID, whichever of its three names Meta used.
    #[must_use]
    pub fn parent_bsuid(&self) -> Option<&str> {
        self.recipient_parent_user_id
            .as_deref()
            .or(self.parent_recipient_user_id.as_deref())
            .or(self.parent_user_id.as_deref())
    }
}

/// `statuses[].errors[]`.
#[derive(Debug, Deserialize)]
pub struct StatusError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// The value of a `user_id_update` change.
#[derive(Debug, Deserialize)]
pub struct UserIdUpdateValue {
    pub metadata: Metadata,
    #[serde(default)]
    pub user_id_update: Vec<UserIdUpdate>,
}

/// One BSUID rotation.
#[derive(Debug, Deserialize)]
pub struct UserIdUpdate {
    #[serde(default)]
    pub wa_id: Option<String>,
    pub user_id: PreviousCurrent,
    #[serde(default)]
    pub parent_user_id: Option<PreviousCurrent>,
}

/// `{"previous": …, "current": …}`.
#[derive(Debug, Deserialize)]
pub struct PreviousCurrent {
    #[serde(default)]
    pub previous: Option<String>,
    #[serde(default)]
    pub current: Option<String>,
}

/// The value of a `business_username_update(s)` change.
#[derive(Debug, Deserialize)]
pub struct BusinessUsernameUpdate {
    pub display_phone_number: String,
    #[serde(default)]
    pub username: Option<String>,
    pub status: String,
}
