//! PostgreSQL: the searchable names and phones of conversations live in a table of their own,
//! `conversation_search`, which holds the trigram indexes; `conversations` no longer does.
//!
//! A conversation's row gets a new version with every message (its place in the inbox order
//! moves, so the update is never HOT), and every new version took new entries in both trigram
//! indexes, though a customer's name and phone almost never change (20,000 such updates on a
//! bench database of 1,000,000 conversations: 1.17 s with them, 1.05 s without). The entries
//! went to each index's pending list, which every search then read from end to end (up to
//! 4 MB) until an unlucky write merged it into the index (a name search there: 4.6–8.1 ms with
//! the list, 2.1–2.4 ms from this table).
//!
//! `conversation_search` has one row per conversation with a profile name or a phone, written
//! by a trigger only when one of them is set or changes (`UPDATE OF` those columns, with a
//! `WHEN` that compares them), deleted when both are gone (erasure) or with its conversation.
//! Its trigram indexes are written directly (`fastupdate = off`): no pending list to read.
//! Without `pg_trgm` the table and trigger exist and the indexes do not, as before.
//! SQLite keeps searching the conversation's own columns (it has no trigram indexes).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DatabaseBackend, Statement};

use crate::builders::on_postgres;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A partial trigram index (of the rows where its column is set): name, table, column, and its
/// storage options.
type TrigramIndex = (&'static str, &'static str, &'static str, &'static str);

/// The search table's indexes are written directly (no pending list); the conversations' (put
/// back by `down`) have PostgreSQL's default.
const INDEXES: [TrigramIndex; 4] = [
    (
        "ix_conversation_search_name_trgm",
        "conversation_search",
        "profile_name_folded",
        " WITH (fastupdate = off)",
    ),
    ("ix_conversation_search_phone_trgm", "conversation_search", "phone", " WITH (fastupdate = off)"),
    ("ix_conversations_profile_name_trgm", "conversations", "customer_profile_name_folded", ""),
    ("ix_conversations_phone_trgm", "conversations", "customer_phone", ""),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &[
                "CREATE TABLE conversation_search ( \
                   conversation_id uuid PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE, \
                   workspace_id uuid NOT NULL, \
                   profile_name_folded text, \
                   phone text)",
                "CREATE OR REPLACE FUNCTION parley_conversation_search() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN \
                   IF NEW.customer_profile_name_folded IS NULL AND NEW.customer_phone IS NULL THEN \
                     DELETE FROM conversation_search WHERE conversation_id = NEW.id; \
                   ELSE \
                     INSERT INTO conversation_search (conversation_id, workspace_id, profile_name_folded, phone) \
                     VALUES (NEW.id, NEW.workspace_id, NEW.customer_profile_name_folded, NEW.customer_phone) \
                     ON CONFLICT (conversation_id) DO UPDATE \
                       SET profile_name_folded = EXCLUDED.profile_name_folded, phone = EXCLUDED.phone; \
                   END IF; \
                   RETURN NULL; \
                 END $$",
                "CREATE TRIGGER conversation_search_insert AFTER INSERT ON conversations FOR EACH ROW \
                 WHEN (NEW.customer_profile_name_folded IS NOT NULL OR NEW.customer_phone IS NOT NULL) \
                 EXECUTE FUNCTION parley_conversation_search()",
                "CREATE TRIGGER conversation_search_update \
                 AFTER UPDATE OF customer_profile_name_folded, customer_phone ON conversations FOR EACH ROW \
                 WHEN (OLD.customer_profile_name_folded IS DISTINCT FROM NEW.customer_profile_name_folded \
                       OR OLD.customer_phone IS DISTINCT FROM NEW.customer_phone) \
                 EXECUTE FUNCTION parley_conversation_search()",
                "INSERT INTO conversation_search (conversation_id, workspace_id, profile_name_folded, phone) \
                 SELECT id, workspace_id, customer_profile_name_folded, customer_phone FROM conversations \
                 WHERE customer_profile_name_folded IS NOT NULL OR customer_phone IS NOT NULL",
            ],
        )
        .await?;
        trigram_indexes(manager, &INDEXES[..2], &INDEXES[2..]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        trigram_indexes(manager, &INDEXES[2..], &INDEXES[..2]).await?;
        on_postgres(
            manager,
            &[
                "DROP TRIGGER IF EXISTS conversation_search_update ON conversations",
                "DROP TRIGGER IF EXISTS conversation_search_insert ON conversations",
                "DROP FUNCTION IF EXISTS parley_conversation_search()",
                "DROP TABLE IF EXISTS conversation_search",
            ],
        )
        .await
    }
}

/// PostgreSQL with `pg_trgm`: creates the indexes `create`, then drops `drop`. Without
/// `pg_trgm` none of them exists.
async fn trigram_indexes(
    manager: &SchemaManager<'_>,
    create: &[TrigramIndex],
    drop: &[TrigramIndex],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    let trigram = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT 1 AS present FROM pg_extension WHERE extname = 'pg_trgm'",
        ))
        .await?
        .is_some();
    if !trigram {
        return Ok(());
    }
    for (name, table, column, with) in create {
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops){with} \
             WHERE {column} IS NOT NULL"
        ))
        .await?;
    }
    for (name, ..) in drop {
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}")).await?;
    }
    Ok(())
}
