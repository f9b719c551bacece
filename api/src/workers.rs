//! The one shape of every background loop.
//!
//! A worker waits for a wake-up that concerns it: a commit (here, or in another process on
//! PostgreSQL) that announced its kind of [`Work`], its own next due time, or a slow safety
//! poll ([`SAFETY_POLL`]); then it runs one [`Worker::pass`] and waits again. A pass that finds
//! nothing due writes nothing and wakes nobody (its idle check is one read), and a worker's own
//! claims and leases announce no work, so idle workers never wake each other: an idle server
//! sleeps. The list of workers is [`crate::startup::Application::run_until`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use persistence::{Database, Work};
use tokio::sync::{Notify, watch};
use tracing::Instrument;

/// The longest a worker sleeps without a wake-up: it covers a `NOTIFY` lost while another
/// process's listening connection was down, and due times set by hand in the database.
pub const SAFETY_POLL: Duration = Duration::from_secs(10);

/// How long a worker waits when it found work due but could claim none of it (another process
/// holds it and is about to lease it): short, yet no busy loop.
const CONTENDED: Duration = Duration::from_millis(200);

/// What a pass says about the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// It did a batch: run again at once (more may be due).
    Again,
    /// Nothing is due before this time.
    At(DateTime<Utc>),
    /// Nothing waits: sleep until woken (or the safety poll).
    Idle,
}

impl Next {
    /// The next pass for work whose earliest item is due at `due` (`None`: nothing waits).
    #[must_use]
    pub fn due(due: Option<DateTime<Utc>>) -> Self {
        due.map_or(Self::Idle, Self::At)
    }
}

/// The pass of a worker over a queue whose earliest item is due at `due` (`None`: nothing
/// waits): nothing is done (and nothing written) before then; at or after it, `work` runs one
/// batch, and a batch that did something is followed at once by the next.
///
/// # Errors
/// What `work` returns.
pub async fn when_due<F>(
    due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    work: impl FnOnce() -> F,
) -> Result<Next, persistence::Error>
where
    F: Future<Output = Result<usize, persistence::Error>>,
{
    if due.is_none_or(|at| at > now) {
        return Ok(Next::due(due));
    }
    Ok(if work().await? > 0 { Next::Again } else { Next::due(due) })
}

/// How long a [`DueMemo`] trusts a due time read from the database while this process commits
/// nothing: another process's commits (its new messages, its settings) are seen that late by
/// this process, and are its own worker's to act on meanwhile.
pub const MEMO_FOR: Duration = Duration::from_secs(60);

/// A worker's next due time, read from the database and reused while this process has
/// committed nothing since (and for at most [`MEMO_FOR`]): an idle server does not re-read a
/// due time that cannot have changed every safety poll.
#[derive(Clone, Debug, Default)]
pub struct DueMemo(Arc<std::sync::Mutex<Option<Memo>>>);

#[derive(Clone, Copy, Debug)]
struct Memo {
    commits: u64,
    read_at: std::time::Instant,
    due: Option<DateTime<Utc>>,
}

impl DueMemo {
    /// The due time: the remembered one while it holds, else what `read` returns (remembered).
    ///
    /// # Errors
    /// What `read` returns.
    pub async fn get<F>(
        &self,
        db: &Database,
        read: impl FnOnce() -> F,
    ) -> Result<Option<DateTime<Utc>>, persistence::Error>
    where
        F: Future<Output = Result<Option<DateTime<Utc>>, persistence::Error>>,
    {
        let commits = db.commit_count();
        let remembered = *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(memo) = remembered.filter(|m| m.commits == commits && m.read_at.elapsed() < MEMO_FOR) {
            return Ok(memo.due);
        }
        let due = read().await?;
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Memo { commits, read_at: std::time::Instant::now(), due });
        Ok(due)
    }

    /// Forgets the due time (after a pass did, or tried to do, the work it named).
    pub fn forget(&self) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The pass of a worker whose due time `read` finds: the remembered due time while it
    /// holds; once due, it is forgotten and `work` runs (see [`when_due`]).
    ///
    /// # Errors
    /// What `read` or `work` returns.
    pub async fn pass<R, W>(
        &self,
        db: &Database,
        now: DateTime<Utc>,
        read: impl FnOnce() -> R,
        work: impl FnOnce() -> W,
    ) -> Result<Next, persistence::Error>
    where
        R: Future<Output = Result<Option<DateTime<Utc>>, persistence::Error>>,
        W: Future<Output = Result<usize, persistence::Error>>,
    {
        let due = self.get(db, read).await?;
        if due.is_some_and(|at| at <= now) {
            self.forget();
        }
        when_due(due, now, work).await
    }
}

/// A background worker.
pub trait Worker: Send + Sync + 'static {
    /// Its name, in logs.
    const NAME: &'static str;
    /// The kinds of work whose commits wake it.
    const WAKES: &'static [Work];

    /// Does what is due at `now` (a batch at most) and says when to come back.
    fn pass(&self, now: DateTime<Utc>) -> impl Future<Output = Result<Next, persistence::Error>> + Send;

    /// What else wakes it, outside the database (none unless it says so).
    fn also_woken_by(&self) -> Option<Arc<Notify>> {
        None
    }
}

/// Runs `worker` until `stop` flips to true (a pass in hand is finished first).
pub async fn run<W: Worker>(worker: W, db: Database, mut stop: watch::Receiver<bool>) {
    let wakeup = db.wakeups(W::WAKES);
    let also = worker.also_woken_by();
    loop {
        if *stop.borrow() {
            return;
        }
        let started = Utc::now();
        let span = crate::traces::worker_pass(W::NAME);
        let next = match worker.pass(started).instrument(span.clone()).await {
            Ok(next) => next,
            Err(err) => {
                tracing::warn!(worker = W::NAME, error = ?err, "background pass failed");
                Next::Idle
            }
        };
        crate::traces::did_work(&span, next == Next::Again);
        drop(span);
        let wait = match next {
            Next::Again => continue,
            Next::Idle => SAFETY_POLL,
            // Due at or before the pass's own `now`, yet not done: someone else holds it.
            Next::At(at) if at <= started => CONTENDED,
            Next::At(at) => (at - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(SAFETY_POLL),
        };
        tokio::select! {
            () = wakeup.notified() => {}
            () = async {
                match &also {
                    Some(also) => also.notified().await,
                    None => std::future::pending().await,
                }
            } => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}
