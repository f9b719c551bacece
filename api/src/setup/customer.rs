//! A customer's message as the providers deliver it: Meta's `messages` webhook (contact and
//! message, for a customer known by phone, BSUID and username) and the SMS provider's form
//! post. The demo seeds its inbox with these, and `parley simulate` signs and posts them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Who writes. A customer who hides the phone has a BSUID (and usually a username) only.
#[derive(Clone, Copy, Debug)]
pub struct Customer<'a> {
    pub name: &'a str,
    pub username: Option<&'a str>,
    /// Digits, no `+` (as WhatsApp's `wa_id`).
    pub phone: Option<&'a str>,
    pub bsuid: Option<&'a str>,
}

/// What the customer sends.
#[derive(Clone, Copy, Debug)]
pub enum Content<'a> {
    Text(&'a str),
    /// A photo WhatsApp holds under `media_id` (the server fetches it).
    Image {
        media_id: &'a str,
        mime_type: &'a str,
        sha256: &'a str,
        caption: Option<&'a str>,
    },
}

/// The business number a webhook is addressed to.
#[derive(Clone, Copy, Debug)]
pub struct Addressee<'a> {
    pub waba_id: &'a str,
    pub phone_number_id: &'a str,
    pub display_phone_number: &'a str,
}

impl Customer<'_> {
    /// The `contacts[0]` and `messages[0]` of Meta's webhook for this customer's message.
    #[must_use]
    pub fn whatsapp_message(
        &self,
        content: Content<'_>,
        wamid: &str,
        sent_at: DateTime<Utc>,
    ) -> (Value, Value) {
        let mut profile = json!({ "name": self.name });
        if let Some(username) = self.username {
            profile["username"] = json!(username);
        }
        let mut contact = json!({ "profile": profile });
        let mut message = json!({ "id": wamid, "timestamp": sent_at.timestamp().to_string() });
        if let Some(bsuid) = self.bsuid {
            contact["user_id"] = json!(bsuid);
            message["from_user_id"] = json!(bsuid);
        }
        if let Some(phone) = self.phone {
            contact["wa_id"] = json!(phone);
            message["from"] = json!(phone);
        }
        match content {
            Content::Text(body) => {
                message["type"] = json!("text");
                message["text"] = json!({ "body": body });
            }
            Content::Image { media_id, mime_type, sha256, caption } => {
                message["type"] = json!("image");
                message["image"] = json!({ "id": media_id, "mime_type": mime_type, "sha256": sha256 });
                if let Some(caption) = caption {
                    message["image"]["caption"] = json!(caption);
                }
            }
        }
        (contact, message)
    }

    /// Meta's whole `messages` webhook for this customer's message to `to`.
    #[must_use]
    pub fn whatsapp_webhook(
        &self,
        to: Addressee<'_>,
        content: Content<'_>,
        wamid: &str,
        sent_at: DateTime<Utc>,
    ) -> Value {
        let (contact, message) = self.whatsapp_message(content, wamid, sent_at);
        json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": to.waba_id,
                "changes": [{
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": to.display_phone_number,
                            "phone_number_id": to.phone_number_id,
                        },
                        "contacts": [contact],
                        "messages": [message],
                    },
                }],
            }],
        })
    }
}

/// A stable, realistic BSUID for a customer named by username or phone (`US.` and 17 digits):
/// the same customer simulated twice writes in the same conversation.
#[must_use]
pub fn bsuid_for(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut number = u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
    number %= 100_000_000_000_000_000;
    format!("US.{number:017}")
}

/// The SMS provider's form post for a customer's text (Twilio's fields).
#[must_use]
pub fn sms_form(
    account_sid: &str,
    message_sid: &str,
    from: &str,
    to: &str,
    body: &str,
) -> Vec<(String, String)> {
    [
        ("AccountSid", account_sid),
        ("ApiVersion", "2010-04-01"),
        ("MessageSid", message_sid),
        ("SmsMessageSid", message_sid),
        ("SmsSid", message_sid),
        ("SmsStatus", "received"),
        ("From", from),
        ("To", to),
        ("Body", body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_customer_has_no_phone_anywhere_and_a_stable_bsuid() {
        let bsuid = bsuid_for("@carlos_mx");
        assert_eq!(bsuid, bsuid_for("@carlos_mx"));
        assert_ne!(bsuid, bsuid_for("@someone_else"));
        assert!(bsuid.starts_with("US.") && bsuid.len() == 20, "{bsuid}");
        let customer =
            Customer { name: "Carlos", username: Some("@carlos_mx"), phone: None, bsuid: Some(&bsuid) };
        let to = Addressee { waba_id: "1", phone_number_id: "2", display_phone_number: "15550000000" };
        let webhook = customer.whatsapp_webhook(to, Content::Text("Hola"), "wamid.X", Utc::now());
        let value = &webhook["entry"][0]["changes"][0]["value"];
        assert_eq!(value["messages"][0]["from_user_id"], bsuid.as_str());
        assert!(value["messages"][0].get("from").is_none());
        assert!(value["contacts"][0].get("wa_id").is_none());
        assert_eq!(value["contacts"][0]["profile"]["username"], "@carlos_mx");
    }
}
