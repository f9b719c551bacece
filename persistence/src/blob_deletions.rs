//! The durable list of blobs to delete (PRODUCT.md section 17): a transaction that leaves bytes
//! without any row referring to them lists their key here, and the blob janitor deletes them
//! after the commit, retried with backoff until the store confirms (deleting a missing blob is
//! a success, so a retry after a crash is harmless). A failure therefore never leaves a row
//! pointing at deleted bytes, and the network delete never holds the database's write lock.

use chrono::{DateTime, Utc};
use domain::WorkspaceId;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::dialect::{Queue, claim_in_turns};
use crate::entities::attachment;
use crate::entities::blob_deletion::{ActiveModel, Column, Entity, Model};
use crate::error::{DbContext, Error};
use crate::work::{Announce, Work};

const PENDING: &str = "PENDING";

/// Lists `keys` for deletion after this transaction commits (and wakes the janitor then).
///
/// # Errors
/// On a database failure.
pub async fn enqueue(
    db: &impl Announce,
    workspace: WorkspaceId,
    keys: impl IntoIterator<Item = String>,
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    let rows: Vec<ActiveModel> = keys
        .into_iter()
        .map(|key| ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            workspace_id: Set(workspace),
            blob_key: Set(key),
            status: Set(PENDING.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(None),
            last_error: Set(None),
            created_at: Set(now),
        })
        .collect();
    let count = rows.len();
    if count > 0 {
        db.announce(Work::Blobs);
        Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .context("failed to list blobs to delete")?;
    }
    Ok(count)
}

/// Which of `keys` no attachment or upload row refers to any more: the bytes only these keys
/// hold may go. Call it in the transaction that removed the references.
///
/// # Errors
/// On a database failure.
pub async fn unreferenced(db: &impl ConnectionTrait, keys: &[String]) -> Result<Vec<String>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let referenced: Vec<Option<String>> = attachment::Entity::find()
        .select_only()
        .column(attachment::Column::BlobKey)
        .filter(attachment::Column::BlobKey.is_in(keys.iter().cloned()))
        .into_tuple()
        .all(db)
        .await
        .context("failed to find who refers to a blob")?;
    let mut free: Vec<String> =
        keys.iter().filter(|k| !referenced.iter().any(|r| r.as_ref() == Some(*k))).cloned().collect();
    free.sort();
    free.dedup();
    Ok(free)
}

/// Blobs waiting to be deleted.
fn queue() -> Queue<'static> {
    Queue::waiting("blob_deletions", "created_at", PENDING, None)
}

/// Claims up to `limit` deletions due at `now`, leased until `lease_until`.
///
/// # Errors
/// On a database failure.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    claim_in_turns::<Entity, uuid::Uuid>(db, queue(), now, limit, lease_until, |d| d.id).await
}

/// When the janitor next has a deletion due (`None`: nothing waits); its idle poll.
///
/// # Errors
/// On a database failure.
pub async fn next_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, Error> {
    crate::dialect::next_due(db, vec![queue()]).await
}

/// The store deleted the bytes (or they were gone already): the entry is done.
///
/// # Errors
/// On a database failure.
pub async fn done(db: &impl ConnectionTrait, id: uuid::Uuid) -> Result<(), Error> {
    Entity::delete_many()
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .context("failed to finish a blob deletion")?;
    Ok(())
}

/// The store refused: try again at `retry_at`.
///
/// # Errors
/// On a database failure.
pub async fn retry(
    db: &impl ConnectionTrait,
    id: uuid::Uuid,
    error: &str,
    retry_at: DateTime<Utc>,
) -> Result<(), Error> {
    use sea_orm::sea_query::Expr;
    Entity::update_many()
        .col_expr(Column::NextAttemptAt, Expr::value(retry_at))
        .col_expr(Column::LastError, Expr::value(error.to_owned()))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .context("failed to schedule a blob deletion again")?;
    Ok(())
}
