//! Contact records as a CRM keeps them: created without a conversation, updated, upserted by
//! the CRM's own id (`externalId`), merged and deleted. Every change is one transaction with
//! its event and audit entry; bad input changes nothing.
//!
//! Rules:
//! - `externalId` is unique per workspace; `upsertContact` is idempotent by it, also when two
//!   calls race (the database's unique index decides, the loser updates what the winner made);
//! - `attributes` is a JSON object of at most 50 keys and 16 KB, replaced whole on update;
//! - a contact's own phone (typed, not from a conversation) is one of its identities: changing
//!   it replaces that identity, and one owned by another contact is a `CONFLICT`;
//! - merging moves the secondary's conversations and identities to the primary; the primary's
//!   set fields win (attributes: the primary's keys win); the secondary is deleted;
//! - deleting unlinks the contact's conversations (their capabilities no longer count the
//!   contact's phone) and removes its identities.

use chrono::{DateTime, Utc};
use domain::{ContactId, Email, IdentityKind, Permission, PhoneNumber};
use persistence::Announce;
use persistence::Contact;
use persistence::contacts::ContactChange;
use persistence::{Database, contacts, conversations};
use serde_json::{Value, json};

use super::add_identities;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::input::valid_name;
use crate::store::audit;
use crate::workflow::conversations::contact_phone_flips;

/// The most keys `attributes` may have.
pub const MAX_ATTRIBUTE_KEYS: usize = 50;
/// The largest `attributes` may be, as compact JSON.
pub const MAX_ATTRIBUTE_BYTES: usize = 16 * 1024;
/// The longest `externalId`.
const MAX_EXTERNAL_ID: usize = 200;

/// The fields of a contact as typed; each `None` is absent (on update: left as it is), each
/// `Some(None)` an explicit null (on update: cleared).
#[derive(Clone, Debug, Default)]
pub struct ContactFields {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub phone_number: Option<Option<String>>,
    pub external_id: Option<Option<String>>,
    pub attributes: Option<Option<Value>>,
}

/// [`ContactFields`], checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Checked {
    pub name: Option<String>,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<PhoneNumber>>,
    pub external_id: Option<Option<String>>,
    pub attributes: Option<Option<Value>>,
}

