//! Parley's domain: the rules of a WhatsApp inbox where customers may hide their phone number.
//!
//! Pure code only: no IO, no async, no database or web types. Everything here is a value type
//! built by parsing, or a function from plain facts (and a `now`) to a decision.
//!
//! - [`ids`]: typed, random identifiers (`ConversationId`, `WorkspaceId`, …).
//! - [`identity`]: customer identities: [`PhoneNumber`], [`Bsuid`], [`ParentBsuid`], [`Username`].
//! - [`business_username`]: [`BusinessUsername`] with every format rule of WhatsApp.
//! - [`email`]: e-mail addresses ([`Email`]).
//! - [`model`]: the enums the product speaks in (channels, statuses, origins, roles…).
//! - [`threading`]: which conversation an inbound message joins (PRODUCT.md section 3).
//! - [`capabilities`]: what an agent may do in a conversation now, and why not (section 4).
//! - [`display`]: the display-name rule and the hidden-phone notice (section 5).
//! - [`search`]: how a search string is read (username prefix, name substring, phone digits).

pub mod business_username;
pub mod capabilities;
pub mod display;
pub mod email;
pub mod identity;
pub mod ids;
pub mod model;
pub mod search;
pub mod threading;

pub use business_username::{BusinessUsername, BusinessUsernameError};
pub use capabilities::{Capabilities, Capability, ConversationFacts, Denial, SERVICE_WINDOW};
pub use email::{Email, EmailError};
pub use identity::{Bsuid, BsuidError, ParentBsuid, PhoneNumber, PhoneNumberError, Username, UsernameError};
pub use ids::*;
pub use model::*;
