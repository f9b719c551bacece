//! CRM webhook endpoints (admins): create (the `whsec_…` secret is shown once), delete,
//! resume a paused one, redeliver a delivery. Target URLs go through [`super::guard`].

use base64::Engine;
use chrono::{DateTime, Utc};
use domain::{WebhookDeliveryId, WebhookEndpointId};
use persistence::sealed::{Keyring, Purpose};
use persistence::{Database, crm, events, workspaces};
use rand::RngCore;

use super::guard::validate_url;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// Most CRM endpoints one workspace may have: the dispatcher serves workspaces in turn, and
/// this keeps one tenant's share of every pass bounded.
pub const MAX_ENDPOINTS_PER_WORKSPACE: u64 = 20;

/// The complexity of the endpoint list: priced as a full workspace's worth of endpoints.
#[must_use]
pub fn list_cost(child_complexity: usize) -> usize {
    usize::try_from(MAX_ENDPOINTS_PER_WORKSPACE)
        .unwrap_or(20)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Creates an endpoint that receives events from now on. Returns it and its secret.
///
/// # Errors
/// `FORBIDDEN`, `BAD_USER_INPUT` for the URL or an unknown event type, `CONFLICT` when the
/// workspace has [`MAX_ENDPOINTS_PER_WORKSPACE`] already.
pub async fn create(
    db: &Database,
    viewer: &Viewer,
    url: &str,
    event_types: &[String],
    allow_private: bool,
    keyring: &Keyring,
    now: DateTime<Utc>,
) -> ApiResult<(crm::Endpoint, String)> {
    viewer.require_admin()?;
    let url = validate_url(url, allow_private)?;
    crate::events::validate_types(Some(event_types))?;
    let secret = new_secret();
    let sealed = keyring.seal(Purpose::WebhookSecret, &secret);
    db.write(async |txn| {
        workspaces::lock(txn, viewer.workspace_id).await?;
        if crm::count_endpoints(txn, viewer.workspace_id).await? >= MAX_ENDPOINTS_PER_WORKSPACE {
            return Err(ApiError::Conflict(format!(
                "A workspace may have at most {MAX_ENDPOINTS_PER_WORKSPACE} webhook endpoints; delete one first."
            )));
        }
        let start = events::latest_cursor(txn, viewer.workspace_id).await?;
        let endpoint =
            crm::create_endpoint(txn, viewer.workspace_id, url.as_str(), sealed, event_types, start, now)
                .await?;
        let details = serde_json::json!({ "url": endpoint.url, "eventTypes": event_types });
        crate::store::audit(
            txn,
            viewer,
            "webhook_endpoint.created",
            ("webhook_endpoint", endpoint.id),
            details,
            now,
        )
        .await?;
        Ok((endpoint, secret))
    })
    .await
}

/// How long a rotated-out secret keeps signing, so receivers can switch without losing events.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// Gives an endpoint a new secret, returned once; for [`ROTATION_OVERLAP`] both the new and the
/// old secret sign each delivery (Standard Webhooks allows several signatures).
///
/// # Errors
/// `FORBIDDEN`, `NOT_FOUND`.
pub async fn rotate_secret(
    db: &Database,
    viewer: &Viewer,
    id: WebhookEndpointId,
    keyring: &Keyring,
    now: DateTime<Utc>,
) -> ApiResult<(crm::Endpoint, String)> {
    viewer.require_admin()?;
    let secret = new_secret();
    let sealed = keyring.seal(Purpose::WebhookSecret, &secret);
    db.write(async |txn| {
        let endpoint = crm::find_endpoint(txn, viewer.workspace_id, id)
            .await?
            .ok_or(ApiError::NotFound("webhook endpoint"))?;
        let saved = crm::rotate_secret(txn, endpoint, sealed, now + ROTATION_OVERLAP, now).await?;
        let details = serde_json::json!({ "previousSecretUntil": saved.previous_secret_until });
        crate::store::audit(
            txn,
            viewer,
            "webhook_endpoint.secret_rotated",
            ("webhook_endpoint", saved.id),
            details,
            now,
        )
        .await?;
        Ok((saved, secret))
    })
    .await
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
    db.write(async |txn| {
        if !crm::delete_endpoint(txn, viewer.workspace_id, id).await? {
            return Err(ApiError::NotFound("webhook endpoint"));
        }
        crate::store::audit(
            txn,
            viewer,
            "webhook_endpoint.deleted",
            ("webhook_endpoint", id),
            serde_json::json!({}),
            now,
        )
        .await?;
        Ok(true)
    })
    .await
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
) -> ApiResult<crm::Endpoint> {
    viewer.require_admin()?;
    let endpoint = crm::find_endpoint(db.conn(), viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))?;
    db.write(async |txn| {
        let saved = crm::resume_endpoint(txn, endpoint, now).await?;
        crate::store::audit(
            txn,
            viewer,
            "webhook_endpoint.resumed",
            ("webhook_endpoint", saved.id),
            serde_json::json!({}),
            now,
        )
        .await?;
        Ok(saved)
    })
    .await
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
) -> ApiResult<crm::Delivery> {
    viewer.require_admin()?;
    let delivery = crm::find_delivery(db.conn(), viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook delivery"))?;
    db.write(async |txn| {
        let saved = crm::requeue_delivery(txn, delivery, now).await?;
        let details = serde_json::json!({ "endpointId": saved.endpoint_id, "eventId": saved.event_id });
        crate::store::audit(
            txn,
            viewer,
            "webhook_delivery.redelivered",
            ("webhook_delivery", saved.id),
            details,
            now,
        )
        .await?;
        Ok(saved)
    })
    .await
}

/// The workspace's CRM endpoints (admins).
///
/// # Errors
/// `FORBIDDEN` for non-admins, storage failures.
pub async fn list(db: &Database, viewer: &Viewer) -> ApiResult<Vec<crm::Endpoint>> {
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
) -> ApiResult<Vec<crm::Delivery>> {
    Ok(crm::recent_deliveries(db.conn(), workspace, endpoint, limit).await?)
}
