//! One inbound WhatsApp message, applied inside the webhook's transaction: the threading
//! decision of PRODUCT.md section 3, then the domain's append plan or a new conversation, the
//! message row and its events.
//!
//! Privacy: a `wamid` can encode the sender's phone number. For a conversation whose customer
//! hid the number, Parley stores a SHA-256 digest of the `wamid` (enough to deduplicate and to
//! match status webhooks) and the raw id only sealed (for replies, reactions and read
//! receipts), and replaces every `wamid.` string at any depth of the stored content by its
//! digest, so the hidden number cannot be derived from anything Parley keeps in the clear.

use crate::workflow::arrivals::Arrival as Met;
use chrono::{DateTime, Utc};
use domain::appending::{self, Arrival, Thread};
use domain::identity_change::{self, IdentityChange, Keyed};
use domain::threading::{self, KnownThread, ThreadDecision, ThreadLookup};
use domain::{Channel, ConversationId, Direction, IdentityKind, MessageId, ThreadKeyKind, WorkspaceId};
use persistence::Announce;
use persistence::content::MessageContent;
use persistence::conversations::{ConversationChange, CustomerFacts, NewConversation};
use persistence::messages::{NewMessage, Origin, StoredId, digest_wamids, external_id_digest};
use persistence::sealed::Keyring;
use persistence::{BusinessNumber, Conversation};
use persistence::{Error, attachments, contacts, conversations, messages, reactions, receipts};

use super::read::{InboundMessage, Reaction};
use crate::events::Event;
use crate::inbound::group::{Group, ids_of};
use crate::workflow::conversations::{around, capabilities_of};

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
    /// A reaction set on (or removed from) the message it names: no message is stored.
    Reacted {
        message: MessageId,
    },
    /// A reaction to a message Parley does not have (older than its data, or sent elsewhere).
    Unmatched,
}

fn known(c: &Conversation) -> KnownThread {
    KnownThread { id: c.id, phone: c.customer_phone.clone(), bsuid: c.customer_bsuid.clone() }
}

/// Stores one inbound message on business number `number`, inside the caller's transaction.
///
/// # Errors
/// On a database failure. [`Error::Duplicate`] means a concurrent webhook opened the same
/// conversation first: roll back and retry the webhook.
pub async fn record_inbound(
    db: &impl Announce,
    number: &BusinessNumber,
    msg: &InboundMessage,
    now: DateTime<Utc>,
    keyring: &Keyring,
) -> Result<IngestOutcome, Error> {
    let mut group = Group::default();
    let outcome = record_in_group(db, number, msg, now, keyring, &mut group).await?;
    group.finish(db).await?;
    Ok(outcome)
}

