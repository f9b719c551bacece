//! The durable list of blobs to delete: an erasure (or an upload's expiry) decides in its own
//! transaction which bytes nothing refers to any more and lists them here; a worker deletes
//! them from the blob store after the commit, retrying until the store confirms. Attachments
//! are indexed by blob key (who else holds a file's bytes).

use sea_orm_migration::prelude::*;

use crate::builders::{
    create_table, drop_table, id, index, integer, text, text_null, timestamp, timestamp_null, uuid,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            manager,
            "blob_deletions",
            vec![
                id("id"),
                uuid("workspace_id"),
                text("blob_key"),
                text("status"),
                integer("attempts", 0),
                timestamp_null("next_attempt_at"),
                text_null("last_error"),
                timestamp("created_at"),
            ],
            vec![],
        )
        .await?;
        manager
            .create_index(index(
                "blob_deletions",
                "ix_blob_deletions_due",
                &["status", "next_attempt_at"],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "blob_deletions").await
    }
}
