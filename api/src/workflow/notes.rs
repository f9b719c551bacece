//! Notes: what an agent writes on a conversation for colleagues. A note is a message with
//! `direction: INTERNAL`, never sent: it changes neither the service window nor the inbox order
//! nor anyone's unread count (those count inbound messages only).

use chrono::{DateTime, Utc};
use domain::{ConversationId, Permission};
use persistence::Database;
use persistence::Message;
use persistence::messages::{self, NewMessage, Origin};

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::input::valid_text;
use crate::workflow::conversations::get;

/// Adds a note to a conversation of the viewer's workspace; writes `note.added`.
///
/// # Errors
/// `BAD_USER_INPUT` for an empty or too long text, `NOT_FOUND` for a conversation of another
/// workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn add(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    text: &str,
    now: DateTime<Utc>,
) -> ApiResult<Message> {
    viewer.require(Permission::WorkConversations)?;
    let text = valid_text("text", text)?;
    db.write(async |txn| {
        let conversation = get(txn, viewer, id).await?;
        let new = NewMessage {
            origin: Origin::Note { author: viewer.agent_id },
            channel: conversation.active_channel,
            kind: "note".to_owned(),
            text,
            content: None,
            sent_at: now,
            reply_to: None,
        };
        let note = messages::insert(txn, &conversation, new, now).await?;
        crate::events::emit(
            txn,
            crate::events::Event::NoteAdded { note: &note, conversation: &conversation },
            now,
        )
        .await?;
        Ok(note)
    })
    .await
}
