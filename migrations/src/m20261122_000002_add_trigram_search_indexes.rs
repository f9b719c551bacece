//! PostgreSQL: trigram indexes so that substring search of names and phones (`LIKE '%…%'`)
//! uses an index. Needs the `pg_trgm` extension; where it cannot be created, search falls back
//! to scans (correct, slower) and this migration does nothing. SQLite: nothing to do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[(&str, &str, &str)] = &[
    ("ix_conversations_profile_name_trgm", "conversations", "customer_profile_name_folded"),
    ("ix_conversations_phone_trgm", "conversations", "customer_phone"),
    ("ix_contacts_name_trgm", "contacts", "name_folded"),
    ("ix_contacts_phone_trgm", "contacts", "phone"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        // A savepoint keeps a refused CREATE EXTENSION from aborting the migration's transaction.
        let in_transaction = db.execute_unprepared("SAVEPOINT parley_trgm").await.is_ok();
        if db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm").await.is_err() {
            if in_transaction {
                db.execute_unprepared("ROLLBACK TO SAVEPOINT parley_trgm").await?;
            }
            return Ok(());
        }
        if in_transaction {
            db.execute_unprepared("RELEASE SAVEPOINT parley_trgm").await?;
        }
        for (name, table, column) in INDEXES {
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (name, _, _) in INDEXES {
            manager.get_connection().execute_unprepared(&format!("DROP INDEX IF EXISTS {name}")).await?;
        }
        Ok(())
    }
}
