//! SLA policies and their clocks (PRODUCT.md section 18).
//!
//! A clock is one target of one conversation in one cycle. It runs from `started_at` to
//! `due_at` (computed by the caller, in business hours or wall-clock), stops when met (an agent
//! message, or resolving) or stopped (the policy removed or replaced), and does not run while
//! paused (snoozed): resuming moves its warning and due times by the time it was paused. The
//! timer claims due warnings and breaches once each (`warned_at`, `breached_at` are set by
//! conditional updates, `SKIP LOCKED` on PostgreSQL), through partial indexes of the running
//! clocks. Each conversation keeps the nearest due time of its running clocks (`sla_due_at`)
//! and whether a target of its current cycles is breached (`sla_breached`).

use chrono::{DateTime, Utc};
use domain::{ConversationId, SlaPolicyId, SlaTarget, WorkspaceId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Statement,
};

use crate::dialect::Dialect;
use crate::entities::conversation;
use crate::entities::sla_clock::{self, Column, Entity};
use crate::entities::sla_policy;
use crate::error::{DbContext, Error};

pub use crate::entities::sla_clock::Model as SlaClock;
pub use crate::entities::sla_policy::Model as SlaPolicy;

/// A new policy.
#[derive(Clone, Copy, Debug)]
pub struct NewPolicy<'a> {
    pub workspace_id: WorkspaceId,
    pub name: &'a str,
    pub first_response_minutes: Option<i32>,
    pub next_response_minutes: Option<i32>,
    pub resolution_minutes: Option<i32>,
    pub business_hours_only: bool,
}

/// # Errors
/// [`Error::Duplicate`] when the workspace has a policy of that name (ignoring case).
pub async fn create_policy(
    db: &impl ConnectionTrait,
    new: NewPolicy<'_>,
    now: DateTime<Utc>,
) -> Result<SlaPolicy, Error> {
    let row = sla_policy::ActiveModel {
        id: Set(SlaPolicyId::new()),
        workspace_id: Set(new.workspace_id),
        name: Set(new.name.to_owned()),
        name_key: Set(new.name.to_lowercase()),
        first_response_minutes: Set(new.first_response_minutes),
        next_response_minutes: Set(new.next_response_minutes),
        resolution_minutes: Set(new.resolution_minutes),
        business_hours_only: Set(new.business_hours_only),
        created_at: Set(now),
    };
    sla_policy::Entity::insert(row)
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to create SLA policy", "an SLA policy with this name"))
}

