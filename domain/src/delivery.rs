//! The plan of one send (PRODUCT.md section 8.3): from the facts the delivery worker loaded
//! once, who the message goes to, through which number, with which file, or why it cannot go.
//! The worker then only calls the provider and records the answer.

use crate::content::OutboundContent;
use crate::{Bsuid, BusinessNumberId, Channel, Denial, PhoneNumber};

/// Who a WhatsApp message goes to: the phone when known (Meta's `to`), else the BSUID
/// (`recipient`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    Phone(PhoneNumber),
    Bsuid(Bsuid),
}

impl Recipient {
    /// The recipient of a conversation's WhatsApp messages, if it has one.
    #[must_use]
    pub fn of(phone: Option<&PhoneNumber>, bsuid: Option<&Bsuid>) -> Option<Self> {
        match (phone, bsuid) {
            (Some(phone), _) => Some(Recipient::Phone(phone.clone())),
            (None, Some(bsuid)) => Some(Recipient::Bsuid(bsuid.clone())),
            (None, None) => None,
        }
    }
}

/// A business number as a send sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberFacts {
    pub id: BusinessNumberId,
    pub channel: Channel,
    pub connected: bool,
}

/// The file of a media message, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachmentFacts<'a> {
    /// The provider's media id, once uploaded (a retry does not upload again).
    pub provider_media_id: Option<&'a str>,
    /// Where the bytes are in the blob store.
    pub blob_key: Option<&'a str>,
}

/// Everything a send depends on, loaded once.
#[derive(Clone, Copy, Debug)]
pub struct SendFacts<'a> {
    /// The message's channel (an SMS of a WhatsApp conversation moved to SMS is `Sms`).
    pub channel: Channel,
    /// The conversation's business number.
    pub number: NumberFacts,
    /// The workspace's connected SMS number (for a WhatsApp conversation moved to SMS).
    pub workspace_sms_number: Option<NumberFacts>,
    pub customer_phone: Option<&'a PhoneNumber>,
    pub customer_bsuid: Option<&'a Bsuid>,
    /// The phone of the contact the conversation is linked to.
    pub contact_phone: Option<&'a PhoneNumber>,
    /// Which numbers the customer's phones opted out of (`STOP`).
    pub opted_out: &'a [(BusinessNumberId, PhoneNumber)],
    /// What to send.
    pub content: Option<&'a OutboundContent>,
    /// The file of a media message.
    pub attachment: Option<AttachmentFacts<'a>>,
}

/// Where a media message's file comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaSource<'a> {
    /// Already uploaded to the provider under this id.
    Uploaded(&'a str),
    /// To upload first, from the blob store.
    Upload { blob_key: &'a str },
}

/// How a message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan<'a> {
    /// Through the conversation's WhatsApp number.
    Whatsapp { recipient: Recipient, content: &'a OutboundContent, media: Option<MediaSource<'a>> },
    /// By SMS to `to`, from this SMS number (`None`: the operator's default sender).
    Sms { to: &'a PhoneNumber, from: Option<BusinessNumberId> },
}

/// Why a message cannot go (it fails with this reason; retrying would not help).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{}", Denial::NumberDisconnected.reason())]
    NumberDisconnected,
    #[error("nothing to send or no one to send it to")]
    NothingToSend,
    #[error("the media message has no attachment")]
    NoAttachment,
    #[error("the attachment has no stored bytes")]
    NoStoredBytes,
    #[error("no phone number to text")]
    NoPhone,
    #[error("{}", Denial::OptedOut.reason())]
    OptedOut,
}

/// The plan of a send, or why it cannot go. A STOP that arrived after the capability check is
/// honoured here, rather than by the provider's error 21610.
///
/// # Errors
/// The [`Refusal`].
pub fn plan<'a>(facts: &SendFacts<'a>) -> Result<Plan<'a>, Refusal> {
    match facts.channel {
        Channel::Whatsapp => whatsapp(facts),
        Channel::Sms => sms(facts),
    }
}

fn whatsapp<'a>(facts: &SendFacts<'a>) -> Result<Plan<'a>, Refusal> {
    if !facts.number.connected {
        return Err(Refusal::NumberDisconnected);
    }
    let recipient = Recipient::of(facts.customer_phone, facts.customer_bsuid);
    let (Some(recipient), Some(content)) = (recipient, facts.content) else {
        return Err(Refusal::NothingToSend);
    };
    let media = match content {
        OutboundContent::Media { .. } => {
            let attachment = facts.attachment.ok_or(Refusal::NoAttachment)?;
            Some(match (attachment.provider_media_id, attachment.blob_key) {
                (Some(id), _) => MediaSource::Uploaded(id),
                (None, Some(blob_key)) => MediaSource::Upload { blob_key },
                (None, None) => return Err(Refusal::NoStoredBytes),
            })
        }
        _ => None,
    };
    Ok(Plan::Whatsapp { recipient, content, media })
}

