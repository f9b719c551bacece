//! The enums the product speaks in. Each has one stable text form ([`Channel::as_str`] and
//! friends), used for storage and matching the GraphQL enum names, and parses back from it.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A stored or received enum value that Parley does not know.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("unknown {kind} value {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "sea-orm", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
        #[cfg_attr(feature = "sea-orm", sea_orm(rs_type = "String", db_type = "Text"))]
        pub enum $name {
            $(
                $(#[$vdoc])*
                #[serde(rename = $text)]
                #[cfg_attr(feature = "sea-orm", sea_orm(string_value = $text))]
                $variant
            ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable text form (storage, events, GraphQL enum value).
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }
    };
}

text_enum!(
    /// Where a conversation's messages go.
    Channel { Whatsapp => "WHATSAPP", Sms => "SMS" }
);
text_enum!(
    /// Whether agents still need to act on a conversation.
    ConversationStatus {
        Open => "OPEN",
        /// Put aside until a time (`snoozedUntil`) or the customer's next message.
        Snoozed => "SNOOZED",
        Resolved => "RESOLVED",
    }
);
text_enum!(
    /// Why a conversation exists (PRODUCT.md section 3).
    ThreadOrigin {
        /// The customer wrote and no earlier thread of theirs was known.
        FirstContact => "FIRST_CONTACT",
        /// The customer wrote without a phone, and their BSUID was already on another thread.
        ReturningCustomerHidNumber => "RETURNING_CUSTOMER_HID_NUMBER",
        /// An agent wrote first, to a known phone.
        AgentStarted => "AGENT_STARTED",
    }
);
text_enum!(
    /// What a conversation is keyed by: exactly one of these, for its whole life.
    ThreadKeyKind { Phone => "PHONE", Bsuid => "BSUID" }
);
text_enum!(
    /// Who wrote a message: the customer, the business (to the customer), or an agent for
    /// colleagues only (a note: never sent).
    Direction { Inbound => "INBOUND", Outbound => "OUTBOUND", Internal => "INTERNAL" }
);
text_enum!(
    /// Delivery state of a message. Outbound statuses only move forward (see [`MessageStatus::rank`]).
    MessageStatus {
        Received => "RECEIVED",
        Pending => "PENDING",
        Sent => "SENT",
        Delivered => "DELIVERED",
        Read => "READ",
        Failed => "FAILED",
    }
);
text_enum!(
    /// WhatsApp template categories.
    TemplateCategory { Marketing => "MARKETING", Utility => "UTILITY", Authentication => "AUTHENTICATION" }
);
text_enum!(
    /// Where Meta's review of a template stands (PRODUCT.md section 19). Only `APPROVED`
    /// templates can be sent.
    TemplateStatus {
        Approved => "APPROVED",
        /// Submitted, in review (or in appeal).
        Pending => "PENDING",
        Rejected => "REJECTED",
        /// Paused by Meta for low quality.
        Paused => "PAUSED",
        /// Disabled by Meta, deleted, or no longer listed in the WABA.
        Disabled => "DISABLED",
    }
);
text_enum!(
    /// Meta's quality rating of a template, from its readers' feedback.
    TemplateQuality { Green => "GREEN", Yellow => "YELLOW", Red => "RED", Unknown => "UNKNOWN" }
);

impl TemplateStatus {
    /// Meta's spelling of a template status (`GET /{waba-id}/message_templates`, webhook
    /// `message_template_status_update`), mapped onto Parley's five: in appeal is pending;
    /// deleted, pending deletion, archived and over the limit are disabled.
    #[must_use]
    pub fn from_meta(status: &str) -> Option<Self> {
        Some(match status.to_ascii_uppercase().as_str() {
            "APPROVED" => TemplateStatus::Approved,
            "PENDING" | "IN_APPEAL" => TemplateStatus::Pending,
            "REJECTED" => TemplateStatus::Rejected,
            "PAUSED" | "FLAGGED" => TemplateStatus::Paused,
            "DISABLED" | "DELETED" | "PENDING_DELETION" | "ARCHIVED" | "LIMIT_EXCEEDED" => {
                TemplateStatus::Disabled
            }
            _ => return None,
        })
    }
}

impl TemplateQuality {
    /// Meta's quality score (`quality_score.score`, `new_quality_score`); anything else is
    /// unknown.
    #[must_use]
    pub fn from_meta(score: &str) -> Self {
        match score.to_ascii_uppercase().as_str() {
            "GREEN" | "HIGH" => TemplateQuality::Green,
            "YELLOW" | "MEDIUM" => TemplateQuality::Yellow,
            "RED" | "LOW" => TemplateQuality::Red,
            _ => TemplateQuality::Unknown,
        }
    }
}

