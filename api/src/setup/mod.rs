//! Setting a workspace up: what admins and operators do before agents work the inbox.
//!
//! - [`workspaces`]: bootstrap a workspace with its admin and business number.
//! - [`agents`]: create agents.
//! - [`numbers`]: connecting WhatsApp and SMS numbers with their own credentials, and
//!   disconnecting them.
//! - [`settings`]: the workspace's settings (read receipts, auto-link, window warning,
//!   retention).
//! - [`templates`]: message templates.
//! - [`usernames`]: the business username of a number (Cloud API calls, the
//!   `business_username.updated` event).
//! - [`demo`]: the demo workspace of `parley serve --demo`.
//! - [`customer`]: a customer's message as the providers deliver it (the demo and
//!   `parley simulate` use it).

pub mod agents;
pub mod customer;
pub mod demo;
pub mod numbers;
pub mod settings;
pub mod templates;
pub mod usernames;
pub mod workspaces;