/// [`record_inbound`] within a group commit: the look-ups answered by `group` where it has
/// them, the conversation's change, the message and its events held in `group` (which the
/// caller flushes before committing).
///
/// # Errors
/// As [`record_inbound`].
pub(crate) async fn record_in_group(
    db: &impl Announce,
    number: &BusinessNumber,
    msg: &InboundMessage,
    now: DateTime<Utc>,
    keyring: &Keyring,
    group: &mut Group,
) -> Result<IngestOutcome, Error> {
    let workspace = number.workspace_id;
    if let Some(reaction) = &msg.reaction {
        group.settle(db).await?;
        return record_reaction(db, number, &msg.wamid, reaction, now).await;
    }
    let ids = ids_of(&msg.wamid);
    if group.has_message(db, number.id, &ids).await? {
        return Ok(IngestOutcome::Duplicate);
    }

    let identity = &msg.identity;
    let keyed_by_phone = match identity.phone() {
        Some(p) => group.by_key(db, number.id, Channel::Whatsapp, ThreadKeyKind::Phone, p.as_str()).await?,
        None => None,
    };
    let keyed_by_bsuid = match (identity.bsuid(), &keyed_by_phone) {
        (Some(b), None) => {
            group.by_key(db, number.id, Channel::Whatsapp, ThreadKeyKind::Bsuid, b.as_str()).await?
        }
        _ => None,
    };
    let latest_with_bsuid = match (identity.phone(), identity.bsuid(), &keyed_by_phone, &keyed_by_bsuid) {
        (None, Some(b), None, None) => {
            group.flush(db).await?;
            conversations::latest_with_bsuid(db, workspace, b).await?
        }
        _ => None,
    };
    let lookup = ThreadLookup {
        keyed_by_phone: keyed_by_phone.as_ref().map(known),
        keyed_by_bsuid: keyed_by_bsuid.as_ref().map(known),
        latest_with_bsuid: latest_with_bsuid.as_ref().map(|c| c.id),
    };

    // The events of an appended message besides `message.received`: the conversation changed,
    // the customer's phone became known.
    let (mut updated, mut phone_shared) = (false, None);
    // The conversation before a change that may flip a capability (a shared phone, a window
    // the message opens again).
    let mut flipping: Option<Conversation> = None;
    let mut reopened = false;
    let (conversation, opened) = match threading::decide(identity, &lookup) {
        ThreadDecision::Append { conversation: id, record_bsuid, record_phone } => {
            let current =
                [keyed_by_phone, keyed_by_bsuid].into_iter().flatten().find(|c| c.id == id).ok_or_else(
                    || Error::Unexpected(anyhow::anyhow!("threading chose a conversation it was not given")),
                )?;
            let plan = appending::plan(&thread_of(&current), &arrival_of(msg), record_bsuid, record_phone);
            reopened = plan.reopen;
            if plan.changes_conversation() {
                updated = true;
            }
            if let Some(source) = plan.phone_shared {
                phone_shared = Some(source);
            }
            let window_closed = current.last_inbound_at.is_none_or(|at| at + domain::SERVICE_WINDOW <= now);
            let window_opens = plan.last_inbound_at.is_some_and(|at| at + domain::SERVICE_WINDOW > now);
            if phone_shared.is_some() || (window_closed && window_opens) {
                flipping = Some(current.clone());
            }
            let change = ConversationChange {
                customer_phone: plan.record_phone,
                customer_bsuid: plan.record_bsuid,
                customer_parent_bsuid: plan.parent_bsuid,
                customer_username: plan.username,
                customer_profile_name: plan.profile_name,
                status: plan.reopen.then_some(domain::ConversationStatus::Open),
                last_inbound_at: plan.last_inbound_at,
                inbound_stored_at: Some(persistence::staged::stored_time(now)),
                last_activity_at: Some(plan.last_activity_at),
                ..ConversationChange::default()
            };
            (group.update_conversation(current, change, now)?, false)
        }
        ThreadDecision::Open { key, origin, previous } => {
            let new = NewConversation {
                workspace_id: workspace,
                business_number_id: number.id,
                channel: Channel::Whatsapp,
                key,
                customer: CustomerFacts {
                    phone: identity.phone().or(msg.shared_phone.as_ref()).cloned(),
                    bsuid: identity.bsuid().cloned(),
                    parent_bsuid: msg.parent_bsuid.clone(),
                    username: msg.username.clone(),
                    profile_name: msg.profile_name.clone(),
                },
                origin,
                previous,
                last_inbound_at: msg.counts_for_window.then_some(msg.sent_at),
                inbound_stored_at: Some(persistence::staged::stored_time(now)),
                last_activity_at: msg.sent_at,
                assignee: None,
                team: number.default_team_id,
                link: None,
                sms_opted_out: false,
            };
            let opened = conversations::insert(db, new, now).await?;
            group.opened(&opened);
            (opened, true)
        }
    };

    let reply_to = match &msg.reply_to {
        Some(wamid) => {
            group.flush(db).await?;
            let ids = ids_of(wamid);
            messages::find_by_any_external_id(db, number.id, &ids)
                .await?
                .filter(|quoted| quoted.conversation_id == conversation.id)
                .map(|quoted| quoted.id)
        }
        None => None,
    };
    let phone_known = conversation.customer_phone.is_some();
    let mut content = msg.content.clone();
    if !phone_known {
        digest_wamids(&mut content);
    }
    let new = NewMessage {
        origin: Origin::Inbound { id: StoredId::of(&msg.wamid, phone_known, keyring) },
        channel: Channel::Whatsapp,
        kind: msg.kind.clone(),
        text: msg.summary.clone(),
        content: Some(MessageContent::Inbound(content)),
        sent_at: msg.sent_at,
        reply_to,
    };
    let message = group.insert_message(&conversation, new, &ids, now)?;
    let arrival = match (opened, reopened) {
        (true, _) => Met::Opened,
        (false, true) => Met::Reopened,
        (false, false) => Met::Appended,
    };
    group.arrived(&conversation, arrival, msg.sent_at, now);
    if let Some(media) = &msg.media {
        group.flush(db).await?;
        attachments::insert_announced(db, &message, media.clone(), now + domain::media::FETCH_WINDOW, now)
            .await?;
    }

    if opened {
        group.stage(Event::ConversationCreated(&conversation), now);
    }
    if updated {
        group.stage(Event::ConversationUpdated(&conversation), now);
    }
    if let Some(source) = phone_shared {
        group.stage(Event::PhoneShared { conversation: &conversation, source }, now);
    }
    let conversation = match (phone_shared, &msg.shared_phone) {
        (Some(domain::appending::PhoneSource::ContactRequest), Some(phone)) => {
            super::auto_link::on_shared_phone(db, group, conversation, phone, now).await?
        }
        _ => conversation,
    };
    if let Some(before) = &flipping {
        let cause = if phone_shared.is_some() { "phone_shared" } else { "window_opened" };
        // The contact and number are read once, again only when auto-link changed the contact.
        let around_before = around(db, before).await?;
        let around_after = if conversation.contact_id == before.contact_id {
            around_before
        } else {
            around(db, &conversation).await?
        };
        let (before, after) =
            (capabilities_of(before, around_before, now), capabilities_of(&conversation, around_after, now));
        if before.flips(&after) {
            let event = Event::CapabilitiesChanged {
                conversation: &conversation,
                cause,
                before: &before,
                after: &after,
            };
            group.stage(event, now);
        }
    }
    group.stage(Event::MessageReceived { message: &message, conversation: &conversation }, now);
    if let Some(change) = &msg.identity_change {
        group.settle(db).await?;
        apply_identity_change(db, workspace, Some(&conversation), change, now).await?;
    }
    Ok(IngestOutcome::Stored { conversation: conversation.id, message: message.id, opened })
}

