//! `parley-bench`: measures Parley over real HTTP against a baseline taken in the same run on
//! the same database, and prints a table and one JSON line.
//!
//! ```text
//! cargo run --release -p bench -- ingest [--database-url URL] [--requests N] [--concurrency C]
//! ```
//!
//! Without `--database-url` a fresh SQLite file is used; with a PostgreSQL URL a fresh
//! database is created beside the one named (which is only used to create it). The server
//! runs as a child process (this binary in server mode) so its peak RSS is its own.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use hmac::Mac;
use sea_orm::ConnectionTrait;
use serde_json::json;

const SECRET: &str = "bench-secret-bench-secret-bench-secret-00";
const APP_SECRET: &str = "bench-app-secret";

#[derive(Parser)]
#[command(name = "parley-bench", about = "Load scenarios for Parley")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Signed single-message WhatsApp webhooks (new and existing threads, 30% without phone)
    /// versus single-row INSERT commits through the same driver at the same concurrency.
    Ingest {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// `sendMessage` through the sandbox gateway (stored, then delivered by the worker) versus
    /// a trivial GraphQL query (`{ __typename }`) on the same server at the same concurrency.
    Send {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// `@username` prefix and name substring searches of the inbox over N seeded conversations
    /// versus `{ __typename }` on the same server.
    Search {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 1_000_000)]
        conversations: usize,
        #[arg(long, default_value_t = 4_000)]
        requests: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Latency from a signed webhook posted to server A to (a) GraphQL subscribers on server B
    /// and (b) a CRM receiver, on PostgreSQL with two server processes.
    Events {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 1_000)]
        subscriptions: usize,
        #[arg(long, default_value_t = 300)]
        webhooks: usize,
    },
    /// The agent's first inbox page (50 conversations with display name, customer,
    /// capabilities, contact and last message) over N seeded conversations with 10 messages
    /// each, versus `{ __typename }` on the same server.
    Inbox {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 100_000)]
        conversations: usize,
        #[arg(long, default_value_t = 5_000)]
        requests: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Internal: run the server (the child process of a scenario).
    #[command(hide = true)]
    Server {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        listen: String,
    },
}

/// The same allocator as the `parley` binary (the `server` subcommand runs Parley in-process).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Server { database_url, listen } => server(&database_url, &listen).await,
        Scenario::Ingest { database_url, requests, concurrency } => {
            ingest(database_url, requests, concurrency).await
        }
        Scenario::Send { database_url, requests, concurrency } => {
            send(database_url, requests, concurrency).await
        }
        Scenario::Inbox { database_url, conversations, requests, concurrency } => {
            inbox(database_url, conversations, requests, concurrency).await
        }
        Scenario::Events { database_url, subscriptions, webhooks } => {
            events(&database_url, subscriptions, webhooks).await
        }
        Scenario::Search { database_url, conversations, requests, concurrency } => {
            search(database_url, conversations, requests, concurrency).await
        }
    }
}

async fn server(database_url: &str, listen: &str) -> anyhow::Result<()> {
    let mut config = api::Config::new(database_url, SECRET)?;
    config.listen = listen.parse()?;
    config.pool.max_connections = 32;
    config.whatsapp.app_secret = Some(APP_SECRET.to_owned().into());
    // The benchmark's CRM receiver listens on loopback.
    config.dispatch.allow_private_targets = true;
    api::Application::build(config).await?.run_until_stopped().await
}

/// A fresh database for one run.
async fn fresh_database(url: Option<String>) -> anyhow::Result<(String, &'static str)> {
    match url {
        None => {
            let path =
                std::env::temp_dir().join(format!("parley-bench-{}.db", uuid::Uuid::new_v4().simple()));
            Ok((format!("sqlite://{}?mode=rwc", path.display()), "SQLite"))
        }
        Some(url) if url.starts_with("sqlite:") => Ok((url, "SQLite")),
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
            Ok((format!("{server}/{name}{params}"), "PostgreSQL"))
        }
    }
}

