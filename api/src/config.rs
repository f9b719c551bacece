//! Typed configuration, parsed once at start-up from flags, then environment variables, then
//! defaults (see `cli.rs`). Secrets are `SecretString`s: they never appear in `Debug` output or
//! logs. A bad value stops start-up with one line naming the setting.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use persistence::PoolSettings;
use persistence::sealed::Keyring;
use secrecy::SecretString;

/// The default embedded database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://parley.db?mode=rwc";
/// Where the server listens by default.
/// How long an `ONLINE` agent without an open WebSocket still counts as present for routing.
pub const DEFAULT_PRESENCE_GRACE: Duration = Duration::from_secs(120);

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Where media bytes are kept by default: a directory beside the SQLite database.
pub const DEFAULT_MEDIA_STORE: &str = "file://./parley-media";
/// Meta's Graph API base (the `cloud` gateway posts to `{base}/{phone_number_id}/messages`).
pub const DEFAULT_WHATSAPP_API_BASE: &str = "https://graph.facebook.com/v23.0";

/// A configuration value that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(setting: &'static str, problem: impl Into<String>) -> Self {
        Self { setting, problem: problem.into() }
    }
}

/// How tokens are checked.
#[derive(Clone, Debug)]
pub struct JwtConfig {
    /// HS256 shared secret: signs `parley token` output and verifies tokens.
    pub secret: SecretString,
    /// Optional PEM public key (RS256, ES256 or EdDSA) for tokens issued by an outside
    /// identity provider; when set, tokens are verified with it instead of the secret.
    pub public_key_pem: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// WhatsApp Cloud API settings.
#[derive(Clone, Debug)]
pub struct WhatsappConfig {
    /// The Meta app secret that signs webhooks (`X-Hub-Signature-256`).
    pub app_secret: Option<SecretString>,
    /// The token Meta echoes in the subscription handshake.
    pub verify_token: Option<SecretString>,
    pub api_base: String,
    /// Unset: the sandbox gateway (records sends, no network).
    pub access_token: Option<SecretString>,
    /// The demo only: where the sandbox gateway finds the photos `parley simulate` sends
    /// (media ids `sandbox-<sha256>`).
    pub sandbox_media: Option<std::path::PathBuf>,
}

/// GraphQL limits.
#[derive(Clone, Debug)]
pub struct GraphqlConfig {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Aliased fields one document may contain (alias overloading).
    pub max_aliases: usize,
    /// Directives one field may carry (directive overloading).
    pub max_directives: usize,
    /// Production mode: no introspection, no GraphiQL page.
    pub production: bool,
    /// Longest a query or mutation may run (over HTTP and over a WebSocket alike).
    pub operation_timeout: Duration,
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        // Depth 16: the standard introspection query (GraphiQL, graphql-js) needs 15.
        // Complexity 10,000: a page is priced `first × what each row selects`, so the desktop's
        // inbox (50 conversations with everything a row shows, about 3,000) and an admin's view of
        // 20 CRM endpoints with 50 deliveries each (about 6,000) pass, while a page of pages
        // (`conversations(first:100){…contact{conversations(first:100){…}}}`, over 20,000) or 99
        // aliased pages inside a page (about 3,000,000) are refused before any SQL runs.
        Self {
            max_depth: 16,
            max_complexity: 10_000,
            max_aliases: 100,
            max_directives: 5,
            production: false,
            operation_timeout: Duration::from_secs(30),
        }
    }
}

/// Twilio's REST API.
pub const DEFAULT_SMS_API_BASE: &str = "https://api.twilio.com";

/// The Twilio-compatible SMS provider: where its API is, and the process's own sender for
/// conversations moved to SMS in a workspace without an SMS number of its own (none: the SMS
/// sandbox). Connected SMS numbers send with their own account.
#[derive(Clone, Debug)]
pub struct SmsConfig {
    pub api_base: String,
    pub default_sender: Option<SmsAccount>,
    /// The demo only: the account SID of the demo's SMS number, whose sends stay in the
    /// process (like the WhatsApp sandbox's).
    pub sandbox_account: Option<String>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self { api_base: DEFAULT_SMS_API_BASE.to_owned(), default_sender: None, sandbox_account: None }
    }
}