impl ContactFields {
    /// Checks every field (a blank e-mail, phone or external id reads as a null).
    pub(super) fn check(&self) -> ApiResult<Checked> {
        let blank_is_null = |v: &Option<Option<String>>| -> Option<Option<String>> {
            v.as_ref().map(|v| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
        };
        let email = blank_is_null(&self.email)
            .map(|e| e.as_deref().map(Email::parse).transpose())
            .transpose()
            .map_err(|e| ApiError::bad_input(format!("email: {e}")))?;
        let phone = blank_is_null(&self.phone_number)
            .map(|p| p.as_deref().map(PhoneNumber::parse).transpose())
            .transpose()
            .map_err(|e| ApiError::bad_input(format!("phoneNumber: {e}")))?;
        let external_id = blank_is_null(&self.external_id);
        if let Some(Some(id)) = &external_id
            && (id.chars().count() > MAX_EXTERNAL_ID || id.chars().any(char::is_control))
        {
            return Err(ApiError::bad_input(format!(
                "externalId must be 1 to {MAX_EXTERNAL_ID} characters without control characters"
            )));
        }
        if let Some(Some(attributes)) = &self.attributes {
            valid_attributes(attributes)?;
        }
        Ok(Checked {
            name: self.name.as_deref().map(|n| valid_name("name", n)).transpose()?,
            email,
            phone,
            external_id,
            attributes: self.attributes.clone(),
        })
    }
}

/// A JSON object of at most [`MAX_ATTRIBUTE_KEYS`] keys and [`MAX_ATTRIBUTE_BYTES`] bytes.
fn valid_attributes(attributes: &Value) -> ApiResult<()> {
    let Value::Object(map) = attributes else {
        return Err(ApiError::bad_input("attributes must be a JSON object"));
    };
    if map.len() > MAX_ATTRIBUTE_KEYS {
        return Err(ApiError::bad_input(format!("attributes may have at most {MAX_ATTRIBUTE_KEYS} keys")));
    }
    let text = attributes.to_string();
    if text.len() > MAX_ATTRIBUTE_BYTES {
        return Err(ApiError::bad_input(format!(
            "attributes may be at most {MAX_ATTRIBUTE_BYTES} bytes of JSON"
        )));
    }
    // Serialized JSON writes NUL as an escape; no database stores it in a JSON column.
    if text.contains("\\u0000") {
        return Err(ApiError::bad_input("attributes may not contain NUL characters"));
    }
    Ok(())
}

impl Checked {
    /// The change these fields make to `current` (only what differs).
    fn change_of(&self, current: &Contact) -> ContactChange {
        ContactChange {
            name: self.name.clone().filter(|n| *n != current.name),
            email: self.email.clone().filter(|e| *e != current.email),
            phone: self.phone.clone().filter(|p| *p != current.phone),
            external_id: self.external_id.clone().filter(|x| *x != current.external_id),
            attributes: self.attributes.clone().filter(|a| *a != current.attributes),
        }
    }
}

/// A new contact from checked fields (`name` required).
pub(super) fn new_contact<'a>(
    viewer: &Viewer,
    id: ContactId,
    fields: &'a Checked,
    phone: Option<&'a PhoneNumber>,
) -> ApiResult<contacts::NewContact<'a>> {
    let name =
        fields.name.as_deref().ok_or_else(|| ApiError::bad_input("name is required for a new contact"))?;
    Ok(contacts::NewContact {
        id,
        workspace_id: viewer.workspace_id,
        name,
        email: fields.email.as_ref().and_then(Option::as_ref),
        phone,
        created_by: Some(viewer.agent_id),
        external_id: fields.external_id.as_ref().and_then(Option::as_deref),
        attributes: fields.attributes.as_ref().and_then(Option::as_ref),
    })
}

/// The identity a contact's own phone is.
fn phone_identity(phone: &PhoneNumber) -> (IdentityKind, String, String) {
    (IdentityKind::Phone, phone.as_str().to_owned(), phone.as_str().to_owned())
}

/// Creates a contact without a conversation (a CRM's record): its phone becomes an identity.
pub(super) async fn create_alone(
    db: &impl Announce,
    viewer: &Viewer,
    fields: &Checked,
    now: DateTime<Utc>,
) -> ApiResult<Contact> {
    let phone = fields.phone.clone().flatten();
    let new = new_contact(viewer, ContactId::new(), fields, phone.as_ref())?;
    let created = contacts::create(db, new, now).await?;
    created_after(db, viewer, &created, now).await?;
    Ok(created)
}

/// What follows a contact's creation without a conversation: its phone identity, the event
/// and the audit entry.
async fn created_after(
    db: &impl Announce,
    viewer: &Viewer,
    created: &Contact,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if let Some(phone) = &created.phone {
        add_identities(db, viewer, created.id, None, vec![phone_identity(phone)], now).await?;
    }
    crate::events::emit(db, Event::ContactCreated { contact: created, conversation: None }, now).await?;
    audit(db, viewer, "contact.created", ("contact", created.id), json!({}), now).await?;
    Ok(())
}