struct Run {
    requests: usize,
    elapsed: Duration,
    latencies: Histogram<u64>,
}

impl Run {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn ms(&self, q: f64) -> f64 {
        self.latencies.value_at_quantile(q) as f64 / 1000.0
    }
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

/// Runs `total` operations over `concurrency` tasks; `op(i)` performs operation `i`.
async fn drive<F, Fut>(total: usize, concurrency: usize, op: F) -> anyhow::Result<Run>
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

fn sign(body: &[u8]) -> anyhow::Result<String> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes())?;
    mac.update(body);
    Ok(format!("sha256={}", hex::encode(mac.finalize().into_bytes())))
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn ingest(database_url: Option<String>, requests: usize, concurrency: usize) -> anyhow::Result<()> {
    let mut env = start(database_url, concurrency).await?;
    let (db, backend, client, pid) = (env.db.clone(), env.backend, env.client.clone(), env.pid);
    let base = env.base.clone();

    // Baseline: durable single-row INSERT commits through the same driver and pool size.
    db.conn()
        .execute_unprepared("CREATE TABLE bench_baseline (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        .await?;
    let conn = db.conn().clone();
    let baseline = drive(requests, concurrency, move |i| {
        let conn = conn.clone();
        async move {
            let sql = format!(
                "INSERT INTO bench_baseline (id, body) VALUES ('{}', 'row {i}')",
                uuid::Uuid::now_v7()
            );
            conn.execute_unprepared(&sql).await?;
            Ok(())
        }
    })
    .await?;

    // Customers: a quarter as many as messages, so most messages join an existing thread;
    // 30% of them hide their phone.
    let customers = (requests / 4).max(1);
    let started_at = chrono::Utc::now().timestamp();
    let url_webhook = format!("{base}/webhooks/whatsapp");
    let c = client.clone();
    let run = drive(requests, concurrency, move |i| {
        let client = c.clone();
        let url = url_webhook.clone();
        async move {
            let customer = (i * 7_919) % customers;
            let hidden = customer % 10 < 3;
            let bsuid = format!("US.{}", 10_000_000 + customer);
            let mut contact = json!({ "profile": { "name": format!("Customer {customer}"), "username": format!("@customer{customer}") }, "user_id": bsuid });
            let mut message = json!({
                "from_user_id": bsuid,
                "id": format!("wamid.BENCH{}", uuid::Uuid::new_v4().simple()),
                "timestamp": (started_at - 60).to_string(),
                "type": "text",
                "text": { "body": format!("message {i}") },
            });
            if !hidden {
                let phone = format!("1650{:07}", customer);
                contact["wa_id"] = json!(phone);
                message["from"] = json!(phone);
            }
            let body = serde_json::to_vec(&json!({
                "object": "whatsapp_business_account",
                "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
                    "contacts": [contact], "messages": [message],
                } }] }],
            }))?;
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", sign(&body)?)
                .body(body)
                .send()
                .await?;
            if !response.status().is_success() {
                bail!("webhook answered {}", response.status());
            }
            Ok(())
        }
    })
    .await?;
    let rss = peak_rss_mb(pid);
    env.child.kill().await.ok();

    let stored: i64 = {
        let row = db
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                db.backend(),
                "SELECT COUNT(*) AS n FROM messages",
            ))
            .await?
            .context("count")?;
        row.try_get("", "n")?
    };
    if usize::try_from(stored).unwrap_or(0) != requests {
        bail!("{stored} messages stored for {requests} acknowledged webhooks");
    }
    let ratio = run.throughput() / baseline.throughput();
    let title = format!(
        "ingest on {backend}, {requests} webhooks, {concurrency} concurrent senders, {} (every acknowledged webhook verified stored)",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let line = json!({
        "scenario": "ingest", "backend": backend, "requests": requests, "concurrency": concurrency,
        "throughput": run.throughput(), "p50_ms": run.ms(0.5), "p99_ms": run.ms(0.99), "p999_ms": run.ms(0.999),
        "baseline_throughput": baseline.throughput(), "baseline_p50_ms": baseline.ms(0.5), "baseline_p99_ms": baseline.ms(0.99),
        "ratio": ratio, "server_peak_rss_mb": rss,
    });
    print_table(
        &title,
        &[("signed webhooks", &run), ("baseline: INSERT commits", &baseline)],
        ratio,
        rss,
        line,
    );
    Ok(())
}

