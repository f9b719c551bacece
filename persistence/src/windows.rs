//! WhatsApp's service window as events (PRODUCT.md section 15): which open conversations'
//! windows are about to close or have closed, each claimed once per window whatever the number
//! of processes (the claim writes the window's `last_inbound_at` into `window_warned_for` or
//! `window_closed_for`, and only rows that still lack it are updated).
//!
//! Everything is found through `ix_conversations_window`, a partial index of the open WhatsApp
//! conversations whose current window has not been closed, by `last_inbound_at`.

use chrono::{DateTime, Utc};
use domain::{Direction, SERVICE_WINDOW};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, Statement};

use crate::dialect::Dialect;
use crate::entities::conversation::{Entity, Model};
use crate::error::{DbContext, Error};

/// The rows of the partial index: keep it word for word the index's predicate, so both
/// databases use the index.
const OPEN_WINDOWS: &str = "status = 'OPEN' AND active_channel = 'WHATSAPP' AND last_inbound_at IS NOT NULL \
    AND (window_closed_for IS NULL OR window_closed_for <> last_inbound_at)";

const NOT_WARNED: &str = "(window_warned_for IS NULL OR window_warned_for <> last_inbound_at)";

/// Claims up to `limit` conversations whose window has ended by `now` (their customer's latest
/// message is at least 24 hours old): marks the window closed and warned, returns them.
///
/// # Errors
/// On a database failure.
pub async fn claim_closed(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    let dialect = Dialect::of(db);
    let sql = format!(
        "UPDATE conversations SET window_closed_for = last_inbound_at, window_warned_for = last_inbound_at \
         WHERE id IN (SELECT id FROM conversations WHERE {OPEN_WINDOWS} AND last_inbound_at <= {opened_before} \
                      ORDER BY last_inbound_at LIMIT {limit}{lock}) \
         AND {OPEN_WINDOWS} RETURNING *",
        opened_before = dialect.placeholder(1),
        limit = dialect.placeholder(2),
        lock = skip_locked(dialect),
    );
    let values: Vec<sea_orm::Value> = vec![(now - SERVICE_WINDOW).into(), to_i64(limit).into()];
    claim(db, dialect, sql, values).await
}

/// Claims up to `limit` conversations whose window closes within their workspace's
/// `window_warning_minutes` of `now` and has not been warned about: marks it warned, returns
/// them.
///
/// # Errors
/// On a database failure.
pub async fn claim_closing(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    let dialect = Dialect::of(db);
    let mut claimed = Vec::new();
    for minutes in warning_minutes(db).await? {
        let sql = format!(
            "UPDATE conversations SET window_warned_for = last_inbound_at \
             WHERE id IN (SELECT id FROM conversations WHERE {OPEN_WINDOWS} AND {NOT_WARNED} \
                          AND last_inbound_at <= {warn_from} AND last_inbound_at > {closed_before} \
                          AND workspace_id IN (SELECT id FROM workspaces WHERE window_warning_minutes = {minutes}) \
                          ORDER BY last_inbound_at LIMIT {limit}{lock}) \
             AND {OPEN_WINDOWS} AND {NOT_WARNED} RETURNING *",
            warn_from = dialect.placeholder(1),
            closed_before = dialect.placeholder(2),
            minutes = dialect.placeholder(3),
            limit = dialect.placeholder(4),
            lock = skip_locked(dialect),
        );
        let values: Vec<sea_orm::Value> = vec![
            (now - SERVICE_WINDOW + chrono::Duration::minutes(minutes.into())).into(),
            (now - SERVICE_WINDOW).into(),
            minutes.into(),
            to_i64(limit).into(),
        ];
        claimed.extend(claim(db, dialect, sql, values).await?);
    }
    Ok(claimed)
}

