//! The transactional outbox: every state change writes its event here, in the same
//! transaction as the change, so no event is lost and none describes a rolled-back change.
//!
//! Each event is stored as a whole CloudEvents 1.0 object with a per-workspace, gap-free,
//! monotonically increasing cursor in commit order: on SQLite taken as the event is written
//! ([`crate::workspaces::take_event_cursors`]), on PostgreSQL right after commit by a short
//! numbering transaction ([`NUMBER_COMMITTED`]); readers only ever see numbered events.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{ContactId, ConversationId, EventId, WorkspaceId};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement};

use crate::dialect::Dialect;
use serde_json::{Value, json};

use crate::entities::event::{self, Column, Entity};
use crate::error::{DbContext, Error};
use crate::work::{Announce, Work};
use crate::workspaces;

/// Event types (PRODUCT.md section 6).
pub mod types {
    pub const CONVERSATION_CREATED: &str = "conversation.created";
    pub const CONVERSATION_UPDATED: &str = "conversation.updated";
    pub const CONVERSATION_LINKED: &str = "conversation.linked";
    pub const CONVERSATION_UNLINKED: &str = "conversation.unlinked";
    pub const MESSAGE_RECEIVED: &str = "message.received";
    pub const MESSAGE_SENT: &str = "message.sent";
    pub const MESSAGE_STATUS_UPDATED: &str = "message.status_updated";
    pub const CONTACT_CREATED: &str = "contact.created";
    pub const CONTACT_UPDATED: &str = "contact.updated";
    pub const CUSTOMER_PHONE_SHARED: &str = "customer.phone_shared";
    pub const BUSINESS_USERNAME_UPDATED: &str = "business_username.updated";
    pub const ATTACHMENT_STORED: &str = "attachment.stored";
    pub const MESSAGE_REACTION: &str = "message.reaction";
    pub const NOTE_ADDED: &str = "note.added";
    pub const CONTACT_MERGED: &str = "contact.merged";
    pub const CONTACT_DELETED: &str = "contact.deleted";
    pub const CUSTOMER_ERASED: &str = "customer.erased";
    pub const CONVERSATION_WINDOW_CLOSING: &str = "conversation.window_closing";
    pub const CONVERSATION_WINDOW_CLOSED: &str = "conversation.window_closed";
    pub const CONVERSATION_CAPABILITIES_CHANGED: &str = "conversation.capabilities_changed";
    pub const CONVERSATION_ASSIGNED: &str = "conversation.assigned";
    pub const AGENT_AVAILABILITY_CHANGED: &str = "agent.availability_changed";
    pub const SLA_WARNING: &str = "sla.warning";
    pub const SLA_BREACHED: &str = "sla.breached";
    pub const TEMPLATE_UPDATED: &str = "template.updated";

    /// Every type, for validating subscription filters.
    pub const ALL: &[&str] = &[
        CONVERSATION_CREATED,
        CONVERSATION_UPDATED,
        CONVERSATION_LINKED,
        CONVERSATION_UNLINKED,
        MESSAGE_RECEIVED,
        MESSAGE_SENT,
        MESSAGE_STATUS_UPDATED,
        CONTACT_CREATED,
        CONTACT_UPDATED,
        CUSTOMER_PHONE_SHARED,
        BUSINESS_USERNAME_UPDATED,
        ATTACHMENT_STORED,
        MESSAGE_REACTION,
        NOTE_ADDED,
        CONTACT_MERGED,
        CONTACT_DELETED,
        CUSTOMER_ERASED,
        CONVERSATION_WINDOW_CLOSING,
        CONVERSATION_WINDOW_CLOSED,
        CONVERSATION_CAPABILITIES_CHANGED,
        CONVERSATION_ASSIGNED,
        AGENT_AVAILABILITY_CHANGED,
        SLA_WARNING,
        SLA_BREACHED,
        TEMPLATE_UPDATED,
    ];
}

/// An event to write.
#[derive(Debug)]
pub struct NewEvent {
    pub event_type: &'static str,
    pub conversation_id: Option<ConversationId>,
    pub contact_id: Option<ContactId>,
    /// The CloudEvent's `data`: what an integration needs without a second call.
    pub data: Value,
}

/// An event ready to be written: the CloudEvent (without its `sequence`, which its cursor
/// gives) and the row around it. [`prepare`] makes one, [`write`] stores several at once.
#[derive(Debug)]
pub struct Prepared {
    pub id: EventId,
    workspace: WorkspaceId,
    event_type: &'static str,
    conversation_id: Option<ConversationId>,
    contact_id: Option<ContactId>,
    payload: Value,
    occurred_at: DateTime<Utc>,
    /// SQLite: the cursor taken for it (PostgreSQL numbers events after commit).
    cursor: Option<i64>,
}

