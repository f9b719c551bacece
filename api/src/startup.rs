//! Building and running the application: connect, migrate, bind, serve, shut down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use migrations::{Migrator, MigratorTrait};
use persistence::blobs::BlobStore;
use persistence::sealed::{KeyCheck, Resealed};
use persistence::{Database, PoolSettings};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::crm::dispatcher::Dispatcher;
use crate::events::hub::{EventHub, Pump};
use crate::graphql::schema_builder;
use crate::graphql::session::{SocketRegistry, Sweeper};
use crate::http;
use crate::http::state::AppState;
use crate::inbound::batch::WebhookCommitter;
use crate::inbound::whatsapp::media::Fetcher;
use crate::janitor::{DeadLetterExpiry, Janitor, UploadExpiry};
use crate::outbound::delivery::Worker;
use crate::providers::meta::WhatsappGateway;
use crate::providers::sms::SmsGateway;
use crate::workers;
use crate::workflow::lifecycle::Waker;

/// Most threads the runtime lends to blocking work at once. File-store reads run there, a chunk
/// at a time: without a bound, 100 concurrent downloads held ~280 threads (and their memory:
/// server RSS 165 MB); with it, the same downloads queue for a thread and stream as fast.
pub const BLOCKING_THREADS: usize = 16;

/// The server's Tokio runtime (multi-threaded, with [`BLOCKING_THREADS`]).
///
/// # Errors
/// When the runtime cannot be built.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().max_blocking_threads(BLOCKING_THREADS).build()
}

/// Connects to a database and applies pending migrations.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn connect_and_migrate(url: &str, pool: &PoolSettings) -> anyhow::Result<Database> {
    let db = Database::connect(url, pool).await?;
    Migrator::up(db.conn(), None).await.context("failed to apply database migrations")?;
    Ok(db)
}

/// A built server, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
    hub: Arc<EventHub>,
}

