//! The JSON columns as serde types: nothing above this crate reads a stored JSON value by
//! string keys.

use domain::content::OutboundContent;
use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

/// A message's content. Outbound messages store what the agent sent (the gateway sends exactly
/// that); inbound ones store the provider's message object, minus ids that could reveal a hidden
/// phone, for display and export.
///
/// The stored form is the inner value itself (no wrapper): an outbound content is a closed shape
/// (`{"type":"text","body":…}`, unknown fields refused), and every provider message object has
/// fields no outbound shape has (`timestamp`, `text: {…}`), so the two never read as each other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(untagged)]
pub enum MessageContent {
    Outbound(OutboundContent),
    Inbound(serde_json::Value),
}

impl MessageContent {
    /// The outbound content, for the delivery worker.
    #[must_use]
    pub fn outbound(&self) -> Option<&OutboundContent> {
        match self {
            MessageContent::Outbound(content) => Some(content),
            MessageContent::Inbound(_) => None,
        }
    }
}

/// The event types a CRM endpoint receives (empty: all).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct EventTypes(pub Vec<String>);

impl EventTypes {
    /// Whether an event of this type goes to the endpoint.
    #[must_use]
    pub fn wants(&self, event_type: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|t| t == event_type)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn outbound_content_keeps_the_stored_form_of_earlier_versions() {
        let cases = [
            (json!({"type": "text", "body": "Hi"}), OutboundContent::Text { body: "Hi".into() }),
            (
                json!({"type": "template", "name": "order", "language": "en_US", "parameters": ["42"]}),
                OutboundContent::Template {
                    name: "order".into(),
                    language: "en_US".into(),
                    parameters: vec!["42".into()],
                },
            ),
            (
                json!({"type": "request_contact_info", "body": "Share?"}),
                OutboundContent::RequestContactInfo { body: "Share?".into() },
            ),
        ];
        for (stored, content) in cases {
            let read: MessageContent = serde_json::from_value(stored.clone()).unwrap();
            assert_eq!(read, MessageContent::Outbound(content.clone()));
            assert_eq!(serde_json::to_value(MessageContent::Outbound(content)).unwrap(), stored);
        }
    }

    #[test]
    fn provider_message_objects_read_as_inbound_content() {
        let stored = [
            json!({"type": "text", "text": {"body": "Hi"}, "timestamp": "1750000000"}),
            json!({"type": "interactive", "interactive": {"type": "button_reply"}, "timestamp": "1"}),
            json!({"type": "text", "body": "Hi", "timestamp": "1"}),
        ];
        for value in stored {
            let read: MessageContent = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(read, MessageContent::Inbound(value.clone()));
            assert_eq!(serde_json::to_value(&read).unwrap(), value);
        }
    }

    #[test]
    fn an_endpoint_without_types_wants_everything() {
        assert!(EventTypes::default().wants("message.received"));
        let some = EventTypes(vec!["message.received".into()]);
        assert!(some.wants("message.received"));
        assert!(!some.wants("contact.created"));
    }
}