fn sms<'a>(facts: &SendFacts<'a>) -> Result<Plan<'a>, Refusal> {
    let to = facts.customer_phone.or(facts.contact_phone).ok_or(Refusal::NoPhone)?;
    // The SMS number of the conversation, or the workspace's for a conversation moved to SMS.
    let sender = if facts.number.channel == Channel::Sms {
        if !facts.number.connected {
            return Err(Refusal::NumberDisconnected);
        }
        Some(facts.number)
    } else {
        facts.workspace_sms_number
    };
    let from = sender.map(|s| s.id);
    if let Some(from) = from
        && facts.opted_out.iter().any(|(number, phone)| *number == from && phone == to)
    {
        return Err(Refusal::OptedOut);
    }
    Ok(Plan::Sms { to, from })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AttachmentId, AttachmentKind};

    fn number(channel: Channel, connected: bool) -> NumberFacts {
        NumberFacts { id: BusinessNumberId::new(), channel, connected }
    }

    fn facts<'a>(channel: Channel, number: NumberFacts) -> SendFacts<'a> {
        SendFacts {
            channel,
            number,
            workspace_sms_number: None,
            customer_phone: None,
            customer_bsuid: None,
            contact_phone: None,
            opted_out: &[],
            content: None,
            attachment: None,
        }
    }

    #[test]
    fn whatsapp_goes_to_the_phone_when_known_else_the_bsuid() {
        let phone = PhoneNumber::parse("+14155550110").unwrap();
        let bsuid = Bsuid::parse("US.13491208655302741918").unwrap();
        let text = OutboundContent::Text { body: "hi".into() };
        let mut f = facts(Channel::Whatsapp, number(Channel::Whatsapp, true));
        assert_eq!(plan(&f), Err(Refusal::NothingToSend));
        f.content = Some(&text);
        f.customer_bsuid = Some(&bsuid);
        assert!(matches!(plan(&f), Ok(Plan::Whatsapp { recipient: Recipient::Bsuid(_), .. })));
        f.customer_phone = Some(&phone);
        assert!(matches!(plan(&f), Ok(Plan::Whatsapp { recipient: Recipient::Phone(_), media: None, .. })));
        f.number.connected = false;
        assert_eq!(plan(&f), Err(Refusal::NumberDisconnected));
        assert_eq!(Refusal::NumberDisconnected.to_string(), "This business number is disconnected.");
    }

    #[test]
    fn a_media_message_uploads_once() {
        let bsuid = Bsuid::parse("US.13491208655302741918").unwrap();
        let media = OutboundContent::Media {
            attachment_id: AttachmentId::new(),
            kind: AttachmentKind::Image,
            caption: None,
            file_name: None,
        };
        let mut f = facts(Channel::Whatsapp, number(Channel::Whatsapp, true));
        f.customer_bsuid = Some(&bsuid);
        f.content = Some(&media);
        assert_eq!(plan(&f), Err(Refusal::NoAttachment));
        f.attachment = Some(AttachmentFacts { provider_media_id: None, blob_key: None });
        assert_eq!(plan(&f), Err(Refusal::NoStoredBytes));
        f.attachment = Some(AttachmentFacts { provider_media_id: None, blob_key: Some("k") });
        assert!(matches!(
            plan(&f),
            Ok(Plan::Whatsapp { media: Some(MediaSource::Upload { blob_key: "k" }), .. })
        ));
        f.attachment = Some(AttachmentFacts { provider_media_id: Some("m1"), blob_key: Some("k") });
        assert!(matches!(plan(&f), Ok(Plan::Whatsapp { media: Some(MediaSource::Uploaded("m1")), .. })));
    }

    #[test]
    fn an_sms_goes_from_the_conversations_number_or_the_workspaces_and_honours_stop() {
        let phone = PhoneNumber::parse("+14155550110").unwrap();
        let sms_number = number(Channel::Sms, true);
        let mut f = facts(Channel::Sms, sms_number);
        assert_eq!(plan(&f), Err(Refusal::NoPhone));
        f.contact_phone = Some(&phone);
        assert_eq!(plan(&f), Ok(Plan::Sms { to: &phone, from: Some(sms_number.id) }));
        let stopped = [(sms_number.id, phone.clone())];
        f.opted_out = &stopped;
        assert_eq!(plan(&f), Err(Refusal::OptedOut));
        f.number.connected = false;
        assert_eq!(plan(&f), Err(Refusal::NumberDisconnected));

        // A WhatsApp conversation moved to SMS: the workspace's SMS number, else the default.
        let mut moved = facts(Channel::Sms, number(Channel::Whatsapp, false));
        moved.customer_phone = Some(&phone);
        assert_eq!(plan(&moved), Ok(Plan::Sms { to: &phone, from: None }));
        moved.workspace_sms_number = Some(sms_number);
        moved.opted_out = &stopped;
        assert_eq!(plan(&moved), Err(Refusal::OptedOut));
    }
}
