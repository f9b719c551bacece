//! How a team works the inbox: capabilities of a conversation, assignment, resolve, reopen,
//! snooze and read state, notes, labels, teams and canned responses.
//!
//! - [`arrivals`]: what a customer's message sets going (team policy, SLA, away reply, router).
//! - [`conversations`]: reading a conversation for a change, its capabilities, assignment (to
//!   an agent, a team, or both) and status changes.
//! - [`counts`]: the inbox's counts, read once for concurrent requests.
//! - [`facts`]: the first response and resolution each conversation keeps for reports.
//! - [`lifecycle`]: read state and read receipts, typing indicators, snoozing and waking.
//! - [`hours`]: business hours, the workspace's open state, away replies.
//! - [`notes`]: notes for colleagues.
//! - [`reports`]: reports by day, agent, team or number, and the conversations as CSV.
//! - [`routing`]: availability and presence, and the team router.
//! - [`sla`]: SLA policies, their clocks, and the timer of warnings and breaches.
//! - [`status`]: a message's status moves forward (provider statuses, SMS callbacks, sends).
//! - [`team`]: labels, teams and their members, canned responses.
//! - [`windows`]: the service window's warning and closing as events.

pub mod arrivals;
pub mod conversations;
pub mod counts;
pub mod facts;
pub mod hours;
pub mod lifecycle;
pub mod notes;
pub mod reports;
pub mod routing;
pub mod sla;
pub mod status;
pub mod team;
pub mod windows;
