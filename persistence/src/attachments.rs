//! Attachments of messages: announced inbound media waiting to be fetched, stored files, and
//! uploads waiting to be sent. The bytes themselves are in the blob store ([`crate::blobs`]).

use chrono::{DateTime, Utc};
use domain::{AgentId, AttachmentId, AttachmentKind, AttachmentStatus, Direction, MessageId, WorkspaceId};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::dialect::{Queue, claim_in_turns};
use crate::entities::attachment::{ActiveModel, Column, Entity, Model};
use crate::error::{DbContext, Error};
use crate::work::{Announce, Work};

/// Media a customer sent, announced by the provider: to fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announced {
    pub kind: AttachmentKind,
    pub mime_type: String,
    pub file_name: Option<String>,
    pub caption: Option<String>,
    pub provider_media_id: String,
    pub provider_sha256: Option<String>,
    pub provider_url: Option<String>,
}

/// Stores an inbound message's attachment as `PENDING`, due now, to be fetched before
/// `fetch_deadline` (inside the webhook's transaction: the message is never stored without it).
///
/// # Errors
/// On a database failure.
pub async fn insert_announced(
    db: &impl Announce,
    message: &crate::entities::message::Model,
    announced: Announced,
    fetch_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    db.announce(Work::Media);
    let row = ActiveModel {
        id: Set(AttachmentId::new()),
        workspace_id: Set(message.workspace_id),
        message_id: Set(Some(message.id)),
        conversation_id: Set(Some(message.conversation_id)),
        business_number_id: Set(Some(message.business_number_id)),
        direction: Set(Direction::Inbound),
        kind: Set(announced.kind),
        mime_type: Set(announced.mime_type),
        file_name: Set(announced.file_name),
        caption: Set(announced.caption),
        size_bytes: Set(None),
        sha256: Set(None),
        provider_sha256: Set(announced.provider_sha256),
        provider_media_id: Set(Some(announced.provider_media_id)),
        provider_url: Set(announced.provider_url),
        status: Set(AttachmentStatus::Pending),
        blob_key: Set(None),
        failure_reason: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        fetch_deadline: Set(Some(fetch_deadline)),
        uploaded_by_agent_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(row).exec_with_returning(db).await.context("failed to store an attachment")
}

/// A file an agent uploaded, already in the blob store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    pub workspace_id: WorkspaceId,
    pub agent_id: AgentId,
    pub kind: AttachmentKind,
    pub mime_type: String,
    pub file_name: Option<String>,
    pub size_bytes: u64,
    pub sha256: String,
    pub blob_key: String,
}

