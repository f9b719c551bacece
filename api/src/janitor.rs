//! Housekeeping workers.
//!
//! The blob janitor deletes from the blob store the bytes a committed transaction left without
//! any row referring to them (an erasure, an upload that expired), read from the durable list
//! [`persistence::blob_deletions`]. Deleting is idempotent (a missing blob is done), failures
//! are retried with backoff, and the network call never holds the database's write lock: the
//! list is claimed and finished in transactions of their own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use persistence::blobs::BlobStore;
use persistence::{Database, Work, attachments, blob_deletions, dead_letters};

use crate::workers::Next;

/// How long a claimed deletion is leased (a crashed process's claims come back after it).
const LEASE: chrono::Duration = chrono::Duration::minutes(5);

/// The longest wait between two attempts of one deletion.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The worker.
#[derive(Clone, Debug)]
pub struct Janitor {
    pub db: Database,
    pub blobs: BlobStore,
}

impl crate::workers::Worker for Janitor {
    const NAME: &'static str = "blobs";
    const WAKES: &'static [Work] = &[Work::Blobs];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let due = blob_deletions::next_due(self.db.conn()).await?;
        crate::workers::when_due(due, now, || self.delete_batch(now)).await
    }
}

impl Janitor {
    /// Claims and deletes a batch of due blobs; returns how many it claimed.
    async fn delete_batch(&self, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
        let claimed =
            self.db.write(async |txn| blob_deletions::claim_due(txn, now, now + LEASE, 64).await).await?;
        let count = claimed.len();
        for deletion in claimed {
            let Err(err) = self.blobs.delete(&deletion.blob_key).await else {
                self.db.write(async |txn| blob_deletions::done(txn, deletion.id).await).await?;
                continue;
            };
            let wait =
                Duration::from_secs(2u64.saturating_pow(deletion.attempts.clamp(0, 12).unsigned_abs()))
                    .min(MAX_BACKOFF);
            let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(LEASE);
            // The store's error class only: its message may name the key's path.
            let class = match err {
                object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. } => "the store refused the deletion",
                _ => "the store could not be reached or failed",
            };
            tracing::warn!(
                attempts = deletion.attempts,
                reason = class,
                "deleting a blob failed; will retry"
            );
            self.db.write(async |txn| blob_deletions::retry(txn, deletion.id, class, retry_at).await).await?;
        }
        Ok(count)
    }
}

/// Deletes the operator's dead letters (those no workspace owns, hence no tenant may see or
/// erase) once they are older than `ttl`: they never outlive `PARLEY_DEAD_LETTER_DAYS`.
#[derive(Clone, Debug)]
pub struct DeadLetterExpiry {
    pub db: Database,
    pub ttl: Duration,
}

impl crate::workers::Worker for DeadLetterExpiry {
    const NAME: &'static str = "dead letters";
    const WAKES: &'static [Work] = &[];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::days(30));
        let due = dead_letters::oldest_unowned(self.db.conn()).await?.map(|oldest| oldest + ttl);
        crate::workers::when_due(due, now, || async {
            let expired =
                self.db.write(async |txn| dead_letters::expire_unowned(txn, now - ttl).await).await?;
            tracing::info!(expired, "the operator's old dead letters expired");
            Ok(usize::try_from(expired).unwrap_or(usize::MAX))
        })
        .await
    }
}

/// Deletes uploads never sent once they are older than `ttl` (24 hours), row and bytes (the
/// bytes through the blob janitor, after the commit): an upload does not hold a workspace's
/// quota, or a customer's file, for ever.
#[derive(Clone, Debug)]
pub struct UploadExpiry {
    pub db: Database,
    pub ttl: Duration,
}

impl crate::workers::Worker for UploadExpiry {
    const NAME: &'static str = "uploads";
    const WAKES: &'static [Work] = &[];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::days(1));
        let due = attachments::oldest_unsent(self.db.conn()).await?.map(|oldest| oldest + ttl);
        crate::workers::when_due(due, now, || async {
            let expired =
                self.db.write(async |txn| attachments::expire_unsent(txn, now - ttl, now).await).await?;
            tracing::info!(expired, "uploads never sent expired");
            Ok(expired)
        })
        .await
    }
}
