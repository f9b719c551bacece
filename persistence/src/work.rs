//! Which background work a commit made ready, and who is woken for it.
//!
//! A repository function that enqueues work (an outbound message, an inbound file to fetch, an
//! event, a snooze…) announces its [`Work`] on the [`crate::WriteTransaction`] it writes with
//! ([`Announce`]); the commit then wakes the workers registered for that kind in this process,
//! and, on PostgreSQL, in every other process (`NOTIFY` on [`NOTIFY_CHANNEL`], relayed by
//! [`crate::Database::relay_other_processes`]). A commit that announced nothing (a worker's own
//! claim or lease, an empty pass) wakes nobody, so idle workers never wake each other.

use std::sync::{Arc, Mutex};

use sea_orm::ConnectionTrait;
use tokio::sync::Notify;

/// A kind of background work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Work {
    /// Events were committed: live subscriptions and CRM endpoints have something to read.
    Events,
    /// Outbound messages, reactions, read receipts or typing indicators await sending.
    Delivery,
    /// Inbound files await fetching from the provider.
    Media,
    /// CRM deliveries were queued, requeued or resumed outside the event flow.
    Crm,
    /// A conversation was snoozed (the waker's next due time may be earlier).
    Snooze,
    /// An agent changed (role, activity, deletion): open sockets are checked again.
    Agents,
    /// Blobs were listed for deletion.
    Blobs,
    /// A team's queue, its members' availability or their room changed: the router looks again.
    Route,
}

impl Work {
    /// Every kind, in a fixed order (bit `i` of a [`WorkSet`] is `ALL[i]`).
    pub const ALL: [Self; 8] = [
        Self::Events,
        Self::Delivery,
        Self::Media,
        Self::Crm,
        Self::Snooze,
        Self::Agents,
        Self::Blobs,
        Self::Route,
    ];

    /// The name sent between processes (`NOTIFY parley_work, 'name'`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Delivery => "delivery",
            Self::Media => "media",
            Self::Crm => "crm",
            Self::Snooze => "snooze",
            Self::Agents => "agents",
            Self::Blobs => "blobs",
            Self::Route => "route",
        }
    }

    /// The kind a relayed name stands for.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == name)
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`Work`] kinds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkSet(u8);

impl WorkSet {
    /// The set of `kinds`.
    #[must_use]
    pub fn of(kinds: &[Work]) -> Self {
        Self(kinds.iter().fold(0, |bits, w| bits | w.bit()))
    }

    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    #[must_use]
    pub const fn contains(self, work: Work) -> bool {
        self.0 & work.bit() != 0
    }

    #[must_use]
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    pub(crate) const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The kinds in the set.
    pub fn iter(self) -> impl Iterator<Item = Work> {
        Work::ALL.into_iter().filter(move |w| self.contains(*w))
    }
}

/// The PostgreSQL channel on which commits announce work other than events (the payload is
/// [`Work::as_str`]); committed events are announced on [`crate::events::NOTIFY_CHANNEL`].
pub const NOTIFY_CHANNEL: &str = "parley_work";

/// A connection that can announce, at its commit, the work it made ready: a
/// [`crate::WriteTransaction`]. Repository functions that enqueue work take it, so no write
/// path can enqueue without waking the worker that does it.
pub trait Announce: ConnectionTrait {
    /// Wakes the workers of `work` once this transaction commits (never if it rolls back).
    fn announce(&self, work: Work);
}

/// This process's workers and the kinds that wake them.
#[derive(Debug, Default)]
pub struct Wakeups {
    listeners: Mutex<Vec<(WorkSet, Arc<Notify>)>>,
}

impl Wakeups {
    /// A notification that fires after every commit (here or, relayed, elsewhere) announcing
    /// one of `kinds`. A wake-up that comes while its worker is busy is kept for its next wait.
    pub fn register(&self, kinds: &[Work]) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        self.lock().push((WorkSet::of(kinds), Arc::clone(&notify)));
        notify
    }

    /// Wakes the listeners of any of `kinds`.
    pub fn wake(&self, kinds: WorkSet) {
        if kinds.is_empty() {
            return;
        }
        for (wants, notify) in self.lock().iter() {
            if wants.intersects(kinds) {
                notify.notify_one();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(WorkSet, Arc<Notify>)>> {
        self.listeners.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_name_that_reads_back() {
        for work in Work::ALL {
            assert_eq!(Work::parse(work.as_str()), Some(work));
        }
        assert_eq!(Work::parse("nothing"), None);
    }

    #[tokio::test]
    async fn a_commit_wakes_only_the_workers_of_its_kinds() {
        let wakeups = Wakeups::default();
        let delivery = wakeups.register(&[Work::Delivery]);
        let crm = wakeups.register(&[Work::Events, Work::Crm]);
        wakeups.wake(WorkSet::of(&[Work::Events]));
        let woke = |n: &Arc<Notify>| {
            let n = Arc::clone(n);
            async move { tokio::time::timeout(std::time::Duration::from_millis(20), n.notified()).await.is_ok() }
        };
        assert!(woke(&crm).await, "an events commit wakes the CRM dispatcher");
        assert!(!woke(&delivery).await, "an events commit does not wake delivery");
        wakeups.wake(WorkSet::default());
        assert!(!woke(&crm).await, "a commit that announced nothing wakes nobody");
    }
}
