//! The SMS provider's verified posts, stored (PRODUCT.md section 12): customers' texts (routed
//! by `To`, the business's SMS number) and status callbacks of what Parley sent (`MessageStatus`,
//! routed by `From`). [`super::sms_webhook`] checks them; the group committer applies them.
//!
//! Threading: a text from P joins the workspace's most recently active conversation whose
//! replies go by SMS and whose customer (or linked contact) has phone P, reopening it;
//! otherwise it opens a new SMS conversation keyed by P (`FIRST_CONTACT`). A repeated
//! `MessageSid` changes nothing. `STOP` and its siblings opt the customer out of that number
//! (`START` back in). Statuses move outbound messages forward only.

use chrono::{DateTime, Utc};
use domain::sms::{Consent, consent_change};
use domain::threading::ThreadKey;
use domain::{Channel, ConversationStatus, MessageStatus, PhoneNumber, ThreadOrigin};
use persistence::Announce;
use persistence::content::MessageContent;
use persistence::conversations::{ConversationChange, CustomerFacts, NewConversation};
use persistence::entities::{business_number, conversation};
use persistence::messages::{NewMessage, Origin, ProviderError, StoredId};
use persistence::{ConnectionTrait, conversations, messages, opt_outs};
use serde_json::{Value, json};

use crate::events::Event;

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

/// A verified post of the SMS provider, for the number it is routed to.
#[derive(Clone, Debug)]
pub struct SmsPost {
    pub number: business_number::Model,
    pub form: Form,
    pub kind: Post,
}

/// What a verified post came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stored, or nothing to store (a duplicate, a status with nothing new).
    Done,
    /// Malformed: `400` with this reason.
    Refused(&'static str),
}

/// Applies a verified post in the caller's transaction.
///
/// # Errors
/// On a database failure; [`persistence::Error::Duplicate`] when another transaction stored the
/// same `MessageSid` first (applying again finds it).
pub async fn apply(
    db: &impl Announce,
    post: &SmsPost,
    now: DateTime<Utc>,
) -> Result<Applied, persistence::Error> {
    match post.kind {
        Post::Inbound => ingest(db, &post.number, &post.form, now).await,
        Post::Status => apply_status(db, &post.number, &post.form, now).await,
    }
}

