//! The schema: migrations and entities agree, and every migration can be rolled back.

use std::collections::BTreeMap;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend};

use serde_json::json;

use crate::helpers::{Backend, Inbound, TestApp, error_code};

/// Each table of the database's catalog with its columns, sorted.
async fn catalog(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column) in app.stored_columns().await {
        tables.entry(table).or_default().push(column);
    }
    tables.values_mut().for_each(|columns| columns.sort());
    tables
}

async fn entities_and_migrations_agree(app: TestApp) {
    let mut catalog = catalog(&app).await;
    for (table, mut columns) in persistence::entities::tables() {
        columns.sort();
        assert_eq!(catalog.remove(table), Some(columns), "table {table}");
    }
    // What is left is a table no entity maps: one the database keeps for itself, named here.
    let expected: &[&str] = match app.backend {
        Backend::Sqlite => &[],
        Backend::Postgres => &["conversation_search"],
    };
    assert_eq!(catalog.keys().collect::<Vec<_>>(), expected);
}

async fn every_migration_rolls_back_and_reapplies(app: TestApp) {
    let conn = app.db.conn();
    Migrator::down(conn, None).await.expect("down");
    let left = catalog(&app).await;
    assert!(left.is_empty(), "tables survived down: {left:?}");
    Migrator::up(conn, None).await.expect("up again");
    entities_and_migrations_agree(app).await;
}

async fn the_database_backend_is_the_one_asked_for(app: TestApp) {
    let expected = match app.backend {
        Backend::Sqlite => DatabaseBackend::Sqlite,
        Backend::Postgres => DatabaseBackend::Postgres,
    };
    assert_eq!(app.db.backend(), expected, "{}", app.database_url.split('@').next_back().unwrap_or_default());
}

