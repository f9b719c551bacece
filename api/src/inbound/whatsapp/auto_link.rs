//! Auto-link on an attested phone (PRODUCT.md section 15, opt-in per workspace): when a customer
//! shares their phone through the request button (`origin: contact_request`, attested by Meta)
//! and exactly one contact of the workspace has that phone, the conversation is linked to it,
//! as an agent would link it, with `system` as the actor. Never when no contact or several have
//! the phone, when one of the conversation's identities belongs to another contact, or when the
//! conversation is linked already. A phone typed in a message or a contact card shared any
//! other way never reaches here (only a `contact_request` card is a shared phone).

use chrono::{DateTime, Utc};
use domain::{IdentityKind, PhoneNumber};
use persistence::conversations::{ConversationChange, Link};
use persistence::{Announce, Conversation, Error, contacts};
use serde_json::json;

use crate::events::Event;
use crate::inbound::group::Group;

/// Links `conversation` to the one contact with `phone` when the workspace allows it; returns
/// the conversation as it will be stored.
///
/// # Errors
/// On a database failure.
pub(crate) async fn on_shared_phone(
    db: &impl Announce,
    group: &mut Group,
    conversation: Conversation,
    phone: &PhoneNumber,
    now: DateTime<Utc>,
) -> Result<Conversation, Error> {
    let workspace = conversation.workspace_id;
    if conversation.contact_id.is_some()
        || !persistence::settings::of(db, workspace).await?.is_some_and(|s| s.auto_link_attested_phone)
    {
        return Ok(conversation);
    }
    let [contact_id] = contacts::with_phone(db, workspace, phone).await?[..] else {
        return Ok(conversation);
    };
    let Some(contact) = contacts::find(db, workspace, contact_id).await? else {
        return Ok(conversation);
    };
    let mut identities = vec![(IdentityKind::Phone, phone.as_str().to_owned(), phone.as_str().to_owned())];
    if let Some(bsuid) = &conversation.customer_bsuid {
        identities.push((IdentityKind::Bsuid, bsuid.as_str().to_owned(), bsuid.as_str().to_owned()));
    }
    if let Some(username) = &conversation.customer_username {
        identities.push((IdentityKind::Username, username.as_str().to_owned(), username.key()));
    }
    let keys: Vec<(IdentityKind, String)> = identities.iter().map(|(k, _, key)| (*k, key.clone())).collect();
    let owners = contacts::owners_of(db, workspace, &keys).await?;
    if owners.iter().any(|o| o.contact_id != contact.id) {
        return Ok(conversation);
    }
    for (kind, value, key) in &identities {
        if !owners.iter().any(|o| o.kind == *kind && o.value_key == *key) {
            let identity = contacts::NewIdentity {
                workspace_id: workspace,
                contact_id: contact.id,
                kind: *kind,
                value,
                key,
                source: Some(conversation.id),
            };
            contacts::add_identity(db, identity, now).await?;
        }
    }
    let link = Link { contact: contact.id, by: None, at: now };
    let change = ConversationChange { link: Some(Some(link)), ..ConversationChange::default() };
    let linked = group.update_conversation(conversation, change, now)?;
    group.stage(Event::ConversationLinked { conversation: &linked, contact: &contact, automatic: true }, now);
    let entry = persistence::audit::Entry {
        agent: None,
        action: "conversation.linked",
        subject_type: "conversation",
        subject_id: linked.id.into(),
        details: Some(json!({ "contactId": contact.id, "automatic": true, "source": "contact_request" })),
    };
    persistence::audit::record(db, workspace, entry, now).await?;
    Ok(linked)
}
