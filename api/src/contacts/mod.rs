//! Contacts (PRODUCT.md section 5): creating one from a conversation, linking a conversation to
//! an existing one, unlinking. A contact is never created automatically; a returning customer's
//! new thread is only *suggested* a contact until an agent links it.
//!
//! Rules:
//! - the conversation's username, BSUID and phone become the contact's identities (each unique
//!   in the workspace: one owned by another contact is a `CONFLICT` naming that contact);
//! - relinking a conversation already linked to another contact needs `ADMIN`;
//! - linking is idempotent;
//! - `unlinkContact` is for admins, and for the agent who made the link within 24 hours of it
//!   (to undo a mistake); it removes only the identities that link added.
//!
//! [`records`]: contacts as a CRM keeps them (without a conversation, update, upsert by
//! `externalId`, merge, delete). [`privacy`]: exporting and erasing a customer (privacy
//! requests), which reach the customer's contacts too. [`retention`]: the daily job that erases
//! what is older than the workspace's `retentionDays` with the same eraser.

pub mod privacy;
pub mod records;
pub mod retention;

use crate::events::Event;
use chrono::{DateTime, Utc};
use domain::contacts::{LinkedBy, may_relink, may_unlink};
use domain::{ContactId, ConversationId, IdentityKind, Permission, PhoneNumber};
use persistence::Announce;
use persistence::conversations::{ConversationChange, Link};
use persistence::{ConnectionTrait, Database, contacts, conversations};
use persistence::{Contact, Conversation};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::workflow::conversations::{capabilities_changed, capabilities_now, get_for_update};

/// The identities a conversation contributes: (kind, value as shown, comparison key).
fn identities_of(c: &Conversation, extra_phone: Option<&PhoneNumber>) -> Vec<(IdentityKind, String, String)> {
    let mut out = Vec::new();
    let mut phones: Vec<&PhoneNumber> = c.customer_phone.iter().collect();
    if let Some(p) = extra_phone.filter(|p| !phones.contains(p)) {
        phones.push(p);
    }
    for phone in phones {
        out.push((IdentityKind::Phone, phone.as_str().to_owned(), phone.as_str().to_owned()));
    }
    if let Some(b) = &c.customer_bsuid {
        out.push((IdentityKind::Bsuid, b.as_str().to_owned(), b.as_str().to_owned()));
    }
    if let Some(u) = &c.customer_username {
        out.push((IdentityKind::Username, u.as_str().to_owned(), u.key()));
    }
    out
}

/// Saves the identities the contact does not have yet; one owned by another contact is a conflict.
async fn add_identities(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    contact: ContactId,
    conversation: Option<ConversationId>,
    identities: Vec<(IdentityKind, String, String)>,
    now: DateTime<Utc>,
) -> ApiResult<usize> {
    let mut added = 0;
    for (kind, value, key) in identities {
        match contacts::owner_of_identity(db, viewer.workspace_id, kind, &key).await? {
            Some(owner) if owner.contact_id == contact => {}
            Some(owner) => {
                let what = match kind {
                    IdentityKind::Phone => "phone number",
                    IdentityKind::Bsuid => "BSUID",
                    IdentityKind::Username => "username",
                };
                return Err(ApiError::Conflict(format!(
                    "this {what} already belongs to contact {}",
                    owner.contact_id
                )));
            }
            None => {
                let identity = contacts::NewIdentity {
                    workspace_id: viewer.workspace_id,
                    contact_id: contact,
                    kind,
                    value: &value,
                    key: &key,
                    source: conversation,
                };
                contacts::add_identity(db, identity, now).await?;
                added += 1;
            }
        }
    }
    Ok(added)
}

/// Unlinks `current` from its contact inside the caller's transaction (writes the event).
async fn detach(
    db: &impl Announce,
    viewer: &Viewer,
    current: Conversation,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    let Some(previous) = current.contact_id else { return Ok(current) };
    let before = capabilities_now(db, &current, now).await?;
    contacts::remove_identities_from(db, viewer.workspace_id, previous, current.id).await?;
    let change = ConversationChange { link: Some(None), ..ConversationChange::default() };
    let saved = conversations::update(db, current, change, now).await?;
    crate::events::emit(db, Event::ConversationUnlinked { conversation: &saved, previous }, now).await?;
    let after = capabilities_now(db, &saved, now).await?;
    capabilities_changed(db, &saved, "contact_unlinked", &before, &after, now).await?;
    let details = serde_json::json!({ "contactId": previous });
    crate::store::audit(db, viewer, "conversation.unlinked", ("conversation", saved.id), details, now)
        .await?;
    Ok(saved)
}

async fn attach(
    db: &impl Announce,
    viewer: &Viewer,
    current: Conversation,
    contact: &Contact,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    let before = capabilities_now(db, &current, now).await?;
    let link = Link { contact: contact.id, by: Some(viewer.agent_id), at: now };
    let change = ConversationChange { link: Some(Some(link)), ..ConversationChange::default() };
    let saved = conversations::update(db, current, change, now).await?;
    crate::events::emit(
        db,
        Event::ConversationLinked { conversation: &saved, contact, automatic: false },
        now,
    )
    .await?;
    let after = capabilities_now(db, &saved, now).await?;
    capabilities_changed(db, &saved, "contact_linked", &before, &after, now).await?;
    let details = serde_json::json!({ "contactId": contact.id });
    crate::store::audit(db, viewer, "conversation.linked", ("conversation", saved.id), details, now).await?;
    Ok(saved)
}

