//! CRM webhook endpoints and their deliveries (Meta's inbound webhooks are not stored here:
//! they become messages, statuses and dead letters).

use crate::content::EventTypes;
use crate::dialect::{Dialect, Queue, ids_in_turns};
use crate::entities::{event, webhook_delivery, webhook_endpoint};
use crate::error::{DbContext, Error};
use crate::sealed::Sealed;
use crate::work::{Announce, Work};
use chrono::{DateTime, Utc};
use domain::{DeliveryStatus, WebhookDeliveryId, WebhookEndpointId, WorkspaceId};
use sea_orm::sea_query::OnConflict;

/// A CRM endpoint as stored: its URL, sealed secrets, event types, lease and health.
pub type Endpoint = webhook_endpoint::Model;

/// One event's delivery to one endpoint, with its attempts.
pub type Delivery = webhook_delivery::Model;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

/// # Errors
/// On a database failure.
pub async fn create_endpoint(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    url: &str,
    secret: Sealed,
    event_types: &[String],
    start_after: i64,
    now: DateTime<Utc>,
) -> Result<Endpoint, Error> {
    let model = webhook_endpoint::ActiveModel {
        id: Set(WebhookEndpointId::new()),
        workspace_id: Set(workspace),
        url: Set(url.to_owned()),
        secret: Set(secret),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        event_types: Set(EventTypes(event_types.to_vec())),
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
) -> Result<Option<Endpoint>, Error> {
    webhook_endpoint::Entity::find_by_id(id)
        .filter(webhook_endpoint::Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load webhook endpoint")
}

/// # Errors
/// On a database failure.
pub async fn list_endpoints(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
) -> Result<Vec<Endpoint>, Error> {
    webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::WorkspaceId.eq(workspace))
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
) -> Result<bool, Error> {
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::EndpointId.eq(id))
        .filter(webhook_delivery::Column::WorkspaceId.eq(workspace))
        .exec(db)
        .await
        .context("failed to delete deliveries")?;
    let result = webhook_endpoint::Entity::delete_many()
        .filter(webhook_endpoint::Column::Id.eq(id))
        .filter(webhook_endpoint::Column::WorkspaceId.eq(workspace))
        .exec(db)
        .await
        .context("failed to delete webhook endpoint")?;
    Ok(result.rows_affected > 0)
}

