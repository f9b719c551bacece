//! The media fetcher: brings the files customers send (photos, voice notes, documents…) from
//! WhatsApp into Parley's blob store, promptly (Meta keeps an inbound media id for 7 days).
//!
//! An inbound media message is stored with its attachment `PENDING` in the webhook's
//! transaction. This worker claims pending attachments (workspaces taking turns; `FOR UPDATE
//! SKIP LOCKED` and a lease, so on several processes one fetch is done by one), asks the Cloud
//! API where the file is (`GET /{media-id}`, unless the webhook carried the `url`), downloads it
//! with the number's bearer token (only from WhatsApp's hosts), streams it into the blob store
//! while counting its size and SHA-256, checks the digest Meta announced, and marks it `STORED`
//! with event `attachment.stored`. Transient failures are retried with backoff until
//! [`domain::media::FETCH_WINDOW`] has passed; a file that is gone (404) or does not match its
//! digest is `FAILED` at once, the reason kept. The message itself is never lost.

use chrono::{DateTime, Utc};
use domain::AttachmentStatus;
use futures::{StreamExt, TryStreamExt};
use persistence::Attachment;
use persistence::attachments::{self, Fetched};
use persistence::blobs::{BlobStore, WriteError};
use persistence::{Database, Work, blob_deletions, business_numbers, conversations};

use crate::config::MediaConfig;
use crate::providers::GatewayError;
use crate::providers::meta::WhatsappGateway;
use crate::workers::Next;

/// The worker.
#[derive(Clone, Debug)]
pub struct Fetcher {
    pub db: Database,
    pub whatsapp: WhatsappGateway,
    /// Opens each number's own access token.
    pub keyring: std::sync::Arc<persistence::sealed::Keyring>,
    pub blobs: BlobStore,
    pub config: MediaConfig,
}

/// Why one fetch did not store the file, and whether trying again may help.
struct Failure {
    reason: String,
    retryable: bool,
}

impl From<GatewayError> for Failure {
    fn from(err: GatewayError) -> Self {
        Self { reason: err.title, retryable: err.retryable }
    }
}

impl crate::workers::Worker for Fetcher {
    const NAME: &'static str = "media";
    const WAKES: &'static [Work] = &[Work::Media];

    /// Fetches what is due, when something is (one read when nothing is).
    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let due = attachments::next_fetch_due(self.db.conn()).await?;
        crate::workers::when_due(due, now, || self.run_once(now)).await
    }
}