/// Creates a contact, from a conversation (its identities become the contact's, and it is
/// linked) or on its own (a CRM's record; its phone becomes an identity).
///
/// # Errors
/// `BAD_USER_INPUT` for the fields, `CONFLICT` for an identity or `externalId` of another
/// contact, `FORBIDDEN` when relinking without `ADMIN`, `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn create_contact(
    db: &Database,
    viewer: &Viewer,
    conversation: Option<ConversationId>,
    fields: &records::ContactFields,
    now: DateTime<Utc>,
) -> ApiResult<Contact> {
    viewer.require(Permission::EditContacts)?;
    let checked = fields.check()?;
    db.write(async |txn| {
        let Some(id) = conversation else {
            let created = records::create_alone(txn, viewer, &checked, now).await?;
            return Ok(created);
        };
        let mut current = get_for_update(txn, viewer, id).await?;
        if current.contact_id.is_some() {
            may_relink(viewer.role).map_err(ApiError::Forbidden)?;
            current = detach(txn, viewer, current, now).await?;
        }
        let typed_phone = checked.phone.clone().flatten();
        let phone = typed_phone.clone().or_else(|| current.customer_phone.clone());
        let contact_id = ContactId::new();
        let contact =
            contacts::create(txn, records::new_contact(viewer, contact_id, &checked, phone.as_ref())?, now)
                .await?;
        let identities = identities_of(&current, typed_phone.as_ref());
        add_identities(txn, viewer, contact_id, Some(id), identities, now).await?;
        crate::events::emit(
            txn,
            Event::ContactCreated { contact: &contact, conversation: Some(&current) },
            now,
        )
        .await?;
        crate::store::audit(
            txn,
            viewer,
            "contact.created",
            ("contact", contact_id),
            serde_json::json!({}),
            now,
        )
        .await?;
        attach(txn, viewer, current, &contact, now).await?;
        Ok(contact)
    })
    .await
}

/// Links a conversation to an existing contact (idempotent).
///
/// # Errors
/// `FORBIDDEN` when relinking without `ADMIN`, `CONFLICT` for an identity owned by another
/// contact, `NOT_FOUND` for either id.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id, contact_id = %contact_id))]
pub async fn link_to_existing(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    contact_id: ContactId,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    viewer.require(Permission::EditContacts)?;
    db.write(async |txn| {
        let mut current = get_for_update(txn, viewer, id).await?;
        let contact = contacts::find(txn, viewer.workspace_id, contact_id)
            .await?
            .ok_or(ApiError::NotFound("contact"))?;
        if current.contact_id == Some(contact.id) {
            return Ok(current);
        }
        if current.contact_id.is_some() {
            may_relink(viewer.role).map_err(ApiError::Forbidden)?;
            current = detach(txn, viewer, current, now).await?;
        }
        let added =
            add_identities(txn, viewer, contact_id, Some(id), identities_of(&current, None), now).await?;
        if added > 0 {
            let touched = contacts::touch(txn, contact.clone(), now).await?;
            let updated = Event::ContactUpdated { contact: &touched, conversation: Some(&current) };
            crate::events::emit(txn, updated, now).await?;
        }
        let saved = attach(txn, viewer, current, &contact, now).await?;
        Ok(saved)
    })
    .await
}

/// Unlinks a conversation from its contact, removing the identities that link added.
///
/// # Errors
/// `FORBIDDEN` unless `ADMIN` or the linking agent within 24 hours; `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn unlink(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    viewer.require(Permission::EditContacts)?;
    db.write(async |txn| {
        let current = get_for_update(txn, viewer, id).await?;
        if current.contact_id.is_none() {
            return Ok(current);
        }
        let link = LinkedBy { agent: current.linked_by_agent_id, at: current.linked_at };
        may_unlink(viewer.role, viewer.agent_id, link, now).map_err(ApiError::Forbidden)?;
        let saved = detach(txn, viewer, current, now).await?;
        Ok(saved)
    })
    .await
}

/// One page of the workspace's contacts, newest first, optionally searched (name substring,
/// `@username` prefix, phone digits).
///
/// # Errors
/// `BAD_USER_INPUT` for an over-long search; storage failures.
pub async fn list(
    db: &Database,
    viewer: &Viewer,
    search: Option<&str>,
    after: Option<contacts::ContactCursor>,
    limit: u64,
) -> ApiResult<Vec<Contact>> {
    let search = crate::input::valid_search(search)?;
    Ok(contacts::list(db.conn(), viewer.workspace_id, search.as_ref(), after, limit).await?)
}

/// A contact of the viewer's workspace.
///
/// # Errors
/// `NOT_FOUND` when it does not exist in the workspace.
pub async fn get(db: &Database, viewer: &Viewer, id: ContactId) -> ApiResult<Contact> {
    contacts::find(db.conn(), viewer.workspace_id, id).await?.ok_or(ApiError::NotFound("contact"))
}