/// Applies checked fields to a locked contact; writes `contact.updated` and an audit entry
/// naming the changed fields when something changed.
async fn apply(
    db: &impl Announce,
    viewer: &Viewer,
    current: Contact,
    fields: &Checked,
    now: DateTime<Utc>,
) -> ApiResult<Contact> {
    let change = fields.change_of(&current);
    if change == ContactChange::default() {
        return Ok(current);
    }
    if let Some(new_phone) = &change.phone {
        if let Some(old) = &current.phone {
            contacts::remove_own_identity(
                db,
                viewer.workspace_id,
                current.id,
                IdentityKind::Phone,
                old.as_str(),
            )
            .await?;
        }
        if let Some(phone) = new_phone {
            add_identities(db, viewer, current.id, None, vec![phone_identity(phone)], now).await?;
        }
    }
    let changed: Vec<&str> = [
        ("name", change.name.is_some()),
        ("email", change.email.is_some()),
        ("phoneNumber", change.phone.is_some()),
        ("externalId", change.external_id.is_some()),
        ("attributes", change.attributes.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, changed)| changed.then_some(field))
    .collect();
    let had_phone = current.phone.is_some();
    let saved = contacts::update(db, current, change, now).await?;
    crate::events::emit(db, Event::ContactUpdated { contact: &saved, conversation: None }, now).await?;
    if had_phone != saved.phone.is_some() {
        let linked = conversations::unresolved_of_contact(db, viewer.workspace_id, saved.id).await?;
        contact_phone_flips(db, &linked, had_phone, saved.phone.is_some(), "contact_updated", now).await?;
    }
    audit(db, viewer, "contact.updated", ("contact", saved.id), json!({ "fields": changed }), now).await?;
    Ok(saved)
}

/// Changes a contact's fields (absent ones stay; an explicit null clears all but `name`).
///
/// # Errors
/// `BAD_USER_INPUT` for the fields, `NOT_FOUND`, `CONFLICT` for an `externalId` or phone of
/// another contact.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, contact_id = %id))]
pub async fn update(
    db: &Database,
    viewer: &Viewer,
    id: ContactId,
    fields: &ContactFields,
    now: DateTime<Utc>,
) -> ApiResult<Contact> {
    viewer.require(Permission::EditContacts)?;
    if matches!(fields.name, Some(ref n) if n.trim().is_empty()) {
        return Err(ApiError::bad_input("name cannot be cleared"));
    }
    let checked = fields.check()?;
    db.write(async |txn| {
        let current = contacts::find_for_update(txn, viewer.workspace_id, id)
            .await?
            .ok_or(ApiError::NotFound("contact"))?;
        let saved = apply(txn, viewer, current, &checked, now).await?;
        Ok(saved)
    })
    .await
}

/// Creates or updates the contact with this `externalId` (idempotent: the same call twice
/// changes nothing the second time, and two racing calls make one contact).
///
/// # Errors
/// `BAD_USER_INPUT` without an `externalId`, for the fields, or without a `name` for a new
/// contact; `CONFLICT` for a phone of another contact.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn upsert(
    db: &Database,
    viewer: &Viewer,
    fields: &ContactFields,
    now: DateTime<Utc>,
) -> ApiResult<Contact> {
    viewer.require(Permission::EditContacts)?;
    let checked = fields.check()?;
    let Some(Some(external_id)) = checked.external_id.clone() else {
        return Err(ApiError::bad_input("externalId is required"));
    };
    db.write(async |txn| {
        let phone = checked.phone.clone().flatten();
        // Without a name nothing can be created: only an existing contact is updated.
        let created = if checked.name.is_some() {
            let new = new_contact(viewer, ContactId::new(), &checked, phone.as_ref())?;
            contacts::insert_if_absent(txn, new, now).await?
        } else {
            false
        };
        let current = contacts::find_by_external_id_for_update(txn, viewer.workspace_id, &external_id)
            .await?
            .ok_or_else(|| ApiError::bad_input("name is required for a new contact"))?;
        let saved = if created {
            created_after(txn, viewer, &current, now).await?;
            current
        } else {
            apply(txn, viewer, current, &checked, now).await?
        };
        Ok(saved)
    })
    .await
}

