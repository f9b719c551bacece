//! The `parley` command line: `serve`, `migrate`, `bootstrap`, `token`.
//!
//! Every value comes from a flag, else its environment variable, else a default; secrets are
//! never echoed by `--help`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use clap::{Args, Parser, Subcommand};
use domain::AgentId;
use persistence::dialect::Dialect;
use persistence::sealed::Keyring;
use persistence::{PoolSettings, agents};
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::Authenticator;
use crate::config::{
    Config, ConfigError, DEFAULT_DATABASE_URL, DEFAULT_LISTEN, DEFAULT_WHATSAPP_API_BASE, GraphqlConfig,
    JwtConfig, WhatsappConfig, parse_duration, validate_jwt_secret,
};
use crate::setup::{demo, workspaces};
use crate::startup::{Application, connect_and_migrate};

/// Parley: a contact-center inbox backend for WhatsApp, built for customers who hide their
/// phone number behind a username.
#[derive(Debug, Parser)]
#[command(name = "parley", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Create a workspace with its first admin (and business number); prints JSON.
    Bootstrap(BootstrapArgs),
    /// Print a JWT for an agent.
    Token(TokenArgs),
    /// Connect a WhatsApp number to a workspace as the operator: the number uses
    /// PARLEY_WHATSAPP_ACCESS_TOKEN (checked with the Cloud API when that is set); prints JSON.
    ConnectNumber(ConnectNumberArgs),
    /// Print the GraphQL schema (SDL), as committed in schema.graphql.
    Schema,
    /// Play the customer: sign and post a customer's WhatsApp message (or SMS) to a running
    /// server, the demo's by default.
    Simulate(Box<crate::simulate::SimulateArgs>),
}

#[derive(Debug, Args)]
struct DatabaseArgs {
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: String,
    /// Largest number of pooled database connections.
    #[arg(long, env = "PARLEY_DB_MAX_CONNECTIONS", default_value_t = 16)]
    db_max_connections: u32,
    /// How long a request waits for a database connection before answering UNAVAILABLE.
    #[arg(long, env = "PARLEY_DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    db_acquire_timeout: Duration,
    /// PostgreSQL: the longest a statement may run (lock waits included) before it is
    /// cancelled and the request answers UNAVAILABLE.
    #[arg(long, env = "PARLEY_DB_STATEMENT_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    db_statement_timeout: Duration,
}