/// The workspace's policies, by name.
///
/// # Errors
/// On a database failure.
pub async fn policies(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<Vec<SlaPolicy>, Error> {
    sla_policy::Entity::find()
        .filter(sla_policy::Column::WorkspaceId.eq(workspace))
        .order_by_asc(sla_policy::Column::NameKey)
        .all(db)
        .await
        .context("failed to list SLA policies")
}

/// # Errors
/// On a database failure.
pub async fn policy(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: SlaPolicyId,
) -> Result<Option<SlaPolicy>, Error> {
    sla_policy::Entity::find_by_id(id)
        .filter(sla_policy::Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load SLA policy")
}

/// Policies by id (a page's policies in one statement).
///
/// # Errors
/// On a database failure.
pub async fn policies_by_ids(
    db: &impl ConnectionTrait,
    ids: &[SlaPolicyId],
) -> Result<Vec<SlaPolicy>, Error> {
    sla_policy::Entity::find()
        .filter(sla_policy::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
        .context("failed to load SLA policies")
}

/// A clock to start.
#[derive(Clone, Copy, Debug)]
pub struct NewClock {
    pub target: SlaTarget,
    pub minutes: i32,
    pub business_hours_only: bool,
    pub started_at: DateTime<Utc>,
    pub warn_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
}

/// Starts a clock of `conversation` under `policy`.
///
/// # Errors
/// On a database failure.
pub async fn start(
    db: &impl ConnectionTrait,
    conversation: &conversation::Model,
    policy: SlaPolicyId,
    new: NewClock,
) -> Result<SlaClock, Error> {
    let row = sla_clock::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        workspace_id: Set(conversation.workspace_id),
        conversation_id: Set(conversation.id),
        policy_id: Set(policy),
        target: Set(new.target),
        minutes: Set(new.minutes),
        business_hours_only: Set(new.business_hours_only),
        started_at: Set(new.started_at),
        warn_at: Set(new.warn_at),
        due_at: Set(new.due_at),
        paused_at: Set(None),
        met_at: Set(None),
        warned_at: Set(None),
        breached_at: Set(None),
        stopped_at: Set(None),
        stopped_because: Set(None),
        business_number_id: Set(Some(conversation.business_number_id)),
        conversation_assignee_id: Set(conversation.assignee_id),
        conversation_team_id: Set(conversation.team_id),
    };
    Entity::insert(row).exec_with_returning(db).await.context("failed to start an SLA clock")
}

/// The conversation's clocks that still run or wait (not met, not stopped), paused or not.
///
/// # Errors
/// On a database failure.
pub async fn open_clocks(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
) -> Result<Vec<SlaClock>, Error> {
    Entity::find()
        .filter(Column::ConversationId.eq(conversation))
        .filter(Column::MetAt.is_null())
        .filter(Column::StoppedAt.is_null())
        .all(db)
        .await
        .context("failed to load SLA clocks")
}

/// The latest clock of each target of each of `conversations` (their current cycles).
///
/// # Errors
/// On a database failure.
pub async fn current(
    db: &impl ConnectionTrait,
    conversations: &[ConversationId],
) -> Result<Vec<SlaClock>, Error> {
    if conversations.is_empty() {
        return Ok(Vec::new());
    }
    let rows = Entity::find()
        .filter(Column::ConversationId.is_in(conversations.iter().copied()))
        .order_by_asc(Column::ConversationId)
        .order_by_asc(Column::Target)
        .order_by_desc(Column::StartedAt)
        .order_by_desc(Column::Id)
        .all(db)
        .await
        .context("failed to load SLA clocks")?;
    let mut latest: Vec<SlaClock> = Vec::new();
    for row in rows {
        if latest.last().is_some_and(|l| l.conversation_id == row.conversation_id && l.target == row.target) {
            continue;
        }
        latest.push(row);
    }
    Ok(latest.into_iter().filter(|c| c.stopped_at.is_none() || c.breached_at.is_some()).collect())
}

/// Marks the conversation's open clocks of `targets` met at `now`; returns how many.
///
/// # Errors
/// On a database failure.
pub async fn meet(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    targets: &[SlaTarget],
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let done = Entity::update_many()
        .col_expr(Column::MetAt, Expr::value(now))
        .filter(Column::ConversationId.eq(conversation))
        .filter(Column::Target.is_in(targets.iter().copied()))
        .filter(Column::MetAt.is_null())
        .filter(Column::StoppedAt.is_null())
        .exec(db)
        .await
        .context("failed to meet SLA clocks")?;
    Ok(done.rows_affected)
}

/// Stops the conversation's open clocks of `targets` (all: `None`) at `now`, saying why.
///
/// # Errors
/// On a database failure.
pub async fn stop(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    targets: Option<&[SlaTarget]>,
    because: &str,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let mut update = Entity::update_many()
        .col_expr(Column::StoppedAt, Expr::value(now))
        .col_expr(Column::StoppedBecause, Expr::value(because))
        .filter(Column::ConversationId.eq(conversation))
        .filter(Column::MetAt.is_null())
        .filter(Column::StoppedAt.is_null());
    if let Some(targets) = targets {
        update = update.filter(Column::Target.is_in(targets.iter().copied()));
    }
    Ok(update.exec(db).await.context("failed to stop SLA clocks")?.rows_affected)
}

/// Pauses the conversation's running clocks at `now` (snoozed).
///
/// # Errors
/// On a database failure.
pub async fn pause(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let done = Entity::update_many()
        .col_expr(Column::PausedAt, Expr::value(now))
        .filter(Column::ConversationId.eq(conversation))
        .filter(Column::MetAt.is_null())
        .filter(Column::StoppedAt.is_null())
        .filter(Column::PausedAt.is_null())
        .exec(db)
        .await
        .context("failed to pause SLA clocks")?;
    Ok(done.rows_affected)
}

/// Resumes a paused clock with its moved warning and due times.
///
/// # Errors
/// On a database failure.
pub async fn resume(
    db: &impl ConnectionTrait,
    clock: &SlaClock,
    warn_at: Option<DateTime<Utc>>,
    due_at: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(Column::PausedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(Column::WarnAt, Expr::value(warn_at))
        .col_expr(Column::DueAt, Expr::value(due_at))
        .filter(Column::Id.eq(clock.id))
        .exec(db)
        .await
        .context("failed to resume an SLA clock")?;
    Ok(())
}

/// Recomputes the conversation's `sla_due_at` (the nearest due time of its running clocks)
/// and `sla_breached` (a target of its current cycles is breached) from its clocks.
///
/// # Errors
/// On a database failure.
pub async fn refresh(db: &impl ConnectionTrait, conversation: ConversationId) -> Result<(), Error> {
    let current = current(db, &[conversation]).await?;
    let due = current
        .iter()
        .filter(|c| c.met_at.is_none() && c.stopped_at.is_none() && c.paused_at.is_none())
        .filter_map(|c| c.due_at)
        .min();
    let breached = current.iter().any(|c| c.breached_at.is_some());
    conversation::Entity::update_many()
        .col_expr(conversation::Column::SlaDueAt, Expr::value(due))
        .col_expr(conversation::Column::SlaBreached, Expr::value(breached))
        .filter(conversation::Column::Id.eq(conversation))
        .exec(db)
        .await
        .context("failed to refresh the conversation's SLA")?;
    Ok(())
}

/// Sets the conversation's policy (its clocks are the caller's); returns it as stored.
///
/// # Errors
/// On a database failure.
pub async fn set_policy_of(
    db: &impl ConnectionTrait,
    conversation: conversation::Model,
    policy: Option<SlaPolicyId>,
    now: DateTime<Utc>,
) -> Result<conversation::Model, Error> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let mut model = conversation.into_active_model();
    model.sla_policy_id = Set(policy);
    model.updated_at = Set(now);
    model.update(db).await.context("failed to set the conversation's SLA policy")
}

/// When an agent last wrote to the customer in the conversation (an outbound message with an
/// author: not a note, not an away reply).
///
/// # Errors
/// On a database failure.
pub async fn latest_by_agent(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
) -> Result<Option<DateTime<Utc>>, Error> {
    let found = crate::entities::message::Entity::find()
        .filter(crate::entities::message::Column::ConversationId.eq(conversation))
        .filter(crate::entities::message::Column::Direction.eq(domain::Direction::Outbound))
        .filter(crate::entities::message::Column::AuthorAgentId.is_not_null())
        .order_by_desc(crate::entities::message::Column::CreatedAt)
        .one(db)
        .await
        .context("failed to load the latest agent message")?;
    Ok(found.map(|m| m.created_at))
}

/// When the customer's first message in the conversation was written (`None`: no customer
/// message yet).
///
/// # Errors
/// On a database failure.
pub async fn first_customer_message_at(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
) -> Result<Option<DateTime<Utc>>, Error> {
    use crate::entities::message;
    let found = message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation))
        .filter(message::Column::Direction.eq(domain::Direction::Inbound))
        .order_by_asc(message::Column::SentAt)
        .one(db)
        .await
        .context("failed to load the first customer message")?;
    Ok(found.map(|m| m.sent_at))
}

