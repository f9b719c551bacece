//! The facts reports count (PRODUCT.md section 19), kept in the transaction of the change that
//! makes them: the first response (the first agent message after the customer's first
//! message; never a note or an away reply) and each resolution, with how long each took. The
//! time is open time when the conversation's SLA policy counts business hours only, else
//! wall-clock. Reopening clears the resolution.

use chrono::{DateTime, Utc};
use domain::ConversationStatus;
use persistence::{ConnectionTrait, Conversation, reports};

/// Seconds from `from` to `to` as the conversation's policy counts them.
async fn took(
    db: &impl ConnectionTrait,
    conversation: &Conversation,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64, persistence::Error> {
    let hours = match super::sla::policy_of(db, conversation).await? {
        Some(policy) => super::sla::hours_for(db, conversation, &policy).await?,
        None => None,
    };
    let span = match hours {
        Some(hours) => hours.open_time_between(from, to),
        None => to - from,
    };
    Ok(span.num_seconds().max(0))
}

/// An agent's message at `now`: the first response, if the customer wrote and none is
/// recorded yet (the record is updated to match).
///
/// # Errors
/// On a database failure.
pub async fn agent_wrote(
    db: &impl ConnectionTrait,
    conversation: &mut Conversation,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    if conversation.first_response_at.is_some() {
        return Ok(());
    }
    let Some(since) = persistence::sla::first_customer_message_at(db, conversation.id).await? else {
        return Ok(());
    };
    let seconds = took(db, conversation, since, now).await?;
    reports::first_response(db, conversation.id, now, seconds).await?;
    (conversation.first_response_at, conversation.first_response_seconds) = (Some(now), Some(seconds));
    Ok(())
}

/// The conversation's status changed from `before` to its own at `now` (the record is
/// updated to match what was stored).
///
/// # Errors
/// On a database failure.
pub async fn status_changed(
    db: &impl ConnectionTrait,
    conversation: &mut Conversation,
    before: ConversationStatus,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    match (before, conversation.status) {
        (ConversationStatus::Resolved, ConversationStatus::Resolved) => Ok(()),
        (_, ConversationStatus::Resolved) => {
            let seconds = took(db, conversation, conversation.created_at, now).await?;
            reports::resolved(db, conversation.id, now, seconds).await?;
            (conversation.resolved_at, conversation.resolution_seconds) = (Some(now), Some(seconds));
            Ok(())
        }
        (ConversationStatus::Resolved, _) => {
            reports::reopened(db, conversation.id).await?;
            (conversation.resolved_at, conversation.resolution_seconds) = (None, None);
            Ok(())
        }
        _ => Ok(()),
    }
}
