//! The rest of a conversation's life (PRODUCT.md section 12): each agent's read state (and the
//! read receipt WhatsApp shows the customer), the typing indicator, snoozing, and the worker
//! that reopens snoozed conversations when their time comes.
//!
//! Read state is per agent and emits nothing to CRMs; snoozing and waking emit
//! `conversation.updated`.

use chrono::{DateTime, Utc};
use domain::{Channel, ConversationId, ConversationStatus, Direction, Permission};
use persistence::conversations::ConversationChange;
use persistence::reads::InboxCounts;
use persistence::{
    Announce, ConnectionTrait, Database, Work, business_numbers, conversations, messages, reads, signals,
};
use persistence::{Conversation, Message};

use super::conversations::{capabilities_now, get_for_update, updated_event};
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::workers::Next;

/// Whether marking a WhatsApp conversation read sends Meta a read receipt by default
/// (`PARLEY_WHATSAPP_READ_RECEIPTS`); a workspace's `readReceipts` setting overrides it.
#[derive(Clone, Copy, Debug)]
pub struct ReadReceipts(pub bool);

/// The longest snooze.
const MAX_SNOOZE: chrono::Duration = chrono::Duration::days(366);

/// The latest inbound WhatsApp message of a conversation that WhatsApp knows (it has the
/// provider's id): what a read receipt or typing indicator names.
async fn latest_inbound_on_whatsapp(
    db: &impl ConnectionTrait,
    conversation: &Conversation,
) -> ApiResult<Option<Message>> {
    let latest = messages::latest_in(db, conversation.id, Some(Direction::Inbound)).await?;
    Ok(latest.filter(|m| m.channel == Channel::Whatsapp && m.external_id.is_some()))
}

/// Records that the viewer has read the conversation up to its latest message. On a WhatsApp
/// conversation (with the workspace's read receipts on, `receipts` by default), the customer's latest message not yet acknowledged gets one
/// read receipt, queued for the delivery worker; returns the conversation.
///
/// # Errors
/// `NOT_FOUND` for an unknown conversation.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn mark_read(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    receipts: ReadReceipts,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    viewer.require(Permission::WorkConversations)?;
    db.write(async |txn| {
        let conversation = get_for_update(txn, viewer, id).await?;
        let latest = messages::latest_in(txn, id, None).await?;
        let at = latest.as_ref().map_or(now, |m| m.created_at.max(now));
        reads::mark(txn, &conversation, viewer.agent_id, at, latest.map(|m| m.id), now).await?;
        let mut conversation = conversation;
        let receipts = match conversation.channel {
            Channel::Whatsapp => persistence::settings::of(txn, viewer.workspace_id)
                .await?
                .and_then(|s| s.read_receipts)
                .unwrap_or(receipts.0),
            Channel::Sms => false,
        };
        if receipts {
            let number =
                business_numbers::find(txn, viewer.workspace_id, conversation.business_number_id).await?;
            let target = latest_inbound_on_whatsapp(txn, &conversation).await?;
            let due = target.filter(|m| conversation.read_receipt_message_id != Some(m.id));
            if let (Some(target), true) = (due, number.is_some_and(|n| n.connected)) {
                signals::enqueue(txn, &conversation, target.id, signals::READ, now).await?;
                let change = ConversationChange {
                    read_receipt_message_id: Some(target.id),
                    ..ConversationChange::default()
                };
                conversation = conversations::update(txn, conversation, change, now).await?;
            }
        }
        Ok(conversation)
    })
    .await
}

/// Shows the customer WhatsApp's typing indicator (on their latest message, which it also
/// marks read) while the agent writes; it lasts up to 25 seconds or until the reply arrives.
///
/// # Errors
/// `CAPABILITY_DENIED` (`reply`) when the window is closed or the number disconnected;
/// `BAD_USER_INPUT` off WhatsApp or without a customer message; `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn send_typing(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    viewer.require(Permission::ReachCustomer)?;
    db.write(async |txn| {
        let conversation = get_for_update(txn, viewer, id).await?;
        if conversation.active_channel != Channel::Whatsapp {
            return Err(ApiError::bad_input("typing indicators exist on WhatsApp only"));
        }
        capabilities_now(txn, &conversation, now)
            .await?
            .reply
            .check()
            .map_err(|d| ApiError::denied("reply", d))?;
        let Some(target) = latest_inbound_on_whatsapp(txn, &conversation).await? else {
            return Err(ApiError::bad_input("the customer has not written on WhatsApp yet"));
        };
        signals::enqueue(txn, &conversation, target.id, signals::TYPING, now).await?;
        Ok(())
    })
    .await
}

/// Puts a conversation aside until `until` (in the future, at most a year ahead); it is
/// `OPEN` again then, or at the customer's next message, whichever is first.
///
/// # Errors
/// `BAD_USER_INPUT` for a time in the past or too far ahead; `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn snooze(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    viewer.require(Permission::WorkConversations)?;
    if until <= now {
        return Err(ApiError::bad_input("until must be in the future"));
    }
    if until > now + MAX_SNOOZE {
        return Err(ApiError::bad_input("until must be at most a year ahead"));
    }
    db.write(async |txn| {
        let current = get_for_update(txn, viewer, id).await?;
        if current.status == ConversationStatus::Snoozed && current.snoozed_until == Some(until) {
            return Ok(current);
        }
        let change = ConversationChange {
            status: Some(ConversationStatus::Snoozed),
            snoozed_until: Some(Some(until)),
            ..ConversationChange::default()
        };
        let before = current.status;
        let mut saved = conversations::update(txn, current, change, now).await?;
        super::sla::status_changed(txn, &saved, before, now).await?;
        super::facts::status_changed(txn, &mut saved, before, now).await?;
        updated_event(txn, &saved, now).await?;
        Ok(saved)
    })
    .await
}

/// The viewer's inbox counts (through `cache` when the server has one, see
/// [`super::counts`]).
///
/// # Errors
/// Storage failures.
pub async fn inbox_counts(
    db: &Database,
    viewer: &Viewer,
    cache: Option<&super::counts::CountsCache>,
) -> ApiResult<InboxCounts> {
    viewer.require(Permission::Read)?;
    Ok(match cache {
        Some(cache) => cache.get(db, viewer.workspace_id, viewer.agent_id).await?,
        None => reads::inbox_counts(db.conn(), viewer.workspace_id, viewer.agent_id).await?,
    })
}

/// Reopens snoozed conversations whose time has come, a batch at a time, each once however
/// many processes run this (see [`conversations::wake_snoozed`]). It sleeps until the next
/// snooze ends; a new snooze wakes it to look again.
#[derive(Clone, Debug)]
pub struct Waker {
    pub db: Database,
}

impl crate::workers::Worker for Waker {
    const NAME: &'static str = "snooze";
    const WAKES: &'static [Work] = &[Work::Snooze];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let due = conversations::next_snooze_due(self.db.conn()).await?;
        crate::workers::when_due(due, now, || wake_due(&self.db, now)).await
    }
}

/// One batch of [`Waker`]: reopens what is due at `now`, with `conversation.updated` each, in
/// one transaction; returns how many.
///
/// # Errors
/// On a database failure.
pub async fn wake_due(db: &Database, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
    db.write(async |txn| {
        let woken = conversations::wake_snoozed(txn, now, 100).await?;
        if !woken.is_empty() {
            txn.announce(Work::Route);
        }
        for c in &woken {
            super::sla::status_changed(txn, c, ConversationStatus::Snoozed, now).await?;
            crate::events::emit(txn, crate::events::Event::ConversationUpdated(c), now).await?;
        }
        Ok(woken.len())
    })
    .await
}