/// Stores a customer's SMS (see the module documentation).
async fn ingest(
    db: &impl Announce,
    number: &business_number::Model,
    form: &Form,
    now: DateTime<Utc>,
) -> Result<Applied, persistence::Error> {
    let field = |name: &str| form_field(form, name);
    let Some(Ok(phone)) = field("From").map(|p| PhoneNumber::parse(p.trim())) else {
        return Ok(Applied::Refused("From must be the customer's E.164 phone number"));
    };
    let sid = field("MessageSid").unwrap_or_default().trim().to_owned();
    let body = field("Body").unwrap_or_default();
    let workspace = number.workspace_id;
    if messages::find_in_workspace_by_external_id(db, workspace, &sid).await?.is_some() {
        return Ok(Applied::Done);
    }
    let consent = consent_change(body, field("OptOutType"));
    match consent {
        Some(Consent::OptOut) => opt_outs::opt_out(db, number, &phone, now).await?,
        Some(Consent::OptIn) => opt_outs::opt_in(db, number, &phone).await?,
        None => {}
    }
    let opted_out = opt_outs::is_opted_out(db, number, &phone).await?;
    // `conversation.created` or (a resolved one reopened) `conversation.updated`.
    let mut opened_or_reopened = None;
    let conversation = match conversations::latest_sms_with_phone(db, workspace, &phone).await? {
        Some(current) => {
            let reopen = current.status != ConversationStatus::Open;
            let change = ConversationChange {
                status: reopen.then_some(ConversationStatus::Open),
                last_inbound_at: Some(now),
                last_activity_at: Some(now.max(current.last_activity_at)),
                ..ConversationChange::default()
            };
            if reopen {
                opened_or_reopened = Some(false);
            }
            conversations::update(db, current, change, now).await?
        }
        None => {
            opened_or_reopened = Some(true);
            let new = NewConversation {
                workspace_id: workspace,
                business_number_id: number.id,
                channel: Channel::Sms,
                key: ThreadKey::Phone(phone.clone()),
                customer: CustomerFacts { phone: Some(phone.clone()), ..CustomerFacts::default() },
                origin: ThreadOrigin::FirstContact,
                previous: None,
                last_inbound_at: Some(now),
                last_activity_at: now,
                assignee: None,
                link: None,
                sms_opted_out: opted_out,
            };
            conversations::insert(db, new, now).await?
        }
    };
    if consent.is_some() {
        conversations::set_sms_opted_out(db, workspace, &phone, opted_out, now).await?;
    }
    let media = media_of(form);
    let summary = match (body.trim().is_empty(), media.len()) {
        (_, 0) => body.to_owned(),
        (true, n) => format!("[{n} attachment(s)]"),
        (false, n) => format!("{body} [{n} attachment(s)]"),
    };
    let content = json!({
        "body": body,
        "numSegments": field("NumSegments"),
        "media": media,
        "optOutType": field("OptOutType"),
    });
    let new = NewMessage {
        origin: Origin::Inbound { id: StoredId { external_id: sid, sealed: None } },
        channel: Channel::Sms,
        kind: "text".to_owned(),
        text: summary,
        content: Some(MessageContent::Inbound(content)),
        sent_at: now,
        reply_to: None,
    };
    let message = messages::insert(db, &conversation, new, now).await?;
    match opened_or_reopened {
        Some(true) => crate::events::emit(db, Event::ConversationCreated(&conversation), now).await?,
        Some(false) => crate::events::emit(db, Event::ConversationUpdated(&conversation), now).await?,
        None => {}
    }
    crate::events::emit(db, Event::MessageReceived { message: &message, conversation: &conversation }, now)
        .await?;
    Ok(Applied::Done)
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

/// Moves an outbound SMS forward (never backwards; callbacks arrive in any order).
async fn apply_status(
    db: &impl Announce,
    number: &business_number::Model,
    form: &Form,
    now: DateTime<Utc>,
) -> Result<Applied, persistence::Error> {
    let field = |name: &str| form_field(form, name);
    let Some(next) = field("MessageStatus").and_then(domain::sms::message_status) else {
        return Ok(Applied::Done);
    };
    let sid = field("MessageSid").unwrap_or_default().trim();
    let Some(message) = messages::find_in_workspace_by_external_id(db, number.workspace_id, sid).await?
    else {
        tracing::debug!("SMS status for a message Parley did not send; ignored");
        return Ok(Applied::Done);
    };
    let current = message.status;
    if message.channel != Channel::Sms || !current.advances_to(next) {
        return Ok(Applied::Done);
    }
    let error = (next == MessageStatus::Failed).then(|| {
        let code = field("ErrorCode").and_then(|c| c.trim().parse::<i64>().ok());
        let title = field("ErrorMessage")
            .map(str::to_owned)
            .or_else(|| code.map(|c| format!("SMS provider error {c}")))
            .unwrap_or_else(|| format!("SMS {}", field("MessageStatus").unwrap_or("failed")));
        ProviderError { code, title: Some(title) }
    });
    let saved = messages::set_status(db, message, next, error, now).await?;
    let conversation = find_conversation(db, &saved).await?;
    crate::events::emit(
        db,
        crate::events::Event::MessageStatusUpdated {
            message: &saved,
            conversation: &conversation,
            previous: current,
        },
        now,
    )
    .await?;
    Ok(Applied::Done)
}

async fn find_conversation(
    db: &impl ConnectionTrait,
    message: &persistence::entities::message::Model,
) -> Result<conversation::Model, persistence::Error> {
    conversations::find(db, message.workspace_id, message.conversation_id)
        .await?
        .ok_or(persistence::Error::MissingReference { what: "conversation" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mms_media_are_listed_in_order() {
        let form: Form = [
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.example.invalid/media/ME000"),
            ("MediaContentType0", "image/png"),
            ("MediaUrl1", "https://api.example.invalid/media/ME001"),
            ("MediaContentType1", "application/pdf"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let media = media_of(&form);
        assert_eq!(media.len(), 2);
        assert_eq!(media[1]["contentType"], "application/pdf");
    }
}
