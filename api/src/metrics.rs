//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! One recorder per process (the `metrics` facade is global). Labels never carry tenant ids,
//! phone numbers or anything a request sent: only routes, status classes and outcomes.
//!
//! - `parley_http_requests_total{route,status}` and `parley_http_request_duration_seconds{route}`
//! - `parley_inbound_messages_total{outcome}`: messages of Meta webhooks stored / duplicate /
//!   kept as dead letters (the webhooks themselves: `parley_http_requests_total`)
//! - `parley_webhook_batch_size`: webhooks committed together (group commit)
//! - `parley_subscriptions_open`: live GraphQL subscriptions of this process
//! - `parley_crm_deliveries_total{outcome}`: CRM webhook delivery attempts
//! - `parley_outbound_sends_total{outcome}`: WhatsApp/SMS send attempts
//! - `parley_db_statements_total{pool}`: SQL statements run

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Latency buckets (seconds) for request durations.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (first call) and returns its handle; `None` when another
/// recorder was installed first (an embedding application's own).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".to_owned()), BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("parley_webhook_batch_size".to_owned()),
                        BATCH_BUCKETS,
                    )
                });
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed; /metrics will be empty");
                    None
                }
            }
        })
        .as_ref()
}

/// Counts a live subscription while it exists.
#[derive(Debug)]
pub struct OpenSubscription(());

impl OpenSubscription {
    #[must_use]
    pub fn new() -> Self {
        metrics::gauge!("parley_subscriptions_open").increment(1.0);
        Self(())
    }
}

impl Default for OpenSubscription {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        metrics::gauge!("parley_subscriptions_open").decrement(1.0);
    }
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    metrics::counter!("parley_db_statements_total", "pool" => "requests")
        .absolute(state.db.statement_count());
    let text = handle().map_or_else(String::new, |h| {
        h.run_upkeep();
        h.render()
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Middleware recording every request by its route pattern (never its concrete path).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("parley_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("parley_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
