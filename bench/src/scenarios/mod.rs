//! One module per scenario; each prints its table and JSON line.
//!
//! - [`ingest`]: signed webhooks vs single-row INSERT commits.
//! - [`send`]: `sendMessage` through the sandbox gateway vs `{ __typename }`.
//! - [`search`]: inbox search over many conversations vs `{ __typename }`.
//! - [`events`]: webhook → subscriber and CRM latency across two processes (PostgreSQL).
//! - [`media`]: image webhooks with the fetcher running vs text webhooks; 100 concurrent 10 MB
//!   downloads (server memory).
//! - [`inbox`]: the agent's first inbox page (with the viewer's unread counts) vs
//!   `{ __typename }`.
//! - [`sms`]: signed inbound SMS posts vs signed WhatsApp webhooks.

pub mod events;
pub mod inbox;
pub mod ingest;
pub mod media;
pub mod search;
pub mod send;
pub mod sms;
