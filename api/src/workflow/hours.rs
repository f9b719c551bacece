//! Business hours and away replies (PRODUCT.md section 18).
//!
//! The workspace's schedule (`domain::hours`) says whether it is open now and when it next
//! opens. Outside business hours, the first customer message of a conversation in each closed
//! period gets the away message as an outbound message with no author (`kind: "away"`), on
//! WhatsApp and on SMS, once: the conversation remembers the end of the closed period it was
//! sent in (`away_until`). Never to a customer who opted out of SMS, never through a
//! disconnected number (the reply capability decides).

use chrono::{DateTime, NaiveDate, Utc};
use domain::content::OutboundContent;
use domain::hours::{BusinessHours, Opening, parse_time, parse_time_zone};
use persistence::content::MessageContent;
use persistence::conversations::ConversationChange;
use persistence::messages::{NewMessage, Origin};
use persistence::{Announce, Conversation, Database, conversations, messages};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, emit};

/// How far ahead an away reply covers when the schedule never opens again.
const NEVER_OPENS: chrono::Duration = chrono::Duration::days(366);

/// What `updateBusinessHours` takes, as given.
#[derive(Clone, Debug, Default)]
pub struct HoursInput {
    pub time_zone: String,
    /// `(day, opens, closes)`: the day one of `persistence::hours::DAYS`.
    pub weekly: Vec<(chrono::Weekday, String, String)>,
    pub closed_dates: Vec<NaiveDate>,
    pub away_message: Option<String>,
}

/// Reads `input` into a schedule.
///
/// # Errors
/// `BAD_USER_INPUT` naming the rule broken.
pub fn schedule(input: HoursInput) -> ApiResult<BusinessHours> {
    let bad = |e: domain::hours::HoursError| ApiError::bad_input(e.to_string());
    let time_zone = parse_time_zone(&input.time_zone).map_err(bad)?;
    let mut weekly = Vec::with_capacity(input.weekly.len());
    for (day, opens, closes) in input.weekly {
        weekly.push(Opening {
            day,
            opens: parse_time("opens", &opens).map_err(bad)?,
            closes: parse_time("closes", &closes).map_err(bad)?,
        });
    }
    BusinessHours::new(time_zone, weekly, input.closed_dates, input.away_message).map_err(bad)
}

/// The workspace's business hours (`None`: always open).
///
/// # Errors
/// Storage failures.
pub async fn business_hours(db: &Database, viewer: &Viewer) -> ApiResult<Option<BusinessHours>> {
    Ok(persistence::hours::of(db.conn(), viewer.workspace_id).await?)
}

/// Replaces the workspace's business hours (admins, audited with the schedule before and
/// after); `None` (or an empty week) means always open.
///
/// # Errors
/// `FORBIDDEN` for non-admins.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn update_business_hours(
    db: &Database,
    viewer: &Viewer,
    hours: Option<BusinessHours>,
    now: DateTime<Utc>,
) -> ApiResult<Option<BusinessHours>> {
    viewer.require_admin()?;
    db.write(async |txn| {
        let before = persistence::hours::set(txn, viewer.workspace_id, hours.as_ref()).await?;
        let details = serde_json::json!({
            "before": before.as_ref().map(persistence::hours::to_json),
            "after": hours.as_ref().map(persistence::hours::to_json),
        });
        crate::store::audit(
            txn,
            viewer,
            "workspace.business_hours_updated",
            ("workspace", viewer.workspace_id),
            details,
            now,
        )
        .await?;
        Ok(hours.clone())
    })
    .await
}

/// Sends the away reply to a customer who just wrote to `conversation`, if the business is
/// closed at `now` and this closed period has had none; returns the conversation as it is
/// then.
///
/// # Errors
/// On a database failure.
pub async fn away_reply(
    db: &impl Announce,
    hours: &BusinessHours,
    conversation: Conversation,
    now: DateTime<Utc>,
) -> Result<Conversation, persistence::Error> {
    let Some(text) = hours.away_message.clone() else { return Ok(conversation) };
    if hours.is_open(now) || conversation.away_until.is_some_and(|until| until > now) {
        return Ok(conversation);
    }
    if super::conversations::capabilities_now(db, &conversation, now).await?.reply.check().is_err() {
        return Ok(conversation);
    }
    let content = OutboundContent::Text { body: text.clone() };
    let new = NewMessage {
        origin: Origin::Automatic,
        channel: conversation.active_channel,
        kind: "away".to_owned(),
        text,
        content: Some(MessageContent::Outbound(content)),
        sent_at: now,
        reply_to: None,
    };
    let saved = messages::insert(db, &conversation, new, now).await?;
    let until = hours.next_opens_at(now).unwrap_or(now + NEVER_OPENS);
    let change = ConversationChange { away_until: Some(until), ..ConversationChange::default() };
    let conversation = conversations::update(db, conversation, change, now).await?;
    emit(db, Event::MessageSent { message: &saved, conversation: &conversation }, now).await?;
    Ok(conversation)
}
