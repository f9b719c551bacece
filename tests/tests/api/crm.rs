//! CRM webhooks: Standard Webhooks signatures (checked by an independent implementation),
//! retries, order, redelivery, pausing, URL validation, and a hanging endpoint that slows
//! no one else.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cloudevents::AttributesReader;
use hmac::Mac;
use serde_json::{Value, json};

use crate::helpers::{Backend, Inbound, TestApp, error_code, spawn_with};

const CREATE: &str = "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { id url eventTypes } } }";
const ENDPOINTS: &str = "{ webhookEndpoints { id pausedAt consecutiveFailures deliveries(first: 50) { id eventCursor status attempts lastStatusCode } } }";

#[derive(Clone, Debug)]
struct Received {
    id: String,
    /// The event as the CloudEvents SDK reads the request (its HTTP binding), or why it cannot.
    cloudevent: Result<cloudevents::Event, String>,
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
                let cloudevent = cloudevents::binding::http::to_event(&headers, body.clone().into_bytes())
                    .map_err(|e| e.to_string());
                state.got.lock().unwrap().push(Received {
                    cloudevent,
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
        // The CloudEvents SDK reads each request as a structured-mode event.
        let read = r.cloudevent.as_ref().unwrap_or_else(|e| panic!("not a CloudEvent to the SDK: {e}"));
        assert_eq!((read.id(), read.ty()), (r.id.as_str(), event["type"].as_str().unwrap()));
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
        "http://[64:ff9b::7f00:1]/x",
        "http://[2002:7f00:1::]/x",
        "http://[::127.0.0.1]/x",
        "http://[fec0::1]/x",
        "http://192.0.0.8/x",
        "http://198.18.0.1/x",
        "http://224.0.0.1/x",
        "http://240.0.0.1/x",
        "ftp://crm.example.com/",
        "nope",
    ] {
        let body =
            app.graphql(Some(&t.token), CREATE, json!({ "i": { "url": url, "eventTypes": [] } })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{url}");
    }
    // The refusal of a private target names the setting that allows it.
    let body = app
        .graphql(Some(&t.token), CREATE, json!({ "i": { "url": "http://127.0.0.1:9/x", "eventTypes": [] } }))
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("PARLEY_WEBHOOK_ALLOW_PRIVATE_TARGETS=true"), "{message}");
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

/// Idle endpoints cost their workspace nothing and never starve another tenant's busy one: 32
/// endpoints with nothing due in two workspaces, created first, and one busy endpoint in a
/// third; its delivery arrives within 2 s. A workspace holds at most 20 endpoints.
async fn idle_endpoints_never_starve_a_busy_one_in_another_workspace(backend: Backend) {
    let Some(app) = app_for_crm(backend, 50).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let (a, b, c) = (app.tenant("Alpha").await, app.tenant("Beta").await, app.tenant("Gamma").await);
    for (tenant, n) in [(&a, 20), (&b, 12)] {
        for i in 0..n {
            endpoint(&app, &tenant.token, &format!("http://127.0.0.1:9/idle/{i}"), &[]).await;
        }
    }
    let body = app
        .graphql(
            Some(&a.token),
            CREATE,
            json!({ "i": { "url": "http://127.0.0.1:9/one-more", "eventTypes": [] } }),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "at most 20 endpoints per workspace: {body}");

    let crm = Receiver::start(0, false).await;
    endpoint(&app, &c.token, &crm.url, &["message.received"]).await;
    let started = Instant::now();
    app.deliver(&c, &[&Inbound::hidden("US.1", "@one", "One")]).await;
    let got = crm.wait_for(1).await;
    assert!(started.elapsed() < Duration::from_secs(2), "delivered after {:?}", started.elapsed());
    assert_eq!(got.len(), 1);
}

/// Secrets are stored sealed; `rotateWebhookSecret` returns a new one, and for 24 hours both
/// secrets sign each delivery (two `v1,` signatures), then only the new one.
async fn webhook_secrets_are_sealed_and_a_rotation_signs_with_both(backend: Backend) {
    let Some(app) = app_for_crm(backend, 50).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let crm = Receiver::start(0, false).await;
    let (id, old) = endpoint(&app, &t.token, &crm.url, &["message.received"]).await;
    let rotate =
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { previousSecretUntil } } }";
    let data = app.ok(&t.token, rotate, json!({ "id": id })).await;
    let new = data["rotateWebhookSecret"]["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != old);
    assert!(data["rotateWebhookSecret"]["endpoint"]["previousSecretUntil"].is_string());
    let stored = app.storage_text().await;
    for secret in [&old, &new] {
        let key = secret.trim_start_matches("whsec_");
        assert!(!stored.contains(key), "a secret is stored in the clear");
    }

    app.deliver(&t, &[&Inbound::hidden("US.1", "@one", "One")]).await;
    let first = crm.wait_for(1).await[0].clone();
    assert_eq!(first.signature.split(' ').count(), 2, "{}", first.signature);
    assert!(verify(&old, &first) && verify(&new, &first), "both secrets sign during the overlap");

    // The overlap ends.
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let stmt = sea_orm::Statement::from_sql_and_values(
        app.db.conn().get_database_backend(),
        format!(
            "UPDATE webhook_endpoints SET previous_secret_until = {}",
            if backend == Backend::Sqlite { "?" } else { "$1" }
        ),
        [past.into()],
    );
    sea_orm::ConnectionTrait::execute_raw(app.db.conn(), stmt).await.unwrap();
    app.deliver(&t, &[&Inbound::hidden("US.2", "@two", "Two")]).await;
    let second = crm.wait_for(2).await[1].clone();
    assert!(verify(&new, &second) && !verify(&old, &second), "only the new secret signs after 24 hours");
    let audit = app.ok(&t.token, "{ auditLog { action } }", json!({})).await;
    assert!(audit.to_string().contains("webhook_endpoint.secret_rotated"), "{audit}");
}

/// A resolver that answers a public address first and loopback afterwards (DNS rebinding).
struct Rebinding {
    asked: Mutex<usize>,
}

impl api::config::Lookup for Rebinding {
    fn lookup(
        &self,
        _host: String,
    ) -> futures::future::BoxFuture<'static, std::io::Result<Vec<std::net::IpAddr>>> {
        let mut asked = self.asked.lock().unwrap();
        *asked += 1;
        let answer = if *asked == 1 { "93.184.216.34" } else { "127.0.0.1" };
        Box::pin(async move { Ok(vec![answer.parse().unwrap()]) })
    }
}

