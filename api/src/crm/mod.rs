//! CRM integrations: the endpoints admins register, and the dispatcher that POSTs every event
//! to them, signed per the Standard Webhooks spec, in cursor order, with retries.
//!
//! - [`endpoints`]: create, delete, resume, redeliver (the admin use cases).
//! - [`dispatcher`]: the background worker: enqueue, claim, sign, POST, record.
//! - [`guard`]: which target URLs and addresses are allowed (SSRF).

pub mod dispatcher;
pub mod endpoints;
pub mod guard;
