//! Queries, split per feature and merged into [`super::Query`].

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result};
use domain::search::SearchQuery;
use domain::{AgentId, ContactId, ConversationId};
use persistence::contacts::ContactCursor;
use persistence::conversations::ConversationFilter as StoreFilter;
use persistence::{agents, business_numbers, contacts, dead_letters, events, templates};

use super::guards::RoleGuard;
use super::types::{
    Agent, BusinessNumber, Contact, Conversation, DeadLetter, Event, Template, connection, conversation_page,
};
use super::{db, enums, pagination, parse_id, viewer};
use crate::error::ApiError;

/// The signed-in agent.
#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The agent the token belongs to.
    async fn me(&self, ctx: &Context<'_>) -> Result<Agent> {
        let viewer = viewer(ctx)?;
        let agent = agents::find(db(ctx)?.conn(), viewer.workspace_id, viewer.agent_id)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::Unauthenticated("The agent of this token does not exist or is inactive."))?;
        Ok(Agent(agent))
    }

    /// Every agent of the workspace.
    async fn agents(&self, ctx: &Context<'_>) -> Result<Vec<Agent>> {
        let viewer = viewer(ctx)?;
        let rows = agents::list(db(ctx)?.conn(), viewer.workspace_id).await.map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Agent).collect())
    }
}

/// How the inbox may be filtered.
#[derive(InputObject, Default)]
pub struct ConversationFilter {
    /// `@username` (exact or prefix, `@` optional, case-insensitive), profile or contact name
    /// (case-insensitive substring), or phone digits.
    pub search: Option<String>,
    /// Only conversations with this status.
    pub status: Option<enums::ConversationStatus>,
    /// Only conversations assigned to the signed-in agent.
    pub assigned_to_me: Option<bool>,
    /// Only conversations linked to this contact.
    pub contact_id: Option<ID>,
    /// Only customers whose phone number is unknown (true) or known (false).
    pub username_only: Option<bool>,
}

/// The inbox.
#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// The workspace's conversations, newest activity first.
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ConversationFilter>,
    ) -> Result<Connection<String, Conversation>> {
        let viewer = viewer(ctx)?;
        let filter = filter.unwrap_or_default();
        let store_filter = StoreFilter {
            status: filter.status.map(Into::into),
            assignee: filter.assigned_to_me.unwrap_or(false).then_some(viewer.agent_id),
            contact: filter
                .contact_id
                .as_ref()
                .map(|id| parse_id::<ContactId>(id, "contactId"))
                .transpose()?,
            username_only: filter.username_only,
            search: filter.search.as_deref().and_then(SearchQuery::parse),
        };
        conversation_page(ctx, viewer.workspace_id, &store_filter, first, after).await
    }

    /// One conversation of the workspace.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let viewer = viewer(ctx)?;
        let id = parse_id::<ConversationId>(&id, "id")?;
        Ok(Conversation(crate::service::conversations::get(db(ctx)?.conn(), viewer, id).await?))
    }
}

/// Contacts.
#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// The workspace's contacts, newest first, optionally searched by name, `@username` or
    /// phone digits.
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<Connection<String, Contact>> {
        let viewer = viewer(ctx)?;
        let limit = pagination::page_size(first)?;
        let after = after.as_deref().map(pagination::decode).transpose()?;
        let search = search.as_deref().and_then(SearchQuery::parse);
        let rows = contacts::list(
            db(ctx)?.conn(),
            viewer.workspace_id,
            search.as_ref(),
            after.map(|(created_at, id)| ContactCursor { created_at, id }),
            limit + 1,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(connection(rows, limit, after.is_some(), |c| pagination::encode(c.created_at, c.id), Contact))
    }

    /// One contact of the workspace.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> Result<Contact> {
        let viewer = viewer(ctx)?;
        let id = parse_id::<ContactId>(&id, "id")?;
        let contact = contacts::find(db(ctx)?.conn(), viewer.workspace_id, id)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("contact"))?;
        Ok(Contact(contact))
    }
}

/// Workspace set-up: templates and business numbers.
#[derive(Default)]
pub struct SetupQuery;

