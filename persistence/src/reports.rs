//! The facts reports count, and the report's statements (PRODUCT.md section 19).
//!
//! A conversation keeps when its first response was written and when it was resolved, with
//! how long each took ([`first_response`], [`resolved`], [`reopened`]: conditional updates in
//! the caller's transaction). A report is five grouped statements over a workspace and a time
//! range, run at once: conversations opened, resolved, first responses, messages and SLA
//! breaches. A short range reads its rows through the range's index
//! (`ix_conversations_report_opened`, `…_resolved` and `…_first_response` partial,
//! `ix_messages_report`, `ix_sla_clocks_breached` partial); a range holding most of the
//! workspace is read in one parallel scan (the planner's choice). Medians and 90th percentiles
//! are nearest-rank (a value that occurred), computed from a histogram of the seconds (by day on
//! PostgreSQL: its `percentile_disc`, the same rank).

use chrono::{DateTime, Utc};
use domain::{AgentId, BusinessNumberId, ConversationId, TeamId, WorkspaceId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryResult, Statement, TransactionTrait, Value,
};

use crate::dialect::Dialect;
use crate::entities::{message, sla_clock};
use crate::error::{DbContext, Error};

/// Sets a fact's time and seconds (`first_response` or `resolution`), under `condition`.
async fn record(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    (at_column, seconds_column, condition): (&str, &str, &str),
    at: DateTime<Utc>,
    seconds: i64,
) -> Result<(), Error> {
    let d = Dialect::of(db);
    let sql = format!(
        "UPDATE conversations SET {at_column} = {}, {seconds_column} = {} WHERE id = {}{condition}",
        d.placeholder(1),
        d.placeholder(2),
        d.placeholder(3)
    );
    let values = vec![at.into(), seconds.into(), conversation.into()];
    db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values))
        .await
        .context("failed to record a report fact")?;
    Ok(())
}

/// Records the first response (once: only while none is recorded).
///
/// # Errors
/// On a database failure.
pub async fn first_response(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    at: DateTime<Utc>,
    seconds: i64,
) -> Result<(), Error> {
    let columns = ("first_response_at", "first_response_seconds", " AND first_response_at IS NULL");
    record(db, conversation, columns, at, seconds).await
}

/// Records a resolution (the latest one counts).
///
/// # Errors
/// On a database failure.
pub async fn resolved(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    at: DateTime<Utc>,
    seconds: i64,
) -> Result<(), Error> {
    record(db, conversation, ("resolved_at", "resolution_seconds", ""), at, seconds).await
}

/// The conversation is open again: it is no longer resolved.
///
/// # Errors
/// On a database failure.
pub async fn reopened(db: &impl ConnectionTrait, conversation: ConversationId) -> Result<(), Error> {
    let d = Dialect::of(db);
    let sql = format!(
        "UPDATE conversations SET resolved_at = NULL, resolution_seconds = NULL \
         WHERE id = {} AND resolved_at IS NOT NULL",
        d.placeholder(1)
    );
    db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, vec![conversation.into()]))
        .await
        .context("failed to clear a resolution")?;
    Ok(())
}

/// A conversation's assignee or team changed: its messages and SLA clocks follow (reports count a message by
/// its conversation's assignee and team without reading the conversations). In the caller's
/// transaction, with the change.
///
/// # Errors
/// On a database failure.
pub async fn follow_assignment(
    db: &impl ConnectionTrait,
    conversation: ConversationId,
    assignee: Option<AgentId>,
    team: Option<TeamId>,
) -> Result<(), Error> {
    message::Entity::update_many()
        .col_expr(message::Column::ConversationAssigneeId, Expr::value(assignee))
        .col_expr(message::Column::ConversationTeamId, Expr::value(team))
        .filter(message::Column::ConversationId.eq(conversation))
        .exec(db)
        .await
        .context("failed to move a conversation's messages to its assignee")?;
    sla_clock::Entity::update_many()
        .col_expr(sla_clock::Column::ConversationAssigneeId, Expr::value(assignee))
        .col_expr(sla_clock::Column::ConversationTeamId, Expr::value(team))
        .filter(sla_clock::Column::ConversationId.eq(conversation))
        .exec(db)
        .await
        .context("failed to move a conversation's SLA clocks to its assignee")?;
    Ok(())
}

