//! The event types a client may ask for, with when each is written and what its `data`
//! holds: the README's table, the `types` arguments' descriptions and the error for an unknown
//! type all list [`CATALOGUE`] (tests hold them to it).

use persistence::events::types;

/// One event type, as documented.
#[derive(Clone, Copy, Debug)]
pub struct EventType {
    /// The CloudEvents `type`.
    pub name: &'static str,
    /// When Parley writes it.
    pub when: &'static str,
    /// The fields of its `data`.
    pub data: &'static str,
}

const CONVERSATION: &str = "conversationId, businessNumberId, channel, status, snoozedUntil, origin, \
previousConversationId, contactId, assigneeId, teamId, lastInboundAt, customer";
const MESSAGE: &str = "messageId, conversationId, businessNumberId, contactId, direction, channel, kind, \
text, status, authorId, templateName, templateCategory, sentAt, customer";
const CONTACT: &str = "contactId, name, email, phoneNumber, externalId, attributes";

/// Every event type, in the order of [`types::ALL`].
pub const CATALOGUE: &[EventType] = &[
    EventType {
        name: types::CONVERSATION_CREATED,
        when: "a thread opens: a new customer writes, a returning customer hides the number, an agent starts one",
        data: CONVERSATION,
    },
    EventType {
        name: types::CONVERSATION_UPDATED,
        when: "status, assignee, team, snooze, labels, channel or the customer's identity change",
        data: "the conversation's fields (as `conversation.created`); `labelIds` when its labels changed",
    },
    EventType {
        name: types::CONVERSATION_LINKED,
        when: "a contact is linked to the conversation (linked, created from it, upserted)",
        data: "the conversation's fields, and `contact` (as `contact.created`)",
    },
    EventType {
        name: types::CONVERSATION_UNLINKED,
        when: "the conversation's contact is unlinked",
        data: "the conversation's fields, and `previousContactId`",
    },
    EventType {
        name: types::MESSAGE_RECEIVED,
        when: "a customer's message (WhatsApp or SMS) is stored",
        data: MESSAGE,
    },
    EventType {
        name: types::MESSAGE_SENT,
        when: "an agent's message is stored `PENDING` for delivery",
        data: MESSAGE,
    },
    EventType {
        name: types::MESSAGE_STATUS_UPDATED,
        when: "a message's status advances (`SENT`, `DELIVERED`, `READ`, `FAILED`)",
        data: "the message's fields (as `message.received`), `previousStatus`, `errorCode`, `errorTitle`",
    },
    EventType {
        name: types::CONTACT_CREATED,
        when: "a contact is created (from a conversation, on its own, or by an upsert)",
        data: CONTACT,
    },
    EventType { name: types::CONTACT_UPDATED, when: "a contact's fields change", data: CONTACT },
    EventType {
        name: types::CUSTOMER_PHONE_SHARED,
        when: "a customer's phone becomes known (shared on request, or reported by Meta)",
        data: "conversationId, phoneNumber, source, customer",
    },
    EventType {
        name: types::BUSINESS_USERNAME_UPDATED,
        when: "a business number's username is set, changed, deleted, or its status reported by Meta",
        data: "businessNumberId, phoneNumberId, displayPhoneNumber, username, status",
    },
    EventType {
        name: types::ATTACHMENT_STORED,
        when: "a file's bytes are stored (or could not be, for good)",
        data: "attachmentId, messageId, conversationId, kind, mimeType, sizeBytes, sha256, status, customer",
    },
    EventType {
        name: types::MESSAGE_REACTION,
        when: "either side reacts to a message or removes its reaction",
        data: "messageId, conversationId, direction, emoji, removed, agentId, customer",
    },
    EventType { name: types::NOTE_ADDED, when: "an agent adds an internal note", data: MESSAGE },
    EventType {
        name: types::CONTACT_MERGED,
        when: "a contact is merged into another (its conversations move)",
        data: "the surviving contact's fields, `mergedContactId`, `conversationIds`",
    },
    EventType {
        name: types::CONTACT_DELETED,
        when: "a contact is deleted (its conversations are unlinked)",
        data: "contactId, conversationIds",
    },
    EventType {
        name: types::CUSTOMER_ERASED,
        when: "a customer is erased (ids only)",
        data: "conversationIds, contactIds",
    },
    EventType {
        name: types::CONVERSATION_WINDOW_CLOSING,
        when: "an open WhatsApp conversation's customer wrote last and the 24-hour service window closes within the workspace's `windowWarningMinutes` (at once when less is left); once per window",
        data: "conversationId, lastInboundAt, serviceWindowEndsAt, minutesLeft",
    },
    EventType {
        name: types::CONVERSATION_WINDOW_CLOSED,
        when: "the service window of an open WhatsApp conversation whose customer wrote last has closed; once per window",
        data: "conversationId, lastInboundAt, serviceWindowEndsAt",
    },
    EventType {
        name: types::CONVERSATION_CAPABILITIES_CHANGED,
        when: "a fact changed that flips a capability's `allowed`: the phone was shared, a contact linked or unlinked, the window closed, the customer opted out of SMS, the number was disconnected",
        data: "conversationId, cause (phone_shared, window_opened, window_closed, contact_linked, contact_unlinked, contact_updated, contact_merged, contact_deleted, opted_out, opted_in, number_disconnected, number_connected), before and after: the capability set as the API shows it",
    },
    EventType {
        name: types::CONVERSATION_ASSIGNED,
        when: "a conversation is assigned: by an agent (`assignConversation`) or by its team's router",
        data: "the conversation's fields (as `conversation.created`), `agentId`, `teamId`, `automatic`",
    },
    EventType {
        name: types::AGENT_AVAILABILITY_CHANGED,
        when: "an agent's availability changes (`setAvailability`)",
        data: "agentId, availability, previous, changedBy",
    },
    EventType {
        name: types::SLA_WARNING,
        when: "80% of an SLA target's time has passed and it is not met (once per target and cycle)",
        data: "conversationId, policyId, target, startedAt, dueAt",
    },
    EventType {
        name: types::SLA_BREACHED,
        when: "an SLA target's due time passed unmet (once per target and cycle)",
        data: "conversationId, policyId, target, startedAt, dueAt",
    },
    EventType {
        name: types::TEMPLATE_UPDATED,
        when: "a template's status, quality or category changes (Meta's webhooks, `syncTemplates`), or it is submitted (`createTemplate`)",
        data: "templateId, businessNumberId, wabaId, name, language, category, status, previousStatus, qualityScore, rejectedReason",
    },
];

/// The valid names, for an error message.
#[must_use]
pub fn names() -> String {
    CATALOGUE.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

/// The README's table: type, when, `data` fields.
#[must_use]
pub fn markdown_table() -> String {
    let mut table = String::from("| type | when | `data` |\n|---|---|---|\n");
    for t in CATALOGUE {
        table.push_str(&format!("| `{}` | {} | {} |\n", t.name, t.when, t.data));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_lists_every_type_once_in_order() {
        let names: Vec<&str> = CATALOGUE.iter().map(|t| t.name).collect();
        assert_eq!(names, types::ALL);
    }
}
