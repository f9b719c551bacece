//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! One recorder per process (the `metrics` facade is global). Labels never carry tenant ids,
//! phone numbers or anything a request sent: only routes, status classes and outcomes.
//!
//! - `parley_http_requests_total{route,status}` and `parley_http_request_duration_seconds{route}`
//! - `parley_inbound_messages_total{channel,outcome}`: customers' messages (`whatsapp`, `sms`)
//!   stored / duplicate / kept as dead letters (the webhooks themselves:
//!   `parley_http_requests_total`)
//! - `parley_webhook_batch_size`: webhooks committed together (group commit)
//! - `parley_subscriptions_open`: live GraphQL subscriptions of this process
//! - `parley_crm_deliveries_total{outcome}`: CRM webhook delivery attempts
//! - `parley_outbound_sends_total{outcome}`: WhatsApp/SMS send attempts
//! - `parley_db_statements_total{pool}`: SQL statements run, per connection pool (`requests`,
//!   `background`: the workers); `parley_db_commits_total`: write transactions committed
//! - `parley_dead_letters_total{kind}`: Meta webhook changes kept as dead letters, by kind
//!   (the operator's view of what no tenant is shown)
//!
//! With `PARLEY_METRICS_TOKEN` set, the page needs `Authorization: Bearer <token>`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::http::state::AppState;
use crate::telemetry;

/// `GET /metrics`; with `PARLEY_METRICS_TOKEN` set, only for `Authorization: Bearer <token>`
/// (compared in constant time).
pub async fn render(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.config.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::auth::bearer_token(v).ok())
            .unwrap_or_default();
        let matches: bool = presented.as_bytes().ct_eq(expected.expose_secret().as_bytes()).into();
        if !matches {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need Authorization: Bearer <PARLEY_METRICS_TOKEN>",
            )
                .into_response();
        }
    }
    for (pool, statements) in state.db.statement_counts() {
        metrics::counter!("parley_db_statements_total", "pool" => pool).absolute(statements);
    }
    metrics::counter!("parley_db_commits_total").absolute(state.db.commit_count());
    let text = telemetry::handle().map_or_else(String::new, |h| {
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
