//! What a write costs PostgreSQL beyond its own rows.
//!
//! The indexes whose key is often empty hold only the rows that have it (a row
//! outside an index's predicate costs that index nothing on each write), and the queries they
//! serve still use them, also under the generic plans of prepared statements, where a
//! predicate is only usable when the query's own conditions imply it.
//! And a write in progress holds no lock on the rows every write of a workspace names.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};

use serde_json::json;

use crate::helpers::Backend;

/// Each query (as Parley's persistence writes it, parameters bound) and the partial indexes
/// it may be served by.
const QUERIES: &[(&str, &str, &[&str])] = &[
    (
        "(uuid)",
        "SELECT id FROM conversations WHERE contact_id = $1 ORDER BY last_activity_at DESC LIMIT 5",
        &["ix_conversations_contact"],
    ),
    (
        "(uuid, uuid)",
        "SELECT id FROM conversations WHERE workspace_id = $1 AND team_id = $2 \
         ORDER BY last_activity_at DESC LIMIT 50",
        &["ix_conversations_team"],
    ),
    (
        "(text, timestamptz, bigint)",
        "SELECT id FROM conversations WHERE status = $1 AND snoozed_until <= $2 \
         ORDER BY snoozed_until LIMIT $3",
        &["ix_conversations_snoozed"],
    ),
    (
        "(uuid, text)",
        "SELECT id FROM conversations WHERE workspace_id = $1 AND customer_bsuid = $2",
        &["ix_conversations_bsuid"],
    ),
    (
        "(uuid, text)",
        "SELECT id FROM conversations WHERE workspace_id = $1 AND customer_phone = $2",
        &["ix_conversations_phone"],
    ),
    (
        "(uuid)",
        "SELECT COUNT(*) FROM conversations o WHERE o.assignee_id = $1 AND o.status = 'OPEN'",
        &["ix_conversations_assignee_open"],
    ),
    (
        "(uuid, text)",
        "SELECT id FROM messages WHERE conversation_id = $1 AND idempotency_key = $2",
        &["ux_messages_idempotency"],
    ),
    (
        "(uuid, text)",
        "SELECT id FROM messages WHERE business_number_id = $1 AND external_id = $2",
        &["ux_messages_external_id", "ix_messages_workspace_external_id"],
    ),
    (
        "(uuid, text)",
        "SELECT id FROM messages WHERE workspace_id = $1 AND external_id = $2",
        &["ix_messages_workspace_external_id"],
    ),
    (
        "",
        "SELECT next_attempt_at FROM messages WHERE (status = 'PENDING' AND direction = 'OUTBOUND') \
         AND next_attempt_at IS NOT NULL ORDER BY next_attempt_at LIMIT 1",
        &["ix_messages_outbox"],
    ),
    (
        "",
        "SELECT 1 FROM messages WHERE (status = 'PENDING' AND direction = 'OUTBOUND') \
         AND next_attempt_at IS NULL",
        &["ix_messages_outbox", "ix_messages_outbox_turns"],
    ),
    (
        "(uuid, text)",
        "SELECT id FROM conversations WHERE workspace_id = $1 AND customer_username_key LIKE $2",
        &["ix_conversations_username_pattern"],
    ),
];

/// The indexes that hold only the rows with a key (or still queued).
const PARTIAL: &[&str] = &[
    "ix_conversations_contact",
    "ix_conversations_team",
    "ix_conversations_snoozed",
    "ix_conversations_bsuid",
    "ix_conversations_phone",
    "ix_conversations_username_pattern",
    "ix_conversation_search_name_trgm",
    "ix_conversation_search_phone_trgm",
    "ix_conversations_assignee_open",
    "ix_messages_outbox",
    "ux_messages_idempotency",
    "ux_messages_external_id",
    "ix_messages_workspace_external_id",
];

async fn rows(db: &impl ConnectionTrait, sql: String) -> Vec<String> {
    let rows = db.query_all_raw(Statement::from_string(DatabaseBackend::Postgres, sql)).await.unwrap();
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect()
}

