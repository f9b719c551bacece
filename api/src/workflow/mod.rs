//! How a team works the inbox: capabilities of a conversation, assignment, resolve, reopen,
//! snooze and read state, notes, labels, teams and canned responses.
//!
//! - [`conversations`]: reading a conversation for a change, its capabilities, assignment (to
//!   an agent, a team, or both) and status changes.
//! - [`counts`]: the inbox's counts, read once for concurrent requests.
//! - [`lifecycle`]: read state and read receipts, typing indicators, snoozing and waking.
//! - [`notes`]: notes for colleagues.
//! - [`status`]: a message's status moves forward (provider statuses, SMS callbacks, sends).
//! - [`team`]: labels, teams and their members, canned responses.
//! - [`windows`]: the service window's warning and closing as events.

pub mod conversations;
pub mod counts;
pub mod lifecycle;
pub mod notes;
pub mod status;
pub mod team;
pub mod windows;
