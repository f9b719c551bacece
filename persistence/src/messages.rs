//! Messages of conversations.

use chrono::{DateTime, Utc};
use domain::{BusinessNumberId, ConversationId, WorkspaceId};
use sea_orm::sea_query::{Expr, ExprTrait, Query, UnionType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, Iterable, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entities::message::{ActiveModel, Column, Entity, Model};
use crate::error::{DbContext, StoreError};

/// Inserts a message.
///
/// # Errors
/// [`StoreError::Duplicate`] when a message with the same provider id (`wamid`) exists for the
/// business number, or the same idempotency key for the conversation.
pub async fn insert(db: &impl ConnectionTrait, model: ActiveModel) -> Result<Model, StoreError> {
    Entity::insert(model)
        .exec_with_returning(db)
        .await
        .map_err(|e| StoreError::from_db(e, "failed to store message", "a message with this id"))
}

/// Writes changed columns of a message.
///
/// # Errors
/// On a database failure.
pub async fn update(db: &impl ConnectionTrait, model: ActiveModel) -> Result<Model, StoreError> {
    model.update(db).await.context("failed to update message")
}

/// The message with this provider id (`wamid`) on this business number.
///
/// # Errors
/// On a database failure.
pub async fn find_by_external_id(
    db: &impl ConnectionTrait,
    business_number: BusinessNumberId,
    external_id: &str,
) -> Result<Option<Model>, StoreError> {
    Entity::find()
        .filter(Column::BusinessNumberId.eq(business_number.as_uuid()))
        .filter(Column::ExternalId.eq(external_id))
        .one(db)
        .await
        .context("failed to look up message by provider id")
}

/// Position in a conversation's messages (newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageCursor {
    pub sent_at: DateTime<Utc>,
    pub id: Uuid,
}

/// One page of a conversation's messages, newest first.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversation: ConversationId,
    after: Option<MessageCursor>,
    limit: u64,
) -> Result<Vec<Model>, StoreError> {
    let mut query = Entity::find()
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .filter(Column::ConversationId.eq(conversation.as_uuid()));
    if let Some(cursor) = after {
        query = query.filter(
            Condition::any()
                .add(Column::SentAt.lt(cursor.sent_at))
                .add(Condition::all().add(Column::SentAt.eq(cursor.sent_at)).add(Column::Id.lt(cursor.id))),
        );
    }
    query
        .order_by_desc(Column::SentAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .context("failed to list messages")
}

/// The message stored under any of `external_ids` on this business number (Parley stores a
/// provider id either as sent or as its digest, see the ingestion service).
///
/// # Errors
/// On a database failure.
pub async fn find_by_any_external_id(
    db: &impl ConnectionTrait,
    business_number: BusinessNumberId,
    external_ids: &[String],
) -> Result<Option<Model>, StoreError> {
    // One equality look-up per id, joined with UNION ALL: each is a point query on the
    // (business_number_id, external_id) index whatever plan the database caches (with
    // `external_id IN (…)` PostgreSQL's generic plan scanned all of the number's messages).
    let mut lookups = external_ids.iter().map(|id| {
        Query::select()
            .columns(Column::iter().map(|c| (Entity, c)))
            .from(Entity)
            .and_where(Expr::col(Column::BusinessNumberId).eq(business_number.as_uuid()))
            .and_where(Expr::col(Column::ExternalId).eq(id.as_str()))
            .to_owned()
    });
    let Some(mut query) = lookups.next() else { return Ok(None) };
    for other in lookups {
        query.union(UnionType::All, other);
    }
    let stmt = db.get_database_backend().build(&query);
    Entity::find().from_raw_sql(stmt).one(db).await.context("failed to look up message by provider id")
}

/// The conversation's message sent with this idempotency key, if any.
///
/// # Errors
/// On a database failure.
pub async fn find_by_idempotency_key(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    key: &str,
) -> Result<Option<Model>, StoreError> {
    Entity::find()
        .filter(Column::ConversationId.eq(conversation.as_uuid()))
        .filter(Column::IdempotencyKey.eq(key))
        .one(db)
        .await
        .context("failed to look up message by idempotency key")
}

/// Claims up to `limit` outbound messages due for delivery: marks each as attempted and leases
/// it until `lease_until`, so no other worker (in this or another process) sends it meanwhile.
/// On PostgreSQL rows locked by another claimer are skipped (`FOR UPDATE SKIP LOCKED`).
/// Call it inside a transaction and commit before sending.
///
/// # Errors
/// On a database failure.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, StoreError> {
    let mut query = Entity::find()
        .filter(Column::Direction.eq(domain::Direction::Outbound.as_str()))
        .filter(Column::Status.eq(domain::MessageStatus::Pending.as_str()))
        .filter(Condition::any().add(Column::NextAttemptAt.is_null()).add(Column::NextAttemptAt.lte(now)))
        .order_by_asc(Column::CreatedAt)
        .limit(limit);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    let due = query.all(db).await.context("failed to claim due messages")?;
    let mut claimed = Vec::with_capacity(due.len());
    for message in due {
        let attempts = message.attempts + 1;
        let mut lease: ActiveModel = message.into();
        lease.attempts = sea_orm::ActiveValue::Set(attempts);
        lease.next_attempt_at = sea_orm::ActiveValue::Set(Some(lease_until));
        claimed.push(lease.update(db).await.context("failed to lease message")?);
    }
    Ok(claimed)
}

/// The latest message of each of the given conversations (one query, any page size).
///
/// # Errors
/// On a database failure.
pub async fn latest_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversations: &[ConversationId],
) -> Result<Vec<Model>, StoreError> {
    if conversations.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let placeholder = |n: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let list: Vec<String> = (0..conversations.len()).map(|i| placeholder(i + 2)).collect();
    let sql = format!(
        "SELECT * FROM (SELECT m.*, ROW_NUMBER() OVER (PARTITION BY m.conversation_id ORDER BY m.sent_at DESC, m.id DESC) AS parley_rank \
         FROM messages m WHERE m.workspace_id = {} AND m.conversation_id IN ({})) ranked WHERE parley_rank = 1",
        placeholder(1),
        list.join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![workspace.as_uuid().into()];
    values.extend(conversations.iter().map(|c| sea_orm::Value::from(c.as_uuid())));
    Entity::find()
        .from_raw_sql(sea_orm::Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await
        .context("failed to load latest messages")
}
