//! Read state: each agent's read marker per conversation, unread counts and the inbox counts.
//! A conversation's unread messages, for an agent, are its inbound messages stored after the
//! agent's marker (all of them when it has none); notes and outbound messages never count.

use chrono::{DateTime, Utc};
use domain::{AgentId, ConversationId, ConversationStatus, Direction, MessageId, WorkspaceId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict, Query, QueryStatementBuilder};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::dialect::Dialect;
use crate::entities::conversation_read::{ActiveModel, Column, Entity};
use crate::entities::{conversation, message};
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

/// The agent's marker on `conversation.id`, as an expression (`NULL` when there is none).
fn marker_of(agent: AgentId, conversation: Expr) -> Expr {
    let query = Query::select()
        .column(Column::LastReadAt)
        .from(Entity)
        .and_where(Expr::col((Entity, Column::ConversationId)).eq(conversation))
        .and_where(Expr::col((Entity, Column::AgentId)).eq(agent))
        .to_owned();
    Expr::SubQuery(None, Box::new(query.into_sub_query_statement()))
}

/// Inbound messages of `conversations.id` stored after the agent's marker exist.
pub(crate) fn has_unread(agent: AgentId) -> Condition {
    let conversation = Expr::col((conversation::Entity, conversation::Column::Id));
    let unread = Query::select()
        .expr(Expr::val(1))
        .from(message::Entity)
        .and_where(Expr::col((message::Entity, message::Column::ConversationId)).eq(conversation.clone()))
        .and_where(Expr::col((message::Entity, message::Column::Direction)).eq(Direction::Inbound.as_str()))
        .cond_where(
            Condition::any().add(marker_of(agent, conversation.clone()).is_null()).add(
                Expr::col((message::Entity, message::Column::CreatedAt)).gt(marker_of(agent, conversation)),
            ),
        )
        .to_owned();
    Condition::all().add(Expr::exists(unread))
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
}

/// The inbox's counts for an agent, in one query.
///
/// # Errors
/// On a database failure.
pub async fn inbox_counts(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    agent: AgentId,
) -> Result<InboxCounts, Error> {
    let count_if = |condition: Condition| Expr::expr(Func::sum(Expr::case(condition, 1).finally(0)));
    let row = conversation::Entity::find()
        .select_only()
        .column_as(Expr::col(conversation::Column::Id).count(), "open")
        .column_as(count_if(has_unread(agent)), "unread")
        .column_as(count_if(Condition::all().add(conversation::Column::AssigneeId.eq(agent))), "mine")
        .column_as(count_if(Condition::all().add(conversation::Column::AssigneeId.is_null())), "unassigned")
        .filter(conversation::Column::WorkspaceId.eq(workspace))
        .filter(conversation::Column::Status.eq(ConversationStatus::Open))
        .into_model::<CountsRow>()
        .one(db)
        .await
        .context("failed to count the inbox")?;
    Ok(row
        .map(|r| InboxCounts {
            open: r.open,
            unread: r.unread.unwrap_or(0),
            mine: r.mine.unwrap_or(0),
            unassigned: r.unassigned.unwrap_or(0),
        })
        .unwrap_or_default())
}

#[derive(Debug, sea_orm::FromQueryResult)]
struct CountsRow {
    open: i64,
    unread: Option<i64>,
    mine: Option<i64>,
    unassigned: Option<i64>,
}