#[derive(Debug, Args)]
struct JwtArgs {
    /// HS256 secret (at least 32 characters). Required except with --demo.
    #[arg(long, env = "PARLEY_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Required `iss` claim.
    #[arg(long, env = "PARLEY_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// Required `aud` claim.
    #[arg(long, env = "PARLEY_JWT_AUDIENCE")]
    jwt_audience: Option<String>,
    /// File with a PEM public key (RS256, ES256 or EdDSA) to verify tokens from an identity
    /// provider instead of the HS256 secret.
    #[arg(long, env = "PARLEY_JWT_PUBLIC_KEY_FILE")]
    jwt_public_key_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PARLEY_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: String,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    jwt: JwtArgs,
    /// Fill a new demo workspace with realistic conversations and print an admin token.
    #[arg(long)]
    demo: bool,
    /// 32 random bytes as base64 (`openssl rand -base64 32`): seals secrets at rest (CRM
    /// endpoint secrets, access tokens, hidden customers' message ids). Required, except with
    /// --demo, which keeps a generated key in a file beside the database.
    #[arg(long, env = "PARLEY_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Keys used before PARLEY_SECRET_KEY, comma-separated: they still open what they sealed,
    /// and start-up re-seals it under the current key.
    #[arg(long, env = "PARLEY_SECRET_KEY_PREVIOUS", hide_env_values = true)]
    secret_key_previous: Option<String>,
    /// Meta app secret that signs webhooks.
    #[arg(long, env = "PARLEY_WHATSAPP_APP_SECRET", hide_env_values = true)]
    whatsapp_app_secret: Option<String>,
    /// Token Meta echoes in the webhook subscription handshake.
    #[arg(long, env = "PARLEY_WHATSAPP_VERIFY_TOKEN", hide_env_values = true)]
    whatsapp_verify_token: Option<String>,
    /// Graph API base URL for the cloud gateway.
    #[arg(long, env = "PARLEY_WHATSAPP_API_BASE", default_value = DEFAULT_WHATSAPP_API_BASE)]
    whatsapp_api_base: String,
    /// Cloud API access token; unset means the sandbox gateway (no network).
    #[arg(long, env = "PARLEY_WHATSAPP_ACCESS_TOKEN", hide_env_values = true)]
    whatsapp_access_token: Option<String>,
    /// Twilio-compatible SMS API base URL (connected SMS numbers and the default sender use it).
    #[arg(long, env = "PARLEY_SMS_API_BASE", default_value = crate::config::DEFAULT_SMS_API_BASE)]
    sms_api_base: String,
    /// Default SMS sender's account SID; with the two settings below (all three or none) it
    /// texts for workspaces without an SMS number of their own. None: the SMS sandbox.
    #[arg(long, env = "PARLEY_SMS_ACCOUNT_SID", requires_all = ["sms_auth_token", "sms_from"])]
    sms_account_sid: Option<String>,
    /// Default SMS sender's auth token.
    #[arg(long, env = "PARLEY_SMS_AUTH_TOKEN", hide_env_values = true, requires_all = ["sms_account_sid", "sms_from"])]
    sms_auth_token: Option<String>,
    /// Default SMS sender (E.164 number).
    #[arg(long, env = "PARLEY_SMS_FROM", requires_all = ["sms_account_sid", "sms_auth_token"])]
    sms_from: Option<String>,
    /// Send Meta a read receipt when an agent marks a WhatsApp conversation read.
    #[arg(long, env = "PARLEY_WHATSAPP_READ_RECEIPTS", default_value_t = true, action = clap::ArgAction::Set)]
    whatsapp_read_receipts: bool,
    /// Days the operator's dead letters (webhook changes no workspace owns) are kept.
    #[arg(long, env = "PARLEY_DEAD_LETTER_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    dead_letter_days: u32,
    /// How long an ONLINE agent without an open WebSocket still gets new conversations.
    #[arg(long, env = "PARLEY_PRESENCE_GRACE", default_value = "2m", value_parser = parse_duration)]
    presence_grace: Duration,
    /// Allow CRM webhook endpoints on private, loopback and link-local addresses.
    #[arg(long, env = "PARLEY_WEBHOOK_ALLOW_PRIVATE_TARGETS", default_value_t = false)]
    webhook_allow_private_targets: bool,
    /// Time limit of one POST to a CRM endpoint; an endpoint whose sender died is retried after
    /// three times this.
    #[arg(long, env = "PARLEY_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    webhook_timeout: Duration,
    /// Production mode: no introspection, no GraphiQL.
    #[arg(long, env = "PARLEY_PRODUCTION", default_value_t = false)]
    production: bool,
    /// Where media bytes are kept: file://DIRECTORY, or s3://BUCKET/PREFIX with the standard
    /// AWS_* variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ALLOW_HTTP).
    #[arg(long, env = "PARLEY_MEDIA_STORE", default_value = crate::config::DEFAULT_MEDIA_STORE)]
    media_store: String,
    /// Most bytes of uploads not sent yet that one workspace may hold (e.g. 2GiB).
    #[arg(long, env = "PARLEY_MEDIA_QUOTA", default_value = "2GiB", value_parser = crate::config::parse_size)]
    media_quota: u64,
    /// The URL clients reach this server at (for the links it hands out), e.g.
    /// https://inbox.example.com.
    #[arg(long, env = "PARLEY_PUBLIC_URL")]
    public_url: Option<String>,
    /// When set, GET /metrics needs `Authorization: Bearer <this token>`.
    #[arg(long, env = "PARLEY_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Deepest selection nesting a GraphQL document may have.
    #[arg(long, env = "PARLEY_GRAPHQL_MAX_DEPTH", default_value_t = GraphqlConfig::default().max_depth)]
    graphql_max_depth: usize,
    /// Highest complexity (selected fields, counted through aliases and fragments) a document may have.
    #[arg(long, env = "PARLEY_GRAPHQL_MAX_COMPLEXITY", default_value_t = GraphqlConfig::default().max_complexity)]
    graphql_max_complexity: usize,
    /// Most aliased fields a GraphQL document may contain.
    #[arg(long, env = "PARLEY_GRAPHQL_MAX_ALIASES", default_value_t = GraphqlConfig::default().max_aliases)]
    graphql_max_aliases: usize,
    /// Most directives one field may carry.
    #[arg(long, env = "PARLEY_GRAPHQL_MAX_DIRECTIVES", default_value_t = GraphqlConfig::default().max_directives)]
    graphql_max_directives: usize,
}

