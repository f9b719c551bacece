//! The blob store: the bytes of media (PRODUCT.md section 11), through the `object_store`
//! crate. `file://DIR` keeps them in a directory (the embedded default, beside the SQLite
//! database); `s3://BUCKET/PREFIX` in any S3-compatible store, configured with the standard
//! `AWS_*` variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ALLOW_HTTP`), which several processes share.
//!
//! Bytes stream in and out: a write goes up in parts while its SHA-256 and size are counted (and
//! stops at a limit), a read is a stream of chunks (a byte range when asked), so a 100 MB
//! document never sits whole in memory. Keys are random; they name nothing about the file.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};

/// Where media bytes live.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: Arc<str>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore").field("url", &self.url).finish_non_exhaustive()
    }
}

/// A blob store URL that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreUrlError {
    #[error("use file://DIRECTORY or s3://BUCKET/PREFIX")]
    Scheme,
    #[error("cannot use {0}: {1}")]
    Open(String, String),
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The bytes passed `limit`; nothing is kept.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The source of the bytes failed (a truncated upload, a broken download); nothing is kept.
    #[error("the file could not be read: {0}")]
    Source(String),
    /// The store failed; nothing is kept.
    #[error("the blob store failed: {0}")]
    Store(#[from] object_store::Error),
}

/// What a write stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub key: String,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// One read: the total size of the blob and the requested bytes as a stream.
pub struct Read {
    pub size: u64,
    /// The bytes returned (all of them, or the requested range).
    pub range: Range<u64>,
    pub bytes: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, object_store::Error>> + Send>>,
}

impl BlobStore {
    /// Opens the store a URL names (a `file://` directory is created when missing).
    ///
    /// # Errors
    /// [`StoreUrlError`] naming what is wrong.
    pub fn open(url: &str) -> Result<Self, StoreUrlError> {
        let url = url.trim();
        let (store, prefix): (Arc<dyn ObjectStore>, Path) = if let Some(dir) = url.strip_prefix("file://") {
            std::fs::create_dir_all(dir).map_err(|e| StoreUrlError::Open(url.to_owned(), e.to_string()))?;
            let local = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| StoreUrlError::Open(url.to_owned(), e.to_string()))?;
            (Arc::new(local), Path::default())
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreUrlError::Scheme);
            }
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| StoreUrlError::Open(url.to_owned(), e.to_string()))?;
            (Arc::new(s3), Path::from(prefix))
        } else {
            return Err(StoreUrlError::Scheme);
        };
        Ok(Self { store, prefix, url: Arc::from(url) })
    }

    /// The URL it was opened with.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, key: &str) -> Path {
        self.prefix.child(key)
    }

    /// Writes a stream of bytes under a new random key, counting its size and SHA-256, and
    /// stops with [`WriteError::TooLarge`] as soon as it passes `limit`. On any failure the
    /// partial upload is aborted: nothing is kept.
    ///
    /// # Errors
    /// [`WriteError`].
    pub async fn write<S, E>(&self, source: S, limit: u64) -> Result<Written, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let key = format!("media-{}", uuid::Uuid::new_v4().simple());
        let upload = self.store.put_multipart(&self.path(&key)).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        futures::pin_mut!(source);
        let failure = loop {
            match source.next().await {
                None => break None,
                Some(Err(err)) => break Some(WriteError::Source(err.to_string())),
                Some(Ok(chunk)) => {
                    size = size.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
                    if size > limit {
                        break Some(WriteError::TooLarge { limit });
                    }
                    hasher.update(&chunk);
                    if let Err(err) = writer.wait_for_capacity(4).await {
                        break Some(WriteError::Store(err));
                    }
                    writer.put(chunk);
                }
            }
        };
        if let Some(err) = failure {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "could not abort a partial blob upload");
            }
            return Err(err);
        }
        writer.finish().await?;
        Ok(Written { key, size, sha256: hasher.finalize().into() })
    }

    /// Writes bytes already in memory (small files; tests).
    ///
    /// # Errors
    /// [`WriteError`].
    pub async fn write_bytes(&self, bytes: Bytes, limit: u64) -> Result<Written, WriteError> {
        self.write(futures::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) }), limit)
            .await
    }

    /// Reads a blob, whole or a byte range (`start..end`, end exclusive, clamped to the size).
    ///
    /// # Errors
    /// `NotFound` and the store's own errors.
    pub async fn read(&self, key: &str, range: Option<Range<u64>>) -> Result<Read, object_store::Error> {
        let options = GetOptions { range: range.map(GetRange::Bounded), ..GetOptions::default() };
        let result = self.store.get_opts(&self.path(key), options).await?;
        let size = result.meta.size;
        let range = result.range.clone();
        let bytes = result.into_stream().boxed();
        Ok(Read { size, range, bytes })
    }

    /// Reads a whole blob into memory (uploads to the provider, checks).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn read_all(&self, key: &str) -> Result<Bytes, object_store::Error> {
        self.store.get(&self.path(key)).await?.bytes().await
    }

    /// Deletes a blob; a missing one is not an error.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Every key stored (for erasure checks and tests).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn keys(&self) -> Result<Vec<String>, object_store::Error> {
        let listed: Vec<object_store::ObjectMeta> = self.store.list(Some(&self.prefix)).try_collect().await?;
        Ok(listed.into_iter().filter_map(|m| m.location.filename().map(str::to_owned)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a directory of its own, removed with the returned guard.
    fn temp_store() -> (BlobStore, tempfile::TempDir) {
        let dir = tempfile::Builder::new().prefix("parley-blobs-").tempdir().unwrap();
        (BlobStore::open(&format!("file://{}", dir.path().display())).unwrap(), dir)
    }

    #[tokio::test]
    async fn bytes_round_trip_with_their_digest_and_ranges() {
        let (store, _dir) = temp_store();
        let data = Bytes::from((0..100_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            data.chunks(7_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let written = store.write(futures::stream::iter(chunks), 1_000_000).await.unwrap();
        assert_eq!(written.size, 100_000);
        assert_eq!(written.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(store.read_all(&written.key).await.unwrap(), data);
        let part = store.read(&written.key, Some(10..20)).await.unwrap();
        assert_eq!((part.size, part.range.clone()), (100_000, 10..20));
        let got: Vec<Bytes> = part.bytes.try_collect().await.unwrap();
        assert_eq!(got.concat(), data[10..20].to_vec());
        store.delete(&written.key).await.unwrap();
        assert!(store.keys().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_write_past_its_limit_or_with_a_broken_source_keeps_nothing() {
        let (store, _dir) = temp_store();
        let big = store.write_bytes(Bytes::from(vec![1u8; 2_000]), 1_000).await;
        assert!(matches!(big, Err(WriteError::TooLarge { limit: 1_000 })));
        let broken = futures::stream::iter(vec![Ok(Bytes::from_static(b"abc")), Err("connection reset")]);
        assert!(matches!(store.write(broken, 1_000).await, Err(WriteError::Source(_))));
        assert!(store.keys().await.unwrap().is_empty(), "nothing kept");
        assert!(matches!(BlobStore::open("ftp://x"), Err(StoreUrlError::Scheme)));
    }
}