/// When the next warning or closing is due (`None`: no open window).
///
/// # Errors
/// On a database failure.
pub async fn next_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, Error> {
    let dialect = Dialect::of(db);
    // The earliest entry of the index, not `MIN()`: PostgreSQL turns `MIN()` into a walk of the
    // index only for a query of one table, and a warning's query names the workspaces too (a
    // semi-join), so `MIN()` read every conversation of the database at every pass, once a
    // second while windows close (220 ms each at 1,000,000 conversations).
    let earliest = |extra: String| {
        format!(
            "SELECT last_inbound_at AS at FROM conversations WHERE {OPEN_WINDOWS}{extra} \
             ORDER BY last_inbound_at LIMIT 1"
        )
    };
    let mut due =
        first(db, dialect, earliest(String::new()), Vec::new()).await?.map(|at| at + SERVICE_WINDOW);
    for minutes in warning_minutes(db).await? {
        let sql = earliest(format!(
            " AND {NOT_WARNED} AND workspace_id IN (SELECT id FROM workspaces WHERE window_warning_minutes = {})",
            dialect.placeholder(1)
        ));
        if let Some(at) = first(db, dialect, sql, vec![minutes.into()]).await? {
            let warn = at + SERVICE_WINDOW - chrono::Duration::minutes(minutes.into());
            due = Some(due.map_or(warn, |d| d.min(warn)));
        }
    }
    Ok(due)
}

/// Marks every window that ended before `now` as warned and closed, without events: for
/// conversations brought in with their history (imports, benchmarks), whose old windows are
/// not news. Returns how many.
///
/// # Errors
/// On a database failure.
pub async fn settle_ended(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, Error> {
    let dialect = Dialect::of(db);
    let sql = format!(
        "UPDATE conversations SET window_warned_for = last_inbound_at, window_closed_for = last_inbound_at \
         WHERE {OPEN_WINDOWS} AND last_inbound_at <= {}",
        dialect.placeholder(1)
    );
    let done = db
        .execute_raw(Statement::from_sql_and_values(dialect.backend(), sql, [(now - SERVICE_WINDOW).into()]))
        .await
        .context("failed to settle ended service windows")?;
    Ok(done.rows_affected())
}

/// The agent wrote after the customer's latest message (no window event is due then).
///
/// # Errors
/// On a database failure.
pub async fn agent_wrote_last(db: &impl ConnectionTrait, conversation: &Model) -> Result<bool, Error> {
    let Some(inbound) = conversation.inbound_stored_at else {
        return Ok(true);
    };
    let latest = crate::messages::latest_in(db, conversation.id, Some(Direction::Outbound)).await?;
    Ok(latest.is_some_and(|m| m.created_at > inbound))
}

/// The distinct warning settings of all workspaces (a handful: one statement per value).
async fn warning_minutes(db: &impl ConnectionTrait) -> Result<Vec<i32>, Error> {
    #[derive(FromQueryResult)]
    struct Row {
        window_warning_minutes: i32,
    }
    let sql = "SELECT DISTINCT window_warning_minutes FROM workspaces";
    let rows = Row::find_by_statement(Statement::from_string(db.get_database_backend(), sql))
        .all(db)
        .await
        .context("failed to read the window warnings")?;
    Ok(rows.into_iter().map(|r| r.window_warning_minutes).collect())
}

async fn first(
    db: &impl ConnectionTrait,
    dialect: Dialect,
    sql: String,
    values: Vec<sea_orm::Value>,
) -> Result<Option<DateTime<Utc>>, Error> {
    #[derive(FromQueryResult)]
    struct Row {
        at: Option<DateTime<Utc>>,
    }
    let row = Row::find_by_statement(Statement::from_sql_and_values(dialect.backend(), sql, values))
        .one(db)
        .await
        .context("failed to read the next window due")?;
    Ok(row.and_then(|r| r.at))
}

async fn claim(
    db: &impl ConnectionTrait,
    dialect: Dialect,
    sql: String,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<Model>, Error> {
    Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(dialect.backend(), sql, values))
        .all(db)
        .await
        .context("failed to claim service windows")
}

fn skip_locked(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_statements_name_the_open_status_the_index_names() {
        assert_eq!(domain::ConversationStatus::Open.as_str(), "OPEN");
        assert_eq!(domain::Channel::Whatsapp.as_str(), "WHATSAPP");
    }
}
