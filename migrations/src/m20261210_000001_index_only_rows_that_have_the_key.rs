//! PostgreSQL: the indexes of `conversations` and `messages` whose key is often empty hold
//! only the rows that have it (partial indexes).
//!
//! A row's new version gets an entry in every index of its table unless the update is HOT, and
//! the hot rows here never are: every message moves its conversation in the inbox order, and a
//! send's row changes status twice. A partial index takes no entry for a row outside its
//! predicate, so a conversation without a contact, team, snooze, username or profile name, or
//! a message without a provider id or idempotency key, or no longer queued, no longer pays for
//! those indexes on each write.
//!
//! Every query these indexes serve names the key with a strict operator (`=`, `IN`, `LIKE`,
//! `<=`) or `IS NOT NULL`, which implies the predicate, so each keeps its index (checked with
//! `EXPLAIN`). The outbox index keeps the literals of `Queue::waiting`. The unique indexes
//! keep their meaning: an empty key never conflicts. An index absent here (the trigram
//! indexes without `pg_trgm`) is left absent. SQLite keeps its indexes as they are.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// An index's name, its definition after this migration, and before.
const CHANGED: &[(&str, &str, &str)] = &[
    (
        "ix_conversations_contact",
        "ON conversations (contact_id, last_activity_at DESC) WHERE contact_id IS NOT NULL",
        "ON conversations (contact_id, last_activity_at DESC)",
    ),
    (
        "ix_conversations_team",
        "ON conversations (workspace_id, team_id, last_activity_at DESC) WHERE team_id IS NOT NULL",
        "ON conversations (workspace_id, team_id, last_activity_at DESC)",
    ),
    (
        "ix_conversations_snoozed",
        "ON conversations (status, snoozed_until) WHERE snoozed_until IS NOT NULL",
        "ON conversations (status, snoozed_until)",
    ),
    (
        "ix_conversations_bsuid",
        "ON conversations (workspace_id, customer_bsuid) WHERE customer_bsuid IS NOT NULL",
        "ON conversations (workspace_id, customer_bsuid)",
    ),
    (
        "ix_conversations_phone",
        "ON conversations (workspace_id, customer_phone) WHERE customer_phone IS NOT NULL",
        "ON conversations (workspace_id, customer_phone)",
    ),
    (
        "ix_conversations_username_pattern",
        "ON conversations (workspace_id, customer_username_key text_pattern_ops) \
         WHERE customer_username_key IS NOT NULL",
        "ON conversations (workspace_id, customer_username_key text_pattern_ops)",
    ),
    (
        "ix_conversations_profile_name_trgm",
        "ON conversations USING gin (customer_profile_name_folded gin_trgm_ops) \
         WHERE customer_profile_name_folded IS NOT NULL",
        "ON conversations USING gin (customer_profile_name_folded gin_trgm_ops)",
    ),
    (
        "ix_conversations_phone_trgm",
        "ON conversations USING gin (customer_phone gin_trgm_ops) WHERE customer_phone IS NOT NULL",
        "ON conversations USING gin (customer_phone gin_trgm_ops)",
    ),
    (
        "ix_conversations_assignee_open",
        "ON conversations (assignee_id) WHERE status = 'OPEN' AND assignee_id IS NOT NULL",
        "ON conversations (assignee_id) WHERE status = 'OPEN'",
    ),
    (
        "ix_messages_outbox",
        "ON messages (next_attempt_at) WHERE status = 'PENDING' AND direction = 'OUTBOUND'",
        "ON messages (status, next_attempt_at)",
    ),
    (
        "ux_messages_idempotency",
        "ON messages (conversation_id, idempotency_key) WHERE idempotency_key IS NOT NULL",
        "ON messages (conversation_id, idempotency_key)",
    ),
    (
        "ux_messages_external_id",
        "ON messages (business_number_id, external_id) WHERE external_id IS NOT NULL",
        "ON messages (business_number_id, external_id)",
    ),
    (
        "ix_messages_workspace_external_id",
        "ON messages (workspace_id, external_id) WHERE external_id IS NOT NULL",
        "ON messages (workspace_id, external_id)",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        redefine(manager, |(name, after, _)| (name, after)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        redefine(manager, |(name, _, before)| (name, before)).await
    }
}

/// Replaces each present index of [`CHANGED`] by the definition `pick` gives.
async fn redefine(
    manager: &SchemaManager<'_>,
    pick: impl Fn(&(&'static str, &'static str, &'static str)) -> (&'static str, &'static str),
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for change in CHANGED {
        let (name, definition) = pick(change);
        let exists = db
            .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                DatabaseBackend::Postgres,
                format!("SELECT 1 AS present FROM pg_indexes WHERE indexname = '{name}'"),
            ))
            .await?
            .is_some();
        if !exists {
            continue;
        }
        let unique = if name.starts_with("ux_") { "UNIQUE " } else { "" };
        db.execute_unprepared(&format!("DROP INDEX {name}; CREATE {unique}INDEX {name} {definition}"))
            .await?;
    }
    Ok(())
}
