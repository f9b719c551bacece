//! PostgreSQL: two indexes of `conversations` that no query uses, dropped. Every change of a
//! conversation's activity moves its row to a new version (the inbox order is indexed), and a
//! new version gets an entry in every index of the table, so each index costs every inbound
//! message and every send.
//!
//! - `ix_conversations_profile_name` (workspace, folded profile name): names are only searched
//!   by substring (`LIKE '%…%'`), which a B-tree cannot serve; the trigram index does.
//! - `ix_conversations_username` (workspace, username key): usernames are only searched by
//!   prefix, which `ix_conversations_username_pattern` (the same columns with pattern
//!   operators, which also serve equality) does.
//!
//! SQLite keeps both (its planner reads without statistics and its searches scan anyway).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::builders::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DROPPED: [(&str, &[&str]); 2] = [
    ("ix_conversations_profile_name", &["workspace_id", "customer_profile_name_folded"]),
    ("ix_conversations_username", &["workspace_id", "customer_username_key"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (name, _) in DROPPED {
            manager.get_connection().execute_unprepared(&format!("DROP INDEX IF EXISTS {name}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (name, columns) in DROPPED {
            manager.create_index(index("conversations", name, columns, false)).await?;
        }
        Ok(())
    }
}
