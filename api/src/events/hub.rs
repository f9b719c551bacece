//! Live event fan-out inside one process: one reader per workspace with subscribers, however
//! many subscriptions it has. On every commit of events (or `NOTIFY` from another process) the hub reads
//! each active workspace's new events once, in cursor order, and broadcasts them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::WorkspaceId;
use persistence::StoredEvent;
use persistence::{Database, Work, events};

use crate::workers::Next;
use tokio::sync::broadcast;

/// Events buffered per workspace for slow subscribers (a subscriber that falls further behind
/// re-reads from the database, so nothing is lost).
const BUFFER: usize = 4096;

struct Topic {
    sender: broadcast::Sender<Arc<StoredEvent>>,
    cursor: i64,
}

/// How often the hub looks for committed events left without a number (PostgreSQL: a process
/// stopped between a commit and its numbering). Every commit's numbering numbers them too.
const STRAY_SWEEP: std::time::Duration = std::time::Duration::from_secs(30);

/// The hub.
pub struct EventHub {
    /// The pool of requests: a new subscription reads the latest cursor on it.
    db: Database,
    topics: Mutex<HashMap<WorkspaceId, Topic>>,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub").finish_non_exhaustive()
    }
}

impl EventHub {
    #[must_use]
    pub fn new(db: Database) -> Arc<Self> {
        Arc::new(Self { db, topics: Mutex::new(HashMap::new()) })
    }

    /// A receiver of the workspace's events committed from now on.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn subscribe(
        &self,
        workspace: WorkspaceId,
    ) -> Result<broadcast::Receiver<Arc<StoredEvent>>, persistence::Error> {
        if let Some(topic) = self.lock().get(&workspace) {
            return Ok(topic.sender.subscribe());
        }
        let cursor = events::latest_cursor(self.db.conn(), workspace).await?;
        let mut topics = self.lock();
        let topic =
            topics.entry(workspace).or_insert_with(|| Topic { sender: broadcast::channel(BUFFER).0, cursor });
        Ok(topic.sender.subscribe())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WorkspaceId, Topic>> {
        self.topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads (on `db`) and broadcasts new events of every workspace with subscribers.
    async fn pump(&self, db: &Database) {
        let active: Vec<(WorkspaceId, i64)> = {
            let mut topics = self.lock();
            topics.retain(|_, t| t.sender.receiver_count() > 0);
            topics.iter().map(|(w, t)| (*w, t.cursor)).collect()
        };
        for (workspace, mut cursor) in active {
            loop {
                let rows = match events::list(db.conn(), workspace, cursor, 500, None).await {
                    Ok(rows) => rows,
                    Err(err) => {
                        tracing::warn!(error = ?err, "event hub read failed");
                        break;
                    }
                };
                let Some(last) = rows.last().map(|e| e.cursor) else { break };
                let full = rows.len() == 500;
                if let Some(topic) = self.lock().get_mut(&workspace) {
                    for row in rows {
                        let _ = topic.sender.send(Arc::new(row));
                    }
                    topic.cursor = last;
                }
                cursor = last;
                if !full {
                    break;
                }
            }
        }
    }
}

/// The hub's background side: on every commit of events (here or, by `NOTIFY`, elsewhere) it
/// reads and broadcasts them; with no subscribers a pass reads nothing. It runs on the
/// background pool, so no statement of it is counted against, or waits for, a request.
pub struct Pump {
    pub hub: Arc<EventHub>,
    pub db: Database,
    /// When events without a number were last looked for (start-up looks before the pump
    /// runs, so its first look is [`STRAY_SWEEP`] after it is made).
    swept: Mutex<std::time::Instant>,
}

impl Pump {
    #[must_use]
    pub fn new(hub: Arc<EventHub>, db: Database) -> Self {
        Self { hub, db, swept: Mutex::new(std::time::Instant::now()) }
    }
}

impl crate::workers::Worker for Pump {
    const NAME: &'static str = "events";
    const WAKES: &'static [Work] = &[Work::Events];

    async fn pass(&self, _now: chrono::DateTime<chrono::Utc>) -> Result<Next, persistence::Error> {
        let sweep = {
            let mut swept = self.swept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = swept.elapsed() >= STRAY_SWEEP;
            if due {
                *swept = std::time::Instant::now();
            }
            due
        };
        if sweep {
            self.db.number_stray_events().await?;
        }
        self.hub.pump(&self.db).await;
        Ok(Next::Idle)
    }
}