/// Records an upload (`STORED`, not yet on a message).
///
/// # Errors
/// On a database failure.
pub async fn insert_uploaded(
    db: &impl ConnectionTrait,
    up: Uploaded,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let row = ActiveModel {
        id: Set(AttachmentId::new()),
        workspace_id: Set(up.workspace_id),
        message_id: Set(None),
        conversation_id: Set(None),
        business_number_id: Set(None),
        direction: Set(Direction::Outbound),
        kind: Set(up.kind),
        mime_type: Set(up.mime_type),
        file_name: Set(up.file_name),
        caption: Set(None),
        size_bytes: Set(Some(i64::try_from(up.size_bytes).unwrap_or(i64::MAX))),
        sha256: Set(Some(up.sha256)),
        provider_sha256: Set(None),
        provider_media_id: Set(None),
        provider_url: Set(None),
        status: Set(AttachmentStatus::Stored),
        blob_key: Set(Some(up.blob_key)),
        failure_reason: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(None),
        fetch_deadline: Set(None),
        uploaded_by_agent_id: Set(Some(up.agent_id)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(row).exec_with_returning(db).await.context("failed to store an upload")
}

/// Puts an uploaded file on an outbound message: a copy of the upload's row (the same blob) that
/// belongs to the message, with its caption, so one upload can be sent several times.
///
/// # Errors
/// On a database failure.
pub async fn attach(
    db: &impl ConnectionTrait,
    upload: &Model,
    message: &crate::entities::message::Model,
    caption: Option<String>,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let mut row = upload.clone().into_active_model();
    row.id = Set(AttachmentId::new());
    row.message_id = Set(Some(message.id));
    row.conversation_id = Set(Some(message.conversation_id));
    row.business_number_id = Set(Some(message.business_number_id));
    row.caption = Set(caption);
    row.provider_media_id = Set(None);
    row.created_at = Set(now);
    row.updated_at = Set(now);
    let row = row.into_active_model();
    Entity::insert(row).exec_with_returning(db).await.context("failed to attach a file")
}

/// An attachment of the workspace.
///
/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: AttachmentId,
) -> Result<Option<Model>, Error> {
    Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load an attachment")
}

/// Any attachment by id, whatever its workspace (a signed download link names no workspace; the
/// signature is the proof).
///
/// # Errors
/// On a database failure.
pub async fn find_any(db: &impl ConnectionTrait, id: AttachmentId) -> Result<Option<Model>, Error> {
    Entity::find_by_id(id).one(db).await.context("failed to load an attachment")
}

/// The attachments of the given messages (one query, any number of messages).
///
/// # Errors
/// On a database failure.
pub async fn of_messages(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    messages: &[MessageId],
) -> Result<Vec<Model>, Error> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::MessageId.is_in(messages.iter().copied()))
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await
        .context("failed to load attachments")
}

/// The attachment of an outbound message (what the delivery worker sends).
///
/// # Errors
/// On a database failure.
pub async fn of_message(db: &impl ConnectionTrait, message: MessageId) -> Result<Option<Model>, Error> {
    Entity::find().filter(Column::MessageId.eq(message)).one(db).await.context("failed to load an attachment")
}

/// Claims up to `limit` inbound attachments due for fetching, workspaces taking turns, leased
/// until `lease_until` (another process skips them: `FOR UPDATE SKIP LOCKED`). Call inside a
/// transaction and commit before fetching.
///
/// # Errors
/// On a database failure.
pub async fn claim_fetches(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    claim_in_turns::<Entity, AttachmentId>(db, fetches(), now, limit, lease_until, |a| a.id).await
}

/// Inbound files waiting to be fetched.
fn fetches() -> Queue<'static> {
    let pending = AttachmentStatus::Pending.as_str();
    Queue::waiting("attachments", "created_at", pending, Some(Direction::Inbound.as_str()))
}

/// When the media fetcher next has something due (`None`: nothing waits); its idle poll.
///
/// # Errors
/// On a database failure.
pub async fn next_fetch_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, Error> {
    crate::dialect::next_due(db, vec![fetches()]).await
}

/// What one fetch came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// In the blob store.
    Stored { blob_key: String, size_bytes: u64, sha256: String, mime_type: Option<String> },
    /// Worth another try at `retry_at`.
    Retry { reason: String, retry_at: DateTime<Utc> },
    /// Given up; the reason is kept.
    Failed { reason: String },
}

