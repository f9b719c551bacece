//! Every difference between SQLite and PostgreSQL that Parley relies on, in one place.
//! Repositories ask the [`Dialect`] of their connection instead of branching on the backend.
//!
//! | concern | SQLite | PostgreSQL |
//! |---|---|---|
//! | concurrent writers | one at a time: Parley serialises write transactions in-process | row locks |
//! | loading a row for a change | the write lock is enough | `FOR UPDATE` |
//! | claiming queued work | the write lock is enough | `FOR UPDATE SKIP LOCKED` |
//! | event cursors | taken from the workspace row as each event is written | numbered right after commit |
//! | telling other processes | (one process) | `NOTIFY`, `LISTEN` relay |
//! | search over several indexed paths | `a OR b OR c` on the row | a `UNION` of one id query per path |
//! | searchable names and phones | the conversation's columns | `conversation_search` (trigram indexes), kept by a trigger |
//! | a prefix's estimate (`@username`) | `LIKE` alone (planned without statistics) | `LIKE` and the prefix's range of keys (`~>=~`, `~<~`) |
//! | bind parameters in raw SQL | `?n` | `$n` |
//! | concurrent group-commit lanes | 1 | 4 |

use sea_orm::sea_query::{
    Expr, IntoColumnRef, LockBehavior, LockType, QueryStatementBuilder, SelectStatement, UnionType,
};
use sea_orm::{Condition, ConnectionTrait, DatabaseBackend, QuerySelect};

/// The most point look-ups one statement joins with `UNION ALL` (SQLite allows 500 terms in
/// a compound select).
pub const LOOKUPS_PER_STATEMENT: usize = 200;

/// The most bind parameters one statement carries (SQLite's limit is 32,766; PostgreSQL's
/// 65,535).
pub const PARAMETERS_PER_STATEMENT: usize = 32_000;

