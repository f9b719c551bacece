//! The inbox's counts, computed once for all the requests that want them at the same time.
//!
//! Counting a workspace's open, unread, mine and unassigned conversations reads every open
//! conversation (and, for unread, the agent's marker and latest inbound message of each): the
//! one part of the desktop's inbox page whose cost grows with the inbox, more than the rest of
//! the page at 2,000 conversations, and at 100,000 enough for 64 desktops to exhaust the pool.
//! Counts are asked for by every page load and every live event, by every agent at once.
//!
//! So each agent's counts are kept with the process's commit count at the time they were read
//! ([`persistence::Database::commit_count`]), and reused while no transaction of this process
//! has committed since; after [`FRESH_FOR`] one background read refreshes them (commits of
//! other processes are counted that late, plus one read). Requests that arrive while the counts
//! are being read after a commit wait for that one read instead of starting their own. An
//! agent's own changes are therefore always counted in the next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::{AgentId, WorkspaceId};
use persistence::Database;
use persistence::reads::{self, InboxCounts};

/// How long counts are reused when this process commits nothing (another process's commit is
/// seen at most this late).
pub const FRESH_FOR: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
struct Read {
    counts: InboxCounts,
    /// The process's commit count before the counts were read.
    commits: u64,
    at: Instant,
}

/// One agent's latest read, and the right to read again (one read at a time).
#[derive(Debug, Default)]
struct Slot {
    latest: Mutex<Option<Read>>,
    reading: Arc<tokio::sync::Mutex<()>>,
}

impl Slot {
    fn latest(&self) -> Option<Read> {
        *self.latest.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn read(
        &self,
        db: &Database,
        workspace: WorkspaceId,
        agent: AgentId,
    ) -> Result<InboxCounts, persistence::Error> {
        let commits = db.commit_count();
        let at = Instant::now();
        let counts = reads::inbox_counts(db.conn(), workspace, agent).await?;
        *self.latest.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Read { counts, commits, at });
        Ok(counts)
    }
}

/// Each agent's latest counts (one slot per agent of a workspace who asked).
#[derive(Debug, Default)]
pub struct CountsCache {
    slots: Mutex<HashMap<(WorkspaceId, AgentId), Arc<Slot>>>,
}

impl CountsCache {
    /// The agent's counts:
    /// - the latest read, when nothing committed in this process since and it is younger than
    ///   [`FRESH_FOR`];
    /// - the latest read as well when only its age is against it (nothing committed here), while
    ///   one background read refreshes it;
    /// - otherwise a new read, shared with the callers that arrive meanwhile.
    ///
    /// # Errors
    /// On a database failure (the next caller reads again).
    pub async fn get(
        &self,
        db: &Database,
        workspace: WorkspaceId,
        agent: AgentId,
    ) -> Result<InboxCounts, persistence::Error> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(slots.entry((workspace, agent)).or_default())
        };
        if let Some(read) = slot.latest()
            && read.commits == db.commit_count()
        {
            if read.at.elapsed() >= FRESH_FOR
                && let Ok(reading) = Arc::clone(&slot.reading).try_lock_owned()
            {
                let (slot, db) = (Arc::clone(&slot), db.clone());
                tokio::spawn(async move {
                    if let Err(err) = slot.read(&db, workspace, agent).await {
                        tracing::debug!(error = ?err, "refreshing inbox counts failed");
                    }
                    drop(reading);
                });
            }
            return Ok(read.counts);
        }
        let _reading = slot.reading.lock().await;
        // A read that began after this caller's own commits may have finished meanwhile.
        if let Some(read) = slot.latest()
            && read.commits == db.commit_count()
            && read.at.elapsed() < FRESH_FOR
        {
            return Ok(read.counts);
        }
        slot.read(db, workspace, agent).await
    }
}
