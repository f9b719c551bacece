//! PostgreSQL: events are numbered after their transaction commits, by a short numbering
//! transaction of their own (`persistence::events::NUMBER_COMMITTED`), which announces them on
//! the `parley_events` channel itself. The insert trigger of migration 5 would announce them
//! before they are numbered (listeners would read nothing yet), so it goes. SQLite: nothing
//! to do (cursors are taken as events are written, under the one writer).

use sea_orm_migration::prelude::*;

use crate::builders::on_postgres;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &["DROP TRIGGER IF EXISTS events_notify ON events"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &["CREATE TRIGGER events_notify AFTER INSERT ON events \
               FOR EACH ROW EXECUTE FUNCTION parley_notify_event()"],
        )
        .await
    }
}
