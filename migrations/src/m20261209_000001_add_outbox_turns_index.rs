//! The outbox per workspace: a partial index of the outbound messages waiting to be sent, by
//! workspace and age. On PostgreSQL a claim of the delivery worker walks the head of each
//! waiting workspace in it (workspaces take turns), instead of ranking every waiting message:
//! a campaign's backlog no longer makes every claim read all of it. SQLite keeps ranking (one
//! process, one writer); its index would only cost inserts, so it has none.

use sea_orm_migration::prelude::*;

use crate::builders::on_postgres;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "ix_messages_outbox_turns";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &[&format!(
                "CREATE INDEX {NAME} ON messages (workspace_id, created_at, id) \
             WHERE status = 'PENDING' AND direction = 'OUTBOUND'"
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[&format!("DROP INDEX IF EXISTS {NAME}")]).await
    }
}
