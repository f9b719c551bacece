//! The GraphQL API: schema, one module per feature (each type beside its resolvers), loaders
//! and the request context. Resolvers stay thin: read the context, call one use case or
//! loader, map the error.
//!
//! - [`conversations`]: the thread's object graph (`Conversation`, its customer and
//!   capabilities, `Message`, `Contact`: they reference one another, so they live together and
//!   the other modules import them, with the `Label` and `Team` a conversation shows); the
//!   inbox; assign, resolve, reopen.
//! - [`messages`]: sending, templates, phone-number requests, calls, channel switch.
//! - [`lifecycle`]: starting a conversation, read state, typing indicator, snooze, inbox counts.
//! - [`team`]: notes, labels, teams, canned responses.
//! - [`numbers`]: connecting and disconnecting WhatsApp and SMS numbers.
//! - [`contacts`]: the contact list; create, link, unlink, update, upsert, merge, delete.
//! - [`privacy`]: exporting and erasing a customer.
//! - [`setup`]: `me`, agents, business numbers, templates.
//! - [`usernames`]: business usernames.
//! - [`events`]: the event history and dead letters; [`subscription`]: the live stream.
//! - [`crm`]: CRM webhook endpoints and deliveries.
//! - [`audit`]: the audit trail.
//! - [`enums`]: GraphQL mirrors of the domain enums.
//! - [`loaders`]: per-request dataloaders (no N+1).
//! - [`guards`]: role guards.
//! - [`limits`]: limits on a document's shape (aliases).
//! - [`pagination`]: page sizes, cursors and the complexity of a page.
//! - [`session`]: WebSocket sessions and the scope of each operation (fresh viewer, `now`,
//!   loaders and time limit).

pub mod audit;
pub mod contacts;
pub mod conversations;
pub mod crm;
pub mod enums;
pub mod events;
pub mod guards;
pub mod lifecycle;
pub mod limits;
pub mod loaders;
pub mod messages;
pub mod numbers;
pub mod pagination;
pub mod privacy;
pub mod session;
pub mod setup;
pub mod subscription;
pub mod team;
pub mod usernames;

use std::str::FromStr;

use async_graphql::{Context, ID, MergedObject, Schema, SchemaBuilder};
use chrono::{DateTime, Utc};
use persistence::Database;

use crate::auth::Viewer;
use crate::config::GraphqlConfig;
use crate::error::{ApiError, ApiResult};

/// Every query, merged.
#[derive(MergedObject, Default)]
pub struct Query(
    setup::ViewerQuery,
    conversations::ConversationQuery,
    lifecycle::LifecycleQuery,
    team::TeamQuery,
    contacts::ContactQuery,
    setup::SetupQuery,
    events::EventQuery,
    events::DeadLetterQuery,
    usernames::UsernameQuery,
    crm::WebhookQuery,
    audit::AuditQuery,
);

/// Every mutation, merged.
#[derive(MergedObject, Default)]
pub struct Mutation(
    setup::SetupMutation,
    conversations::ConversationMutation,
    messages::MessagingMutation,
    lifecycle::LifecycleMutation,
    team::TeamMutation,
    numbers::NumberMutation,
    contacts::ContactMutation,
    privacy::PrivacyMutation,
    usernames::UsernameMutation,
    crm::WebhookMutation,
);

/// The schema type.
pub type ParleySchema = Schema<Query, Mutation, subscription::Subscription>;

/// The schema with its limits, without any runtime data: enough to print the SDL.
#[must_use]
pub fn schema_builder(config: &GraphqlConfig) -> SchemaBuilder<Query, Mutation, subscription::Subscription> {
    let builder = Schema::build(Query::default(), Mutation::default(), subscription::Subscription)
        .limit_depth(config.max_depth)
        .limit_complexity(config.max_complexity)
        .limit_directives(config.max_directives)
        .extension(limits::DocumentLimits { max_aliases: config.max_aliases })
        .extension(session::OperationScope { time_limit: config.operation_timeout });
    if config.production { builder.disable_introspection().disable_suggestions() } else { builder }
}

/// The SDL of the schema, as committed in `schema.graphql`.
#[must_use]
pub fn sdl() -> String {
    schema_builder(&GraphqlConfig::default()).finish().sdl()
}

/// Per-request facts resolvers read: the viewer (if authenticated) and the request's clock.
#[derive(Clone, Copy, Debug)]
pub struct RequestData {
    pub viewer: Option<Viewer>,
    pub now: DateTime<Utc>,
}

/// The authenticated viewer.
///
/// # Errors
/// `UNAUTHENTICATED` when the request carried no token.
pub fn viewer<'a>(ctx: &Context<'a>) -> ApiResult<&'a Viewer> {
    ctx.data_opt::<RequestData>()
        .and_then(|d| d.viewer.as_ref())
        .ok_or(ApiError::Unauthenticated("Sign in: send Authorization: Bearer <token>."))
}

/// The request's time: one `now` for every field of a response.
#[must_use]
pub fn now(ctx: &Context<'_>) -> DateTime<Utc> {
    ctx.data_opt::<RequestData>().map_or_else(Utc::now, |d| d.now)
}

/// The database.
///
/// # Errors
/// `INTERNAL` when the schema was built without one (a wiring bug).
pub fn db<'a>(ctx: &Context<'a>) -> ApiResult<&'a Database> {
    ctx.data_opt::<Database>().ok_or_else(|| ApiError::internal(anyhow::anyhow!("schema has no database")))
}

/// The request's dataloaders (present whenever a viewer is).
///
/// # Errors
/// `UNAUTHENTICATED` without a viewer.
pub fn loaders<'a>(ctx: &Context<'a>) -> ApiResult<&'a loaders::Loaders> {
    viewer(ctx)?;
    ctx.data_opt::<loaders::Loaders>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("request has no loaders")))
}

/// Parses an id argument into a typed id.
///
/// # Errors
/// `BAD_USER_INPUT` naming the argument.
pub fn parse_id<T: FromStr>(id: &ID, argument: &str) -> ApiResult<T> {
    id.as_str().trim().parse::<T>().map_err(|_| ApiError::bad_input(format!("{argument} is not a valid id")))
}
