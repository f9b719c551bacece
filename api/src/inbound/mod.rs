//! The providers' inbound webhooks (Meta's and the SMS provider's), from the HTTP request to
//! the stored rows and events. Both wings have the same shape: `http` checks the request
//! (signature, routing) and answers; `read` turns the body into typed items, the only place
//! that looks at the provider's JSON or form fields; `apply` stores the items. [`batch`]
//! commits concurrent webhooks of both together.
//!
//! - [`whatsapp`]: `GET|POST /webhooks/whatsapp` (also the threading of one inbound message and
//!   the fetcher that brings customers' files into the blob store).
//! - [`sms`]: `POST /webhooks/sms`.
//! - [`batch`]: group commit: concurrent webhooks applied in one transaction, each answered
//!   after the shared commit; [`group`]: the look-ups and held writes they share.

pub mod batch;
pub mod group;
pub mod sms;
pub mod whatsapp;