/// Inserts `rows` of `E` several per statement, as many as [`PARAMETERS_PER_STATEMENT`] allows
/// for the table's columns (a table that gains columns keeps within the limit).
///
/// # Errors
/// The database's error for a statement (the rows of earlier statements stay written).
pub async fn insert_chunked<E>(
    db: &impl ConnectionTrait,
    rows: Vec<E::ActiveModel>,
) -> Result<(), sea_orm::DbErr>
where
    E: sea_orm::EntityTrait,
    E::ActiveModel: Clone,
{
    use sea_orm::Iterable;
    let per_statement = (PARAMETERS_PER_STATEMENT / E::Column::iter().count().max(1)).max(1);
    for chunk in rows.chunks(per_statement) {
        E::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    Ok(())
}

/// The SQL dialect of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of a connection (pool or transaction).
    #[must_use]
    pub fn of(db: &impl ConnectionTrait) -> Self {
        Self::from_backend(db.get_database_backend())
    }

    /// MySQL is not compiled in; anything but SQLite reads as PostgreSQL.
    #[must_use]
    pub fn from_backend(backend: DatabaseBackend) -> Self {
        match backend {
            DatabaseBackend::Sqlite => Dialect::Sqlite,
            _ => Dialect::Postgres,
        }
    }

    /// The dialect a database URL names, or `None` for an unsupported scheme.
    #[must_use]
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    /// Whether Parley must serialise write transactions itself (SQLite refuses a second
    /// writer instead of waiting for it).
    #[must_use]
    pub const fn serialises_writes(self) -> bool {
        matches!(self, Dialect::Sqlite)
    }

    /// Whether event cursors are numbered after commit (PostgreSQL), rather than as each
    /// event is written.
    #[must_use]
    pub const fn numbers_events_after_commit(self) -> bool {
        matches!(self, Dialect::Postgres)
    }

    /// Whether other processes learn of commits through `LISTEN/NOTIFY`.
    #[must_use]
    pub const fn notifies_other_processes(self) -> bool {
        matches!(self, Dialect::Postgres)
    }

    /// How many group-commit batches may be in flight at once: one on SQLite (one writer),
    /// several on PostgreSQL, where a batch waits on the network more than on the database.
    #[must_use]
    pub const fn write_lanes(self) -> usize {
        match self {
            Dialect::Sqlite => 1,
            Dialect::Postgres => 4,
        }
    }

    /// Locks the selected rows until the transaction ends (so two changes of one row apply one
    /// after the other).
    #[must_use]
    pub fn lock_for_update<Q: QuerySelect>(self, query: Q) -> Q {
        match self {
            Dialect::Sqlite => query,
            Dialect::Postgres => query.lock_exclusive(),
        }
    }

    /// Locks the selected rows of `table` only (a query that joins other tables leaves their
    /// rows unlocked) until the transaction ends.
    pub fn lock_rows_of(self, query: &mut SelectStatement, table: sea_orm::sea_query::TableRef) {
        if self == Dialect::Postgres {
            query.lock_with_tables(LockType::Update, [table]);
        }
    }

    /// Locks the selected rows, skipping those another claimer holds (queue claims across
    /// processes).
    #[must_use]
    pub fn claim<Q: QuerySelect>(self, query: Q) -> Q {
        match self {
            Dialect::Sqlite => query,
            Dialect::Postgres => query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked),
        }
    }

    /// Rows matching any of `paths`, each given as a condition on the row and as a query of
    /// the ids it matches (selecting one column). SQLite: `a OR b OR c` on the row. PostgreSQL
    /// plans `a OR b OR c` with an `ORDER BY … LIMIT` as a scan of the order's index that
    /// filters every row; a union of the id queries, evaluated once, lets each path use its own
    /// index, also one on another table (the searchable names).
    ///
    /// `first`, on PostgreSQL: a query of ids (UUIDs) and a count. When the query finds that
    /// many, the rows are those ids and the union is not evaluated (a page's first matches
    /// among its newest rows: a union that many rows match reads and sorts all of them).
    #[must_use]
    pub fn any_of_paths(
        self,
        id: impl IntoColumnRef,
        paths: Vec<(Condition, SelectStatement)>,
        first: Option<(SelectStatement, u64)>,
    ) -> Condition {
        if self == Dialect::Sqlite {
            return paths.into_iter().map(|(condition, _)| condition).fold(Condition::any(), Condition::add);
        }
        let mut branches = paths.into_iter().map(|(_, ids)| ids);
        let Some(mut union) = branches.next() else { return Condition::all() };
        for branch in branches {
            union.union(UnionType::Distinct, branch);
        }
        let ids = Expr::SubQuery(None, Box::new(union.into_sub_query_statement()));
        let Some((first, enough)) = first else {
            return Condition::all().add(Expr::cust_with_exprs("$1 = ANY(ARRAY($2))", [Expr::col(id), ids]));
        };
        // `OFFSET 0` keeps the first ids one subquery, evaluated once; the `ELSE` branch runs
        // only when it is taken.
        let first = Expr::SubQuery(None, Box::new(first.into_sub_query_statement()));
        Condition::all().add(Expr::cust_with_exprs(
            "$1 = ANY((SELECT CASE WHEN cardinality(walked.ids) >= $2 THEN walked.ids ELSE ARRAY($3) END \
             FROM (SELECT ARRAY($4) AS ids OFFSET 0) AS walked)::uuid[])",
            [Expr::col(id), Expr::val(i64::try_from(enough).unwrap_or(i64::MAX)), ids, first],
        ))
    }

    /// The keys starting with `prefix` as a range (PostgreSQL, in the byte order of a
    /// `text_pattern_ops` index; a key holds no U+10FFFF), added beside a `LIKE 'prefix%'` for
    /// the planner's estimate; `None` on SQLite, which plans without statistics. PostgreSQL
    /// estimates a `LIKE` from which of the column's 100 histogram entries it matches (1% each,
    /// 0.01% when none), and a range from where its ends fall among them.
    #[must_use]
    pub fn prefix_range(self, column: impl IntoColumnRef, prefix: &str) -> Option<Expr> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(Expr::cust_with_exprs(
                "$1 ~>=~ $2 AND $1 ~<~ $3",
                [Expr::col(column), Expr::val(prefix), Expr::val(format!("{prefix}\u{10FFFF}"))],
            )),
        }
    }

    /// The `n`th (1-based) bind parameter in hand-written SQL. Numbered on both, so one
    /// parameter may appear several times in a statement.
    #[must_use]
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// `column` as a term no index serves, for a filter that only scopes rows another term
    /// finds (the workspace of ids looked up by primary key). SQLite plans without statistics
    /// and would otherwise walk the whole workspace through its `workspace_id` index; its
    /// documented way to disqualify a term is a unary `+`. PostgreSQL plans from statistics.
    #[must_use]
    pub fn unindexed(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("+{column}"),
            Dialect::Postgres => column.to_owned(),
        }
    }

    /// `column = value` as a scope no index serves (see [`Dialect::unindexed`]): for look-ups by
    /// primary key within a workspace.
    #[must_use]
    pub fn scope(self, column: impl IntoColumnRef, value: impl Into<sea_orm::Value>) -> Expr {
        match self {
            // sea-query writes a custom expression's operands where SQLite's `?` are.
            Dialect::Sqlite => Expr::cust_with_exprs("+? = ?", [Expr::col(column), Expr::val(value)]),
            Dialect::Postgres => sea_orm::sea_query::ExprTrait::eq(Expr::col(column), Expr::val(value)),
        }
    }

    /// The sea-orm backend, for building statements.
    #[must_use]
    pub const fn backend(self) -> DatabaseBackend {
        match self {
            Dialect::Sqlite => DatabaseBackend::Sqlite,
            Dialect::Postgres => DatabaseBackend::Postgres,
        }
    }
}

