//! Snoozed conversations: when the next one is due, and reopening those whose time has come.

use chrono::{DateTime, Utc};
use domain::ConversationStatus;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::dialect::Dialect;
use crate::entities::conversation::{Column, Entity, Model};
use crate::error::{DbContext, Error};

/// When the next snoozed conversation is due to reopen (`None`: none is snoozed); the snooze
/// waker's idle poll, on the `(status, snoozed_until)` index.
///
/// # Errors
/// On a database failure.
pub async fn next_snooze_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, Error> {
    let first = Entity::find()
        .select_only()
        .column(Column::SnoozedUntil)
        .filter(Column::Status.eq(domain::ConversationStatus::Snoozed))
        .filter(Column::SnoozedUntil.is_not_null())
        .order_by_asc(Column::SnoozedUntil)
        .limit(1)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await
        .context("failed to read the next snooze")?;
    Ok(first.flatten())
}

/// Reopens up to `limit` snoozed conversations whose time has come, each exactly once whatever
/// the number of processes doing this (the update only touches rows still `SNOOZED`); returns
/// them as reopened.
///
/// # Errors
/// On a database failure.
pub async fn wake_snoozed(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    let dialect = Dialect::of(db);
    let p = |n| dialect.placeholder(n);
    let lock = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "UPDATE conversations SET status = {open}, snoozed_until = NULL, updated_at = {now} \
         WHERE id IN (SELECT id FROM conversations WHERE status = {snoozed} AND snoozed_until <= {now} \
                      ORDER BY snoozed_until LIMIT {limit}{lock}) \
         AND status = {snoozed} RETURNING *",
        open = p(1),
        now = p(2),
        snoozed = p(3),
        limit = p(4),
    );
    let values: Vec<sea_orm::Value> = vec![
        ConversationStatus::Open.as_str().into(),
        now.into(),
        ConversationStatus::Snoozed.as_str().into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
    ];
    Entity::find()
        .from_raw_sql(sea_orm::Statement::from_sql_and_values(dialect.backend(), sql, values))
        .all(db)
        .await
        .context("failed to reopen snoozed conversations")
}
