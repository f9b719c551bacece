//! Secrets at rest: a CRM endpoint keeps its previous secret for 24 hours after a rotation
//! (both sign), and a message of a customer who hid the number keeps its raw provider id only
//! sealed (`external_id` holds the digest). Values are sealed by the server at start-up and as
//! they are written (`persistence::sealed`); the columns are plain text.

use sea_orm_migration::prelude::*;

use crate::builders::{text_null, timestamp_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &[(&str, &str)] = &[
    ("webhook_endpoints", "previous_secret"),
    ("webhook_endpoints", "previous_secret_until"),
    ("messages", "external_id_sealed"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in COLUMNS {
            let definition =
                if column.ends_with("_until") { timestamp_null(column) } else { text_null(column) };
            manager
                .alter_table(Table::alter().table(Alias::new(*table)).add_column(definition).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in COLUMNS.iter().rev() {
            manager
                .alter_table(
                    Table::alter().table(Alias::new(*table)).drop_column(Alias::new(*column)).to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
