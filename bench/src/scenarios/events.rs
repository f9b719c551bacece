//! The `events` scenario.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use serde_json::json;
use tests::fixtures::Inbound;

use crate::harness::{graphql, histogram, now_micros, peak_rss_mb, peer, post_webhook, start};

/// The send time (µs) embedded in a benchmark message's text: `bench <micros>`.
pub(crate) fn sent_micros(event: &serde_json::Value) -> Option<u64> {
    event["data"]["text"].as_str()?.strip_prefix("bench ")?.parse().ok()
}

pub(crate) async fn events(database_url: &str, subscriptions: usize, webhooks: usize) -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Ws;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let env = start(Some(database_url.to_owned()), 32).await?;
    if env.database.backend != "PostgreSQL" {
        bail!("the events scenario needs --database-url postgres://…");
    }
    let mut b = peer(&env.database.url, &env.client).await?;
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
    let ws_url = b.base.replace("http://", "ws://") + "/graphql/ws";
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
    let rss_idle = peak_rss_mb(b.pid);

    // Webhooks to server A, one every 20 ms.
    let webhook_url = format!("{}/webhooks/whatsapp", env.base);
    let started_at = chrono::Utc::now().timestamp();
    for i in 0..webhooks {
        let customer = Inbound::hidden(&format!("US.{}", 700 + i % 50), "", "Bench");
        let inbound = Inbound { username: None, ..customer }
            .wamid(format!("wamid.EV{i}"))
            .text(format!("bench {}", now_micros()))
            .ago(chrono::Duration::seconds(chrono::Utc::now().timestamp() - started_at));
        post_webhook(&env.client, &webhook_url, &inbound).await?;
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
    let rss = peak_rss_mb(b.pid);
    b.child.kill().await.ok();
    drop(b);
    env.finish().await?;
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
