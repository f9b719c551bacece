//! Team workflow (PRODUCT.md section 13): labels on conversations, teams of agents and the team
//! a conversation is routed to, and canned responses. Names and short codes are unique per
//! workspace, compared by their lower-case key. Notes need no table: they are messages with
//! `direction = 'INTERNAL'`. Contacts gain the CRM's own id (`external_id`, unique per
//! workspace: what `upsertContact` is idempotent by) and free `attributes` (a JSON object).

use sea_orm_migration::prelude::*;

use crate::builders::{
    create_table, drop_table, fk, id, index, json_null, text, text_null, timestamp, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [text_null("external_id"), json_null("attributes")] {
            manager
                .alter_table(Table::alter().table(Alias::new("contacts")).add_column(column).to_owned())
                .await?;
        }
        // NULLs are distinct in a unique index (both databases): contacts without one coexist.
        manager
            .create_index(index(
                "contacts",
                "ux_contacts_workspace_external_id",
                &["workspace_id", "external_id"],
                true,
            ))
            .await?;

        create_table(
            manager,
            "labels",
            vec![
                id("id"),
                uuid("workspace_id"),
                text("name"),
                text("name_key"),
                text("color"),
                timestamp("created_at"),
            ],
            vec![fk("labels", "workspace_id", "workspaces", ForeignKeyAction::Cascade)],
        )
        .await?;
        manager
            .create_index(index("labels", "ux_labels_workspace_name", &["workspace_id", "name_key"], true))
            .await?;

        create_table(
            manager,
            "conversation_labels",
            vec![
                id("id"),
                uuid("workspace_id"),
                uuid("conversation_id"),
                uuid("label_id"),
                timestamp("created_at"),
            ],
            vec![
                fk("conversation_labels", "workspace_id", "workspaces", ForeignKeyAction::Cascade),
                fk("conversation_labels", "conversation_id", "conversations", ForeignKeyAction::Cascade),
                fk("conversation_labels", "label_id", "labels", ForeignKeyAction::Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "conversation_labels",
                "ux_conversation_labels_pair",
                &["conversation_id", "label_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "conversation_labels",
                "ix_conversation_labels_label",
                &["label_id", "conversation_id"],
                false,
            ))
            .await?;

        create_table(
            manager,
            "teams",
            vec![id("id"), uuid("workspace_id"), text("name"), text("name_key"), timestamp("created_at")],
            vec![fk("teams", "workspace_id", "workspaces", ForeignKeyAction::Cascade)],
        )
        .await?;
        manager
            .create_index(index("teams", "ux_teams_workspace_name", &["workspace_id", "name_key"], true))
            .await?;
        create_table(
            manager,
            "team_members",
            vec![id("id"), uuid("workspace_id"), uuid("team_id"), uuid("agent_id"), timestamp("created_at")],
            vec![
                fk("team_members", "workspace_id", "workspaces", ForeignKeyAction::Cascade),
                fk("team_members", "team_id", "teams", ForeignKeyAction::Cascade),
                fk("team_members", "agent_id", "agents", ForeignKeyAction::Cascade),
            ],
        )
        .await?;
        manager
            .create_index(index("team_members", "ux_team_members_pair", &["team_id", "agent_id"], true))
            .await?;
        // The team a conversation is routed to (teams are never deleted, so no foreign key is
        // needed; SQLite cannot add one to an existing table).
        manager
            .alter_table(
                Table::alter().table(Alias::new("conversations")).add_column(uuid_null("team_id")).to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "conversations",
                "ix_conversations_team",
                &["workspace_id", "team_id", "-last_activity_at"],
                false,
            ))
            .await?;

        create_table(
            manager,
            "canned_responses",
            vec![
                id("id"),
                uuid("workspace_id"),
                text("short_code"),
                text("short_code_key"),
                text("text"),
                uuid("created_by"),
                timestamp("created_at"),
            ],
            vec![fk("canned_responses", "workspace_id", "workspaces", ForeignKeyAction::Cascade)],
        )
        .await?;
        manager
            .create_index(index(
                "canned_responses",
                "ux_canned_responses_workspace_code",
                &["workspace_id", "short_code_key"],
                true,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "canned_responses").await?;
        manager
            .drop_index(
                Index::drop().name("ix_conversations_team").table(Alias::new("conversations")).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("conversations"))
                    .drop_column(Alias::new("team_id"))
                    .to_owned(),
            )
            .await?;
        drop_table(manager, "team_members").await?;
        drop_table(manager, "teams").await?;
        drop_table(manager, "conversation_labels").await?;
        drop_table(manager, "labels").await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_contacts_workspace_external_id")
                    .table(Alias::new("contacts"))
                    .to_owned(),
            )
            .await?;
        for column in ["attributes", "external_id"] {
            manager
                .alter_table(
                    Table::alter().table(Alias::new("contacts")).drop_column(Alias::new(column)).to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