/// Replaces an endpoint's secret; the one it replaces keeps signing until `previous_until`.
///
/// # Errors
/// On a database failure.
pub async fn rotate_secret(
    db: &impl ConnectionTrait,
    endpoint: Endpoint,
    secret: Sealed,
    previous_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Endpoint, Error> {
    let previous = endpoint.secret.clone();
    let mut change = endpoint.into_active_model();
    change.secret = Set(secret);
    change.previous_secret = Set(Some(previous));
    change.previous_secret_until = Set(Some(previous_until));
    change.updated_at = Set(now);
    change.update(db).await.context("failed to rotate the webhook secret")
}

/// Un-pauses an endpoint: its failure count starts again from zero.
///
/// # Errors
/// On a database failure.
pub async fn resume_endpoint(
    db: &impl Announce,
    endpoint: Endpoint,
    now: DateTime<Utc>,
) -> Result<Endpoint, Error> {
    db.announce(Work::Crm);
    let mut change = endpoint.into_active_model();
    change.paused_at = Set(None);
    change.consecutive_failures = Set(0);
    change.updated_at = Set(now);
    change.update(db).await.context("failed to resume webhook endpoint")
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
) -> Result<Vec<Delivery>, Error> {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::WorkspaceId.eq(workspace))
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint))
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
) -> Result<Option<Delivery>, Error> {
    webhook_delivery::Entity::find_by_id(id)
        .filter(webhook_delivery::Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load delivery")
}

/// Queues a delivery again, due now, with a fresh retry window (manual redelivery).
///
/// # Errors
/// On a database failure.
pub async fn requeue_delivery(
    db: &impl Announce,
    delivery: Delivery,
    now: DateTime<Utc>,
) -> Result<Delivery, Error> {
    db.announce(Work::Crm);
    let mut change = delivery.into_active_model();
    change.status = Set(DeliveryStatus::Pending);
    change.attempts = Set(0);
    change.next_attempt_at = Set(Some(now));
    change.created_at = Set(now);
    change.updated_at = Set(now);
    change.update(db).await.context("failed to requeue delivery")
}

/// What one POST to an endpoint came to, as the dispatcher decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered {
        status_code: i32,
    },
    /// Failed; `retry_at` is `None` when the delivery is given up (`FAILED`).
    Failed {
        status_code: Option<i32>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Records an attempt on a claimed delivery and releases the endpoint's lease: a success
/// resets the endpoint's failure count, a failure increments it and pauses the endpoint when it
/// reaches `pause_after`. Returns the endpoint as saved.
///
/// # Errors
/// On a database failure.
pub async fn record_attempt(
    db: &impl Announce,
    claimed: Claimed,
    result: AttemptResult,
    pause_after: i32,
    now: DateTime<Utc>,
) -> Result<Endpoint, Error> {
    // The endpoint's lease ends: its next delivery is ready for the dispatcher.
    db.announce(Work::Crm);
    let Claimed { endpoint, delivery, .. } = claimed;
    let failures = endpoint.consecutive_failures;
    let mut d = delivery.into_active_model();
    let mut e = endpoint.into_active_model();
    e.lease_until = Set(None);
    match result {
        AttemptResult::Delivered { status_code } => {
            d.status = Set(DeliveryStatus::Delivered);
            d.last_status_code = Set(Some(status_code));
            d.last_error = Set(None);
            d.delivered_at = Set(Some(now));
            d.next_attempt_at = Set(None);
            e.consecutive_failures = Set(0);
        }
        AttemptResult::Failed { status_code, error, retry_at } => {
            d.last_status_code = Set(status_code);
            d.last_error = Set(Some(error));
            d.next_attempt_at = Set(retry_at);
            if retry_at.is_none() {
                d.status = Set(DeliveryStatus::Failed);
            }
            let failures = failures + 1;
            e.consecutive_failures = Set(failures);
            if failures >= pause_after {
                e.paused_at = Set(Some(now));
            }
        }
    }
    d.updated_at = Set(now);
    e.updated_at = Set(now);
    d.update(db).await.context("failed to record the delivery attempt")?;
    e.update(db).await.context("failed to update webhook endpoint")
}

/// Creates the deliveries of new events for every endpoint (paused ones too: nothing is lost
/// while an endpoint is paused). Returns how many endpoints it moved
/// forward (a pass that moved none found no new events).
///
/// # Errors
/// On a database failure.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    per_endpoint: u64,
) -> Result<usize, Error> {
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Active.eq(true))
        .all(db)
        .await
        .context("failed to list endpoints to enqueue")?;
    let mut advanced = 0;
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
        advanced += 1;
        let rows: Vec<webhook_delivery::ActiveModel> = events
            .iter()
            .filter(|e| endpoint.event_types.wants(&e.event_type))
            .map(|e| webhook_delivery::ActiveModel {
                id: Set(WebhookDeliveryId::new()),
                workspace_id: Set(endpoint.workspace_id),
                endpoint_id: Set(endpoint.id),
                event_id: Set(e.id),
                event_cursor: Set(e.cursor),
                status: Set(DeliveryStatus::Pending),
                attempts: Set(0),
                next_attempt_at: Set(Some(now)),
                last_status_code: Set(None),
                last_error: Set(None),
                delivered_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect();
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
    Ok(advanced)
}

/// A delivery claimed for sending, with its endpoint and event.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub endpoint: Endpoint,
    pub delivery: Delivery,
    pub event: event::Model,
}

