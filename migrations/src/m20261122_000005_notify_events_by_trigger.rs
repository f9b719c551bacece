//! PostgreSQL: announce each stored event on the `parley_events` channel from a trigger, so
//! writing an event costs no extra round trip. `NOTIFY` is transactional: listeners hear it
//! when (and only if) the transaction commits, and identical notifications of one transaction
//! are folded into one. SQLite: nothing to do (one process, notified in memory).

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
                "CREATE OR REPLACE FUNCTION parley_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN PERFORM pg_notify('parley_events', NEW.workspace_id::text); RETURN NULL; END $$",
                "CREATE TRIGGER events_notify AFTER INSERT ON events \
                 FOR EACH ROW EXECUTE FUNCTION parley_notify_event()",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &[
                "DROP TRIGGER IF EXISTS events_notify ON events",
                "DROP FUNCTION IF EXISTS parley_notify_event()",
            ],
        )
        .await
    }
}
