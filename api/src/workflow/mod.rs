//! How a team works the inbox: capabilities of a conversation, assignment, resolve and reopen.
//!
//! - [`conversations`]: reading a conversation for a change, its capabilities, assignment and
//!   status changes.

pub mod conversations;