/// A queue of work in a table: rows matching `filter` (raw SQL whose bind parameters are
/// `values`, as `$1…` / `?1…`), served by `order` (a column) within each workspace. A row
/// waiting in a work queue is due at its `next_attempt_at` (at once when that is null; a
/// claim leases it by moving that time on).
#[derive(Debug)]
pub(crate) struct Queue<'a> {
    pub table: &'a str,
    pub order: &'a str,
    pub filter: String,
    pub values: Vec<sea_orm::Value>,
    /// PostgreSQL has a partial index of the waiting rows (the filter's literal part) by
    /// `(workspace_id, order, id)`: a claim walks each waiting workspace's head in it instead
    /// of ranking every waiting row ([`ids_in_turns`]).
    pub per_workspace_index: bool,
}

impl<'a> Queue<'a> {
    /// The rows of `table` in `status` (and `direction`, when given), served by `order`.
    pub(crate) fn waiting(
        table: &'a str,
        order: &'a str,
        status: &'static str,
        direction: Option<&'static str>,
    ) -> Self {
        // Written as literals (the names of statuses and directions, never input), so that a
        // partial index of the waiting rows matches the statement whatever its plan.
        let literal = |name: &str| {
            debug_assert!(name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "{name}");
            format!("'{name}'")
        };
        let mut filter = format!("status = {}", literal(status));
        if let Some(direction) = direction {
            filter.push_str(&format!(" AND direction = {}", literal(direction)));
        }
        Self { table, order, filter, values: Vec::new(), per_workspace_index: false }
    }

    /// The same queue, with the partial index per workspace of [`Queue::per_workspace_index`].
    pub(crate) fn with_per_workspace_index(mut self) -> Self {
        self.per_workspace_index = true;
        self
    }

