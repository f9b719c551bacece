//! The `media` scenario: customers' photos arriving as webhooks while the media fetcher brings
//! each file from a local fake Cloud API into the blob store, against plain text webhooks in the
//! same run; the latency from a webhook to its attachment `STORED`; then the server's memory
//! while many clients download a 10 MB file at once (bytes must stream, not sit in memory).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use sea_orm::ConnectionTrait;
use serde_json::json;
use sha2::Digest;
use tests::fixtures::Inbound;

use crate::harness::{
    ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID, ServerOptions, WABA_ID, drive, histogram, peak_rss_mb,
    post_webhook, print_table, start_with,
};

/// The fake Cloud API's files, by media id (the photo for every id not listed).
#[derive(Clone)]
struct Files {
    base: String,
    photo: Arc<Vec<u8>>,
    large: Arc<HashMap<String, Vec<u8>>>,
}

impl Files {
    fn get(&self, id: &str) -> &[u8] {
        self.large.get(id).map_or(self.photo.as_slice(), Vec::as_slice)
    }
}

/// A fake Cloud API on loopback: `GET /{id}` (where to download it) and `GET /download/{id}`
/// (the bytes, with the bearer token).
async fn fake_cloud(photo: Vec<u8>, large: HashMap<String, Vec<u8>>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let files = Files { base: base.clone(), photo: Arc::new(photo), large: Arc::new(large) };
    let authorised = |headers: &HeaderMap| {
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {ACCESS_TOKEN}"))
    };
    let app = axum::Router::new()
        .route(
            "/{id}",
            axum::routing::get(
                move |State(files): State<Files>, Path(id): Path<String>, headers: HeaderMap| async move {
                    if !authorised(&headers) {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    let bytes = files.get(&id);
                    axum::Json(json!({
                    "url": format!("{}/download/{id}", files.base),
                    "mime_type": if files.large.contains_key(&id) { "application/pdf" } else { "image/jpeg" },
                    "sha256": hex::encode(sha2::Sha256::digest(bytes)),
                    "file_size": bytes.len(),
                    "id": id,
                }))
                .into_response()
                },
            ),
        )
        .route(
            "/download/{id}",
            axum::routing::get(
                move |State(files): State<Files>, Path(id): Path<String>, headers: HeaderMap| async move {
                    if !authorised(&headers) {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    files.get(&id).to_vec().into_response()
                },
            ),
        )
        .with_state(files);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

/// A signed webhook carrying one media message of `customer`.
fn media_webhook(customer: &Inbound, kind: &str, media_id: &str, mime: &str) -> serde_json::Value {
    let mut value = customer.value(PHONE_NUMBER_ID);
    let message = &mut value["messages"][0];
    if let Some(object) = message.as_object_mut() {
        object.remove("text");
    }
    message["type"] = json!(kind);
    message[kind] = json!({ "id": media_id, "mime_type": mime });
    tests::fixtures::webhook(WABA_ID, "messages", value)
}

async fn post_signed(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(body)?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", tests::fixtures::sign(APP_SECRET.as_bytes(), &bytes))
        .body(bytes)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("webhook answered {}", response.status());
    }
    Ok(())
}

fn current_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

pub(crate) async fn media(
    database_url: Option<String>,
    media_store: Option<String>,
    requests: usize,
    concurrency: usize,
    downloads: usize,
) -> anyhow::Result<()> {
    let photo: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let large_file: Vec<u8> = (0..10 * 1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    let large = HashMap::from([("LARGE".to_owned(), large_file.clone())]);
    let cloud = fake_cloud(photo, large).await?;
    let options = ServerOptions { whatsapp_api_base: Some(cloud), media_store };
    let env = start_with(database_url, concurrency, &options).await?;
    let (db, backend, client, pid) = (env.db.clone(), env.database.backend, env.client.clone(), env.pid);
    let url = format!("{}/webhooks/whatsapp", env.base);
    let started_at = chrono::Utc::now().timestamp();
    let customer = move |i: usize| {
        let n = i % 500;
        Inbound::hidden(&format!("US.{}", 20_000_000 + n), &format!("@c{n}"), &format!("C {n}"))
            .wamid(format!("wamid.BENCH{}", uuid::Uuid::new_v4().simple()))
            .ago(chrono::Duration::seconds(chrono::Utc::now().timestamp() - (started_at - 60)))
    };

    // Baseline: text webhooks, same driver and concurrency.
    let (c, u) = (client.clone(), url.clone());
    let baseline = drive(requests, concurrency, move |i| {
        let (client, url) = (c.clone(), u.clone());
        async move { post_webhook(&client, &url, &customer(i).text(format!("text {i}"))).await }
    })
    .await?;

    // Image webhooks, each with its own media id, the fetcher storing them meanwhile.
    let sent_at: Arc<std::sync::Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>> = Arc::default();
    let (c, u, s) = (client.clone(), url.clone(), Arc::clone(&sent_at));
    let images = drive(requests, concurrency, move |i| {
        let (client, url, sent) = (c.clone(), u.clone(), Arc::clone(&s));
        async move {
            let media_id = format!("IMG{i}");
            let body = media_webhook(&customer(i), "image", &media_id, "image/jpeg");
            sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.insert(media_id, chrono::Utc::now());
            post_signed(&client, &url, &body).await
        }
    })
    .await?;
    let posted = Instant::now();
    let stored = loop {
        let rows = db
            .conn()
            .query_all_raw(sea_orm::Statement::from_string(
                db.backend(),
                "SELECT provider_media_id, status, updated_at FROM attachments",
            ))
            .await?;
        let pending =
            rows.iter().filter(|r| r.try_get::<String>("", "status").is_ok_and(|s| s == "PENDING")).count();
        if pending == 0 && rows.len() >= requests {
            break rows;
        }
        if posted.elapsed() > Duration::from_secs(600) {
            bail!("{pending} of {} attachments still pending after 10 minutes", rows.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let drained = posted.elapsed();
    let mut end_to_end = histogram()?;
    let sent = sent_at.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    let mut failed = 0;
    for row in &stored {
        if row.try_get::<String>("", "status")? != "STORED" {
            failed += 1;
            continue;
        }
        let id: String = row.try_get("", "provider_media_id")?;
        let done: chrono::DateTime<chrono::Utc> = row.try_get("", "updated_at")?;
        let start = sent.get(&id).context("an attachment the bench did not send")?;
        let micros = u64::try_from((done - *start).num_microseconds().unwrap_or(0).max(1)).unwrap_or(1);
        end_to_end.record(micros)?;
    }
    if failed > 0 {
        bail!("{failed} attachments FAILED");
    }
    let e2e = crate::harness::Run { requests, elapsed: images.elapsed + drained, latencies: end_to_end };

    // One 10 MB document, then many clients downloading it at once.
    post_signed(&client, &url, &media_webhook(&customer(requests), "document", "LARGE", "application/pdf"))
        .await?;
    let attachment_id = loop {
        let row = db
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                db.backend(),
                "SELECT id, status FROM attachments WHERE provider_media_id = 'LARGE'",
            ))
            .await?;
        if let Some(row) = row.filter(|r| r.try_get::<String>("", "status").is_ok_and(|s| s == "STORED")) {
            break row.try_get::<uuid::Uuid>("", "id")?;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rss_before = current_rss_mb(pid);
    let peak = Arc::new(std::sync::Mutex::new(rss_before));
    let sampling = {
        let peak = Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                let now = current_rss_mb(pid);
                if let Ok(mut p) = peak.lock() {
                    *p = p.max(now);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let media_url = format!("{}/media/{attachment_id}", env.base);
    let (c, token) = (client.clone(), env.token.clone());
    let expected = large_file.len();
    let download = drive(downloads, downloads, move |_| {
        let (client, url, token) = (c.clone(), media_url.clone(), token.clone());
        async move {
            let mut response = client.get(&url).bearer_auth(&token).send().await?;
            if !response.status().is_success() {
                bail!("download answered {}", response.status());
            }
            let mut got = 0;
            while let Some(chunk) = response.chunk().await? {
                got += chunk.len();
            }
            if got != expected {
                bail!("downloaded {got} of {expected} bytes");
            }
            Ok(())
        }
    })
    .await?;
    sampling.abort();
    let download_peak = *peak.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let rss = peak_rss_mb(pid);
    env.finish().await?;

    let ratio = images.throughput() / baseline.throughput();
    let megabytes = (downloads * expected) as f64 / (1024.0 * 1024.0);
    let title = format!(
        "media on {backend}, {requests} image webhooks with the fetcher running, {concurrency} senders, {}",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let line = json!({
        "scenario": "media", "backend": backend, "requests": requests, "concurrency": concurrency,
        "image_webhooks_per_sec": images.throughput(), "image_p50_ms": images.ms(0.5), "image_p99_ms": images.ms(0.99),
        "text_webhooks_per_sec": baseline.throughput(), "ratio": ratio,
        "stored_p50_ms": e2e.ms(0.5), "stored_p99_ms": e2e.ms(0.99), "all_stored_after_s": (images.elapsed + drained).as_secs_f64(),
        "downloads": downloads, "download_mb": megabytes, "download_mb_per_sec": megabytes / download.elapsed.as_secs_f64(),
        "rss_before_downloads_mb": rss_before, "rss_peak_during_downloads_mb": download_peak, "server_peak_rss_mb": rss,
    });
    print_table(
        &title,
        &[
            ("image webhooks (acked)", &images),
            ("webhook → STORED", &e2e),
            ("baseline: text webhooks", &baseline),
        ],
        ratio,
        rss,
        line,
    );
    println!(
        "{downloads} concurrent downloads of 10 MB: {:.0} MB/s; server RSS {rss_before:.0} MB before, {download_peak:.0} MB at most during",
        megabytes / download.elapsed.as_secs_f64()
    );
    Ok(())
}
