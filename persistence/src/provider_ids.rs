//! How Parley keeps providers' message ids (WhatsApp's `wamid`s): as sent when the customer's
//! phone is known, otherwise as a digest with the raw id sealed, and never in the clear inside
//! anything else it stores (content, dead letters, reasons). Re-exported by [`crate::messages`].

use sha2::{Digest, Sha256};

use crate::sealed::{Keyring, Purpose, Sealed};

/// The digest form of a provider message id.
#[must_use]
pub fn external_id_digest(wamid: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(wamid.as_bytes())))
}

/// Replaces every string that starts with `wamid.`, at any depth of `value`, by its digest
/// (nested ids: a reaction's `message_id`, a reply's `context.id`, …). For a customer who hid the
/// number nothing Parley keeps may hold a `wamid`, which can encode the phone.
pub fn digest_wamids(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) if text.starts_with("wamid.") => *text = external_id_digest(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(digest_wamids),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(digest_wamids),
        _ => {}
    }
}

/// [`digest_wamids`] for free text: every `wamid.…` run (base64 characters) becomes its digest.
#[must_use]
pub fn scrub_wamids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("wamid.") {
        out.push_str(&rest[..start]);
        let id_len = rest[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "._-+/=".contains(c)))
            .unwrap_or(rest.len() - start);
        out.push_str(&external_id_digest(&rest[start..start + id_len]));
        rest = &rest[start + id_len..];
    }
    out.push_str(rest);
    out
}

/// A provider id as Parley stores it: as sent when the customer's phone is known; else as a
/// digest (a `wamid` can encode the sender's phone; the digest still deduplicates and matches
/// status webhooks), with the raw id kept only sealed, for replies, reactions and read
/// receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredId {
    pub external_id: String,
    pub sealed: Option<Sealed>,
}

impl StoredId {
    /// How `wamid` is stored for a conversation whose customer phone is known or not.
    #[must_use]
    pub fn of(wamid: &str, phone_known: bool, keyring: &Keyring) -> Self {
        if phone_known {
            Self { external_id: wamid.to_owned(), sealed: None }
        } else {
            Self {
                external_id: external_id_digest(wamid),
                sealed: Some(keyring.seal(Purpose::MessageId, wamid)),
            }
        }
    }
}
