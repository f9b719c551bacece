//! WhatsApp's service window as events (PRODUCT.md section 15). For an open WhatsApp
//! conversation whose customer wrote last, `conversation.window_closing` is written once, the
//! workspace's `windowWarningMinutes` before the window ends (at once when less is left), and
//! `conversation.window_closed` once when it ends; a new customer message starts a new window
//! with events of its own. When the agent wrote last, neither is written. Every window that
//! closes on an open conversation flips its reply, media, reaction and phone-request
//! capabilities: `conversation.capabilities_changed` (cause `window_closed`) says so.
//!
//! Each window is claimed by one process (`persistence::windows`): several processes on one
//! PostgreSQL write each event once. The worker sleeps until the next warning or closing is
//! due (or the safety poll: a new message's window is at least a warning away).

use chrono::{DateTime, Utc};
use persistence::{Database, Work, windows};

use super::conversations::{around, capabilities_changed, capabilities_of};
use crate::events::{Event, emit};
use crate::workers::Next;

/// The most windows one pass handles (each kind).
const BATCH: u64 = 100;

/// Writes the window events as they fall due.
#[derive(Clone, Debug)]
pub struct Windows {
    pub db: Database,
    pub due: crate::workers::DueMemo,
}

impl crate::workers::Worker for Windows {
    const NAME: &'static str = "windows";
    const WAKES: &'static [Work] = &[];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let read = || windows::next_due(self.db.conn());
        self.due.pass(&self.db, now, read, || close_and_warn(&self.db, now)).await
    }
}

/// One batch of [`Windows`] at `now`, in one transaction: the windows that have closed, then
/// those about to; returns how many were claimed (with or without an event).
///
/// # Errors
/// On a database failure.
pub async fn close_and_warn(db: &Database, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
    db.write(async |txn| {
        let closed = windows::claim_closed(txn, now, BATCH).await?;
        for c in &closed {
            let around = around(txn, c).await?;
            let ended = c.last_inbound_at.map_or(now, |at| at + domain::SERVICE_WINDOW);
            let before = capabilities_of(c, around, ended - chrono::Duration::seconds(1));
            let after = capabilities_of(c, around, now.max(ended));
            capabilities_changed(txn, c, "window_closed", &before, &after, now).await?;
            if !windows::agent_wrote_last(txn, c).await? {
                emit(txn, Event::WindowClosed(c), now).await?;
            }
        }
        let closing = windows::claim_closing(txn, now, BATCH).await?;
        for c in &closing {
            if !windows::agent_wrote_last(txn, c).await? {
                let ends = c.last_inbound_at.map_or(now, |at| at + domain::SERVICE_WINDOW);
                let minutes_left = (ends - now).num_minutes().max(0);
                emit(txn, Event::WindowClosing { conversation: c, minutes_left }, now).await?;
            }
        }
        Ok(closed.len() + closing.len())
    })
    .await
}
