//! GraphQL mirrors of the domain enums (same variants, converted both ways).

use async_graphql::Enum;

/// Where a conversation's messages go.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::Channel")]
pub enum Channel {
    /// WhatsApp Cloud API.
    Whatsapp,
    /// SMS to the customer's phone number.
    Sms,
}

/// Whether agents still need to act on a conversation.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::ConversationStatus")]
pub enum ConversationStatus {
    /// Waiting for an agent.
    Open,
    /// Done; a new inbound message reopens it.
    Resolved,
    /// Put aside until `snoozedUntil` or the customer's next message, whichever is first; then
    /// `OPEN` again.
    Snoozed,
}

/// Why a conversation exists.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::ThreadOrigin")]
pub enum ThreadOrigin {
    /// The customer wrote and no earlier thread of theirs was known.
    FirstContact,
    /// The customer wrote without their phone number and was seen before on another thread
    /// (see `previousConversation` and `suggestedContact`).
    ReturningCustomerHidNumber,
    /// An agent wrote first, to a known phone number.
    AgentStarted,
}

/// WhatsApp template categories.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::TemplateCategory")]
pub enum TemplateCategory {
    /// Promotions and relationship messages; allowed outside the service window.
    Marketing,
    /// Follow-ups to a customer's action or request; allowed outside the service window.
    Utility,
    /// One-time passcodes; need the customer's phone number.
    Authentication,
}

/// Where Meta's review of a template stands. Only `APPROVED` templates can be sent.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::TemplateStatus")]
pub enum TemplateStatus {
    /// Approved by WhatsApp: it can be sent.
    Approved,
    /// Submitted and in review (or in appeal).
    Pending,
    /// Rejected by WhatsApp (`rejectedReason` says why).
    Rejected,
    /// Paused by WhatsApp for low quality.
    Paused,
    /// Disabled by WhatsApp, deleted, or no longer listed in the WABA.
    Disabled,
}

/// WhatsApp's quality rating of a template, from its readers' feedback.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::TemplateQuality")]
pub enum TemplateQuality {
    /// High quality.
    Green,
    /// Medium quality: readers are blocking or reporting it.
    Yellow,
    /// Low quality: WhatsApp may pause it.
    Red,
    /// Not rated yet.
    Unknown,
}

/// Why an action is denied, as a code a frontend translates (the English text is `reason`).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::DenialCode")]
pub enum DenialReason {
    /// WhatsApp's 24-hour customer service window has closed: only templates may be sent.
    WindowClosed,
    /// The action needs the customer's phone number, which nobody knows (the customer hid it
    /// and no linked contact has one).
    PhoneRequired,
    /// The action exists on WhatsApp only, and the conversation is on another channel.
    WhatsappOnly,
    /// The customer opted out of SMS from the workspace's number (replied STOP).
    OptedOut,
    /// The customer's phone number is already known: there is nothing to ask for.
    PhoneAlreadyKnown,
    /// The conversation's business number is disconnected.
    NumberDisconnected,
    /// The template is not approved by WhatsApp (pending, rejected, paused or disabled).
    TemplateNotApproved,
}

/// What an agent may do in the API.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::Role")]
pub enum Role {
    /// Works conversations.
    Agent,
    /// Everything an agent does, plus workspace set-up.
    Admin,
    /// A machine client such as a CRM sync.
    Integration,
}

/// Whether setting a business username may take it from another number of the portfolio.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::TransferAction")]
pub enum TransferAction {
    /// Fail when another number of the portfolio holds the username.
    None,
    /// Move the username from the other number of the portfolio.
    ForceTransfer,
}

/// Who wrote a message.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::Direction")]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// From the business.
    Outbound,
    /// A note between agents: never sent to the customer.
    Internal,
}

/// Delivery state of a message.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::MessageStatus")]
pub enum MessageStatus {
    /// An inbound message.
    Received,
    /// Accepted by Parley, not yet by the provider.
    Pending,
    /// Accepted by the provider.
    Sent,
    /// Delivered to the customer's device.
    Delivered,
    /// Read by the customer.
    Read,
    /// Not delivered; see the error.
    Failed,
}

/// State of a business username at WhatsApp.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::BusinessUsernameStatus")]
pub enum BusinessUsernameStatus {
    /// Approved and visible to users where usernames are live.
    Approved,
    /// Claimed, not yet visible to users.
    Reserved,
}

/// What a message's attachment is.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::AttachmentKind")]
pub enum AttachmentKind {
    /// A photo (JPEG or PNG).
    Image,
    /// A video (MP4 or 3GPP).
    Video,
    /// An audio file.
    Audio,
    /// A voice note recorded in WhatsApp.
    Voice,
    /// A document (PDF, Office, text…).
    Document,
    /// A sticker (WebP).
    Sticker,
}

/// Where an attachment's bytes are.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::AttachmentStatus")]
pub enum AttachmentStatus {
    /// Announced by WhatsApp, being fetched.
    Pending,
    /// In Parley's store: download it through `url`.
    Stored,
    /// Could not be fetched; `failureReason` says why. The message stays.
    Failed,
}

/// Whether an agent takes new conversations.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::Availability")]
pub enum Availability {
    /// Takes new work (while a WebSocket is open, or within `PARLEY_PRESENCE_GRACE` of the last).
    Online,
    /// At work, takes no new conversations.
    Busy,
    /// Away.
    Offline,
}
