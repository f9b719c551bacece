//! Parley's server as a library: the `parley` binary and the black-box tests both build it
//! with [`Application::build`]. One folder per flow; each folder's `mod.rs` maps its files.
//!
//! - [`inbound`]: Meta's webhooks: signature, batching, reading every payload shape, threading,
//!   statuses, identity changes, business-username updates.
//! - [`outbound`]: agent actions that reach the customer, the delivery worker.
//! - [`providers`]: Meta's Cloud API and the SMS provider's API, and their signature checks.
//! - [`crm`]: CRM webhook endpoints, the dispatcher, the outbound-URL (SSRF) guard.
//! - [`contacts`]: contacts and linking, contact records (update, upsert, merge, delete),
//!   exporting and erasing a customer.
//! - [`workflow`]: capabilities, assignment, resolve and reopen.
//! - [`setup`]: workspaces, agents, templates, business usernames, the demo.
//! - [`events`]: the `data` of each event, the live fan-out to subscriptions.
//! - [`graphql`]: the schema, its types and resolvers, loaders, limits, guards.
//! - [`http`]: the router, auth at the edge, health, metrics.
//! - [`input`]: checks of free text typed by agents; [`links`]: signed media links;
//!   [`janitor`]: deletes the bytes nothing refers to any more, after the commit.
//! - [`auth`]: JWTs and the viewer; [`config`]: the one typed configuration; [`error`]: the
//!   one error edge; [`store`]: what use cases share around a transaction; [`telemetry`]:
//!   logging and metrics; [`startup`]: [`Application`]; [`cli`]: the command line;
//!   [`simulate`]: `parley simulate`, which plays the customer against a running server.
//! - [`workers`]: the one shape of every background loop (woken by its kind of work, its due
//!   time or a slow safety poll).

pub mod auth;
pub mod cli;
pub mod config;
pub mod contacts;
pub mod crm;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod inbound;
pub mod input;
pub mod janitor;
pub mod links;
pub mod outbound;
pub mod providers;
pub mod setup;
pub mod simulate;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod traces;
pub mod workers;
pub mod workflow;

pub use config::Config;
pub use startup::Application;
