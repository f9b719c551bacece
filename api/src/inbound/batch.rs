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
//! Isolation between the webhooks of a batch is kept: when one fails, the shared transaction
//! is rolled back and each webhook is applied again in a transaction of its own, so the
//! failing one gets its own error (its sender answers 503 and Meta retries it) and the others
//! are stored. When the shared commit fails, every webhook of the batch gets the error and
//! nothing of any of them is stored.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use persistence::Database;
use persistence::sealed::Keyring;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::apply::{self as webhook, WebhookSummary};
use super::sms::{self, Applied, SmsPost};
use crate::inbound::payload::Webhook;

/// The most webhooks one shared transaction takes.
pub const MAX_BATCH: usize = 64;

/// What one job stores.
enum Work {
    Meta(Webhook),
    Sms(Box<SmsPost>),
}

/// What one job came to.
enum Outcome {
    Meta(WebhookSummary),
    Sms(Applied),
}

struct Job {
    work: Work,
    received_at: DateTime<Utc>,
    reply: oneshot::Sender<Result<Outcome, persistence::Error>>,
}

impl Job {
    /// The job in the caller's (shared) transaction.
    async fn apply(
        &self,
        db: &impl persistence::Announce,
        keyring: &Keyring,
    ) -> Result<Outcome, persistence::Error> {
        match &self.work {
            Work::Meta(hook) => webhook::apply(db, hook, self.received_at, keyring).await.map(Outcome::Meta),
            Work::Sms(post) => sms::apply(db, post, self.received_at).await.map(Outcome::Sms),
        }
    }

    /// The job in a transaction of its own. A race with another transaction (a unique key
    /// another webhook took first, a deadlock or serialization failure between two processes
    /// opening the same conversations) is retried: the next attempt sees what won.
    async fn process(&self, db: &Database, keyring: &Keyring) -> Result<Outcome, persistence::Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let txn = db.begin().await.map_err(|e| shared_failure(&e, "failed to begin"))?;
            let result = match self.apply(&txn, keyring).await {
                Ok(outcome) => {
                    txn.commit().await.map(|()| outcome).map_err(|e| shared_failure(&e, "failed to commit"))
                }
                Err(err) => Err(err),
            };
            match result {
                Err(err) if err.is_race() && attempt < MAX_ATTEMPTS => {
                    tracing::debug!(attempt, "a webhook raced another transaction; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
                }
                other => return other,
            }
        }
    }
}

/// How often a webhook that keeps racing other transactions is tried on its own.
const MAX_ATTEMPTS: u64 = 5;

/// Hands webhooks to the committer tasks. Cheap to clone; the tasks stop when the last handle
/// is dropped (after finishing what they hold).
#[derive(Clone)]
pub struct WebhookCommitter {
    jobs: mpsc::Sender<Job>,
}

impl WebhookCommitter {
    /// Starts `lanes` committer tasks on `db` (one is right for SQLite, which has one writer).
    #[must_use]
    pub fn start(db: Database, lanes: usize, keyring: Arc<Keyring>) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>(MAX_BATCH * 4);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..lanes.max(1) {
            tokio::spawn(run_lane(db.clone(), Arc::clone(&keyring), Arc::clone(&queue)));
        }
        Self { jobs }
    }

    /// Stores one Meta webhook; returns once it is committed (or definitely not stored).
    ///
    /// # Errors
    /// When the webhook could not be stored: nothing of it is.
    pub async fn submit(
        &self,
        webhook: Webhook,
        received_at: DateTime<Utc>,
    ) -> Result<WebhookSummary, persistence::Error> {
        match self.run(Work::Meta(webhook), received_at).await? {
            Outcome::Meta(summary) => Ok(summary),
            Outcome::Sms(_) => Err(mixed_up()),
        }
    }

    /// Stores one verified SMS post; returns once it is committed (or definitely not stored).
    ///
    /// # Errors
    /// When the post could not be stored: nothing of it is.
    pub async fn submit_sms(
        &self,
        post: SmsPost,
        received_at: DateTime<Utc>,
    ) -> Result<Applied, persistence::Error> {
        match self.run(Work::Sms(Box::new(post)), received_at).await? {
            Outcome::Sms(applied) => Ok(applied),
            Outcome::Meta(_) => Err(mixed_up()),
        }
    }

    async fn run(&self, work: Work, received_at: DateTime<Utc>) -> Result<Outcome, persistence::Error> {
        let (reply, answer) = oneshot::channel();
        let stopped = || persistence::Error::Unexpected(anyhow::anyhow!("the webhook committer has stopped"));
        self.jobs.send(Job { work, received_at, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// A job answered with another kind's outcome (cannot happen: each job is answered with what
/// its own work returned).
fn mixed_up() -> persistence::Error {
    persistence::Error::Unexpected(anyhow::anyhow!("the webhook committer answered another job's outcome"))
}

async fn run_lane(db: Database, keyring: Arc<Keyring>, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
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
        let results = commit_batch(&db, &keyring, &batch).await;
        for (job, result) in batch.into_iter().zip(results) {
            // A sender that went away (client disconnected) needs no answer; what committed stays.
            let _ = job.reply.send(result);
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
    batch: &[Job],
) -> Vec<Result<Outcome, persistence::Error>> {
    if let [only] = batch {
        return vec![only.process(db, keyring).await];
    }
    let failed =
        |err: &persistence::DbErr, doing: &'static str| -> Vec<Result<Outcome, persistence::Error>> {
            batch.iter().map(|_| Err(shared_failure(err, doing))).collect()
        };
    let txn = match db.begin().await {
        Ok(txn) => txn,
        Err(err) => return failed(&err, "failed to begin"),
    };
    let mut summaries = Vec::with_capacity(batch.len());
    for job in batch {
        match job.apply(&txn, keyring).await {
            Ok(summary) => summaries.push(summary),
            Err(err) => {
                tracing::debug!(error = %err, "a webhook of the batch failed; applying each on its own");
                if let Err(err) = txn.rollback().await {
                    tracing::warn!(error = %err, "rolling back a failed batch failed");
                }
                return one_by_one(db, keyring, batch).await;
            }
        }
    }
    match txn.commit().await {
        Ok(()) => summaries.into_iter().map(Ok).collect(),
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
    batch: &[Job],
) -> Vec<Result<Outcome, persistence::Error>> {
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        results.push(job.process(db, keyring).await);
    }
    results
}

/// The error each webhook of a batch gets when the shared transaction fails (the database
/// error itself, so that an outage still reads as "unavailable").
fn shared_failure(err: &persistence::DbErr, doing: &'static str) -> persistence::Error {
    persistence::Error::Unexpected(anyhow::Error::new(err.clone()).context(doing))
}
