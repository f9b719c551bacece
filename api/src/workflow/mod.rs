//! How a team works the inbox: capabilities of a conversation, assignment, resolve, reopen,
//! snooze and read state.
//!
//! - [`conversations`]: reading a conversation for a change, its capabilities, assignment and
//!   status changes.
//! - [`lifecycle`]: read state and read receipts, typing indicators, snoozing and waking.

pub mod conversations;
pub mod lifecycle;
