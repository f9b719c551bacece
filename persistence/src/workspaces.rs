//! Workspaces (tenants).

use chrono::{DateTime, Utc};
use domain::WorkspaceId;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::entities::workspace::{self, Column, Entity};
use crate::error::{DbContext, Error};

/// The window warning of a new workspace, in minutes before the window closes.
pub const DEFAULT_WINDOW_WARNING_MINUTES: i32 = 60;

/// # Errors
/// On a database failure.
pub async fn create(
    db: &impl ConnectionTrait,
    id: WorkspaceId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<workspace::Model, Error> {
    let model = workspace::ActiveModel {
        id: Set(id),
        name: Set(name.to_owned()),
        event_seq: Set(0),
        usernames_live: Set(false),
        read_receipts: Set(None),
        auto_link_attested_phone: Set(false),
        window_warning_minutes: Set(DEFAULT_WINDOW_WARNING_MINUTES),
        retention_days: Set(None),
        retention_erased_before: Set(None),
        business_hours: Set(None),
        created_at: Set(now),
    };
    Entity::insert(model)
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to create workspace", "workspace"))
}

/// # Errors
/// On a database failure.
pub async fn find(db: &impl ConnectionTrait, id: WorkspaceId) -> Result<Option<workspace::Model>, Error> {
    Entity::find_by_id(id).one(db).await.context("failed to load workspace")
}

/// Locks the workspace row until the transaction ends (PostgreSQL; SQLite's write lock is
/// enough), so workspace-wide limits (`count`, then insert) hold under concurrent requests.
///
/// # Errors
/// On a database failure.
pub async fn lock(db: &impl ConnectionTrait, id: WorkspaceId) -> Result<Option<workspace::Model>, Error> {
    crate::dialect::Dialect::of(db)
        .lock_for_update(Entity::find_by_id(id))
        .one(db)
        .await
        .context("failed to lock workspace")
}

/// Hands out the workspace's next `count` event cursors and returns the last (SQLite;
/// PostgreSQL numbers events after commit, see [`crate::events::NUMBER_COMMITTED`]). Call it
/// inside the transaction that writes the events: the row lock it takes orders the workspace's
/// events by commit, so a reader never sees cursor N+1 committed before N.
///
/// # Errors
/// On a database failure, or when the workspace does not exist.
pub async fn take_event_cursors(
    db: &impl ConnectionTrait,
    id: WorkspaceId,
    count: i64,
) -> Result<i64, Error> {
    let stmt = Query::update()
        .table(Entity)
        .value(Column::EventSeq, Expr::col(Column::EventSeq).add(count))
        .and_where(Expr::col(Column::Id).eq(id))
        .returning(Query::returning().column(Column::EventSeq))
        .to_owned();
    let row = db.query_one(&stmt).await.context("failed to allocate event cursors")?;
    let row = row.ok_or(Error::MissingReference { what: "workspace" })?;
    row.try_get::<i64>("", "event_seq").context("failed to read the event cursor")
}

/// Sets whether business usernames are live in the workspace's region (sandbox mode).
///
/// # Errors
/// On a database failure.
pub async fn set_usernames_live(db: &impl ConnectionTrait, id: WorkspaceId, live: bool) -> Result<(), Error> {
    let stmt = Query::update()
        .table(Entity)
        .value(Column::UsernamesLive, live)
        .and_where(Expr::col(Column::Id).eq(id))
        .to_owned();
    db.execute(&stmt).await.context("failed to update workspace")?;
    Ok(())
}
