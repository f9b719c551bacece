//! Group commit for the providers' webhooks (Meta's, and the SMS provider's verified posts).
//!
//! A webhook is acknowledged only after the transaction that stores it has committed, and a
//! commit costs one durable flush. Committing each webhook alone caps ingestion at the disk's
//! flush rate (and, on PostgreSQL, serialises a workspace's webhooks on its event cursor for
//! the whole flush). The committer instead takes every webhook that is waiting when it becomes
//! free, applies them one after the other in one shared transaction, commits once, and only
//! then answers each request — so a burst of N webhooks costs one flush, and every 200 still
//! means "durable".
//!
//! The statements are batched too ([`super::group`]): the look-ups of the whole batch are made
//! together before the first webhook is applied, and the rows of its plain inbound messages
//! are written a few per statement just before the commit.
//!
//! Isolation between the webhooks of a batch is kept: when one fails, the shared transaction
//! is rolled back and each webhook is applied again in a transaction of its own, so the
//! failing one gets its own error (its sender answers 503 and Meta retries it) and the others
//! are stored. When the shared commit fails, every webhook of the batch gets the error and
//! nothing of any of them is stored.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use persistence::sealed::Keyring;
use persistence::{Database, WriteTransaction};

use super::group::{Group, Hints};
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::Instrument;

/// The most webhooks one shared transaction takes.
pub const MAX_BATCH: usize = 64;

/// A provider's webhook the committer stores (Meta's in [`super::whatsapp`], the SMS
/// provider's in [`super::sms`]): applied in the caller's transaction, possibly shared with
/// other webhooks, possibly more than once (see the module documentation).
pub trait Apply: Send + Sync + 'static {
    /// What applying it came to (the answer its sender gets once committed).
    type Output: Send + 'static;

    /// Whether it keeps `group`'s look-ups true and writes through it ([`Group`]). One that
    /// does not is applied with the group settled before and after.
    const USES_GROUP: bool = false;

    /// Names what applying it will look up, so that a group looks it all up at once.
    fn hint(&self, _hints: &mut Hints) {}

    /// Reads and applies the webhook in `db`.
    fn apply<'a>(
        &'a self,
        db: &'a WriteTransaction,
        keyring: &'a Keyring,
        received_at: DateTime<Utc>,
        group: &'a mut Group,
    ) -> BoxFuture<'a, Result<Self::Output, persistence::Error>>;
}

/// A job of any kind, as a lane handles it: applied (its output kept), then answered.
trait Job: Send + Sync {
    fn hint(&self, hints: &mut Hints);

    fn apply<'a>(
        &'a self,
        db: &'a WriteTransaction,
        keyring: &'a Keyring,
        group: &'a mut Group,
    ) -> BoxFuture<'a, Result<(), persistence::Error>>;

    /// Answers the sender: the output of the last application, or the error.
    fn answer(self: Box<Self>, result: Result<(), persistence::Error>);

    /// The span of the request that submitted it (the batch's span links to it).
    fn sender(&self) -> &tracing::Span;
}

struct Submitted<W: Apply> {
    webhook: W,
    received_at: DateTime<Utc>,
    output: std::sync::Mutex<Option<W::Output>>,
    reply: oneshot::Sender<Result<W::Output, persistence::Error>>,
    sender: tracing::Span,
}

impl<W: Apply> Job for Submitted<W> {
    fn hint(&self, hints: &mut Hints) {
        self.webhook.hint(hints);
    }

    fn apply<'a>(
        &'a self,
        db: &'a WriteTransaction,
        keyring: &'a Keyring,
        group: &'a mut Group,
    ) -> BoxFuture<'a, Result<(), persistence::Error>> {
        Box::pin(async move {
            if !W::USES_GROUP {
                group.settle(db).await?;
            }
            let output = self.webhook.apply(db, keyring, self.received_at, group).await?;
            if !W::USES_GROUP {
                group.settle(db).await?;
            }
            *self.output.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(output);
            Ok(())
        })
    }

    fn answer(self: Box<Self>, result: Result<(), persistence::Error>) {
        let output = self.output.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let answer = result.and_then(|()| {
            output.ok_or_else(|| {
                persistence::Error::Unexpected(anyhow::anyhow!("a webhook was answered unapplied"))
            })
        });
        // A sender that went away (client disconnected) needs no answer; what committed stays.
        let _ = self.reply.send(answer);
    }

    fn sender(&self) -> &tracing::Span {
        &self.sender
    }
}

type Queued = Box<dyn Job>;