#[Object]
impl SetupQuery {
    /// The workspace's message templates.
    async fn templates(&self, ctx: &Context<'_>) -> Result<Vec<Template>> {
        let viewer = viewer(ctx)?;
        let rows = templates::list(db(ctx)?.conn(), viewer.workspace_id).await.map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Template).collect())
    }

    /// The workspace's WhatsApp business numbers.
    async fn business_numbers(&self, ctx: &Context<'_>) -> Result<Vec<BusinessNumber>> {
        let viewer = viewer(ctx)?;
        let rows =
            business_numbers::list(db(ctx)?.conn(), viewer.workspace_id).await.map_err(ApiError::from)?;
        Ok(rows.into_iter().map(BusinessNumber).collect())
    }
}

/// Business username suggestions.
#[derive(Default)]
pub struct UsernameQuery;

#[Object]
impl UsernameQuery {
    /// Usernames with a higher chance of approval for a business number: WhatsApp's reserved
    /// suggestions (cloud), or valid, available names derived from the business name (sandbox).
    async fn business_username_suggestions(
        &self,
        ctx: &Context<'_>,
        business_number_id: ID,
    ) -> Result<Vec<String>> {
        let viewer = viewer(ctx)?;
        let id = parse_id::<domain::BusinessNumberId>(&business_number_id, "businessNumberId")?;
        let gateway = ctx.data::<crate::gateway::whatsapp::WhatsappGateway>()?;
        Ok(crate::service::usernames::suggestions(db(ctx)?, gateway, viewer, id).await?)
    }
}

/// The event history.
#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// Events after a cursor, oldest first (ADMIN and INTEGRATION).
    #[graphql(guard = "RoleGuard::admin_or_integration()")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
        types: Option<Vec<String>>,
    ) -> Result<Connection<String, Event>> {
        let viewer = viewer(ctx)?;
        let limit = pagination::page_size(first)?;
        let after_seq = pagination::decode_sequence(after.as_deref())?;
        let unknown = types.iter().flatten().find(|t| !events::types::ALL.contains(&t.as_str()));
        if let Some(bad) = unknown {
            return Err(ApiError::bad_input(format!("unknown event type {bad:?}")).into());
        }
        let rows = events::list(db(ctx)?.conn(), viewer.workspace_id, after_seq, limit + 1, types.as_deref())
            .await
            .map_err(ApiError::from)?;
        Ok(connection(
            rows,
            limit,
            after_seq > 0,
            |e| e.cursor.to_string(),
            |e| Event(std::sync::Arc::new(e)),
        ))
    }
}

/// Webhook changes that could not be applied.
#[derive(Default)]
pub struct DeadLetterQuery;

#[Object]
impl DeadLetterQuery {
    /// The workspace's dead-lettered webhook changes, newest first (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn dead_letters(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<DeadLetter>> {
        let viewer = viewer(ctx)?;
        let limit = pagination::page_size(first)?;
        let rows =
            dead_letters::list(db(ctx)?.conn(), viewer.workspace_id, limit).await.map_err(ApiError::from)?;
        Ok(rows.into_iter().map(DeadLetter).collect())
    }
}

/// CRM webhook endpoints.
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The workspace's CRM webhook endpoints with their recent deliveries (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<super::types::WebhookEndpoint>> {
        let viewer = viewer(ctx)?;
        let rows = persistence::webhooks::list_endpoints(db(ctx)?.conn(), viewer.workspace_id)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(super::types::WebhookEndpoint).collect())
    }
}

/// The audit trail.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Who linked, unlinked, relinked, assigned, changed a business username or a webhook
    /// endpoint, and when; newest first (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Vec<super::types::AuditEntry>> {
        let viewer = viewer(ctx)?;
        let limit = pagination::page_size(first)?;
        let rows = persistence::audit::list(db(ctx)?.conn(), viewer.workspace_id, limit)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(super::types::AuditEntry).collect())
    }
}

/// Parses an optional agent id argument.
pub(crate) fn parse_agent_id(id: Option<&ID>) -> Result<Option<AgentId>, ApiError> {
    id.map(|id| parse_id::<AgentId>(id, "agentId")).transpose()
}
