//! CRM webhook endpoints and their deliveries.

use chrono::{DateTime, Utc};
use domain::{WebhookDeliveryId, WebhookEndpointId, WorkspaceId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::entities::{event, webhook_delivery, webhook_endpoint};
use crate::error::{DbContext, StoreError};

/// Delivery states.
pub mod status {
    pub const PENDING: &str = "PENDING";
    pub const DELIVERED: &str = "DELIVERED";
    pub const FAILED: &str = "FAILED";
}

/// # Errors
/// On a database failure.
pub async fn create_endpoint(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    url: &str,
    secret: &str,
    event_types: &[String],
    start_after: i64,
    now: DateTime<Utc>,
) -> Result<webhook_endpoint::Model, StoreError> {
    let model = webhook_endpoint::ActiveModel {
        id: Set(WebhookEndpointId::new().as_uuid()),
        workspace_id: Set(workspace.as_uuid()),
        url: Set(url.to_owned()),
        secret: Set(secret.to_owned()),
        event_types: Set(Value::from(event_types.to_vec())),
        active: Set(true),
        paused_at: Set(None),
        consecutive_failures: Set(0),
        enqueued_cursor: Set(start_after),
        lease_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    webhook_endpoint::Entity::insert(model)
        .exec_with_returning(db)
        .await
        .context("failed to create webhook endpoint")
}

/// # Errors
/// On a database failure.
pub async fn find_endpoint(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: WebhookEndpointId,
) -> Result<Option<webhook_endpoint::Model>, StoreError> {
    webhook_endpoint::Entity::find_by_id(id.as_uuid())
        .filter(webhook_endpoint::Column::WorkspaceId.eq(workspace.as_uuid()))
        .one(db)
        .await
        .context("failed to load webhook endpoint")
}

/// # Errors
/// On a database failure.
pub async fn list_endpoints(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
) -> Result<Vec<webhook_endpoint::Model>, StoreError> {
    webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::WorkspaceId.eq(workspace.as_uuid()))
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .all(db)
        .await
        .context("failed to list webhook endpoints")
}

/// Deletes an endpoint and its deliveries; `false` when there was none.
///
/// # Errors
/// On a database failure.
pub async fn delete_endpoint(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: WebhookEndpointId,
) -> Result<bool, StoreError> {
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::EndpointId.eq(id.as_uuid()))
        .filter(webhook_delivery::Column::WorkspaceId.eq(workspace.as_uuid()))
        .exec(db)
        .await
        .context("failed to delete deliveries")?;
    let result = webhook_endpoint::Entity::delete_many()
        .filter(webhook_endpoint::Column::Id.eq(id.as_uuid()))
        .filter(webhook_endpoint::Column::WorkspaceId.eq(workspace.as_uuid()))
        .exec(db)
        .await
        .context("failed to delete webhook endpoint")?;
    Ok(result.rows_affected > 0)
}

/// # Errors
/// On a database failure.
pub async fn update_endpoint(
    db: &impl ConnectionTrait,
    model: webhook_endpoint::ActiveModel,
) -> Result<webhook_endpoint::Model, StoreError> {
    model.update(db).await.context("failed to update webhook endpoint")
}

/// The most recent deliveries of an endpoint.
///
/// # Errors
/// On a database failure.
pub async fn recent_deliveries(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    endpoint: WebhookEndpointId,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>, StoreError> {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::WorkspaceId.eq(workspace.as_uuid()))
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint.as_uuid()))
        .order_by_desc(webhook_delivery::Column::EventCursor)
        .limit(limit)
        .all(db)
        .await
        .context("failed to list deliveries")
}

/// # Errors
/// On a database failure.
pub async fn find_delivery(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: WebhookDeliveryId,
) -> Result<Option<webhook_delivery::Model>, StoreError> {
    webhook_delivery::Entity::find_by_id(id.as_uuid())
        .filter(webhook_delivery::Column::WorkspaceId.eq(workspace.as_uuid()))
        .one(db)
        .await
        .context("failed to load delivery")
}

/// # Errors
/// On a database failure.
pub async fn update_delivery(
    db: &impl ConnectionTrait,
    model: webhook_delivery::ActiveModel,
) -> Result<webhook_delivery::Model, StoreError> {
    model.update(db).await.context("failed to update delivery")
}

