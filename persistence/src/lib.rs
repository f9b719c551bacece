//! Parley's storage: the database handle, sea-orm entities and one repository module per
//! aggregate. Every repository function takes `&impl ConnectionTrait`, so it runs the same on
//! the pool or inside the transaction a use case opened, and every query that reads tenant
//! data takes the workspace id, so a forgotten check cannot leak another tenant's row.
//!
//! - [`db`]: [`Database`]: connecting (SQLite or PostgreSQL), write transactions, statement count.
//! - [`error`]: [`Error`]: constraint violations as named errors, unreadable stored values as
//!   [`Error::Corrupt`], the rest opaque.
//! - [`entities`]: one sea-orm entity per table.
//! - [`workspaces`], [`agents`], [`business_numbers`], [`conversations`], [`messages`],
//!   [`contacts`], [`templates`]: repositories; [`inbox`]: the inbox page and its search.
//! - [`events`]: the transactional outbox (CloudEvents with a per-workspace cursor).
//! - [`receipts`]: digests of webhook changes applied once only (replays change nothing).
//! - [`dead_letters`]: Meta webhook payloads that could not be routed or understood.
//! - [`crm`]: CRM webhook endpoints, their delivery queue and its claiming.
//! - [`content`]: the JSON columns as serde types (message content, endpoint event types).
//! - [`opt_outs`]: SMS opt-outs per sender number; [`signals`]: read receipts and typing
//!   indicators queued for the provider; [`send_queue`]: the delivery worker's queues together.
//! - [`reads`]: per-agent read markers, unread counts, the inbox counts.
//! - [`provider_ids`]: providers' message ids as stored (digests, sealed raw ids).
//! - [`privacy`]: everything stored about one customer (export) and erasing it.
//! - [`labels`], [`teams`], [`canned_responses`]: the team workflow (labels on conversations,
//!   teams and their members, saved answers).
//! - [`attachments`], [`reactions`]: media of messages (fetch queue, uploads) and reactions.
//! - [`blobs`]: the blob store of media bytes (`file://` or `s3://`, streamed);
//!   [`blob_deletions`]: the durable list of bytes to delete after a commit.
//! - [`staged`]: writes a group commit holds back and sends a few statements per table.
//! - [`sealed`]: secrets at rest (AES-256-GCM under `PARLEY_SECRET_KEY`, key ids for rotation).
//! - [`dialect`]: [`dialect::Dialect`], every SQLite/PostgreSQL difference in one place.
//! - [`work`]: which background work a commit made ready ([`Work`], [`Announce`]) and the
//!   workers it wakes, in this process and (PostgreSQL `NOTIFY`) in others.

pub mod agents;
pub mod attachments;
pub mod audit;
pub mod blob_deletions;
pub mod blobs;
pub mod business_numbers;
pub mod canned_responses;
pub mod contacts;
pub mod content;
pub mod conversations;
pub mod crm;
pub mod db;
pub mod dead_letters;
pub mod dialect;
pub mod entities;
pub mod error;
pub mod events;
pub mod hours;
pub mod inbox;
pub mod labels;
mod lookup;
pub mod messages;
pub mod opt_outs;
pub mod privacy;
pub mod provider_ids;
pub mod reactions;
pub mod reads;
pub mod receipts;
pub mod reports;
pub mod retention;
pub mod routing;
pub mod sealed;
pub mod send_queue;
pub mod settings;
pub mod signals;
pub mod sla;
pub mod snoozes;
pub mod staged;
pub mod teams;
pub mod templates;
pub mod windows;
pub mod work;
pub mod workspaces;

pub use db::{Database, PoolSettings, WriteTransaction};
// The stored records, by their domain names: callers never speak `entities::…::Model`.
pub use entities::agent::Model as Agent;
pub use entities::attachment::Model as Attachment;
pub use entities::audit_entry::Model as AuditEntry;
pub use entities::business_number::Model as BusinessNumber;
pub use entities::canned_response::Model as CannedResponse;
pub use entities::contact::Model as Contact;
pub use entities::contact_identity::Model as ContactIdentity;
pub use entities::conversation::Model as Conversation;
pub use entities::dead_letter::Model as DeadLetter;
pub use entities::event::Model as StoredEvent;
pub use entities::label::Model as Label;
pub use entities::message::Model as Message;
pub use entities::message_reaction::Model as MessageReaction;
pub use entities::provider_signal::Model as ProviderSignal;
pub use entities::team::Model as Team;
pub use entities::template::Model as Template;
pub use entities::workspace::Model as Workspace;
pub use error::Error;
pub use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr};
pub use work::{Announce, Work};
