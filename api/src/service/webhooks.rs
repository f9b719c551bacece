//! CRM webhook endpoints (admins): create (the `whsec_…` secret is shown once), delete,
//! resume a paused one, redeliver a delivery. Target URLs are checked so an admin cannot aim
//! Parley at internal services: http(s) only, and no loopback, private, link-local or
//! unspecified address unless `PARLEY_WEBHOOK_ALLOW_PRIVATE_TARGETS` allows it (checked again
//! on every delivery against what the host name resolves to).

use std::net::IpAddr;

use base64::Engine;
use chrono::{DateTime, Utc};
use domain::{WebhookDeliveryId, WebhookEndpointId};
use persistence::entities::{webhook_delivery, webhook_endpoint};
use persistence::{Database, events, webhooks};
use rand::RngCore;
use sea_orm::ActiveValue::Set;
use sea_orm::IntoActiveModel;

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// Whether an address is one an outside webhook must not target.
#[must_use]
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]) // carrier-grade NAT
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Checks a webhook URL.
///
/// # Errors
/// `BAD_USER_INPUT` naming what is wrong.
pub fn validate_url(url: &str, allow_private: bool) -> ApiResult<reqwest::Url> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| ApiError::bad_input(format!("url: {e}")))?;
    if parsed.scheme() != "https" && parsed.scheme() != "http" {
        return Err(ApiError::bad_input("url must use http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::bad_input("url must not carry credentials"));
    }
    let host = parsed.host().ok_or_else(|| ApiError::bad_input("url needs a host"))?;
    if !allow_private {
        let private = match host {
            url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.to_ascii_lowercase();
                name == "localhost"
                    || name.ends_with(".localhost")
                    || name.ends_with(".internal")
                    || name.ends_with(".local")
            }
        };
        if private {
            return Err(ApiError::bad_input(
                "url targets a private or loopback address, which is not allowed",
            ));
        }
    }
    Ok(parsed)
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Creates an endpoint that receives events from now on. Returns it and its secret.
///
/// # Errors
/// `FORBIDDEN`, `BAD_USER_INPUT` for the URL or an unknown event type.
pub async fn create(
    db: &Database,
    viewer: &Viewer,
    url: &str,
    event_types: &[String],
    allow_private: bool,
    now: DateTime<Utc>,
) -> ApiResult<(webhook_endpoint::Model, String)> {
    viewer.require_admin()?;
    let url = validate_url(url, allow_private)?;
    if let Some(bad) = event_types.iter().find(|t| !events::types::ALL.contains(&t.as_str())) {
        return Err(ApiError::bad_input(format!("unknown event type {bad:?}")));
    }
    let secret = new_secret();
    let txn = db.begin().await.map_err(super::commit_error)?;
    let start = events::latest_cursor(&*txn, viewer.workspace_id).await?;
    let endpoint =
        webhooks::create_endpoint(&*txn, viewer.workspace_id, url.as_str(), &secret, event_types, start, now)
            .await?;
    let details = serde_json::json!({ "url": endpoint.url, "eventTypes": event_types });
    super::audit(&*txn, viewer, "webhook_endpoint.created", ("webhook_endpoint", endpoint.id), details, now)
        .await?;
    txn.commit().await.map_err(super::commit_error)?;
    Ok((endpoint, secret))
}

/// # Errors
/// `FORBIDDEN`, `NOT_FOUND`.
pub async fn delete(
    db: &Database,
    viewer: &Viewer,
    id: WebhookEndpointId,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    viewer.require_admin()?;
    let txn = db.begin().await.map_err(super::commit_error)?;
    if !webhooks::delete_endpoint(&*txn, viewer.workspace_id, id).await? {
        return Err(ApiError::NotFound("webhook endpoint"));
    }
    super::audit(
        &*txn,
        viewer,
        "webhook_endpoint.deleted",
        ("webhook_endpoint", id.as_uuid()),
        serde_json::json!({}),
        now,
    )
    .await?;
    txn.commit().await.map_err(super::commit_error)?;
    Ok(true)
}

/// Un-pauses an endpoint; its queued deliveries resume in order.
///
/// # Errors
/// `FORBIDDEN`, `NOT_FOUND`.
pub async fn resume(
    db: &Database,
    viewer: &Viewer,
    id: WebhookEndpointId,
    now: DateTime<Utc>,
) -> ApiResult<webhook_endpoint::Model> {
    viewer.require_admin()?;
    let endpoint = webhooks::find_endpoint(db.conn(), viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))?;
    let mut change = endpoint.into_active_model();
    change.paused_at = Set(None);
    change.consecutive_failures = Set(0);
    change.updated_at = Set(now);
    let txn = db.begin().await.map_err(super::commit_error)?;
    let saved = webhooks::update_endpoint(&*txn, change).await?;
    super::audit(
        &*txn,
        viewer,
        "webhook_endpoint.resumed",
        ("webhook_endpoint", saved.id),
        serde_json::json!({}),
        now,
    )
    .await?;
    txn.commit().await.map_err(super::commit_error)?;
    Ok(saved)
}

/// Sends a delivery again (whatever its state), as soon as possible.
///
/// # Errors
/// `FORBIDDEN`, `NOT_FOUND`.
pub async fn redeliver(
    db: &Database,
    viewer: &Viewer,
    id: WebhookDeliveryId,
    now: DateTime<Utc>,
) -> ApiResult<webhook_delivery::Model> {
    viewer.require_admin()?;
    let delivery = webhooks::find_delivery(db.conn(), viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook delivery"))?;
    let mut change = delivery.into_active_model();
    change.status = Set(webhooks::status::PENDING.to_owned());
    change.attempts = Set(0);
    change.next_attempt_at = Set(Some(now));
    change.created_at = Set(now);
    change.updated_at = Set(now);
    let txn = db.begin().await.map_err(super::commit_error)?;
    let saved = webhooks::update_delivery(&*txn, change).await?;
    let details = serde_json::json!({ "endpointId": saved.endpoint_id, "eventId": saved.event_id });
    super::audit(&*txn, viewer, "webhook_delivery.redelivered", ("webhook_delivery", saved.id), details, now)
        .await?;
    txn.commit().await.map_err(super::commit_error)?;
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(validate_url("https://crm.example.com/hooks/parley", false).is_ok());
        for bad in [
            "ftp://crm.example.com/x",
            "not a url",
            "https://user:pw@crm.example.com/",
            "http://127.0.0.1:8080/",
            "http://localhost/x",
            "http://10.1.2.3/",
            "http://192.168.0.10/",
            "http://172.16.5.4/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://0.0.0.0/",
            "http://metadata.internal/",
        ] {
            assert!(validate_url(bad, false).is_err(), "{bad}");
        }
        assert!(validate_url("http://127.0.0.1:9000/hook", true).is_ok(), "allowed by the setting");
    }
}
