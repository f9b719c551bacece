//! The live event stream: `subscription { events(types, after) }` over WebSocket.
//!
//! With `after`, it first replays every event after that cursor from the database, then
//! streams new ones from the process's [`EventHub`]. It subscribes to the hub *before* reading
//! the database, and skips anything at or below the last cursor it yielded, so the seam has no
//! gap and no duplicate; the cursor is per workspace, gap-free and in commit order. A
//! subscriber that falls behind the hub's buffer re-reads from the database.

use std::collections::VecDeque;
use std::sync::Arc;

use async_graphql::{Context, Result, Subscription};
use futures::Stream;
use persistence::events;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use domain::Permission;

use super::context::{db, viewer};
use super::events::Event;
use super::pagination;
use super::session::{SocketSession, SubscriptionSlot};
use crate::error::ApiError;
use crate::events::hub::EventHub;

/// Every subscription.
#[derive(Default)]
pub struct Subscription;

struct Tail {
    db: persistence::Database,
    workspace: domain::WorkspaceId,
    types: Option<Vec<String>>,
    cursor: i64,
    backlog: VecDeque<Arc<persistence::StoredEvent>>,
    /// Whether the database may hold events after `cursor` not yet in `backlog`.
    behind: bool,
    live: Receiver<Arc<persistence::StoredEvent>>,
    _open: crate::telemetry::OpenSubscription,
    /// Its place on the socket (released with the stream).
    _slot: Option<SubscriptionSlot>,
}

impl Tail {
    fn wanted(&self, e: &persistence::StoredEvent) -> bool {
        self.types.as_ref().is_none_or(|t| t.contains(&e.event_type))
    }

    async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            while let Some(e) = self.backlog.pop_front() {
                if e.cursor > self.cursor {
                    self.cursor = e.cursor;
                    if self.wanted(&e) {
                        return Some(Ok(Event(e)));
                    }
                }
            }
            if self.behind {
                match events::list(self.db.conn(), self.workspace, self.cursor, 500, None).await {
                    Ok(rows) => {
                        self.behind = rows.len() == 500;
                        self.backlog.extend(rows.into_iter().map(Arc::new));
                        continue;
                    }
                    Err(err) => return Some(Err(ApiError::from(err).into())),
                }
            }
            match self.live.recv().await {
                Ok(e) if e.cursor <= self.cursor => {}
                Ok(e) => self.backlog.push_back(e),
                Err(RecvError::Lagged(_)) => self.behind = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Live streams over WebSocket (`/graphql/ws`).
#[Subscription]
impl Subscription {
    /// The workspace's events as they are committed, optionally only some types; with `after`
    /// (a cursor), first every event after it (ADMIN and INTEGRATION; an AGENT gets live events
    /// only).
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only events of these types (every type when omitted): `conversation.created`, `conversation.updated`, `conversation.linked`, `conversation.unlinked`, `message.received`, `message.sent`, `message.status_updated`, `contact.created`, `contact.updated`, `customer.phone_shared`, `business_username.updated`, `attachment.stored`, `message.reaction`, `note.added`, `contact.merged`, `contact.deleted`, `customer.erased`, `conversation.window_closing`, `conversation.window_closed`, `conversation.capabilities_changed`, `conversation.assigned`, `agent.availability_changed`, `sla.warning`, `sla.breached`, `template.updated`. The README's event table says when each is written and what its `data` holds."
        )]
        types: Option<Vec<String>>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<Event>> + use<>> {
        let viewer = viewer(ctx)?;
        let needs = if after.is_some() { Permission::EventHistory } else { Permission::LiveEvents };
        viewer.require(needs)?;
        let db = db(ctx)?.clone();
        crate::events::validate_types(types.as_deref())?;
        let slot = ctx.data_opt::<Arc<SocketSession>>().map(|session| session.hold(needs)).transpose()?;
        let after = after.as_deref().map(|a| pagination::decode_sequence(Some(a))).transpose()?;
        let hub = ctx.data::<Arc<EventHub>>()?;
        // Subscribe first, then read the database: no event can fall between the two.
        let live = hub.subscribe(viewer.workspace_id).await.map_err(ApiError::from)?;
        let (cursor, behind) = match after {
            Some(after) => (after, true),
            None => {
                (events::latest_cursor(db.conn(), viewer.workspace_id).await.map_err(ApiError::from)?, false)
            }
        };
        let tail = Tail {
            db,
            workspace: viewer.workspace_id,
            types,
            cursor,
            backlog: VecDeque::new(),
            behind,
            live,
            _open: crate::telemetry::OpenSubscription::new(),
            _slot: slot,
        };
        Ok(futures::stream::unfold(
            tail,
            |mut tail| async move { tail.next().await.map(|item| (item, tail)) },
        ))
    }
}
