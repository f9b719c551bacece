//! Read state: each agent's read marker per conversation, unread counts and the inbox counts.
//! A conversation's unread messages, for an agent, are its inbound messages stored after the
//! agent's marker (all of them when it has none); notes and outbound messages never count.

use chrono::{DateTime, Utc};
use domain::{AgentId, ConversationId, ConversationStatus, Direction, MessageId, WorkspaceId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{Condition, ConnectionTrait, EntityTrait, FromQueryResult};

use crate::dialect::Dialect;
use crate::entities::conversation;
use crate::entities::conversation_read::{ActiveModel, Column, Entity};
use crate::error::{DbContext, Error};

/// Moves the agent's marker on a conversation to `at` (the latest message's storing time).
///
/// # Errors
/// On a database failure.
pub async fn mark(
    db: &impl ConnectionTrait,
    conversation: &conversation::Model,
    agent: AgentId,
    at: DateTime<Utc>,
    message: Option<MessageId>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        workspace_id: Set(conversation.workspace_id),
        conversation_id: Set(conversation.id),
        agent_id: Set(agent),
        last_read_at: Set(at),
        last_read_message_id: Set(message),
        updated_at: Set(now),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::ConversationId, Column::AgentId])
                .update_columns([Column::LastReadAt, Column::LastReadMessageId, Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .context("failed to mark a conversation read")?;
    Ok(())
}

/// The conversation has an inbound message stored after the agent's marker (or none): its
/// latest inbound message's storing time (`inbound_stored_at`) is newer than the marker.
pub(crate) fn has_unread(agent: AgentId) -> Condition {
    let stored = Expr::col((conversation::Entity, conversation::Column::InboundStoredAt));
    let read = Query::select()
        .expr(Expr::val(1))
        .from(Entity)
        .and_where(
            Expr::col((Entity, Column::ConversationId))
                .eq(Expr::col((conversation::Entity, conversation::Column::Id))),
        )
        .and_where(Expr::col((Entity, Column::AgentId)).eq(agent))
        .and_where(Expr::col((Entity, Column::LastReadAt)).gte(stored.clone()))
        .to_owned();
    Condition::all().add(stored.is_not_null()).add(Expr::exists(read).not())
}

/// Sets the conversations' `inbound_stored_at` from their stored messages (after messages were
/// brought in at once, dated as given: imports, benchmarks).
///
/// # Errors
/// On a database failure.
pub(crate) async fn restore_inbound_stored(
    db: &impl ConnectionTrait,
    conversations: &[ConversationId],
) -> Result<(), Error> {
    let dialect = Dialect::of(db);
    for chunk in conversations.chunks(crate::dialect::LOOKUPS_PER_STATEMENT) {
        let ids: Vec<String> = (0..chunk.len()).map(|i| dialect.placeholder(i + 2)).collect();
        let sql = format!(
            "UPDATE conversations SET inbound_stored_at = \
               (SELECT MAX(m.created_at) FROM messages m WHERE m.conversation_id = conversations.id \
                  AND m.direction = {inbound}) \
             WHERE id IN ({ids})",
            inbound = dialect.placeholder(1),
            ids = ids.join(", "),
        );
        let mut values: Vec<sea_orm::Value> = vec![Direction::Inbound.as_str().into()];
        values.extend(chunk.iter().map(|c| sea_orm::Value::from(*c)));
        db.execute_raw(sea_orm::Statement::from_sql_and_values(dialect.backend(), sql, values))
            .await
            .context("failed to note when conversations last received a message")?;
    }
    Ok(())
}

/// The agent's read state of one conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    pub conversation_id: ConversationId,
    /// The agent's marker (`None`: never read).
    pub last_read_at: Option<DateTime<Utc>>,
    /// Inbound messages stored after the marker (all of them without one).
    pub unread: i64,
}

