//! The audit trail (admins).

use super::context::{db, viewer};
use super::guards::RoleGuard;
use super::pagination;
use async_graphql::{Context, ID, Json, Object, Result};
use chrono::{DateTime, Utc};

/// One audited action.
pub struct AuditEntry(pub persistence::AuditEntry);

/// One audited action: who did what to which record, and when.
#[Object]
impl AuditEntry {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What was done: `conversation.linked`, `conversation.unlinked`, `conversation.assigned`,
    /// `business_username.set`, `business_username.deleted`, `business_username.transferred_away`,
    /// `webhook_endpoint.created`, `webhook_endpoint.deleted`, `webhook_endpoint.resumed`,
    /// `webhook_delivery.redelivered`, `team.updated`, `business_number.updated`,
    /// `sla_policy.created`, `conversation.sla_applied`, `workspace.business_hours_updated`,
    /// and others (`conversation.assigned` with no agent: the team's router).
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The agent who did it.
    async fn agent_id(&self) -> Option<ID> {
        self.0.agent_id.map(|id| ID(id.to_string()))
    }

    /// The kind of record acted on.
    async fn subject_type(&self) -> &str {
        &self.0.subject_type
    }

    /// The record acted on.
    async fn subject_id(&self) -> ID {
        ID(self.0.subject_id.to_string())
    }

    /// What changed.
    async fn details(&self) -> Option<Json<serde_json::Value>> {
        self.0.details.clone().map(Json)
    }

    /// When.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
}

/// The audit trail.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Who linked, unlinked, relinked, assigned, changed a business username or a webhook
    /// endpoint, and when; newest first (ADMIN).
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "super::pagination::page_cost(first, child_complexity)"
    )]
    async fn audit_log(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<AuditEntry>> {
        let viewer = viewer(ctx)?;
        let limit = pagination::page_size(first)?;
        let rows = crate::store::audit_log(db(ctx)?, viewer, limit).await?;
        Ok(rows.into_iter().map(AuditEntry).collect())
    }
}
