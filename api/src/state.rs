//! What every handler shares.

use std::sync::Arc;

use persistence::Database;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::delivery::DeliveryHandle;
use crate::graphql::ParleySchema;
use crate::service::group_commit::WebhookCommitter;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub auth: Arc<Authenticator>,
    pub schema: ParleySchema,
    pub config: Arc<Config>,
    pub delivery: DeliveryHandle,
    /// Stores Meta webhooks, committing concurrent ones together.
    pub webhooks: WebhookCommitter,
}
