//! Messages of conversations.

use chrono::{DateTime, Utc};
use domain::{
    AgentId, BusinessNumberId, Channel, ConversationId, Direction, MessageId, MessageStatus, TeamId,
    TemplateCategory, TemplateId, WorkspaceId,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query, UnionType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect,
};

use crate::content::MessageContent;
use crate::dialect::{Dialect, Queue, claim_in_turns};
use crate::entities::conversation;
use crate::entities::message::{ActiveModel, Column, Entity, Model};
use crate::error::{DbContext, Error};
use crate::work::{Announce, Work};

pub use crate::provider_ids::{StoredId, digest_wamids, external_id_digest, scrub_wamids};

/// Who wrote a new message, and how it travels.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// From the customer, with the provider's id as Parley stores it.
    Inbound { id: StoredId },
    /// From an agent, queued for the delivery worker.
    Outbound { author: AgentId, idempotency_key: Option<String>, template: Option<TemplateRef> },
    /// Sent by Parley itself (an away reply), with no author, queued for the delivery worker.
    Automatic,
    /// A note by an agent for colleagues: stored as `INTERNAL` and `SENT`, never delivered.
    Note { author: AgentId },
    /// History brought in from elsewhere (imports, benchmarks): stored as given, never sent.
    Imported { direction: Direction, status: MessageStatus, id: Option<StoredId> },
}

/// The conversation a message belongs to (and its workspace, business number, assignee and
/// team: a message keeps the last two as its conversation's, see [`crate::reports::follow_assignment`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thread {
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub business_number_id: BusinessNumberId,
    pub assignee_id: Option<AgentId>,
    pub team_id: Option<TeamId>,
}

impl From<&conversation::Model> for Thread {
    fn from(c: &conversation::Model) -> Self {
        Self {
            workspace_id: c.workspace_id,
            conversation_id: c.id,
            business_number_id: c.business_number_id,
            assignee_id: c.assignee_id,
            team_id: c.team_id,
        }
    }
}

/// The template an outbound message was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRef {
    pub id: TemplateId,
    pub name: String,
    pub category: TemplateCategory,
}

/// A message to store on a conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    pub origin: Origin,
    pub channel: Channel,
    /// The provider's message type (`text`, `image`, …).
    pub kind: String,
    /// The text, or a readable summary.
    pub text: String,
    /// What was sent or received, in full; `None` only for imported history that has just
    /// its text.
    pub content: Option<MessageContent>,
    /// When it was written (the provider's own timestamp for inbound messages).
    pub sent_at: DateTime<Utc>,
    /// The message of the same conversation it replies to.
    pub reply_to: Option<MessageId>,
}

/// Inserts a message on `conversation`: inbound ones as `RECEIVED`, outbound ones as `PENDING`.
///
/// # Errors
/// [`Error::Duplicate`] when a message with the same provider id (`wamid`) exists for the
/// business number, or the same idempotency key for the conversation.
pub async fn insert(
    db: &impl Announce,
    conversation: &conversation::Model,
    new: NewMessage,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let row = row(conversation.into(), new, now);
    if is_queued(&row) {
        db.announce(Work::Delivery);
    }
    Entity::insert(row)
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to store message", "a message with this id"))
}

/// Inserts many messages at once (imports, benchmarks), each dated by its `sent_at`.
///
/// # Errors
/// [`Error::Duplicate`] when a provider id is taken.
pub async fn insert_many(db: &impl Announce, news: Vec<(Thread, NewMessage)>) -> Result<(), Error> {
    let rows: Vec<ActiveModel> = news
        .into_iter()
        .map(|(thread, new)| {
            let at = new.sent_at;
            row(thread, new, at)
        })
        .collect();
    let received: std::collections::HashSet<ConversationId> = rows
        .iter()
        .filter_map(|row| match (&row.direction, &row.conversation_id) {
            (Set(Direction::Inbound), Set(conversation)) => Some(*conversation),
            _ => None,
        })
        .collect();
    insert_rows(db, rows).await?;
    crate::reads::restore_inbound_stored(db, &received.into_iter().collect::<Vec<_>>()).await
}

/// Inserts message rows, several per statement.
///
/// # Errors
/// [`Error::Duplicate`] when a provider id is taken.
pub async fn insert_rows(db: &impl Announce, rows: Vec<ActiveModel>) -> Result<(), Error> {
    if rows.iter().any(is_queued) {
        db.announce(Work::Delivery);
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<ActiveModel> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await
            .map_err(|e| Error::from_db(e, "failed to store messages", "a message with this id"))?;
    }
    Ok(())
}

