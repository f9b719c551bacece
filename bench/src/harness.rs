//! What every scenario uses: a fresh database, the server as a child process, a load driver
//! with latency histograms, GraphQL calls, and the printed table.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use sea_orm::ConnectionTrait;
use serde_json::json;
use tests::fixtures::Inbound;

pub(crate) const SECRET: &str = "bench-secret-bench-secret-bench-secret-00";

/// The bench business number's Meta ids.
pub(crate) const PHONE_NUMBER_ID: &str = "106540352242922";
pub(crate) const WABA_ID: &str = "102290129340398";
pub(crate) const APP_SECRET: &str = "bench-app-secret";

/// The secret key of every bench server (several processes share one database and its sealed
/// secrets).
pub(crate) const SECRET_KEY: &str = "YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktMDE=";

/// How the server child is started beyond its database: a Cloud API to fetch media from, and
/// where to keep media.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerOptions {
    pub(crate) whatsapp_api_base: Option<String>,
    pub(crate) media_store: Option<String>,
}

/// The bearer token of the bench's fake Cloud API.
pub(crate) const ACCESS_TOKEN: &str = "bench-access-token";

pub(crate) async fn server(database_url: &str, listen: &str, options: ServerOptions) -> anyhow::Result<()> {
    let mut config = api::Config::new(database_url, SECRET)?;
    config.secrets = persistence::sealed::Keyring::from_config(&SECRET_KEY.to_owned().into(), None)?;
    config.media.store = options.media_store.context("the bench's server needs --media-store")?;
    if let Some(base) = options.whatsapp_api_base {
        config.whatsapp.api_base = base;
        config.whatsapp.access_token = Some(ACCESS_TOKEN.to_owned().into());
    }
    config.listen = listen.parse()?;
    config.pool.max_connections = 32;
    config.whatsapp.app_secret = Some(APP_SECRET.to_owned().into());
    // The benchmark's CRM receiver listens on loopback.
    config.dispatch.allow_private_targets = true;
    api::Application::build(config).await?.run_until_stopped().await
}

/// A database made for one run: its URL, and what [`Scratch::remove`] removes afterwards.
pub(crate) struct Scratch {
    pub(crate) url: String,
    pub(crate) backend: &'static str,
    made: Made,
}

/// What a run made, and so removes.
enum Made {
    /// The caller's own SQLite file: kept.
    Nothing,
    /// A SQLite file of its own, with its journal files.
    SqliteFile(PathBuf),
    /// A PostgreSQL database beside the one named, made through `admin`.
    Postgres { admin: String, name: String },
}

impl Scratch {
    /// Removes the database the run made (the server that used it must have stopped).
    pub(crate) async fn remove(self) -> anyhow::Result<()> {
        match self.made {
            Made::Nothing => {}
            Made::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    match std::fs::remove_file(&file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                        _ => {}
                    }
                }
            }
            Made::Postgres { admin, name } => {
                let admin =
                    sea_orm::Database::connect(admin.as_str()).await.context("connect to --database-url")?;
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
                admin.close().await?;
            }
        }
        Ok(())
    }
}

/// A fresh database for one run.
pub(crate) async fn fresh_database(url: Option<String>) -> anyhow::Result<Scratch> {
    match url {
        None => {
            let path =
                std::env::temp_dir().join(format!("parley-bench-{}.db", uuid::Uuid::new_v4().simple()));
            let url = format!("sqlite://{}?mode=rwc", path.display());
            Ok(Scratch { url, backend: "SQLite", made: Made::SqliteFile(path) })
        }
        Some(url) if url.starts_with("sqlite:") => {
            Ok(Scratch { url, backend: "SQLite", made: Made::Nothing })
        }
        Some(base) => {
            let name = format!("parley_bench_{}", uuid::Uuid::new_v4().simple());
            let admin =
                sea_orm::Database::connect(base.as_str()).await.context("connect to --database-url")?;
            admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
            admin.close().await?;
            let server = base
                .split('?')
                .next()
                .unwrap_or(&base)
                .rsplit_once('/')
                .map_or(base.as_str(), |(s, _)| s)
                .to_owned();
            // Connection parameters (`?sslmode=disable`…) carry over to the new database.
            let params = base.split_once('?').map_or(String::new(), |(_, q)| format!("?{q}"));
            let url = format!("{server}/{name}{params}");
            Ok(Scratch { url, backend: "PostgreSQL", made: Made::Postgres { admin: base, name } })
        }
    }
}

pub(crate) struct Run {
    pub(crate) requests: usize,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Histogram<u64>,
}

impl Run {
    pub(crate) fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    pub(crate) fn ms(&self, q: f64) -> f64 {
        self.latencies.value_at_quantile(q) as f64 / 1000.0
    }
}

