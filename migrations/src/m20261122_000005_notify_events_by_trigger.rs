//! PostgreSQL: announce each stored event on the `parley_events` channel from a trigger, so
//! writing an event costs no extra round trip. `NOTIFY` is transactional: listeners hear it
//! when (and only if) the transaction commits, and identical notifications of one transaction
//! are folded into one. SQLite: nothing to do (one process, notified in memory).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE OR REPLACE FUNCTION parley_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_notify('parley_events', NEW.workspace_id::text); RETURN NULL; END $$",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TRIGGER events_notify AFTER INSERT ON events \
             FOR EACH ROW EXECUTE FUNCTION parley_notify_event()",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP TRIGGER IF EXISTS events_notify ON events").await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS parley_notify_event()").await?;
        Ok(())
    }
}