impl Fetcher {
    /// Claims and fetches what is due; returns how many it handled.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
        let lease = now + chrono::Duration::minutes(5);
        let claimed =
            self.db.write(async |txn| attachments::claim_fetches(txn, now, lease, 32).await).await?;
        let count = claimed.len();
        let fetches = claimed.into_iter().map(|a| self.fetch(a));
        for result in futures::future::join_all(fetches).await {
            result?;
        }
        Ok(count)
    }

    async fn fetch(&self, attachment: Attachment) -> Result<(), persistence::Error> {
        let outcome = match self.download(&attachment).await {
            Ok(stored) => stored,
            Err(failure) => {
                let now = Utc::now();
                let deadline = attachment.fetch_deadline.unwrap_or(now);
                let retry_at = now + self.backoff(attachment.attempts);
                if failure.retryable && retry_at < deadline {
                    tracing::info!(attempts = attachment.attempts, reason = %failure.reason, "media fetch failed; will retry");
                    Fetched::Retry { reason: failure.reason, retry_at }
                } else {
                    tracing::warn!(attempts = attachment.attempts, reason = %failure.reason, "media fetch failed for good");
                    let reason = if failure.retryable {
                        format!(
                            "gave up after {} hours: {}",
                            domain::media::FETCH_WINDOW.num_hours(),
                            failure.reason
                        )
                    } else {
                        failure.reason
                    };
                    Fetched::Failed { reason }
                }
            }
        };
        let label = match &outcome {
            Fetched::Stored { .. } => "stored",
            Fetched::Retry { .. } => "retry",
            Fetched::Failed { .. } => "failed",
        };
        metrics::counter!("parley_media_fetches_total", "outcome" => label).increment(1);
        let now = Utc::now();
        let stored_key = match &outcome {
            Fetched::Stored { blob_key, .. } => Some(blob_key.clone()),
            _ => None,
        };
        let workspace = attachment.workspace_id;
        self.db
            .write(async |txn| {
                let Some(saved) = attachments::record_fetch(txn, attachment, outcome, now).await? else {
                    // Erased while it was being fetched: the bytes must not stay either. They go on
                    // the durable list, like an erasure's, and the blob janitor deletes them after
                    // commit.
                    blob_deletions::enqueue(txn, workspace, stored_key, now).await?;
                    return Ok(());
                };
                let stored = saved.conversation_id.filter(|_| saved.status == AttachmentStatus::Stored);
                let conversation = match stored {
                    Some(id) => conversations::find(txn, saved.workspace_id, id).await?,
                    None => None,
                };
                if let Some(conversation) = conversation {
                    let stored = crate::events::Event::AttachmentStored {
                        attachment: &saved,
                        conversation: &conversation,
                    };
                    crate::events::emit(txn, stored, now).await?;
                }
                Ok(())
            })
            .await
    }

    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
        let wait =
            self.config.retry_base.saturating_mul(2u32.saturating_pow(exponent)).min(self.config.retry_max);
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::minutes(10))
    }

    /// Downloads one file into the blob store and checks it.
    async fn download(&self, attachment: &Attachment) -> Result<Fetched, Failure> {
        let failure = |reason: &str, retryable: bool| Failure { reason: reason.to_owned(), retryable };
        let number_id = attachment.business_number_id.ok_or_else(|| failure("no business number", false))?;
        let number = business_numbers::find(self.db.conn(), attachment.workspace_id, number_id)
            .await
            .map_err(|_| failure("the database failed", true))?
            .ok_or_else(|| failure("the business number is gone", false))?;
        let media_id =
            attachment.provider_media_id.as_deref().ok_or_else(|| failure("no media id", false))?;
        let api = self.whatsapp.for_number(&number, &self.keyring)?;
        let (body, mime_type, announced) = if let Some(bytes) = api.sandbox_file(media_id).await? {
            let body = futures::stream::once(futures::future::ready(Ok::<_, String>(bytes))).boxed();
            (body, None, attachment.provider_sha256.clone())
        } else {
            // The webhook's `url` expires after 5 minutes: use it on the first try only.
            let (url, mime_type, announced) =
                match attachment.provider_url.as_deref().filter(|_| attachment.attempts <= 1) {
                    Some(url) => (url.to_owned(), None, attachment.provider_sha256.clone()),
                    None => {
                        let info = api.media_info(media_id).await?;
                        (info.url, info.mime_type, attachment.provider_sha256.clone().or(info.sha256))
                    }
                };
            let response = api.download(&url).await?;
            (response.bytes_stream().map_err(|e| e.to_string()).boxed(), mime_type, announced)
        };
        let written = match self.blobs.write(body, domain::media::MAX_MEDIA_BYTES).await {
            Ok(written) => written,
            Err(WriteError::TooLarge { limit }) => {
                return Err(Failure {
                    reason: format!("the file is larger than {limit} bytes"),
                    retryable: false,
                });
            }
            Err(WriteError::Source(reason)) => {
                return Err(Failure { reason: format!("the download broke off: {reason}"), retryable: true });
            }
            Err(WriteError::Store(err)) => {
                tracing::warn!(error = %err, "the blob store refused a fetched file");
                return Err(failure("the blob store failed", true));
            }
        };
        let mismatch =
            announced.as_deref().is_some_and(|a| !domain::media::sha256_matches(a, &written.sha256));
        if mismatch {
            if let Err(err) = self.blobs.delete(&written.key).await {
                tracing::warn!(error = %err, "could not delete a mismatched file");
            }
            return Err(failure("the file's SHA-256 does not match the one WhatsApp announced", false));
        }
        Ok(Fetched::Stored {
            blob_key: written.key,
            size_bytes: written.size,
            sha256: hex::encode(written.sha256),
            mime_type,
        })
    }
}
