//! One module per scenario; each prints its table and JSON line.
//!
//! - [`ingest`]: signed webhooks vs single-row INSERT commits.
//! - [`send`]: `sendMessage` through the sandbox gateway vs `{ __typename }`.
//! - [`search`]: inbox search over many conversations vs `{ __typename }`.
//! - [`events`]: webhook → subscriber and CRM latency across two processes (PostgreSQL).
//! - [`media`]: image webhooks with the fetcher running vs text webhooks; 100 concurrent 10 MB
//!   downloads (server memory).
//! - [`inbox`]: the desktop's first inbox page (`web/graphql/Inbox.graphql`) vs
//!   `{ __typename }`.
//! - [`sms`]: signed inbound SMS posts vs signed WhatsApp webhooks.
//! - [`routing`]: the router's decision time with a long queue and a full team vs a one-read
//!   write transaction.
//! - [`report`]: `report(input)` over a million conversations with its plans, and the CSV
//!   export streamed (PostgreSQL).
//! - [`growth`]: the desktop's inbox list and `@username` search from 100,000 to 10,000,000
//!   conversations (PostgreSQL).

pub mod events;
pub mod growth;
pub mod inbox;
pub mod ingest;
pub mod media;
pub mod report;
pub mod routing;
pub mod search;
pub mod send;
pub mod sms;
