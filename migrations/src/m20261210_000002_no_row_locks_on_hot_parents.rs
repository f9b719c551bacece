//! PostgreSQL: the foreign keys from `messages` and `events` to `workspaces` and
//! `business_numbers` are dropped.
//!
//! A foreign key check locks the parent row (`FOR KEY SHARE`) until the inserting transaction
//! ends. Every message and every event of a workspace names the same workspace row, and a
//! workspace's messages mostly the same number's row, so each of the concurrent sends and
//! webhooks of a workspace added itself to a shared lock on one row: PostgreSQL keeps such a
//! lock as a multixact, rewritten with every member that joins or leaves, and every reader of
//! the row resolves it. Measured with `pg_stat_slru` during `parley-bench send`: about one new
//! multixact per transaction.
//!
//! What the keys protected still holds: a message belongs to its conversation (that key
//! stays, with its cascade), and the conversation to its workspace and number (those keys
//! stay); Parley writes a message's workspace and number from its conversation's and its
//! channel's, and deletes neither workspaces nor numbers. An event names its workspace only.
//! SQLite keeps its keys (one writer at a time: no shared locks to build).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::builders::fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table, column and parent of each dropped key (named `fk_{table}_{column}`).
const DROPPED: [(&str, &str, &str); 3] = [
    ("messages", "workspace_id", "workspaces"),
    ("messages", "business_number_id", "business_numbers"),
    ("events", "workspace_id", "workspaces"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (table, column, _) in DROPPED {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS fk_{table}_{column}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (table, column, parent) in DROPPED {
            manager.create_foreign_key(fk(table, column, parent, ForeignKeyAction::Cascade)).await?;
        }
        Ok(())
    }
}
