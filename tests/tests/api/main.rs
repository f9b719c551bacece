//! Black-box tests of Parley: each test starts the real server on a random port against a
//! fresh database, once on SQLite and once on PostgreSQL (when `PARLEY_TEST_POSTGRES_URL` is
//! set; otherwise the PostgreSQL run prints a notice and passes without running).
//!
//! `TEST_LOG=1` shows the server's logs.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic when set-up fails")]

#[macro_use]
mod helpers;

mod actions;
mod audit;
mod auth;
mod auto_link;
mod capability_events;
mod center;
mod contact_records;
mod contacts;
mod conversations;
mod crm;
mod desktop_files;
mod faults;
mod graphql_js;
mod graphql_ws;
mod hostile;
mod isolation;
mod jwt;
mod lifecycle;
mod media;
mod mutations;
mod numbering;
mod outbox;
mod pool;
mod privacy;
mod query_limits;
mod reports;
mod retention;
mod roles;
mod routing_invariants;
mod schema;
mod settings;
mod sms;
mod sockets;
mod storage;
mod subscriptions;
mod team;
mod templates;
mod usernames;
mod webhooks;
mod windows;
mod workers;
mod write_costs;
mod ws;