/// The event `new` of `workspace`, dated `now`, as it will be written.
#[must_use]
pub fn prepare(workspace: WorkspaceId, new: NewEvent, now: DateTime<Utc>) -> Prepared {
    let id = EventId::new();
    let payload = json!({
        "specversion": "1.0",
        "id": id.to_string(),
        "source": format!("/parley/workspaces/{workspace}"),
        "type": new.event_type,
        "time": now.to_rfc3339_opts(SecondsFormat::Micros, true),
        "datacontenttype": "application/json",
        "data": new.data,
    });
    Prepared {
        id,
        workspace,
        event_type: new.event_type,
        conversation_id: new.conversation_id,
        contact_id: new.contact_id,
        payload,
        occurred_at: now,
        cursor: None,
    }
}

/// Writes one event and returns its id. Call it with the transaction that makes the change (a
/// [`crate::WriteTransaction`]: on PostgreSQL the event is numbered once it has committed).
///
/// # Errors
/// On a database failure.
pub async fn append(
    db: &impl Announce,
    workspace: WorkspaceId,
    new: NewEvent,
    now: DateTime<Utc>,
) -> Result<EventId, Error> {
    let prepared = prepare(workspace, new, now);
    let id = prepared.id;
    write(db, vec![prepared]).await?;
    Ok(id)
}

/// The most events one statement writes (well inside both databases' parameter limits).
const ROWS_PER_STATEMENT: usize = 500;

/// Writes prepared events, in order, with as few statements as their number allows: on
/// PostgreSQL each gets a pending cursor (numbered after commit, `NUMBER_COMMITTED`, in the
/// order written); on SQLite each workspace's cursors are taken in one step, consecutive and
/// in order.
///
/// # Errors
/// On a database failure.
pub async fn write(db: &impl Announce, mut prepared: Vec<Prepared>) -> Result<(), Error> {
    if prepared.is_empty() {
        return Ok(());
    }
    db.announce(Work::Events);
    let postgres = Dialect::of(db).numbers_events_after_commit();
    if !postgres {
        number_now(db, &mut prepared).await?;
    }
    let columns = [
        Column::Id,
        Column::WorkspaceId,
        Column::Cursor,
        Column::EventType,
        Column::ConversationId,
        Column::ContactId,
        Column::Payload,
        Column::OccurredAt,
    ];
    let mut rows = prepared.into_iter().peekable();
    while rows.peek().is_some() {
        let mut insert = Query::insert();
        insert.into_table(Entity).columns(columns);
        for event in rows.by_ref().take(ROWS_PER_STATEMENT) {
            // A pending cursor on PostgreSQL: `-nextval` in row order, so numbering keeps it.
            let cursor = match event.cursor {
                Some(cursor) => Expr::val(cursor),
                None => Expr::cust("-nextval('parley_pending_events')"),
            };
            insert.values_panic([
                Expr::val(event.id),
                Expr::val(event.workspace),
                cursor,
                Expr::val(event.event_type),
                Expr::val(event.conversation_id),
                Expr::val(event.contact_id),
                Expr::val(event.payload),
                Expr::val(event.occurred_at),
            ]);
        }
        db.execute(&insert).await.context("failed to write event")?;
    }
    Ok(())
}

/// SQLite: gives every event its cursor now (one `event_seq` step per workspace), written into
/// its payload's `sequence`.
async fn number_now(db: &impl ConnectionTrait, prepared: &mut [Prepared]) -> Result<(), Error> {
    let mut workspaces: Vec<WorkspaceId> = prepared.iter().map(|e| e.workspace).collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    for workspace in workspaces {
        let count = prepared.iter().filter(|e| e.workspace == workspace).count();
        let last =
            workspaces::take_event_cursors(db, workspace, i64::try_from(count).unwrap_or(i64::MAX)).await?;
        let mut cursor = last - i64::try_from(count).unwrap_or(i64::MAX);
        for event in prepared.iter_mut().filter(|e| e.workspace == workspace) {
            cursor += 1;
            event.cursor = Some(cursor);
            event.payload["sequence"] = json!(cursor.to_string());
        }
    }
    Ok(())
}