/// A customer's reaction: set on (or, with no emoji, removed from) the message it names, never a
/// message of its own; it neither opens nor reopens a conversation. A reaction event seen before
/// (Meta delivers at least once) changes nothing.
async fn record_reaction(
    db: &impl Announce,
    number: &BusinessNumber,
    wamid: &str,
    reaction: &Reaction,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, Error> {
    let ids = ids_of(&reaction.message_id);
    let Some(target) = messages::find_by_any_external_id(db, number.id, &ids).await? else {
        return Ok(IngestOutcome::Unmatched);
    };
    if !receipts::first_time(db, number.id, "reaction", &external_id_digest(wamid), now).await? {
        return Ok(IngestOutcome::Duplicate);
    }
    let saved = reactions::set(db, &target, Direction::Inbound, None, &reaction.emoji, now).await?;
    let conversation = conversations::find(db, number.workspace_id, target.conversation_id)
        .await?
        .ok_or(Error::MissingReference { what: "conversation" })?;
    crate::events::emit(
        db,
        crate::events::Event::Reaction { reaction: &saved, message: &target, conversation: &conversation },
        now,
    )
    .await?;
    Ok(IngestOutcome::Reacted { message: target.id })
}

fn thread_of(c: &Conversation) -> Thread<'_> {
    Thread {
        phone: c.customer_phone.as_ref(),
        bsuid: c.customer_bsuid.as_ref(),
        parent_bsuid: c.customer_parent_bsuid.as_ref(),
        username: c.customer_username.as_ref(),
        profile_name: c.customer_profile_name.as_deref(),
        status: c.status,
        last_inbound_at: c.last_inbound_at,
        last_activity_at: c.last_activity_at,
    }
}

