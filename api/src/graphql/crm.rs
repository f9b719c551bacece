//! CRM webhook endpoints and their deliveries.

use super::context::{db, now, parse_id, viewer};
use super::guards::RoleGuard;
use super::pagination;
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use persistence::sealed::Keyring;

/// A CRM endpoint that receives the workspace's events as signed POSTs.
pub struct WebhookEndpoint(pub persistence::crm::Endpoint);

/// A CRM endpoint that receives the workspace's events as signed POSTs.
#[Object]
impl WebhookEndpoint {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Where events are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The event types it receives (empty: all).
    async fn event_types(&self) -> &[String] {
        &self.0.event_types.0
    }

    /// When it was paused after repeated failures (null: active).
    async fn paused_at(&self) -> Option<DateTime<Utc>> {
        self.0.paused_at
    }

    /// Failed attempts in a row.
    async fn consecutive_failures(&self) -> i32 {
        self.0.consecutive_failures
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Until when the secret replaced by the last `rotateWebhookSecret` still signs (null when
    /// only the current one does).
    async fn previous_secret_until(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        self.0.previous_secret_until.filter(|until| *until > now(ctx))
    }

    /// Its most recent deliveries, newest event first.
    #[graphql(complexity = "super::pagination::page_cost(first, child_complexity)")]
    async fn deliveries(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<WebhookDelivery>> {
        let limit = pagination::page_size(first)?;
        let rows = crate::crm::endpoints::deliveries(db(ctx)?, self.0.workspace_id, self.0.id, limit).await?;
        Ok(rows.into_iter().map(WebhookDelivery).collect())
    }
}

/// One event sent (or to be sent) to one endpoint.
pub struct WebhookDelivery(pub persistence::crm::Delivery);

/// One event sent (or to be sent) to one endpoint.
#[Object]
impl WebhookDelivery {
    /// Opaque id (pass it to `redeliverWebhook`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The event (also the `webhook-id` header, stable across retries).
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.to_string())
    }

    /// The event's cursor.
    async fn event_cursor(&self) -> String {
        self.0.event_cursor.to_string()
    }

    /// PENDING, DELIVERED or FAILED (retries exhausted; can be redelivered).
    async fn status(&self) -> &str {
        self.0.status.as_str()
    }

    /// Attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// The HTTP status of the last attempt.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }

    /// What went wrong on the last attempt.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// When the next attempt is due.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at
    }

    /// When it was delivered.
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}

/// CRM webhook endpoints.
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The workspace's CRM webhook endpoints with their recent deliveries (ADMIN).
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "crate::crm::endpoints::list_cost(child_complexity)"
    )]
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEndpoint>> {
        let viewer = viewer(ctx)?;
        let rows = crate::crm::endpoints::list(db(ctx)?, viewer).await?;
        Ok(rows.into_iter().map(WebhookEndpoint).collect())
    }
}

/// A new CRM webhook endpoint.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// An http(s) URL (private and loopback targets are refused unless allowed by configuration).
    pub url: String,
    /// Event types to send (empty: every type): `conversation.created`,
    /// `conversation.updated`, `conversation.linked`, `conversation.unlinked`,
    /// `message.received`, `message.sent`, `message.status_updated`, `contact.created`,
    /// `contact.updated`, `customer.phone_shared`, `business_username.updated`,
    /// `attachment.stored`, `message.reaction`, `note.added`, `contact.merged`,
    /// `contact.deleted`, `customer.erased`, `conversation.window_closing`,
    /// `conversation.window_closed`, `conversation.capabilities_changed`,
    /// `conversation.assigned`, `agent.availability_changed`, `sla.warning`, `sla.breached`,
    /// `template.updated`.
    pub event_types: Vec<String>,
}

/// A created endpoint with its signing secret, shown only this once.
#[derive(async_graphql::SimpleObject)]
pub struct CreatedWebhookEndpoint {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: verify the `webhook-signature` header with it (Standard Webhooks).
    pub secret: String,
}

/// CRM webhook endpoints (ADMIN).
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers an endpoint that receives events from now on, signed per Standard Webhooks.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Result<CreatedWebhookEndpoint> {
        let allow_private =
            ctx.data::<crate::config::DispatchConfig>().map(|c| c.allow_private_targets).unwrap_or(false);
        let (endpoint, secret) = crate::crm::endpoints::create(
            db(ctx)?,
            viewer(ctx)?,
            &input.url,
            &input.event_types,
            allow_private,
            ctx.data::<Keyring>()?,
            now(ctx),
        )
        .await?;
        Ok(CreatedWebhookEndpoint { endpoint: WebhookEndpoint(endpoint), secret })
    }

    /// Gives an endpoint a new `whsec_` secret, shown only this once. For 24 hours both the new
    /// and the previous secret sign every delivery (two `v1,` signatures), so the receiver can
    /// switch without missing an event.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn rotate_webhook_secret(&self, ctx: &Context<'_>, id: ID) -> Result<CreatedWebhookEndpoint> {
        let id = parse_id::<domain::WebhookEndpointId>(&id, "id")?;
        let (endpoint, secret) = crate::crm::endpoints::rotate_secret(
            db(ctx)?,
            viewer(ctx)?,
            id,
            ctx.data::<Keyring>()?,
            now(ctx),
        )
        .await?;
        Ok(CreatedWebhookEndpoint { endpoint: WebhookEndpoint(endpoint), secret })
    }

    /// Deletes an endpoint and its delivery log.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_id::<domain::WebhookEndpointId>(&id, "id")?;
        Ok(crate::crm::endpoints::delete(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?)
    }

    /// Resumes a paused endpoint; its queued deliveries continue in order.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn resume_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        let id = parse_id::<domain::WebhookEndpointId>(&id, "id")?;
        Ok(WebhookEndpoint(crate::crm::endpoints::resume(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?))
    }

    /// Sends a delivery again, whatever its state.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn redeliver_webhook(&self, ctx: &Context<'_>, delivery_id: ID) -> Result<WebhookDelivery> {
        let id = parse_id::<domain::WebhookDeliveryId>(&delivery_id, "deliveryId")?;
        Ok(WebhookDelivery(crate::crm::endpoints::redeliver(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?))
    }
}