/// A stored value this version of Parley cannot read back (written by hand, by another tool,
/// by a broken migration) is one internal error with a fixed message wherever it is read: the
/// inbox, a relation loaded in a batch, a use case. Nothing of it reaches the client, and the
/// rest of the data stays readable once it is repaired.
async fn a_stored_value_that_cannot_be_read_is_an_internal_error_everywhere(app: TestApp) {
    let t = app.tenant("Acme").await;
    app.deliver(&t, &[&Inbound::with_phone("16505551234", "US.13491208655302741918", "Pablo")]).await;
    let inbox =
        "{ conversations { nodes { id customer { phoneNumber } contact { id } suggestedContact { id } } } }";
    let id = app.ok(&t.token, inbox, json!({})).await["conversations"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = "mutation($c: ID!) { createContact(conversationId: $c, input: { name: \"Pablo\" }) { id } }";
    app.ok(&t.token, create, json!({ "c": id })).await;
    let conn = app.db.conn();
    let sends = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hi\") { id } }";
    let contact = "{ contacts { nodes { bsuids usernames } } }";
    let cases = [
        ("UPDATE conversations SET customer_phone = 'not a phone'", inbox, "not a phone"),
        ("UPDATE conversations SET status = 'ARCHIVED'", inbox, "ARCHIVED"),
        ("UPDATE contact_identities SET kind = 'FAX'", contact, "FAX"),
    ];
    for (corrupt, query, text) in cases {
        conn.execute_unprepared(corrupt).await.unwrap();
        let body = app.graphql(Some(&t.token), query, json!({})).await;
        assert_eq!(error_code(&body), "INTERNAL", "{corrupt}: {body}");
        assert!(
            !body.to_string().contains(text),
            "{corrupt}: the stored text must not reach the client: {body}"
        );
        let body = app.graphql(Some(&t.token), sends, json!({ "c": id })).await;
        if query == inbox {
            assert_eq!(error_code(&body), "INTERNAL", "a use case reading it fails the same way: {body}");
        }
        conn.execute_unprepared("UPDATE conversations SET customer_phone = '+16505551234', status = 'OPEN'")
            .await
            .unwrap();
        conn.execute_unprepared("UPDATE contact_identities SET kind = 'BSUID' WHERE value LIKE 'US.%'")
            .await
            .unwrap();
        conn.execute_unprepared("UPDATE contact_identities SET kind = 'PHONE' WHERE value LIKE '+%'")
            .await
            .unwrap();
        app.ok(&t.token, query, json!({})).await;
    }
}

/// The migration that lets the inbox count unread conversations without reading messages fills
/// the time of each existing conversation's latest inbound message: the counts read the same
/// before it is rolled back and after it is applied again. The window events' migration marks
/// windows that had already ended as closed, so the worker writes no events about them.
async fn the_unread_counts_migration_fills_existing_conversations(app: TestApp) {
    let t = app.tenant("Acme").await;
    let one = Inbound::with_phone("16505551234", "US.1", "Pablo");
    app.deliver(&t, &[&one, &one.clone().wamid("wamid.SECOND").text("Again")]).await;
    app.deliver(&t, &[&Inbound::hidden("US.2", "@ana", "Ana")]).await;
    let inbox = "{ conversations { nodes { id } } }";
    let read = app.ok(&t.token, inbox, json!({})).await["conversations"]["nodes"][0]["id"].clone();
    let mark = "mutation($c: ID!) { markConversationRead(conversationId: $c) { id } }";
    app.ok(&t.token, mark, json!({ "c": read })).await;
    // A customer whose window ended six hours ago.
    app.deliver(&t, &[&Inbound::hidden("US.3", "@old", "Old").ago(chrono::Duration::hours(30))]).await;
    let conn = app.db.conn();
    let stored = "SELECT COUNT(*) AS v FROM conversations c WHERE c.inbound_stored_at = \
        (SELECT MAX(m.created_at) FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'INBOUND')";
    let filled = || crate::helpers::value::<i64>(conn, stored);
    assert_eq!(filled().await, 3, "ingest keeps the time of the latest inbound message");
    let counts = "{ inboxCounts { open unread } }";
    assert_eq!(app.ok(&t.token, counts, json!({})).await["inboxCounts"], json!({ "open": 3, "unread": 2 }));
    let window_events = || async {
        let query = r#"{ events(types: ["conversation.window_closed", "conversation.capabilities_changed"]) { nodes { type } } }"#;
        app.ok(&t.token, query, json!({})).await["events"]["nodes"].as_array().unwrap().len()
    };
    // Written once (by this pass or the server's own worker, whichever claimed it).
    // The worker may hold its claim uncommitted a moment (this pass then skips the locked row).
    api::workflow::windows::close_and_warn(&app.db, chrono::Utc::now()).await.unwrap();
    let mut before = window_events().await;
    for _ in 0..50 {
        if before >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        before = window_events().await;
    }
    assert_eq!(before, 2, "window_closed and capabilities_changed");

    // The counts' migration and every one after it (settings and window events among them).
    let since_counts = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m20261206_000002_count_unread_from_conversations")
        .expect("the counts' migration")
        + 1;
    Migrator::down(conn, Some(u32::try_from(since_counts).unwrap())).await.expect("down to the counts");
    Migrator::up(conn, None).await.expect("up again");
    assert_eq!(filled().await, 3, "the migration fills it from the stored messages");
    // Another process's change: this server's cached counts would not know the schema changed.
    let fresh = persistence::reads::inbox_counts(conn, t.workspace, t.admin).await.unwrap();
    assert_eq!((fresh.open, fresh.unread), (3, 2));
    let closed = "SELECT COUNT(*) AS v FROM conversations WHERE window_closed_for = last_inbound_at";
    assert_eq!(crate::helpers::value::<i64>(conn, closed).await, 1, "only the window that had ended");
    api::workflow::windows::close_and_warn(&app.db, chrono::Utc::now()).await.unwrap();
    assert_eq!(window_events().await, before, "no news about a window that ended before the migration");
}

on_both!(
    the_unread_counts_migration_fills_existing_conversations,
    a_stored_value_that_cannot_be_read_is_an_internal_error_everywhere,
    entities_and_migrations_agree,
    every_migration_rolls_back_and_reapplies,
    the_database_backend_is_the_one_asked_for
);

/// PostgreSQL: settling the tables after a bulk import (what the bench does before it measures)
/// waits out a transaction older than the import's last change. A `VACUUM` keeps every row
/// version such a transaction may still see, and the reads measured after it then prune them as
/// they go; one `VACUUM` after the seed's last update left 690,000 of 1,000,000 conversations'
/// old versions in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settling_after_an_import_waits_out_an_older_snapshot() {
    use sea_orm::{IsolationLevel, TransactionTrait};
    let Some(app) = crate::helpers::spawn(Backend::Postgres).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let conn = app.db.conn();
    conn.execute_unprepared("CREATE TABLE imported AS SELECT g AS n FROM generate_series(1, 20000) AS g")
        .await
        .unwrap();
    // A transaction that took its snapshot before the import's last change, and ends a second
    // and a half later.
    let older = conn.begin_with_config(Some(IsolationLevel::RepeatableRead), None).await.unwrap();
    older.execute_unprepared("SELECT count(*) FROM imported").await.unwrap();
    conn.execute_unprepared("UPDATE imported SET n = n + 1").await.unwrap();
    let ends = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        older.commit().await.unwrap();
    });

    let tries = app.db.refresh_statistics().await.unwrap();
    ends.await.unwrap();
    let dead: i64 = crate::helpers::value(
        conn,
        "SELECT n_dead_tup::bigint AS v FROM pg_stat_user_tables WHERE relname = 'imported'",
    )
    .await;
    assert!(tries >= 2, "settled by the first VACUUM, while the older snapshot held its rows");
    assert!(dead <= 200, "{dead} of the 20,000 replaced row versions are still there after settling");
}