fn arrival_of(msg: &InboundMessage) -> Arrival<'_> {
    Arrival {
        bsuid: msg.identity.bsuid(),
        parent_bsuid: msg.parent_bsuid.as_ref(),
        username: msg.username.as_ref(),
        profile_name: msg.profile_name.as_deref(),
        shared_phone: msg.shared_phone.as_ref(),
        sent_at: msg.sent_at,
        counts_for_window: msg.counts_for_window,
    }
}

/// Records a customer's new BSUID (and parent BSUID or phone) on every conversation of the
/// workspace that carries the old one (the domain's [`identity_change::plan`] per
/// conversation), re-keying BSUID-keyed threads so the next message from the new BSUID joins
/// the same conversation; saves the new BSUID on the contact that owns the old one. Safe to
/// apply twice (a rotation arrives as a `system` message *and* a `user_id_update`): the second
/// time finds nothing to change and writes no event.
///
/// # Errors
/// On a database failure.
pub async fn apply_identity_change(
    db: &impl Announce,
    workspace: WorkspaceId,
    sender: Option<&Conversation>,
    change: &IdentityChange,
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    let mut targets = match &change.previous_bsuid {
        Some(old) => conversations::with_bsuid(db, workspace, old).await?,
        None => Vec::new(),
    };
    if let Some(sender) = sender.filter(|_| change.previous_bsuid.is_none()) {
        targets.push(sender.clone());
    }
    let mut changed = 0;
    for current in targets {
        let keyed = Keyed {
            key_kind: current.key_kind,
            key_value: &current.key_value,
            bsuid: current.customer_bsuid.as_ref(),
            parent_bsuid: current.customer_parent_bsuid.as_ref(),
            phone: current.customer_phone.as_ref(),
        };
        let Some(plan) = identity_change::plan(change, &keyed) else { continue };
        let key_value = match plan.rekey_to {
            Some(new) => conversations::find_by_key(
                db,
                current.business_number_id,
                current.channel,
                ThreadKeyKind::Bsuid,
                new.as_str(),
            )
            .await?
            .is_none()
            .then(|| new.as_str().to_owned()),
            None => None,
        };
        let update = ConversationChange {
            customer_bsuid: plan.bsuid,
            customer_parent_bsuid: plan.parent_bsuid,
            customer_phone: plan.phone,
            key_value,
            ..ConversationChange::default()
        };
        let saved = conversations::update(db, current, update, now).await?;
        crate::events::emit(db, crate::events::Event::ConversationUpdated(&saved), now).await?;
        changed += 1;
    }
    if let (Some(old), Some(new)) = (&change.previous_bsuid, &change.new_bsuid) {
        let owner = contacts::owner_of_identity(db, workspace, IdentityKind::Bsuid, old.as_str()).await?;
        let taken = contacts::owner_of_identity(db, workspace, IdentityKind::Bsuid, new.as_str()).await?;
        if let (Some(owner), None) = (owner, taken) {
            let identity = contacts::NewIdentity {
                workspace_id: workspace,
                contact_id: owner.contact_id,
                kind: IdentityKind::Bsuid,
                value: new.as_str(),
                key: new.as_str(),
                source: owner.source_conversation_id,
            };
            contacts::add_identity(db, identity, now).await?;
        }
    }
    Ok(changed)
}