pub(crate) fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

/// Runs `total` operations over `concurrency` tasks; `op(i)` performs operation `i`.
pub(crate) async fn drive<F, Fut>(total: usize, concurrency: usize, op: F) -> anyhow::Result<Run>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let op = Arc::clone(&op);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut h = histogram()?;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                op(i).await?;
                h.record(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX))?;
            }
            anyhow::Ok(h)
        }));
    }
    let mut latencies = histogram()?;
    for task in tasks {
        latencies.add(task.await??)?;
    }
    Ok(Run { requests: total, elapsed: started.elapsed(), latencies })
}

/// Meta's signature of a webhook body under the bench's app secret.
fn sign(body: &[u8]) -> String {
    tests::fixtures::sign(APP_SECRET.as_bytes(), body)
}

/// Posts one customer message as a signed webhook to `url` (`…/webhooks/whatsapp`).
///
/// # Errors
/// When the request fails or the server does not answer 2xx.
pub(crate) async fn post_webhook(
    client: &reqwest::Client,
    url: &str,
    inbound: &Inbound,
) -> anyhow::Result<()> {
    let body = serde_json::to_vec(&webhook(inbound))?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(&body))
        .body(body)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("webhook answered {}", response.status());
    }
    Ok(())
}

/// The baseline of the GraphQL scenarios: `{ __typename }` on the same server at the same
/// concurrency (parsing, auth, routing, no data).
///
/// # Errors
/// When a request fails.
pub(crate) async fn typename_baseline(env: &Env, requests: usize, concurrency: usize) -> anyhow::Result<Run> {
    let url = format!("{}/graphql", env.base);
    let (client, token) = (env.client.clone(), env.token.clone());
    drive(requests, concurrency, move |_| {
        let (client, token, url) = (client.clone(), token.clone(), url.clone());
        async move { graphql(&client, &url, &token, &json!({ "query": "{ __typename }" })).await.map(|_| ()) }
    })
    .await
}

/// The signed-webhook envelope of one customer message to the bench's business number.
fn webhook(inbound: &Inbound) -> serde_json::Value {
    tests::fixtures::webhook(WABA_ID, "messages", inbound.value(PHONE_NUMBER_ID))
}

pub(crate) fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// A seeded database with a server running on it.
pub(crate) struct Env {
    pub(crate) database: Scratch,
    pub(crate) admin: domain::AgentId,
    pub(crate) workspace: domain::WorkspaceId,
    pub(crate) number: domain::BusinessNumberId,
    pub(crate) db: persistence::Database,
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) child: tokio::process::Child,
    pub(crate) pid: u32,
    pub(crate) token: String,
    /// The server's media directory when the run keeps media in files (removed on drop).
    media: Option<tempfile::TempDir>,
}

impl Env {
    /// Stops the server and removes what the run made: its media files and its database.
    pub(crate) async fn finish(mut self) -> anyhow::Result<()> {
        self.child.kill().await.ok();
        drop(self.media);
        self.database.remove().await
    }
}

pub(crate) async fn start(database_url: Option<String>, concurrency: usize) -> anyhow::Result<Env> {
    start_with(database_url, concurrency, &ServerOptions::default()).await
}

/// [`start`] with a server started with `options`.
pub(crate) async fn start_with(
    database_url: Option<String>,
    concurrency: usize,
    options: &ServerOptions,
) -> anyhow::Result<Env> {
    let database = fresh_database(database_url).await?;
    let url = database.url.clone();
    let mut config = api::Config::new(&url, SECRET)?;
    config.pool.max_connections = u32::try_from(concurrency).unwrap_or(32);
    // The bench's own pool seeds in bulk and is not measured: on 2 loaded cores one 1,000-row
    // INSERT can exceed the server's 15 s statement limit (seen before and after the same
    // change), so seeding waits longer. The server under test keeps its defaults.
    config.pool.statement_timeout = Duration::from_secs(600);
    let db = api::startup::connect_and_migrate(&url, &config.pool).await?;
    let input = api::setup::workspaces::BootstrapInput {
        workspace_name: "Bench".into(),
        admin_email: "bench@example.com".into(),
        admin_name: "Bench".into(),
        business_number: Some(api::setup::workspaces::BusinessNumberInput {
            phone_number_id: PHONE_NUMBER_ID.into(),
            display_phone_number: "15550783881".into(),
            waba_id: WABA_ID.into(),
            portfolio_id: "506914307656634".into(),
            business_name: None,
        }),
    };
    let created = api::setup::workspaces::bootstrap(&db, &input, chrono::Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("bootstrap: {}", e.message()))?;
    let auth = api::auth::Authenticator::new(&config.jwt)?;
    let token =
        auth.issue(created.admin_id, created.workspace_id, Duration::from_secs(3600), chrono::Utc::now())?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let Peer { child, base, pid, media } = peer_with(&url, &client, options).await?;
    let workspace = created.workspace_id;
    let number = created.business_number_id.context("no business number")?;
    let admin = created.admin_id;
    Ok(Env { database, admin, workspace, number, db, base, client, child, pid, token, media })
}

