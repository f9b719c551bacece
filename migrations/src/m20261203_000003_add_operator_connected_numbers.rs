//! Numbers are proven, not claimed (PRODUCT.md section 17): the operator's
//! `PARLEY_WHATSAPP_ACCESS_TOKEN` serves only numbers the operator connected from the command
//! line (`parley bootstrap`, `parley connect-number`); a tenant connects a number with a token
//! of its own that Meta shows the number to. Numbers stored before this change that have no
//! token of their own kept working with the operator's: they are marked as the operator's
//! (review them with `SELECT … WHERE operator_connected`).

use sea_orm_migration::prelude::*;

use crate::builders::boolean;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("business_numbers"))
                    .add_column(boolean("operator_connected", false))
                    .to_owned(),
            )
            .await?;
        let grandfathered = Query::update()
            .table(Alias::new("business_numbers"))
            .value(Alias::new("operator_connected"), true)
            .and_where(Expr::col(Alias::new("access_token_sealed")).is_null())
            .and_where(Expr::col(Alias::new("channel")).eq("WHATSAPP"))
            .to_owned();
        manager.exec_stmt(grandfathered).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("business_numbers"))
                    .drop_column(Alias::new("operator_connected"))
                    .to_owned(),
            )
            .await
    }
}
