//! `POST /webhooks/sms`: the SMS provider's form posts, checked before anything is stored.
//!
//! Every post is signed (`X-Twilio-Signature`, keyed by the number's auth token, over the URL
//! the provider called: `PARLEY_PUBLIC_URL` + `/webhooks/sms`): a missing or wrong signature is
//! `403` and nothing is stored. A body that is not form-encoded is `400`; a post for a number no
//! workspace has connected is `404` and stores nothing either: there is no auth token to verify
//! it with, so it is anyone's, and writing for it would let anyone fill the disk and hold
//! SQLite's writer (it is counted in `/metrics` and logged sparingly).
//! A verified post goes to the group committer ([`super::apply`] stores it) and is answered
//! with an empty TwiML document once committed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::PhoneNumber;
use persistence::sealed::Purpose;
use persistence::{Database, business_numbers};
use serde_json::json;

use super::apply::Applied;
use super::read::{Form, Post, SmsPost, form_field};
use crate::config::Config;
use crate::inbound::batch::WebhookCommitter;
use crate::providers::sms::{WEBHOOK_PATH, signature_matches};

/// A form post is small: the provider's fields and at most 1,600 characters of text.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What the SMS webhook needs.
#[derive(Clone)]
pub struct SmsState {
    pub db: Database,
    pub config: Arc<Config>,
    /// Stores verified posts, committing concurrent ones together (with Meta's webhooks).
    pub committer: WebhookCommitter,
    /// Counts (and sparingly logs) posts refused before they were verified.
    pub refusals: crate::telemetry::Refusals,
}

/// The answer the provider expects: an empty TwiML document (no auto-reply).
fn empty_twiml() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Parses a form-encoded body: `None` when it is not one (wrong content type, not UTF-8, or
/// without the provider's `MessageSid`).
fn parse_form(headers: &HeaderMap, body: &[u8]) -> Option<Form> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return None;
    }
    std::str::from_utf8(body).ok()?;
    let form: Form = url::form_urlencoded::parse(body).into_owned().collect();
    form_field(&form, "MessageSid").filter(|sid| !sid.trim().is_empty())?;
    Some(form)
}

/// The URL the provider signed: `PARLEY_PUBLIC_URL` + the path (and query) it called; without
/// a public URL, `http://` + the `Host` it called (behind a proxy, set `PARLEY_PUBLIC_URL`).
fn signed_url(config: &Config, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path_and_query().map_or(WEBHOOK_PATH, |p| p.as_str());
    match &config.public_url {
        Some(public) => format!("{public}{path}"),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}{path}")
        }
    }
}

/// A form post from the SMS provider.
pub async fn receive(State(state): State<SmsState>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let Some(form) = parse_form(&headers, &body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "expected an application/x-www-form-urlencoded post with a MessageSid",
        );
    };
    let Some(given) = headers.get("x-twilio-signature").and_then(|h| h.to_str().ok()) else {
        state.refusals.refuse("sms", "no_signature");
        return refuse(StatusCode::FORBIDDEN, "X-Twilio-Signature is missing");
    };
    let kind = Post::of(&form);
    let routed_by = form_field(&form, kind.routed_by());
    let number = match routed_by.map(|p| PhoneNumber::parse(p.trim())) {
        Some(Ok(phone)) => match business_numbers::find_sms(state.db.conn(), &phone).await {
            Ok(number) => number,
            Err(err) => return unavailable(&err),
        },
        _ => None,
    };
    let Some(number) = number.filter(|n| n.connected) else {
        state.refusals.refuse("sms", "unknown_number");
        return refuse(StatusCode::NOT_FOUND, "no workspace has connected this number");
    };
    let Some(sealed) = &number.sms_auth_token_sealed else {
        tracing::error!("an SMS number has no auth token; its posts cannot be verified");
        return refuse(StatusCode::FORBIDDEN, "the number's signature cannot be checked");
    };
    let token = match state.config.secrets.open(Purpose::SmsAuthToken, sealed) {
        Ok(token) => token,
        Err(err) => {
            tracing::error!(error = %err, "an SMS number's auth token does not open");
            return refuse(StatusCode::FORBIDDEN, "the number's signature cannot be checked");
        }
    };
    if !signature_matches(&token, &signed_url(&state.config, &headers, &uri), &form, given) {
        state.refusals.refuse("sms", "bad_signature");
        return refuse(StatusCode::FORBIDDEN, "X-Twilio-Signature does not match");
    }
    let post = SmsPost { number, form, kind };
    match state.committer.submit(post, Utc::now()).await {
        Ok(Applied::Refused(reason)) => refuse(StatusCode::BAD_REQUEST, reason),
        Ok(applied) => {
            let outcome = match applied {
                Applied::Stored => Some("stored"),
                Applied::Duplicate => Some("duplicate"),
                Applied::Status | Applied::Refused(_) => None,
            };
            if let Some(outcome) = outcome {
                metrics::counter!("parley_inbound_messages_total", "channel" => "sms", "outcome" => outcome)
                    .increment(1);
            }
            empty_twiml()
        }
        Err(err) => unavailable(&err),
    }
}

fn unavailable(err: &persistence::Error) -> Response {
    if err.is_unavailable() {
        tracing::warn!(error = %err, "SMS webhook: database unavailable");
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable; retry");
    }
    tracing::error!(error = ?err, "SMS webhook failed");
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8".parse().unwrap(),
        );
        headers
    }

    #[test]
    fn only_form_posts_with_a_message_sid_parse() {
        let body = b"MessageSid=SM1&From=%2B14155550110&Body=Hi+there";
        let form = parse_form(&form_headers(), body).unwrap();
        assert!(form.contains(&("Body".to_owned(), "Hi there".to_owned())));
        assert!(form.contains(&("From".to_owned(), "+14155550110".to_owned())));
        assert!(parse_form(&form_headers(), b"From=%2B1").is_none(), "no MessageSid");
        assert!(parse_form(&form_headers(), b"\xff\xfe").is_none(), "not UTF-8");
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(parse_form(&json, br#"{"MessageSid":"SM1"}"#).is_none());
        assert!(parse_form(&HeaderMap::new(), body).is_none(), "no content type");
    }
}
