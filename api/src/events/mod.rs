//! Events for integrations (the outbox itself is `persistence::events`).
//!
//! - [`data`]: the `data` of each event type.
//! - [`hub`]: the live fan-out of committed events to this process's subscriptions.
//! - [`business_username_updated`], [`message_status_updated`]: the events two flows write
//!   (the admin's username API calls and Meta's `business_username_update` webhook; Meta's
//!   status webhooks and the delivery worker).
//! - [`about`]: one event about a conversation.
//! - [`history`], [`validate_types`]: the event history, and the one check of type filters
//!   (history, subscriptions, CRM endpoints).

pub mod data;
pub mod hub;

use chrono::{DateTime, Utc};
use domain::MessageStatus;
use persistence::Announce;
use persistence::entities::{business_number, conversation, message};
use persistence::events::{self, NewEvent, types};

/// Writes one event about a conversation (and its contact, when it has one).
///
/// # Errors
/// On a database failure.
pub async fn about(
    db: &impl Announce,
    conversation: &conversation::Model,
    event_type: &'static str,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    let new = NewEvent {
        event_type,
        conversation_id: Some(conversation.id),
        contact_id: conversation.contact_id,
        data,
    };
    events::append(db, conversation.workspace_id, new, now).await?;
    Ok(())
}

/// Writes `business_username.updated` for a number.
///
/// # Errors
/// On a database failure.
pub async fn business_username_updated(
    db: &impl Announce,
    number: &business_number::Model,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    let new = NewEvent {
        event_type: types::BUSINESS_USERNAME_UPDATED,
        conversation_id: None,
        contact_id: None,
        data: data::business_username(number),
    };
    events::append(db, number.workspace_id, new, now).await?;
    Ok(())
}

/// Writes `message.status_updated` for a message that moved from `previous` to its stored
/// status, with the provider's error when there is one.
///
/// # Errors
/// On a database failure.
pub async fn message_status_updated(
    db: &impl Announce,
    message: &message::Model,
    conversation: &conversation::Model,
    previous: MessageStatus,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    let mut data = data::message(message, conversation);
    data["previousStatus"] = serde_json::json!(previous.as_str());
    data["errorCode"] = serde_json::json!(message.error_code);
    data["errorTitle"] = serde_json::json!(message.error_title);
    about(db, conversation, types::MESSAGE_STATUS_UPDATED, data, now).await
}

/// Writes `message.reaction`: one side's reaction set on a message (an empty emoji: removed).
///
/// # Errors
/// On a database failure.
pub async fn message_reaction(
    db: &impl Announce,
    reaction: &persistence::entities::message_reaction::Model,
    message: &message::Model,
    conversation: &conversation::Model,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    about(db, conversation, types::MESSAGE_REACTION, data::reaction(reaction, message, conversation), now)
        .await
}

/// Events after cursor `after`, oldest first, optionally of some types (admins and
/// integrations).
///
/// # Errors
/// `FORBIDDEN` for agents, `BAD_USER_INPUT` for an unknown type, storage failures.
pub async fn history(
    db: &persistence::Database,
    viewer: &crate::auth::Viewer,
    after: i64,
    limit: u64,
    types: Option<&[String]>,
) -> crate::error::ApiResult<Vec<persistence::entities::event::Model>> {
    viewer.require(domain::Permission::EventHistory)?;
    validate_types(types)?;
    Ok(events::list(db.conn(), viewer.workspace_id, after, limit, types).await?)
}

/// Checks event-type filters against the known types.
///
/// # Errors
/// `BAD_USER_INPUT` naming the first unknown type.
pub fn validate_types(types: Option<&[String]>) -> crate::error::ApiResult<()> {
    match types.into_iter().flatten().find(|t| !types::ALL.contains(&t.as_str())) {
        Some(bad) => Err(crate::error::ApiError::bad_input(format!("unknown event type {bad:?}"))),
        None => Ok(()),
    }
}
