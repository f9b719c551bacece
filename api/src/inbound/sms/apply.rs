//! The SMS provider's verified posts, stored (PRODUCT.md section 12): customers' texts (routed
//! by `To`, the business's SMS number) and status callbacks of what Parley sent (`MessageStatus`,
//! routed by `From`). [`super::http`] checks them, [`super::read`] reads them; the group
//! committer applies them.
//!
//! Threading: a text from P joins the workspace's most recently active conversation whose
//! replies go by SMS and whose customer (or linked contact) has phone P, reopening it;
//! otherwise it opens a new SMS conversation keyed by P (`FIRST_CONTACT`). A repeated
//! `MessageSid` changes nothing. `STOP` and its siblings opt the customer out of that number
//! (`START` back in). Statuses move outbound messages forward only.

use crate::workflow::arrivals::Arrival;
use chrono::{DateTime, Utc};
use domain::sms::{Consent, consent_change};
use domain::threading::ThreadKey;
use domain::{Channel, ConversationStatus, ThreadOrigin};
use persistence::Announce;
use persistence::conversations::{ConversationChange, CustomerFacts, NewConversation};
use persistence::messages::{NewMessage, Origin, StatusChange, StoredId};
use persistence::{BusinessNumber, Conversation};
use persistence::{conversations, messages, opt_outs};

use super::read::{SmsItem, SmsMessage, SmsPost, SmsStatus, read_post};
use crate::events::Event;
use crate::workflow::conversations::{capabilities_changed, capabilities_of};

/// What a verified post came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A customer's text, stored.
    Stored,
    /// A customer's text already stored (the provider's retry).
    Duplicate,
    /// A status callback, applied (or with nothing new).
    Status,
    /// Malformed: `400` with this reason.
    Refused(&'static str),
}

/// Reads and applies a verified post in the caller's transaction.
///
/// # Errors
/// On a database failure; [`persistence::Error::Duplicate`] when another transaction stored the
/// same `MessageSid` first (applying again finds it).
pub async fn apply(
    db: &impl Announce,
    post: &SmsPost,
    now: DateTime<Utc>,
) -> Result<Applied, persistence::Error> {
    match read_post(post) {
        SmsItem::Message(message) => ingest(db, &post.number, &message, now).await,
        SmsItem::Status(status) => apply_status(db, &post.number, &status, now).await,
        SmsItem::Unreadable(reason) => Ok(Applied::Refused(reason)),
    }
}

/// Stores a customer's SMS (see the module documentation).
async fn ingest(
    db: &impl Announce,
    number: &BusinessNumber,
    text: &SmsMessage,
    now: DateTime<Utc>,
) -> Result<Applied, persistence::Error> {
    let phone = &text.from;
    let workspace = number.workspace_id;
    if messages::find_in_workspace_by_external_id(db, workspace, &text.sid).await?.is_some() {
        return Ok(Applied::Duplicate);
    }
    let consent = consent_change(&text.body, text.opt_out_type.as_deref());
    match consent {
        Some(Consent::OptOut) => opt_outs::opt_out(db, number, phone, now).await?,
        Some(Consent::OptIn) => opt_outs::opt_in(db, number, phone).await?,
        None => {}
    }
    let opted_out = opt_outs::is_opted_out(db, number, phone).await?;
    // `conversation.created` or (a resolved one reopened) `conversation.updated`.
    let mut opened_or_reopened = None;
    let conversation = match conversations::latest_sms_with_phone(db, workspace, phone).await? {
        Some(current) => {
            let reopen = current.status != ConversationStatus::Open;
            let change = ConversationChange {
                status: reopen.then_some(ConversationStatus::Open),
                last_inbound_at: Some(now),
                inbound_stored_at: Some(now),
                last_activity_at: Some(now.max(current.last_activity_at)),
                ..ConversationChange::default()
            };
            if reopen {
                opened_or_reopened = Some(false);
            }
            conversations::update(db, current, change, now).await?
        }
        None => {
            opened_or_reopened = Some(true);
            let new = NewConversation {
                workspace_id: workspace,
                business_number_id: number.id,
                channel: Channel::Sms,
                key: ThreadKey::Phone(phone.clone()),
                customer: CustomerFacts { phone: Some(phone.clone()), ..CustomerFacts::default() },
                origin: ThreadOrigin::FirstContact,
                previous: None,
                last_inbound_at: Some(now),
                inbound_stored_at: Some(now),
                last_activity_at: now,
                assignee: None,
                team: number.default_team_id,
                link: None,
                sms_opted_out: opted_out,
            };
            conversations::insert(db, new, now).await?
        }
    };
    let mut conversation = conversation;
    if consent.is_some() {
        let changed = conversations::set_sms_opted_out(db, workspace, phone, opted_out, now).await?;
        // The customer's consent as it is now (what the away reply checks).
        if let Some(now_consenting) = changed.iter().find(|c| c.id == conversation.id) {
            conversation = now_consenting.clone();
        }
        let cause = if opted_out { "opted_out" } else { "opted_in" };
        for after in &changed {
            let around = crate::workflow::conversations::around(db, after).await?;
            let before = Conversation { sms_opted_out: !opted_out, ..after.clone() };
            let (before, after_caps) =
                (capabilities_of(&before, around, now), capabilities_of(after, around, now));
            capabilities_changed(db, after, cause, &before, &after_caps, now).await?;
        }
    }
    let new = NewMessage {
        origin: Origin::Inbound { id: StoredId { external_id: text.sid.clone(), sealed: None } },
        channel: Channel::Sms,
        kind: "text".to_owned(),
        text: text.summary.clone(),
        content: Some(text.content.clone()),
        sent_at: now,
        reply_to: None,
    };
    let message = messages::insert(db, &conversation, new, now).await?;
    match opened_or_reopened {
        Some(true) => crate::events::emit(db, Event::ConversationCreated(&conversation), now).await?,
        Some(false) => crate::events::emit(db, Event::ConversationUpdated(&conversation), now).await?,
        None => {}
    }
    crate::events::emit(db, Event::MessageReceived { message: &message, conversation: &conversation }, now)
        .await?;
    let arrival = match opened_or_reopened {
        Some(true) => Arrival::Opened,
        Some(false) => Arrival::Reopened,
        None => Arrival::Appended,
    };
    let hours = persistence::hours::of(db, workspace).await?;
    crate::workflow::arrivals::customer_wrote(db, hours.as_ref(), conversation, arrival, now, now).await?;
    Ok(Applied::Stored)
}

/// Moves an outbound SMS forward (never backwards; callbacks arrive in any order).
async fn apply_status(
    db: &impl Announce,
    number: &BusinessNumber,
    callback: &SmsStatus,
    now: DateTime<Utc>,
) -> Result<Applied, persistence::Error> {
    let Some(next) = callback.status else {
        return Ok(Applied::Status);
    };
    let found = messages::find_in_workspace_by_external_id(db, number.workspace_id, &callback.sid).await?;
    let Some(message) = found.filter(|m| m.channel == Channel::Sms) else {
        tracing::debug!("SMS status for a message Parley did not send; ignored");
        return Ok(Applied::Status);
    };
    let change = StatusChange { to: next, error: callback.error.clone(), accepted_as: None };
    crate::workflow::status::advance(db, &message, change, None, now).await?;
    Ok(Applied::Status)
}
