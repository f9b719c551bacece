//! The Cloud API's request bodies: messages (text, template, media, the phone-number request),
//! reactions, read receipts and typing indicators. A BSUID goes in `recipient`, never in `to`.

use serde_json::{Value, json};

use super::WhatsappGateway;
use crate::providers::{OutboundContent, Recipient};

impl WhatsappGateway {
    fn envelope(recipient: &Recipient) -> Value {
        let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual" });
        match recipient {
            Recipient::Phone(phone) => body["to"] = json!(phone.digits()),
            Recipient::Bsuid(bsuid) => body["recipient"] = json!(bsuid.as_str()),
        }
        body
    }

    /// The Cloud API request body of a message: `media_id` is the provider's id of a media
    /// message's uploaded file, `reply_to` the raw `wamid` it replies to (`context.message_id`).
    #[must_use]
    pub fn request_body(
        recipient: &Recipient,
        content: &OutboundContent,
        media_id: Option<&str>,
        reply_to: Option<&str>,
    ) -> Value {
        let mut body = Self::envelope(recipient);
        if let Some(wamid) = reply_to {
            body["context"] = json!({ "message_id": wamid });
        }
        match content {
            OutboundContent::Text { body: text } => {
                body["type"] = json!("text");
                body["text"] = json!({ "preview_url": false, "body": text });
            }
            OutboundContent::Template { name, language, parameters } => {
                let mut template = json!({ "name": name, "language": { "code": language } });
                if !parameters.is_empty() {
                    let params: Vec<Value> =
                        parameters.iter().map(|p| json!({ "type": "text", "text": p })).collect();
                    template["components"] = json!([{ "type": "body", "parameters": params }]);
                }
                body["type"] = json!("template");
                body["template"] = template;
            }
            OutboundContent::RequestContactInfo { body: text } => {
                body["type"] = json!("interactive");
                body["interactive"] = json!({
                    "type": "request_contact_info",
                    "body": { "text": text },
                    "action": { "name": "request_contact_info" },
                });
            }
            OutboundContent::Media { kind, caption, file_name, .. } => {
                let kind = *kind;
                let message_type = domain::media::message_type(kind);
                let mut media = json!({ "id": media_id });
                if let Some(caption) = caption.as_ref().filter(|_| domain::media::takes_caption(kind)) {
                    media["caption"] = json!(caption);
                }
                if let (Some(name), domain::AttachmentKind::Document) = (file_name, kind) {
                    media["filename"] = json!(name);
                }
                body["type"] = json!(message_type);
                body[message_type] = media;
            }
        }
        body
    }

    /// The Cloud API request body of a read receipt for a received message (it covers earlier
    /// ones), with Meta's typing indicator when `typing` (shown for up to 25 s). Neither names a
    /// recipient: the `wamid` identifies the thread, phone or BSUID alike.
    #[must_use]
    pub fn signal_body(message_id: &str, typing: bool) -> Value {
        let mut body = json!({ "messaging_product": "whatsapp", "status": "read", "message_id": message_id });
        if typing {
            body["typing_indicator"] = json!({ "type": "text" });
        }
        body
    }

    /// The Cloud API request body of a reaction (an empty emoji removes it). A reaction is never
    /// a contextual reply.
    #[must_use]
    pub fn reaction_body(recipient: &Recipient, message_id: &str, emoji: &str) -> Value {
        let mut body = Self::envelope(recipient);
        body["type"] = json!("reaction");
        body["reaction"] = json!({ "message_id": message_id, "emoji": emoji });
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Bsuid, PhoneNumber};

    #[test]
    fn a_bsuid_goes_in_recipient_and_never_in_to() {
        let bsuid = Recipient::Bsuid(Bsuid::parse("US.13491208655302741918").unwrap());
        let body =
            WhatsappGateway::request_body(&bsuid, &OutboundContent::Text { body: "Hi".into() }, None, None);
        assert_eq!(body["recipient"], "US.13491208655302741918");
        assert!(body.get("to").is_none());
        assert_eq!(body["recipient_type"], "individual");
        let phone = Recipient::Phone(PhoneNumber::parse("+16505551234").unwrap());
        let body =
            WhatsappGateway::request_body(&phone, &OutboundContent::Text { body: "Hi".into() }, None, None);
        assert_eq!(body["to"], "16505551234");
        assert!(body.get("recipient").is_none());
    }

    #[test]
    fn media_replies_and_reactions_have_metas_shapes() {
        let bsuid = Recipient::Bsuid(Bsuid::parse("US.1349").unwrap());
        let image = OutboundContent::Media {
            attachment_id: domain::AttachmentId::new(),
            kind: domain::AttachmentKind::Image,
            caption: Some("Receipt".into()),
            file_name: Some("r.jpg".into()),
        };
        let body = WhatsappGateway::request_body(&bsuid, &image, Some("1037543291543636"), Some("wamid.Q"));
        assert_eq!(body["type"], "image");
        assert_eq!(body["image"], json!({ "id": "1037543291543636", "caption": "Receipt" }));
        assert_eq!(body["context"], json!({ "message_id": "wamid.Q" }));
        assert_eq!(body["recipient"], "US.1349");
        let voice = OutboundContent::Media {
            attachment_id: domain::AttachmentId::new(),
            kind: domain::AttachmentKind::Voice,
            caption: Some("ignored".into()),
            file_name: None,
        };
        let body = WhatsappGateway::request_body(&bsuid, &voice, Some("9"), None);
        assert_eq!((body["type"].as_str(), &body["audio"]), (Some("audio"), &json!({ "id": "9" })));
        assert!(body.get("context").is_none());
        let document = OutboundContent::Media {
            attachment_id: domain::AttachmentId::new(),
            kind: domain::AttachmentKind::Document,
            caption: None,
            file_name: Some("invoice.pdf".into()),
        };
        let body = WhatsappGateway::request_body(&bsuid, &document, Some("7"), None);
        assert_eq!(body["document"], json!({ "id": "7", "filename": "invoice.pdf" }));
        let reaction = WhatsappGateway::reaction_body(&bsuid, "wamid.R", "👍");
        assert_eq!(reaction["type"], "reaction");
        assert_eq!(reaction["reaction"], json!({ "message_id": "wamid.R", "emoji": "👍" }));
    }
}