#[derive(Debug, Args)]
struct ConnectNumberArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The workspace that gets the number.
    #[arg(long)]
    workspace_id: String,
    /// Meta phone_number_id.
    #[arg(long)]
    phone_number_id: String,
    /// Its display number (digits, as WhatsApp shows it).
    #[arg(long)]
    display_phone_number: String,
    /// Its WhatsApp Business Account id.
    #[arg(long)]
    waba_id: String,
    /// Its business portfolio id.
    #[arg(long)]
    portfolio_id: String,
    /// Graph API base URL (the number is checked there when a token is set).
    #[arg(long, env = "PARLEY_WHATSAPP_API_BASE", default_value = DEFAULT_WHATSAPP_API_BASE)]
    whatsapp_api_base: String,
    /// The operator's Cloud API token, which will serve the number.
    #[arg(long, env = "PARLEY_WHATSAPP_ACCESS_TOKEN", hide_env_values = true)]
    whatsapp_access_token: Option<String>,
}

#[derive(Debug, Args)]
struct BootstrapArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    jwt: JwtArgs,
    /// Workspace name.
    #[arg(long)]
    workspace: String,
    /// The first admin's e-mail.
    #[arg(long)]
    admin_email: String,
    /// The first admin's name.
    #[arg(long, default_value = "Admin")]
    admin_name: String,
    /// Meta phone_number_id of the first business number (with the three below, all or none).
    #[arg(long, requires_all = ["display_phone_number", "waba_id", "portfolio_id"])]
    phone_number_id: Option<String>,
    /// Its display number (digits, as WhatsApp shows it).
    #[arg(long, requires_all = ["phone_number_id", "waba_id", "portfolio_id"])]
    display_phone_number: Option<String>,
    /// Its WhatsApp Business Account id.
    #[arg(long, requires_all = ["phone_number_id", "display_phone_number", "portfolio_id"])]
    waba_id: Option<String>,
    /// Its business portfolio id.
    #[arg(long, requires_all = ["phone_number_id", "display_phone_number", "waba_id"])]
    portfolio_id: Option<String>,
    /// Lifetime of the printed token.
    #[arg(long, default_value = "12h", value_parser = parse_duration)]
    ttl: Duration,
}

#[derive(Debug, Args)]
struct TokenArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    jwt: JwtArgs,
    /// The agent the token is for.
    #[arg(long)]
    agent_id: String,
    /// Lifetime, such as 30m, 12h or 7d.
    #[arg(long, default_value = "12h", value_parser = parse_duration)]
    ttl: Duration,
}

fn jwt_config(args: &JwtArgs, generated: Option<String>) -> Result<JwtConfig, ConfigError> {
    let secret = match (&args.jwt_secret, generated) {
        (Some(secret), _) => secret.clone(),
        (None, Some(generated)) => generated,
        (None, None) => {
            return Err(ConfigError::new("PARLEY_JWT_SECRET", "is required (at least 32 characters)"));
        }
    };
    validate_jwt_secret(&secret)?;
    let public_key_pem = match &args.jwt_public_key_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new("PARLEY_JWT_PUBLIC_KEY_FILE", format!("cannot read {}: {e}", path.display()))
        })?),
        None => None,
    };
    Ok(JwtConfig {
        secret: SecretString::from(secret),
        public_key_pem,
        issuer: args.jwt_issuer.clone(),
        audience: args.jwt_audience.clone(),
    })
}

