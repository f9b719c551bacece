//! Events for integrations (the outbox itself is `persistence::events`).
//!
//! - [`data`]: the `data` of each event type.
//! - [`hub`]: the live fan-out of committed events to this process's subscriptions.
//! - [`business_username_updated`]: the one event two flows write (the admin's username API
//!   calls and Meta's `business_username_update` webhook).

pub mod data;
pub mod hub;

use chrono::{DateTime, Utc};
use persistence::ConnectionTrait;
use persistence::entities::business_number;
use persistence::events::{self, NewEvent, types};

/// Writes `business_username.updated` for a number.
///
/// # Errors
/// On a database failure.
pub async fn business_username_updated(
    db: &impl ConnectionTrait,
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
    viewer.require_admin_or_integration()?;
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
