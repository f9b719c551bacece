//! `GET|POST /webhooks/whatsapp`: Meta's subscription handshake and webhook deliveries.
//!
//! The signature (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with the app secret) is
//! checked in constant time before anything is parsed. Answers: 200 once the webhook is stored
//! (dead letters included, so Meta does not retry for a week), 400 for a body that is not JSON
//! (nothing stored), 401 for a missing or wrong signature (nothing stored), 503 when the
//! database is unavailable (Meta retries; nothing half-written).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::payload::Webhook;
use crate::config::Config;
use crate::inbound::batch::WebhookCommitter;
use crate::providers::meta::signature_valid;

/// What the webhook handlers need (taken from the application state with `FromRef`).
#[derive(Clone)]
pub struct InboundState {
    pub config: Arc<Config>,
    /// Stores Meta webhooks, committing concurrent ones together.
    pub committer: WebhookCommitter,
    /// Counts (and sparingly logs) posts refused before they were verified.
    pub refusals: crate::telemetry::Refusals,
}

/// Meta sends up to 3 MB; a little headroom.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

fn reply(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// The subscription handshake: echo `hub.challenge` when the verify token matches.
pub async fn verify(
    State(state): State<InboundState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(expected) = &state.config.whatsapp.verify_token else {
        tracing::warn!("webhook handshake refused: PARLEY_WHATSAPP_VERIFY_TOKEN is not set");
        return (StatusCode::FORBIDDEN, "webhook verification is not configured").into_response();
    };
    let mode_ok = params.get("hub.mode").is_some_and(|m| m == "subscribe");
    let token_ok = params
        .get("hub.verify_token")
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected.expose_secret().as_bytes())));
    match (mode_ok && token_ok, params.get("hub.challenge")) {
        (true, Some(challenge)) => (StatusCode::OK, challenge.clone()).into_response(),
        _ => (StatusCode::FORBIDDEN, "verification failed").into_response(),
    }
}

/// A webhook delivery.
pub async fn receive(State(state): State<InboundState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &state.config.whatsapp.app_secret else {
        state.refusals.refuse("whatsapp", "no_app_secret");
        return reply(
            StatusCode::UNAUTHORIZED,
            "webhook signatures cannot be verified: no app secret is configured",
        );
    };
    let header = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    if !signature_valid(secret.expose_secret().as_bytes(), &body, header) {
        state.refusals.refuse("whatsapp", if header.is_some() { "bad_signature" } else { "no_signature" });
        return reply(StatusCode::UNAUTHORIZED, "missing or invalid X-Hub-Signature-256");
    }
    let webhook: Webhook = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(err) => {
            let message = format!("the body is not a WhatsApp webhook: {err}");
            return reply(StatusCode::BAD_REQUEST, &message);
        }
    };
    match state.committer.submit(webhook, Utc::now()).await {
        Ok(summary) => {
            tracing::info!(
                messages = summary.messages,
                duplicates = summary.duplicates,
                statuses = summary.statuses,
                dead_letters = summary.dead_letters,
                "webhook stored"
            );
            for (outcome, n) in [
                ("stored", summary.messages),
                ("duplicate", summary.duplicates),
                ("dead_letter", summary.dead_letters),
            ] {
                metrics::counter!("parley_inbound_messages_total", "channel" => "whatsapp", "outcome" => outcome)
                    .increment(n as u64);
            }
            (StatusCode::OK, axum::Json(summary)).into_response()
        }
        Err(err) if err.is_unavailable() => {
            tracing::warn!("webhook not stored: database unavailable; Meta will retry");
            reply(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable; retry later")
        }
        Err(err) => {
            tracing::error!(error = ?err, "webhook not stored");
            reply(StatusCode::SERVICE_UNAVAILABLE, "the webhook could not be stored; retry later")
        }
    }
}
