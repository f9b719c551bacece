//! Inbound WhatsApp messages: the threading decision of PRODUCT.md section 3 applied inside the
//! webhook's transaction.
//!
//! Privacy: a `wamid` can encode the sender's phone number. For a conversation whose customer
//! hid the number, Parley stores only a SHA-256 digest of the `wamid` (enough to deduplicate
//! and to match status webhooks) and strips ids from the stored message content, so the hidden
//! number cannot be derived from anything Parley keeps.

use chrono::{DateTime, Utc};
use domain::threading::{self, KnownThread, ThreadDecision, ThreadLookup};
use domain::{
    Bsuid, BusinessNumberId, Channel, ContactId, ConversationId, ConversationStatus, Direction, IdentityKind,
    MessageId, MessageStatus, PhoneNumber, ThreadKeyKind, WorkspaceId,
};
use persistence::entities::{business_number, conversation, message};
use persistence::events::{self, NewEvent, types};
use persistence::{ConnectionTrait, StoreError, contacts, conversations, messages};
use sea_orm::ActiveValue::Set;
use sea_orm::IntoActiveModel;
use sha2::{Digest, Sha256};

use super::event_data;
use crate::whatsapp::inbound::{IdentityChange, InboundMessage};

/// What happened to one inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Already stored (Meta delivers at least once): nothing changed, no event.
    Duplicate,
    Stored {
        conversation: ConversationId,
        message: MessageId,
        opened: bool,
    },
}

/// The digest form of a provider message id.
#[must_use]
pub fn external_id_digest(wamid: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(wamid.as_bytes())))
}

/// How a provider id is stored: as sent when the customer's phone is known, else as a digest.
#[must_use]
pub fn stored_external_id(wamid: &str, phone_known: bool) -> String {
    if phone_known { wamid.to_owned() } else { external_id_digest(wamid) }
}

fn known(c: &conversation::Model) -> KnownThread {
    KnownThread {
        id: ConversationId::from_uuid(c.id),
        phone: c.customer_phone.as_deref().and_then(|p| PhoneNumber::parse(p).ok()),
        bsuid: c.customer_bsuid.as_deref().and_then(|b| Bsuid::parse(b).ok()),
    }
}

