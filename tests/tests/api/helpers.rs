//! Spawning apps on fresh databases, seeding them, and talking GraphQL to them.

use std::sync::{Arc, Once};
use std::time::Duration;

use api::auth::Authenticator;
use api::inbound::whatsapp::payload::ContactInfo;
use api::inbound::whatsapp::read::read_message;
use api::inbound::whatsapp::thread::{self as ingest, IngestOutcome};
use api::setup::workspaces::{BootstrapInput, Bootstrapped, BusinessNumberInput, bootstrap};
use api::{Application, Config};
use chrono::Utc;
use domain::{AgentId, ConversationId, WorkspaceId};
use persistence::BusinessNumber;
use persistence::{Database, business_numbers};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(TestApp)` on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::spawn(crate::helpers::Backend::Sqlite).await.expect("sqlite app")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match crate::helpers::spawn(crate::helpers::Backend::Postgres).await {
                    Some(app) => super::$name(app).await,
                    None => crate::helpers::postgres_skipped(module_path!()),
                }
            }
        }
    )*};
}

/// Runs each named `async fn(Backend)` (a test that spawns its own configured app) on SQLite
/// and on PostgreSQL; the function returns early with [`postgres_skipped`] when it gets no app.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await;
            }
        }
    )*};
}

/// A running server and what tests need to drive it.
pub struct TestApp {
    pub address: String,
    pub db: Database,
    pub backend: Backend,
    pub client: reqwest::Client,
    pub auth: Arc<Authenticator>,
    pub database_url: String,
    /// The keys the server seals secrets with.
    pub keyring: persistence::sealed::Keyring,
    /// Where the server keeps media bytes.
    pub blobs: persistence::blobs::BlobStore,
}

/// Which blob store a media test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    File,
    S3,
}

/// A fresh blob store URL for one test: a new directory, or a new prefix of the S3 bucket named
/// by `PARLEY_TEST_S3_BUCKET` (the S3 server and credentials come from the standard `AWS_*`
/// variables, as in production); `None` when no S3 bucket is configured.
pub fn fresh_store(store: Store) -> Option<String> {
    let name = uuid::Uuid::new_v4().simple().to_string();
    match store {
        Store::File => {
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("parley-media").join(name);
            Some(format!("file://{}", dir.display()))
        }
        Store::S3 => {
            let bucket = std::env::var("PARLEY_TEST_S3_BUCKET").ok().filter(|b| !b.is_empty())?;
            Some(format!("s3://{bucket}/{name}"))
        }
    }
}

/// Says, once per run, that the S3 runs of media tests are skipped.
pub fn s3_skipped(test: &str) {
    use std::io::Write;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "notice: PARLEY_TEST_S3_BUCKET is unset, so the S3 run of every media test is skipped (first: {test}); \
             .ci/run starts an S3-compatible server and sets it"
        );
    });
}

/// Runs each named `async fn(Backend, Store)` (a media test that spawns its own app) on SQLite
/// with the file store and on PostgreSQL with S3; the S3 run is skipped with a notice when no
/// bucket is configured, and the function returns early when it gets no app.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_file() {
                super::$name(crate::helpers::Backend::Sqlite, crate::helpers::Store::File).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_s3() {
                if crate::helpers::fresh_store(crate::helpers::Store::S3).is_none() {
                    return crate::helpers::s3_skipped(module_path!());
                }
                super::$name(crate::helpers::Backend::Postgres, crate::helpers::Store::S3).await;
            }
        }
    )*};
}

/// A workspace with an admin and one business number.
#[derive(Clone)]
pub struct Tenant {
    pub workspace: WorkspaceId,
    pub admin: AgentId,
    pub token: String,
    pub number: BusinessNumber,
}

/// Says, once per run and past the test harness's capture, that PostgreSQL runs are skipped.
pub fn postgres_skipped(test: &str) {
    use std::io::Write;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "notice: PARLEY_TEST_POSTGRES_URL is unset, so the PostgreSQL run of every storage test is skipped \
             (first: {test}); set it, e.g. to postgres://postgres@127.0.0.1:5432/test, to run them"
        );
    });
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            api::telemetry::init(std::io::stderr);
        } else {
            api::telemetry::init(std::io::sink);
        }
    });
}

/// A fresh database URL for one test, or `None` when PostgreSQL is not configured.
pub async fn fresh_database(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => {
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("parley-tests");
            std::fs::create_dir_all(&dir).expect("test dir");
            let path = dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()));
            Some(format!("sqlite://{}?mode=rwc", path.display()))
        }
        Backend::Postgres => {
            let base = std::env::var("PARLEY_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
            let name = format!("parley_test_{}", uuid::Uuid::new_v4().simple());
            let admin =
                sea_orm::Database::connect(base.as_str()).await.expect("connect to PARLEY_TEST_POSTGRES_URL");
            sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.expect("close admin connection");
            let (prefix, query) = base.split_once('?').map_or((base.as_str(), None), |(p, q)| (p, Some(q)));
            let server = prefix.rsplit_once('/').map_or(prefix, |(server, _)| server);
            Some(match query {
                Some(q) => format!("{server}/{name}?{q}"),
                None => format!("{server}/{name}"),
            })
        }
    }
}

/// Starts the server on a fresh database of `backend`.
pub async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, |_| {}).await
}

/// Starts the server on a fresh database of `backend`, after `configure` adjusts the config.
pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<TestApp> {
    spawn_on(backend, Store::File, configure).await
}

/// Starts the server on a fresh database of `backend` and a fresh blob store of `store`, after
/// `configure` adjusts the config.
pub async fn spawn_on(
    backend: Backend,
    store: Store,
    configure: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    init_logs();
    let media_store = fresh_store(store)?;
    let database_url = fresh_database(backend).await?;
    let mut config = Config::new(&database_url, JWT_SECRET).expect("config");
    config.media.store = media_store;
    config.media.retry_base = Duration::from_millis(20);
    config.delivery.base = Duration::from_millis(20);
    config.delivery.lease = Duration::from_secs(5);
    config.pool.max_connections = 5;
    config.whatsapp.app_secret = Some("test-app-secret".to_owned().into());
    config.whatsapp.verify_token = Some("test-verify-token".to_owned().into());
    configure(&mut config);
    let app = Application::build(config).await.expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db().clone();
    let auth = app.authenticator();
    let keyring = app.keyring().clone();
    let blobs = app.blobs().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    Some(TestApp { address, db, backend, client, auth, database_url, keyring, blobs })
}

pub use tests::fixtures::{self, Inbound};

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A workspace with an admin, a business number and a token.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let phone_number_id = format!("{}", 100_000_000_000u64 + u64::from(rand_u32()));
        let waba = format!("{}", 200_000_000_000u64 + u64::from(rand_u32()));
        self.tenant_with(name, &phone_number_id, &waba).await
    }

    /// A workspace whose business number has the given Meta ids (display number 15550783881).
    pub async fn tenant_with(&self, name: &str, phone_number_id: &str, waba_id: &str) -> Tenant {
        let phone_number_id = phone_number_id.to_owned();
        let created: Bootstrapped = bootstrap(
            &self.db,
            &BootstrapInput {
                workspace_name: name.to_owned(),
                admin_email: format!("admin@{}.example.com", name.to_lowercase().replace(' ', "-")),
                admin_name: format!("{name} Admin"),
                business_number: Some(BusinessNumberInput {
                    phone_number_id,
                    display_phone_number: "15550783881".to_owned(),
                    waba_id: waba_id.to_owned(),
                    portfolio_id: format!("{}", 500_000_000u64 + u64::from(rand_u32())),
                    business_name: None,
                }),
            },
            Utc::now(),
        )
        .await
        .unwrap_or_else(|e| panic!("bootstrap failed: {}", e.message()));
        let number_id = created.business_number_id.expect("number");
        let number =
            business_numbers::find(self.db.conn(), created.workspace_id, number_id).await.unwrap().unwrap();
        let token = self.token_for(created.admin_id, created.workspace_id);
        Tenant { workspace: created.workspace_id, admin: created.admin_id, token, number }
    }

    /// A new agent of the tenant with `role` (`AGENT`, `ADMIN`, `INTEGRATION`), and its token.
    pub async fn agent(&self, tenant: &Tenant, role: &str) -> (AgentId, String) {
        let create = "mutation($i: CreateAgentInput!) { createAgent(input: $i) { id } }";
        let email = format!("{}@agents.example.com", uuid::Uuid::new_v4().simple());
        let input = json!({ "i": { "email": email, "name": format!("{role} agent"), "role": role } });
        let data = self.ok(&tenant.token, create, input).await;
        let id: AgentId = data["createAgent"]["id"].as_str().unwrap().parse().unwrap();
        (id, self.token_for(id, tenant.workspace))
    }

    /// Changes an agent behind the API's back (as an operator or another process would).
    pub async fn change_agent(
        &self,
        tenant: &Tenant,
        agent: AgentId,
        change: persistence::agents::AgentChange<'_>,
    ) {
        let changed = self
            .db
            .write(async |txn| {
                persistence::agents::update(txn, tenant.workspace, agent, change, Utc::now()).await
            })
            .await
            .unwrap();
        assert!(changed, "no such agent");
    }

    pub fn token_for(&self, agent: AgentId, workspace: WorkspaceId) -> String {
        self.auth.issue(agent, workspace, Duration::from_secs(3600), Utc::now()).expect("token")
    }

    /// Delivers a customer message through the ingestion use case.
    pub async fn receive(&self, tenant: &Tenant, message: &Inbound) -> ConversationId {
        let value = message.value(&tenant.number.phone_number_id);
        let contacts: Vec<ContactInfo> = serde_json::from_value(value["contacts"].clone()).unwrap();
        let inbound = read_message(&value["messages"][0], &contacts).expect("readable test message");
        let txn = self.db.begin().await.unwrap();
        let outcome =
            ingest::record_inbound(&txn, &tenant.number, &inbound, Utc::now(), &self.keyring).await.unwrap();
        txn.commit().await.unwrap();
        match outcome {
            IngestOutcome::Stored { conversation, .. } => conversation,
            other => panic!("the test message was not stored as a new message: {other:?}"),
        }
    }

    /// Posts a GraphQL request; returns the HTTP status and the JSON body.
    pub async fn graphql_status(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request =
            self.client.post(self.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    /// Posts a GraphQL request and returns the JSON body.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.graphql_status(token, query, variables).await.1
    }

    /// Posts a GraphQL request that must succeed; returns `data`.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = self.graphql(Some(token), query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

impl TestApp {
    /// Posts a raw body to the WhatsApp webhook with the given signature header.
    pub async fn post_webhook_raw(&self, body: Vec<u8>, signature: Option<String>) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url("/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        let response = request.send().await.expect("webhook request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Posts a webhook signed with the test app secret.
    pub async fn post_webhook(&self, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let signature = sign(&bytes);
        self.post_webhook_raw(bytes, Some(signature)).await
    }

    /// Delivers customer messages through the signed HTTP webhook; returns the summary.
    pub async fn deliver(&self, tenant: &Tenant, messages: &[&Inbound]) -> Value {
        let messages: Vec<Inbound> = messages.iter().map(|m| (*m).clone()).collect();
        let value = fixtures::messages_value(&tenant.number.phone_number_id, &messages);
        let body = fixtures::webhook(&tenant.number.waba_id, "messages", value);
        let (status, summary) = self.post_webhook(&body).await;
        assert_eq!(status, 200, "{summary}");
        summary
    }

    /// Every value stored in every table (each column as text; SQLite blobs as hex), one per
    /// line, prefixed with `table.column:`: what a test scans for data that must not be kept.
    /// The tables are read from the database's catalog, so a table no entity maps (one kept by
    /// a trigger) is scanned too.
    pub async fn storage_text(&self) -> String {
        let conn = self.db.conn();
        let sqlite = self.backend == Backend::Sqlite;
        let mut out = String::new();
        for (table, column) in self.stored_columns().await {
            let value = if sqlite {
                format!(
                    "CASE WHEN typeof({column}) = 'blob' THEN hex({column}) ELSE CAST({column} AS TEXT) END"
                )
            } else {
                format!("CAST({column} AS TEXT)")
            };
            let sql = format!("SELECT {value} AS v FROM {table}");
            let rows = conn
                .query_all_raw(sea_orm::Statement::from_string(conn.get_database_backend(), sql))
                .await
                .unwrap();
            for row in rows {
                if let Some(v) = row.try_get::<Option<String>>("", "v").unwrap() {
                    out.push_str(&format!("{table}.{column}: {v}\n"));
                }
            }
        }
        out
    }

    /// Every table of the schema (but the migrator's own) with each of its columns, from the
    /// database's catalog.
    pub async fn stored_columns(&self) -> Vec<(String, String)> {
        let conn = self.db.conn();
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'seaql_migrations' \
                 ORDER BY m.name, p.cid"
            }
            Backend::Postgres => {
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations' \
                 ORDER BY table_name, ordinal_position"
            }
        };
        let rows = conn
            .query_all_raw(sea_orm::Statement::from_string(conn.get_database_backend(), sql))
            .await
            .unwrap();
        rows.iter()
            .map(|r| (r.try_get::<String>("", "t").unwrap(), r.try_get::<String>("", "c").unwrap()))
            .collect()
    }

    /// Counts rows of a table.
    pub async fn count(&self, table: &str) -> i64 {
        value(self.db.conn(), &format!("SELECT COUNT(*) AS v FROM {table}")).await
    }

    /// [`Self::count`] once the background workers stopped adding rows (the same count a whole
    /// second apart; at most ten seconds).
    pub async fn settled_count(&self, table: &str) -> i64 {
        let mut count = self.count(table).await;
        for _ in 0..10 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let now = self.count(table).await;
            if now == count {
                break;
            }
            count = now;
        }
        count
    }
}

/// `X-Hub-Signature-256` for a body, with the test app secret.
pub fn sign(body: &[u8]) -> String {
    tests::fixtures::sign(b"test-app-secret", body)
}

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {body:#}"))
}

fn rand_u32() -> u32 {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// One request the fake provider received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A file the fake Cloud API holds (a customer's media) or received (an upload).
#[derive(Clone, Debug)]
pub struct FakeMedia {
    pub mime_type: String,
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
    /// What `GET /{media-id}` announces as its SHA-256 (hex of the bytes unless set).
    pub sha256: Option<String>,
}

/// A local fake of Meta's Cloud API and of a Twilio-compatible SMS API: a real HTTP server on
/// 127.0.0.1 that records every request and answers from a queue (success by default). As the
/// Cloud API does, it serves media: `GET /{media-id}` (where to download it) and
/// `GET /download/{media-id}` (the bytes, only with the bearer token), and takes uploads
/// (`POST /{phone-number-id}/media`, multipart).
#[derive(Clone)]
pub struct FakeProvider {
    pub url: String,
    requests: Arc<std::sync::Mutex<Vec<Recorded>>>,
    responses: Arc<std::sync::Mutex<std::collections::VecDeque<(u16, Value)>>>,
    /// How long each answer takes (a provider under load).
    delay: Arc<std::sync::Mutex<Duration>>,
    media: Arc<std::sync::Mutex<std::collections::HashMap<String, FakeMedia>>>,
    /// WhatsApp numbers the Cloud API knows: phone number id → (the token that sees it, WABA).
    numbers: Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
    /// SMS numbers each account owns: (account SID, E.164 number).
    sms_numbers: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    /// Media served slowly: a pause before each 64 KiB (a slow link).
    paced: Arc<std::sync::Mutex<std::collections::HashMap<String, Duration>>>,
    uploads: Arc<std::sync::Mutex<Vec<FakeMedia>>>,
    /// Bearer tokens the Cloud API accepts (besides [`FAKE_TOKEN`]).
    tokens: Arc<std::sync::Mutex<Vec<String>>>,
    /// SMS accounts (SID, auth token) the SMS API accepts (besides [`FAKE_SMS_ACCOUNT`]).
    sms_accounts: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    /// Each WABA's message templates, as `GET /{waba-id}/message_templates` lists them.
    templates: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<Value>>>>,
}

/// How many templates the fake lists per page (Meta pages with `paging.next`).
pub const TEMPLATES_PER_PAGE: usize = 2;

/// The SMS account the fake accepts by default (the tests' default sender).
pub const FAKE_SMS_ACCOUNT: (&str, &str) = ("AC123", "sms-token");

/// The bearer token the fake expects for downloads (the tests' `PARLEY_WHATSAPP_ACCESS_TOKEN`).
pub const FAKE_TOKEN: &str = "test-access-token";

impl FakeProvider {
    pub async fn start() -> Self {
        use axum::extract::{Path, State};
        use axum::http::{HeaderMap, StatusCode, Uri};
        use axum::response::IntoResponse;
        let fake = FakeProvider {
            url: String::new(),
            requests: Arc::default(),
            responses: Arc::default(),
            delay: Arc::default(),
            media: Arc::default(),
            numbers: Arc::default(),
            sms_numbers: Arc::default(),
            paced: Arc::default(),
            uploads: Arc::default(),
            tokens: Arc::new(std::sync::Mutex::new(vec![FAKE_TOKEN.to_owned()])),
            sms_accounts: Arc::new(std::sync::Mutex::new(vec![(
                FAKE_SMS_ACCOUNT.0.to_owned(),
                FAKE_SMS_ACCOUNT.1.to_owned(),
            )])),
            templates: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeProvider { url, ..fake };
        let state = fake.clone();
        let bearer_ok = |fake: &FakeProvider, headers: &HeaderMap| {
            let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
            fake.tokens.lock().unwrap().iter().any(|t| given == format!("Bearer {t}"))
        };
        let app = axum::Router::new()
            .route(
                "/{media_id}",
                axum::routing::get(move |State(fake): State<FakeProvider>, Path(id): Path<String>, headers: HeaderMap| async move {
                    fake.record("GET", &format!("/{id}"), &headers, String::new());
                    // A phone number id: shown only to the token that owns it (Meta's error 100 otherwise).
                    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    let tokens: Vec<String> =
                        fake.numbers.lock().unwrap().iter().filter(|(pnid, _, _)| *pnid == id).map(|(_, t, _)| t.clone()).collect();
                    if !tokens.is_empty() {
                        let pnid = id.clone();
                        if !tokens.iter().any(|token| given == format!("Bearer {token}")) {
                            let error = json!({ "error": { "code": 100, "message": "Unsupported get request. Object does not exist or cannot be loaded due to missing permissions" } });
                            return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
                        }
                        return axum::Json(json!({ "display_phone_number": "+1 555-010-0200", "verified_name": "Acme", "id": pnid })).into_response();
                    }
                    if !bearer_ok(&fake, &headers) {
                        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": { "code": 190 } }))).into_response();
                    }
                    let Some(media) = fake.media.lock().unwrap().get(&id).cloned() else {
                        return (StatusCode::NOT_FOUND, axum::Json(json!({ "error": { "code": 100, "message": "not found" } }))).into_response();
                    };
                    let sha = media.sha256.clone().unwrap_or_else(|| hex::encode(sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&media.bytes))));
                    axum::Json(json!({
                        "messaging_product": "whatsapp",
                        "url": format!("{}/download/{id}", fake.url),
                        "mime_type": media.mime_type,
                        "sha256": sha,
                        "file_size": media.bytes.len().to_string(),
                        "id": id,
                    }))
                    .into_response()
                }),
            )
            .route(
                "/{waba_id}/phone_numbers",
                axum::routing::get(move |State(fake): State<FakeProvider>, Path(waba): Path<String>, headers: HeaderMap, axum::extract::RawQuery(query): axum::extract::RawQuery| async move {
                    fake.record("GET", &format!("/{waba}/phone_numbers"), &headers, String::new());
                    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    // The WABA's numbers, one per page (Meta pages with `paging.next`), to the
                    // token of any number in it.
                    let listed: Vec<(String, String, String)> =
                        fake.numbers.lock().unwrap().iter().filter(|(_, _, w)| *w == waba).cloned().collect();
                    if !listed.iter().any(|(_, token, _)| given == format!("Bearer {token}")) {
                        let error = json!({ "error": { "code": 100, "message": "missing permissions" } });
                        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
                    }
                    let after: usize = query
                        .as_deref()
                        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "after").map(|(_, v)| v.into_owned()))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let data: Vec<Value> = listed.iter().skip(after).take(1).map(|(pnid, _, _)| json!({ "id": pnid, "display_phone_number": "+1 555-010-0200" })).collect();
                    let mut body = json!({ "data": data, "paging": { "cursors": { "before": after.to_string(), "after": (after + 1).to_string() } } });
                    if after + 1 < listed.len() {
                        body["paging"]["next"] = json!(format!("{}/{waba}/phone_numbers?after={}", fake.url, after + 1));
                    }
                    axum::Json(body).into_response()
                }),
            )
            .route(
                "/{waba_id}/message_templates",
                axum::routing::get(move |State(fake): State<FakeProvider>, Path(waba): Path<String>, headers: HeaderMap, axum::extract::RawQuery(query): axum::extract::RawQuery| async move {
                    fake.record("GET", &format!("/{waba}/message_templates"), &headers, query.clone().unwrap_or_default());
                    if let Err(refusal) = fake.check_waba_token(&waba, &headers) {
                        return refusal.into_response();
                    }
                    let param = |name: &str| {
                        query.as_deref().and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned()))
                    };
                    let after: usize = param("after").and_then(|v| v.parse().ok()).unwrap_or(0);
                    let limit: usize = param("limit").and_then(|v| v.parse().ok()).unwrap_or(25).min(TEMPLATES_PER_PAGE);
                    let listed = fake.templates.lock().unwrap().get(&waba).cloned().unwrap_or_default();
                    let data: Vec<Value> = listed.iter().skip(after).take(limit).cloned().collect();
                    let next_after = after + data.len();
                    let mut body = json!({ "data": data, "paging": { "cursors": { "before": after.to_string(), "after": next_after.to_string() } } });
                    if next_after < listed.len() {
                        // As Meta does: the same query (fields, limit), with the next cursor.
                        let mut next = url::Url::parse(&format!("{}/{waba}/message_templates", fake.url)).unwrap();
                        let kept: Vec<(String, String)> = query
                            .as_deref()
                            .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().filter(|(k, _)| k != "after").collect())
                            .unwrap_or_default();
                        next.query_pairs_mut().extend_pairs(kept).append_pair("after", &next_after.to_string());
                        body["paging"]["next"] = json!(next.to_string());
                    }
                    axum::Json(body).into_response()
                })
                .post(move |State(fake): State<FakeProvider>, Path(waba): Path<String>, headers: HeaderMap, body: String| async move {
                    fake.record("POST", &format!("/{waba}/message_templates"), &headers, body.clone());
                    if let Err(refusal) = fake.check_waba_token(&waba, &headers) {
                        return refusal.into_response();
                    }
                    // What Meta checks of a submitted template: its fields, a body, and an
                    // example for each of the body's parameters.
                    let invalid = |message: &str| {
                        let error = json!({ "error": { "code": 100, "message": message, "type": "OAuthException" } });
                        (StatusCode::BAD_REQUEST, axum::Json(error)).into_response()
                    };
                    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let (Some(name), Some(language), Some(category)) =
                        (request["name"].as_str(), request["language"].as_str(), request["category"].as_str())
                    else {
                        return invalid("name, language and category are required");
                    };
                    if !["MARKETING", "UTILITY", "AUTHENTICATION"].contains(&category) || name.starts_with("bad_") {
                        return invalid("Invalid parameter");
                    }
                    let components = request["components"].as_array().cloned().unwrap_or_default();
                    let Some(text) = components.iter().find(|c| c["type"] == "BODY").and_then(|c| c["text"].as_str()) else {
                        return invalid("a BODY component is required");
                    };
                    let wanted = (1..=20).filter(|n| text.contains(&format!("{{{{{n}}}}}"))).count();
                    let given = components.iter().find(|c| c["type"] == "BODY").and_then(|c| c["example"]["body_text"][0].as_array()).map_or(0, Vec::len);
                    if wanted != given {
                        return invalid("the body's parameters need example values");
                    }
                    let mut all = fake.templates.lock().unwrap();
                    let list = all.entry(waba.clone()).or_default();
                    if list.iter().any(|t| t["name"] == name && t["language"] == language) {
                        let error = json!({ "error": { "code": 100, "error_subcode": 2388024, "message": "Message template already exists" } });
                        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
                    }
                    let id = format!("{}", 900_000_000_000u64 + list.len() as u64);
                    list.push(json!({ "id": id, "name": name, "language": language, "category": category, "status": "PENDING",
                        "components": components, "quality_score": { "score": "UNKNOWN" }, "rejected_reason": "NONE" }));
                    axum::Json(json!({ "id": id, "status": "PENDING", "category": category })).into_response()
                }),
            )
            .route(
                "/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json",
                axum::routing::get(move |State(fake): State<FakeProvider>, Path(sid): Path<String>, headers: HeaderMap, axum::extract::RawQuery(query): axum::extract::RawQuery| async move {
                    fake.record("GET", &format!("/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json"), &headers, String::new());
                    if fake.check_sms_account(&format!("/Accounts/{sid}/"), &headers).is_err() {
                        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "code": 20003, "message": "Authenticate" }))).into_response();
                    }
                    let wanted = query
                        .as_deref()
                        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "PhoneNumber").map(|(_, v)| v.into_owned()));
                    let owned: Vec<Value> = fake
                        .sms_numbers
                        .lock()
                        .unwrap()
                        .iter()
                        .filter(|(account, phone)| *account == sid && wanted.as_ref().is_none_or(|w| w == phone))
                        .map(|(_, phone)| json!({ "phone_number": phone, "sid": "PN0123456789abcdef0123456789abcdef" }))
                        .collect();
                    axum::Json(json!({ "incoming_phone_numbers": owned, "page": 0, "page_size": 50 })).into_response()
                }),
            )
            .route(
                "/download/{media_id}",
                axum::routing::get(move |State(fake): State<FakeProvider>, Path(id): Path<String>, headers: HeaderMap| async move {
                    fake.record("GET", &format!("/download/{id}"), &headers, String::new());
                    if !bearer_ok(&fake, &headers) {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    let pause = fake.paced.lock().unwrap().get(&id).copied();
                    match (fake.media.lock().unwrap().get(&id).cloned(), pause) {
                        (Some(media), Some(pause)) => {
                            let chunks: Vec<Vec<u8>> = media.bytes.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
                            let stream = futures::StreamExt::then(futures::stream::iter(chunks), move |chunk| async move {
                                tokio::time::sleep(pause).await;
                                Ok::<_, std::io::Error>(chunk)
                            });
                            ([("content-type", media.mime_type)], axum::body::Body::from_stream(stream)).into_response()
                        }
                        (Some(media), None) => ([("content-type", media.mime_type)], media.bytes).into_response(),
                        (None, _) => StatusCode::NOT_FOUND.into_response(),
                    }
                }),
            )
            .route(
                "/{phone_number_id}/media",
                axum::routing::post(move |State(fake): State<FakeProvider>, Path(pnid): Path<String>, headers: HeaderMap, mut form: axum::extract::Multipart| async move {
                    let mut upload = FakeMedia { mime_type: String::new(), file_name: None, bytes: Vec::new(), sha256: None };
                    let mut product = String::new();
                    while let Some(field) = form.next_field().await.unwrap() {
                        match field.name() {
                            Some("file") => {
                                upload.file_name = field.file_name().map(str::to_owned);
                                upload.mime_type = field.content_type().unwrap_or_default().to_owned();
                                upload.bytes = field.bytes().await.unwrap().to_vec();
                            }
                            Some("messaging_product") => product = field.text().await.unwrap(),
                            _ => {}
                        }
                    }
                    fake.record("POST", &format!("/{pnid}/media"), &headers, format!("messaging_product={product}"));
                    if !bearer_ok(&fake, &headers) || product != "whatsapp" || upload.bytes.is_empty() {
                        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": { "code": 100 } }))).into_response();
                    }
                    let n = {
                        let mut uploads = fake.uploads.lock().unwrap();
                        uploads.push(upload);
                        uploads.len()
                    };
                    axum::Json(json!({ "id": format!("UPLOADED{n}") })).into_response()
                }),
            )
            .fallback(
                move |State(fake): State<FakeProvider>, method: axum::http::Method, uri: Uri, headers: HeaderMap, body: String| async move {
                    let n = fake.record(method.as_str(), uri.path(), &headers, body.clone());
                    let delay = *fake.delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    // What the real APIs check: the Cloud API its bearer token, the SMS API its
                    // basic auth (account SID and auth token, the SID also in the path) and form.
                    let path = uri.path();
                    let cloud = path.ends_with("/messages") || path.ends_with("/username") || path.ends_with("/username_suggestions");
                    if cloud && !bearer_ok(&fake, &headers) {
                        let error = json!({ "error": { "code": 190, "message": "Invalid OAuth access token" } });
                        return (StatusCode::UNAUTHORIZED, axum::Json(error));
                    }
                    if path.ends_with("/Messages.json")
                        && let Err(refusal) = fake.check_sms(path, &headers, &body)
                    {
                        return (StatusCode::from_u16(refusal.0).unwrap(), axum::Json(refusal.1));
                    }
                    let queued = fake.responses.lock().unwrap().pop_front();
                    let (status, reply) = queued.unwrap_or_else(|| {
                        if uri.path().ends_with("/Messages.json") {
                            (201, json!({ "sid": format!("SM{n:032}") }))
                        } else {
                            (200, json!({ "messaging_product": "whatsapp", "messages": [{ "id": format!("wamid.FAKE{n}") }] }))
                        }
                    });
                    (StatusCode::from_u16(status).unwrap(), axum::Json(reply))
                },
            );
        tokio::spawn(async move { axum::serve(listener, app.with_state(state)).await });
        fake
    }

    fn record(&self, method: &str, path: &str, headers: &axum::http::HeaderMap, body: String) -> usize {
        let mut requests = self.requests.lock().unwrap();
        requests.push(Recorded {
            method: method.to_owned(),
            path: path.to_owned(),
            authorization: headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned),
            body,
            at: std::time::Instant::now(),
        });
        requests.len()
    }

    /// Also accepts this bearer token (a business number's own).
    pub fn accept_token(&self, token: &str) {
        self.tokens.lock().unwrap().push(token.to_owned());
    }

    /// Also accepts this SMS account.
    pub fn accept_sms_account(&self, sid: &str, token: &str) {
        self.sms_accounts.lock().unwrap().push((sid.to_owned(), token.to_owned()));
    }

    /// Twilio's checks of a create-message call: basic auth of a known account whose SID the
    /// path names, and a form with `To`, `From` and `Body`.
    fn check_sms(&self, path: &str, headers: &axum::http::HeaderMap, body: &str) -> Result<(), (u16, Value)> {
        self.check_sms_account(path, headers)?;
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        let has = |name: &str| form.iter().any(|(k, v)| k == name && !v.is_empty());
        if !(has("To") && has("From") && has("Body")) {
            return Err((400, json!({ "code": 21604, "message": "A 'To', 'From' and 'Body' are required" })));
        }
        Ok(())
    }

    /// Twilio's basic auth: a known account whose SID the path names.
    fn check_sms_account(&self, path: &str, headers: &axum::http::HeaderMap) -> Result<(), (u16, Value)> {
        use base64::Engine;
        let basic = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let account = basic.as_deref().and_then(|b| b.split_once(':'));
        let known = account.is_some_and(|(sid, token)| {
            path.contains(&format!("/Accounts/{sid}/"))
                && self.sms_accounts.lock().unwrap().iter().any(|(s, t)| s == sid && t == token)
        });
        if !known {
            return Err((401, json!({ "code": 20003, "message": "Authenticate" })));
        }
        Ok(())
    }

    /// The Cloud API shows `phone_number_id`, in `waba_id`, to `token` (and takes the token).
    pub fn own_number(&self, token: &str, phone_number_id: &str, waba_id: &str) {
        self.accept_token(token);
        self.numbers.lock().unwrap().push((phone_number_id.to_owned(), token.to_owned(), waba_id.to_owned()));
    }

    /// The Cloud API's check of a WABA call: a token it accepts and, when it knows numbers of
    /// that WABA, the token of one of them.
    fn check_waba_token(
        &self,
        waba: &str,
        headers: &axum::http::HeaderMap,
    ) -> Result<(), (axum::http::StatusCode, axum::Json<Value>)> {
        let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let accepted = self.tokens.lock().unwrap().iter().any(|t| given == format!("Bearer {t}"));
        let owners: Vec<String> = self
            .numbers
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, w)| w == waba)
            .map(|(_, t, _)| t.clone())
            .collect();
        if !accepted {
            let error = json!({ "error": { "code": 190, "message": "Invalid OAuth access token" } });
            return Err((axum::http::StatusCode::UNAUTHORIZED, axum::Json(error)));
        }
        if !owners.is_empty() && !owners.iter().any(|t| given == format!("Bearer {t}")) {
            let error = json!({ "error": { "code": 200, "message": "Permissions error" } });
            return Err((axum::http::StatusCode::FORBIDDEN, axum::Json(error)));
        }
        Ok(())
    }

    /// The WABA's templates, as Meta would list them (`id`, `name`, `language`, `status`,
    /// `category`, `quality_score`, `components`…).
    pub fn host_templates(&self, waba: &str, templates: Vec<Value>) {
        self.templates.lock().unwrap().insert(waba.to_owned(), templates);
    }

    /// The WABA's templates as the fake holds them now (submissions included).
    pub fn hosted_templates(&self, waba: &str) -> Vec<Value> {
        self.templates.lock().unwrap().get(waba).cloned().unwrap_or_default()
    }

    /// The SMS account `sid` owns `phone`.
    pub fn own_sms_number(&self, sid: &str, phone: &str) {
        self.sms_numbers.lock().unwrap().push((sid.to_owned(), phone.to_owned()));
    }

    /// The forms posted to the SMS API, in order.
    pub fn sent_sms(&self) -> Vec<Vec<(String, String)>> {
        self.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/Messages.json"))
            .map(|r| url::form_urlencoded::parse(r.body.as_bytes()).into_owned().collect())
            .collect()
    }

    /// Makes every later answer take `delay`.
    pub fn slow_down(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// Queues the next answers (status, JSON body).
    pub fn answer(&self, replies: &[(u16, Value)]) {
        self.responses.lock().unwrap().extend(replies.iter().cloned());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Holds a customer's file under a media id, as the Cloud API would.
    pub fn host_media(&self, media_id: &str, media: FakeMedia) {
        self.media.lock().unwrap().insert(media_id.to_owned(), media);
    }

    /// Serves a held file slowly: `pause` before each 64 KiB.
    pub fn pace_media(&self, media_id: &str, pause: Duration) {
        self.paced.lock().unwrap().insert(media_id.to_owned(), pause);
    }

    /// The files uploaded to it, in order.
    pub fn uploads(&self) -> Vec<FakeMedia> {
        self.uploads.lock().unwrap().clone()
    }

    /// The JSON bodies posted to `/{phone-number-id}/messages`, in order.
    pub fn sent_messages(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
            .map(Recorded::json)
            .collect()
    }
}

/// The database handle of another process racing `app`: a second server on PostgreSQL (how
/// Parley scales out), `app`'s own on SQLite (a SQLite file has one process; its races are
/// inside it).
pub async fn other_process_db(app: &TestApp, configure: impl FnOnce(&mut Config)) -> persistence::Database {
    match app.backend {
        Backend::Postgres => spawn_peer(app, configure).await.db.clone(),
        Backend::Sqlite => app.db.clone(),
    }
}

/// A second server process on the same database as `app` (PostgreSQL: how Parley scales out).
pub async fn spawn_peer(app: &TestApp, configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::new(&app.database_url, JWT_SECRET).expect("config");
    config.secrets = app.keyring.clone();
    config.media.store = app.blobs.url().to_owned();
    config.pool.max_connections = 5;
    config.whatsapp.app_secret = Some("test-app-secret".to_owned().into());
    configure(&mut config);
    let peer = Application::build(config).await.expect("build peer");
    let address = format!("http://127.0.0.1:{}", peer.port());
    let db = peer.db().clone();
    let auth = peer.authenticator();
    tokio::spawn(peer.run_until(std::future::pending()));
    TestApp {
        address,
        db,
        backend: app.backend,
        client: app.client.clone(),
        auth,
        database_url: app.database_url.clone(),
        keyring: app.keyring.clone(),
        blobs: app.blobs.clone(),
    }
}

/// The value of column `v` of the one row `sql` returns.
pub async fn value<T: sea_orm::TryGetable>(db: &impl sea_orm::ConnectionTrait, sql: &str) -> T {
    let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
    let row = db.query_one_raw(statement).await.unwrap().expect("one row");
    row.try_get::<T>("", "v").unwrap()
}

/// Runs `work` in a transaction that is rolled back, and returns its result with how much the
/// `pg_stat_xact_user_tables` expression `counter` of `table` grew during it (PostgreSQL). The
/// counts of a connection's earlier transactions can still be pending in the view (they are
/// published at most once a second), so the growth, not the value, is this work's own.
pub async fn xact_growth<R>(
    conn: &sea_orm::DatabaseConnection,
    counter: &str,
    table: &str,
    work: impl AsyncFnOnce(&sea_orm::DatabaseTransaction) -> R,
) -> (R, i64) {
    use sea_orm::TransactionTrait;
    let read =
        format!("SELECT ({counter})::bigint AS v FROM pg_stat_xact_user_tables WHERE relname = '{table}'");
    let txn = conn.begin().await.unwrap();
    let before: i64 = value(&txn, &read).await;
    let result = work(&txn).await;
    let growth = value::<i64>(&txn, &read).await - before;
    txn.rollback().await.unwrap();
    (result, growth)
}
