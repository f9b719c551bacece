//! The `ingest` scenario.

use anyhow::{Context as _, bail};
use sea_orm::ConnectionTrait;
use serde_json::json;
use tests::fixtures::Inbound;

use crate::harness::{Comparison, drive, peak_rss_mb, post_webhook, start};

pub(crate) async fn ingest(
    database_url: Option<String>,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let env = start(database_url, concurrency).await?;
    let (db, backend, client, pid) = (env.db.clone(), env.database.backend, env.client.clone(), env.pid);
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
            let mut inbound =
                Inbound::hidden(&bsuid, &format!("@customer{customer}"), &format!("Customer {customer}"))
                    .wamid(format!("wamid.BENCH{}", uuid::Uuid::new_v4().simple()))
                    .text(format!("message {i}"))
                    .ago(chrono::Duration::seconds(chrono::Utc::now().timestamp() - (started_at - 60)));
            if !hidden {
                inbound.phone = Some(format!("1650{:07}", customer));
            }
            post_webhook(&client, &url, &inbound).await
        }
    })
    .await?;
    let rss = peak_rss_mb(pid);
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
    env.finish().await?;
    if usize::try_from(stored).unwrap_or(0) != requests {
        bail!("{stored} messages stored for {requests} acknowledged webhooks");
    }
    Comparison {
        scenario: "ingest",
        backend,
        title: format!(
        "ingest on {backend}, {requests} webhooks, {concurrency} concurrent senders, {} (every acknowledged webhook verified stored)",
        chrono::Utc::now().format("%Y-%m-%d")
    ),
        requests,
        concurrency,
        run: ("signed webhooks", &run),
        baseline: ("baseline: INSERT commits", &baseline),
        rss,
    }
    .print(json!({}));
    Ok(())
}
