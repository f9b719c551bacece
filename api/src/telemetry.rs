//! Logging. `RUST_LOG` filters (default `info`); `PARLEY_LOG_FORMAT=json` writes JSON lines.
//! Nothing Parley logs contains tokens, secrets, message bodies or hidden phone numbers.

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
