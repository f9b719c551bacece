//! The database handle: one pool, SQLite or PostgreSQL chosen by the URL.
//!
//! SQLite allows one writer at a time and refuses a deferred transaction that tries to upgrade
//! to a write while another holds the lock (`SQLITE_BUSY` with no wait). Parley therefore
//! serialises its write transactions on SQLite with an in-process lock ([`Database::begin`]);
//! reads run concurrently (WAL). On PostgreSQL the lock is absent and the database's own row
//! locks order concurrent writers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    ExecResult, QueryResult, Statement, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::dialect::Dialect;
use crate::work::{Announce, Wakeups, Work, WorkSet};

/// Pool sizing and time limits.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a free connection (or, on SQLite, for the write lock)
    /// before failing with "unavailable" instead of hanging.
    pub acquire_timeout: Duration,
    /// PostgreSQL: the longest one statement may run, lock waits included, before the database
    /// cancels it (`statement_timeout`); the caller then gets "unavailable". SQLite waits at
    /// most `acquire_timeout` for its write lock and 5 s for a busy database file.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(15),
        }
    }
}

/// What every pool of one process shares: the SQLite write lock, the workers to wake, and the
/// counters of statements (per pool) and commits.
#[derive(Debug, Default)]
struct Shared {
    wakeups: Wakeups,
    pools: std::sync::Mutex<Vec<(&'static str, Arc<AtomicU64>)>>,
    commits: AtomicU64,
    numbering: Numbering,
}

/// PostgreSQL: numbers committed events ([`crate::events::NUMBER_COMMITTED`]) after the
/// commits that wrote them, one numbering transaction at a time in this process. A commit
/// waits for a numbering that *started after it*, or starts one: N transactions committing at
/// once cost one or two numberings, not N, and no transaction holds a shared lock through its
/// own commit.
///
/// The numbering transaction also carries the `NOTIFY` of the other work those commits
/// announced (delivered at its commit, after theirs), which saves each of them a round trip.
#[derive(Debug, Default)]
struct Numbering {
    /// How many numberings have started (each is numbered by this count when it starts).
    started: AtomicU64,
    /// The number of the latest finished numbering; held while one runs.
    finished: Mutex<u64>,
    /// Work to announce to other processes with the next numbering (a [`WorkSet`]'s bits).
    to_announce: AtomicU8,
}

impl Numbering {
    /// Returns once everything committed before the call is numbered, and `announced` (work
    /// other than events) is announced to other processes.
    async fn after_commit(&self, conn: &DatabaseConnection, announced: WorkSet) -> Result<(), DbErr> {
        self.to_announce.fetch_or(announced.bits(), Ordering::SeqCst);
        let committed_before = self.started.load(Ordering::SeqCst);
        let mut finished = self.finished.lock().await;
        if *finished > committed_before {
            // A numbering that started after our commit has finished: it saw our events.
            return Ok(());
        }
        let this = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let announce = self.to_announce.swap(0, Ordering::SeqCst);
        if let Err(err) = Self::number(conn, WorkSet::from_bits(announce)).await {
            // Announced with the next numbering instead (other processes' workers also poll).
            self.to_announce.fetch_or(announce, Ordering::SeqCst);
            return Err(err);
        }
        *finished = this;
        Ok(())
    }

    /// One round trip: the statements of one simple query run as one (implicit) transaction,
    /// which commits after the last of them (and releases the advisory lock then), each
    /// statement with a snapshot of its own; `BEGIN` and `COMMIT` of their own took two
    /// more, while every other commit of the process waited for this one.
    async fn number(conn: &DatabaseConnection, announce: WorkSet) -> Result<(), DbErr> {
        let mut sql = notifications(announce);
        sql.push_str(crate::events::NUMBER_COMMITTED);
        conn.execute_unprepared(&sql).await.map(drop)
    }
}

/// `NOTIFY` statements announcing `work` (but events, which their numbering announces) to
/// other processes.
fn notifications(work: WorkSet) -> String {
    work.iter()
        .filter(|w| *w != Work::Events)
        .map(|w| format!(" NOTIFY {}, '{}';", crate::work::NOTIFY_CHANNEL, w.as_str()))
        .collect()
}

/// A pooled connection that rested this long is pinged before it is handed out again.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// How many times [`Database::refresh_statistics`] runs `VACUUM` at most.
pub const SETTLE_TRIES: u32 = 30;

/// A connection pool plus what Parley needs around it.
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
    url: Arc<str>,
    write_lock: Option<Arc<Mutex<()>>>,
    lock_timeout: Duration,
    statements: Arc<AtomicU64>,
    shared: Arc<Shared>,
}