/// A seeded database with a server running on it.
struct Env {
    url: String,
    admin: domain::AgentId,
    backend: &'static str,
    workspace: domain::WorkspaceId,
    number: domain::BusinessNumberId,
    db: persistence::Database,
    base: String,
    client: reqwest::Client,
    child: tokio::process::Child,
    pid: u32,
    token: String,
}

async fn start(database_url: Option<String>, concurrency: usize) -> anyhow::Result<Env> {
    let (url, backend) = fresh_database(database_url).await?;
    let mut config = api::Config::new(&url, SECRET)?;
    config.pool.max_connections = u32::try_from(concurrency).unwrap_or(32);
    let db = api::startup::connect_and_migrate(&url, &config.pool).await?;
    let input = api::setup::workspaces::BootstrapInput {
        workspace_name: "Bench".into(),
        admin_email: "bench@example.com".into(),
        admin_name: "Bench".into(),
        business_number: Some(api::setup::workspaces::BusinessNumberInput {
            phone_number_id: "106540352242922".into(),
            display_phone_number: "15550783881".into(),
            waba_id: "102290129340398".into(),
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
    let (child, base, pid) = peer(&url, &client).await?;
    let workspace = created.workspace_id;
    let number = created.business_number_id.context("no business number")?;
    let admin = created.admin_id;
    Ok(Env { url, admin, backend, workspace, number, db, base, client, child, pid, token })
}

async fn graphql(
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

fn print_table(title: &str, rows: &[(&str, &Run)], ratio: f64, rss: f64, json_line: serde_json::Value) {
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
    println!("ratio to baseline: {ratio:.2}   server peak RSS: {rss:.0} MB");
    println!("{json_line}");
}

async fn send(database_url: Option<String>, requests: usize, concurrency: usize) -> anyhow::Result<()> {
    let mut env = start(database_url, concurrency).await?;
    // Open conversations through the webhook: 200 customers who wrote a minute ago.
    let now = chrono::Utc::now().timestamp();
    for c in 0..200 {
        let body = serde_json::to_vec(&json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
                "contacts": [{ "profile": { "name": format!("C{c}") }, "user_id": format!("US.{}", 5_000 + c) }],
                "messages": [{ "from_user_id": format!("US.{}", 5_000 + c), "id": format!("wamid.SEED{c}"), "timestamp": (now - 60).to_string(), "type": "text", "text": { "body": "hi" } }],
            } }] }],
        }))?;
        env.client
            .post(format!("{}/webhooks/whatsapp", env.base))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(&body)?)
            .body(body)
            .send()
            .await?
            .error_for_status()?;
    }
    let url = format!("{}/graphql", env.base);
    let list = graphql(
        &env.client,
        &url,
        &env.token,
        &json!({ "query": "{ conversations(first: 100) { nodes { id } } }" }),
    )
    .await?;
    let ids: Vec<String> = list["data"]["conversations"]["nodes"]
        .as_array()
        .context("conversations")?
        .iter()
        .filter_map(|n| n["id"].as_str().map(str::to_owned))
        .collect();
    let ids = Arc::new(ids);

    let (client, token, u) = (env.client.clone(), env.token.clone(), url.clone());
    let baseline = drive(requests, concurrency, move |_| {
        let (client, token, url) = (client.clone(), token.clone(), u.clone());
        async move { graphql(&client, &url, &token, &json!({ "query": "{ __typename }" })).await.map(|_| ()) }
    })
    .await?;
    let (client, token, u) = (env.client.clone(), env.token.clone(), url.clone());
    let started = Instant::now();
    let run = drive(requests, concurrency, move |i| {
        let (client, token, url, ids) = (client.clone(), token.clone(), u.clone(), Arc::clone(&ids));
        async move {
            let body = json!({
                "query": "mutation($c: ID!, $t: String!) { sendMessage(conversationId: $c, text: $t) { id } }",
                "variables": { "c": ids[i % ids.len()], "t": format!("reply {i}") },
            });
            graphql(&client, &url, &token, &body).await.map(|_| ())
        }
    })
    .await?;
    // Wait until the worker has delivered every message (sandbox gateway).
    let mut delivered_after = None;
    for _ in 0..6_000 {
        let row = env
            .db
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                env.db.backend(),
                "SELECT COUNT(*) AS n FROM messages WHERE direction = 'OUTBOUND' AND status = 'SENT'",
            ))
            .await?
            .context("count")?;
        let sent: i64 = row.try_get("", "n")?;
        if usize::try_from(sent).unwrap_or(0) >= requests {
            delivered_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss = peak_rss_mb(env.pid);
    env.child.kill().await.ok();
    let delivered = delivered_after.context("not every message was delivered within 5 minutes")?;
    let ratio = run.throughput() / baseline.throughput();
    let title = format!(
        "send on {}, {requests} sendMessage calls, {concurrency} concurrent agents, {}; all delivered (sandbox) after {:.1} s",
        env.backend,
        chrono::Utc::now().format("%Y-%m-%d"),
        delivered.as_secs_f64()
    );
    let line = json!({
        "scenario": "send", "backend": env.backend, "requests": requests, "concurrency": concurrency,
        "throughput": run.throughput(), "p50_ms": run.ms(0.5), "p99_ms": run.ms(0.99), "p999_ms": run.ms(0.999),
        "baseline_throughput": baseline.throughput(), "baseline_p50_ms": baseline.ms(0.5), "baseline_p99_ms": baseline.ms(0.99),
        "ratio": ratio, "server_peak_rss_mb": rss, "all_delivered_after_s": delivered.as_secs_f64(),
    });
    print_table(&title, &[("sendMessage", &run), ("baseline: { __typename }", &baseline)], ratio, rss, line);
    Ok(())
}