    /// Whether a claim on `dialect` walks the partial index per workspace
    /// ([`Queue::per_workspace_index`]): the due time's expression and the claim's statement
    /// both follow from it, so that they cannot disagree.
    fn walks_workspace_index(&self, dialect: Dialect) -> bool {
        self.per_workspace_index && dialect == Dialect::Postgres
    }

    /// The same queue narrowed to the rows due at `now`.
    ///
    /// With a per-workspace index on PostgreSQL, the due time is one expression no index
    /// holds, so that the claim can only walk that index, whose order it needs: the queue's
    /// due-time index (`ix_messages_outbox`) holds the same rows since both are partial, and
    /// a plan on it would hand every due row to a sort.
    fn due_at(mut self, dialect: Dialect, now: chrono::DateTime<chrono::Utc>) -> Self {
        let at = dialect.placeholder(self.values.len() + 1);
        let due = if self.walks_workspace_index(dialect) {
            format!("COALESCE(next_attempt_at, '-infinity'::timestamptz) <= {at}")
        } else {
            format!("next_attempt_at IS NULL OR next_attempt_at <= {at}")
        };
        self.filter = format!("({}) AND ({due})", self.filter);
        self.values.push(now.into());
        self
    }
}

/// `sql` with every bind placeholder (`$n` or `?n`) renumbered `n + by`, so that filters
/// written on their own can share one statement.
fn shift_placeholders(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' || c == '?' {
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            match digits.parse::<usize>() {
                Ok(n) => out.push_str(&(n + by).to_string()),
                Err(_) => out.push_str(&digits),
            }
        }
    }
    out
}

/// When the earliest waiting row of any of the work `queues` is due (`None`: nothing waits;
/// a row never tried is due since the epoch). One statement, whatever the number of queues:
/// the idle poll of a worker costs two indexed look-ups per table, whatever its backlog.
///
/// # Errors
/// On a database failure.
pub(crate) async fn next_due(
    db: &impl ConnectionTrait,
    queues: Vec<Queue<'_>>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, crate::Error> {
    use crate::error::DbContext;
    let dialect = Dialect::of(db);
    let mut values = Vec::new();
    let mut parts = Vec::new();
    // Two probes per queue that stop at their first row (the earliest scheduled row, and
    // whether any row was never tried), not an aggregate over every waiting row: a backlog of
    // thousands of queued sends made each pass of the delivery worker read all of them.
    for queue in queues {
        let scheduled = shift_placeholders(&queue.filter, values.len());
        values.extend(queue.values.iter().cloned());
        let unscheduled = shift_placeholders(&queue.filter, values.len());
        values.extend(queue.values);
        parts.push(format!(
            "SELECT (SELECT next_attempt_at FROM {table} WHERE ({scheduled}) \
                       AND next_attempt_at IS NOT NULL ORDER BY next_attempt_at LIMIT 1) AS at, \
                    CASE WHEN EXISTS (SELECT 1 FROM {table} WHERE ({unscheduled}) \
                       AND next_attempt_at IS NULL) THEN 1 ELSE 0 END AS unscheduled",
            table = queue.table,
        ));
    }
    let sql = format!(
        "SELECT MIN(at) AS at, MAX(unscheduled) AS unscheduled FROM ({}) due",
        parts.join(" UNION ALL ")
    );
    let row = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(dialect.backend(), sql, values))
        .await
        .context("failed to read when work is due")?;
    let Some(row) = row else { return Ok(None) };
    let unscheduled: Option<i32> =
        row.try_get("", "unscheduled").context("failed to read when work is due")?;
    if unscheduled == Some(1) {
        return Ok(Some(chrono::DateTime::UNIX_EPOCH));
    }
    row.try_get::<Option<chrono::DateTime<chrono::Utc>>>("", "at").context("failed to read when work is due")
}

