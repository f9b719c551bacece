//! Retention (PRODUCT.md section 15): with `retentionDays`, the daily job erases the texts,
//! content and media of messages older than that, and cuts older events to type and ids, with
//! the erasure's own code (a file also sent to a newer message keeps its bytes; the others go
//! after the commit); once a day whatever the number of processes; conversations stay. Proven
//! by scanning every table. The test runs the job with its own clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{Backend, Inbound, TestApp, other_process_db};
use crate::lifecycle::life;
use crate::privacy::upload;

/// Dates a conversation's messages and events `at` (as if written then).
async fn backdate(app: &TestApp, conversation: &str, at: DateTime<Utc>) {
    let conn = app.db.conn();
    let p = |n| persistence::dialect::Dialect::of(conn).placeholder(n);
    for (table, column) in [("messages", "created_at"), ("events", "occurred_at")] {
        let sql = format!("UPDATE {table} SET {column} = {} WHERE conversation_id = {}", p(1), p(2));
        let id: uuid::Uuid = conversation.parse().unwrap();
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [at.into(), id.into()],
        ))
        .await
        .unwrap();
    }
}

async fn runs(app: &TestApp, token: &str) -> Vec<Value> {
    let log = app.ok(token, "{ auditLog(first: 50) { action agentId details } }", json!({})).await;
    log["auditLog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "retention.erased")
        .cloned()
        .collect()
}

async fn blobs(app: &TestApp) -> Vec<Vec<u8>> {
    let mut held = Vec::new();
    for key in app.blobs.keys().await.unwrap() {
        held.push(app.blobs.read_all(&key).await.unwrap().to_vec());
    }
    held
}

async fn old_messages_are_erased_once_a_day_across_processes_and_the_rest_stays(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let url = l.fake.url.clone();
    let peer = other_process_db(&l.app, move |c| c.whatsapp.api_base = url).await;
    let (app, t) = (&l.app, &l.t);
    let old = app
        .receive(t, &Inbound::with_phone("16505550001", "US.1", "Olga").text("old secret words"))
        .await
        .to_string();
    let new = app
        .receive(t, &Inbound::with_phone("16505550002", "US.2", "Nina").text("fresh words"))
        .await
        .to_string();
    let (shared_bytes, own_bytes) = (b"shared price list bytes".to_vec(), b"own invoice bytes".to_vec());
    let shared = upload(app, &t.token, shared_bytes.clone(), "shared-price-list.pdf").await;
    let own = upload(app, &t.token, own_bytes.clone(), "own-invoice.pdf").await;
    let send = "mutation($c: ID!, $a: ID!) { sendMedia(conversationId: $c, attachmentId: $a) { id } }";
    for (c, a) in [(&old, &own), (&old, &shared), (&new, &shared)] {
        app.ok(&t.token, send, json!({ "c": c, "a": a })).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = Utc::now();
    backdate(app, &old, now - chrono::Duration::days(40)).await;
    let before = app.storage_text().await;
    for needle in ["old secret words", "own-invoice.pdf", "fresh words"] {
        assert!(before.contains(needle), "{needle} was never stored: the scan would prove nothing");
    }

    let update = "mutation { updateWorkspaceSettings(input: { retentionDays: 30 }) { retentionDays } }";
    app.ok(&t.token, update, json!({})).await;
    // The two servers' own jobs and four more runs race: one run.
    let racers: Vec<_> = [app.db.clone(), peer.clone(), app.db.clone(), peer.clone()]
        .into_iter()
        .map(|db| tokio::spawn(async move { api::contacts::retention::run_due(&db, now).await.unwrap() }))
        .collect();
    for racer in racers {
        racer.await.unwrap();
    }
    let done = runs(app, &t.token).await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["agentId"], Value::Null, "the system erases");
    assert_eq!(done[0]["details"]["attachments"], 2);

    let after = app.storage_text().await;
    for needle in ["old secret words", "own-invoice.pdf", "Olga"] {
        let found: Vec<&str> =
            after.lines().filter(|l| l.contains(needle) && !l.starts_with("conversations.")).collect();
        assert!(found.is_empty(), "{needle} is still stored: {found:#?}");
    }
    assert!(after.contains("fresh words") && after.contains("shared-price-list.pdf"), "newer messages stay");
    let conversations = app.ok(&t.token, "{ conversations { nodes { id } } }", json!({})).await;
    assert_eq!(conversations["conversations"]["nodes"].as_array().unwrap().len(), 2, "conversations stay");
    // The invoice's bytes go after the commit; the price list, also sent to Nina, stays.
    let mut gone = false;
    for _ in 0..200 {
        let held = blobs(app).await;
        if !held.contains(&own_bytes) {
            assert!(held.contains(&shared_bytes), "a file a newer message holds keeps its bytes");
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(gone, "the erased file's bytes are deleted");

    // Once a day: not again within the day, again the day after.
    api::contacts::retention::run_due(&peer, now + chrono::Duration::hours(23)).await.unwrap();
    assert_eq!(runs(app, &t.token).await.len(), 1);
    api::contacts::retention::run_due(&peer, now + chrono::Duration::hours(25)).await.unwrap();
    assert_eq!(runs(app, &t.token).await.len(), 2);
    assert!(app.storage_text().await.contains("fresh words"));
}

on_both_backends!(old_messages_are_erased_once_a_day_across_processes_and_the_rest_stays);