/// How a report groups its rows.
#[derive(Clone, Debug)]
pub enum Grouping {
    /// By day: each bucket is a key (the local date) and its instants `[start, end)`.
    Day(Vec<(String, DateTime<Utc>, DateTime<Utc>)>),
    /// By the conversation's assignee (messages sent: by their author).
    Agent,
    Team,
    BusinessNumber,
}

/// What a report covers.
#[derive(Clone, Debug)]
pub struct Scope {
    pub workspace: WorkspaceId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub grouping: Grouping,
    pub team: Option<TeamId>,
    pub number: Option<BusinessNumberId>,
}

/// A group's key: a day, or the id of an agent, team or number (`None`: nobody, no team).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Day(String),
    Id(Option<uuid::Uuid>),
}

/// A median and 90th percentile, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spread {
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

/// One group's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub opened: i64,
    pub resolved: i64,
    pub received: i64,
    pub sent: i64,
    pub first_response: Spread,
    pub resolution: Spread,
    pub sla_breaches: i64,
}

/// Builds one statement: the scope's binds first (workspace, from, to, then the filters and
/// the day bounds), then `{key}`, `{range}` and `{filters}` filled for the time column `at`.
struct Builder {
    dialect: Dialect,
    values: Vec<Value>,
    /// The columns that hold a row's team and business number (the conversation's, or the
    /// copies a message keeps).
    team: &'static str,
    number: &'static str,
}

impl Builder {
    fn bind(&mut self, value: Value) -> String {
        self.values.push(value);
        self.dialect.placeholder(self.values.len())
    }

    /// `WHERE`'s conditions: the workspace (of `table`), the range on `at`, the filters.
    fn scope(&mut self, scope: &Scope, table: &str, at: &str) -> String {
        let ws = self.bind(scope.workspace.into());
        let (from, to) = (self.bind(scope.from.into()), self.bind(scope.to.into()));
        let mut sql = format!("{table}.workspace_id = {ws} AND {at} >= {from} AND {at} < {to}");
        if let Some(team) = scope.team {
            let team = self.bind(team.into());
            sql.push_str(&format!(" AND {} = {team}", self.team));
        }
        if let Some(number) = scope.number {
            let number = self.bind(number.into());
            sql.push_str(&format!(" AND {} = {number}", self.number));
        }
        sql
    }

    /// The group key of a row whose time is `at` (days) or whose owner is `agent`.
    fn key(&mut self, scope: &Scope, at: &str, agent: &str) -> String {
        match &scope.grouping {
            Grouping::Day(days) => self.day_of(at, days),
            Grouping::Agent => agent.to_owned(),
            Grouping::Team => self.team.to_owned(),
            Grouping::BusinessNumber => self.number.to_owned(),
        }
    }

    /// A count statement: rows of `from` matching `w`, per key (and per `also`, as `d`). By
    /// day on PostgreSQL the rows are counted per quarter hour first (a cheap bin: every
    /// day's bounds lie on the quarter-hour grid of UTC, as every time zone's offsets do) and
    /// only those bins are searched for their day.
    fn counts(
        &mut self,
        scope: &Scope,
        (from, w): (&str, &str),
        at: &str,
        agent: &str,
        also: Option<&str>,
    ) -> String {
        let (select, group) = match also {
            Some(column) => (format!(", {column} AS d"), ", 2"),
            None => (String::new(), ""),
        };
        if let Grouping::Day(days) = &scope.grouping
            && self.dialect == Dialect::Postgres
            && days.iter().skip(1).all(|(_, start, _)| {
                start.timestamp().rem_euclid(900) == 0 && start.timestamp_subsec_nanos() == 0
            })
        {
            let k = self.day_of("q.b", days);
            let d = if also.is_some() { ", q.d" } else { "" };
            return format!(
                "SELECT {k} AS k{d}, CAST(SUM(q.n) AS BIGINT) AS n FROM \
                 (SELECT date_bin('15 minutes', {at}, TIMESTAMPTZ '2001-01-01 00:00:00+00') AS b{select}, COUNT(*) AS n \
                  FROM {from} WHERE {w} GROUP BY 1{group}) q GROUP BY 1{group}"
            );
        }
        let k = self.key(scope, at, agent);
        format!("SELECT {k} AS k{select}, COUNT(*) AS n FROM {from} WHERE {w} GROUP BY 1{group}")
    }

