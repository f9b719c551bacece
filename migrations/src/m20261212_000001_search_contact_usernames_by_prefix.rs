//! PostgreSQL: the contacts' usernames in the byte order of `text_pattern_ops`, so a contact
//! search's `@username` path reads its prefix from an index under any collation. The unique
//! index of the identities serves a `LIKE 'prefix%'` only under the `C` collation. SQLite
//! searches its own way and gets no index.

use sea_orm_migration::prelude::*;

use crate::builders::on_postgres;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "ix_contact_identities_key_pattern";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &[&format!(
                "CREATE INDEX {NAME} ON contact_identities (workspace_id, kind, value_key text_pattern_ops)"
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[&format!("DROP INDEX IF EXISTS {NAME}")]).await
    }
}
