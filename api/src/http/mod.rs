//! The HTTP surface: routes, the GraphQL endpoint with authentication at the edge, health
//! checks, the WhatsApp and SMS webhooks, the reports' CSV export, and the tower layers (tracing without query strings, body
//! limits, timeouts).

pub mod desktop;
pub mod media;
pub mod metrics;
pub mod reports;
pub mod state;
pub mod websocket;

use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::json;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::bearer_token;
use crate::error::ApiError;
use crate::graphql::context::RequestData;
use crate::graphql::loaders;
use crate::http::state::AppState;
use crate::inbound::whatsapp::http as whatsapp;

/// Largest GraphQL request body accepted.
const GRAPHQL_BODY_LIMIT: usize = 1024 * 1024;

/// Builds the router.
pub fn router(state: AppState) -> Router {
    let webhooks = Router::new()
        .route("/webhooks/whatsapp", get(whatsapp::verify).post(whatsapp::receive))
        .layer(DefaultBodyLimit::max(whatsapp::BODY_LIMIT));
    let sms = Router::new()
        .route("/webhooks/sms", post(crate::inbound::sms::http::receive))
        .layer(DefaultBodyLimit::max(crate::inbound::sms::http::BODY_LIMIT));
    let timed = Router::new()
        .route("/", get(desktop::index))
        .route("/favicon.ico", get(desktop::icon))
        .route("/desktop/{*path}", get(desktop::asset))
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphql/ws", get(websocket::upgrade))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::http::metrics::render))
        .route("/media/{id}", get(media::download))
        .route("/reports/conversations.csv", get(reports::conversations_csv))
        .layer(DefaultBodyLimit::max(GRAPHQL_BODY_LIMIT))
        .merge(webhooks)
        .merge(sms)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)));
    // An upload may take minutes on a slow link; it has its own, longer limit.
    let uploads = Router::new()
        .route("/media", post(media::upload))
        .layer(DefaultBodyLimit::max(media::UPLOAD_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(600)));
    timed
        .merge(uploads)
        .route_layer(axum::middleware::from_fn(crate::http::metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    // The path only: query strings can carry tokens (webhook handshakes).
                    crate::traces::request_span(request.method(), request.uri().path(), request.headers())
                })
                .on_response(|response: &Response, _latency: Duration, span: &tracing::Span| {
                    span.record("http.response.status_code", response.status().as_u16());
                }),
        )
        .with_state(state)
}

/// A GraphQL-shaped error response for failures before execution (authentication).
fn early_error(err: &ApiError) -> Response {
    let status = match err {
        ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNAUTHORIZED,
    };
    if let ApiError::Internal(cause) = err {
        tracing::error!(error = ?cause, "internal error during authentication");
    }
    let body = json!({ "errors": [{ "message": err.message(), "extensions": { "code": err.code() } }] });
    (status, axum::Json(body)).into_response()
}

async fn graphql(State(state): State<AppState>, headers: HeaderMap, request: GraphQLRequest) -> Response {
    // Only JSON bodies run operations: a cross-site form or text/plain POST cannot.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !json {
        let body = json!({ "errors": [{ "message": "Send GraphQL requests as POST with Content-Type: application/json.", "extensions": { "code": "BAD_USER_INPUT" } }] });
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, axum::Json(body)).into_response();
    }
    let now = Utc::now();
    let viewer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = match value.to_str() {
                Ok(v) => v,
                Err(_) => {
                    return early_error(&ApiError::Unauthenticated(
                        "The Authorization header is not valid text.",
                    ));
                }
            };
            let authenticated = match bearer_token(value) {
                Ok(token) => state.auth.authenticate(&state.db, token, now).await,
                Err(err) => Err(err),
            };
            match authenticated {
                Ok(viewer) => Some(viewer),
                Err(err) => return early_error(&err),
            }
        }
    };
    let mut request = request.into_inner().data(RequestData { viewer, now });
    if let Some(viewer) = viewer {
        request = request.data(loaders::for_viewer(state.db.clone(), viewer.workspace_id, viewer.agent_id));
    }
    let response = async_graphql::Executor::execute(&state.graphql, request).await;
    GraphQLResponse::from(response).into_response()
}

/// `GET /graphql`: GraphiQL for a browser (a page asked for as HTML, without a query);
/// anything else is a client trying to run an operation over GET, which Parley does not do
/// (operations are POST): `405` with a JSON error and `Allow: POST`.
async fn graphiql(State(state): State<AppState>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/html"));
    let has_query =
        uri.query().is_some_and(|q| q.split('&').any(|pair| pair.split('=').next() == Some("query")));
    if !wants_html || has_query {
        let body = json!({ "errors": [{
            "message": "GraphQL operations are POST requests with Content-Type: application/json (GET only serves GraphiQL to a browser).",
            "extensions": { "code": "BAD_USER_INPUT" }
        }] });
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")], axum::Json(body)).into_response();
    }
    if state.config.graphql.production {
        return (StatusCode::NOT_FOUND, "GraphiQL is disabled in production mode").into_response();
    }
    Html(GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").finish())
        .into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}