/// The connection goes only to the address that was checked: a name that answers public and
/// then loopback never reaches the loopback service, and the delivery fails for good naming the
/// private target (after the first, public answer failed to connect).
async fn a_name_that_rebinds_to_loopback_never_reaches_it(backend: Backend) {
    let crm = Receiver::start(0, false).await;
    let port = crm.url.rsplit(':').next().unwrap().split('/').next().unwrap().to_owned();
    let lookup = Arc::new(Rebinding { asked: Mutex::new(0) });
    let resolver = Arc::clone(&lookup);
    let Some(app) = spawn_with(backend, move |config| {
        config.dispatch.lookup = resolver;
        config.dispatch.retry_base = Duration::from_millis(30);
        config.dispatch.timeout = Duration::from_millis(500);
    })
    .await
    else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let url = format!("http://crm.rebind.example:{port}/hooks/parley");
    endpoint(&app, &t.token, &url, &["message.received"]).await;
    app.deliver(&t, &[&Inbound::hidden("US.1", "@one", "One")]).await;
    let mut delivery = Value::Null;
    for _ in 0..200 {
        let data = app.ok(&t.token, ENDPOINTS, json!({})).await;
        delivery = data["webhookEndpoints"][0]["deliveries"][0].clone();
        if delivery["status"] == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(delivery["status"], "FAILED", "{delivery}");
    let errors = app.ok(&t.token, "{ webhookEndpoints { deliveries { lastError } } }", json!({})).await;
    let last = errors["webhookEndpoints"][0]["deliveries"][0]["lastError"].as_str().unwrap().to_owned();
    assert!(last.contains("private"), "{last}");
    assert!(*lookup.asked.lock().unwrap() >= 2, "one resolution per connection attempt");
    assert!(crm.received().is_empty(), "the loopback service was never reached");
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
on_both_backends!(
    webhook_secrets_are_sealed_and_a_rotation_signs_with_both,
    idle_endpoints_never_starve_a_busy_one_in_another_workspace,
    a_name_that_rebinds_to_loopback_never_reaches_it
);