/// One sender's provider account.
#[derive(Clone, Debug)]
pub struct SmsAccount {
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The sending number (E.164).
    pub from: String,
}

/// Retry policy.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Wait before the second attempt; doubled each time.
    pub base: Duration,
    /// Longest wait between attempts.
    pub max: Duration,
    /// Attempts before the message is marked failed.
    pub max_attempts: i32,
    /// How long a claimed message is reserved for one sender.
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
            max_attempts: 8,
            lease: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
        self.base.saturating_mul(2u32.saturating_pow(exponent)).min(self.max)
    }
}

/// Answers a host name with its addresses: the system resolver, or a test's (the CRM client
/// resolves through it, see `crm::guard`).
pub trait Lookup: Send + Sync {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

impl std::fmt::Debug for dyn Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lookup")
    }
}

/// The operating system's resolver.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(
            async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) },
        )
    }
}

/// Media: where bytes are kept, how failing fetches are retried (for `domain::media::FETCH_WINDOW`),
/// how long a signed link works.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// `file://DIR` or `s3://BUCKET/PREFIX` (`PARLEY_MEDIA_STORE`).
    pub store: String,
    /// First retry delay of a fetch; doubled each attempt.
    pub retry_base: Duration,
    /// Longest delay between fetch attempts.
    pub retry_max: Duration,
    /// How long a signed `Attachment.url` works.
    pub link_ttl: Duration,
    /// Most bytes of uploads not sent yet one workspace may hold (`PARLEY_MEDIA_QUOTA`).
    pub quota: u64,
    /// How long an upload never sent is kept (row and bytes).
    pub upload_ttl: Duration,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            store: DEFAULT_MEDIA_STORE.to_owned(),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            link_ttl: Duration::from_secs(15 * 60),
            quota: 2 * 1024 * 1024 * 1024,
            upload_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// CRM webhook dispatch settings.
#[derive(Clone, Debug)]
pub struct DispatchConfig {
    /// Allow endpoints on private, loopback and link-local addresses.
    pub allow_private_targets: bool,
    /// First retry delay; doubled (with jitter) each attempt.
    pub retry_base: Duration,
    /// Longest delay between attempts.
    pub retry_max: Duration,
    /// How long a delivery is retried before it is marked failed.
    pub retry_window: Duration,
    /// Consecutive failed attempts after which an endpoint is paused.
    pub pause_after: i32,
    /// Time limit of one POST.
    pub timeout: Duration,
    /// How endpoint host names are resolved (each connection resolves once, through the guard).
    pub lookup: Arc<dyn Lookup>,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            retry_window: Duration::from_secs(24 * 3600),
            pause_after: 50,
            timeout: Duration::from_secs(10),
            lookup: Arc::new(SystemLookup),
        }
    }
}

/// Everything the server needs.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: SecretString,
    pub pool: PoolSettings,
    pub jwt: JwtConfig,
    pub whatsapp: WhatsappConfig,
    pub graphql: GraphqlConfig,
    /// The Twilio-compatible SMS provider.
    pub sms: SmsConfig,
    /// Whether marking a WhatsApp conversation read sends Meta a read receipt
    /// (`PARLEY_WHATSAPP_READ_RECEIPTS`, default on).
    pub read_receipts: bool,
    /// How long the operator's dead letters (those no workspace owns) are kept
    /// (`PARLEY_DEAD_LETTER_DAYS`, default 30 days).
    pub dead_letter_ttl: Duration,
    /// Retries of outbound deliveries.
    pub delivery: RetryPolicy,
    /// CRM webhook dispatch.
    pub dispatch: DispatchConfig,
    /// How long in-flight requests may run after SIGTERM before the server stops anyway.
    pub shutdown_grace: Duration,
    /// How long an `ONLINE` agent without an open WebSocket still counts as present for
    /// routing (`PARLEY_PRESENCE_GRACE`, default 2 minutes).
    pub presence_grace: Duration,
    /// Media storage and fetching.
    pub media: MediaConfig,
    /// The URL clients reach this server at (`PARLEY_PUBLIC_URL`): links it hands out (signed
    /// media links) are absolute when set, relative to the API otherwise.
    pub public_url: Option<String>,
    /// When set, `GET /metrics` needs `Authorization: Bearer <this>` (`PARLEY_METRICS_TOKEN`).
    pub metrics_token: Option<SecretString>,
    /// The keys that seal secrets at rest (`PARLEY_SECRET_KEY`, and
    /// `PARLEY_SECRET_KEY_PREVIOUS` during a rotation).
    pub secrets: Keyring,
}