impl DatabaseArgs {
    /// The database URL and pool settings.
    fn pool(&self) -> Result<(&str, PoolSettings), ConfigError> {
        if Dialect::from_url(&self.database_url).is_none() {
            return Err(ConfigError::new("DATABASE_URL", "must start with sqlite: or postgres://"));
        }
        if self.db_max_connections == 0 {
            return Err(ConfigError::new("PARLEY_DB_MAX_CONNECTIONS", "must be at least 1"));
        }
        let pool = PoolSettings {
            max_connections: self.db_max_connections,
            acquire_timeout: self.db_acquire_timeout,
            statement_timeout: self.db_statement_timeout,
        };
        Ok((&self.database_url, pool))
    }
}

fn base_config(database: &DatabaseArgs, jwt: JwtConfig) -> Result<Config, ConfigError> {
    let (url, pool) = database.pool()?;
    let mut config = Config::with_jwt(url, jwt);
    config.pool = pool;
    Ok(config)
}

/// Clap's message up to its usage block, on one line.
fn one_line(message: &str) -> String {
    let head = message.split("\n\n").next().unwrap_or(message);
    head.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn random_secret() -> String {
    rand::rng().sample_iter(&Alphanumeric).take(48).map(char::from).collect()
}

fn non_empty_secret(value: Option<String>) -> Option<SecretString> {
    value.filter(|v| !v.trim().is_empty()).map(SecretString::from)
}

/// The demo's secret key: kept in a file beside the SQLite database (`parley.db.key`, or
/// `parley-demo.key` in the working directory for other databases), made on first use and
/// readable by its owner only, so a restarted demo still opens its secrets.
fn demo_secret_key(database_url: &str) -> Result<SecretString, ConfigError> {
    let file = demo::key_file(database_url);
    let bad = |problem: String| ConfigError::new("PARLEY_SECRET_KEY", problem);
    match std::fs::read_to_string(&file) {
        Ok(text) => return Ok(SecretString::from(text.trim().to_owned())),
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            return Err(bad(format!("cannot read the demo key {}: {err}", file.display())));
        }
        Err(_) => {}
    }
    let (_, key) = Keyring::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out =
        options.open(&file).map_err(|e| bad(format!("cannot write the demo key {}: {e}", file.display())))?;
    std::io::Write::write_all(&mut out, key.expose_secret().as_bytes())
        .map_err(|e| bad(format!("cannot write the demo key {}: {e}", file.display())))?;
    Ok(key)
}

