//! Parley's domain: the rules of a WhatsApp inbox where customers may hide their phone number.
//!
//! Pure code only: no IO, no async, no database or web types. The optional `sea-orm` feature
//! derives the storage conversions of ids, enums and values (typed columns for `persistence`);
//! no rule depends on it. Everything here is a value type
//! built by parsing, or a function from plain facts (and a `now`) to a decision.
//!
//! - [`ids`]: typed, random identifiers (`ConversationId`, `WorkspaceId`, …).
//! - [`identity`]: customer identities: [`PhoneNumber`], [`Bsuid`], [`ParentBsuid`], [`Username`].
//! - [`business_username`]: [`BusinessUsername`] with every format rule of WhatsApp.
//! - [`content`]: [`content::OutboundContent`], what an agent sends.
//! - [`media`]: which files WhatsApp takes and how large; inbound media kinds; sha256 checks.
//! - [`email`]: e-mail addresses ([`Email`]).
//! - [`model`]: the enums the product speaks in (channels, statuses, origins, roles…).
//! - [`threading`]: which conversation an inbound message joins (PRODUCT.md section 3).
//! - [`appending`]: what appending an inbound message changes on its conversation.
//! - [`identity_change`]: what a customer's new BSUID or phone changes on each conversation.
//! - [`contacts`]: the contact suggestion, and who may unlink or relink.
//! - [`statuses`]: Meta's status words, and the forward-only order of message statuses.
//! - [`capabilities`]: what an agent may do in a conversation now, and why not (section 4).
//! - [`display`]: the display-name rule and the hidden-phone notice (section 5).
//! - [`roles`]: who may do what ([`roles::Permission`], section 10's table).
//! - [`sms`]: SMS opt-out/opt-in keywords and a Twilio-compatible provider's status words.
//! - [`hours`]: business hours in an IANA time zone: open now, next opening, open time.
//! - [`routing`]: which team member a waiting conversation goes to; SLA due times.
//! - [`reports`]: the local days of a report's range in a time zone.
//! - [`search`]: how a search string is read (username prefix, name substring, phone digits).

pub mod appending;
pub mod business_username;
pub mod capabilities;
pub mod contacts;
pub mod content;
pub mod delivery;
pub mod display;
pub mod email;
pub mod hours;
pub mod identity;
pub mod identity_change;
pub mod ids;
pub mod media;
pub mod model;
pub mod reports;
pub mod roles;
pub mod routing;
pub mod search;
pub mod sms;
pub mod statuses;
pub mod threading;

pub use business_username::{BusinessUsername, BusinessUsernameError};
pub use capabilities::{Capabilities, Capability, ConversationFacts, Denial, DenialCode, SERVICE_WINDOW};
pub use email::{Email, EmailError};
pub use identity::{Bsuid, BsuidError, ParentBsuid, PhoneNumber, PhoneNumberError, Username, UsernameError};
pub use ids::*;
pub use model::*;
pub use roles::Permission;