text_enum!(
    /// What an agent may do in the API.
    Role {
        Agent => "AGENT",
        Admin => "ADMIN",
        /// A machine client (CRM sync): reads events and data.
        Integration => "INTEGRATION",
    }
);
text_enum!(
    /// Whether setting a business username may take it from another number of the portfolio.
    TransferAction { None => "NONE", ForceTransfer => "FORCE_TRANSFER" }
);
text_enum!(
    /// State of a business username at WhatsApp.
    BusinessUsernameStatus { Approved => "APPROVED", Reserved => "RESERVED" }
);
text_enum!(
    /// State of one event's delivery to one CRM webhook endpoint.
    DeliveryStatus {
        Pending => "PENDING",
        Delivered => "DELIVERED",
        /// Retries exhausted; an admin may redeliver it.
        Failed => "FAILED",
    }
);
text_enum!(
    /// What a message's attachment is.
    AttachmentKind {
        Image => "IMAGE",
        Video => "VIDEO",
        Audio => "AUDIO",
        /// A voice note (recorded in WhatsApp; OPUS in OGG).
        Voice => "VOICE",
        Document => "DOCUMENT",
        Sticker => "STICKER",
    }
);
text_enum!(
    /// Where an attachment's bytes are.
    AttachmentStatus {
        /// Announced by the provider, not fetched yet.
        Pending => "PENDING",
        /// In Parley's blob store.
        Stored => "STORED",
        /// Could not be fetched (the reason is kept); the message stays.
        Failed => "FAILED",
    }
);
text_enum!(
    /// Whether an agent takes new work (PRODUCT.md section 18).
    Availability {
        Online => "ONLINE",
        /// At work, but takes no new conversations.
        Busy => "BUSY",
        Offline => "OFFLINE",
    }
);
text_enum!(
    /// How a team's router picks the member a waiting conversation goes to.
    RoutingMode {
        /// No router: agents take conversations from the queue.
        Manual => "MANUAL",
        /// The member with room assigned least recently.
        RoundRobin => "ROUND_ROBIN",
        /// The member with room with the fewest open conversations.
        LeastBusy => "LEAST_BUSY",
    }
);
text_enum!(
    /// A target of a service-level policy.
    SlaTarget {
        /// The first agent message after the conversation opens.
        FirstResponse => "FIRST_RESPONSE",
        /// The first agent message after a customer message that followed an agent message.
        NextResponse => "NEXT_RESPONSE",
        /// Resolving the conversation.
        Resolution => "RESOLUTION",
    }
);
text_enum!(
    /// A kind of identifier saved on a contact.
    IdentityKind { Phone => "PHONE", Bsuid => "BSUID", Username => "USERNAME" }
);

impl MessageStatus {
    /// Order of progress: a status update with a lower rank than the stored one is ignored
    /// (a late `delivered` never overwrites `read`); `FAILED` is terminal.
    #[must_use]
    pub const fn rank(self) -> u8 {
        match self {
            MessageStatus::Received => 0,
            MessageStatus::Pending => 1,
            MessageStatus::Sent => 2,
            MessageStatus::Delivered => 3,
            MessageStatus::Read => 4,
            MessageStatus::Failed => 5,
        }
    }

    /// Whether moving from `self` to `next` is progress.
    #[must_use]
    pub const fn advances_to(self, next: MessageStatus) -> bool {
        next.rank() > self.rank()
    }
}

impl Role {
    /// Admins may do everything an agent may.
    #[must_use]
    pub const fn is_admin(self) -> bool {
        matches!(self, Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_round_trips_through_its_text() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), *c);
        }
        for s in MessageStatus::ALL {
            assert_eq!(s.as_str().parse::<MessageStatus>().unwrap(), *s);
        }
        for o in ThreadOrigin::ALL {
            assert_eq!(o.as_str().parse::<ThreadOrigin>().unwrap(), *o);
        }
        assert!("whatsapp".parse::<Channel>().is_err());
    }

    #[test]
    fn statuses_never_move_backwards() {
        use MessageStatus::*;
        assert!(Pending.advances_to(Sent));
        assert!(Sent.advances_to(Delivered));
        assert!(Delivered.advances_to(Read));
        assert!(!Read.advances_to(Delivered));
        assert!(!Read.advances_to(Sent));
        assert!(Read.advances_to(Failed));
        assert!(!Failed.advances_to(Read));
        assert!(!Delivered.advances_to(Delivered));
    }
}