/// The endpoints whose head-of-line delivery (lowest cursor still pending) is due, free of any
/// sender's lease, in serving order: round-robin across workspaces (each workspace's
/// least recently served endpoint first, then each one's second…), so one tenant's many
/// endpoints, busy or idle, never starve another's. Only endpoints with due work are named:
/// idle ones cost nothing.
async fn due_in_turn(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<WebhookEndpointId>, Error> {
    let p = |n| Dialect::of(db).placeholder(n);
    let filter = format!(
        "active = {active} AND paused_at IS NULL AND (lease_until IS NULL OR lease_until < {now}) \
         AND EXISTS (SELECT 1 FROM webhook_deliveries d \
           WHERE d.endpoint_id = webhook_endpoints.id AND d.status = {pending} \
             AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= {now}) \
             AND d.event_cursor = (SELECT MIN(h.event_cursor) FROM webhook_deliveries h \
                                   WHERE h.endpoint_id = webhook_endpoints.id AND h.status = {pending}))",
        active = p(1),
        now = p(2),
        pending = p(3),
    );
    let values = vec![true.into(), now.into(), DeliveryStatus::Pending.as_str().into()];
    let queue =
        Queue { table: "webhook_endpoints", order: "updated_at", filter, values, per_workspace_index: false };
    ids_in_turns(db, &queue, limit).await
}

/// When the dispatcher next has something due (`None`: nothing waits): now when an active
/// endpoint has committed events it has not enqueued yet; else the earliest head-of-line
/// delivery of an active, unpaused endpoint, not before the endpoint's lease ends (a send in
/// flight holds it). Its idle poll: one statement, one row per active endpoint.
///
/// # Errors
/// On a database failure.
pub async fn next_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, Error> {
    let dialect = Dialect::of(db);
    let p = |n| dialect.placeholder(n);
    let sql = format!(
        "SELECT e.paused_at IS NOT NULL AS paused, e.lease_until AS lease, \
           EXISTS (SELECT 1 FROM events v WHERE v.workspace_id = e.workspace_id \
                   AND v.cursor > e.enqueued_cursor) AS behind, \
           EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id \
                   AND d.status = {pending}) AS waiting, \
           (SELECT h.next_attempt_at FROM webhook_deliveries h WHERE h.endpoint_id = e.id \
            AND h.status = {pending} ORDER BY h.event_cursor LIMIT 1) AS head \
         FROM webhook_endpoints e WHERE e.active = {active}",
        pending = p(1),
        active = p(2),
    );
    let values: Vec<sea_orm::Value> = vec![DeliveryStatus::Pending.as_str().into(), true.into()];
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(dialect.backend(), sql, values))
        .await
        .context("failed to read when deliveries are due")?;
    let mut next: Option<DateTime<Utc>> = None;
    for row in rows {
        let read =
            |e| Error::Unexpected(anyhow::Error::new(e).context("failed to read when deliveries are due"));
        let behind: bool = row.try_get("", "behind").map_err(read)?;
        let waiting: bool = row.try_get("", "waiting").map_err(read)?;
        let paused: bool = row.try_get("", "paused").map_err(read)?;
        let due = if behind {
            Some(DateTime::UNIX_EPOCH)
        } else if waiting && !paused {
            let lease: Option<DateTime<Utc>> = row.try_get("", "lease").map_err(read)?;
            let head: Option<DateTime<Utc>> = row.try_get("", "head").map_err(read)?;
            Some(lease.max(head).unwrap_or(DateTime::UNIX_EPOCH))
        } else {
            None
        };
        next = match (next, due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(next)
}

/// Claims the head-of-line delivery of up to `limit` endpoints that are due (see
/// [`due_in_turn`] for the order). Leases each endpoint until `lease_until` so one endpoint is
/// sent to by one sender at a time, in cursor order; on PostgreSQL an endpoint another process
/// is claiming right now is skipped (`FOR UPDATE SKIP LOCKED`).
///
/// # Errors
/// On a database failure.
pub async fn claim_heads(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Claimed>, Error> {
    let order = due_in_turn(db, now, limit).await?;
    if order.is_empty() {
        return Ok(Vec::new());
    }
    let query = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(order.iter().copied()))
        .filter(
            Condition::any()
                .add(webhook_endpoint::Column::LeaseUntil.is_null())
                .add(webhook_endpoint::Column::LeaseUntil.lt(now)),
        );
    let mut endpoints = Dialect::of(db).claim(query).all(db).await.context("failed to claim endpoints")?;
    endpoints.sort_by_key(|e| order.iter().position(|id| *id == e.id));
    let mut claimed = Vec::new();
    for endpoint in endpoints {
        let head = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id))
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
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

/// How many endpoints the workspace has.
///
/// # Errors
/// On a database failure.
pub async fn count_endpoints(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<u64, Error> {
    use sea_orm::PaginatorTrait;
    webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::WorkspaceId.eq(workspace))
        .count(db)
        .await
        .context("failed to count webhook endpoints")
}
