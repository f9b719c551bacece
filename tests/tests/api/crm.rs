//! CRM webhooks: Standard Webhooks signatures (checked by an independent implementation),
//! retries, order, redelivery, pausing, URL validation, and a hanging endpoint that slows
//! no one else.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;
use serde_json::{Value, json};

use crate::helpers::{Backend, Inbound, TestApp, error_code, spawn_with};

const CREATE: &str = "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { id url eventTypes } } }";
const ENDPOINTS: &str = "{ webhookEndpoints { id pausedAt consecutiveFailures deliveries(first: 50) { id eventCursor status attempts lastStatusCode } } }";

#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A local CRM: fails the first `failures` requests (500), or hangs when `hang` is set.
#[derive(Clone, Default)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    failures: Arc<Mutex<usize>>,
    hang: bool,
}

impl Receiver {
    async fn start(failures: usize, hang: bool) -> Self {
        use axum::http::{HeaderMap, StatusCode};
        let mut receiver = Receiver { failures: Arc::new(Mutex::new(failures)), hang, ..Default::default() };
        let state = receiver.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                if state.hang {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                let header = |name: &str| {
                    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                };
                state.got.lock().unwrap().push(Received {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                    body,
                });
                let mut failures = state.failures.lock().unwrap();
                if *failures > 0 {
                    *failures -= 1;
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        receiver.url = format!("http://{}/hooks/parley", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the receiver got {} of {n} requests", self.received().len());
    }
}

/// Verifies a Standard Webhooks signature, written from the specification and independent of
/// Parley's code: base64 HMAC-SHA256 over `id.timestamp.body` with the decoded `whsec_` key.
fn verify(secret: &str, r: &Received) -> bool {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(r.id.as_bytes());
    mac.update(b".");
    mac.update(r.timestamp.as_bytes());
    mac.update(b".");
    mac.update(r.body.as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    r.signature.split(' ').any(|s| s == format!("v1,{expected}"))
}

async fn app_for_crm(backend: Backend, pause_after: i32) -> Option<TestApp> {
    spawn_with(backend, move |config| {
        config.dispatch.allow_private_targets = true;
        config.dispatch.retry_base = Duration::from_millis(30);
        config.dispatch.timeout = Duration::from_secs(5);
        config.dispatch.pause_after = pause_after;
    })
    .await
}

async fn endpoint(app: &TestApp, token: &str, url: &str, types: &[&str]) -> (String, String) {
    let data = app.ok(token, CREATE, json!({ "i": { "url": url, "eventTypes": types } })).await;
    let created = &data["createWebhookEndpoint"];
    (created["endpoint"]["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned())
}

async fn deliveries_are_signed_ordered_and_retried(backend: Backend) {
    let Some(app) = app_for_crm(backend, 50).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let crm = Receiver::start(2, false).await;
    let (_, secret) = endpoint(&app, &t.token, &crm.url, &[]).await;
    assert!(secret.starts_with("whsec_"));
    app.deliver(&t, &[&Inbound::hidden("US.1", "@one", "One"), &Inbound::hidden("US.2", "@two", "Two")])
        .await; // 4 events
    let got = crm.wait_for(6).await; // two failures, then four events
    assert!(got.iter().all(|r| verify(&secret, r)), "every request is signed");
    assert_eq!(got[0].id, got[1].id, "retries keep the webhook-id");
    assert_eq!(got[1].id, got[2].id);
    let mut seen = Vec::new();
    for r in &got[2..] {
        let event: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["id"].as_str().unwrap(), r.id);
        seen.push(event["sequence"].as_str().unwrap().parse::<i64>().unwrap());
    }
    assert_eq!(seen, [1, 2, 3, 4], "in cursor order, each once after success");
    let mut tampered = got[2].clone();
    tampered.body = tampered.body.replace("One", "Eve");
    assert!(!verify(&secret, &tampered), "the independent check rejects a changed body");

    let data = app.ok(&t.token, ENDPOINTS, json!({})).await;
    let deliveries = data["webhookEndpoints"][0]["deliveries"].as_array().unwrap().clone();
    assert_eq!(deliveries.len(), 4);
    let first = deliveries.iter().find(|d| d["eventCursor"] == "1").unwrap();
    assert_eq!((first["status"].as_str(), first["attempts"].as_i64()), (Some("DELIVERED"), Some(3)));

    // Manual redelivery sends it again.
    let redeliver = "mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { status attempts } }";
    app.ok(&t.token, redeliver, json!({ "d": first["id"] })).await;
    let again = crm.wait_for(7).await;
    assert_eq!(again[6].id, got[2].id);
}

async fn a_failing_endpoint_is_paused_and_a_hanging_one_slows_no_one(backend: Backend) {
    let Some(app) = app_for_crm(backend, 3).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let broken = Receiver::start(usize::MAX, false).await;
    let hanging = Receiver::start(0, true).await;
    let healthy = Receiver::start(0, false).await;
    let (broken_id, _) = endpoint(&app, &t.token, &broken.url, &["message.received"]).await;
    endpoint(&app, &t.token, &hanging.url, &["message.received"]).await;
    endpoint(&app, &t.token, &healthy.url, &["message.received"]).await;
    let started = Instant::now();
    app.deliver(&t, &[&Inbound::hidden("US.1", "@one", "One")]).await;
    healthy.wait_for(1).await;
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "the healthy endpoint was not held up: {:?}",
        started.elapsed()
    );
    broken.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let data = app.ok(&t.token, ENDPOINTS, json!({})).await;
    let broken_view =
        data["webhookEndpoints"].as_array().unwrap().iter().find(|e| e["id"] == broken_id).unwrap().clone();
    assert!(broken_view["pausedAt"].is_string(), "paused after 3 failures: {broken_view}");
    assert_eq!(broken.received().len(), 3, "a paused endpoint gets nothing more");
    *broken.failures.lock().unwrap() = 0;
    let resume = "mutation($id: ID!) { resumeWebhookEndpoint(id: $id) { pausedAt } }";
    let data = app.ok(&t.token, resume, json!({ "id": broken_id })).await;
    assert_eq!(data["resumeWebhookEndpoint"]["pausedAt"], Value::Null);
    broken.wait_for(4).await;
}

async fn endpoint_urls_and_roles_are_checked(app: TestApp) {
    let t = app.tenant("Acme").await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.0.0.8/x",
        "http://169.254.169.254/",
        "ftp://crm.example.com/",
        "nope",
    ] {
        let body =
            app.graphql(Some(&t.token), CREATE, json!({ "i": { "url": url, "eventTypes": [] } })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{url}");
    }
    let body = app
        .graphql(
            Some(&t.token),
            CREATE,
            json!({ "i": { "url": "https://crm.example.com/h", "eventTypes": ["nope"] } }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let data = app
        .ok(
            &t.token,
            CREATE,
            json!({ "i": { "url": "https://crm.example.com/h", "eventTypes": ["contact.created"] } }),
        )
        .await;
    let id = data["createWebhookEndpoint"]["endpoint"]["id"].clone();
    let other = app.tenant("Other").await;
    let delete = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }";
    assert_eq!(error_code(&app.graphql(Some(&other.token), delete, json!({ "id": id })).await), "NOT_FOUND");
    let listed = app.ok(&other.token, ENDPOINTS, json!({})).await;
    assert_eq!(listed["webhookEndpoints"], json!([]));
    assert_eq!(app.ok(&t.token, delete, json!({ "id": id })).await["deleteWebhookEndpoint"], true);
}

/// PostgreSQL only: two server processes on one database. A webhook posted to A reaches a
/// subscriber on B at once (LISTEN/NOTIFY), and each CRM delivery is sent once although both
/// processes run a dispatcher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_postgresql() {
    let Some(a) = app_for_crm(Backend::Postgres, 50).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let b = crate::helpers::spawn_peer(&a, |config| {
        config.dispatch.allow_private_targets = true;
        config.dispatch.retry_base = Duration::from_millis(30);
    })
    .await;
    let t = a.tenant("Acme").await;
    let crm = Receiver::start(0, false).await;
    endpoint(&a, &t.token, &crm.url, &[]).await;

    let url = b.address.replace("http://", "ws://") + "/graphql/ws";
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Ws;
    let init =
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", t.token) } });
    socket.send(Ws::text(init.to_string())).await.unwrap();
    let _ack = socket.next().await;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { events(after: \"0\") { cursor type } }" } });
    socket.send(Ws::text(subscribe.to_string())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    a.deliver(&t, &[&Inbound::hidden("US.1", "@one", "One")]).await;
    let mut types = Vec::new();
    while types.len() < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("event on B")
            .unwrap()
            .unwrap();
        if let Ws::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] == "next" {
                types.push(v["payload"]["data"]["events"]["type"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(types, ["conversation.created", "message.received"]);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "B heard A's commit at once: {:?}",
        started.elapsed()
    );

    for i in 0..5 {
        let writer = if i % 2 == 0 { &a } else { &b };
        writer.deliver(&t, &[&Inbound::hidden(&format!("US.{}", 10 + i), "@x", "X")]).await;
    }
    crm.wait_for(12).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: Vec<String> = crm.received().iter().map(|r| r.id.clone()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), 12, "12 events, each sent once: {ids:?}");
    assert_eq!(unique.len(), 12);
}

mod deliveries_are_signed_ordered_and_retried {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::deliveries_are_signed_ordered_and_retried(crate::helpers::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::deliveries_are_signed_ordered_and_retried(crate::helpers::Backend::Postgres).await;
    }
}

mod a_failing_endpoint_is_paused_and_a_hanging_one_slows_no_one {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_failing_endpoint_is_paused_and_a_hanging_one_slows_no_one(crate::helpers::Backend::Sqlite)
            .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_failing_endpoint_is_paused_and_a_hanging_one_slows_no_one(crate::helpers::Backend::Postgres)
            .await;
    }
}

on_both!(endpoint_urls_and_roles_are_checked);