impl Shared {
    fn lock_pools(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, Arc<AtomicU64>)>> {
        self.pools.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A write transaction; on SQLite it also holds the process's write lock until it ends.
#[derive(Debug)]
pub struct WriteTransaction {
    txn: DatabaseTransaction,
    _guard: Option<OwnedMutexGuard<()>>,
    /// The [`Work`] this transaction made ready (a [`WorkSet`]'s bits).
    announced: AtomicU8,
    shared: Arc<Shared>,
    /// PostgreSQL: the pool that numbers its events after commit.
    numbering: Option<DatabaseConnection>,
}

impl WriteTransaction {
    /// Commits, then wakes the workers of the work it announced, here and (PostgreSQL, by
    /// `NOTIFY`, delivered at commit) in every other process. On PostgreSQL a transaction that
    /// wrote events returns once they are numbered (see [`Numbering`]), so a reader that
    /// learns of the change finds its events.
    ///
    /// # Errors
    /// When the commit fails; nothing of the transaction is then stored. (A numbering that
    /// fails after the commit is logged, not returned: the change is stored, and the next
    /// numbering, of any process, numbers its events.)
    pub async fn commit(self) -> Result<(), DbErr> {
        let announced = WorkSet::from_bits(self.announced.load(Ordering::Relaxed));
        let dialect = Dialect::of(&self.txn);
        // A transaction that wrote events is numbered after commit, and that numbering
        // announces its other work too; any other announces its work itself, at commit.
        let numbering = self.numbering.clone().filter(|_| announced.contains(Work::Events));
        if dialect.notifies_other_processes() && numbering.is_none() {
            let notify = notifications(announced);
            if !notify.is_empty() {
                self.txn.execute_unprepared(&notify).await?;
            }
        }
        let shared = Arc::clone(&self.shared);
        self.txn.commit().await?;
        shared.commits.fetch_add(1, Ordering::Relaxed);
        if let Some(conn) = numbering
            && let Err(err) = shared.numbering.after_commit(&conn, announced).await
        {
            tracing::warn!(error = %err, "numbering committed events failed; the next numbering will");
        }
        shared.wakeups.wake(announced);
        Ok(())
    }
}

impl Announce for WriteTransaction {
    fn announce(&self, work: Work) {
        self.announced.fetch_or(WorkSet::of(&[work]).bits(), Ordering::Relaxed);
    }
}

/// A write transaction runs statements like the transaction it wraps, so repository functions
/// take it wherever they take a connection.
#[async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

impl WriteTransaction {
    /// Rolls back: nothing of the transaction is stored.
    ///
    /// # Errors
    /// When the rollback fails (the connection is then closed, which rolls back as well).
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

/// Whether a PostgreSQL host is this machine: a loopback address, `localhost`, or a Unix
/// socket directory.
fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host.starts_with('/')
        || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Database {
    /// Connects to `url` (`sqlite://file.db?mode=rwc` or `postgres://…`).
    ///
    /// SQLite is opened in WAL mode with `synchronous=FULL` (every acknowledged commit survives
    /// a power loss), foreign keys on, and a 5 s busy timeout.
    ///
    /// # Errors
    /// When the URL is not a supported database or the database cannot be reached.
    pub async fn connect(url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        let (conn, statements) = Self::pool(url, settings).await?;
        let shared = Arc::new(Shared::default());
        shared.lock_pools().push(("requests", Arc::clone(&statements)));
        Ok(Self {
            conn,
            url: Arc::from(url),
            write_lock: Dialect::from_url(url)
                .is_some_and(Dialect::serialises_writes)
                .then(|| Arc::new(Mutex::new(()))),
            lock_timeout: settings.acquire_timeout,
            statements,
            shared,
        })
    }

    /// A second pool on the same database, named `name` in the statement counts, for
    /// background work (delivery, dispatch), so it never competes with requests for
    /// connections. It shares the SQLite write lock, the workers to wake and the counters.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn sibling(&self, name: &'static str, max_connections: u32) -> anyhow::Result<Self> {
        let settings = PoolSettings { max_connections, ..PoolSettings::default() };
        let (conn, statements) = Self::pool(&self.url, &settings).await?;
        self.shared.lock_pools().push((name, Arc::clone(&statements)));
        Ok(Self {
            conn,
            url: Arc::clone(&self.url),
            write_lock: self.write_lock.clone(),
            lock_timeout: self.lock_timeout,
            statements,
            shared: Arc::clone(&self.shared),
        })
    }

    async fn pool(
        url: &str,
        settings: &PoolSettings,
    ) -> anyhow::Result<(DatabaseConnection, Arc<AtomicU64>)> {
        if Dialect::from_url(url).is_none() {
            anyhow::bail!("unsupported database URL scheme: use sqlite://… or postgres://…");
        }
        let statement_timeout = settings.statement_timeout.as_millis().to_string();
        let explicit_ssl_mode = url.contains("sslmode=");
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(settings.max_connections)
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            .connect_timeout(settings.acquire_timeout)
            // The driver pings a connection (a round trip) every time the pool hands it out,
            // and again when it comes back: a statement outside a transaction cost three
            // round trips, on the path of every request. The ping when it comes back stays
            // (it finds a connection broken by its last use); one handed out is pinged only
            // after it has rested long enough for a server, proxy or firewall to have dropped
            // it.
            .test_before_acquire_if_idle_for(PING_AFTER_IDLE)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
                    .create_if_missing(true)
                    // Deleted and overwritten content is zeroed on disk, not left in free
                    // pages (an erased customer's messages must not be readable in the file).
                    .pragma("secure_delete", "ON")
            })
            // JIT compilation pays off for long analytical queries, not for Parley's short ones:
            // a search's cost estimate crossed `jit_above_cost` and spent 13 ms compiling a
            // query that runs in 2 ms.
            //
            // TLS to a database on the same machine protects nothing and cost a tenth of the CPU
            // of a busy server (both ends encrypt every statement): without an explicit
            // `sslmode` in the URL, a loopback host or a socket gets a plain connection, as
            // `sslmode=disable` would; any other host keeps the driver's `prefer`.
            .map_sqlx_postgres_opts(move |opts| {
                let local = is_loopback_host(opts.get_host());
                let opts = opts.options([("statement_timeout", statement_timeout.as_str()), ("jit", "off")]);
                if local && !explicit_ssl_mode {
                    opts.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable)
                } else {
                    opts
                }
            });
        let mut conn = sea_orm::Database::connect(options)
            .await
            .map_err(|err| anyhow::Error::new(err).context("failed to connect to the database"))?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&statements);
        conn.set_metric_callback(move |_info| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok((conn, statements))
    }

    /// The pool, for reads and for repository calls outside a transaction.
    #[must_use]
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    #[must_use]
    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    /// The SQL dialect of this database.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        Dialect::from_backend(self.backend())
    }

    /// Where the dialect has it (PostgreSQL), relays the work other processes' commits announce
    /// (`NOTIFY`: numbered events by their numbering, other work by
    /// [`WriteTransaction::commit`]) to this process's workers until the task is aborted,
    /// reconnecting after a failure (and then waking every worker once, for what it may have
    /// missed). `None` on SQLite, where only this process writes.
    #[must_use]
    pub fn relay_other_processes(&self) -> Option<tokio::task::JoinHandle<()>> {
        if !self.dialect().notifies_other_processes() {
            return None;
        }
        let db = self.clone();
        Some(tokio::spawn(async move {
            use sea_orm::sqlx::postgres::PgListener;
            loop {
                match PgListener::connect(&db.url).await {
                    Ok(mut listener) => {
                        let channels = [crate::events::NOTIFY_CHANNEL, crate::work::NOTIFY_CHANNEL];
                        if let Err(err) = listener.listen_all(channels).await {
                            tracing::warn!(error = %err, "LISTEN failed");
                        } else {
                            db.shared.wakeups.wake(WorkSet::of(&Work::ALL));
                            while let Ok(notification) = listener.recv().await {
                                let work = if notification.channel() == crate::events::NOTIFY_CHANNEL {
                                    Some(Work::Events)
                                } else {
                                    Work::parse(notification.payload())
                                };
                                if let Some(work) = work {
                                    db.shared.wakeups.wake(WorkSet::of(&[work]));
                                }
                            }
                            tracing::warn!("LISTEN connection lost; reconnecting");
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "cannot open the LISTEN connection"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }))
    }

    /// Opens a write transaction (serialised on SQLite, see the module doc).
    ///
    /// # Errors
    /// When no connection can be had or `BEGIN` fails.
    pub async fn begin(&self) -> Result<WriteTransaction, DbErr> {
        let guard = match &self.write_lock {
            Some(lock) => {
                match tokio::time::timeout(self.lock_timeout, Arc::clone(lock).lock_owned()).await {
                    Ok(guard) => Some(guard),
                    Err(_) => return Err(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)),
                }
            }
            None => None,
        };
        let txn = self.conn.begin().await?;
        Ok(WriteTransaction {
            txn,
            _guard: guard,
            announced: AtomicU8::new(0),
            shared: Arc::clone(&self.shared),
            numbering: self.dialect().numbers_events_after_commit().then(|| self.conn.clone()),
        })
    }

    /// Runs a write that needs no transaction of the caller's (one statement, or a few) in a
    /// write transaction of its own. Every write goes through [`Database::begin`]: on SQLite a
    /// write on the bare pool would bypass the write lock, and a deferred transaction that read
    /// before it could then no longer upgrade to a write (`SQLITE_BUSY_SNAPSHOT`).
    ///
    /// Use cases write through it too, with their own error type (any `E` a storage error
    /// converts into): `db.write(async |txn| { …; Ok(value) })` in place of a hand-written
    /// begin/commit pair. When `write` fails, the transaction is rolled back (dropped) and
    /// nothing of it is stored.
    ///
    /// # Errors
    /// What `write` returns; a failure to begin or commit (nothing is then stored).
    pub async fn write<T, E: From<crate::Error>>(
        &self,
        write: impl AsyncFnOnce(&WriteTransaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let txn = self.begin().await.map_err(|e| crate::Error::wrap(e, "failed to begin"))?;
        let value = write(&txn).await?;
        txn.commit().await.map_err(|e| crate::Error::wrap(e, "failed to commit"))?;
        Ok(value)
    }

    /// PostgreSQL: numbers committed events that wait for a number (a process stopped between
    /// a commit and its numbering, or a numbering failed); returns whether there were any.
    /// Nothing on SQLite, where events are numbered as they are written.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn number_stray_events(&self) -> Result<bool, crate::Error> {
        if !self.dialect().numbers_events_after_commit()
            || !crate::events::any_committed_pending(&self.conn).await?
        {
            return Ok(false);
        }
        self.shared
            .numbering
            .after_commit(&self.conn, WorkSet::default())
            .await
            .map_err(|e| crate::Error::wrap(e, "failed to number committed events"))?;
        self.shared.wakeups.wake(WorkSet::of(&[Work::Events]));
        Ok(true)
    }

    /// A notification that fires after every commit, of this process or (relayed) of another,
    /// that announced one of `kinds` (see [`crate::work`]).
    #[must_use]
    pub fn wakeups(&self, kinds: &[Work]) -> Arc<tokio::sync::Notify> {
        self.shared.wakeups.register(kinds)
    }

    /// How many SQL statements this pool has run: lets tests prove a page costs a fixed number.
    #[must_use]
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// How many SQL statements each pool of this process has run, by pool name.
    #[must_use]
    pub fn statement_counts(&self) -> Vec<(&'static str, u64)> {
        self.shared.lock_pools().iter().map(|(name, n)| (*name, n.load(Ordering::Relaxed))).collect()
    }

    /// How many write transactions this process has committed, on every pool.
    #[must_use]
    pub fn commit_count(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// Settles the tables after a bulk import: PostgreSQL `VACUUM (ANALYZE)` (the planner's
    /// statistics, plus the visibility map and hint bits, so autovacuum does not start on the
    /// new rows while they are being read); SQLite plans without statistics.
    ///
    /// A `VACUUM` removes only the row versions no transaction may still see: one that started
    /// before the import's last change (in the bench, the server's window worker claiming
    /// windows, which waited on the import's row locks) makes it keep them all, and the reads that follow then prune them as
    /// they go, and autovacuum comes back for them. So it runs again, a second apart, until at
    /// most 1% of the rows it finds are dead (at most [`SETTLE_TRIES`] times). Returns how many
    /// times it ran.
    ///
    /// # Errors
    /// When a statement fails.
    pub async fn refresh_statistics(&self) -> Result<u32, DbErr> {
        use sea_orm::{ConnectionTrait, Statement};
        if self.dialect() == Dialect::Sqlite {
            return Ok(0);
        }
        let count = "SELECT COALESCE(SUM(n_dead_tup), 0)::bigint AS dead, \
                     COALESCE(SUM(n_live_tup), 0)::bigint AS live FROM pg_stat_user_tables";
        for tries in 1..=SETTLE_TRIES {
            self.conn.execute_unprepared("VACUUM (ANALYZE)").await?;
            let row = self
                .conn
                .query_one_raw(Statement::from_string(self.conn.get_database_backend(), count))
                .await?;
            let (dead, live) = match row {
                Some(row) => (row.try_get::<i64>("", "dead")?, row.try_get::<i64>("", "live")?),
                None => (0, 0),
            };
            if dead.saturating_mul(100) <= live || tries == SETTLE_TRIES {
                return Ok(tries);
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        Ok(SETTLE_TRIES)
    }

    /// SQLite: copies the write-ahead log into the database file and truncates it
    /// (`wal_checkpoint(TRUNCATE)`), so values a transaction overwrote or deleted (an erasure)
    /// are left in neither; with `secure_delete` their old pages are zeroed. A checkpoint that
    /// readers hold up does what it can (the next erasure's tries again). PostgreSQL: nothing
    /// (dead rows go at vacuum, WAL segments when recycled; see the README).
    ///
    /// # Errors
    /// When the statement fails.
    pub async fn checkpoint(&self) -> Result<(), DbErr> {
        use sea_orm::ConnectionTrait;
        match self.dialect() {
            Dialect::Sqlite => {
                // Taken under the write lock: no writer appends to the log meanwhile.
                let _txn_lock = match &self.write_lock {
                    Some(lock) => Some(Arc::clone(lock).lock_owned().await),
                    None => None,
                };
                self.conn.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await.map(|_| ())
            }
            Dialect::Postgres => Ok(()),
        }
    }

    /// Checks the database answers (for `/readyz`).
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// Closes the pool.
    ///
    /// # Errors
    /// When closing fails.
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_this_machine_is_reached_without_tls_by_default() {
        for local in ["localhost", "127.0.0.1", "127.0.0.53", "::1", "[::1]", "/var/run/postgresql"] {
            assert!(is_loopback_host(local), "{local}");
        }
        for remote in
            ["db.example.com", "10.0.0.5", "192.168.1.2", "::ffff:10.0.0.1", "localhost.example.com"]
        {
            assert!(!is_loopback_host(remote), "{remote}");
        }
    }
}
