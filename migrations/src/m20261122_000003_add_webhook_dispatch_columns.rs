//! CRM webhook dispatch: how far each endpoint's deliveries have been enqueued, and the lease
//! a dispatcher holds on an endpoint while it sends (so several processes never send to one
//! endpoint at once, which keeps deliveries in cursor order).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("webhook_endpoints"))
                    .add_column(
                        ColumnDef::new(Alias::new("enqueued_cursor")).big_integer().not_null().default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("webhook_endpoints"))
                    .add_column(ColumnDef::new(Alias::new("lease_until")).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_head")
                    .table(Alias::new("webhook_deliveries"))
                    .col(Alias::new("endpoint_id"))
                    .col(Alias::new("status"))
                    .col(Alias::new("event_cursor"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_webhook_deliveries_head")
                    .table(Alias::new("webhook_deliveries"))
                    .to_owned(),
            )
            .await?;
        for column in ["lease_until", "enqueued_cursor"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("webhook_endpoints"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