/// The ids of a [`Queue`]'s rows, workspaces taking turns: each workspace's first row by `order` (a column),
/// then each one's second, and so on, up to `limit`. Queues claim in this order so one tenant's
/// backlog never starves another's. Window functions run on both databases (SQLite 3.25+).
///
/// # Errors
/// On a database failure.
pub(crate) async fn ids_in_turns<Id: sea_orm::TryGetable>(
    db: &impl ConnectionTrait,
    queue: &Queue<'_>,
    limit: u64,
) -> Result<Vec<Id>, crate::Error> {
    use crate::error::DbContext;
    let Queue { table, order, filter, values, .. } = queue;
    let dialect = Dialect::of(db);
    let limit: sea_orm::Value = i64::try_from(limit).unwrap_or(i64::MAX).into();
    let (sql, values) = if queue.walks_workspace_index(dialect) {
        per_workspace_turns(table, order, filter, values, limit)
    } else {
        let mut values = values.clone();
        values.push(limit);
        let limit = dialect.placeholder(values.len());
        let sql = format!(
            "SELECT id FROM (\
               SELECT id, {order}, ROW_NUMBER() OVER (PARTITION BY workspace_id ORDER BY {order}, id) AS turn \
               FROM {table} WHERE {filter}\
             ) due ORDER BY turn, {order}, id LIMIT {limit}"
        );
        (sql, values)
    };
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(dialect.backend(), sql, values))
        .await
        .context("failed to find queued work")?;
    rows.iter().map(|row| row.try_get::<Id>("", "id")).collect::<Result<_, _>>().context("failed to read ids")
}

/// PostgreSQL, for a queue with a partial index per workspace: the same turns from the head
/// of each waiting workspace. The waiting workspaces are found by skipping through the index
/// (one probe each, a recursive query), and each gives at most `limit` of its oldest rows,
/// ranked among themselves: the cost follows the workspaces waiting and the rows claimed, not
/// the backlog.
fn per_workspace_turns(
    table: &str,
    order: &str,
    filter: &str,
    values: &[sea_orm::Value],
    limit: sea_orm::Value,
) -> (String, Vec<sea_orm::Value>) {
    let mut bound = Vec::new();
    let mut next_filter = || {
        let shifted = shift_placeholders(filter, bound.len());
        bound.extend(values.iter().cloned());
        shifted
    };
    let (first, next, head) = (next_filter(), next_filter(), next_filter());
    bound.push(limit);
    let limit = Dialect::Postgres.placeholder(bound.len());
    let sql = format!(
        "WITH RECURSIVE waiting(workspace_id) AS (\
           (SELECT workspace_id FROM {table} WHERE {first} ORDER BY workspace_id LIMIT 1) \
           UNION ALL \
           SELECT (SELECT {table}.workspace_id FROM {table} WHERE ({next}) \
                     AND {table}.workspace_id > waiting.workspace_id ORDER BY {table}.workspace_id LIMIT 1) \
           FROM waiting WHERE waiting.workspace_id IS NOT NULL) \
         SELECT due.id FROM waiting CROSS JOIN LATERAL (\
           SELECT head.id, head.{order}, ROW_NUMBER() OVER (ORDER BY head.{order}, head.id) AS turn FROM (\
             SELECT {table}.id, {table}.{order} FROM {table} \
             WHERE {table}.workspace_id = waiting.workspace_id AND ({head}) \
             ORDER BY {table}.{order}, {table}.id LIMIT {limit}) head) due \
         WHERE waiting.workspace_id IS NOT NULL \
         ORDER BY due.turn, due.{order}, due.id LIMIT {limit}"
    );
    (sql, bound)
}

