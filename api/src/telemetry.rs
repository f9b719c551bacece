//! Logging and the metrics recorder. `RUST_LOG` filters (default `info`);
//! `PARLEY_LOG_FORMAT=json` writes JSON lines. Nothing Parley logs contains tokens, secrets,
//! message bodies or hidden phone numbers; metric labels never carry tenant data
//! (`GET /metrics` renders them: `crate::http::metrics`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global subscriber once; later calls do nothing (tests call it per app).
pub fn init<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let json = std::env::var("PARLEY_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_target(false);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// Latency buckets (seconds) for request durations.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (first call) and returns its handle; `None` when another
/// recorder was installed first (an embedding application's own).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".to_owned()), BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("parley_webhook_batch_size".to_owned()),
                        BATCH_BUCKETS,
                    )
                });
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed; /metrics will be empty");
                    None
                }
            }
        })
        .as_ref()
}

/// Counts a live subscription while it exists.
#[derive(Debug)]
pub struct OpenSubscription(());

impl OpenSubscription {
    #[must_use]
    pub fn new() -> Self {
        metrics::gauge!("parley_subscriptions_open").increment(1.0);
        Self(())
    }
}

impl Default for OpenSubscription {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        metrics::gauge!("parley_subscriptions_open").decrement(1.0);
    }
}
