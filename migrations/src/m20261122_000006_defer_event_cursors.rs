//! PostgreSQL: event cursors are assigned at commit, not when the event is written.
//!
//! An event is first stored with a temporary negative cursor from `parley_pending_events`
//! (unique, never blocking another transaction, and invisible to readers, who only ask for
//! cursors above one they have seen). Right before commit, one statement takes the workspace's
//! cursor row, numbers the transaction's pending events after it and writes `sequence` into
//! their payloads. The row lock that keeps cursors gap-free and in commit order is therefore
//! held for one statement and the commit, instead of for the rest of the transaction.
//! SQLite: nothing to do (one writer at a time; cursors are assigned as events are written).

use sea_orm_migration::prelude::*;

use crate::builders::on_postgres;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &[
                "CREATE SEQUENCE IF NOT EXISTS parley_pending_events",
                "CREATE INDEX IF NOT EXISTS ix_events_pending ON events (cursor) WHERE cursor < 0",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &["DROP INDEX IF EXISTS ix_events_pending", "DROP SEQUENCE IF EXISTS parley_pending_events"],
        )
        .await
    }
}
