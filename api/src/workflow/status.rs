//! A message's status moves forward: the one use case behind Meta's statuses, the SMS
//! provider's callbacks and the delivery worker's answers. A move that is not progress (a late
//! `delivered` after `read`, anything after `FAILED`) changes nothing; one that is moves the
//! stored row only if nobody moved it meanwhile, and emits `message.status_updated`.

use chrono::{DateTime, Utc};
use persistence::messages::StatusChange;
use persistence::{Announce, conversations, messages};
use persistence::{Conversation, Message};

use crate::events::{Event, emit};

/// Moves `message` as `change` says when that is progress; the saved message, or `None` when
/// nothing moved. `conversation` is the message's, when the caller has it loaded.
///
/// # Errors
/// On a database failure.
pub async fn advance(
    db: &impl Announce,
    message: &Message,
    change: StatusChange,
    conversation: Option<&Conversation>,
    now: DateTime<Utc>,
) -> Result<Option<Message>, persistence::Error> {
    let previous = message.status;
    if !previous.advances_to(change.to) {
        return Ok(None);
    }
    let Some(saved) = messages::advance(db, message, change, now).await? else {
        return Ok(None);
    };
    let loaded;
    let conversation = match conversation {
        Some(conversation) => conversation,
        None => {
            loaded = conversations::find(db, saved.workspace_id, saved.conversation_id)
                .await?
                .ok_or(persistence::Error::MissingReference { what: "conversation" })?;
            &loaded
        }
    };
    emit(db, Event::MessageStatusUpdated { message: &saved, conversation, previous }, now).await?;
    Ok(Some(saved))
}
