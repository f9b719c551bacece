//! The audit trail: who linked, unlinked, relinked, assigned, changed a business username or a
//! webhook endpoint, and when.

use sea_orm_migration::prelude::*;

use crate::builders::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            manager,
            "audit_log",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid_null("agent_id"),
                text("action"),
                text("subject_type"),
                uuid("subject_id"),
                json_null("details"),
                timestamp("occurred_at"),
            ],
            vec![fk("audit_log", "workspace_id", "workspaces", ForeignKeyAction::Cascade)],
        )
        .await?;
        manager
            .create_index(index(
                "audit_log",
                "ix_audit_log_workspace_time",
                &["workspace_id", "-occurred_at"],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "audit_log").await
    }
}