/// The most messages one statement inserts (well inside both databases' parameter limits).
const ROWS_PER_STATEMENT: usize = 500;

/// Whether a message row waits for the delivery worker (outbound and `PENDING`, however it was
/// written: an agent's send, an import).
fn is_queued(row: &ActiveModel) -> bool {
    use sea_orm::ActiveValue::Set;
    matches!((&row.direction, &row.status), (Set(Direction::Outbound), Set(MessageStatus::Pending)))
}

pub(crate) fn row(thread: Thread, new: NewMessage, now: DateTime<Utc>) -> ActiveModel {
    let (direction, status, id, author, key, template) = match new.origin {
        Origin::Inbound { id } => (Direction::Inbound, MessageStatus::Received, Some(id), None, None, None),
        Origin::Outbound { author, idempotency_key, template } => {
            (Direction::Outbound, MessageStatus::Pending, None, Some(author), idempotency_key, template)
        }
        Origin::Note { author } => (Direction::Internal, MessageStatus::Sent, None, Some(author), None, None),
        Origin::Automatic => (Direction::Outbound, MessageStatus::Pending, None, None, None, None),
        Origin::Imported { direction, status, id } => (direction, status, id, None, None, None),
    };
    let (external_id, external_id_sealed) = match id {
        Some(StoredId { external_id, sealed }) => (Some(external_id), sealed),
        None => (None, None),
    };
    ActiveModel {
        id: Set(MessageId::new()),
        workspace_id: Set(thread.workspace_id),
        conversation_id: Set(thread.conversation_id),
        business_number_id: Set(thread.business_number_id),
        direction: Set(direction),
        channel: Set(new.channel),
        kind: Set(new.kind),
        text: Set(Some(new.text)),
        content: Set(new.content),
        template_id: Set(template.as_ref().map(|t| t.id)),
        template_name: Set(template.as_ref().map(|t| t.name.clone())),
        template_category: Set(template.map(|t| t.category)),
        status: Set(status),
        external_id: Set(external_id),
        external_id_sealed: Set(external_id_sealed),
        error_code: Set(None),
        error_title: Set(None),
        author_agent_id: Set(author),
        reply_to_message_id: Set(new.reply_to),
        idempotency_key: Set(key),
        attempts: Set(0),
        next_attempt_at: Set(None),
        sent_at: Set(new.sent_at),
        created_at: Set(now),
        updated_at: Set(now),
        conversation_assignee_id: Set(thread.assignee_id),
        conversation_team_id: Set(thread.team_id),
    }
}

/// The provider's error for a failed message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderError {
    pub code: Option<i64>,
    pub title: Option<String>,
}

/// A move of a message's status: to `to`, with the provider's error (a failure) or, for a send
/// the provider accepted, the id it accepted it under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    pub to: MessageStatus,
    pub error: Option<ProviderError>,
    pub accepted_as: Option<StoredId>,
}

/// Moves `message` to `change.to` only while it still has the status it was read with (one
/// compare-and-set statement: of two concurrent moves, one wins; a provider's answer never
/// lands on a message that moved on, such as a `PENDING` message an erasure failed). `None`
/// when it had moved. The caller decides whether the move is progress.
///
/// # Errors
/// On a database failure.
pub async fn advance(
    db: &impl ConnectionTrait,
    message: &Model,
    change: StatusChange,
    now: DateTime<Utc>,
) -> Result<Option<Model>, Error> {
    let mut update = <ActiveModel as sea_orm::ActiveModelTrait>::default();
    update.status = Set(change.to);
    if let Some(id) = change.accepted_as {
        update.external_id = Set(Some(id.external_id));
        update.external_id_sealed = Set(id.sealed);
        update.error_code = Set(None);
        update.error_title = Set(None);
    }
    if let Some(error) = change.error {
        update.error_code = Set(error.code);
        update.error_title = Set(error.title);
    }
    update.next_attempt_at = Set(None);
    update.updated_at = Set(now);
    let saved = Entity::update_many()
        .set(update)
        .filter(Column::Id.eq(message.id))
        .filter(Column::Status.eq(message.status))
        .exec_with_returning(db)
        .await
        .context("failed to update message status")?;
    Ok(saved.into_iter().next())
}

/// What one delivery attempt of an outbound message came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendResult {
    /// The provider accepted it, under this id (as Parley stores it).
    Sent { id: StoredId },
    /// Worth another attempt at `retry_at`.
    Retry { error: ProviderError, retry_at: DateTime<Utc> },
    /// Given up.
    Failed { error: ProviderError },
}