impl Config {
    /// A configuration with defaults for everything but the database and the token secret:
    /// the starting point for tests and embedding.
    ///
    /// # Errors
    /// When the secret is too short (see [`validate_jwt_secret`]).
    pub fn new(database_url: &str, jwt_secret: &str) -> Result<Self, ConfigError> {
        validate_jwt_secret(jwt_secret)?;
        let jwt = JwtConfig {
            secret: SecretString::from(jwt_secret.to_owned()),
            public_key_pem: None,
            issuer: None,
            audience: None,
        };
        Ok(Self::with_jwt(database_url, jwt))
    }

    /// Defaults for everything but the database and a token configuration already checked
    /// (the command line builds its [`JwtConfig`] from flags and files first). The secret key is
    /// a fresh random one: the command line replaces it with `PARLEY_SECRET_KEY`.
    #[must_use]
    pub fn with_jwt(database_url: &str, jwt: JwtConfig) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: SecretString::from(database_url.to_owned()),
            pool: PoolSettings::default(),
            jwt,
            whatsapp: WhatsappConfig {
                app_secret: None,
                verify_token: None,
                api_base: DEFAULT_WHATSAPP_API_BASE.to_owned(),
                access_token: None,
                sandbox_media: None,
            },
            graphql: GraphqlConfig::default(),
            sms: SmsConfig::default(),
            read_receipts: true,
            dead_letter_ttl: Duration::from_secs(30 * 24 * 3600),
            delivery: RetryPolicy::default(),
            dispatch: DispatchConfig::default(),
            shutdown_grace: Duration::from_secs(20),
            presence_grace: DEFAULT_PRESENCE_GRACE,
            metrics_token: None,
            media: MediaConfig::default(),
            public_url: None,
            secrets: Keyring::generate().0,
        }
    }
}

/// HS256 secrets shorter than 32 bytes can be brute-forced offline from one token.
///
/// # Errors
/// When the secret is shorter than 32 bytes.
pub fn validate_jwt_secret(secret: &str) -> Result<(), ConfigError> {
    if secret.len() < 32 {
        return Err(ConfigError::new("PARLEY_JWT_SECRET", "must be at least 32 characters long"));
    }
    Ok(())
}

/// Parses a duration such as `90s`, `15m`, `12h` or `7d`.
///
/// # Errors
/// When the text is not a positive number followed by s, m, h or d.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 =
        number.parse().map_err(|_| format!("invalid duration {text:?}: expected e.g. 30m, 12h or 7d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("invalid duration unit in {text:?}: use s, m, h or d")),
    };
    if secs == 0 {
        return Err("duration must be positive".to_owned());
    }
    Ok(Duration::from_secs(secs))
}

/// Parses a size: bytes (`1048576`) or with a binary unit (`512KiB`, `500MiB`, `2GiB`).
///
/// # Errors
/// When the text is not such a size, or is zero.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 =
        number.parse().map_err(|_| format!("invalid size {text:?}: expected e.g. 500MiB or 2GiB"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return Err(format!("invalid size unit in {text:?}: use B, KiB, MiB, GiB or TiB")),
    };
    match n.checked_mul(scale) {
        Some(0) => Err("size must be positive".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("size {text:?} is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_binary_units() {
        assert_eq!(parse_size("2GiB"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("500MiB"), Ok(500 * 1024 * 1024));
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert!(parse_size("0").is_err());
        assert!(parse_size("2GB").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("12y").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn short_secrets_are_refused_naming_the_setting() {
        let err = Config::new("sqlite::memory:", "short").unwrap_err();
        assert_eq!(err.to_string(), "PARLEY_JWT_SECRET: must be at least 32 characters long");
    }
}