    /// The day `at` falls in (the `WHERE` keeps it within the range): a search halving the
    /// days at each `CASE`, so a row meets a handful of comparisons, not one per day.
    fn day_of(&mut self, at: &str, days: &[(String, DateTime<Utc>, DateTime<Utc>)]) -> String {
        match days {
            [] => "NULL".to_owned(),
            [(key, _, _)] => self.bind(key.clone().into()),
            _ => {
                let (before, after) = days.split_at(days.len() / 2);
                let bound = self.bind(after[0].1.into());
                let (before, after) = (self.day_of(at, before), self.day_of(at, after));
                format!("CASE WHEN {at} < {bound} THEN {before} ELSE {after} END")
            }
        }
    }
}

fn key_of(row: &QueryResult, grouping: &Grouping) -> Result<Key, Error> {
    let key = match grouping {
        Grouping::Day(_) => {
            Key::Day(row.try_get::<Option<String>>("", "k").context("report key")?.unwrap_or_default())
        }
        _ => Key::Id(row.try_get::<Option<uuid::Uuid>>("", "k").context("report key")?),
    };
    Ok(key)
}

/// The five statements of a report, in the order [`tally`] reads them: opened, resolved
/// (count and spread), first responses (spread), messages each way, SLA breaches. Public so a
/// benchmark can ask the database for their plans.
#[must_use]
pub fn statements(backend: sea_orm::DatabaseBackend, scope: &Scope) -> [Statement; 5] {
    let dialect = Dialect::from_backend(backend);
    let builder =
        || Builder { dialect, values: Vec::new(), team: "c.team_id", number: "c.business_number_id" };
    let mut b = builder();
    let w = b.scope(scope, "c", "c.created_at");
    let sql = b.counts(scope, ("conversations c", &w), "c.created_at", "c.assignee_id", None);
    let opened = Statement::from_sql_and_values(backend, sql, b.values);

    // Nearest-rank percentiles from a histogram: how many took each number of seconds (a
    // hashed, parallel aggregate), then running sums over those few rows, instead of sorting
    // every row (which chose a random-order index walk at a million rows).
    let times = |at: &str, seconds: &str| {
        let mut b = builder();
        let (w, k) = (b.scope(scope, "c", at), b.key(scope, at, "c.assignee_id"));
        if dialect == Dialect::Postgres && matches!(scope.grouping, Grouping::Day(_)) {
            // By day nearly every (day, seconds) pair is its own: the histogram would be as
            // long as the rows. PostgreSQL's nearest-rank aggregate sorts each day's values
            // once instead (the same answer: the first value whose rank reaches the fraction).
            let sql = format!(
                "SELECT {k} AS k, COUNT(*) AS n, \
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY {seconds}) AS p50, \
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY {seconds}) AS p90 \
                 FROM conversations c WHERE {w} GROUP BY 1"
            );
            return Statement::from_sql_and_values(backend, sql, b.values);
        }
        let sql = format!(
            "SELECT k, MAX(total) AS n, MIN(x) FILTER (WHERE cum * 10 >= total * 5) AS p50, \
             MIN(x) FILTER (WHERE cum * 10 >= total * 9) AS p90 \
             FROM (SELECT k, x, CAST(SUM(c) OVER (PARTITION BY k ORDER BY x) AS BIGINT) AS cum, CAST(SUM(c) OVER (PARTITION BY k) AS BIGINT) AS total \
                   FROM (SELECT {k} AS k, {seconds} AS x, COUNT(*) AS c FROM conversations c WHERE {w} GROUP BY 1, 2) h) r \
             GROUP BY k"
        );
        Statement::from_sql_and_values(backend, sql, b.values)
    };
    let resolved = times("c.resolved_at", "c.resolution_seconds");
    let first = times("c.first_response_at", "c.first_response_seconds");

    // Messages and SLA clocks are read alone: each carries its number and its conversation's
    // assignee and team (a message received: by the assignee; sent: by the author).
    let mut b = Builder { team: "m.conversation_team_id", number: "m.business_number_id", ..builder() };
    let w = b.scope(scope, "m", "m.created_at") + " AND m.direction IN ('INBOUND', 'OUTBOUND')";
    let agent =
        "CASE WHEN m.direction = 'OUTBOUND' THEN m.author_agent_id ELSE m.conversation_assignee_id END";
    let sql = b.counts(scope, ("messages m", &w), "m.created_at", agent, Some("m.direction"));
    let messages = Statement::from_sql_and_values(backend, sql, b.values);

    let mut b = Builder { team: "s.conversation_team_id", number: "s.business_number_id", ..builder() };
    let w = b.scope(scope, "s", "s.breached_at");
    let sql = b.counts(scope, ("sla_clocks s", &w), "s.breached_at", "s.conversation_assignee_id", None);
    let breaches = Statement::from_sql_and_values(backend, sql, b.values);
    [opened, resolved, first, messages, breaches]
}

