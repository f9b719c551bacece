//! The one reader of the SMS provider's posts: a verified form becomes a typed item (a
//! customer's text with its media, a status callback) or the reason it is refused.
//! [`super::apply`] stores what this reads and never looks at a form field or JSON.

use domain::{MessageStatus, PhoneNumber};
use persistence::BusinessNumber;
use persistence::content::MessageContent;
use persistence::messages::ProviderError;
use serde_json::{Value, json};

/// The posted fields, in order (the signature covers every one).
pub type Form = Vec<(String, String)>;

/// The value of a posted field (the first, should it repeat).
#[must_use]
pub fn form_field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Which of the two kinds of post this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Post {
    /// A customer's message to the number in `To`.
    Inbound,
    /// A status callback for a message the number in `From` sent.
    Status,
}

impl Post {
    /// What kind of post a form is: a status callback carries `MessageStatus`.
    #[must_use]
    pub fn of(form: &Form) -> Self {
        if form_field(form, "MessageStatus").is_some() { Post::Status } else { Post::Inbound }
    }

    /// The field naming the business's number: `To` of a customer's text, `From` of a callback.
    #[must_use]
    pub fn routed_by(self) -> &'static str {
        match self {
            Post::Inbound => "To",
            Post::Status => "From",
        }
    }
}

/// A verified post of the SMS provider, for the number it is routed to.
#[derive(Clone, Debug)]
pub struct SmsPost {
    pub number: BusinessNumber,
    pub form: Form,
    pub kind: Post,
}

/// What a post says.
#[derive(Clone, Debug, PartialEq)]
pub enum SmsItem {
    Message(SmsMessage),
    Status(SmsStatus),
    /// Malformed: answered `400` with this reason, nothing stored.
    Unreadable(&'static str),
}

/// A customer's text (or MMS).
#[derive(Clone, Debug, PartialEq)]
pub struct SmsMessage {
    pub from: PhoneNumber,
    /// The provider's `MessageSid`: a repeat changes nothing.
    pub sid: String,
    pub body: String,
    /// `OptOutType` (`STOP`, `START`, …) when the provider's advanced opt-out recognised one.
    pub opt_out_type: Option<String>,
    /// The message line of the inbox: the body, and how many files came with it.
    pub summary: String,
    /// What is stored: body, segments, media (URL and type) and opt-out type.
    pub content: MessageContent,
}

/// A status callback of a message Parley sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsStatus {
    pub sid: String,
    /// `None` for a word Parley does not track (the callback changes nothing).
    pub status: Option<MessageStatus>,
    /// The provider's error, for a failure.
    pub error: Option<ProviderError>,
}

/// Reads a verified post.
#[must_use]
pub fn read_post(post: &SmsPost) -> SmsItem {
    match post.kind {
        Post::Inbound => read_message(&post.form),
        Post::Status => SmsItem::Status(read_status(&post.form)),
    }
}

fn read_message(form: &Form) -> SmsItem {
    let field = |name: &str| form_field(form, name);
    let Some(Ok(from)) = field("From").map(|p| PhoneNumber::parse(p.trim())) else {
        return SmsItem::Unreadable("From must be the customer's E.164 phone number");
    };
    let body = field("Body").unwrap_or_default().to_owned();
    let media = media_of(form);
    let summary = match (body.trim().is_empty(), media.len()) {
        (_, 0) => body.clone(),
        (true, n) => format!("[{n} attachment(s)]"),
        (false, n) => format!("{body} [{n} attachment(s)]"),
    };
    let content = json!({
        "body": body,
        "numSegments": field("NumSegments"),
        "media": media,
        "optOutType": field("OptOutType"),
    });
    SmsItem::Message(SmsMessage {
        from,
        sid: field("MessageSid").unwrap_or_default().trim().to_owned(),
        opt_out_type: field("OptOutType").map(str::to_owned),
        body,
        summary,
        content: MessageContent::Inbound(content),
    })
}

fn read_status(form: &Form) -> SmsStatus {
    let field = |name: &str| form_field(form, name);
    let status = field("MessageStatus").and_then(domain::sms::message_status);
    let error = (status == Some(MessageStatus::Failed)).then(|| {
        let code = field("ErrorCode").and_then(|c| c.trim().parse::<i64>().ok());
        let title = field("ErrorMessage")
            .map(str::to_owned)
            .or_else(|| code.map(|c| format!("SMS provider error {c}")))
            .unwrap_or_else(|| format!("SMS {}", field("MessageStatus").unwrap_or("failed")));
        ProviderError { code, title: Some(title) }
    });
    SmsStatus { sid: field("MessageSid").unwrap_or_default().trim().to_owned(), status, error }
}

/// An MMS's media, as the provider lists it (`MediaUrl{N}`, `MediaContentType{N}`).
fn media_of(form: &Form) -> Vec<Value> {
    let field = |name: &str| form_field(form, name);
    let count = field("NumMedia").and_then(|n| n.trim().parse::<usize>().ok()).unwrap_or(0).min(10);
    (0..count)
        .filter_map(|i| {
            let url = field(&format!("MediaUrl{i}"))?;
            Some(json!({ "url": url, "contentType": field(&format!("MediaContentType{i}")) }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> Form {
        fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn mms_media_are_listed_in_order() {
        let form = form(&[
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.example.invalid/media/ME000"),
            ("MediaContentType0", "image/png"),
            ("MediaUrl1", "https://api.example.invalid/media/ME001"),
            ("MediaContentType1", "application/pdf"),
        ]);
        let media = media_of(&form);
        assert_eq!(media.len(), 2);
        assert_eq!(media[1]["contentType"], "application/pdf");
    }

    #[test]
    fn a_text_an_mms_and_a_failure_read_as_typed_items() {
        let SmsItem::Message(text) =
            read_message(&form(&[("From", "+14155550110"), ("MessageSid", " SM1 "), ("Body", "Hi")]))
        else {
            panic!("a text")
        };
        assert_eq!(
            (text.from.as_str(), text.sid.as_str(), text.summary.as_str()),
            ("+14155550110", "SM1", "Hi")
        );
        let mms = read_message(&form(&[
            ("From", "+14155550110"),
            ("NumMedia", "1"),
            ("MediaUrl0", "https://api.example.invalid/m"),
        ]));
        assert!(matches!(mms, SmsItem::Message(m) if m.summary == "[1 attachment(s)]"));
        assert_eq!(
            read_message(&form(&[("From", "not a phone")])),
            SmsItem::Unreadable("From must be the customer's E.164 phone number")
        );
        let failed = read_status(&form(&[
            ("MessageSid", "SM2"),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
        ]));
        assert_eq!(failed.status, Some(MessageStatus::Failed));
        assert_eq!(failed.error.unwrap().title.as_deref(), Some("SMS provider error 30003"));
        assert_eq!(read_status(&form(&[("MessageStatus", "queued")])).status, None);
    }
}