/// Which timer event a claim is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Warning,
    Breach,
}

impl Due {
    const fn columns(self) -> (&'static str, &'static str) {
        match self {
            Due::Warning => ("warn_at", "warned_at"),
            Due::Breach => ("due_at", "breached_at"),
        }
    }
}

const RUNNING: &str = "met_at IS NULL AND stopped_at IS NULL AND paused_at IS NULL";

/// Claims up to `limit` running clocks whose warning (or due time) has come by `now`: marks
/// them warned (or breached, and warned), returns them. Each is claimed once, whatever the
/// number of processes.
///
/// # Errors
/// On a database failure.
pub async fn claim(
    db: &impl ConnectionTrait,
    due: Due,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<SlaClock>, Error> {
    let dialect = Dialect::of(db);
    let (at, done) = due.columns();
    let also = match due {
        Due::Warning => String::new(),
        // A breach takes its conversation's assignee and team as they are now (the copies a
        // clock started with may predate an assignment committed meanwhile).
        Due::Breach => format!(
            ", warned_at = COALESCE(warned_at, {}), \
             conversation_assignee_id = (SELECT c.assignee_id FROM conversations c WHERE c.id = sla_clocks.conversation_id), \
             conversation_team_id = (SELECT c.team_id FROM conversations c WHERE c.id = sla_clocks.conversation_id)",
            dialect.placeholder(1)
        ),
    };
    let lock = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "UPDATE sla_clocks SET {done} = {now}{also} \
         WHERE id IN (SELECT id FROM sla_clocks WHERE {RUNNING} AND {done} IS NULL AND {at} <= {now} \
                      ORDER BY {at} LIMIT {limit}{lock}) \
         AND {RUNNING} AND {done} IS NULL RETURNING *",
        now = dialect.placeholder(1),
        limit = dialect.placeholder(2),
    );
    let values: Vec<sea_orm::Value> = vec![now.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()];
    Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(dialect.backend(), sql, values))
        .all(db)
        .await
        .context("failed to claim SLA clocks")
}

/// When the next warning or breach is due (`None`: no running clock), in one statement (each
/// half on its partial index).
///
/// # Errors
/// On a database failure.
pub async fn next_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, Error> {
    #[derive(FromQueryResult)]
    struct Row {
        warn: Option<DateTime<Utc>>,
        due: Option<DateTime<Utc>>,
    }
    let earliest = |due: Due| {
        let (at, done) = due.columns();
        format!("(SELECT MIN({at}) FROM sla_clocks WHERE {RUNNING} AND {done} IS NULL)")
    };
    let sql = format!("SELECT {} AS warn, {} AS due", earliest(Due::Warning), earliest(Due::Breach));
    let row = Row::find_by_statement(Statement::from_string(db.get_database_backend(), sql))
        .one(db)
        .await
        .context("failed to read the next SLA due time")?;
    Ok(row.and_then(|r| match (r.warn, r.due) {
        (Some(w), Some(d)) => Some(w.min(d)),
        (w, d) => w.or(d),
    }))
}