impl ServeArgs {
    fn config(self) -> Result<Config, ConfigError> {
        let generated = self.demo.then(random_secret);
        let mut config = base_config(&self.database, jwt_config(&self.jwt, generated)?)?;
        config.listen = self.listen.parse::<SocketAddr>().map_err(|_| {
            ConfigError::new(
                "PARLEY_LISTEN",
                format!("{:?} is not an address like 127.0.0.1:8080", self.listen),
            )
        })?;
        if !self.whatsapp_api_base.starts_with("http://") && !self.whatsapp_api_base.starts_with("https://") {
            return Err(ConfigError::new("PARLEY_WHATSAPP_API_BASE", "must be an http(s) URL"));
        }
        config.whatsapp = WhatsappConfig {
            app_secret: non_empty_secret(self.whatsapp_app_secret),
            verify_token: non_empty_secret(self.whatsapp_verify_token),
            api_base: self.whatsapp_api_base.trim_end_matches('/').to_owned(),
            access_token: non_empty_secret(self.whatsapp_access_token),
            sandbox_media: None,
        };
        for (setting, value) in [
            ("PARLEY_GRAPHQL_MAX_DEPTH", self.graphql_max_depth),
            ("PARLEY_GRAPHQL_MAX_COMPLEXITY", self.graphql_max_complexity),
            ("PARLEY_GRAPHQL_MAX_DIRECTIVES", self.graphql_max_directives),
        ] {
            if value == 0 {
                return Err(ConfigError::new(setting, "must be at least 1"));
            }
        }
        config.graphql = GraphqlConfig {
            max_depth: self.graphql_max_depth,
            max_complexity: self.graphql_max_complexity,
            max_aliases: self.graphql_max_aliases,
            max_directives: self.graphql_max_directives,
            production: self.production,
            ..GraphqlConfig::default()
        };
        let key = match (non_empty_secret(self.secret_key), self.demo) {
            (Some(key), _) => key,
            (None, true) => demo_secret_key(&self.database.database_url)?,
            (None, false) => {
                return Err(ConfigError::new(
                    "PARLEY_SECRET_KEY",
                    "is required: 32 random bytes as base64 (openssl rand -base64 32)",
                ));
            }
        };
        config.secrets = Keyring::from_config(&key, non_empty_secret(self.secret_key_previous).as_ref())
            .map_err(|e| ConfigError::new("PARLEY_SECRET_KEY", e.to_string()))?;
        if self.demo {
            // The demo's webhooks are signed with secrets derived from its key (what
            // `parley simulate` signs with), its SMS number's texts stay in the process, and its
            // sandbox number finds simulated customers' photos beside the database.
            let secrets = demo::DemoSecrets::of(&config.secrets);
            config.whatsapp.app_secret.get_or_insert(secrets.app_secret);
            config.sms.sandbox_account = Some(secrets.sms_account_sid);
            config.whatsapp.sandbox_media = Some(demo::sandbox_media_dir(&self.database.database_url));
        }
        config.metrics_token = non_empty_secret(self.metrics_token);
        if !self.media_store.starts_with("file://") && !self.media_store.starts_with("s3://") {
            return Err(ConfigError::new(
                "PARLEY_MEDIA_STORE",
                "must be file://DIRECTORY or s3://BUCKET/PREFIX",
            ));
        }
        config.media.store = self.media_store;
        config.media.quota = self.media_quota;
        if let Some(url) = self.public_url.filter(|u| !u.trim().is_empty()) {
            if reqwest::Url::parse(&url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                return Err(ConfigError::new("PARLEY_PUBLIC_URL", "must be an http(s) URL"));
            }
            config.public_url = Some(url.trim_end_matches('/').to_owned());
        }
        config.dispatch.allow_private_targets = self.webhook_allow_private_targets;
        config.dispatch.timeout = self.webhook_timeout;
        if !self.sms_api_base.starts_with("http://") && !self.sms_api_base.starts_with("https://") {
            return Err(ConfigError::new("PARLEY_SMS_API_BASE", "must be an http(s) URL"));
        }
        config.sms.api_base = self.sms_api_base;
        config.read_receipts = self.whatsapp_read_receipts;
        config.dead_letter_ttl = Duration::from_secs(u64::from(self.dead_letter_days) * 24 * 3600);
        config.presence_grace = self.presence_grace;
        // All three or none: clap refuses a partial set (`requires_all`); an empty token is none.
        config.sms.default_sender =
            match (self.sms_account_sid, non_empty_secret(self.sms_auth_token), self.sms_from) {
                (Some(account_sid), Some(auth_token), Some(from)) => {
                    if domain::PhoneNumber::parse(&from).is_err() {
                        return Err(ConfigError::new("PARLEY_SMS_FROM", "must be an E.164 phone number"));
                    }
                    Some(crate::config::SmsAccount { account_sid, auth_token, from })
                }
                _ => None,
            };
        Ok(config)
    }
}

