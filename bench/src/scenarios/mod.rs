//! One module per scenario; each prints its table and JSON line.
//!
//! - [`ingest`]: signed webhooks vs single-row INSERT commits.
//! - [`send`]: `sendMessage` through the sandbox gateway vs `{ __typename }`.
//! - [`search`]: inbox search over many conversations vs `{ __typename }`.
//! - [`events`]: webhook → subscriber and CRM latency across two processes (PostgreSQL).
//! - [`inbox`]: the agent's first inbox page vs `{ __typename }`.

pub mod events;
pub mod inbox;
pub mod ingest;
pub mod search;
pub mod send;
