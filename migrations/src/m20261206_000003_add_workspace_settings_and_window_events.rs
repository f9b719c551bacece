//! PRODUCT.md section 15: each workspace's settings (read receipts, auto-link on an attested
//! phone, the window warning, retention), and on each conversation which service window its
//! `conversation.window_closing` and `conversation.window_closed` events were emitted for (the
//! `last_inbound_at` that opened it), so each is emitted once per window by whichever process
//! claims it first. The window worker finds due conversations through a partial index of the
//! open WhatsApp conversations whose current window it has not closed yet, by `last_inbound_at`
//! (a conversation leaves the index once its window is closed).

use sea_orm_migration::prelude::*;

use crate::builders::{add_columns, boolean, drop_columns, integer, integer_null, timestamp_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn added() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("workspaces", ColumnDef::new(Alias::new("read_receipts")).boolean().null().to_owned()),
        ("workspaces", boolean("auto_link_attested_phone", false)),
        ("workspaces", integer("window_warning_minutes", 60)),
        ("workspaces", integer_null("retention_days")),
        ("workspaces", timestamp_null("retention_erased_before")),
        ("conversations", timestamp_null("window_warned_for")),
        ("conversations", timestamp_null("window_closed_for")),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, added()).await?;
        // Windows that ended before this version ran are history: no late `window_closed` or
        // `capabilities_changed` for each of them when the worker first starts.
        let ended = match manager.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Sqlite => {
                "strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 day')"
            }
            _ => "now() - interval '24 hours'",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE conversations SET window_warned_for = last_inbound_at, window_closed_for = last_inbound_at \
                 WHERE last_inbound_at IS NOT NULL AND last_inbound_at <= {ended}"
            ))
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_conversations_window ON conversations (last_inbound_at) \
                 WHERE status = 'OPEN' AND active_channel = 'WHATSAPP' AND last_inbound_at IS NOT NULL \
                 AND (window_closed_for IS NULL OR window_closed_for <> last_inbound_at)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop().name("ix_conversations_window").table(Alias::new("conversations")).to_owned(),
            )
            .await?;
        drop_columns(manager, added()).await?;
        Ok(())
    }
}
