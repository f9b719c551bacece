//! The conversation lifecycle (PRODUCT.md section 12): business numbers of either channel with
//! their own credentials (sealed) and a connected flag; snoozing; per-agent read markers; SMS
//! opt-outs per sender number; and a queue of provider signals (read receipts, typing
//! indicators) for the delivery worker.

use sea_orm_migration::prelude::*;

use crate::builders::{
    add_columns, boolean, create_table, drop_columns, drop_table, fk, id, index, integer, text, text_null,
    timestamp, timestamp_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn added() -> Vec<(&'static str, ColumnDef)> {
    vec![
        (
            "business_numbers",
            ColumnDef::new(Alias::new("channel")).text().not_null().default("WHATSAPP").to_owned(),
        ),
        ("business_numbers", boolean("connected", true)),
        ("business_numbers", text_null("access_token_sealed")),
        ("business_numbers", text_null("sms_account_sid")),
        ("business_numbers", text_null("sms_auth_token_sealed")),
        ("conversations", timestamp_null("snoozed_until")),
        ("conversations", boolean("sms_opted_out", false)),
        ("conversations", uuid_null("read_receipt_message_id")),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, added()).await?;
        manager
            .create_index(index(
                "conversations",
                "ix_conversations_snoozed",
                &["status", "snoozed_until"],
                false,
            ))
            .await?;

        create_table(
            manager,
            "conversation_reads",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("conversation_id"),
                uuid("agent_id"),
                timestamp("last_read_at"),
                uuid_null("last_read_message_id"),
                timestamp("updated_at"),
            ],
            vec![
                fk("conversation_reads", "workspace_id", "workspaces", ForeignKeyAction::Cascade),
                fk("conversation_reads", "conversation_id", "conversations", ForeignKeyAction::Cascade),
                fk("conversation_reads", "agent_id", "agents", ForeignKeyAction::Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "conversation_reads",
                "ux_conversation_reads_agent",
                &["conversation_id", "agent_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "messages",
                "ix_messages_conversation_created",
                &["conversation_id", "direction", "created_at"],
                false,
            ))
            .await?;
        // SMS providers' ids are unique across numbers: looked up by workspace (duplicates,
        // status callbacks).
        manager
            .create_index(index(
                "messages",
                "ix_messages_workspace_external_id",
                &["workspace_id", "external_id"],
                false,
            ))
            .await?;

        create_table(
            manager,
            "sms_opt_outs",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("business_number_id"),
                text("phone"),
                timestamp("opted_out_at"),
            ],
            vec![
                fk("sms_opt_outs", "workspace_id", "workspaces", ForeignKeyAction::Cascade),
                fk("sms_opt_outs", "business_number_id", "business_numbers", ForeignKeyAction::Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "sms_opt_outs",
                "ux_sms_opt_outs_number_phone",
                &["business_number_id", "phone"],
                true,
            ))
            .await?;

        create_table(
            manager,
            "provider_signals",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("conversation_id"),
                uuid("message_id"),
                text("kind"),
                text("status"),
                integer("attempts", 0),
                timestamp_null("next_attempt_at"),
                text_null("error_title"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![
                fk("provider_signals", "workspace_id", "workspaces", ForeignKeyAction::Cascade),
                fk("provider_signals", "conversation_id", "conversations", ForeignKeyAction::Cascade),
                fk("provider_signals", "message_id", "messages", ForeignKeyAction::Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "provider_signals",
                "ix_provider_signals_due",
                &["status", "next_attempt_at"],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "provider_signals").await?;
        drop_table(manager, "sms_opt_outs").await?;
        drop_table(manager, "conversation_reads").await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_messages_workspace_external_id")
                    .table(Alias::new("messages"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_messages_conversation_created")
                    .table(Alias::new("messages"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop().name("ix_conversations_snoozed").table(Alias::new("conversations")).to_owned(),
            )
            .await?;
        drop_columns(manager, added()).await?;
        Ok(())
    }
}