/// Records a failed attempt worth retrying at `retry_at` on a message that is still
/// `PENDING`; `None` when it no longer is (an erasure failed it while the provider answered).
///
/// # Errors
/// On a database failure.
pub async fn record_retry(
    db: &impl ConnectionTrait,
    message: &Model,
    error: ProviderError,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<Model>, Error> {
    let mut change = <ActiveModel as sea_orm::ActiveModelTrait>::default();
    change.error_code = Set(error.code);
    change.error_title = Set(error.title);
    change.next_attempt_at = Set(Some(retry_at));
    change.updated_at = Set(now);
    let saved = Entity::update_many()
        .set(change)
        .filter(Column::Id.eq(message.id))
        .filter(Column::Status.eq(MessageStatus::Pending))
        .exec_with_returning(db)
        .await
        .context("failed to record the delivery attempt")?;
    Ok(saved.into_iter().next())
}

/// A message of the workspace.
///
/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: MessageId,
) -> Result<Option<Model>, Error> {
    Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load message")
}

/// The message of the workspace with this provider id, whatever its number (an SMS provider's
/// ids are globally unique, and an SMS of a conversation moved to SMS belongs to its WhatsApp
/// number).
///
/// # Errors
/// On a database failure.
pub async fn find_in_workspace_by_external_id(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    external_id: &str,
) -> Result<Option<Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::ExternalId.eq(external_id))
        .one(db)
        .await
        .context("failed to look up message by provider id")
}

/// The conversation's latest message in `direction` (`None`: either), by storing time.
///
/// # Errors
/// On a database failure.
pub async fn latest_in(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    direction: Option<Direction>,
) -> Result<Option<Model>, Error> {
    let mut query = Entity::find().filter(Column::ConversationId.eq(conversation));
    if let Some(direction) = direction {
        query = query.filter(Column::Direction.eq(direction));
    }
    query
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .one(db)
        .await
        .context("failed to load the latest message")
}

/// Messages of the workspace among `ids` (for the dataloader).
///
/// # Errors
/// On a database failure.
pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    ids: &[MessageId],
) -> Result<Vec<Model>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Dialect::of(db).scope(Column::WorkspaceId, workspace))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
        .context("failed to load messages")
}

/// The message with this provider id (`wamid`) on this business number.
///
/// # Errors
/// On a database failure.
pub async fn find_by_external_id(
    db: &impl ConnectionTrait,
    business_number: BusinessNumberId,
    external_id: &str,
) -> Result<Option<Model>, Error> {
    Entity::find()
        .filter(Column::BusinessNumberId.eq(business_number))
        .filter(Column::ExternalId.eq(external_id))
        .one(db)
        .await
        .context("failed to look up message by provider id")
}

/// Position in a conversation's messages (newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageCursor {
    pub sent_at: DateTime<Utc>,
    pub id: MessageId,
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
) -> Result<Vec<Model>, Error> {
    let mut query = Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::ConversationId.eq(conversation));
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
) -> Result<Option<Model>, Error> {
    // One equality look-up per id, joined with UNION ALL: each is a point query on the
    // (business_number_id, external_id) index whatever plan the database caches (with
    // `external_id IN (…)` PostgreSQL's generic plan scanned all of the number's messages).
    let mut lookups = external_ids.iter().map(|id| {
        Query::select()
            .columns(Column::iter().map(|c| (Entity, c)))
            .from(Entity)
            .and_where(Expr::col(Column::BusinessNumberId).eq(business_number))
            .and_where(Expr::col(Column::ExternalId).eq(id.as_str()))
            .to_owned()
    });
    let Some(mut query) = lookups.next() else { return Ok(None) };
    for other in lookups {
        query.union(UnionType::All, other);
    }
    let stmt = Dialect::of(db).backend().build(&query);
    Entity::find().from_raw_sql(stmt).one(db).await.context("failed to look up message by provider id")
}

