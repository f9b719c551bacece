//! Typed identifiers. Every id is a random UUIDv7 (time-ordered, never sequential), wrapped in
//! its own type so that a `ContactId` can never be passed where a `ConversationId` is meant.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
        pub struct $name(Uuid);

        /// Ids are never numbered by the database, so no integer converts to one.
        #[cfg(feature = "sea-orm")]
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        impl $name {
            /// A new random, time-ordered id.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an id from a verified token or a benchmark's own rows; storage reads typed
            /// columns and never needs it.
            #[must_use]
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID, for storage.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

typed_id!(
    /// A tenant: one business using Parley.
    WorkspaceId
);
typed_id!(
    /// A person or integration that calls the API.
    AgentId
);
typed_id!(
    /// A file attached to a message (a customer's photo, an agent's upload).
    AttachmentId
);
typed_id!(
    /// One reaction (an emoji) on one message.
    ReactionId
);
typed_id!(
    /// A WhatsApp business phone number owned by a workspace.
    BusinessNumberId
);
typed_id!(
    /// One thread between a business number and a customer on one channel.
    ConversationId
);
typed_id!(
    /// One message of a conversation.
    MessageId
);
typed_id!(
    /// A CRM record created or linked by an agent.
    ContactId
);
typed_id!(
    /// A message template.
    TemplateId
);
typed_id!(
    /// A durable event of the outbox.
    EventId
);
typed_id!(
    /// A CRM webhook endpoint.
    WebhookEndpointId
);
typed_id!(
    /// One delivery of one event to one CRM webhook endpoint.
    WebhookDeliveryId
);
typed_id!(
    /// A label agents put on conversations.
    LabelId
);
typed_id!(
    /// A team of agents conversations are routed to.
    TeamId
);
typed_id!(
    /// A saved answer agents insert by its short code.
    CannedResponseId
);
typed_id!(
    /// A service-level policy (response and resolution targets).
    SlaPolicyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = ConversationId::new();
        let parsed: ConversationId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
    }

    #[test]
    fn new_ids_are_distinct_and_time_ordered() {
        let a = ContactId::new();
        let b = ContactId::new();
        assert_ne!(a, b);
        assert!(a < b);
    }
}