/// Stores one inbound message on business number `number`, inside the caller's transaction.
///
/// # Errors
/// On a database failure. [`StoreError::Duplicate`] means a concurrent webhook opened the same
/// conversation first: roll back and retry the webhook.
pub async fn record_inbound(
    db: &impl ConnectionTrait,
    number: &business_number::Model,
    msg: &InboundMessage,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, StoreError> {
    let number_id = BusinessNumberId::from_uuid(number.id);
    let workspace = WorkspaceId::from_uuid(number.workspace_id);
    let ids = [msg.wamid.clone(), external_id_digest(&msg.wamid)];
    if messages::find_by_any_external_id(db, number_id, &ids).await?.is_some() {
        return Ok(IngestOutcome::Duplicate);
    }

    let identity = &msg.identity;
    let keyed_by_phone = match identity.phone() {
        Some(p) => {
            conversations::find_by_key(db, number_id, Channel::Whatsapp, ThreadKeyKind::Phone, p.as_str())
                .await?
        }
        None => None,
    };
    let keyed_by_bsuid = match (identity.bsuid(), &keyed_by_phone) {
        (Some(b), None) => {
            conversations::find_by_key(db, number_id, Channel::Whatsapp, ThreadKeyKind::Bsuid, b.as_str())
                .await?
        }
        _ => None,
    };
    let latest_with_bsuid = match (identity.phone(), identity.bsuid(), &keyed_by_phone, &keyed_by_bsuid) {
        (None, Some(b), None, None) => conversations::latest_with_bsuid(db, workspace, b).await?,
        _ => None,
    };
    let lookup = ThreadLookup {
        keyed_by_phone: keyed_by_phone.as_ref().map(known),
        keyed_by_bsuid: keyed_by_bsuid.as_ref().map(known),
        latest_with_bsuid: latest_with_bsuid.as_ref().map(|c| ConversationId::from_uuid(c.id)),
    };

    let mut pending_events = Vec::new();
    let mut phone_source = "whatsapp";
    let (conversation, opened) = match threading::decide(identity, &lookup) {
        ThreadDecision::Append { conversation: id, record_bsuid, record_phone } => {
            let current = [keyed_by_phone, keyed_by_bsuid]
                .into_iter()
                .flatten()
                .find(|c| c.id == id.as_uuid())
                .ok_or_else(|| {
                    StoreError::Unexpected(anyhow::anyhow!("threading chose a conversation it was not given"))
                })?;
            // A phone shared with the request button counts only from the conversation's own BSUID.
            let own_bsuid =
                identity.bsuid().is_some_and(|b| current.customer_bsuid.as_deref() == Some(b.as_str()));
            let shared = msg
                .shared_phone
                .clone()
                .filter(|p| own_bsuid && current.customer_phone.as_deref() != Some(p.as_str()));
            if shared.is_some() {
                phone_source = "contact_request";
            }
            let record_phone = record_phone.or(shared);
            let phone_shared = record_phone.is_some();
            let (saved, changed) = append(db, current, msg, record_bsuid, record_phone, now).await?;
            if changed {
                pending_events.push((types::CONVERSATION_UPDATED, None));
            }
            if phone_shared {
                pending_events.push((types::CUSTOMER_PHONE_SHARED, None));
            }
            (saved, false)
        }
        ThreadDecision::Open { key, origin, previous } => {
            let username_key = msg.username.as_ref().map(domain::Username::key);
            let model = conversation::ActiveModel {
                id: Set(ConversationId::new().as_uuid()),
                workspace_id: Set(workspace.as_uuid()),
                business_number_id: Set(number.id),
                channel: Set(Channel::Whatsapp.as_str().to_owned()),
                active_channel: Set(Channel::Whatsapp.as_str().to_owned()),
                key_kind: Set(key.kind().as_str().to_owned()),
                key_value: Set(key.value().to_owned()),
                customer_phone: Set(identity
                    .phone()
                    .or(msg.shared_phone.as_ref())
                    .map(|p| p.as_str().to_owned())),
                customer_bsuid: Set(identity.bsuid().map(|b| b.as_str().to_owned())),
                customer_parent_bsuid: Set(msg.parent_bsuid.as_ref().map(|p| p.as_str().to_owned())),
                customer_username: Set(msg.username.as_ref().map(|u| u.as_str().to_owned())),
                customer_username_key: Set(username_key),
                customer_profile_name: Set(msg.profile_name.clone()),
                customer_profile_name_folded: Set(msg.profile_name.as_deref().map(domain::search::fold_name)),
                contact_id: Set(None),
                linked_by_agent_id: Set(None),
                linked_at: Set(None),
                assignee_id: Set(None),
                status: Set(ConversationStatus::Open.as_str().to_owned()),
                origin: Set(origin.as_str().to_owned()),
                previous_conversation_id: Set(previous.map(|p| p.as_uuid())),
                last_inbound_at: Set(msg.counts_for_window.then_some(msg.sent_at)),
                last_activity_at: Set(msg.sent_at),
                created_at: Set(now),
                updated_at: Set(now),
            };
            (conversations::insert(db, model).await?, true)
        }
    };

    let phone_known = conversation.customer_phone.is_some();
    let message = message::ActiveModel {
        id: Set(MessageId::new().as_uuid()),
        workspace_id: Set(workspace.as_uuid()),
        conversation_id: Set(conversation.id),
        business_number_id: Set(number.id),
        direction: Set(Direction::Inbound.as_str().to_owned()),
        channel: Set(Channel::Whatsapp.as_str().to_owned()),
        kind: Set(msg.kind.clone()),
        text: Set(Some(msg.summary.clone())),
        content: Set(Some(msg.content.clone())),
        template_id: Set(None),
        template_name: Set(None),
        template_category: Set(None),
        status: Set(MessageStatus::Received.as_str().to_owned()),
        external_id: Set(Some(stored_external_id(&msg.wamid, phone_known))),
        error_code: Set(None),
        error_title: Set(None),
        author_agent_id: Set(None),
        idempotency_key: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(None),
        sent_at: Set(msg.sent_at),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let message = messages::insert(db, message).await?;

    let conversation_id = ConversationId::from_uuid(conversation.id);
    let contact_id = conversation.contact_id.map(ContactId::from_uuid);
    if opened {
        pending_events.insert(0, (types::CONVERSATION_CREATED, None));
    }
    pending_events.push((types::MESSAGE_RECEIVED, Some(event_data::message(&message, &conversation))));
    for (event_type, data) in pending_events {
        let data = match (event_type, data) {
            (_, Some(data)) => data,
            (types::CUSTOMER_PHONE_SHARED, None) => serde_json::json!({
                "conversationId": conversation.id,
                "phoneNumber": conversation.customer_phone,
                "source": phone_source,
                "customer": event_data::customer(&conversation),
            }),
            (_, None) => event_data::conversation(&conversation),
        };
        let event = NewEvent { event_type, conversation_id: Some(conversation_id), contact_id, data };
        events::append(db, workspace, event, now).await?;
    }
    if let Some(change) = &msg.identity_change {
        apply_identity_change(db, workspace, Some(&conversation), change, now).await?;
    }
    Ok(IngestOutcome::Stored {
        conversation: conversation_id,
        message: MessageId::from_uuid(message.id),
        opened,
    })
}

/// Appends to an existing conversation: records new identity facts (never erasing a known
/// phone), refreshes username and profile name, moves the window, reopens if resolved.
/// Returns the saved conversation and whether anything but activity times changed.
async fn append(
    db: &impl ConnectionTrait,
    current: conversation::Model,
    msg: &InboundMessage,
    record_bsuid: Option<Bsuid>,
    record_phone: Option<PhoneNumber>,
    now: DateTime<Utc>,
) -> Result<(conversation::Model, bool), StoreError> {
    let mut changed = false;
    let reopen = current.status == ConversationStatus::Resolved.as_str();
    let last_inbound = match (current.last_inbound_at, msg.counts_for_window) {
        (Some(at), true) => Some(at.max(msg.sent_at)),
        (None, true) => Some(msg.sent_at),
        (known, false) => known,
    };
    let last_activity = current.last_activity_at.max(msg.sent_at);
    let parent = msg.parent_bsuid.as_ref().map(|p| p.as_str().to_owned());
    let username = msg.username.as_ref().map(|u| u.as_str().to_owned());
    let profile = msg.profile_name.clone();
    let new_parent = parent.is_some() && parent != current.customer_parent_bsuid;
    let new_username = username.is_some() && username != current.customer_username;
    let new_profile = profile.is_some() && profile != current.customer_profile_name;

    let mut change = current.into_active_model();
    if let Some(bsuid) = record_bsuid {
        change.customer_bsuid = Set(Some(bsuid.as_str().to_owned()));
        changed = true;
    }
    if let Some(phone) = record_phone {
        change.customer_phone = Set(Some(phone.as_str().to_owned()));
        changed = true;
    }
    if new_parent {
        change.customer_parent_bsuid = Set(parent);
        changed = true;
    }
    if new_username {
        change.customer_username_key = Set(msg.username.as_ref().map(domain::Username::key));
        change.customer_username = Set(username);
        changed = true;
    }
    if new_profile {
        change.customer_profile_name_folded = Set(profile.as_deref().map(domain::search::fold_name));
        change.customer_profile_name = Set(profile);
        changed = true;
    }
    if reopen {
        change.status = Set(ConversationStatus::Open.as_str().to_owned());
        changed = true;
    }
    change.last_inbound_at = Set(last_inbound);
    change.last_activity_at = Set(last_activity);
    change.updated_at = Set(now);
    Ok((conversations::update(db, change).await?, changed))
}

/// Records a customer's new BSUID (and parent BSUID or phone) on every conversation of the
/// workspace that carries the old one, re-keying BSUID-keyed threads so the next message from
/// the new BSUID joins the same conversation; saves the new BSUID on the contact that owns the
/// old one. Safe to apply twice (a rotation arrives as a `system` message *and* a
/// `user_id_update`): the second time finds nothing to change and writes no event.
///
/// # Errors
/// On a database failure.
pub async fn apply_identity_change(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    sender: Option<&conversation::Model>,
    change: &IdentityChange,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut targets = match &change.previous_bsuid {
        Some(old) => conversations::with_bsuid(db, workspace, old).await?,
        None => Vec::new(),
    };
    if let Some(sender) = sender.filter(|_| change.previous_bsuid.is_none()) {
        targets.push(sender.clone());
    }
    let mut changed = 0;
    for current in targets {
        let new_bsuid = change.new_bsuid.as_ref().map(|b| b.as_str().to_owned());
        let new_parent = change.new_parent_bsuid.as_ref().map(|b| b.as_str().to_owned());
        let new_phone = change.new_phone.as_ref().map(|p| p.as_str().to_owned());
        let bsuid_differs = new_bsuid.is_some() && new_bsuid != current.customer_bsuid;
        let parent_differs = new_parent.is_some() && new_parent != current.customer_parent_bsuid;
        let phone_differs = new_phone.is_some() && new_phone != current.customer_phone;
        if !bsuid_differs && !parent_differs && !phone_differs {
            continue;
        }
        let keyed_by_old = current.key_kind == ThreadKeyKind::Bsuid.as_str()
            && current.customer_bsuid.as_deref() == Some(current.key_value.as_str());
        let rekey = match (&new_bsuid, bsuid_differs && keyed_by_old) {
            (Some(new), true) => {
                let number = BusinessNumberId::from_uuid(current.business_number_id);
                let channel = current.channel.parse::<Channel>().unwrap_or(Channel::Whatsapp);
                conversations::find_by_key(db, number, channel, ThreadKeyKind::Bsuid, new).await?.is_none()
            }
            _ => false,
        };
        let mut update = current.clone().into_active_model();
        if bsuid_differs {
            update.customer_bsuid = Set(new_bsuid.clone());
            if let (true, Some(new)) = (rekey, &new_bsuid) {
                update.key_value = Set(new.clone());
            }
        }
        if parent_differs {
            update.customer_parent_bsuid = Set(new_parent);
        }
        if phone_differs {
            update.customer_phone = Set(new_phone);
        }
        update.updated_at = Set(now);
        let saved = conversations::update(db, update).await?;
        let event = NewEvent {
            event_type: types::CONVERSATION_UPDATED,
            conversation_id: Some(ConversationId::from_uuid(saved.id)),
            contact_id: saved.contact_id.map(ContactId::from_uuid),
            data: event_data::conversation(&saved),
        };
        events::append(db, workspace, event, now).await?;
        changed += 1;
    }
    if let (Some(old), Some(new)) = (&change.previous_bsuid, &change.new_bsuid) {
        let owner = contacts::owner_of_identity(db, workspace, IdentityKind::Bsuid, old.as_str()).await?;
        let taken = contacts::owner_of_identity(db, workspace, IdentityKind::Bsuid, new.as_str()).await?;
        if let (Some(owner), None) = (owner, taken) {
            let identity = contacts::NewIdentity {
                workspace_id: workspace,
                contact_id: ContactId::from_uuid(owner.contact_id),
                kind: IdentityKind::Bsuid,
                value: new.as_str(),
                key: new.as_str(),
                source: owner.source_conversation_id.map(ConversationId::from_uuid),
            };
            contacts::add_identity(db, identity, now).await?;
        }
    }
    Ok(changed)
}
