//! Digests of Meta webhook changes applied once and never again: a replayed
//! `business_username_update` (the same body) changes nothing.

use sea_orm_migration::prelude::*;

use crate::builders::{create_table, drop_table, fk, id, index, text, timestamp, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            manager,
            "webhook_receipts",
            vec![
                id("id"),
                uuid("business_number_id"),
                text("kind"),
                text("digest"),
                timestamp("received_at"),
            ],
            vec![fk("webhook_receipts", "business_number_id", "business_numbers", ForeignKeyAction::Cascade)],
        )
        .await?;
        manager
            .create_index(index(
                "webhook_receipts",
                "ux_webhook_receipts_number_digest",
                &["business_number_id", "kind", "digest"],
                true,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "webhook_receipts").await
    }
}
