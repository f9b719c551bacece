//! The GraphQL API: schema, one module per feature (each type beside its resolvers), loaders
//! and the request context. Resolvers stay thin: read the context, call one use case or
//! loader, map the error.
//!
//! - [`conversations`]: the thread's object graph (`Conversation`, its customer and
//!   capabilities, `Message`, `Contact`: they reference one another, so they live together and
//!   the other modules import them, with the `Label` and `Team` a conversation shows).
//! - [`message_types`]: `Message`, `Attachment`, `Reaction` (they name no conversation).
//! - [`inbox`]: the conversations query and its filter; assign, resolve, reopen.
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
//! - [`runner`]: how every operation runs (limits, time limit, a socket's fresh viewer).
//! - [`introspection`]: the schema's description and the SDL as served.
//! - [`pagination`]: page sizes, cursors and the complexity of a page.
//! - [`context`]: what a resolver reads from the request (viewer, clock, database, loaders)
//!   and the parsing of id arguments; feature modules import it, never this module.
//! - [`session`]: WebSocket sessions.

pub mod audit;
pub mod center;
pub mod center_types;
pub mod contacts;
pub mod context;
pub mod conversations;
pub mod crm;
pub mod enums;
pub mod events;
pub mod guards;
pub mod inbox;
pub mod introspection;
pub mod lifecycle;
pub mod limits;
pub mod loaders;
pub mod message_types;
pub mod messages;
pub mod numbers;
pub mod pagination;
pub mod people;
pub mod privacy;
pub mod reports;
pub mod runner;
pub mod session;
pub mod settings;
pub mod setup;
pub mod subscription;
pub mod team;
pub mod usernames;

use crate::config::GraphqlConfig;
use async_graphql::{MergedObject, Schema, SchemaBuilder};

// Merged in two halves: one flat list this long nests past the compiler's recursion limit when
// the resolvers' futures are laid out (in release builds of the binaries).
/// Every query, merged.
#[derive(MergedObject, Default)]
pub struct Query(QueriesOfTheInbox, QueriesOfTheWorkspace);

/// The inbox's queries.
#[derive(MergedObject, Default)]
pub struct QueriesOfTheInbox(
    setup::ViewerQuery,
    inbox::ConversationQuery,
    lifecycle::LifecycleQuery,
    team::TeamQuery,
    contacts::ContactQuery,
    setup::SetupQuery,
);

/// The workspace's queries: events, usernames, CRM endpoints, audit, settings.
#[derive(MergedObject, Default)]
pub struct QueriesOfTheWorkspace(
    events::EventQuery,
    events::DeadLetterQuery,
    usernames::UsernameQuery,
    crm::WebhookQuery,
    audit::AuditQuery,
    settings::SettingsQuery,
    center::CenterQuery,
    reports::ReportQuery,
);

/// Every mutation, merged.
#[derive(MergedObject, Default)]
pub struct Mutation(MutationsOfTheInbox, MutationsOfTheWorkspace);

/// The inbox's mutations.
#[derive(MergedObject, Default)]
pub struct MutationsOfTheInbox(
    setup::SetupMutation,
    inbox::ConversationMutation,
    messages::MessagingMutation,
    lifecycle::LifecycleMutation,
    team::TeamMutation,
    numbers::NumberMutation,
);

/// The workspace's mutations: contacts, privacy, usernames, CRM endpoints, settings.
#[derive(MergedObject, Default)]
pub struct MutationsOfTheWorkspace(
    contacts::ContactMutation,
    privacy::PrivacyMutation,
    usernames::UsernameMutation,
    crm::WebhookMutation,
    settings::SettingsMutation,
    center::CenterMutation,
);

/// The schema type.
pub type ParleySchema = Schema<Query, Mutation, subscription::Subscription>;

/// The schema with its limits, without any runtime data: enough to print the SDL.
#[must_use]
pub fn schema_builder(config: &GraphqlConfig) -> SchemaBuilder<Query, Mutation, subscription::Subscription> {
    let mut builder = Schema::build(Query::default(), Mutation::default(), subscription::Subscription);
    // A span per operation, only when traces are exported (no hook otherwise).
    if crate::traces::enabled() {
        builder = builder.extension(crate::traces::OperationSpans);
    }
    // The alias limit, the time limit, a socket's fresh viewer and the description run around
    // the schema ([`runner::Operations`]): an extension would wrap every field's resolution.
    let builder = builder
        .limit_depth(config.max_depth)
        .limit_complexity(config.max_complexity)
        .limit_directives(config.max_directives);
    if config.production { builder.disable_introspection().disable_suggestions() } else { builder }
}

/// The SDL of the schema, as committed in `schema.graphql`.
#[must_use]
pub fn sdl() -> String {
    let schema = schema_builder(&GraphqlConfig::default()).finish();
    introspection::served_sdl(&schema.sdl_with_options(introspection::export_options()))
}