/// The agent's read state of each given conversation of the workspace, in one statement
/// whatever the number (each count is a range of the `(conversation_id, direction,
/// created_at)` index).
///
/// # Errors
/// On a database failure.
pub async fn read_states(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    agent: AgentId,
    conversations: &[ConversationId],
) -> Result<Vec<ReadState>, Error> {
    if conversations.is_empty() {
        return Ok(Vec::new());
    }
    let dialect = Dialect::of(db);
    let p = |n: usize| dialect.placeholder(n);
    let ids: Vec<String> = (0..conversations.len()).map(|i| p(i + 4)).collect();
    let sql = format!(
        "SELECT c.id AS conversation_id, r.last_read_at AS last_read_at, \
           (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.direction = {inbound} \
              AND (r.last_read_at IS NULL OR m.created_at > r.last_read_at)) AS unread \
         FROM conversations c LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.agent_id = {agent} \
         WHERE {scope} = {workspace} AND c.id IN ({ids})",
        scope = dialect.unindexed("c.workspace_id"),
        agent = p(1),
        workspace = p(2),
        inbound = p(3),
        ids = ids.join(", "),
    );
    let mut values: Vec<sea_orm::Value> =
        vec![agent.into(), workspace.into(), Direction::Inbound.as_str().into()];
    values.extend(conversations.iter().map(|c| sea_orm::Value::from(*c)));
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(dialect.backend(), sql, values))
        .await
        .context("failed to read read states")?;
    rows.iter()
        .map(|row| {
            Ok(ReadState {
                conversation_id: row.try_get("", "conversation_id")?,
                last_read_at: row.try_get("", "last_read_at")?,
                unread: row.try_get("", "unread")?,
            })
        })
        .collect::<Result<_, sea_orm::DbErr>>()
        .context("failed to read read states")
}

/// The inbox's counts for an agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboxCounts {
    /// Open conversations.
    pub open: i64,
    /// Open conversations with messages the agent has not read.
    pub unread: i64,
    /// Open conversations assigned to the agent.
    pub mine: i64,
    /// Open conversations assigned to no one.
    pub unassigned: i64,
    /// Open conversations waiting in a team's queue (in a team, assigned to no one).
    pub waiting: i64,
}

/// The inbox's counts for an agent, in one query: one walk of the workspace's open
/// conversations in the partial index `ix_conversations_open_counts` (assignee, latest inbound
/// storing time, id and team, nothing else), joined with the agent's own read markers. No message
/// is read.
///
/// # Errors
/// On a database failure.
pub async fn inbox_counts(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    agent: AgentId,
) -> Result<InboxCounts, Error> {
    let dialect = Dialect::of(db);
    let sql = format!(
        "SELECT COUNT(*) AS open, \
           SUM(CASE WHEN c.assignee_id = {agent} THEN 1 ELSE 0 END) AS mine, \
           SUM(CASE WHEN c.assignee_id IS NULL THEN 1 ELSE 0 END) AS unassigned, \
           SUM(CASE WHEN c.assignee_id IS NULL AND c.team_id IS NOT NULL THEN 1 ELSE 0 END) AS waiting, \
           SUM(CASE WHEN c.inbound_stored_at IS NOT NULL \
                 AND (r.last_read_at IS NULL OR r.last_read_at < c.inbound_stored_at) THEN 1 ELSE 0 END) AS unread \
         FROM conversations c \
         LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.agent_id = {agent} \
         WHERE c.workspace_id = {workspace} AND c.status = {open}",
        agent = dialect.placeholder(1),
        workspace = dialect.placeholder(2),
        open = dialect.placeholder(3),
    );
    let values: Vec<sea_orm::Value> =
        vec![agent.into(), workspace.into(), ConversationStatus::Open.as_str().into()];
    let row =
        CountsRow::find_by_statement(sea_orm::Statement::from_sql_and_values(dialect.backend(), sql, values))
            .one(db)
            .await
            .context("failed to count the inbox")?;
    Ok(row
        .map(|r| InboxCounts {
            open: r.open,
            unread: r.unread.unwrap_or(0),
            mine: r.mine.unwrap_or(0),
            unassigned: r.unassigned.unwrap_or(0),
            waiting: r.waiting.unwrap_or(0),
        })
        .unwrap_or_default())
}

#[derive(Debug, sea_orm::FromQueryResult)]
struct CountsRow {
    open: i64,
    unread: Option<i64>,
    mine: Option<i64>,
    unassigned: Option<i64>,
    waiting: Option<i64>,
}
