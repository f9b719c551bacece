//! The live event stream: `subscription { events(types, after) }` over WebSocket.
//!
//! With `after`, it first replays every event after that cursor, then streams new ones; the
//! cursor is per workspace, gap-free and in commit order, so reading "after the last one I
//! saw" can neither skip nor repeat an event, across the replay and the live part alike.
//! Without `after`, it starts at the workspace's latest event.

use std::collections::VecDeque;
use std::time::Duration;

use async_graphql::{Context, Result, Subscription};
use futures::Stream;
use persistence::entities::event;
use persistence::events;

use super::types::Event;
use super::{db, pagination, viewer};
use crate::error::ApiError;

/// How often a stream looks for new events without a wake-up (a safety net: commits in this
/// process and, on PostgreSQL, `NOTIFY` from other processes wake it at once).
const POLL: Duration = Duration::from_secs(2);

/// Every subscription.
#[derive(Default)]
pub struct Subscription;

struct Tail {
    db: persistence::Database,
    workspace: domain::WorkspaceId,
    types: Option<Vec<String>>,
    cursor: i64,
    buffer: VecDeque<event::Model>,
    commits: tokio::sync::watch::Receiver<u64>,
}

/// Live streams over WebSocket (`/graphql/ws`).
#[Subscription]
impl Subscription {
    /// The workspace's events as they are committed, optionally only some types; with `after`
    /// (a cursor), first every event after it.
    async fn events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<Event>> + use<>> {
        let viewer = viewer(ctx)?;
        let db = db(ctx)?.clone();
        if let Some(bad) = types.iter().flatten().find(|t| !events::types::ALL.contains(&t.as_str())) {
            return Err(ApiError::bad_input(format!("unknown event type {bad:?}")).into());
        }
        let commits = db.subscribe_commits();
        let cursor = match after {
            Some(after) => pagination::decode_sequence(Some(&after))?,
            None => events::latest_cursor(db.conn(), viewer.workspace_id).await.map_err(ApiError::from)?,
        };
        let tail =
            Tail { db, workspace: viewer.workspace_id, types, cursor, buffer: VecDeque::new(), commits };
        Ok(futures::stream::unfold(tail, |mut tail| async move {
            loop {
                if let Some(next) = tail.buffer.pop_front() {
                    return Some((Ok(Event(next)), tail));
                }
                tail.commits.borrow_and_update();
                let read = events::list(tail.db.conn(), tail.workspace, tail.cursor, 200, None).await;
                match read {
                    Ok(rows) if !rows.is_empty() => {
                        if let Some(last) = rows.last() {
                            tail.cursor = last.cursor;
                        }
                        let wanted =
                            |e: &event::Model| tail.types.as_ref().is_none_or(|t| t.contains(&e.event_type));
                        tail.buffer.extend(rows.into_iter().filter(wanted));
                    }
                    Ok(_) => {
                        tokio::select! {
                            changed = tail.commits.changed() => if changed.is_err() { return None },
                            () = tokio::time::sleep(POLL) => {}
                        }
                    }
                    Err(err) => {
                        let err: async_graphql::Error = ApiError::from(err).into();
                        return Some((Err(err), tail));
                    }
                }
            }
        }))
    }
}
