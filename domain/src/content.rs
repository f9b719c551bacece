//! What an agent sends: the content of an outbound message, as stored and as handed to a
//! gateway. One serde type for both, so what the delivery worker sends is exactly what the
//! agent's request stored.

use crate::ids::AttachmentId;
use crate::model::AttachmentKind;

/// What to send.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutboundContent {
    /// A free-form text (inside the service window, or on SMS).
    Text { body: String },
    /// A WhatsApp template with its positional parameters.
    Template { name: String, language: String, parameters: Vec<String> },
    /// WhatsApp's interactive "request contact info" message (inside the service window).
    RequestContactInfo { body: String },
    /// A photo, video, audio, document or sticker uploaded to Parley; the delivery worker uploads
    /// its bytes to the provider, then sends it by the provider's media id.
    Media {
        attachment_id: AttachmentId,
        kind: AttachmentKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_name: Option<String>,
    },
}

impl OutboundContent {
    /// The message kind shown to agents (`text`, `template`, `interactive`).
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            OutboundContent::Text { .. } => "text",
            OutboundContent::Template { .. } => "template",
            OutboundContent::RequestContactInfo { .. } => "interactive",
            OutboundContent::Media { kind, .. } => crate::media::message_type(*kind),
        }
    }
}

/// The highest `{{n}}` of a template body: how many positional parameters it takes.
#[must_use]
pub fn parameter_count(body: &str) -> usize {
    let mut highest = 0;
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if let Ok(n) = after[..end].trim().parse::<usize>() {
            highest = highest.max(n);
        }
        rest = &after[end + 2..];
    }
    highest
}