/// Records a fetch, unless the attachment stopped waiting for it meanwhile (the customer was
/// erased): then nothing is written and `None` is returned (the caller deletes what it stored).
///
/// # Errors
/// On a database failure.
pub async fn record_fetch(
    db: &impl ConnectionTrait,
    attachment: Model,
    fetched: Fetched,
    now: DateTime<Utc>,
) -> Result<Option<Model>, Error> {
    let id = attachment.id;
    let mut change = attachment.into_active_model();
    match fetched {
        Fetched::Stored { blob_key, size_bytes, sha256, mime_type } => {
            change.status = Set(AttachmentStatus::Stored);
            change.blob_key = Set(Some(blob_key));
            change.size_bytes = Set(Some(i64::try_from(size_bytes).unwrap_or(i64::MAX)));
            change.sha256 = Set(Some(sha256));
            if let Some(mime) = mime_type {
                change.mime_type = Set(mime);
            }
            change.failure_reason = Set(None);
            change.next_attempt_at = Set(None);
        }
        Fetched::Retry { reason, retry_at } => {
            change.failure_reason = Set(Some(reason));
            change.next_attempt_at = Set(Some(retry_at));
        }
        Fetched::Failed { reason } => {
            change.status = Set(AttachmentStatus::Failed);
            change.failure_reason = Set(Some(reason));
            change.next_attempt_at = Set(None);
        }
    }
    change.updated_at = Set(now);
    let result = Entity::update_many()
        .set(change)
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(AttachmentStatus::Pending))
        .exec(db)
        .await
        .context("failed to record a fetch")?;
    if result.rows_affected == 0 {
        return Ok(None);
    }
    find_any(db, id).await
}

/// Remembers the provider's id of an uploaded copy (so a retried send does not upload again).
///
/// # Errors
/// On a database failure.
pub async fn set_provider_media_id(
    db: &impl ConnectionTrait,
    attachment: Model,
    media_id: &str,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let mut change = attachment.into_active_model();
    change.provider_media_id = Set(Some(media_id.to_owned()));
    change.updated_at = Set(now);
    change.update(db).await.context("failed to record the provider's media id")
}

/// The condition of an upload no message has used yet: an agent's upload row (no message)
/// whose bytes no message's attachment holds.
fn unsent_uploads() -> sea_orm::Condition {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let used = Alias::new("used");
    let sent = Query::select()
        .expr(Expr::val(1))
        .from_as(Entity, used.clone())
        .and_where(Expr::col((used.clone(), Column::BlobKey)).equals((Entity, Column::BlobKey)))
        .and_where(Expr::col((used, Column::MessageId)).is_not_null())
        .to_owned();
    sea_orm::Condition::all()
        .add(Column::MessageId.is_null())
        .add(Column::Direction.eq(Direction::Outbound))
        .add(Expr::exists(sent).not())
}

/// The bytes of the workspace's uploads not sent yet (what `PARLEY_MEDIA_QUOTA` bounds).
///
/// # Errors
/// On a database failure.
pub async fn unsent_bytes(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<u64, Error> {
    let sizes: Vec<Option<i64>> = Entity::find()
        .select_only()
        .column(Column::SizeBytes)
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(unsent_uploads())
        .into_tuple()
        .all(db)
        .await
        .context("failed to add up unsent uploads")?;
    Ok(sizes.into_iter().flatten().map(|n| u64::try_from(n).unwrap_or(0)).sum())
}

/// When the oldest upload not sent yet was made (`None`: there is none).
///
/// # Errors
/// On a database failure.
pub async fn oldest_unsent(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, Error> {
    Entity::find()
        .select_only()
        .column(Column::CreatedAt)
        .filter(unsent_uploads())
        .order_by_asc(Column::CreatedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
        .context("failed to find the oldest unsent upload")
}

/// Deletes the uploads made before `before` that were never sent, and lists their bytes for
/// deletion after the commit; returns how many went.
///
/// # Errors
/// On a database failure.
pub async fn expire_unsent(
    db: &impl Announce,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    let expired = Entity::find()
        .filter(unsent_uploads())
        .filter(Column::CreatedAt.lt(before))
        .limit(500)
        .all(db)
        .await
        .context("failed to find expired uploads")?;
    for upload in &expired {
        Entity::delete_many()
            .filter(Column::Id.eq(upload.id))
            .exec(db)
            .await
            .context("failed to delete an expired upload")?;
        let keys: Vec<String> = upload.blob_key.iter().cloned().collect();
        let free = crate::blob_deletions::unreferenced(db, &keys).await?;
        crate::blob_deletions::enqueue(db, upload.workspace_id, free, now).await?;
    }
    Ok(expired.len())
}
