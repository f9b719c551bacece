//! The first schema: every table the product needs, so later changes add little.
//!
//! Tables: workspaces, agents, business_numbers, contacts, contact_identities, conversations,
//! messages, templates, events (the outbox), webhook_endpoints, webhook_deliveries,
//! dead_letters.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::builders::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order; `down` drops them in reverse.
const TABLES: &[&str] = &[
    "workspaces",
    "agents",
    "business_numbers",
    "contacts",
    "contact_identities",
    "conversations",
    "messages",
    "templates",
    "events",
    "webhook_endpoints",
    "webhook_deliveries",
    "dead_letters",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        create_table(
            manager,
            "workspaces",
            vec![
                id("id"),
                text("name"),
                // Last event cursor handed out: bumped in the same transaction as each event,
                // which makes cursors per workspace gap-free and in commit order.
                big_integer("event_seq", 0),
                // Sandbox: whether business usernames are live in the workspace's region.
                boolean("usernames_live", false),
                timestamp("created_at"),
            ],
            vec![],
        )
        .await?;

        create_table(
            manager,
            "agents",
            vec![
                id("id"),
                uuid("workspace_id"),
                text("email"),
                text("name"),
                text("role"),
                boolean("active", true),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![fk("agents", "workspace_id", "workspaces", Cascade)],
        )
        .await?;
        manager
            .create_index(index("agents", "ux_agents_workspace_email", &["workspace_id", "email"], true))
            .await?;

        create_table(
            manager,
            "business_numbers",
            vec![
                id("id"),
                uuid("workspace_id"),
                text("phone_number_id"),
                text("display_phone_number"),
                text("waba_id"),
                text("portfolio_id"),
                text_null("business_name"),
                text_null("username"),
                // Case-folded username: unique across every number (WhatsApp usernames are).
                text_null("username_key"),
                text_null("username_status"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![fk("business_numbers", "workspace_id", "workspaces", Cascade)],
        )
        .await?;
        manager
            .create_index(index(
                "business_numbers",
                "ux_business_numbers_phone_number_id",
                &["phone_number_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "business_numbers",
                "ux_business_numbers_username_key",
                &["username_key"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "business_numbers",
                "ix_business_numbers_workspace",
                &["workspace_id"],
                false,
            ))
            .await?;

        create_table(
            manager,
            "contacts",
            vec![
                id("id"),
                uuid("workspace_id"),
                text("name"),
                text("name_folded"),
                text_null("email"),
                text_null("phone"),
                uuid_null("created_by_agent_id"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![fk("contacts", "workspace_id", "workspaces", Cascade)],
        )
        .await?;
        manager
            .create_index(index(
                "contacts",
                "ix_contacts_workspace_name",
                &["workspace_id", "name_folded"],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "contacts",
                "ix_contacts_workspace_created",
                &["workspace_id", "-created_at", "-id"],
                false,
            ))
            .await?;

        create_table(
            manager,
            "contact_identities",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("contact_id"),
                text("kind"),
                text("value"),
                text("value_key"),
                // The conversation whose link added this identity (removed again on unlink).
                uuid_null("source_conversation_id"),
                timestamp("created_at"),
            ],
            vec![
                fk("contact_identities", "workspace_id", "workspaces", Cascade),
                fk("contact_identities", "contact_id", "contacts", Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "contact_identities",
                "ux_contact_identities_workspace_kind_key",
                &["workspace_id", "kind", "value_key"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "contact_identities",
                "ix_contact_identities_contact",
                &["contact_id"],
                false,
            ))
            .await?;

        create_table(
            manager,
            "conversations",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("business_number_id"),
                // The thread's channel (part of its key) and where replies go now.
                text("channel"),
                text("active_channel"),
                text("key_kind"),
                text("key_value"),
                text_null("customer_phone"),
                text_null("customer_bsuid"),
                text_null("customer_parent_bsuid"),
                text_null("customer_username"),
                text_null("customer_username_key"),
                text_null("customer_profile_name"),
                text_null("customer_profile_name_folded"),
                uuid_null("contact_id"),
                uuid_null("linked_by_agent_id"),
                timestamp_null("linked_at"),
                uuid_null("assignee_id"),
                text("status"),
                text("origin"),
                uuid_null("previous_conversation_id"),
                timestamp_null("last_inbound_at"),
                timestamp("last_activity_at"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![
                fk("conversations", "workspace_id", "workspaces", Cascade),
                fk("conversations", "business_number_id", "business_numbers", Cascade),
                fk("conversations", "contact_id", "contacts", SetNull),
                fk("conversations", "assignee_id", "agents", SetNull),
                fk("conversations", "previous_conversation_id", "conversations", SetNull),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "conversations",
                "ux_conversations_key",
                &["business_number_id", "channel", "key_kind", "key_value"],
                true,
            ))
            .await?;
        for (name, columns) in [
            ("ix_conversations_inbox", &["workspace_id", "-last_activity_at", "-id"][..]),
            ("ix_conversations_bsuid", &["workspace_id", "customer_bsuid"][..]),
            ("ix_conversations_phone", &["workspace_id", "customer_phone"][..]),
            ("ix_conversations_username", &["workspace_id", "customer_username_key"][..]),
            ("ix_conversations_profile_name", &["workspace_id", "customer_profile_name_folded"][..]),
            ("ix_conversations_contact", &["contact_id", "-last_activity_at"][..]),
            ("ix_conversations_assignee", &["workspace_id", "assignee_id", "-last_activity_at"][..]),
        ] {
            manager.create_index(index("conversations", name, columns, false)).await?;
        }

        create_table(
            manager,
            "messages",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("conversation_id"),
                uuid("business_number_id"),
                text("direction"),
                text("channel"),
                // WhatsApp message type (text, image, template, …) and a readable summary.
                text("kind"),
                text_null("text"),
                json_null("content"),
                uuid_null("template_id"),
                text_null("template_name"),
                text_null("template_category"),
                text("status"),
                // The provider's id (`wamid.…`): opaque, never parsed.
                text_null("external_id"),
                big_integer_null("error_code"),
                text_null("error_title"),
                uuid_null("author_agent_id"),
                text_null("idempotency_key"),
                integer("attempts", 0),
                timestamp_null("next_attempt_at"),
                // When the message was written (WhatsApp's own timestamp for inbound ones).
                timestamp("sent_at"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![
                fk("messages", "workspace_id", "workspaces", Cascade),
                fk("messages", "conversation_id", "conversations", Cascade),
                fk("messages", "business_number_id", "business_numbers", Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "messages",
                "ux_messages_external_id",
                &["business_number_id", "external_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "messages",
                "ux_messages_idempotency",
                &["conversation_id", "idempotency_key"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "messages",
                "ix_messages_conversation",
                &["conversation_id", "-sent_at", "-id"],
                false,
            ))
            .await?;
        manager
            .create_index(index("messages", "ix_messages_outbox", &["status", "next_attempt_at"], false))
            .await?;

        create_table(
            manager,
            "templates",
            vec![
                id("id"),
                uuid("workspace_id"),
                text("name"),
                text("language"),
                text("category"),
                text("body"),
                timestamp("created_at"),
            ],
            vec![fk("templates", "workspace_id", "workspaces", Cascade)],
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

        create_table(
            manager,
            "events",
            vec![
                id("id"),
                uuid("workspace_id"),
                ColumnDef::new(Alias::new("cursor")).big_integer().not_null().to_owned(),
                text("event_type"),
                uuid_null("conversation_id"),
                uuid_null("contact_id"),
                // The whole CloudEvents 1.0 object.
                json("payload"),
                timestamp("occurred_at"),
            ],
            vec![fk("events", "workspace_id", "workspaces", Cascade)],
        )
        .await?;
        manager
            .create_index(index("events", "ux_events_workspace_cursor", &["workspace_id", "cursor"], true))
            .await?;

        create_table(
            manager,
            "webhook_endpoints",
            vec![
                id("id"),
                uuid("workspace_id"),
                text("url"),
                text("secret"),
                json("event_types"),
                boolean("active", true),
                timestamp_null("paused_at"),
                integer("consecutive_failures", 0),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![fk("webhook_endpoints", "workspace_id", "workspaces", Cascade)],
        )
        .await?;
        manager
            .create_index(index(
                "webhook_endpoints",
                "ix_webhook_endpoints_workspace",
                &["workspace_id"],
                false,
            ))
            .await?;

        create_table(
            manager,
            "webhook_deliveries",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("endpoint_id"),
                uuid("event_id"),
                ColumnDef::new(Alias::new("event_cursor")).big_integer().not_null().to_owned(),
                text("status"),
                integer("attempts", 0),
                timestamp_null("next_attempt_at"),
                integer_null("last_status_code"),
                text_null("last_error"),
                timestamp_null("delivered_at"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ],
            vec![
                fk("webhook_deliveries", "workspace_id", "workspaces", Cascade),
                fk("webhook_deliveries", "endpoint_id", "webhook_endpoints", Cascade),
                fk("webhook_deliveries", "event_id", "events", Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "webhook_deliveries",
                "ux_webhook_deliveries_endpoint_event",
                &["endpoint_id", "event_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "webhook_deliveries",
                "ix_webhook_deliveries_due",
                &["status", "next_attempt_at"],
                false,
            ))
            .await?;

        create_table(
            manager,
            "dead_letters",
            vec![
                id("id"),
                uuid_null("workspace_id"),
                text("reason"),
                text("payload"),
                timestamp("received_at"),
            ],
            vec![fk("dead_letters", "workspace_id", "workspaces", SetNull)],
        )
        .await?;
        manager
            .create_index(index("dead_letters", "ix_dead_letters_received", &["-received_at"], false))
            .await?;

        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // LIKE 'prefix%' can use a B-tree only with pattern ops under a non-C collation.
            let db = manager.get_connection();
            db.execute_unprepared(
                "CREATE INDEX ix_conversations_username_pattern \
                 ON conversations (workspace_id, customer_username_key text_pattern_ops)",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            drop_table(manager, table).await?;
        }
        Ok(())
    }
}
