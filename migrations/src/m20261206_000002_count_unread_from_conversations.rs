//! The inbox's counts without reading messages: each conversation keeps when its latest inbound
//! message was stored (`inbound_stored_at`, the time an agent's read marker is compared with),
//! filled here for the conversations that exist, and the open conversations of a workspace are
//! counted from one partial index that holds everything the counts need (assignee, that time,
//! id), so a count walks that index and the agent's own read markers instead of probing the
//! messages of every open conversation.

use sea_orm_migration::prelude::*;

use crate::builders::{index, timestamp_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("conversations"))
                    .add_column(timestamp_null("inbound_stored_at"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE conversations SET inbound_stored_at = \
               (SELECT MAX(m.created_at) FROM messages m \
                 WHERE m.conversation_id = conversations.id AND m.direction = 'INBOUND') \
             WHERE EXISTS (SELECT 1 FROM messages m \
                 WHERE m.conversation_id = conversations.id AND m.direction = 'INBOUND')",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_conversations_open_counts \
             ON conversations (workspace_id, assignee_id, inbound_stored_at, id) WHERE status = 'OPEN'",
        )
        .await?;
        manager
            .create_index(index(
                "conversation_reads",
                "ix_conversation_reads_agent",
                &["agent_id", "conversation_id", "last_read_at"],
                false,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_conversation_reads_agent")
                    .table(Alias::new("conversation_reads"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_conversations_open_counts")
                    .table(Alias::new("conversations"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("conversations"))
                    .drop_column(Alias::new("inbound_stored_at"))
                    .to_owned(),
            )
            .await
    }
}
