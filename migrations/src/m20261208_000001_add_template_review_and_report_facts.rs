//! PRODUCT.md section 19, templates from Meta and reports:
//!
//! - a template belongs to a business number's WABA (`waba_id`, empty for one typed into
//!   Parley without a number) and carries Meta's review: its status, quality, rejection reason
//!   and Meta's id. One template per WABA, name and language; templates that existed before are
//!   `APPROVED` (they were sendable);
//! - each conversation keeps the facts reports count: when its first response was written and
//!   how long it took (in open time when its SLA policy counts business hours only), when it
//!   was resolved and how long that took. Existing conversations get them from their messages
//!   (wall-clock time) and, when resolved, from their last update;
//! - each message and SLA clock keeps its conversation's assignee and team (kept equal to them
//!   on every assignment; a clock also its business number), so a report counts them by agent,
//!   team or number without reading conversations; existing ones get their conversation's;
//! - indexes for reports: conversations by opening, resolution and first response in a
//!   workspace, messages by time, breached SLA clocks by time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::builders::{
    add_columns, big_integer_null, drop_columns, index, text_null, timestamp_null, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn added() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("templates", uuid_null("business_number_id")),
        ("templates", ColumnDef::new(Alias::new("waba_id")).text().not_null().default("").to_owned()),
        ("templates", ColumnDef::new(Alias::new("status")).text().not_null().default("APPROVED").to_owned()),
        ("templates", ColumnDef::new(Alias::new("quality")).text().not_null().default("UNKNOWN").to_owned()),
        ("templates", text_null("rejected_reason")),
        ("templates", text_null("meta_id")),
        ("templates", timestamp_null("updated_at")),
        ("conversations", timestamp_null("first_response_at")),
        ("conversations", big_integer_null("first_response_seconds")),
        ("conversations", timestamp_null("resolved_at")),
        ("conversations", big_integer_null("resolution_seconds")),
        ("messages", uuid_null("conversation_assignee_id")),
        ("messages", uuid_null("conversation_team_id")),
        ("sla_clocks", uuid_null("business_number_id")),
        ("sla_clocks", uuid_null("conversation_assignee_id")),
        ("sla_clocks", uuid_null("conversation_team_id")),
    ]
}

const INDEXES: &[(&str, &str, &str)] = &[
    (
        "conversations",
        "ix_conversations_report_opened",
        "CREATE INDEX ix_conversations_report_opened ON conversations (workspace_id, created_at, id)",
    ),
    (
        "conversations",
        "ix_conversations_report_resolved",
        "CREATE INDEX ix_conversations_report_resolved ON conversations (workspace_id, resolved_at) \
         WHERE resolved_at IS NOT NULL",
    ),
    (
        "conversations",
        "ix_conversations_report_first_response",
        "CREATE INDEX ix_conversations_report_first_response ON conversations (workspace_id, first_response_at) \
         WHERE first_response_at IS NOT NULL",
    ),
    (
        "messages",
        "ix_messages_report",
        "CREATE INDEX ix_messages_report ON messages (workspace_id, created_at)",
    ),
    (
        "sla_clocks",
        "ix_sla_clocks_breached",
        "CREATE INDEX ix_sla_clocks_breached ON sla_clocks (workspace_id, breached_at) \
         WHERE breached_at IS NOT NULL",
    ),
];

/// Seconds from `from` to `to`, as each database computes them.
fn seconds(backend: DatabaseBackend, from: &str, to: &str) -> String {
    match backend {
        DatabaseBackend::Sqlite => {
            format!("CAST(ROUND((julianday({to}) - julianday({from})) * 86400) AS INTEGER)")
        }
        _ => format!("CAST(EXTRACT(EPOCH FROM ({to} - {from})) AS BIGINT)"),
    }
}

/// Fills the facts of the conversations that existed before.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    let db = manager.get_connection();
    // The first customer message's own time, and the first agent message after it.
    let first_in = "(SELECT MIN(m.sent_at) FROM messages m \
         WHERE m.conversation_id = conversations.id AND m.direction = 'INBOUND')";
    let first_reply = format!(
        "(SELECT MIN(r.created_at) FROM messages r WHERE r.conversation_id = conversations.id \
         AND r.direction = 'OUTBOUND' AND r.author_agent_id IS NOT NULL AND r.created_at >= {first_in})"
    );
    db.execute_unprepared(&format!("UPDATE conversations SET first_response_at = {first_reply}")).await?;
    let took = seconds(backend, first_in, "first_response_at");
    db.execute_unprepared(&format!(
        "UPDATE conversations SET first_response_seconds = \
         CASE WHEN {took} < 0 THEN 0 ELSE {took} END WHERE first_response_at IS NOT NULL"
    ))
    .await?;
    let took = seconds(backend, "created_at", "resolved_at");
    db.execute_unprepared(&format!(
        "UPDATE conversations SET resolved_at = updated_at WHERE status = 'RESOLVED'; \
         UPDATE conversations SET resolution_seconds = CASE WHEN {took} < 0 THEN 0 ELSE {took} END \
         WHERE resolved_at IS NOT NULL"
    ))
    .await?;
    let of_conversation = |table: &str, column: &str| {
        format!("(SELECT c.{column} FROM conversations c WHERE c.id = {table}.conversation_id)")
    };
    db.execute_unprepared(&format!(
        "UPDATE messages SET conversation_assignee_id = {}, conversation_team_id = {}",
        of_conversation("messages", "assignee_id"),
        of_conversation("messages", "team_id")
    ))
    .await?;
    db.execute_unprepared(&format!(
        "UPDATE sla_clocks SET business_number_id = {}, conversation_assignee_id = {}, conversation_team_id = {}",
        of_conversation("sla_clocks", "business_number_id"),
        of_conversation("sla_clocks", "assignee_id"),
        of_conversation("sla_clocks", "team_id")
    ))
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, added()).await?;
        manager
            .drop_index(
                Index::drop().name("ux_templates_name_language").table(Alias::new("templates")).to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "templates",
                "ux_templates_waba_name_language",
                &["workspace_id", "waba_id", "name", "language"],
                true,
            ))
            .await?;
        backfill(manager).await?;
        for (_, _, sql) in INDEXES {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, name, _) in INDEXES {
            manager.drop_index(Index::drop().name(*name).table(Alias::new(*table)).to_owned()).await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("ux_templates_waba_name_language")
                    .table(Alias::new("templates"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "templates",
                "ux_templates_name_language",
                &["workspace_id", "name", "language"],
                true,
            ))
            .await?;
        drop_columns(manager, added()).await?;
        Ok(())
    }
}
