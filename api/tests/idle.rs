//! An idle server does nothing: the real binary (`parley serve --demo`, its own process, so its
//! CPU time is its own) left alone for 10 s uses under 1% of a core and runs at most 20 SQL
//! statements on all its connection pools together (each one at most one transaction), on
//! SQLite and on PostgreSQL (`PARLEY_TEST_POSTGRES_URL`).

#![expect(clippy::unwrap_used, reason = "test helpers panic when set-up fails")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// 32 bytes of base64, the `PARLEY_SECRET_KEY` of the servers these tests start.
const SECRET_KEY: &str = "aWRsZS10ZXN0LWtleS1pZGxlLXRlc3Qta2V5LTAxMjM=";

/// How long the server is watched.
const WATCH: Duration = Duration::from_secs(10);

/// Starts `parley serve --demo` on `database_url`; returns the child and its base URL.
async fn serve_demo(database_url: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--database-url", database_url])
        .env_remove("DATABASE_URL")
        .env_remove("PARLEY_JWT_SECRET")
        .env("PARLEY_SECRET_KEY", SECRET_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let graphql = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.split("GraphQL (POST, and GraphiQL in a browser): ").nth(1) {
                return rest.trim().to_owned();
            }
        }
        panic!("the demo printed no URL");
    })
    .await
    .unwrap();
    (child, graphql.trim_end_matches("/graphql").to_owned())
}

/// The process's CPU time (user + system) so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports these in clock ticks of 1/100 s (USER_HZ) on every architecture it runs on.
    Duration::from_millis(ticks * 10)
}

/// The statements all pools ran and the transactions committed, from `/metrics`.
async fn counters(base: &str) -> (u64, u64) {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    let sum = |name: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    };
    let statements = sum("parley_db_statements_total");
    assert!(text.contains("parley_db_statements_total{pool=\"background\"}"), "{text}");
    (statements, sum("parley_db_commits_total"))
}

/// Waits until the start-up work is done: a whole second in which the process used under 1% of a
/// core (at least 3 s, at most 60 s: a loaded CI machine runs both databases' servers at once).
async fn settle(pid: u32) {
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..58 {
        let before = cpu_time(pid);
        tokio::time::sleep(Duration::from_secs(1)).await;
        if cpu_time(pid) - before <= Duration::from_millis(10) {
            return;
        }
    }
    panic!("the demo's start-up work never settled");
}

async fn an_idle_server_sleeps(database_url: &str) {
    let (mut child, base) = serve_demo(database_url).await;
    // The demo's own start-up work (its seeded sends and files) settles first.
    let pid = child.id();
    settle(pid).await;
    let (statements_before, commits_before) = counters(&base).await;
    let cpu_before = cpu_time(pid);
    tokio::time::sleep(WATCH).await;
    let cpu = cpu_time(pid) - cpu_before;
    let (statements_after, commits_after) = counters(&base).await;
    child.kill().ok();
    child.wait().ok();
    let statements = statements_after - statements_before;
    let commits = commits_after - commits_before;
    let share = cpu.as_secs_f64() / WATCH.as_secs_f64();
    eprintln!(
        "idle for {WATCH:?}: {:.2}% of a core, {statements} statements, {commits} commits",
        share * 100.0
    );
    assert!(share < 0.01, "an idle server used {:.1}% of a core", share * 100.0);
    assert!(statements <= 20, "an idle server ran {statements} statements in {WATCH:?}");
    assert!(commits <= 20, "an idle server committed {commits} transactions in {WATCH:?}");
}

#[tokio::test]
async fn an_idle_server_on_sqlite_sleeps() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("parley-idle");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()));
    an_idle_server_sleeps(&format!("sqlite://{}?mode=rwc", file.display())).await;
}

#[tokio::test]
async fn an_idle_server_on_postgresql_sleeps() {
    let Ok(admin_url) = std::env::var("PARLEY_TEST_POSTGRES_URL") else {
        eprintln!("PARLEY_TEST_POSTGRES_URL is not set: the PostgreSQL run of the idle test is skipped");
        return;
    };
    use sea_orm::ConnectionTrait;
    let name = format!("parley_test_idle_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    an_idle_server_sleeps(url.as_str()).await;
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok();
}
