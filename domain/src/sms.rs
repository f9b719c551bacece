//! SMS rules (PRODUCT.md section 12, reference `inbox-essentials.md` §4): the opt-out and
//! opt-in keywords, and a Twilio-compatible provider's status words.

use crate::model::MessageStatus;

/// What a customer's message says about their consent to SMS from the number they wrote to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    OptOut,
    OptIn,
}

/// Whole-message keywords that opt a customer out (trimmed, any case).
pub const OPT_OUT_KEYWORDS: &[&str] =
    &["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"];
/// Whole-message keywords that opt a customer back in.
pub const OPT_IN_KEYWORDS: &[&str] = &["START", "UNSTOP", "YES"];

/// The consent change a message makes: the provider's `OptOutType` when it sends one (Advanced
/// Opt-Out), else an exact keyword match of the whole body ("STOP please" is not a keyword).
#[must_use]
pub fn consent_change(body: &str, opt_out_type: Option<&str>) -> Option<Consent> {
    match opt_out_type.map(|t| t.trim().to_ascii_uppercase()).as_deref() {
        Some("STOP") => return Some(Consent::OptOut),
        Some("START") => return Some(Consent::OptIn),
        _ => {}
    }
    let word = body.trim().to_ascii_uppercase();
    if OPT_OUT_KEYWORDS.contains(&word.as_str()) {
        Some(Consent::OptOut)
    } else if OPT_IN_KEYWORDS.contains(&word.as_str()) {
        Some(Consent::OptIn)
    } else {
        None
    }
}

/// A status callback's `MessageStatus`; `None` for words that say nothing new about an outbound
/// message (`queued`, `accepted`, `sending`, `receiving`, …). `undelivered` is a failure.
#[must_use]
pub fn message_status(word: &str) -> Option<MessageStatus> {
    match word.trim() {
        "sent" => Some(MessageStatus::Sent),
        "delivered" => Some(MessageStatus::Delivered),
        "read" => Some(MessageStatus::Read),
        "failed" | "undelivered" | "canceled" => Some(MessageStatus::Failed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_whole_messages_in_any_case() {
        for body in ["STOP", " stop ", "Unsubscribe", "quit", "STOPALL", "cancel"] {
            assert_eq!(consent_change(body, None), Some(Consent::OptOut), "{body}");
        }
        for body in ["START", "unstop", "Yes"] {
            assert_eq!(consent_change(body, None), Some(Consent::OptIn), "{body}");
        }
        for body in ["STOP please", "please stop", "HELP", "", "OPT OUT"] {
            assert_eq!(consent_change(body, None), None, "{body}");
        }
        assert_eq!(
            consent_change("arrêtez", Some("STOP")),
            Some(Consent::OptOut),
            "the provider's type wins"
        );
        assert_eq!(consent_change("STOP", Some("HELP")), Some(Consent::OptOut));
        assert_eq!(consent_change("x", Some("start")), Some(Consent::OptIn));
    }

    #[test]
    fn status_words_map_forward_only_statuses() {
        assert_eq!(message_status("delivered"), Some(MessageStatus::Delivered));
        assert_eq!(message_status("undelivered"), Some(MessageStatus::Failed));
        assert_eq!(message_status("queued"), None);
        assert_eq!(message_status("sending"), None);
    }
}
