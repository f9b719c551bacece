//! Events and dead letters: the history query (the live stream is [`super::subscription`]).

use super::context::{db, viewer};
use super::guards::RoleGuard;
use super::pagination;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Json, Object, Result};
use chrono::{DateTime, Utc};

/// A durable event (CloudEvents 1.0).
/// Shared: a live event is resolved once per subscriber, without copying it.
pub struct Event(pub std::sync::Arc<persistence::StoredEvent>);

/// A durable event (CloudEvents 1.0).
#[Object]
impl Event {
    /// The CloudEvent id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Position in the workspace's event stream; pass it as `after` to resume.
    async fn cursor(&self) -> String {
        self.0.cursor.to_string()
    }

    /// Event type, such as `message.received`.
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    /// The conversation it concerns.
    async fn conversation_id(&self) -> Option<ID> {
        self.0.conversation_id.map(|id| ID(id.to_string()))
    }

    /// The contact it concerns.
    async fn contact_id(&self) -> Option<ID> {
        self.0.contact_id.map(|id| ID(id.to_string()))
    }

    /// The whole CloudEvent.
    async fn payload(&self) -> Json<&serde_json::Value> {
        Json(&self.0.payload)
    }
}

/// A webhook change Parley could not route or read, kept whole for an admin.
pub struct DeadLetter(pub persistence::DeadLetter);

/// A webhook change Parley could not route or read, kept whole for an admin.
#[Object]
impl DeadLetter {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Why it could not be applied.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The change as Meta sent it (JSON text).
    async fn payload(&self) -> &str {
        &self.0.payload
    }

    /// When it arrived.
    async fn received_at(&self) -> DateTime<Utc> {
        self.0.received_at
    }
}

/// The event history.
#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// Events after a cursor, oldest first (ADMIN and INTEGRATION).
    #[graphql(
        guard = "RoleGuard::new(domain::Permission::EventHistory)",
        complexity = "super::pagination::page_cost(first, child_complexity)"
    )]
    async fn events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
        #[graphql(
            desc = "Only events of these types (every type when omitted): `conversation.created`, `conversation.updated`, `conversation.linked`, `conversation.unlinked`, `message.received`, `message.sent`, `message.status_updated`, `contact.created`, `contact.updated`, `customer.phone_shared`, `business_username.updated`, `attachment.stored`, `message.reaction`, `note.added`, `contact.merged`, `contact.deleted`, `customer.erased`, `conversation.window_closing`, `conversation.window_closed`, `conversation.capabilities_changed`, `conversation.assigned`, `agent.availability_changed`, `sla.warning`, `sla.breached`, `template.updated`. The README's event table says when each is written and what its `data` holds."
        )]
        types: Option<Vec<String>>,
    ) -> Result<Connection<String, Event>> {
        let limit = pagination::page_size(first)?;
        let after_seq = pagination::decode_sequence(after.as_deref())?;
        let rows =
            crate::events::history(db(ctx)?, viewer(ctx)?, after_seq, limit + 1, types.as_deref()).await?;
        Ok(pagination::connection(
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
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "super::pagination::page_cost(first, child_complexity)"
    )]
    async fn dead_letters(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<DeadLetter>> {
        let limit = pagination::page_size(first)?;
        let rows = crate::inbound::whatsapp::apply::dead_letters(db(ctx)?, viewer(ctx)?, limit).await?;
        Ok(rows.into_iter().map(DeadLetter).collect())
    }
}
