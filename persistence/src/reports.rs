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
//! are nearest-rank (a value that occurred), computed from a histogram of the seconds, the same
//! SQL on both databases.

use chrono::{DateTime, Utc};
use domain::{AgentId, BusinessNumberId, ConversationId, TeamId, WorkspaceId};
use sea_orm::{ConnectionTrait, QueryResult, Statement, Value};

use crate::dialect::Dialect;
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
    /// The alias whose `business_number_id` filters and groups (`c`, or `m` for messages read
    /// without their conversations).
    number_of: &'static str,
}

impl Builder {
    fn bind(&mut self, value: Value) -> String {
        self.values.push(value);
        self.dialect.placeholder(self.values.len())
    }

    /// `WHERE`'s conditions: the workspace (of `table`), the range on `at`, the filters on `c`.
    fn scope(&mut self, scope: &Scope, table: &str, at: &str) -> String {
        let ws = self.bind(scope.workspace.into());
        let (from, to) = (self.bind(scope.from.into()), self.bind(scope.to.into()));
        let mut sql = format!("{table}.workspace_id = {ws} AND {at} >= {from} AND {at} < {to}");
        if let Some(team) = scope.team {
            sql.push_str(&format!(" AND c.team_id = {}", self.bind(team.into())));
        }
        if let Some(number) = scope.number {
            let number = self.bind(number.into());
            sql.push_str(&format!(" AND {}.business_number_id = {number}", self.number_of));
        }
        sql
    }

    /// The group key of a row whose time is `at` (days) or whose owner is `agent`.
    fn key(&mut self, scope: &Scope, at: &str, agent: &str) -> String {
        match &scope.grouping {
            Grouping::Day(days) => {
                let mut sql = String::from("CASE");
                for (key, _, end) in days {
                    let (end, key) = (self.bind((*end).into()), self.bind(key.clone().into()));
                    sql.push_str(&format!(" WHEN {at} < {end} THEN {key}"));
                }
                sql.push_str(" END");
                sql
            }
            Grouping::Agent => agent.to_owned(),
            Grouping::Team => "c.team_id".to_owned(),
            Grouping::BusinessNumber => format!("{}.business_number_id", self.number_of),
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
    let builder = || Builder { dialect, values: Vec::new(), number_of: "c" };
    let mut b = builder();
    let (w, k) = (b.scope(scope, "c", "c.created_at"), b.key(scope, "c.created_at", "c.assignee_id"));
    let sql = format!("SELECT {k} AS k, COUNT(*) AS n FROM conversations c WHERE {w} GROUP BY 1");
    let opened = Statement::from_sql_and_values(backend, sql, b.values);

    // Nearest-rank percentiles from a histogram: how many took each number of seconds (a
    // hashed, parallel aggregate), then running sums over those few rows, instead of sorting
    // every row (which chose a random-order index walk at a million rows).
    let times = |at: &str, seconds: &str| {
        let mut b = builder();
        let (w, k) = (b.scope(scope, "c", at), b.key(scope, at, "c.assignee_id"));
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

    // Messages carry their number: they are read with their conversations only to group by
    // agent (received: by the conversation's assignee) or team, or to keep one team's.
    let joined = matches!(scope.grouping, Grouping::Agent | Grouping::Team) || scope.team.is_some();
    let mut b = Builder { number_of: if joined { "c" } else { "m" }, ..builder() };
    let w = b.scope(scope, "m", "m.created_at");
    let k = b.key(
        scope,
        "m.created_at",
        "CASE WHEN m.direction = 'OUTBOUND' THEN m.author_agent_id ELSE c.assignee_id END",
    );
    let from =
        if joined { "messages m JOIN conversations c ON c.id = m.conversation_id" } else { "messages m" };
    let sql = format!(
        "SELECT {k} AS k, m.direction AS d, COUNT(*) AS n FROM {from} \
         WHERE {w} AND m.direction IN ('INBOUND', 'OUTBOUND') GROUP BY 1, 2"
    );
    let messages = Statement::from_sql_and_values(backend, sql, b.values);

    let mut b = builder();
    let (w, k) = (b.scope(scope, "s", "s.breached_at"), b.key(scope, "s.breached_at", "c.assignee_id"));
    let sql = format!(
        "SELECT {k} AS k, COUNT(*) AS n FROM sla_clocks s JOIN conversations c ON c.id = s.conversation_id \
         WHERE {w} GROUP BY 1"
    );
    let breaches = Statement::from_sql_and_values(backend, sql, b.values);
    [opened, resolved, first, messages, breaches]
}

/// The report's figures per group key: the five [`statements`], run together.
///
/// # Errors
/// On a database failure.
pub async fn tally(db: &impl ConnectionTrait, scope: &Scope) -> Result<Vec<(Key, Tally)>, Error> {
    let mut out = std::collections::BTreeMap::<Key, Tally>::new();
    let [opened, resolved, first, messages, breaches] = statements(db.get_database_backend(), scope);
    let (opened, resolved, first, messages, breaches) = futures::try_join!(
        db.query_all_raw(opened),
        db.query_all_raw(resolved),
        db.query_all_raw(first),
        db.query_all_raw(messages),
        db.query_all_raw(breaches),
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
    let mut b = Builder { dialect: d, values: Vec::new(), number_of: "c" };
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
