//! `parley-bench`: measures Parley over real HTTP against a baseline taken in the same run on
//! the same database, and prints a table and one JSON line.
//!
//! ```text
//! cargo run --release -p bench -- {ingest|send|search|events|inbox|media|sms|growth|routing|report} [--database-url URL]
//! ```
//!
//! Without `--database-url` a fresh SQLite file is used; with a PostgreSQL URL a fresh
//! database is created beside the one named (which is only used to create it). The server
//! runs as a child process (this binary in server mode) so its peak RSS is its own.
//!
//! - [`harness`]: fresh databases, the server child, the load driver, histograms, the table.
//! - [`seed`]: bulk rows (conversations, messages) through persistence's import functions.
//! - [`scenarios`]: one module per scenario.
//! - Meta's webhooks and message rows come from `tests::fixtures`, shared with the black-box tests.

// The server runs in this binary (`server`): the GraphQL schema's merged Query and Mutation
// nest deeper than the default limit when their futures' layouts are computed here.
#![recursion_limit = "256"]

mod harness;
mod scenarios;
mod seed;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "parley-bench", about = "Load scenarios for Parley")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Signed single-message WhatsApp webhooks (new and existing threads, 30% without phone)
    /// versus single-row INSERT commits through the same driver at the same concurrency.
    Ingest {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// `sendMessage` through the sandbox gateway (stored, then delivered by the worker) versus
    /// a trivial GraphQL query (`{ __typename }`) on the same server at the same concurrency.
    Send {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// `@username` prefix and name substring searches of the inbox over N seeded conversations
    /// versus `{ __typename }` on the same server.
    Search {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 1_000_000)]
        conversations: usize,
        #[arg(long, default_value_t = 4_000)]
        requests: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// The router's decision time: a member frees room in a full team with N conversations
    /// waiting, and one routing pass assigns the oldest to them; versus a write transaction of
    /// one primary-key read on the same database.
    Routing {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        waiting: usize,
        #[arg(long, default_value_t = 200)]
        agents: usize,
        #[arg(long, default_value_t = 5)]
        capacity: i32,
        #[arg(long, default_value_t = 1_000)]
        passes: usize,
    },
    /// `report(input)` over N conversations (PostgreSQL) grouped by day, agent, team and
    /// number, with its statements' plans; and the CSV export of all of them, streamed, with
    /// the server's peak memory.
    Report {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 1_000_000)]
        conversations: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Latency from a signed webhook posted to server A to (a) GraphQL subscribers on server B
    /// and (b) a CRM receiver, on PostgreSQL with two server processes.
    Events {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 1_000)]
        subscriptions: usize,
        #[arg(long, default_value_t = 300)]
        webhooks: usize,
    },
    /// The agent's first inbox page (50 conversations with display name, customer,
    /// capabilities, contact, last message, read state, labels, team and assignee) over N
    /// seeded conversations with 10 messages each, versus `{ __typename }` on the same server.
    Inbox {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 100_000)]
        conversations: usize,
        #[arg(long, default_value_t = 5_000)]
        requests: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Inbound image webhooks with the media fetcher running (from a local fake Cloud API
    /// into the blob store) versus text webhooks in the same run; webhook → `STORED` latency;
    /// then the server's memory while 100 clients download a 10 MB file at once.
    Media {
        #[arg(long)]
        database_url: Option<String>,
        /// Blob store of the server (default: a fresh directory); `s3://BUCKET/PREFIX` uses the
        /// `AWS_*` variables.
        #[arg(long)]
        media_store: Option<String>,
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Concurrent downloads of the 10 MB file.
        #[arg(long, default_value_t = 100)]
        downloads: usize,
    },
    /// Signed inbound SMS form posts (`POST /webhooks/sms`, most joining an existing thread)
    /// versus signed single-message WhatsApp webhooks in the same run.
    Sms {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// The desktop's inbox list and `@username` search, one client, as the workspace grows
    /// (PostgreSQL): the first size seeded like `inbox`, each further one with older
    /// conversations of one message each generated by PostgreSQL; table and index sizes.
    Growth {
        #[arg(long)]
        database_url: String,
        /// The sizes, in conversations, smallest first.
        #[arg(long, value_delimiter = ',', default_value = "100000,1000000,10000000")]
        sizes: Vec<usize>,
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
    /// Internal: run the server (the child process of a scenario).
    #[command(hide = true)]
    Server {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        listen: String,
        #[arg(long)]
        whatsapp_api_base: Option<String>,
        #[arg(long)]
        media_store: Option<String>,
    },
}

/// The same allocator as the `parley` binary (the `server` subcommand runs Parley in-process).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // The server child runs on the `parley` binary's runtime; the load side on a default one.
    match Cli::parse().scenario {
        Scenario::Server { database_url, listen, whatsapp_api_base, media_store } => api::startup::runtime()?
            .block_on(harness::server(
                &database_url,
                &listen,
                harness::ServerOptions { whatsapp_api_base, media_store },
            )),
        scenario => tokio::runtime::Runtime::new()?.block_on(run(scenario)),
    }
}

async fn run(scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::Server { .. } => anyhow::bail!("the server subcommand runs on its own runtime"),
        Scenario::Media { database_url, media_store, requests, concurrency, downloads } => {
            scenarios::media::media(database_url, media_store, requests, concurrency, downloads).await
        }
        Scenario::Sms { database_url, requests, concurrency } => {
            scenarios::sms::sms(database_url, requests, concurrency).await
        }
        Scenario::Ingest { database_url, requests, concurrency } => {
            scenarios::ingest::ingest(database_url, requests, concurrency).await
        }
        Scenario::Send { database_url, requests, concurrency } => {
            scenarios::send::send(database_url, requests, concurrency).await
        }
        Scenario::Inbox { database_url, conversations, requests, concurrency } => {
            scenarios::inbox::inbox(database_url, conversations, requests, concurrency).await
        }
        Scenario::Events { database_url, subscriptions, webhooks } => {
            scenarios::events::events(&database_url, subscriptions, webhooks).await
        }
        Scenario::Growth { database_url, sizes, requests } => {
            scenarios::growth::growth(database_url, sizes, requests).await
        }
        Scenario::Routing { database_url, waiting, agents, capacity, passes } => {
            scenarios::routing::routing(database_url, waiting, agents, capacity, passes).await
        }
        Scenario::Report { database_url, conversations, runs } => {
            scenarios::report::report(database_url, conversations, runs).await
        }
        Scenario::Search { database_url, conversations, requests, concurrency } => {
            scenarios::search::search(database_url, conversations, requests, concurrency).await
        }
    }
}