/// Merges `secondary` into `primary` (admins); returns the primary.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `BAD_USER_INPUT` for a contact merged with itself or merged
/// attributes over the limits, `NOT_FOUND` for either id.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, primary = %primary, secondary = %secondary))]
pub async fn merge(
    db: &Database,
    viewer: &Viewer,
    primary: ContactId,
    secondary: ContactId,
    now: DateTime<Utc>,
) -> ApiResult<Contact> {
    viewer.require_admin()?;
    if primary == secondary {
        return Err(ApiError::bad_input("a contact cannot be merged with itself"));
    }
    db.write(async |txn| {
        // Locked in id order, so two merges of the same pair cannot deadlock.
        let first = contacts::find_for_update(txn, viewer.workspace_id, primary.min(secondary)).await?;
        let second = contacts::find_for_update(txn, viewer.workspace_id, primary.max(secondary)).await?;
        let (Some(first), Some(second)) = (first, second) else { return Err(ApiError::NotFound("contact")) };
        let (keep, gone) = if first.id == primary { (first, second) } else { (second, first) };
        let attributes = match (&keep.attributes, &gone.attributes) {
            (Some(Value::Object(mine)), Some(Value::Object(theirs))) => {
                let mut merged = theirs.clone();
                merged.extend(mine.clone());
                let merged = Value::Object(merged);
                valid_attributes(&merged)?;
                Some(merged)
            }
            (mine, theirs) => mine.clone().or_else(|| theirs.clone()),
        };
        let moved = contacts::relink_all(txn, viewer.workspace_id, gone.id, Some(keep.id), now).await?;
        contacts::move_identities(txn, viewer.workspace_id, gone.id, keep.id).await?;
        contacts::delete(txn, viewer.workspace_id, gone.id).await?;
        let change = ContactChange {
            email: keep.email.is_none().then(|| gone.email.clone()),
            phone: keep.phone.is_none().then(|| gone.phone.clone()),
            external_id: keep.external_id.is_none().then(|| gone.external_id.clone()),
            attributes: Some(attributes),
            ..ContactChange::default()
        };
        let keep_had_phone = keep.phone.is_some();
        let saved = contacts::update(txn, keep, change, now).await?;
        let has_phone = saved.phone.is_some();
        let moved_rows = conversations::find_by_ids(txn, viewer.workspace_id, &moved).await?;
        contact_phone_flips(txn, &moved_rows, gone.phone.is_some(), has_phone, "contact_merged", now).await?;
        let kept_rows: Vec<_> = conversations::unresolved_of_contact(txn, viewer.workspace_id, saved.id)
            .await?
            .into_iter()
            .filter(|c| !moved.contains(&c.id))
            .collect();
        contact_phone_flips(txn, &kept_rows, keep_had_phone, has_phone, "contact_merged", now).await?;
        let merged = Event::ContactMerged { contact: &saved, merged: gone.id, conversations: &moved };
        crate::events::emit(txn, merged, now).await?;
        let details = json!({ "mergedContactId": gone.id, "conversations": moved.len() });
        audit(txn, viewer, "contact.merged", ("contact", saved.id), details, now).await?;
        Ok(saved)
    })
    .await
}

/// Deletes a contact (admins): its conversations are unlinked, its identities removed.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, contact_id = %id))]
pub async fn delete(db: &Database, viewer: &Viewer, id: ContactId, now: DateTime<Utc>) -> ApiResult<()> {
    viewer.require_admin()?;
    db.write(async |txn| {
        let found = contacts::find_for_update(txn, viewer.workspace_id, id)
            .await?
            .ok_or(ApiError::NotFound("contact"))?;
        deleted(txn, viewer, &found, now).await?;
        Ok(())
    })
    .await
}

/// Unlinks a contact's conversations and deletes it, with its event and audit entry (inside
/// the caller's transaction; erasure uses it too).
pub(crate) async fn deleted(
    db: &impl Announce,
    viewer: &Viewer,
    found: &Contact,
    now: DateTime<Utc>,
) -> ApiResult<Vec<domain::ConversationId>> {
    let unlinked = contacts::relink_all(db, viewer.workspace_id, found.id, None, now).await?;
    let rows = conversations::find_by_ids(db, viewer.workspace_id, &unlinked).await?;
    contact_phone_flips(db, &rows, found.phone.is_some(), false, "contact_deleted", now).await?;
    contacts::delete(db, viewer.workspace_id, found.id).await?;
    crate::events::emit(db, Event::ContactDeleted { contact: found, conversations: &unlinked }, now).await?;
    let details = json!({ "conversations": unlinked.len() });
    audit(db, viewer, "contact.deleted", ("contact", found.id), details, now).await?;
    Ok(unlinked)
}
