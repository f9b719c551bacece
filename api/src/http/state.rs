//! What every handler shares.

use std::sync::Arc;

use axum::extract::FromRef;
use persistence::Database;
use persistence::blobs::BlobStore;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::graphql::runner::Operations;
use crate::graphql::session::SocketRegistry;
use crate::inbound::batch::WebhookCommitter;
use crate::inbound::sms::http::SmsState;
use crate::inbound::whatsapp::http::InboundState;
use crate::providers::meta::WhatsappGateway;
use crate::providers::sms::SmsGateway;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub auth: Arc<Authenticator>,
    /// The GraphQL schema, with what runs around each operation.
    pub graphql: Operations,
    pub config: Arc<Config>,
    /// Stores Meta webhooks, committing concurrent ones together.
    pub committer: WebhookCommitter,
    /// The open WebSockets, swept for agents and tokens that no longer allow them.
    pub sockets: SocketRegistry,
    /// Where media bytes are.
    pub blobs: BlobStore,
    /// The Cloud API.
    pub whatsapp: WhatsappGateway,
    /// The SMS provider.
    pub sms: SmsGateway,
    /// Requests refused before their caller was verified (counted, logged sparingly).
    pub refusals: crate::telemetry::Refusals,
}

impl FromRef<AppState> for InboundState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: Arc::clone(&state.config),
            committer: state.committer.clone(),
            refusals: state.refusals.clone(),
        }
    }
}

impl FromRef<AppState> for SmsState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            config: Arc::clone(&state.config),
            committer: state.committer.clone(),
            refusals: state.refusals.clone(),
        }
    }
}