/// Which of these provider ids (each with its business number) a stored message has: one
/// point look-up of the `(business_number_id, external_id)` index per pair, in one statement.
///
/// # Errors
/// On a database failure.
pub async fn stored_external_ids(
    db: &impl ConnectionTrait,
    ids: &[(BusinessNumberId, String)],
) -> Result<std::collections::HashSet<(BusinessNumberId, String)>, Error> {
    let mut stored = std::collections::HashSet::new();
    // Point look-ups joined with UNION ALL, as in `find_by_any_external_id` (with an `OR` of
    // the pairs PostgreSQL factored the number out and scanned all of its messages).
    for chunk in ids.chunks(crate::dialect::LOOKUPS_PER_STATEMENT) {
        let mut lookups = chunk.iter().map(|(number, id)| {
            Query::select()
                .columns([Column::BusinessNumberId, Column::ExternalId])
                .from(Entity)
                .and_where(Expr::col(Column::BusinessNumberId).eq(*number))
                .and_where(Expr::col(Column::ExternalId).eq(id.as_str()))
                .to_owned()
        });
        let Some(mut query) = lookups.next() else { break };
        for other in lookups {
            query.union(UnionType::All, other);
        }
        let rows = db.query_all(&query).await.context("failed to look up messages by provider id")?;
        for row in rows {
            let number: BusinessNumberId =
                row.try_get("", "business_number_id").context("failed to read a message's number")?;
            let id: String = row.try_get("", "external_id").context("failed to read a provider id")?;
            stored.insert((number, id));
        }
    }
    Ok(stored)
}

/// The conversation's message sent with this idempotency key, if any.
///
/// # Errors
/// On a database failure.
pub async fn find_by_idempotency_key(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    key: &str,
) -> Result<Option<Model>, Error> {
    Entity::find()
        .filter(Column::ConversationId.eq(conversation))
        .filter(Column::IdempotencyKey.eq(key))
        .one(db)
        .await
        .context("failed to look up message by idempotency key")
}

/// Claims up to `limit` outbound messages due for delivery: marks each as attempted and leases
/// it until `lease_until`, so no other worker (in this or another process) sends it meanwhile.
/// Workspaces take turns (each one's oldest due message, then each one's second…), so one
/// tenant's bulk send delays another's reply by at most one batch. On PostgreSQL rows locked by
/// another claimer are skipped (`FOR UPDATE SKIP LOCKED`). Call it inside a transaction and
/// commit before sending.
///
/// # Errors
/// On a database failure.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    claim_in_turns::<Entity, MessageId>(db, outbox(), now, limit, lease_until, |m| m.id).await
}

/// Outbound messages waiting to be sent (due at their `next_attempt_at`).
pub(crate) fn outbox() -> Queue<'static> {
    let pending = MessageStatus::Pending.as_str();
    Queue::waiting("messages", "created_at", pending, Some(Direction::Outbound.as_str()))
        .with_per_workspace_index()
}

/// The latest message of each of the given conversations (one query, any page size).
///
/// # Errors
/// On a database failure.
pub async fn latest_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversations: &[ConversationId],
) -> Result<Vec<Model>, Error> {
    if conversations.is_empty() {
        return Ok(Vec::new());
    }
    let dialect = Dialect::of(db);
    let placeholder = |n: usize| dialect.placeholder(n);
    let list: Vec<String> = (0..conversations.len()).map(|i| placeholder(i + 2)).collect();
    // One index probe per conversation (`ix_messages_conversation`), then a primary-key look-up:
    // a window over the messages let SQLite, which plans without statistics, walk every
    // message of the workspace through its `workspace_id` index.
    let sql = format!(
        "SELECT m.* FROM messages m WHERE m.id IN (SELECT (SELECT x.id FROM messages x \
           WHERE x.conversation_id = c.id ORDER BY x.sent_at DESC, x.id DESC LIMIT 1) \
         FROM conversations c WHERE {} = {} AND c.id IN ({}))",
        dialect.unindexed("c.workspace_id"),
        placeholder(1),
        list.join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![workspace.into()];
    values.extend(conversations.iter().map(|c| sea_orm::Value::from(*c)));
    Entity::find()
        .from_raw_sql(sea_orm::Statement::from_sql_and_values(dialect.backend(), sql, values))
        .all(db)
        .await
        .context("failed to load latest messages")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wamids_are_digested_at_any_depth_and_in_text() {
        let mut content = json!({
            "type": "reaction",
            "reaction": { "message_id": "wamid.HBgLMTY1", "emoji": "👍" },
            "context": { "id": "wamid.ABC=", "from": "15550783881" },
            "list": ["wamid.X", "plain", 3],
        });
        digest_wamids(&mut content);
        let text = content.to_string();
        assert!(!text.contains("wamid."), "{text}");
        assert_eq!(content["reaction"]["message_id"], external_id_digest("wamid.HBgLMTY1"));
        assert_eq!(content["reaction"]["emoji"], "👍");
        assert_eq!(content["list"][1], "plain");
        let reason = scrub_wamids("no message wamid.HBgL+/= here, nor \"wamid.Q\"");
        assert_eq!(
            reason,
            format!(
                "no message {} here, nor \"{}\"",
                external_id_digest("wamid.HBgL+/="),
                external_id_digest("wamid.Q")
            )
        );
    }
}