/// Arguments of the right types for a prepared statement's parameter list.
fn arguments(types: &str) -> String {
    let types = types.trim_matches(['(', ')']);
    if types.is_empty() {
        return String::new();
    }
    let values: Vec<&str> = types
        .split(", ")
        .map(|t| match t {
            "uuid" => "'00000000-0000-0000-0000-000000000001'",
            "timestamptz" => "now()",
            "bigint" => "10",
            _ => "'x%'",
        })
        .collect();
    format!("({})", values.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_indexes_serve_their_queries_under_generic_plans() {
    let Some(app) = crate::helpers::spawn(Backend::Postgres).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let conn = app.db.conn();
    let partial = rows(
        conn,
        "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE i.indpred IS NOT NULL"
            .into(),
    )
    .await;
    let trigram =
        rows(conn, "SELECT indexname::text FROM pg_indexes WHERE indexname LIKE '%_trgm'".into()).await;
    for name in PARTIAL {
        if name.ends_with("_trgm") && !trigram.iter().any(|t| t == name) {
            continue; // no pg_trgm on this server: the index is absent, and stays so
        }
        assert!(partial.iter().any(|p| p == name), "{name} holds every row");
    }

    let txn = conn.begin().await.unwrap();
    txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    for (n, (types, sql, served_by)) in QUERIES.iter().enumerate() {
        txn.execute_unprepared(&format!("PREPARE parley_plan_{n}{types} AS {sql}")).await.unwrap();
        let plan =
            rows(&txn, format!("EXPLAIN EXECUTE parley_plan_{n}{}", arguments(types))).await.join("\n");
        txn.execute_unprepared(&format!("DEALLOCATE parley_plan_{n}")).await.unwrap();
        assert!(
            served_by.iter().any(|index| plan.contains(&format!(" using {index} "))),
            "{sql}\nis not served by {served_by:?}:\n{plan}"
        );
    }
    txn.rollback().await.unwrap();
}

/// PostgreSQL: a send or a webhook in progress holds no lock on its workspace's row or its
/// number's row. A foreign key from a message or an event to them locked the row
/// (`FOR KEY SHARE`) until the writer committed, so every concurrent writer of a workspace
/// joined one shared lock (a multixact) that each rewrote and every reader resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_progress_locks_neither_its_workspace_nor_its_number() {
    let Some(app) = crate::helpers::spawn(Backend::Postgres).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    app.deliver(&t, &[&crate::helpers::Inbound::with_phone("16505551234", "US.1", "Pablo")]).await;
    let conn = app.db.conn();
    let writer = conn.begin().await.unwrap();
    // A message and an event written as Parley writes them (copies of stored ones), not
    // committed yet.
    writer
        .execute_unprepared(
            "CREATE TEMP TABLE new_message ON COMMIT DROP AS SELECT * FROM messages LIMIT 1; \
             UPDATE new_message SET id = gen_random_uuid(), external_id = NULL, idempotency_key = NULL; \
             INSERT INTO messages SELECT * FROM new_message; \
             CREATE TEMP TABLE new_event ON COMMIT DROP AS SELECT * FROM events LIMIT 1; \
             UPDATE new_event SET id = gen_random_uuid(), cursor = -2000000000; \
             INSERT INTO events SELECT * FROM new_event",
        )
        .await
        .unwrap();
    let (number, workspace) = {
        let row = writer
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT business_number_id::text AS n, workspace_id::text AS w FROM new_message",
            ))
            .await
            .unwrap()
            .unwrap();
        (row.try_get::<String>("", "n").unwrap(), row.try_get::<String>("", "w").unwrap())
    };
    for (table, id) in [("workspaces", workspace), ("business_numbers", number)] {
        let lock = format!("SELECT id FROM {table} WHERE id = '{id}' FOR UPDATE NOWAIT");
        let other = conn.begin().await.unwrap();
        let locked = other.query_all_raw(Statement::from_string(DatabaseBackend::Postgres, lock)).await;
        assert!(locked.is_ok(), "the {table} row is locked by a write in progress: {locked:?}");
        other.rollback().await.unwrap();
    }
    writer.rollback().await.unwrap();
}

/// The searchable name and phone of each conversation, with the row's version (`xmin`).
async fn search_rows(db: &impl ConnectionTrait) -> Vec<String> {
    rows(
        db,
        "SELECT concat_ws('|', xmin::text, profile_name_folded, phone) FROM conversation_search \
         ORDER BY conversation_id"
            .into(),
    )
    .await
}

/// PostgreSQL: names and phones are searched from a table of their own, which a message does
/// not write. A conversation's row changes with every message, and while it held the trigram
/// indexes each change took new entries in both (for the update to write, and in a pending
/// list every search read). The search table changes when the name or phone does, and is emptied
/// with an erasure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_does_not_write_the_searchable_names() {
    let Some(app) = crate::helpers::spawn(Backend::Postgres).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let pablo = || crate::helpers::Inbound::with_phone("16505551234", "US.1", "Pablo Núñez");
    app.deliver(&t, &[&pablo()]).await;
    let conn = app.db.conn();
    let before = search_rows(conn).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].contains("|pablo n") && before[0].contains("6505551234"), "{before:?}");
    let thread =
        app.ok(&t.token, "{ conversations { nodes { id } } }", json!({})).await["conversations"]["nodes"][0]
            ["id"]
            .clone();
    let version = rows(conn, "SELECT xmin::text FROM conversations".into()).await;

    app.deliver(&t, &[&pablo(), &pablo()]).await;
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"On its way\") { id } }";
    app.ok(&t.token, send, json!({ "c": thread })).await;
    assert_ne!(rows(conn, "SELECT xmin::text FROM conversations".into()).await, version, "the row moved");
    assert_eq!(search_rows(conn).await, before, "three messages and a reply wrote the search table");

    let renamed = crate::helpers::Inbound { name: Some("Pablo Ruiz".into()), ..pablo() };
    app.deliver(&t, &[&renamed]).await;
    let after = search_rows(conn).await;
    assert!(after.len() == 1 && after[0].contains("|pablo ruiz|"), "{after:?}");
    let search = "query($s: String) { conversations(filter: { search: $s }) { nodes { id } } }";
    for (text, found) in [("ruiz", 1), ("núñez", 0), ("555123", 1)] {
        let nodes = app.ok(&t.token, search, json!({ "s": text })).await["conversations"]["nodes"].clone();
        assert_eq!(nodes.as_array().unwrap().len(), found, "{text}: {nodes}");
    }

    let erase = "mutation($c: ID!) { eraseCustomer(conversationId: $c, includeContact: true) }";
    app.ok(&t.token, erase, json!({ "c": thread })).await;
    assert_eq!(search_rows(conn).await, Vec::<String>::new(), "an erased customer is not searchable");
}
