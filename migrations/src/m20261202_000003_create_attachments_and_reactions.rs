//! Media, replies and reactions (PRODUCT.md section 11): a message's attachments (their bytes
//! live in the blob store under `blob_key`; inbound ones are fetched from the provider by a
//! worker, so they carry a fetch queue), the message a message replies to, and reactions (one
//! per side per message, upserted; outbound ones queue for the delivery worker).

use sea_orm_migration::prelude::*;

use crate::builders::{
    big_integer_null, create_table, drop_table, fk, id, index, integer, text, text_null, timestamp,
    timestamp_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            manager,
            "attachments",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid_null("message_id"),
                uuid_null("conversation_id"),
                uuid_null("business_number_id"),
                text("direction"),
                text("kind"),
                text("mime_type"),
                text_null("file_name"),
                text_null("caption"),
                big_integer_null("size_bytes"),
                text_null("sha256"),
                text_null("provider_sha256"),
                text_null("provider_media_id"),
                text_null("provider_url"),
                text("status"),
                text_null("blob_key"),
                text_null("failure_reason"),
                integer("attempts", 0),
                timestamp_null("next_attempt_at"),
                timestamp_null("fetch_deadline"),
                uuid_null("uploaded_by_agent_id"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![
                fk("attachments", "workspace_id", "workspaces", ForeignKeyAction::Cascade),
                fk("attachments", "message_id", "messages", ForeignKeyAction::Cascade),
            ],
        )
        .await?;
        manager.create_index(index("attachments", "ix_attachments_message", &["message_id"], false)).await?;
        manager
            .create_index(index("attachments", "ix_attachments_fetch", &["status", "next_attempt_at"], false))
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("messages"))
                    .add_column(uuid_null("reply_to_message_id"))
                    .to_owned(),
            )
            .await?;

        create_table(
            manager,
            "message_reactions",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("message_id"),
                uuid("conversation_id"),
                text("direction"),
                uuid_null("agent_id"),
                text("emoji"),
                text("status"),
                integer("attempts", 0),
                timestamp_null("next_attempt_at"),
                big_integer_null("error_code"),
                text_null("error_title"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![
                fk("message_reactions", "workspace_id", "workspaces", ForeignKeyAction::Cascade),
                fk("message_reactions", "message_id", "messages", ForeignKeyAction::Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "message_reactions",
                "ux_message_reactions_side",
                &["message_id", "direction"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "message_reactions",
                "ix_message_reactions_due",
                &["status", "next_attempt_at"],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "message_reactions").await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("messages"))
                    .drop_column(Alias::new("reply_to_message_id"))
                    .to_owned(),
            )
            .await?;
        drop_table(manager, "attachments").await
    }
}
