//! Logging and the metrics recorder. `RUST_LOG` filters (default `info`);
//! `PARLEY_LOG_FORMAT=json` writes JSON lines. Nothing Parley logs contains tokens, secrets,
//! message bodies or hidden phone numbers; metric labels never carry tenant data
//! (`GET /metrics` renders them: `crate::http::metrics`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global subscriber once; later calls do nothing (tests call it per app). With
/// `OTEL_EXPORTER_OTLP_ENDPOINT` set it also exports traces ([`crate::traces`]): the returned
/// handle flushes them at exit.
pub fn init<W>(writer: W) -> Option<crate::traces::Traces>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let json = std::env::var("PARLEY_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let exporting = crate::traces::layer().unwrap_or_else(|err| {
        eprintln!("OpenTelemetry export is off: {err}");
        None
    });
    let Some((otel, traces)) = exporting else {
        // No exporter: the plain subscriber, with its filter global (nothing else to feed).
        let builder =
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_target(false);
        let _ = if json { builder.json().try_init() } else { builder.try_init() };
        return None;
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer).with_target(false);
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    // Parley's own spans only: never the exporter's HTTP client (a loop), nor the database driver's.
    let otel =
        otel.with_filter(tracing_subscriber::filter::Targets::new().with_target("api", tracing::Level::INFO));
    let installed = tracing_subscriber::registry().with(otel).with(fmt.with_filter(filter)).try_init();
    // Only a process whose subscriber carries the layer traces (a second call installs nothing).
    installed.ok().map(|()| {
        traces.activate();
        traces
    })
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

/// Requests refused before their caller was verified (a webhook whose signature cannot be
/// checked or does not match, an SMS post to a number no workspace has): each is counted in
/// `parley_unverified_requests_total{channel,reason}` and logged at most once per
/// [`Refusals::LOG_EVERY`] for each kind, so a flood writes neither rows nor a log line per
/// request. Nothing of the request is logged.
#[derive(Clone, Debug, Default)]
pub struct Refusals {
    logged: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<(&'static str, &'static str), std::time::Instant>>,
    >,
}

impl Refusals {
    /// The least time between two log lines of one kind of refusal.
    pub const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    /// Counts one refusal (and logs it, unless one of its kind was logged lately).
    pub fn refuse(&self, channel: &'static str, reason: &'static str) {
        metrics::counter!("parley_unverified_requests_total", "channel" => channel, "reason" => reason)
            .increment(1);
        let now = std::time::Instant::now();
        let mut logged = self.logged.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = logged.get(&(channel, reason)).is_none_or(|at| now.duration_since(*at) >= Self::LOG_EVERY);
        if due {
            logged.insert((channel, reason), now);
            tracing::warn!(
                channel,
                reason,
                "request refused before its caller was verified (logged at most every 10 s)"
            );
        }
    }
}