pub(crate) async fn graphql(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let reply: serde_json::Value =
        client.post(url).bearer_auth(token).json(body).send().await?.json().await?;
    if reply.get("errors").is_some() {
        bail!("GraphQL error: {reply}");
    }
    Ok(reply)
}

/// One measured run against its same-run baseline, as printed and as one JSON line.
pub(crate) struct Comparison<'a> {
    pub scenario: &'a str,
    pub backend: &'a str,
    pub title: String,
    pub requests: usize,
    pub concurrency: usize,
    pub run: (&'a str, &'a Run),
    pub baseline: (&'a str, &'a Run),
    pub rss: f64,
}

impl Comparison<'_> {
    /// Prints the table and the JSON line (with `extra` fields merged in).
    pub(crate) fn print(&self, extra: serde_json::Value) {
        let (run, baseline) = (self.run.1, self.baseline.1);
        let ratio = run.throughput() / baseline.throughput();
        let mut line = serde_json::json!({
            "scenario": self.scenario, "backend": self.backend, "requests": self.requests,
            "concurrency": self.concurrency,
            "throughput": run.throughput(), "p50_ms": run.ms(0.5), "p99_ms": run.ms(0.99), "p999_ms": run.ms(0.999),
            "baseline_throughput": baseline.throughput(), "baseline_p50_ms": baseline.ms(0.5),
            "baseline_p99_ms": baseline.ms(0.99), "ratio": ratio, "server_peak_rss_mb": self.rss,
        });
        if let (Some(line), serde_json::Value::Object(extra)) = (line.as_object_mut(), extra) {
            line.extend(extra);
        }
        print_table(&self.title, &[self.run, self.baseline], ratio, self.rss, line);
    }
}

pub(crate) fn print_table(
    title: &str,
    rows: &[(&str, &Run)],
    ratio: f64,
    rss: f64,
    json_line: serde_json::Value,
) {
    println!("{title}");
    println!("{:<28} {:>10} {:>9} {:>9} {:>9}", "", "per sec", "p50 ms", "p99 ms", "p99.9 ms");
    for (name, r) in rows {
        println!(
            "{:<28} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
            name,
            r.throughput(),
            r.ms(0.5),
            r.ms(0.99),
            r.ms(0.999)
        );
    }
    // No server process (an in-process scenario): no RSS to report.
    if rss > 0.0 {
        println!("ratio to baseline: {ratio:.2}   server peak RSS: {rss:.0} MB");
    } else {
        println!("ratio to baseline: {ratio:.2}");
    }
    println!("{json_line}");
}

/// A server process (this binary in server mode): the child, its base URL and pid, and the
/// media directory made for it (removed when dropped, after the child is stopped).
pub(crate) struct Peer {
    pub(crate) child: tokio::process::Child,
    pub(crate) base: String,
    pub(crate) pid: u32,
    pub(crate) media: Option<tempfile::TempDir>,
}

/// Starts a server process on `url`; returns it once it is ready.
pub(crate) async fn peer(url: &str, client: &reqwest::Client) -> anyhow::Result<Peer> {
    peer_with(url, client, &ServerOptions::default()).await
}

/// [`peer`] with media options; without a media store the server keeps media in a temporary
/// directory of its own.
pub(crate) async fn peer_with(
    url: &str,
    client: &reqwest::Client,
    options: &ServerOptions,
) -> anyhow::Result<Peer> {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command.args(["server", "--database-url", url, "--listen", &format!("127.0.0.1:{port}")]);
    if let Some(base) = &options.whatsapp_api_base {
        command.args(["--whatsapp-api-base", base]);
    }
    let media = match &options.media_store {
        Some(store) => {
            command.args(["--media-store", store]);
            None
        }
        None => {
            let dir = tempfile::Builder::new().prefix("parley-bench-media-").tempdir()?;
            command.args(["--media-store", &format!("file://{}", dir.path().display())]);
            Some(dir)
        }
    };
    let child = command.env("RUST_LOG", "warn").stdout(Stdio::null()).kill_on_drop(true).spawn()?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(Peer { child, base, pid, media });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not become ready")
}

pub(crate) fn now_micros() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0)
}
