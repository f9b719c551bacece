//! Parley's database schema as sea-orm migrations: one file per change, each with `down`.
//!
//! Migrations never import entities, so they stay valid as the code moves on. Run them with
//! `parley migrate` (or let `parley serve` apply the pending ones at start).
//!
//! - [`m20261122_000001_create_schema`]: every table of the product, with the indexes for the
//!   inbox order, the threading look-ups and search.
//! - [`m20261122_000002_add_trigram_search_indexes`]: PostgreSQL trigram indexes for substring
//!   search (skipped cleanly where `pg_trgm` is unavailable).
//! - [`m20261122_000003_add_webhook_dispatch_columns`]: CRM webhook dispatch progress and leases.
//! - [`m20261122_000004_create_audit_log`]: the audit trail.
//! - [`m20261122_000005_notify_events_by_trigger`]: PostgreSQL announces events from a trigger.
//! - [`m20261122_000006_defer_event_cursors`]: PostgreSQL assigns event cursors at commit.
//! - [`m20261202_000001_seal_secrets`]: a rotated endpoint's previous secret, sealed message ids.
//! - [`m20261202_000002_create_webhook_receipts`]: digests of applied username updates.
//! - [`m20261202_000003_create_attachments_and_reactions`]: media, replies and reactions.
//! - [`m20261202_000004_add_conversation_lifecycle`]: numbers of both channels with their own
//!   credentials, snooze, read markers, SMS opt-outs, provider signals.
//! - [`m20261203_000001_add_team_workflow_and_contact_records`]: labels, teams, canned responses; contacts' external ids and attributes.
//! - [`m20261206_000001_number_events_after_commit`]: PostgreSQL numbers events after commit
//!   (no workspace lock held through a commit).

pub use sea_orm_migration::prelude::*;

mod builders;

pub mod m20261122_000001_create_schema;
pub mod m20261122_000002_add_trigram_search_indexes;
pub mod m20261122_000003_add_webhook_dispatch_columns;
pub mod m20261122_000004_create_audit_log;
pub mod m20261122_000005_notify_events_by_trigger;
pub mod m20261122_000006_defer_event_cursors;
pub mod m20261202_000001_seal_secrets;
pub mod m20261202_000002_create_webhook_receipts;
pub mod m20261202_000003_create_attachments_and_reactions;
pub mod m20261202_000004_add_conversation_lifecycle;
pub mod m20261203_000001_add_team_workflow_and_contact_records;
pub mod m20261203_000002_create_blob_deletions;
pub mod m20261203_000003_add_operator_connected_numbers;
pub mod m20261206_000001_number_events_after_commit;
pub mod m20261206_000002_count_unread_from_conversations;
pub mod m20261206_000003_add_workspace_settings_and_window_events;
pub mod m20261207_000001_add_contact_center;
pub mod m20261208_000001_add_template_review_and_report_facts;
pub mod m20261209_000001_add_outbox_turns_index;
pub mod m20261209_000002_drop_conversation_indexes_no_query_uses;
pub mod m20261210_000001_index_only_rows_that_have_the_key;
pub mod m20261210_000002_no_row_locks_on_hot_parents;
pub mod m20261211_000001_search_names_from_a_table_of_their_own;
pub mod m20261212_000001_search_contact_usernames_by_prefix;

/// All migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_schema::Migration),
            Box::new(m20261122_000002_add_trigram_search_indexes::Migration),
            Box::new(m20261122_000003_add_webhook_dispatch_columns::Migration),
            Box::new(m20261122_000004_create_audit_log::Migration),
            Box::new(m20261122_000005_notify_events_by_trigger::Migration),
            Box::new(m20261122_000006_defer_event_cursors::Migration),
            Box::new(m20261202_000001_seal_secrets::Migration),
            Box::new(m20261202_000002_create_webhook_receipts::Migration),
            Box::new(m20261202_000003_create_attachments_and_reactions::Migration),
            Box::new(m20261202_000004_add_conversation_lifecycle::Migration),
            Box::new(m20261203_000001_add_team_workflow_and_contact_records::Migration),
            Box::new(m20261203_000002_create_blob_deletions::Migration),
            Box::new(m20261203_000003_add_operator_connected_numbers::Migration),
            Box::new(m20261206_000001_number_events_after_commit::Migration),
            Box::new(m20261206_000002_count_unread_from_conversations::Migration),
            Box::new(m20261206_000003_add_workspace_settings_and_window_events::Migration),
            Box::new(m20261207_000001_add_contact_center::Migration),
            Box::new(m20261208_000001_add_template_review_and_report_facts::Migration),
            Box::new(m20261209_000001_add_outbox_turns_index::Migration),
            Box::new(m20261209_000002_drop_conversation_indexes_no_query_uses::Migration),
            Box::new(m20261210_000001_index_only_rows_that_have_the_key::Migration),
            Box::new(m20261210_000002_no_row_locks_on_hot_parents::Migration),
            Box::new(m20261211_000001_search_names_from_a_table_of_their_own::Migration),
            Box::new(m20261212_000001_search_contact_usernames_by_prefix::Migration),
        ]
    }
}
