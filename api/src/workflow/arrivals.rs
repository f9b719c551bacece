//! What a customer's message sets going once it is stored (PRODUCT.md section 18): a new
//! conversation in a team takes the team's SLA policy and wakes the router (so does a reopened
//! one), the SLA clocks move (`sla::customer_wrote`), and outside business hours the away
//! reply goes out (`hours::away_reply`). WhatsApp webhooks run it for each conversation of a
//! group commit (after the group's writes), SMS for each message.

use chrono::{DateTime, Utc};
use domain::hours::BusinessHours;
use persistence::{Announce, Conversation, Work};

/// How a customer's message met its conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arrival {
    /// Joined it (it was open, or snoozed and stays so).
    Appended,
    /// Reopened it (resolved or snoozed before).
    Reopened,
    /// Opened it.
    Opened,
}

/// Runs what the customer's message at `at` sets going on `conversation`; returns the
/// conversation as it is then.
///
/// # Errors
/// On a database failure.
pub async fn customer_wrote(
    db: &impl Announce,
    hours: Option<&BusinessHours>,
    conversation: Conversation,
    arrival: Arrival,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Conversation, persistence::Error> {
    let mut conversation = conversation;
    if conversation.team_id.is_some() && arrival != Arrival::Appended {
        db.announce(Work::Route);
    }
    if arrival == Arrival::Reopened && conversation.resolved_at.is_some() {
        persistence::reports::reopened(db, conversation.id).await?;
    }
    if arrival == Arrival::Opened {
        conversation = super::sla::joined_team(db, conversation, now).await?;
    } else if conversation.sla_policy_id.is_some() {
        super::sla::customer_wrote(db, &conversation, arrival == Arrival::Reopened, at, now).await?;
    }
    if let Some(hours) = hours {
        conversation = super::hours::away_reply(db, hours, conversation, now).await?;
    }
    Ok(conversation)
}
