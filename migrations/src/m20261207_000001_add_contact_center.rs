//! PRODUCT.md section 18, running a contact center:
//!
//! - agents' availability (`ONLINE`, `BUSY`, `OFFLINE`) and until when they count as present
//!   (an open WebSocket keeps moving it ahead; `present_until`);
//! - each team's routing (mode, capacity, SLA policy), the router's assignment number per
//!   member (round robin: least recently assigned), a number's default team;
//! - the workspace's business hours (one JSON value) and, per conversation, until when its away
//!   reply covers the closed period it was sent in (`away_until`: the next opening);
//! - SLA policies and their clocks: one row per target and cycle of a conversation, with its
//!   warning and due times and when it was met, warned, breached, paused or stopped; the
//!   conversation keeps its nearest due time and whether a target is breached, for the inbox's
//!   filter and order.
//!
//! Indexes: the waiting conversations of each team (oldest first), each agent's open
//! conversations (capacity), the inbox by SLA due time, and the clocks' due warnings and
//! breaches (partial, so the timer finds what is due without scanning what is done).

use sea_orm_migration::prelude::*;

use crate::builders::{
    add_columns, big_integer, boolean, create_table, drop_columns, drop_table, fk, id, index, integer_null,
    json_null, text, text_null, timestamp, timestamp_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn added() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("agents", ColumnDef::new(Alias::new("availability")).text().not_null().default("ONLINE").to_owned()),
        ("agents", timestamp_null("present_until")),
        ("teams", ColumnDef::new(Alias::new("routing_mode")).text().not_null().default("MANUAL").to_owned()),
        ("teams", integer_null("capacity")),
        ("teams", uuid_null("sla_policy_id")),
        ("team_members", big_integer("last_assigned", 0)),
        ("business_numbers", uuid_null("default_team_id")),
        ("workspaces", json_null("business_hours")),
        ("conversations", timestamp_null("away_until")),
        ("conversations", uuid_null("sla_policy_id")),
        ("conversations", timestamp_null("sla_due_at")),
        ("conversations", boolean("sla_breached", false)),
    ]
}

const INDEXES: &[(&str, &str)] = &[
    (
        "ix_conversations_waiting",
        "CREATE INDEX ix_conversations_waiting ON conversations (team_id, created_at, id) \
         WHERE status = 'OPEN' AND assignee_id IS NULL AND team_id IS NOT NULL",
    ),
    (
        "ix_conversations_assignee_open",
        "CREATE INDEX ix_conversations_assignee_open ON conversations (assignee_id) WHERE status = 'OPEN'",
    ),
    (
        "ix_conversations_sla_due",
        "CREATE INDEX ix_conversations_sla_due ON conversations (workspace_id, sla_due_at, id)",
    ),
    (
        "ix_sla_clocks_due",
        "CREATE INDEX ix_sla_clocks_due ON sla_clocks (due_at) \
         WHERE met_at IS NULL AND stopped_at IS NULL AND paused_at IS NULL AND breached_at IS NULL",
    ),
    (
        "ix_sla_clocks_warn",
        "CREATE INDEX ix_sla_clocks_warn ON sla_clocks (warn_at) \
         WHERE met_at IS NULL AND stopped_at IS NULL AND paused_at IS NULL AND warned_at IS NULL",
    ),
];

/// The inbox counts' index (`m20261206_000002`), and the same with the team, so the queue's
/// count (`inboxCounts.waiting`) is read from the index as the other counts are.
const OPEN_COUNTS: &str = "CREATE INDEX ix_conversations_open_counts \
     ON conversations (workspace_id, assignee_id, inbound_stored_at, id) WHERE status = 'OPEN'";
const OPEN_COUNTS_WITH_TEAM: &str = "CREATE INDEX ix_conversations_open_counts \
     ON conversations (workspace_id, assignee_id, inbound_stored_at, id, team_id) WHERE status = 'OPEN'";

async fn open_counts_index(manager: &SchemaManager<'_>, create: &str) -> Result<(), DbErr> {
    // One call, so one connection: SQLite then sees the drop before the create.
    let replace = format!("DROP INDEX ix_conversations_open_counts; {create}");
    manager.get_connection().execute_unprepared(&replace).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, added()).await?;
        create_table(
            manager,
            "sla_policies",
            vec![
                id("id"),
                uuid("workspace_id"),
                text("name"),
                text("name_key"),
                integer_null("first_response_minutes"),
                integer_null("next_response_minutes"),
                integer_null("resolution_minutes"),
                boolean("business_hours_only", false),
                timestamp("created_at"),
            ],
            vec![fk("sla_policies", "workspace_id", "workspaces", ForeignKeyAction::Cascade)],
        )
        .await?;
        manager
            .create_index(index(
                "sla_policies",
                "ux_sla_policies_workspace_name",
                &["workspace_id", "name_key"],
                true,
            ))
            .await?;
        create_table(
            manager,
            "sla_clocks",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("conversation_id"),
                uuid("policy_id"),
                text("target"),
                ColumnDef::new(Alias::new("minutes")).integer().not_null().to_owned(),
                boolean("business_hours_only", false),
                timestamp("started_at"),
                timestamp_null("warn_at"),
                timestamp_null("due_at"),
                timestamp_null("paused_at"),
                timestamp_null("met_at"),
                timestamp_null("warned_at"),
                timestamp_null("breached_at"),
                timestamp_null("stopped_at"),
                text_null("stopped_because"),
            ],
            vec![
                fk("sla_clocks", "workspace_id", "workspaces", ForeignKeyAction::Cascade),
                fk("sla_clocks", "conversation_id", "conversations", ForeignKeyAction::Cascade),
                fk("sla_clocks", "policy_id", "sla_policies", ForeignKeyAction::Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "sla_clocks",
                "ix_sla_clocks_conversation",
                &["conversation_id", "target", "started_at"],
                false,
            ))
            .await?;
        for (_, sql) in INDEXES {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        open_counts_index(manager, OPEN_COUNTS_WITH_TEAM).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES.iter().filter(|(n, _)| n.starts_with("ix_conversations")) {
            manager
                .drop_index(Index::drop().name(*name).table(Alias::new("conversations")).to_owned())
                .await?;
        }
        open_counts_index(manager, OPEN_COUNTS).await?;
        drop_table(manager, "sla_clocks").await?;
        drop_table(manager, "sla_policies").await?;
        drop_columns(manager, added()).await?;
        Ok(())
    }
}