/// Runs one of the report's statements. On PostgreSQL in a transaction of its own that lets it
/// aggregate in memory (`work_mem` 64 MB, for this statement only: the default 4 MB sent the
/// histograms of a million conversations to disk) and without JIT compilation (compiling a
/// report's day search took longer than the scan it served).
async fn read(
    db: &sea_orm::DatabaseConnection,
    statement: Statement,
) -> Result<Vec<QueryResult>, sea_orm::DbErr> {
    if Dialect::of(db) == Dialect::Sqlite {
        return db.query_all_raw(statement).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off").await?;
    let rows = txn.query_all_raw(statement).await?;
    txn.commit().await?;
    Ok(rows)
}

/// The report's figures per group key: the five [`statements`], run together.
///
/// # Errors
/// On a database failure.
pub async fn tally(db: &sea_orm::DatabaseConnection, scope: &Scope) -> Result<Vec<(Key, Tally)>, Error> {
    let mut out = std::collections::BTreeMap::<Key, Tally>::new();
    let [opened, resolved, first, messages, breaches] = statements(db.get_database_backend(), scope);
    let (opened, resolved, first, messages, breaches) = futures::try_join!(
        read(db, opened),
        read(db, resolved),
        read(db, first),
        read(db, messages),
        read(db, breaches),
    )
    .context("failed to read a report")?;
    let key = |row: &QueryResult| key_of(row, &scope.grouping);
    for row in opened {
        out.entry(key(&row)?).or_default().opened = row.try_get("", "n").context("n")?;
    }
    let spread = |row: &QueryResult| -> Result<Spread, Error> {
        Ok(Spread {
            median: row.try_get("", "p50").context("p50")?,
            p90: row.try_get("", "p90").context("p90")?,
        })
    };
    for row in resolved {
        let tally = out.entry(key(&row)?).or_default();
        tally.resolved = row.try_get("", "n").context("n")?;
        tally.resolution = spread(&row)?;
    }
    for row in first {
        out.entry(key(&row)?).or_default().first_response = spread(&row)?;
    }
    for row in messages {
        let tally = out.entry(key(&row)?).or_default();
        let n: i64 = row.try_get("", "n").context("n")?;
        match row.try_get::<String>("", "d").context("d")?.as_str() {
            "INBOUND" => tally.received += n,
            _ => tally.sent += n,
        }
    }
    for row in breaches {
        out.entry(key(&row)?).or_default().sla_breaches = row.try_get("", "n").context("n")?;
    }
    Ok(out.into_iter().collect())
}

/// One conversation of the CSV export: facts only (no phone, no message text).
#[derive(Clone, Debug)]
pub struct ExportRow {
    pub id: ConversationId,
    pub opened_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub channel: String,
    pub team: Option<TeamId>,
    pub assignee: Option<AgentId>,
    /// Its labels' ids.
    pub labels: Vec<uuid::Uuid>,
    pub sla_breaches: i64,
}

/// The next page of the export: conversations opened in `[from, to)` after `after` (opening
/// time, id), oldest first, at most `limit`; three statements whatever the page's size.
///
/// # Errors
/// On a database failure.
pub async fn export_page(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    after: Option<(DateTime<Utc>, ConversationId)>,
    limit: u64,
) -> Result<Vec<ExportRow>, Error> {
    let d = Dialect::of(db);
    let backend = db.get_database_backend();
    let mut b = Builder { dialect: d, values: Vec::new(), team: "team_id", number: "business_number_id" };
    let (ws, lo, hi) = (b.bind(workspace.into()), b.bind(from.into()), b.bind(to.into()));
    let mut sql = format!(
        "SELECT id, created_at, first_response_at, resolved_at, channel, team_id, assignee_id \
         FROM conversations WHERE workspace_id = {ws} AND created_at >= {lo} AND created_at < {hi}"
    );
    if let Some((at, id)) = after {
        // A row-value comparison: one range of the `(workspace_id, created_at, id)` index.
        let (at, id) = (b.bind(at.into()), b.bind(id.into()));
        sql.push_str(&format!(" AND (created_at, id) > ({at}, {id})"));
    }
    sql.push_str(&format!(" ORDER BY created_at, id LIMIT {limit}"));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, b.values))
        .await
        .context("export: conversations")?;
    let mut page = Vec::with_capacity(rows.len());
    for row in rows {
        page.push(ExportRow {
            id: row.try_get("", "id").context("id")?,
            opened_at: row.try_get("", "created_at").context("created_at")?,
            first_response_at: row.try_get("", "first_response_at").context("first_response_at")?,
            resolved_at: row.try_get("", "resolved_at").context("resolved_at")?,
            channel: row.try_get("", "channel").context("channel")?,
            team: row.try_get("", "team_id").context("team_id")?,
            assignee: row.try_get("", "assignee_id").context("assignee_id")?,
            labels: Vec::new(),
            sla_breaches: 0,
        });
    }
    if page.is_empty() {
        return Ok(page);
    }
    let ids: Vec<Value> = page.iter().map(|r| r.id.into()).collect();
    let list = (1..=ids.len()).map(|n| d.placeholder(n)).collect::<Vec<_>>().join(", ");
    let index: std::collections::HashMap<ConversationId, usize> =
        page.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let sql = format!(
        "SELECT conversation_id, label_id FROM conversation_labels WHERE conversation_id IN ({list}) \
         ORDER BY created_at"
    );
    for row in db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, ids.clone()))
        .await
        .context("export: labels")?
    {
        let id: ConversationId = row.try_get("", "conversation_id").context("conversation_id")?;
        if let Some(i) = index.get(&id) {
            page[*i].labels.push(row.try_get("", "label_id").context("label_id")?);
        }
    }
    let sql = format!(
        "SELECT conversation_id, COUNT(*) AS n FROM sla_clocks WHERE conversation_id IN ({list}) \
         AND breached_at IS NOT NULL GROUP BY conversation_id"
    );
    for row in
        db.query_all_raw(Statement::from_sql_and_values(backend, sql, ids)).await.context("export: SLA")?
    {
        let id: ConversationId = row.try_get("", "conversation_id").context("conversation_id")?;
        if let Some(i) = index.get(&id) {
            page[*i].sla_breaches = row.try_get("", "n").context("n")?;
        }
    }
    Ok(page)
}
