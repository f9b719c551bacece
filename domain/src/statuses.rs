//! Meta's status words, read once: message statuses (`statuses[].status`) and business
//! username states (`business_username_update`, the username API), and the forward-only order
//! of message statuses ([`crate::MessageStatus::advances_to`]).

use crate::model::{BusinessUsernameStatus, MessageStatus};

/// A message status webhook's `status`; `None` for words Parley does not track (Meta adds
/// some, such as `played` and `deleted`, that say nothing about delivery).
#[must_use]
pub fn message_status(word: &str) -> Option<MessageStatus> {
    match word {
        "sent" => Some(MessageStatus::Sent),
        "delivered" => Some(MessageStatus::Delivered),
        "read" => Some(MessageStatus::Read),
        "failed" => Some(MessageStatus::Failed),
        _ => None,
    }
}

/// What Meta says of a business username.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsernameState {
    Held(BusinessUsernameStatus),
    Deleted,
}

/// A business username state word; `None` for one Parley does not know.
#[must_use]
pub fn username_state(word: &str) -> Option<UsernameState> {
    match word {
        "approved" | "active" => Some(UsernameState::Held(BusinessUsernameStatus::Approved)),
        "reserved" => Some(UsernameState::Held(BusinessUsernameStatus::Reserved)),
        "deleted" => Some(UsernameState::Deleted),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_status_words_map_to_statuses() {
        let cases = [
            ("sent", Some(MessageStatus::Sent)),
            ("delivered", Some(MessageStatus::Delivered)),
            ("read", Some(MessageStatus::Read)),
            ("failed", Some(MessageStatus::Failed)),
            ("played", None),
            ("deleted", None),
            ("READ", None),
            ("", None),
        ];
        for (word, expected) in cases {
            assert_eq!(message_status(word), expected, "{word:?}");
        }
    }

    #[test]
    fn username_state_words_map_to_states() {
        use BusinessUsernameStatus::{Approved, Reserved};
        let cases = [
            ("approved", Some(UsernameState::Held(Approved))),
            ("active", Some(UsernameState::Held(Approved))),
            ("reserved", Some(UsernameState::Held(Reserved))),
            ("deleted", Some(UsernameState::Deleted)),
            ("pending", None),
        ];
        for (word, expected) in cases {
            assert_eq!(username_state(word), expected, "{word:?}");
        }
    }

    #[test]
    fn statuses_only_move_forward_and_failure_is_terminal() {
        use MessageStatus::*;
        // Row: from; columns: to, in the order Received, Pending, Sent, Delivered, Read, Failed.
        let table = [
            (Received, [false, true, true, true, true, true]),
            (Pending, [false, false, true, true, true, true]),
            (Sent, [false, false, false, true, true, true]),
            (Delivered, [false, false, false, false, true, true]),
            (Read, [false, false, false, false, false, true]),
            (Failed, [false, false, false, false, false, false]),
        ];
        for (from, row) in table {
            for (to, expected) in MessageStatus::ALL.iter().zip(row) {
                assert_eq!(from.advances_to(*to), expected, "{from} -> {to}");
            }
        }
    }
}

/// What one of Meta's template webhooks says (`message_template_status_update`,
/// `message_template_quality_update`, `template_category_update`), read: the template it
/// names (Meta's id, else its name and language) and what changed (`None`: not said).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateUpdate {
    pub meta_id: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub status: Option<crate::TemplateStatus>,
    pub quality: Option<crate::TemplateQuality>,
    pub category: Option<crate::TemplateCategory>,
    /// A status update's reason (`Some(None)`: none, as Meta's `NONE`).
    pub reason: Option<Option<String>>,
}