/// Parses the command line and runs the command.
///
/// # Errors
/// Any failure, as one line for the operator.
pub async fn run() -> anyhow::Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(),
        // A bad command line is bad configuration: one line naming the setting, as for every
        // other (clap's own message lists missing arguments on lines of their own).
        Err(err) => {
            eprintln!("{}", one_line(&err.render().to_string()));
            std::process::exit(2);
        }
    };
    let traces = crate::telemetry::init(std::io::stderr);
    let outcome = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(args) => {
            let (url, pool) = args.pool()?;
            connect_and_migrate(url, &pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Bootstrap(args) => bootstrap(args).await,
        Command::Token(args) => token(args).await,
        Command::ConnectNumber(args) => connect_number(args).await,
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Simulate(args) => crate::simulate::run(*args).await,
    };
    if let Some(traces) = traces {
        // The batch exporter flushes what is left; it blocks, so off the async workers.
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    outcome
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let demo = args.demo;
    let database_url = args.database.database_url.clone();
    let config = args.config()?;
    let app = Application::build(config).await?;
    if demo {
        let now = Utc::now();
        let created = demo::create_demo(app.db(), app.keyring(), now)
            .await
            .map_err(|e| anyhow::anyhow!("demo failed: {}", e.message()))?;
        let token = app.authenticator().issue(
            created.admin_id,
            created.workspace_id,
            Duration::from_secs(12 * 3600),
            now,
        )?;
        let banner = demo::banner(&format!("http://{}", app.address()), &token, &database_url);
        // A closed stdout (the reader went away, `| head`) must not stop the server, as
        // `println!` would by panicking.
        let mut out = std::io::stdout().lock();
        if std::io::Write::write_all(&mut out, banner.as_bytes())
            .and_then(|()| std::io::Write::flush(&mut out))
            .is_err()
        {
            tracing::warn!("could not print the demo banner: stdout is closed");
        }
    }
    tracing::info!(address = %app.address(), "parley is listening");
    app.run_until_stopped().await
}

async fn bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    let config = base_config(&args.database, jwt_config(&args.jwt, None)?)?;
    let db = connect_and_migrate(config.database_url.expose_secret(), &config.pool).await?;
    let number = match (args.phone_number_id, args.display_phone_number, args.waba_id, args.portfolio_id) {
        (Some(phone_number_id), Some(display_phone_number), Some(waba_id), Some(portfolio_id)) => {
            Some(workspaces::BusinessNumberInput {
                phone_number_id,
                display_phone_number,
                waba_id,
                portfolio_id,
                business_name: None,
            })
        }
        _ => None,
    };
    let input = workspaces::BootstrapInput {
        workspace_name: args.workspace,
        admin_email: args.admin_email,
        admin_name: args.admin_name,
        business_number: number,
    };
    let now = Utc::now();
    let created =
        workspaces::bootstrap(&db, &input, now).await.map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let token =
        Authenticator::new(&config.jwt)?.issue(created.admin_id, created.workspace_id, args.ttl, now)?;
    let out = serde_json::json!({
        "workspaceId": created.workspace_id,
        "adminId": created.admin_id,
        "businessNumberId": created.business_number_id,
        "token": token,
    });
    println!("{out}");
    Ok(())
}

async fn connect_number(args: ConnectNumberArgs) -> anyhow::Result<()> {
    let jwt = JwtConfig {
        secret: SecretString::from("unused-by-connect-number-unused-by-connect-number"),
        public_key_pem: None,
        issuer: None,
        audience: None,
    };
    let config = base_config(&args.database, jwt)?;
    let workspace: domain::WorkspaceId =
        args.workspace_id.parse().map_err(|_| anyhow::anyhow!("--workspace-id: not a valid workspace id"))?;
    let token = non_empty_secret(args.whatsapp_access_token);
    let gateway = crate::providers::meta::WhatsappGateway::new(&args.whatsapp_api_base, token.as_ref())?;
    let db = connect_and_migrate(config.database_url.expose_secret(), &config.pool).await?;
    let input = crate::setup::numbers::WhatsappNumber {
        phone_number_id: &args.phone_number_id,
        display_phone_number: &args.display_phone_number,
        waba_id: &args.waba_id,
        portfolio_id: &args.portfolio_id,
        business_name: None,
        access_token: None,
    };
    let saved = crate::setup::numbers::connect_as_operator(
        &db,
        &gateway,
        token.as_ref(),
        workspace,
        &input,
        Utc::now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    println!("{}", serde_json::json!({ "businessNumberId": saved.id, "workspaceId": saved.workspace_id }));
    Ok(())
}

async fn token(args: TokenArgs) -> anyhow::Result<()> {
    let config = base_config(&args.database, jwt_config(&args.jwt, None)?)?;
    let agent_id: AgentId =
        args.agent_id.parse().map_err(|_| anyhow::anyhow!("--agent-id: not a valid agent id"))?;
    let db = connect_and_migrate(config.database_url.expose_secret(), &config.pool).await?;
    let agent = agents::find_any(db.conn(), agent_id)
        .await
        .context("failed to load the agent")?
        .ok_or_else(|| anyhow::anyhow!("--agent-id: no such agent"))?;
    if !agent.active {
        anyhow::bail!("--agent-id: the agent is inactive");
    }
    let token = Authenticator::new(&config.jwt)?.issue(agent_id, agent.workspace_id, args.ttl, Utc::now())?;
    println!("{token}");
    Ok(())
}
