//! The `send` scenario.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sea_orm::ConnectionTrait;
use serde_json::json;
use tests::fixtures::Inbound;

use crate::harness::{drive, graphql, peak_rss_mb, post_webhook, print_table, start, typename_baseline};

pub(crate) async fn send(
    database_url: Option<String>,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let env = start(database_url, concurrency).await?;
    // Open conversations through the webhook: 200 customers who wrote a minute ago.
    let _now = chrono::Utc::now().timestamp();
    for c in 0..200 {
        let customer = Inbound::hidden(&format!("US.{}", 5_000 + c), "", &format!("C{c}"));
        let inbound = Inbound { username: None, ..customer }.wamid(format!("wamid.SEED{c}")).text("hi");
        post_webhook(&env.client, &format!("{}/webhooks/whatsapp", env.base), &inbound).await?;
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

    let baseline = typename_baseline(&env, requests, concurrency).await?;
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
    let backend = env.database.backend;
    env.finish().await?;
    let delivered = delivered_after.context("not every message was delivered within 5 minutes")?;
    let ratio = run.throughput() / baseline.throughput();
    let title = format!(
        "send on {}, {requests} sendMessage calls, {concurrency} concurrent agents, {}; all delivered (sandbox) after {:.1} s",
        backend,
        chrono::Utc::now().format("%Y-%m-%d"),
        delivered.as_secs_f64()
    );
    let line = json!({
        "scenario": "send", "backend": backend, "requests": requests, "concurrency": concurrency,
        "throughput": run.throughput(), "p50_ms": run.ms(0.5), "p99_ms": run.ms(0.99), "p999_ms": run.ms(0.999),
        "baseline_throughput": baseline.throughput(), "baseline_p50_ms": baseline.ms(0.5), "baseline_p99_ms": baseline.ms(0.99),
        "ratio": ratio, "server_peak_rss_mb": rss, "all_delivered_after_s": delivered.as_secs_f64(),
    });
    print_table(&title, &[("sendMessage", &run), ("baseline: { __typename }", &baseline)], ratio, rss, line);
    Ok(())
}
