//! OpenTelemetry traces from the real binary: a local OTLP/HTTP receiver decodes what
//! `parley serve` exports (with `opentelemetry-proto`), while the test drives a signed webhook
//! and a mutation that each carry a W3C `traceparent`, and a fake Cloud API records the
//! `traceparent` Parley sends it. Without `OTEL_EXPORTER_OTLP_ENDPOINT` nothing is exported.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic when set-up fails")]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use hmac::{Hmac, Mac};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};

const JWT_SECRET: &str = "traces-test-secret-traces-test-secret-0123";
const SECRET_KEY: &str = "dHJhY2VzLXRlc3Qta2V5LXRyYWNlcy10ZXN0LWtleTA=";
const APP_SECRET: &str = "traces-app-secret-9f8e7d";
const ACCESS_TOKEN: &str = "EAAtraces-access-token-5a4b3c";
const CUSTOMER_PHONE: &str = "5215587654321";
const INBOUND_BODY: &str = "Mi pedido 4471 no llegó, mi correo es lucia@example.com";
const REPLY_BODY: &str = "Lo revisamos ahora mismo, Lucía";
const PHONE_NUMBER_ID: &str = "106540352242922";
/// The caller's trace: the webhook's and the mutation's `traceparent`s name it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const WEBHOOK_PARENT: &str = "00f067aa0ba902b7";
const MUTATION_PARENT: &str = "b7ad6b7169203331";

#[derive(Default)]
struct Seen {
    exports: Vec<ExportTraceServiceRequest>,
    cloud_api: Vec<HeaderMap>,
}

type Shared = Arc<Mutex<Seen>>;

/// The OTLP receiver and the fake Cloud API, on one local port.
async fn collector() -> (String, Shared) {
    let seen = Shared::default();
    async fn traces(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> &'static str {
        assert_eq!(headers.get("content-type").unwrap(), "application/x-protobuf");
        let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
        seen.lock().unwrap().exports.push(request);
        ""
    }
    async fn messages(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> axum::Json<Value> {
        assert_eq!(headers.get("authorization").unwrap().to_str().unwrap(), format!("Bearer {ACCESS_TOKEN}"));
        let sent: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["messaging_product"], "whatsapp");
        seen.lock().unwrap().cloud_api.push(headers);
        axum::Json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{ "input": CUSTOMER_PHONE, "wa_id": CUSTOMER_PHONE }],
            "messages": [{ "id": format!("wamid.TRACES{}", uuid::Uuid::new_v4().simple()) }]
        }))
    }
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .route("/{version}/{phone_number_id}/messages", post(messages))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn parley() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env("PARLEY_JWT_SECRET", JWT_SECRET)
        .env("PARLEY_SECRET_KEY", SECRET_KEY)
        .env("RUST_LOG", "warn");
    cmd
}

/// A server process, killed if the test fails before it stops it.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// A bootstrapped workspace and a server on it; the server, its URL and an admin token.
fn serve(fake: &str, otlp: Option<&str>) -> (Server, String, String) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("parley-traces");
    std::fs::create_dir_all(&dir).unwrap();
    let db =
        format!("sqlite://{}?mode=rwc", dir.join(format!("{}.db", uuid::Uuid::new_v4().simple())).display());
    let out = parley()
        .args(["bootstrap", "--workspace", "Acme", "--admin-email", "admin@acme.example.com"])
        .args(["--phone-number-id", PHONE_NUMBER_ID, "--display-phone-number", "15550783881"])
        .args(["--waba-id", "102290129340398", "--portfolio-id", "506914307656634"])
        .env("DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"].as_str().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = parley();
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", &db])
        .env("PARLEY_WHATSAPP_APP_SECRET", APP_SECRET)
        .env("PARLEY_WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN)
        .env("PARLEY_WHATSAPP_API_BASE", format!("{fake}/v23.0"))
        .env("OTEL_SERVICE_NAME", "parley-under-test")
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(otlp) = otlp {
        cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp);
    }
    (Server(Some(cmd.spawn().unwrap())), format!("http://127.0.0.1:{port}"), token)
}