/// A [`Queue`]'s rows due at `now` claimed for one
/// worker: workspaces taking turns, up to `limit`; each is locked (PostgreSQL skips rows another
/// claimer holds: `FOR UPDATE SKIP LOCKED`), checked against `filter` again, and leased until
/// `lease_until` (`next_attempt_at`), its `attempts` counted. Call it inside a transaction and
/// commit before working. `id_of` reads a claimed row's id, to keep the serving order.
///
/// # Errors
/// On a database failure.
pub(crate) async fn claim_in_turns<E, Id>(
    db: &impl ConnectionTrait,
    queue: Queue<'_>,
    now: chrono::DateTime<chrono::Utc>,
    limit: u64,
    lease_until: chrono::DateTime<chrono::Utc>,
    id_of: impl Fn(&E::Model) -> Id,
) -> Result<Vec<E::Model>, crate::Error>
where
    E: sea_orm::EntityTrait,
    Id: sea_orm::TryGetable + Into<sea_orm::Value> + Copy + PartialEq,
{
    use crate::error::DbContext;
    let dialect = Dialect::of(db);
    let queue = queue.due_at(dialect, now);
    let ids: Vec<Id> = ids_in_turns(db, &queue, limit).await?;
    let Queue { table, filter, values, .. } = queue;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let first = values.len() + 1;
    let list: Vec<String> = (0..ids.len()).map(|i| dialect.placeholder(first + i)).collect();
    let lock = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let lease = dialect.placeholder(first + ids.len());
    // Locked and checked again (another claimer may have taken some since), then leased.
    let sql = format!(
        "UPDATE {table} SET attempts = attempts + 1, next_attempt_at = {lease} \
         WHERE id IN (SELECT id FROM {table} WHERE id IN ({list}) AND {filter}{lock}) RETURNING *",
        list = list.join(", "),
    );
    let mut bound = values;
    bound.extend(ids.iter().map(|id| (*id).into()));
    bound.push(lease_until.into());
    let mut claimed = E::find()
        .from_raw_sql(sea_orm::Statement::from_sql_and_values(dialect.backend(), sql, bound))
        .all(db)
        .await
        .context("failed to claim queued work")?;
    claimed.sort_by_key(|row| ids.iter().position(|id| *id == id_of(row)));
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_dialect() {
        assert_eq!(Dialect::from_url("sqlite://parley.db?mode=rwc"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::from_url("sqlite::memory:"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::from_url("postgres://u@h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_url("postgresql://u@h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_url("mysql://u@h/db"), None);
    }

    #[test]
    fn placeholders_shift_whole_numbers() {
        assert_eq!(
            shift_placeholders("a = $1 AND b = $10 AND c IS NULL", 9),
            "a = $10 AND b = $19 AND c IS NULL"
        );
        assert_eq!(shift_placeholders("a = ?2 OR b = ?12", 1), "a = ?3 OR b = ?13");
    }

    #[test]
    fn placeholders_follow_the_dialect() {
        assert_eq!(Dialect::Sqlite.placeholder(3), "?3");
        assert_eq!(Dialect::Postgres.placeholder(3), "$3");
    }
}

#[cfg(test)]
mod scope_tests {
    use super::*;
    use sea_orm::{EntityTrait, QueryFilter, QueryTrait};

    #[test]
    fn a_scope_is_a_term_no_sqlite_index_serves_and_a_plain_one_on_postgres() {
        let workspace = domain::WorkspaceId::new();
        let sql = |dialect: Dialect| {
            crate::entities::contact::Entity::find()
                .filter(dialect.scope(crate::entities::contact::Column::WorkspaceId, workspace))
                .build(dialect.backend())
                .to_string()
        };
        let value = format!("'{}'", workspace.as_uuid());
        assert!(
            sql(Dialect::Sqlite).ends_with(&format!("WHERE +\"workspace_id\" = {value}")),
            "{}",
            sql(Dialect::Sqlite)
        );
        assert!(
            sql(Dialect::Postgres).ends_with(&format!("WHERE \"workspace_id\" = {value}")),
            "{}",
            sql(Dialect::Postgres)
        );
        assert_eq!(Dialect::Sqlite.unindexed("c.workspace_id"), "+c.workspace_id");
        assert_eq!(Dialect::Postgres.unindexed("c.workspace_id"), "c.workspace_id");
    }
}