/// Creates the deliveries of new events for every endpoint (paused ones too: nothing is lost
/// while an endpoint is paused). Returns how many were created.
///
/// # Errors
/// On a database failure.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    per_endpoint: u64,
) -> Result<usize, StoreError> {
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Active.eq(true))
        .all(db)
        .await
        .context("failed to list endpoints to enqueue")?;
    let mut created = 0;
    for endpoint in endpoints {
        let events = event::Entity::find()
            .filter(event::Column::WorkspaceId.eq(endpoint.workspace_id))
            .filter(event::Column::Cursor.gt(endpoint.enqueued_cursor))
            .order_by_asc(event::Column::Cursor)
            .limit(per_endpoint)
            .all(db)
            .await
            .context("failed to read events to enqueue")?;
        let Some(last) = events.last().map(|e| e.cursor) else { continue };
        let wanted: Vec<String> = serde_json::from_value(endpoint.event_types.clone()).unwrap_or_default();
        let rows: Vec<webhook_delivery::ActiveModel> = events
            .iter()
            .filter(|e| wanted.is_empty() || wanted.contains(&e.event_type))
            .map(|e| webhook_delivery::ActiveModel {
                id: Set(WebhookDeliveryId::new().as_uuid()),
                workspace_id: Set(endpoint.workspace_id),
                endpoint_id: Set(endpoint.id),
                event_id: Set(e.id),
                event_cursor: Set(e.cursor),
                status: Set(status::PENDING.to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(Some(now)),
                last_status_code: Set(None),
                last_error: Set(None),
                delivered_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect();
        created += rows.len();
        if !rows.is_empty() {
            webhook_delivery::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([
                        webhook_delivery::Column::EndpointId,
                        webhook_delivery::Column::EventId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(db)
                .await
                .context("failed to enqueue deliveries")?;
        }
        let mut progress: webhook_endpoint::ActiveModel = endpoint.into();
        progress.enqueued_cursor = Set(last);
        progress.update(db).await.context("failed to record enqueue progress")?;
    }
    Ok(created)
}

/// A delivery claimed for sending, with its endpoint and event.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub endpoint: webhook_endpoint::Model,
    pub delivery: webhook_delivery::Model,
    pub event: event::Model,
}

/// Claims the head-of-line delivery (lowest cursor still pending) of endpoints that are due:
/// active, not paused, not leased by another sender, head due. Leases the endpoint until
/// `lease_until` so one endpoint is sent to by one sender at a time, in cursor order.
///
/// # Errors
/// On a database failure.
pub async fn claim_heads(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Claimed>, StoreError> {
    let mut query = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Active.eq(true))
        .filter(webhook_endpoint::Column::PausedAt.is_null())
        .filter(
            Condition::any()
                .add(webhook_endpoint::Column::LeaseUntil.is_null())
                .add(webhook_endpoint::Column::LeaseUntil.lt(now)),
        )
        .order_by_asc(webhook_endpoint::Column::Id)
        .limit(limit);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    let endpoints = query.all(db).await.context("failed to claim endpoints")?;
    let mut claimed = Vec::new();
    for endpoint in endpoints {
        let head = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id))
            .filter(webhook_delivery::Column::Status.eq(status::PENDING))
            .order_by_asc(webhook_delivery::Column::EventCursor)
            .one(db)
            .await
            .context("failed to read the head delivery")?;
        let Some(head) = head.filter(|d| d.next_attempt_at.is_none_or(|at| at <= now)) else { continue };
        let Some(event) =
            event::Entity::find_by_id(head.event_id).one(db).await.context("failed to load event")?
        else {
            continue;
        };
        let mut lease: webhook_endpoint::ActiveModel = endpoint.into();
        lease.lease_until = Set(Some(lease_until));
        let endpoint = lease.update(db).await.context("failed to lease endpoint")?;
        let attempts = head.attempts + 1;
        let mut attempt: webhook_delivery::ActiveModel = head.into();
        attempt.attempts = Set(attempts);
        attempt.updated_at = Set(now);
        let delivery = attempt.update(db).await.context("failed to mark the attempt")?;
        claimed.push(Claimed { endpoint, delivery, event });
    }
    Ok(claimed)
}
