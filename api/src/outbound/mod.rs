//! What reaches the customer: agent actions, the delivery worker and the providers.
//!
//! - [`actions`]: replies, templates, the phone-number request, calls, channel switches; each
//!   checks its capability and stores a `PENDING` message with its event.
//! - [`start`]: an agent writes first, to a phone or a contact, opening or reusing its thread.
//! - [`delivery`]: the worker that sends pending messages through the providers
//!   ([`crate::providers`]), with retries.

pub mod actions;
pub mod delivery;
pub mod start;
