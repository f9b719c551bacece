//! Group commit for Meta webhooks.
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
use crate::inbound::payload::Webhook;

/// The most webhooks one shared transaction takes.
pub const MAX_BATCH: usize = 64;

struct Job {
    webhook: Webhook,
    received_at: DateTime<Utc>,
    reply: oneshot::Sender<Result<WebhookSummary, persistence::Error>>,
}

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

    /// Stores one webhook; returns once it is committed (or definitely not stored).
    ///
    /// # Errors
    /// When the webhook could not be stored: nothing of it is.
    pub async fn submit(
        &self,
        webhook: Webhook,
        received_at: DateTime<Utc>,
    ) -> Result<WebhookSummary, persistence::Error> {
        let (reply, answer) = oneshot::channel();
        let stopped = || persistence::Error::Unexpected(anyhow::anyhow!("the webhook committer has stopped"));
        self.jobs.send(Job { webhook, received_at, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
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
) -> Vec<Result<WebhookSummary, persistence::Error>> {
    if let [only] = batch {
        return vec![webhook::process(db, &only.webhook, only.received_at, keyring).await];
    }
    let failed =
        |err: &persistence::DbErr, doing: &'static str| -> Vec<Result<WebhookSummary, persistence::Error>> {
            batch.iter().map(|_| Err(shared_failure(err, doing))).collect()
        };
    let txn = match db.begin().await {
        Ok(txn) => txn,
        Err(err) => return failed(&err, "failed to begin"),
    };
    let mut summaries = Vec::with_capacity(batch.len());
    for job in batch {
        match webhook::apply(&*txn, &job.webhook, job.received_at, keyring).await {
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
        Err(err) => failed(&err, "failed to commit"),
    }
}

async fn one_by_one(
    db: &Database,
    keyring: &Keyring,
    batch: &[Job],
) -> Vec<Result<WebhookSummary, persistence::Error>> {
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        results.push(webhook::process(db, &job.webhook, job.received_at, keyring).await);
    }
    results
}

/// The error each webhook of a batch gets when the shared transaction fails (the database
/// error itself, so that an outage still reads as "unavailable").
fn shared_failure(err: &persistence::DbErr, doing: &'static str) -> persistence::Error {
    persistence::Error::Unexpected(anyhow::Error::new(err.clone()).context(doing))
}
