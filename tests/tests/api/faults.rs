//! Saturation and slowness: when the pool is exhausted or a statement waits too long, requests
//! answer UNAVAILABLE within a bounded time instead of hanging, nothing is half-written, and
//! service resumes when the pressure goes.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::json;

use crate::helpers::{Backend, Inbound, TestApp, error_code, fixtures, spawn_with};

const LIST: &str = "{ conversations(first: 5) { nodes { id status } } }";
const RESOLVE: &str = "mutation($id: ID!) { resolveConversation(conversationId: $id) { id status } }";

async fn saturated(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, |config| {
        config.pool.max_connections = 1;
        config.pool.acquire_timeout = Duration::from_millis(300);
        config.pool.statement_timeout = Duration::from_millis(300);
    })
    .await
}

async fn an_exhausted_pool_answers_unavailable_within_the_timeout(app: TestApp) {
    let t = app.tenant("Acme").await;
    let message = Inbound::with_phone("+14155550100", "US.77", "Ana");
    // The server's only connection is taken (and, on SQLite, its write lock).
    let held = app.db.begin().await.unwrap();

    let started = Instant::now();
    let (status, body) = app.graphql_status(Some(&t.token), LIST, json!({})).await;
    assert_eq!(error_code(&body), "UNAVAILABLE", "{body}");
    assert_eq!(status, 503);
    assert!(started.elapsed() < Duration::from_secs(3), "answered in {:?}", started.elapsed());

    let value = message.value(&t.number.phone_number_id);
    let webhook = fixtures::webhook(&t.number.waba_id, "messages", value);
    let started = Instant::now();
    let (status, _) = app.post_webhook(&webhook).await;
    assert_eq!(status, 503, "Meta is told to retry");
    assert!(started.elapsed() < Duration::from_secs(3), "answered in {:?}", started.elapsed());

    held.rollback().await.unwrap();
    let (status, summary) = app.post_webhook(&webhook).await;
    assert_eq!((status, summary["messages"].as_u64()), (200, Some(1)), "the retry is stored: {summary}");
    assert_eq!(app.count("messages").await, 1, "stored once");
    let data = app.ok(&t.token, LIST, json!({})).await;
    assert_eq!(data["conversations"]["nodes"].as_array().map(Vec::len), Some(1));
}

async fn a_write_stuck_behind_a_lock_answers_unavailable_and_changes_nothing(app: TestApp) {
    let t = app.tenant("Acme").await;
    let conversation =
        app.receive(&t, &Inbound::with_phone("+14155550100", "US.77", "Ana")).await.to_string();
    let started = Instant::now();
    match app.backend {
        Backend::Postgres => {
            // Another client holds the conversation's row lock: the statement times out.
            let other = sea_orm::Database::connect(&app.database_url).await.unwrap();
            let txn = other.begin().await.unwrap();
            txn.execute_unprepared(&format!(
                "SELECT id FROM conversations WHERE id = '{conversation}' FOR UPDATE"
            ))
            .await
            .unwrap();
            let body = app.graphql(Some(&t.token), RESOLVE, json!({ "id": conversation })).await;
            assert_eq!(error_code(&body), "UNAVAILABLE", "{body}");
            txn.rollback().await.unwrap();
        }
        Backend::Sqlite => {
            // Another writer holds SQLite's write lock: the wait for it times out.
            let held = app.db.begin().await.unwrap();
            let body = app.graphql(Some(&t.token), RESOLVE, json!({ "id": conversation })).await;
            assert_eq!(error_code(&body), "UNAVAILABLE", "{body}");
            held.rollback().await.unwrap();
        }
    }
    assert!(started.elapsed() < Duration::from_secs(3), "answered in {:?}", started.elapsed());
    let by_id = "query($id: ID!) { conversation(id: $id) { status } }";
    let data = app.ok(&t.token, by_id, json!({ "id": conversation })).await;
    assert_eq!(data["conversation"]["status"], "OPEN", "nothing changed");
    let data = app.ok(&t.token, RESOLVE, json!({ "id": conversation })).await;
    assert_eq!(data["resolveConversation"]["status"], "RESOLVED", "works once the lock is gone");
}

macro_rules! saturated_on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::saturated(crate::helpers::Backend::Sqlite).await.expect("app")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match super::saturated(crate::helpers::Backend::Postgres).await {
                    Some(app) => super::$name(app).await,
                    None => crate::helpers::postgres_skipped(module_path!()),
                }
            }
        }
    )*};
}

saturated_on_both!(
    an_exhausted_pool_answers_unavailable_within_the_timeout,
    a_write_stuck_behind_a_lock_answers_unavailable_and_changes_nothing,
);