/// PostgreSQL: numbers every committed pending event (those [`append`] wrote with a negative
/// cursor) after its workspace's latest cursor, in the order they were written, records each
/// one's `sequence` in its payload, and announces each numbered workspace on
/// [`NOTIFY_CHANNEL`]. [`crate::Database`] runs it in a short transaction of its own right
/// after a transaction that wrote events commits (one such transaction at a time per process,
/// and it numbers what every process committed meanwhile), so no lock is held through the
/// commit of the change itself.
///
/// A transaction-scoped advisory lock (key 7411130001, Parley's own) orders numbering transactions
/// across processes; it is taken by a statement of its own, so that the numbering statement's
/// snapshot (read committed: one per statement) sees everything the previous holder numbered.
/// Readers see only numbered events, and numbered in commit order of the numbering
/// transactions: a reader resuming from a cursor never misses one. Events of one conversation
/// are written after its row is locked, so they are numbered in the order their changes
/// committed; unrelated events committed within the same few milliseconds are numbered in the
/// order they were written.
///
/// One round trip (simple protocol, several statements). The plan settings keep it on the
/// indexes: the partial index of pending events walked in order (a plain index scan also marks
/// the entries of already numbered rows dead, so they cost nothing next time), and the primary
/// key for the update, whatever the statistics say.
pub const NUMBER_COMMITTED: &str = "\
    SELECT pg_advisory_xact_lock(7411130001); \
    SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; \
    SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; \
    WITH pending AS ( \
        SELECT id, workspace_id, \
               row_number() OVER (PARTITION BY workspace_id ORDER BY cursor DESC) AS n \
        FROM events WHERE cursor < 0), \
    counts AS (SELECT workspace_id, count(*) AS k FROM pending GROUP BY workspace_id), \
    bumped AS ( \
        UPDATE workspaces w SET event_seq = w.event_seq + c.k FROM counts c \
        WHERE w.id = c.workspace_id RETURNING w.id, w.event_seq - c.k AS base), \
    numbered AS ( \
        UPDATE events e \
        SET cursor = b.base + p.n, \
            payload = jsonb_set(e.payload, '{sequence}', to_jsonb((b.base + p.n)::text)) \
        FROM pending p JOIN bumped b ON b.id = p.workspace_id \
        WHERE e.id = p.id AND e.cursor < 0 RETURNING e.workspace_id) \
    SELECT pg_notify('parley_events', workspace_id::text) FROM numbered GROUP BY workspace_id;";

/// PostgreSQL: whether committed events wait for a number (left by a process that stopped
/// between a commit and its numbering, or a numbering that failed). One read of the partial
/// index of pending events.
///
/// # Errors
/// On a database failure.
pub async fn any_committed_pending(db: &impl ConnectionTrait) -> Result<bool, Error> {
    let stmt = Statement::from_string(
        Dialect::Postgres.backend(),
        "SELECT 1 AS one FROM events WHERE cursor < 0 LIMIT 1",
    );
    Ok(db.query_one_raw(stmt).await.context("failed to look for events waiting for a number")?.is_some())
}

/// The PostgreSQL `LISTEN` channel on which committed events are announced to all processes
/// (by [`NUMBER_COMMITTED`]; the payload is the workspace id).
pub const NOTIFY_CHANNEL: &str = "parley_events";

/// The workspace's latest event cursor (0 when it has none).
///
/// # Errors
/// On a database failure.
pub async fn latest_cursor(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<i64, Error> {
    let found = Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .order_by_desc(Column::Cursor)
        .one(db)
        .await
        .context("failed to read the latest event cursor")?;
    Ok(found.map_or(0, |e| e.cursor))
}

/// Events of the workspace after `after` (exclusive), oldest first, optionally of some types.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    after: i64,
    limit: u64,
    event_types: Option<&[String]>,
) -> Result<Vec<event::Model>, Error> {
    let mut query = Entity::find().filter(Column::WorkspaceId.eq(workspace)).filter(Column::Cursor.gt(after));
    if let Some(types) = event_types {
        query = query.filter(Column::EventType.is_in(types.iter().cloned()));
    }
    query.order_by_asc(Column::Cursor).limit(limit).all(db).await.context("failed to list events")
}

/// Events touching one conversation, oldest first (handy for tests and audits).
///
/// # Errors
/// On a database failure.
pub async fn for_conversation(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversation: ConversationId,
) -> Result<Vec<event::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::ConversationId.eq(conversation))
        .order_by_asc(Column::Cursor)
        .all(db)
        .await
        .context("failed to list conversation events")
}