/// The job in a transaction of its own. A race with another transaction (a unique key
/// another webhook took first, a deadlock or serialization failure between two processes
/// opening the same conversations) is retried: the next attempt sees what won.
async fn process(job: &dyn Job, db: &Database, keyring: &Keyring) -> Result<(), persistence::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = db
            .write(async |txn| {
                let mut group = Group::default();
                job.apply(txn, keyring, &mut group).await?;
                group.finish(txn).await
            })
            .await;
        match result {
            Err(err) if err.is_race() && attempt < MAX_ATTEMPTS => {
                tracing::debug!(attempt, "a webhook raced another transaction; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// How often a webhook that keeps racing other transactions is tried on its own.
const MAX_ATTEMPTS: u64 = 5;

/// Hands webhooks to the committer tasks. Cheap to clone; the tasks stop when the last handle
/// is dropped (after finishing what they hold).
#[derive(Clone)]
pub struct WebhookCommitter {
    jobs: mpsc::Sender<Queued>,
}

impl WebhookCommitter {
    /// Starts `lanes` committer tasks on `db` (one is right for SQLite, which has one writer).
    #[must_use]
    pub fn start(db: Database, lanes: usize, keyring: Arc<Keyring>) -> Self {
        let (jobs, queue) = mpsc::channel::<Queued>(MAX_BATCH * 4);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..lanes.max(1) {
            tokio::spawn(run_lane(db.clone(), Arc::clone(&keyring), Arc::clone(&queue)));
        }
        Self { jobs }
    }

    /// Stores one webhook; returns once it is committed (or definitely not stored).
    ///
    /// # Errors
    /// When the webhook could not be stored: nothing of it is.
    pub async fn submit<W: Apply>(
        &self,
        webhook: W,
        received_at: DateTime<Utc>,
    ) -> Result<W::Output, persistence::Error> {
        let (reply, answer) = oneshot::channel();
        let stopped = || persistence::Error::Unexpected(anyhow::anyhow!("the webhook committer has stopped"));
        let job = Submitted {
            webhook,
            received_at,
            output: std::sync::Mutex::new(None),
            reply,
            sender: tracing::Span::current(),
        };
        self.jobs.send(Box::new(job)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Applies `webhooks` together now, as the committer applies webhooks that arrive at the same
/// moment (one shared transaction, its statements batched, each webhook alone should any
/// fail): one answer per webhook, in order. For a caller that holds several at once.
pub async fn commit_together<W: Apply>(
    db: &Database,
    keyring: &Keyring,
    webhooks: Vec<W>,
    received_at: DateTime<Utc>,
) -> Vec<Result<W::Output, persistence::Error>> {
    let mut answers = Vec::with_capacity(webhooks.len());
    let batch: Vec<Queued> = webhooks
        .into_iter()
        .map(|webhook| {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            let output = std::sync::Mutex::new(None);
            Box::new(Submitted { webhook, received_at, output, reply, sender: tracing::Span::current() })
                as Queued
        })
        .collect();
    let results = commit_batch(db, keyring, &batch).await;
    for (job, result) in batch.into_iter().zip(results) {
        job.answer(result);
    }
    let mut out = Vec::with_capacity(answers.len());
    for answer in answers {
        out.push(answer.await.unwrap_or_else(|_| {
            Err(persistence::Error::Unexpected(anyhow::anyhow!("a webhook of the group went unanswered")))
        }));
    }
    out
}

async fn run_lane(db: Database, keyring: Arc<Keyring>, queue: Arc<Mutex<mpsc::Receiver<Queued>>>) {
    loop {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        {
            let mut queue = queue.lock().await;
            if queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        #[allow(clippy::cast_precision_loss)]
        metrics::histogram!("parley_webhook_batch_size").record(batch.len() as f64);
        let span = tracing::info_span!(parent: None, "webhook.batch", otel.name = "webhook batch commit", batch.size = batch.len());
        for job in &batch {
            span.follows_from(job.sender());
        }
        let results = commit_batch(&db, &keyring, &batch).instrument(span).await;
        for (job, result) in batch.into_iter().zip(results) {
            job.answer(result);
        }
    }
}

/// Applies the batch in one transaction; one result per webhook, in order. Should any
/// webhook fail (a race with another process, a bad row), the shared transaction is rolled
/// back and each webhook is applied again in its own transaction, so the others are not held
/// back by it and it gets its own answer.
async fn commit_batch(
    db: &Database,
    keyring: &Keyring,
    batch: &[Queued],
) -> Vec<Result<(), persistence::Error>> {
    if let [only] = batch {
        return vec![process(only.as_ref(), db, keyring).await];
    }
    let failed = |err: &persistence::DbErr, doing: &'static str| -> Vec<Result<(), persistence::Error>> {
        batch.iter().map(|_| Err(shared_failure(err, doing))).collect()
    };
    let txn = match db.begin().await {
        Ok(txn) => txn,
        Err(err) => return failed(&err, "failed to begin"),
    };
    let mut hints = Hints::default();
    for job in batch {
        job.hint(&mut hints);
    }
    let applied = async {
        let mut group = Group::prefetch(&txn, hints).await?;
        for job in batch {
            job.apply(&txn, keyring, &mut group).await?;
        }
        group.finish(&txn).await
    };
    if let Err(err) = applied.await {
        tracing::debug!(error = %err, "a webhook of the batch failed; applying each on its own");
        if let Err(err) = txn.rollback().await {
            tracing::warn!(error = %err, "rolling back a failed batch failed");
        }
        return one_by_one(db, keyring, batch).await;
    }
    match txn.commit().await {
        Ok(()) => batch.iter().map(|_| Ok(())).collect(),
        // Nothing of the batch is stored; a lost race is worth applying each again.
        Err(err) if shared_failure(&err, "failed to commit").is_race() => {
            one_by_one(db, keyring, batch).await
        }
        Err(err) => failed(&err, "failed to commit"),
    }
}

async fn one_by_one(
    db: &Database,
    keyring: &Keyring,
    batch: &[Queued],
) -> Vec<Result<(), persistence::Error>> {
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        results.push(process(job.as_ref(), db, keyring).await);
    }
    results
}

/// The error each webhook of a batch gets when the shared transaction fails (the database
/// error itself, so that an outage still reads as "unavailable").
fn shared_failure(err: &persistence::DbErr, doing: &'static str) -> persistence::Error {
    persistence::Error::Unexpected(anyhow::Error::new(err.clone()).context(doing))
}
