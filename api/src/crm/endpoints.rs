//! CRM webhook endpoints (admins): create (the `whsec_…` secret is shown once), delete,
//! resume a paused one, redeliver a delivery. Target URLs go through [`super::guard`].

use base64::Engine;
use chrono::{DateTime, Utc};
use domain::{WebhookDeliveryId, WebhookEndpointId};
use persistence::entities::{webhook_delivery, webhook_endpoint};
use persistence::{Database, crm, events};
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
    crate::events::validate_types(Some(event_types))?;
    let secret = new_secret();
    let txn = db.begin().await.map_err(crate::store::commit_error)?;
    let start = events::latest_cursor(&*txn, viewer.workspace_id).await?;
    let endpoint =
        crm::create_endpoint(&*txn, viewer.workspace_id, url.as_str(), &secret, event_types, start, now)
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
    if !crm::delete_endpoint(&*txn, viewer.workspace_id, id).await? {
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
    let endpoint = crm::find_endpoint(db.conn(), viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))?;
    let txn = db.begin().await.map_err(crate::store::commit_error)?;
    let saved = crm::resume_endpoint(&*txn, endpoint, now).await?;
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
    let delivery = crm::find_delivery(db.conn(), viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook delivery"))?;
    let txn = db.begin().await.map_err(crate::store::commit_error)?;
    let saved = crm::requeue_delivery(&*txn, delivery, now).await?;
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

/// The workspace's CRM endpoints (admins).
///
/// # Errors
/// `FORBIDDEN` for non-admins, storage failures.
pub async fn list(db: &Database, viewer: &Viewer) -> ApiResult<Vec<webhook_endpoint::Model>> {
    viewer.require_admin()?;
    Ok(crm::list_endpoints(db.conn(), viewer.workspace_id).await?)
}

/// An endpoint's most recent deliveries, newest event first.
///
/// # Errors
/// Storage failures.
pub async fn deliveries(
    db: &Database,
    workspace: domain::WorkspaceId,
    endpoint: WebhookEndpointId,
    limit: u64,
) -> ApiResult<Vec<webhook_delivery::Model>> {
    Ok(crm::recent_deliveries(db.conn(), workspace, endpoint, limit).await?)
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