const FIRST: &[&str] =
    &["Ana", "Carlos", "Élodie", "Wei", "Fatima", "João", "Priya", "Sven", "Amara", "Noah", "Mei", "Lucía"];
const LAST: &[&str] =
    &["García", "Nguyen", "Dupont", "Okafor", "Schmidt", "Silva", "Kumar", "Johansson", "Haddad", "Smith"];

/// Bulk-inserts `n` conversations (30% username-only) with realistic identities.
async fn seed_conversations(env: &Env, n: usize) -> anyhow::Result<()> {
    use domain::threading::ThreadKey;
    use persistence::conversations::{self, CustomerFacts, NewConversation};
    let now = chrono::Utc::now();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let hidden = i % 10 < 3;
        let name = format!("{} {} {i}", FIRST[i % FIRST.len()], LAST[(i / FIRST.len()) % LAST.len()]);
        let username =
            format!("{}_{}{}", FIRST[i % FIRST.len()].to_lowercase(), i, if i % 2 == 0 { ".mx" } else { "" });
        let bsuid = domain::Bsuid::parse(&format!("US.{}", 100_000_000 + i))?;
        let phone = (!hidden).then(|| domain::PhoneNumber::parse(&format!("+1650{:07}", i))).transpose()?;
        let at = now - chrono::Duration::seconds(i64::try_from(i).unwrap_or(0));
        let key = match &phone {
            Some(p) => ThreadKey::Phone(p.clone()),
            None => ThreadKey::Bsuid(bsuid.clone()),
        };
        batch.push(NewConversation {
            workspace_id: env.workspace,
            business_number_id: env.number,
            channel: domain::Channel::Whatsapp,
            key,
            customer: CustomerFacts {
                phone,
                bsuid: Some(bsuid),
                parent_bsuid: None,
                username: Some(domain::Username::parse(&format!("@{username}"))?),
                profile_name: Some(name),
            },
            origin: domain::ThreadOrigin::FirstContact,
            previous: None,
            last_inbound_at: Some(at),
            last_activity_at: at,
        });
        if batch.len() == 1000 || i + 1 == n {
            conversations::insert_many(env.db.conn(), std::mem::take(&mut batch)).await?;
        }
    }
    if env.backend == "PostgreSQL" {
        env.db.conn().execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

async fn search(
    database_url: Option<String>,
    conversations: usize,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let mut env = start(database_url, concurrency).await?;
    let seeded = Instant::now();
    seed_conversations(&env, conversations).await?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let url = format!("{}/graphql", env.base);
    let query = "query($s: String) { conversations(first: 20, filter: { search: $s }) { nodes { id displayName customer { username } } } }";
    let mut rows = Vec::new();
    let (client, token, u) = (env.client.clone(), env.token.clone(), url.clone());
    let baseline = drive(requests, concurrency, move |_| {
        let (client, token, url) = (client.clone(), token.clone(), u.clone());
        async move { graphql(&client, &url, &token, &json!({ "query": "{ __typename }" })).await.map(|_| ()) }
    })
    .await?;
    for (label, make) in [
        (
            "@username prefix",
            (|i: usize| format!("@{}_{}", FIRST[i % FIRST.len()].to_lowercase(), (i * 37) % 10_000))
                as fn(usize) -> String,
        ),
        ("name substring", |i: usize| {
            format!("{} {}", LAST[i % LAST.len()].to_lowercase(), (i * 53) % 1_000)
        }),
    ] {
        let (client, token, u) = (env.client.clone(), env.token.clone(), url.clone());
        let run = drive(requests, concurrency, move |i| {
            let (client, token, url) = (client.clone(), token.clone(), u.clone());
            let text = make(i);
            async move {
                graphql(&client, &url, &token, &json!({ "query": query, "variables": { "s": text } }))
                    .await
                    .map(|_| ())
            }
        })
        .await?;
        rows.push((label, run));
    }
    let rss = peak_rss_mb(env.pid);
    env.child.kill().await.ok();
    let title = format!(
        "search on {}, {conversations} conversations (seeded in {seed_secs:.1} s), {requests} searches per kind, {concurrency} concurrent clients, {}",
        env.backend,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let worst = rows.iter().map(|(_, r)| r.throughput()).fold(f64::INFINITY, f64::min);
    let ratio = worst / baseline.throughput();
    let line = json!({
        "scenario": "search", "backend": env.backend, "conversations": conversations, "requests": requests, "concurrency": concurrency,
        "username_prefix": { "throughput": rows[0].1.throughput(), "p50_ms": rows[0].1.ms(0.5), "p99_ms": rows[0].1.ms(0.99), "p999_ms": rows[0].1.ms(0.999) },
        "name_substring": { "throughput": rows[1].1.throughput(), "p50_ms": rows[1].1.ms(0.5), "p99_ms": rows[1].1.ms(0.99), "p999_ms": rows[1].1.ms(0.999) },
        "baseline_throughput": baseline.throughput(), "baseline_p50_ms": baseline.ms(0.5), "baseline_p99_ms": baseline.ms(0.99),
        "ratio": ratio, "server_peak_rss_mb": rss,
    });
    let mut table: Vec<(&str, &Run)> = rows.iter().map(|(l, r)| (*l, r)).collect();
    table.push(("baseline: { __typename }", &baseline));
    print_table(&title, &table, ratio, rss, line);
    Ok(())
}

/// Starts a server process (this binary in server mode) on `url`; returns it, its base URL and
/// pid once it is ready.
async fn peer(url: &str, client: &reqwest::Client) -> anyhow::Result<(tokio::process::Child, String, u32)> {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["server", "--database-url", url, "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok((child, base, pid));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not become ready")
}

fn now_micros() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0)
}

