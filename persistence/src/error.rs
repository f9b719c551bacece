//! One error type for the persistence layer: the failures a caller can act on are named; a
//! stored value that cannot be read back is [`Error::Corrupt`], everywhere; the rest is opaque
//! and carries its context chain for the log.

use sea_orm::{DbErr, SqlErr};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A unique constraint refused the write; `what` names the value that already exists.
    #[error("{what} already exists")]
    Duplicate { what: &'static str },
    /// A foreign key refused the write: something referenced does not exist.
    #[error("{what} does not exist")]
    MissingReference { what: &'static str },
    /// A stored value could not be read back as its type (an unknown enum text, an invalid
    /// phone, JSON of the wrong shape): the data was written by something other than this
    /// version of Parley. Never the caller's fault; answered as an internal error.
    #[error("{doing}: a stored value could not be read")]
    Corrupt {
        doing: &'static str,
        #[source]
        source: DbErr,
    },
    /// Anything else (connection lost, SQL error…): not the caller's fault.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Error {
    /// Wraps a database error with what was being done, naming constraint violations.
    pub(crate) fn from_db(err: DbErr, doing: &'static str, duplicate: &'static str) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Error::Duplicate { what: duplicate },
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Error::MissingReference { what: "a referenced record" }
            }
            _ => Error::wrap(err, doing),
        }
    }

    /// A database error with context: [`Error::Corrupt`] when a value could not be decoded,
    /// else [`Error::Unexpected`].
    pub(crate) fn wrap(err: DbErr, doing: &'static str) -> Self {
        if is_decode_failure(&err) {
            return Error::Corrupt { doing, source: err };
        }
        Error::Unexpected(anyhow::Error::new(err).context(doing))
    }

    /// Whether the database is unreachable, saturated or too slow right now (the caller may
    /// answer "retry later"): no connection within the acquire timeout, a lost connection, a
    /// statement cancelled by `statement_timeout` or a lock wait, or a busy SQLite file.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unexpected(err) => err.chain().any(|cause| {
                cause.downcast_ref::<DbErr>().is_some_and(|db| match db {
                    DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
                    other => transient_code(other),
                })
            }),
            _ => false,
        }
    }
}

impl Error {
    /// Whether the write lost a race with another transaction and may simply be tried again:
    /// a unique key taken first, a deadlock or a serialization failure (SQLSTATE 40P01, 40001).
    #[must_use]
    pub fn is_race(&self) -> bool {
        match self {
            Error::Duplicate { .. } => true,
            Error::Unexpected(err) => err.chain().any(|cause| {
                cause
                    .downcast_ref::<DbErr>()
                    .is_some_and(|db| sql_state(db).is_some_and(|c| matches!(c.as_str(), "40001" | "40P01")))
            }),
            _ => false,
        }
    }
}

/// How sea-orm reports a column value that does not convert to the field's type: `Type` (an
/// unknown enum text, an unexpected NULL), `TryIntoErr` (a value type's parser refused it),
/// `Json` (a JSON column of the wrong shape).
fn is_decode_failure(err: &DbErr) -> bool {
    matches!(err, DbErr::Type(_) | DbErr::TryIntoErr { .. } | DbErr::Json(_))
}

/// SQLSTATE 57014 (statement timeout or cancel), 55P03 (lock not available), 40001 and 40P01
/// (serialization failure, deadlock); SQLite 5 and 6 (busy, locked).
fn transient_code(err: &DbErr) -> bool {
    matches!(
        sql_state(err).as_deref(),
        Some("57014" | "55P03" | "40001" | "40P01" | "5" | "6" | "517" | "261")
    )
}

/// The SQLSTATE (PostgreSQL) or result code (SQLite) of a database error, if it has one.
fn sql_state(err: &DbErr) -> Option<String> {
    let (DbErr::Query(runtime) | DbErr::Exec(runtime)) = err else { return None };
    let sea_orm::RuntimeErr::SqlxError(sqlx) = runtime else { return None };
    Some(sqlx.as_database_error()?.code()?.into_owned())
}

/// `.context("…")` for sea-orm results, turning them into [`Error::Corrupt`] or
/// [`Error::Unexpected`].
pub(crate) trait DbContext<T> {
    fn context(self, doing: &'static str) -> Result<T, Error>;
}

impl<T> DbContext<T> for Result<T, DbErr> {
    fn context(self, doing: &'static str) -> Result<T, Error> {
        self.map_err(|err| Error::wrap(err, doing))
    }
}
