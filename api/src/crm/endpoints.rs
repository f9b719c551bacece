//! CRM webhook endpoints (admins): create (the `whsec_…` secret is shown once), delete,
//! resume a paused one, redeliver a delivery. Target URLs go through [`super::guard`].

use base64::Engine;
use chrono::{DateTime, Utc};
use domain::{WebhookDeliveryId, WebhookEndpointId};
use persistence::entities::{webhook_delivery, webhook_endpoint};
use persistence::{Database, events, webhooks};
use rand::RngCore;

use super::guard::validate_url;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

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
    let txn = db.begin().await.map_err(crate::store::commit_error)?;
    let start = events::latest_cursor(&*txn, viewer.workspace_id).await?;
    let endpoint =
        webhooks::create_endpoint(&*txn, viewer.workspace_id, url.as_str(), &secret, event_types, start, now)
            .await?;
    let details = serde_json::json!({ "url": endpoint.url, "eventTypes": event_types });
    crate::store::audit(
        &*txn,
        viewer,
        "webhook_endpoint.created",
        ("webhook_endpoint", endpoint.id),
        details,
        now,
    )
    .await?;
    txn.commit().await.map_err(crate::store::commit_error)?;
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
    let txn = db.begin().await.map_err(crate::store::commit_error)?;
    if !webhooks::delete_endpoint(&*txn, viewer.workspace_id, id).await? {
        return Err(ApiError::NotFound("webhook endpoint"));
    }
    crate::store::audit(
        &*txn,
        viewer,
        "webhook_endpoint.deleted",
        ("webhook_endpoint", id),
        serde_json::json!({}),
        now,
    )
    .await?;
    txn.commit().await.map_err(crate::store::commit_error)?;
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
    let txn = db.begin().await.map_err(crate::store::commit_error)?;
    let saved = webhooks::resume_endpoint(&*txn, endpoint, now).await?;
    crate::store::audit(
        &*txn,
        viewer,
        "webhook_endpoint.resumed",
        ("webhook_endpoint", saved.id),
        serde_json::json!({}),
        now,
    )
    .await?;
    txn.commit().await.map_err(crate::store::commit_error)?;
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
    let txn = db.begin().await.map_err(crate::store::commit_error)?;
    let saved = webhooks::requeue_delivery(&*txn, delivery, now).await?;
    let details = serde_json::json!({ "endpointId": saved.endpoint_id, "eventId": saved.event_id });
    crate::store::audit(
        &*txn,
        viewer,
        "webhook_delivery.redelivered",
        ("webhook_delivery", saved.id),
        details,
        now,
    )
    .await?;
    txn.commit().await.map_err(crate::store::commit_error)?;
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