async fn ready(base: &str) {
    for _ in 0..100 {
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start");
}

/// A customer's message, signed as Meta signs it, with the caller's `traceparent`.
async fn webhook(base: &str) {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": "Lucía" }, "wa_id": CUSTOMER_PHONE, "user_id": "MX.1209384756102938" }],
            "messages": [{ "from": CUSTOMER_PHONE, "from_user_id": "MX.1209384756102938", "id": "wamid.HBgNTRACES01",
                "timestamp": chrono::Utc::now().timestamp().to_string(), "type": "text", "text": { "body": INBOUND_BODY } }]
        }}]}]
    })
    .to_string();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let response = reqwest::Client::new()
        .post(format!("{base}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", format!("sha256={}", hex::encode(mac.finalize().into_bytes())))
        .header("traceparent", format!("00-{TRACE_ID}-{WEBHOOK_PARENT}-01"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// The agent's reply, with the caller's `traceparent`; waits until the Cloud API has it.
async fn reply(base: &str, token: &str, seen: &Shared) {
    let graphql = |query: &'static str, variables: Value| {
        reqwest::Client::new()
            .post(format!("{base}/graphql"))
            .bearer_auth(token)
            .header("traceparent", format!("00-{TRACE_ID}-{MUTATION_PARENT}-01"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
    };
    let listed: Value = graphql("query Inbox { conversations(first: 1) { nodes { id } } }", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = listed["data"]["conversations"]["nodes"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{listed}"))
        .to_owned();
    let sent: Value = graphql(
        "mutation SendMessage($id: ID!, $text: String!) { sendMessage(conversationId: $id, text: $text) { id } }",
        json!({ "id": id, "text": REPLY_BODY }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(sent.get("errors").is_none(), "{sent}");
    for _ in 0..100 {
        if !seen.lock().unwrap().cloud_api.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the reply never reached the Cloud API");
}

/// Stops the server as an operator does (SIGTERM): it flushes its last spans.
fn stop(mut server: Server) {
    let mut child = server.0.take().unwrap();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().ok();
    panic!("the server did not stop on SIGTERM");
}

fn spans(seen: &Shared) -> Vec<(String, Span)> {
    let seen = seen.lock().unwrap();
    let mut all = Vec::new();
    for export in &seen.exports {
        for resource in &export.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(AnyValue::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in &resource.scope_spans {
                all.extend(scope.spans.iter().map(|s| (service.clone(), s.clone())));
            }
        }
    }
    all
}

fn find<'a>(spans: &'a [(String, Span)], name: &str) -> &'a Span {
    &spans
        .iter()
        .find(|(_, s)| s.name == name)
        .unwrap_or_else(|| {
            panic!("no span {name} in {:?}", spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>())
        })
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_follow_a_webhook_and_a_mutation_through_parley_and_out() {
    let (fake, seen) = collector().await;
    let (server, base, token) = serve(&fake, Some(&fake));
    ready(&base).await;
    webhook(&base).await;
    reply(&base, &token, &seen).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(server);

    let spans = spans(&seen);
    assert!(
        spans.iter().all(|(service, _)| service == "parley-under-test"),
        "OTEL_SERVICE_NAME names the service"
    );
    let trace = hex::decode(TRACE_ID).unwrap();

    // The webhook's request continues the caller's trace; its batch commit links to it.
    let hook = find(&spans, "POST /webhooks/whatsapp");
    assert_eq!(hook.trace_id, trace);
    assert_eq!(hook.parent_span_id, hex::decode(WEBHOOK_PARENT).unwrap());
    let batch = find(&spans, "webhook batch commit");
    assert!(batch.links.iter().any(|l| l.span_id == hook.span_id && l.trace_id == trace), "{batch:?}");

    // The mutation: the request continues the caller's trace, the operation is its child,
    // named by the operation.
    let operation = find(&spans, "mutation SendMessage");
    let request = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.span_id == operation.parent_span_id)
        .expect("the operation's parent span");
    assert_eq!(request.name, "POST /graphql");
    assert_eq!(
        request.parent_span_id,
        hex::decode(MUTATION_PARENT).unwrap(),
        "the request continues its traceparent"
    );
    assert_eq!(request.trace_id, trace);
    assert_eq!(operation.trace_id, trace);
    assert!(spans.iter().any(|(_, s)| s.name == "query Inbox"));

    // The delivery worker's pass that sent it, and the outbound call inside it, which carried
    // `traceparent` to the Cloud API.
    let call = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.name.starts_with("POST 127.0.0.1"))
        .expect("an outbound span for the Cloud API call");
    let pass =
        spans.iter().map(|(_, s)| s).find(|s| s.span_id == call.parent_span_id).expect("the call's parent");
    assert!(pass.attributes.iter().any(|a| a.key == "worker"), "the parent is a worker pass: {pass:?}");
    let sent = seen.lock().unwrap().cloud_api[0]
        .get("traceparent")
        .expect("traceparent on the Cloud API call")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(sent, format!("00-{}-{}-01", hex::encode(&call.trace_id), hex::encode(&call.span_id)));
    // Only passes that did work are exported.
    for (_, span) in &spans {
        if span.attributes.iter().any(|a| a.key == "worker.did_work") {
            assert!(
                span.attributes.iter().any(|a| a.key == "worker.did_work"
                    && a.value.as_ref().and_then(|v| v.value.clone()) == Some(AnyValue::BoolValue(true))),
                "an idle pass was exported: {span:?}"
            );
        }
    }

    // No attribute or event carries a phone, a body, a token or a secret.
    let everything = format!("{spans:?}");
    for secret in [
        CUSTOMER_PHONE,
        INBOUND_BODY,
        REPLY_BODY,
        "lucia@example.com",
        ACCESS_TOKEN,
        APP_SECRET,
        JWT_SECRET,
        &token,
        "Lucía",
    ] {
        assert!(!everything.contains(secret), "a span carries {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_endpoint_nothing_is_exported_and_nothing_propagated() {
    let (fake, seen) = collector().await;
    let (server, base, token) = serve(&fake, None);
    ready(&base).await;
    webhook(&base).await;
    reply(&base, &token, &seen).await;
    stop(server);
    let seen = seen.lock().unwrap();
    assert!(seen.exports.is_empty(), "nothing exported");
    assert!(seen.cloud_api[0].get("traceparent").is_none(), "no traceparent invented");
}
