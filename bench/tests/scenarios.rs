//! Every scenario of `parley-bench` runs to its end at a small size, prints its JSON line, and
//! removes what it made: its database (a SQLite file, or a `parley_bench_*` database on
//! PostgreSQL) and the server's media directory. The figures are not checked here (a debug
//! build on a shared machine measures nothing); that the program works is.

#![expect(clippy::unwrap_used, reason = "the test's helpers panic when a step fails")]

use std::collections::BTreeSet;
use std::process::Command;

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;

/// Runs one scenario; returns its JSON line (the last one it printed).
fn run(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_parley-bench")).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("{args:?} printed no JSON line:\n{stdout}"))
}

/// What the scenarios may leave in the system's temporary directory.
fn temporary_files() -> BTreeSet<String> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("parley-bench-"))
        .collect()
}

/// The `parley_bench_*` databases on the PostgreSQL server at `url`.
async fn bench_databases(url: &str) -> BTreeSet<String> {
    let db = Database::connect(url).await.unwrap();
    let sql = "SELECT datname::text AS name FROM pg_database WHERE datname LIKE 'parley\\_bench\\_%'";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let names = rows.iter().map(|row| row.try_get::<String>("", "name").unwrap()).collect();
    db.close().await.unwrap();
    names
}

#[test]
fn every_scenario_runs_to_its_end_and_removes_what_it_made() {
    let before = temporary_files();
    let sqlite: &[&[&str]] = &[
        &["ingest", "--requests", "40", "--concurrency", "4"],
        &["sms", "--requests", "40", "--concurrency", "4"],
        &["send", "--requests", "20", "--concurrency", "4"],
        &["inbox", "--conversations", "60", "--requests", "20", "--concurrency", "4"],
        &["search", "--conversations", "100", "--requests", "10", "--concurrency", "1"],
        &["media", "--requests", "10", "--concurrency", "4", "--downloads", "2"],
        &["routing", "--waiting", "20", "--agents", "4", "--capacity", "2", "--passes", "10"],
    ];
    for args in sqlite {
        let line = run(args);
        assert_eq!((&line["scenario"], &line["backend"]), (&json!(args[0]), &json!("SQLite")), "{line}");
    }
    assert_eq!(temporary_files(), before, "a scenario left files behind");

    let Ok(url) = std::env::var("PARLEY_TEST_POSTGRES_URL") else {
        eprintln!("PARLEY_TEST_POSTGRES_URL is not set: the PostgreSQL scenarios were skipped");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let databases = runtime.block_on(bench_databases(&url));
    let postgres: &[&[&str]] = &[
        &["ingest", "--requests", "40", "--concurrency", "4"],
        &["send", "--requests", "20", "--concurrency", "4"],
        &["events", "--subscriptions", "5", "--webhooks", "5"],
        &["growth", "--sizes", "200,400", "--requests", "5"],
        &["report", "--conversations", "500", "--runs", "1"],
    ];
    for args in postgres {
        let mut args = args.to_vec();
        args.extend(["--database-url", url.as_str()]);
        let line = run(&args);
        assert_eq!(line["scenario"], args[0], "{line}");
    }
    assert_eq!(runtime.block_on(bench_databases(&url)), databases, "a scenario left its database behind");
    assert_eq!(temporary_files(), before, "a scenario left files behind");
}
