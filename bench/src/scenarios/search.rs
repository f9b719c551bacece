//! The `search` scenario.

use std::time::Instant;

use serde_json::json;

use crate::harness::{Run, drive, graphql, peak_rss_mb, print_table, start, typename_baseline};
use crate::seed::{FIRST, LAST, seed_conversations};

pub(crate) async fn search(
    database_url: Option<String>,
    conversations: usize,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let env = start(database_url, concurrency).await?;
    let seeded = Instant::now();
    seed_conversations(&env, conversations).await?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let url = format!("{}/graphql", env.base);
    let query = "query($s: String) { conversations(first: 20, filter: { search: $s }) { nodes { id displayName customer { username } } } }";
    let mut rows = Vec::new();
    let baseline = typename_baseline(&env, requests, concurrency).await?;
    for (label, make) in [
        (
            "@username prefix",
            (|i: usize| format!("@{}_{}", FIRST[i % FIRST.len()].to_lowercase(), (i * 37) % 10_000))
                as fn(usize) -> String,
        ),
        ("name substring", |i: usize| {
            format!("{} {}", LAST[i % LAST.len()].to_lowercase(), (i * 53) % 1_000)
        }),
        // A term one conversation in ten or twelve shares, as an agent types a customer's
        // first name or a part of one.
        ("common name", |i: usize| {
            let name = if i.is_multiple_of(2) { FIRST[i % FIRST.len()] } else { LAST[i % LAST.len()] };
            name.to_lowercase()
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
    let backend = env.database.backend;
    env.finish().await?;
    let title = format!(
        "search on {}, {conversations} conversations (seeded in {seed_secs:.1} s), {requests} searches per kind, {concurrency} concurrent clients, {}",
        backend,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    // The ratio of the two searches it has always been of (the common name came later).
    let worst = rows[..2].iter().map(|(_, r)| r.throughput()).fold(f64::INFINITY, f64::min);
    let ratio = worst / baseline.throughput();
    let line = json!({
        "scenario": "search", "backend": backend, "conversations": conversations, "requests": requests, "concurrency": concurrency,
        "username_prefix": { "throughput": rows[0].1.throughput(), "p50_ms": rows[0].1.ms(0.5), "p99_ms": rows[0].1.ms(0.99), "p999_ms": rows[0].1.ms(0.999) },
        "name_substring": { "throughput": rows[1].1.throughput(), "p50_ms": rows[1].1.ms(0.5), "p99_ms": rows[1].1.ms(0.99), "p999_ms": rows[1].1.ms(0.999) },
        "common_name": { "throughput": rows[2].1.throughput(), "p50_ms": rows[2].1.ms(0.5), "p99_ms": rows[2].1.ms(0.99), "p999_ms": rows[2].1.ms(0.999) },
        "baseline_throughput": baseline.throughput(), "baseline_p50_ms": baseline.ms(0.5), "baseline_p99_ms": baseline.ms(0.99),
        "ratio": ratio, "server_peak_rss_mb": rss,
    });
    let mut table: Vec<(&str, &Run)> = rows.iter().map(|(l, r)| (*l, r)).collect();
    table.push(("baseline: { __typename }", &baseline));
    print_table(&title, &table, ratio, rss, line);
    Ok(())
}