impl Application {
    /// Connects, migrates, builds the schema and binds the listener (port 0 picks a free one).
    ///
    /// # Errors
    /// On a configuration, database or bind failure.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = connect_and_migrate(config.database_url.expose_secret(), &config.pool).await?;
        Self::build_with_db(config, db).await
    }

    /// Like [`Application::build`] with an already connected (and migrated) database.
    ///
    /// # Errors
    /// On a configuration or bind failure.
    pub async fn build_with_db(config: Config, db: Database) -> anyhow::Result<Self> {
        crate::telemetry::handle();
        let resealed = persistence::sealed::reseal_stored(db.conn(), &config.secrets).await.map_err(
            |err| match err {
                KeyCheck::Storage(err) => {
                    anyhow::Error::new(err).context("failed to check the stored secrets")
                }
                refused => anyhow::anyhow!("PARLEY_SECRET_KEY: {refused}"),
            },
        )?;
        if resealed != Resealed::default() {
            tracing::info!(
                sealed_plaintext = resealed.sealed_plaintext,
                rotated = resealed.rotated,
                key_id = config.secrets.current_id(),
                "stored secrets sealed under the current key"
            );
        }
        let blobs =
            BlobStore::open(&config.media.store).map_err(|e| anyhow::anyhow!("PARLEY_MEDIA_STORE: {e}"))?;
        let auth = Arc::new(Authenticator::new(&config.jwt)?);
        let hub = EventHub::new(db.clone());
        let whatsapp =
            WhatsappGateway::new(&config.whatsapp.api_base, config.whatsapp.access_token.as_ref())?
                .with_sandbox_media(config.whatsapp.sandbox_media.clone());
        let sms = SmsGateway::new(&config.sms, config.public_url.as_deref())?;
        warn_without_status_callbacks(&sms, &db).await;
        let schema = schema_builder(&config.graphql)
            .data(db.clone())
            .data(whatsapp.clone())
            .data(sms.clone())
            .data(crate::workflow::lifecycle::ReadReceipts(config.read_receipts))
            .data(crate::workflow::routing::PresenceGrace(config.presence_grace))
            .data(crate::workflow::counts::CountsCache::default())
            .data(config.dispatch.clone())
            .data(config.secrets.clone())
            .data(crate::links::MediaLinks {
                ttl: config.media.link_ttl,
                public_url: config.public_url.clone(),
            })
            .data(Arc::clone(&hub))
            .data(blobs.clone())
            .finish();
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("PARLEY_LISTEN: cannot listen on {}", config.listen))?;
        let address = listener.local_addr().context("failed to read the bound address")?;
        let keyring = Arc::new(config.secrets.clone());
        let committer = WebhookCommitter::start(db.clone(), db.dialect().write_lanes(), Arc::clone(&keyring));
        let sockets = SocketRegistry::default();
        let refusals = crate::telemetry::Refusals::default();
        let config = Arc::new(config);
        let graphql = crate::graphql::runner::Operations::new(schema, db.clone(), &config.graphql);
        let state =
            AppState { db, auth, graphql, config, committer, sockets, blobs, whatsapp, sms, refusals };
        Ok(Self { listener, address, state, hub })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The bound address.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The database the application uses.
    #[must_use]
    pub fn db(&self) -> &Database {
        &self.state.db
    }

    /// The blob store of media bytes.
    #[must_use]
    pub fn blobs(&self) -> &BlobStore {
        &self.state.blobs
    }

    /// The keys that seal secrets at rest (for tests that write rows directly).
    #[must_use]
    pub fn keyring(&self) -> &persistence::sealed::Keyring {
        &self.state.config.secrets
    }

    /// The token issuer/verifier (for the CLI and tests).
    #[must_use]
    pub fn authenticator(&self) -> Arc<Authenticator> {
        Arc::clone(&self.state.auth)
    }

    /// Serves until `shutdown` completes, then stops accepting and lets in-flight requests
    /// finish (bounded by the configured grace period).
    ///
    /// # Errors
    /// When serving fails.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let grace = self.state.config.shutdown_grace;
        let config = &self.state.config;
        let background = self.state.db.sibling("background", 4).await?;
        // Events a stopped process committed but did not number (PostgreSQL) are readable
        // before the first request.
        background.number_stray_events().await?;
        let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
        let keyring = Arc::new(config.secrets.clone());
        let delivery = Worker {
            db: background.clone(),
            whatsapp: self.state.whatsapp.clone(),
            sms: self.state.sms.clone(),
            policy: config.delivery.clone(),
            keyring: Arc::clone(&keyring),
            blobs: self.state.blobs.clone(),
        };
        let media = Fetcher {
            db: background.clone(),
            whatsapp: self.state.whatsapp.clone(),
            keyring,
            blobs: self.state.blobs.clone(),
            config: config.media.clone(),
        };
        let crm = Dispatcher::new(background.clone(), config.dispatch.clone(), config.secrets.clone())?;
        let snooze = Waker { db: background.clone() };
        let windows = crate::workflow::windows::Windows { db: background.clone(), due: Default::default() };
        let retention =
            crate::contacts::retention::Retention { db: background.clone(), due: Default::default() };
        let sockets = Sweeper { registry: self.state.sockets.clone(), db: background.clone() };
        let presence = crate::graphql::session::Presence {
            registry: self.state.sockets.clone(),
            db: background.clone(),
            grace: config.presence_grace,
        };
        let routing = crate::workflow::routing::Router::new(background.clone());
        let sla = crate::workflow::sla::Timer { db: background.clone(), due: Default::default() };
        let events = Pump::new(self.hub, background.clone());
        let janitor = Janitor { db: background.clone(), blobs: self.state.blobs.clone() };
        let expiry = DeadLetterExpiry { db: background.clone(), ttl: config.dead_letter_ttl };
        let uploads = UploadExpiry { db: background.clone(), ttl: config.media.upload_ttl };
        // Every background loop, each on the one shape of `workers`: woken by the commits that
        // announce its kind of work, by its next due time, or by the safety poll.
        let db = &background;
        let workers = vec![
            tokio::spawn(workers::run(delivery, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(media, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(crm, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(snooze, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(windows, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(retention, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(events, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(sockets, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(presence, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(routing, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(sla, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(janitor, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(expiry, db.clone(), stopping_rx.clone())),
            tokio::spawn(workers::run(uploads, db.clone(), stopping_rx.clone())),
        ];
        // Other processes' commits reach this one's workers (PostgreSQL `NOTIFY`).
        let listener = self.state.db.relay_other_processes();
        let router = http::router(self.state);
        let server = axum::serve(self.listener, router).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing in-flight requests");
            let _ = stopping_tx.send(true);
        });
        let mut stopping = stopping_rx;
        let result = tokio::select! {
            result = server => result.context("server failed"),
            () = async move {
                let _ = stopping.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish in time; stopping");
                Ok(())
            }
        };
        // Each worker finishes the pass in hand (it saw the stop signal), bounded by the grace.
        let _ = tokio::time::timeout(grace, futures::future::join_all(workers)).await;
        if let Some(listener) = listener {
            listener.abort();
        }
        result
    }

    /// Serves until SIGINT or SIGTERM.
    ///
    /// # Errors
    /// When serving fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Warns once at start-up when SMS statuses will not come back: a real sender (the default
/// one, or a connected number with its own account) and no `PARLEY_PUBLIC_URL`.
async fn warn_without_status_callbacks(sms: &SmsGateway, db: &Database) {
    let Some(warning) = sms.status_callback_warning() else { return };
    let sends = sms.has_default_sender()
        || persistence::business_numbers::any_sms_sender(db.conn(), sms.sandbox_account())
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "could not look for SMS numbers at start-up");
                false
            });
    if sends {
        tracing::warn!("{warning}");
    }
}