/// The send time (µs) embedded in a benchmark message's text: `bench <micros>`.
fn sent_micros(event: &serde_json::Value) -> Option<u64> {
    event["data"]["text"].as_str()?.strip_prefix("bench ")?.parse().ok()
}

async fn events(database_url: &str, subscriptions: usize, webhooks: usize) -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Ws;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let mut env = start(Some(database_url.to_owned()), 32).await?;
    if env.backend != "PostgreSQL" {
        bail!("the events scenario needs --database-url postgres://…");
    }
    let (mut b, b_base, b_pid) = peer(&env.url, &env.client).await?;
    let subscriber_latency = Arc::new(std::sync::Mutex::new(histogram()?));
    let crm_latency = Arc::new(std::sync::Mutex::new(histogram()?));
    let crm_count = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    // The CRM receiver.
    let (latency, count) = (Arc::clone(&crm_latency), Arc::clone(&crm_count));
    let receiver = axum::Router::new().fallback(move |body: String| {
        let (latency, count) = (Arc::clone(&latency), Arc::clone(&count));
        async move {
            let sent =
                serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|event| sent_micros(&event));
            if let Some(sent) = sent {
                if let Ok(mut h) = latency.lock() {
                    let _ = h.record(now_micros().saturating_sub(sent).max(1));
                }
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/crm", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let url = format!("{}/graphql", env.base);
    let create = json!({
        "query": "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
        "variables": { "i": { "url": receiver_url, "eventTypes": ["message.received"] } },
    });
    graphql(&env.client, &url, &env.token, &create).await?;

    // Subscriptions on server B.
    let ws_url = b_base.replace("http://", "ws://") + "/graphql/ws";
    let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut sockets = Vec::new();
    for _ in 0..subscriptions {
        let mut request = ws_url.clone().into_client_request()?;
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", env.token) } });
        socket.send(Ws::text(init.to_string())).await?;
        socket.next().await.context("no connection_ack")??;
        let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription { events(types: [\"message.received\"]) { payload } }" } });
        socket.send(Ws::text(subscribe.to_string())).await?;
        sockets.push(socket);
    }
    let mut readers = Vec::new();
    for mut socket in sockets {
        let (latency, received) = (Arc::clone(&subscriber_latency), Arc::clone(&received));
        readers.push(tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Ws::Text(text) = message {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                    if let Some(sent) = sent_micros(&v["payload"]["data"]["events"]["payload"]) {
                        if let Ok(mut h) = latency.lock() {
                            let _ = h.record(now_micros().saturating_sub(sent).max(1));
                        }
                        received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = peak_rss_mb(b_pid);

    // Webhooks to server A, one every 20 ms.
    let webhook_url = format!("{}/webhooks/whatsapp", env.base);
    let started_at = chrono::Utc::now().timestamp();
    for i in 0..webhooks {
        let body = serde_json::to_vec(&json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
                "contacts": [{ "profile": { "name": "Bench" }, "user_id": format!("US.{}", 700 + i % 50) }],
                "messages": [{ "from_user_id": format!("US.{}", 700 + i % 50), "id": format!("wamid.EV{i}"),
                    "timestamp": started_at.to_string(), "type": "text", "text": { "body": format!("bench {}", now_micros()) } }],
            } }] }],
        }))?;
        env.client
            .post(&webhook_url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(&body)?)
            .body(body)
            .send()
            .await?
            .error_for_status()?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expected = webhooks * subscriptions;
    for _ in 0..600 {
        let done = received.load(std::sync::atomic::Ordering::Relaxed) >= expected
            && crm_count.load(std::sync::atomic::Ordering::Relaxed) >= webhooks;
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss = peak_rss_mb(b_pid);
    env.child.kill().await.ok();
    b.kill().await.ok();
    for r in readers {
        r.abort();
    }
    let got = received.load(std::sync::atomic::Ordering::Relaxed);
    let crm_got = crm_count.load(std::sync::atomic::Ordering::Relaxed);
    let sub = subscriber_latency.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    let crm = crm_latency.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "events on PostgreSQL, two server processes, {subscriptions} subscriptions on B, {webhooks} webhooks to A, {}",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    println!("{:<34} {:>10} {:>9} {:>9} {:>9}", "", "received", "p50 ms", "p99 ms", "p99.9 ms");
    for (label, received, h) in
        [("webhook → subscriber (on B)", got, &sub), ("webhook → CRM receiver", crm_got, &crm)]
    {
        println!("{label:<34} {received:>10} {:>9.2} {:>9.2} {:>9.2}", ms(h, 0.5), ms(h, 0.99), ms(h, 0.999));
    }
    println!(
        "server B peak RSS: {rss:.0} MB ({rss_idle:.0} MB with the subscriptions open, before the load)"
    );
    let line = json!({
        "scenario": "events", "backend": "PostgreSQL", "processes": 2, "subscriptions": subscriptions, "webhooks": webhooks,
        "subscriber_received": got, "subscriber_expected": expected,
        "subscriber_p50_ms": ms(&sub, 0.5), "subscriber_p99_ms": ms(&sub, 0.99), "subscriber_p999_ms": ms(&sub, 0.999),
        "crm_received": crm_got, "crm_p50_ms": ms(&crm, 0.5), "crm_p99_ms": ms(&crm, 0.99), "crm_p999_ms": ms(&crm, 0.999),
        "server_b_peak_rss_mb": rss, "server_b_rss_with_subscriptions_mb": rss_idle,
    });
    println!("{line}");
    if got < expected || crm_got < webhooks {
        bail!("not every event arrived: {got}/{expected} to subscribers, {crm_got}/{webhooks} to the CRM");
    }
    Ok(())
}

/// Ten messages per conversation (alternating directions), ending at the conversation's
/// last activity.
async fn seed_messages(env: &Env, per_conversation: usize) -> anyhow::Result<()> {
    use persistence::content::MessageContent;
    use persistence::messages::{self, NewMessage, Origin, Thread};
    let threads = persistence::conversations::activity_of_all(env.db.conn(), env.workspace).await?;
    let mut batch = Vec::with_capacity(1000);
    let total = threads.len() * per_conversation;
    let mut done = 0;
    for (conversation, last) in threads {
        let thread = Thread {
            workspace_id: env.workspace,
            conversation_id: conversation,
            business_number_id: env.number,
        };
        for k in 0..per_conversation {
            let inbound = k % 2 == 0;
            let (direction, status) = if inbound {
                (domain::Direction::Inbound, domain::MessageStatus::Received)
            } else {
                (domain::Direction::Outbound, domain::MessageStatus::Read)
            };
            let external_id = Some(format!("wamid.SEED{}", uuid::Uuid::new_v4().simple()));
            let text = format!("message {k} of the conversation");
            let new = NewMessage {
                origin: Origin::Imported { direction, status, external_id },
                channel: domain::Channel::Whatsapp,
                kind: "text".into(),
                content: MessageContent::Inbound(
                    serde_json::json!({ "type": "text", "text": { "body": text } }),
                ),
                text,
                sent_at: last - chrono::Duration::minutes(i64::try_from(per_conversation - k).unwrap_or(0)),
            };
            batch.push((thread, new));
            done += 1;
            if batch.len() == 1000 || done == total {
                messages::insert_many(env.db.conn(), std::mem::take(&mut batch)).await?;
            }
        }
    }
    if env.backend == "PostgreSQL" {
        env.db.conn().execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

const INBOX_PAGE: &str = "{ conversations(first: 50) { nodes { id displayName status origin lastInboundAt \
    customer { phoneNumber bsuid username profileName phoneHidden notice } contact { id name } \
    capabilities { reply { allowed reason } call { allowed reason } switchToSms { allowed reason } \
    requestPhoneNumber { allowed reason } templates { category allowed reason } } \
    lastMessage { text direction status createdAt } } } }";

/// SQL statements one inbox page costs, counted in-process on the bench's own pool.
async fn statements_per_page(env: &Env, first: usize) -> anyhow::Result<u64> {
    let schema =
        api::graphql::schema_builder(&api::config::GraphqlConfig::default()).data(env.db.clone()).finish();
    let viewer =
        api::auth::Viewer { agent_id: env.admin, workspace_id: env.workspace, role: domain::Role::Admin };
    let query = INBOX_PAGE.replace("first: 50", &format!("first: {first}"));
    let request = async_graphql::Request::new(query)
        .data(api::graphql::RequestData { viewer: Some(viewer), now: chrono::Utc::now() })
        .data(api::graphql::loaders::for_workspace(env.db.clone(), env.workspace));
    let before = env.db.statement_count();
    let response = schema.execute(request).await;
    if !response.errors.is_empty() {
        bail!("inbox page failed: {:?}", response.errors);
    }
    // Plus the one statement that authenticates the request on the server.
    Ok(env.db.statement_count() - before + 1)
}

async fn inbox(
    database_url: Option<String>,
    conversations: usize,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let mut env = start(database_url, concurrency).await?;
    let seeded = Instant::now();
    seed_conversations(&env, conversations).await?;
    seed_messages(&env, 10).await?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let small = statements_per_page(&env, 5).await?;
    let full = statements_per_page(&env, 50).await?;
    let url = format!("{}/graphql", env.base);
    let (client, token, u) = (env.client.clone(), env.token.clone(), url.clone());
    let baseline = drive(requests, concurrency, move |_| {
        let (client, token, url) = (client.clone(), token.clone(), u.clone());
        async move { graphql(&client, &url, &token, &json!({ "query": "{ __typename }" })).await.map(|_| ()) }
    })
    .await?;
    let (client, token, u) = (env.client.clone(), env.token.clone(), url.clone());
    let run = drive(requests, concurrency, move |_| {
        let (client, token, url) = (client.clone(), token.clone(), u.clone());
        async move { graphql(&client, &url, &token, &json!({ "query": INBOX_PAGE })).await.map(|_| ()) }
    })
    .await?;
    let rss = peak_rss_mb(env.pid);
    env.child.kill().await.ok();
    let ratio = run.throughput() / baseline.throughput();
    let title = format!(
        "inbox on {}, {conversations} conversations × 10 messages (seeded in {seed_secs:.0} s), first page of 50, {concurrency} clients, {}; SQL statements per page: {small} for 5 rows, {full} for 50",
        env.backend,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let line = json!({
        "scenario": "inbox", "backend": env.backend, "conversations": conversations, "requests": requests, "concurrency": concurrency,
        "throughput": run.throughput(), "p50_ms": run.ms(0.5), "p99_ms": run.ms(0.99), "p999_ms": run.ms(0.999),
        "baseline_throughput": baseline.throughput(), "baseline_p50_ms": baseline.ms(0.5), "baseline_p99_ms": baseline.ms(0.99),
        "ratio": ratio, "server_peak_rss_mb": rss, "statements_per_page_5": small, "statements_per_page_50": full,
    });
    print_table(
        &title,
        &[("inbox page (50)", &run), ("baseline: { __typename }", &baseline)],
        ratio,
        rss,
        line,
    );
    Ok(())
}
