//! Which conversation an inbound WhatsApp message joins (PRODUCT.md section 3).
//!
//! The caller looks up the few facts the rule needs ([`ThreadLookup`]) and asks [`decide`];
//! the decision says whether to append to a conversation (and which new identity facts to
//! record on it) or to open a new one (with its key, origin and probable earlier thread).

use crate::identity::{Bsuid, PhoneNumber};
use crate::ids::ConversationId;
use crate::model::{ThreadKeyKind, ThreadOrigin};

/// Who wrote: the phone (absent when the customer hid it) and the BSUID (absent only in
/// pre-2026 payloads). At least one is present; [`InboundIdentity::new`] guarantees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundIdentity {
    phone: Option<PhoneNumber>,
    bsuid: Option<Bsuid>,
}

/// A message named neither a phone nor a BSUID: there is nothing to thread it by.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the message carries neither a phone number nor a BSUID")]
pub struct NoIdentity;

impl InboundIdentity {
    /// # Errors
    /// [`NoIdentity`] when both are absent.
    pub fn new(phone: Option<PhoneNumber>, bsuid: Option<Bsuid>) -> Result<Self, NoIdentity> {
        if phone.is_none() && bsuid.is_none() {
            return Err(NoIdentity);
        }
        Ok(Self { phone, bsuid })
    }

    #[must_use]
    pub fn phone(&self) -> Option<&PhoneNumber> {
        self.phone.as_ref()
    }

    #[must_use]
    pub fn bsuid(&self) -> Option<&Bsuid> {
        self.bsuid.as_ref()
    }
}

/// The key of a conversation: a phone or a BSUID, fixed when the conversation is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThreadKey {
    Phone(PhoneNumber),
    Bsuid(Bsuid),
}

impl ThreadKey {
    #[must_use]
    pub fn kind(&self) -> ThreadKeyKind {
        match self {
            ThreadKey::Phone(_) => ThreadKeyKind::Phone,
            ThreadKey::Bsuid(_) => ThreadKeyKind::Bsuid,
        }
    }

    #[must_use]
    pub fn value(&self) -> &str {
        match self {
            ThreadKey::Phone(p) => p.as_str(),
            ThreadKey::Bsuid(b) => b.as_str(),
        }
    }
}

/// An existing conversation as the threading rule sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownThread {
    pub id: ConversationId,
    pub phone: Option<PhoneNumber>,
    pub bsuid: Option<Bsuid>,
}

/// The facts [`decide`] needs, looked up by the caller for business number B and the identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadLookup {
    /// B's conversation keyed by the message's phone (only looked up when a phone is present).
    pub keyed_by_phone: Option<KnownThread>,
    /// B's conversation keyed by the message's BSUID.
    pub keyed_by_bsuid: Option<KnownThread>,
    /// The most recently active conversation of the workspace (any business number) on which
    /// the message's BSUID is recorded.
    pub latest_with_bsuid: Option<ConversationId>,
}

/// What to do with an inbound message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThreadDecision {
    /// Append to an existing conversation, recording the identity facts it did not have.
    /// `record_phone` unlocks capabilities (the customer shared or revealed the number).
    Append { conversation: ConversationId, record_bsuid: Option<Bsuid>, record_phone: Option<PhoneNumber> },
    /// Open a new conversation.
    Open {
        key: ThreadKey,
        origin: ThreadOrigin,
        /// For a returning customer who hid the number: the thread it probably continues.
        previous: Option<ConversationId>,
    },
}

/// Decides where an inbound message goes:
///
/// 1. a phone is present and B has a conversation keyed by it → append (and record the BSUID);
/// 2. else B has a conversation keyed by the BSUID → append (and record the phone if present);
/// 3. else open one keyed by the phone when present, otherwise by the BSUID; its origin is
///    `RETURNING_CUSTOMER_HID_NUMBER` when the phone is absent and the BSUID is already recorded
///    on another conversation (which becomes `previous`), `FIRST_CONTACT` otherwise.
///
/// A phone missing from the message never erases a known phone: `record_phone` is only ever
/// a new value.
#[must_use]
pub fn decide(identity: &InboundIdentity, lookup: &ThreadLookup) -> ThreadDecision {
    let newer = |incoming: Option<&Bsuid>, known: &Option<Bsuid>| {
        incoming.filter(|b| known.as_ref() != Some(*b)).cloned()
    };
    if let (Some(_), Some(thread)) = (identity.phone(), &lookup.keyed_by_phone) {
        return ThreadDecision::Append {
            conversation: thread.id,
            record_bsuid: newer(identity.bsuid(), &thread.bsuid),
            record_phone: None,
        };
    }
    if let (Some(_), Some(thread)) = (identity.bsuid(), &lookup.keyed_by_bsuid) {
        let record_phone = identity.phone().filter(|p| thread.phone.as_ref() != Some(*p)).cloned();
        return ThreadDecision::Append { conversation: thread.id, record_bsuid: None, record_phone };
    }
    match (identity.phone(), identity.bsuid()) {
        (Some(phone), _) => ThreadDecision::Open {
            key: ThreadKey::Phone(phone.clone()),
            origin: ThreadOrigin::FirstContact,
            previous: None,
        },
        (None, Some(bsuid)) => match lookup.latest_with_bsuid {
            Some(previous) => ThreadDecision::Open {
                key: ThreadKey::Bsuid(bsuid.clone()),
                origin: ThreadOrigin::ReturningCustomerHidNumber,
                previous: Some(previous),
            },
            None => ThreadDecision::Open {
                key: ThreadKey::Bsuid(bsuid.clone()),
                origin: ThreadOrigin::FirstContact,
                previous: None,
            },
        },
        // `InboundIdentity::new` refuses an identity with neither.
        (None, None) => unreachable!("an inbound identity always has a phone or a BSUID"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone() -> PhoneNumber {
        PhoneNumber::from_whatsapp("16505551234").unwrap()
    }
    fn other_phone() -> PhoneNumber {
        PhoneNumber::from_whatsapp("16505559999").unwrap()
    }
    fn bsuid() -> Bsuid {
        Bsuid::parse("US.13491208655302741918").unwrap()
    }
    fn thread(id: ConversationId, phone: Option<PhoneNumber>, bsuid: Option<Bsuid>) -> KnownThread {
        KnownThread { id, phone, bsuid }
    }

    #[test]
    fn an_identity_needs_a_phone_or_a_bsuid() {
        assert_eq!(InboundIdentity::new(None, None), Err(NoIdentity));
        assert!(InboundIdentity::new(Some(phone()), None).is_ok());
        assert!(InboundIdentity::new(None, Some(bsuid())).is_ok());
    }

    #[test]
    fn threading_follows_the_three_rules() {
        let a = ConversationId::new();
        let b = ConversationId::new();
        let earlier = ConversationId::new();
        let both = InboundIdentity::new(Some(phone()), Some(bsuid())).unwrap();
        let hidden = InboundIdentity::new(None, Some(bsuid())).unwrap();
        let legacy = InboundIdentity::new(Some(phone()), None).unwrap();

        let cases: Vec<(&str, &InboundIdentity, ThreadLookup, ThreadDecision)> = vec![
            (
                "1: phone thread exists, BSUID is recorded on it",
                &both,
                ThreadLookup { keyed_by_phone: Some(thread(a, Some(phone()), None)), ..Default::default() },
                ThreadDecision::Append { conversation: a, record_bsuid: Some(bsuid()), record_phone: None },
            ),
            (
                "1: phone thread wins over a BSUID thread",
                &both,
                ThreadLookup {
                    keyed_by_phone: Some(thread(a, Some(phone()), Some(bsuid()))),
                    keyed_by_bsuid: Some(thread(b, None, Some(bsuid()))),
                    latest_with_bsuid: Some(b),
                },
                ThreadDecision::Append { conversation: a, record_bsuid: None, record_phone: None },
            ),
            (
                "1: legacy payload without BSUID joins the phone thread",
                &legacy,
                ThreadLookup {
                    keyed_by_phone: Some(thread(a, Some(phone()), Some(bsuid()))),
                    ..Default::default()
                },
                ThreadDecision::Append { conversation: a, record_bsuid: None, record_phone: None },
            ),
            (
                "2: username-only customer writes again to the same thread",
                &hidden,
                ThreadLookup {
                    keyed_by_bsuid: Some(thread(b, None, Some(bsuid()))),
                    latest_with_bsuid: Some(b),
                    ..Default::default()
                },
                ThreadDecision::Append { conversation: b, record_bsuid: None, record_phone: None },
            ),
            (
                "2: the customer reveals the number: the phone is recorded on the BSUID thread",
                &both,
                ThreadLookup { keyed_by_bsuid: Some(thread(b, None, Some(bsuid()))), ..Default::default() },
                ThreadDecision::Append { conversation: b, record_bsuid: None, record_phone: Some(phone()) },
            ),
            (
                "2: a different phone replaces the recorded one",
                &both,
                ThreadLookup {
                    keyed_by_bsuid: Some(thread(b, Some(other_phone()), Some(bsuid()))),
                    ..Default::default()
                },
                ThreadDecision::Append { conversation: b, record_bsuid: None, record_phone: Some(phone()) },
            ),
            (
                "2: a hidden phone never erases the known one",
                &hidden,
                ThreadLookup {
                    keyed_by_bsuid: Some(thread(b, Some(phone()), Some(bsuid()))),
                    ..Default::default()
                },
                ThreadDecision::Append { conversation: b, record_bsuid: None, record_phone: None },
            ),
            (
                "3: first contact with a phone is keyed by phone",
                &both,
                ThreadLookup::default(),
                ThreadDecision::Open {
                    key: ThreadKey::Phone(phone()),
                    origin: ThreadOrigin::FirstContact,
                    previous: None,
                },
            ),
            (
                "3: a phone customer whose BSUID is known elsewhere is still a first contact on this number",
                &both,
                ThreadLookup { latest_with_bsuid: Some(earlier), ..Default::default() },
                ThreadDecision::Open {
                    key: ThreadKey::Phone(phone()),
                    origin: ThreadOrigin::FirstContact,
                    previous: None,
                },
            ),
            (
                "3: first contact without a phone is keyed by BSUID",
                &hidden,
                ThreadLookup::default(),
                ThreadDecision::Open {
                    key: ThreadKey::Bsuid(bsuid()),
                    origin: ThreadOrigin::FirstContact,
                    previous: None,
                },
            ),
            (
                "3: a returning customer who hid the number gets a new thread pointing at the old one",
                &hidden,
                ThreadLookup { latest_with_bsuid: Some(earlier), ..Default::default() },
                ThreadDecision::Open {
                    key: ThreadKey::Bsuid(bsuid()),
                    origin: ThreadOrigin::ReturningCustomerHidNumber,
                    previous: Some(earlier),
                },
            ),
        ];
        for (name, identity, lookup, expected) in cases {
            assert_eq!(decide(identity, &lookup), expected, "{name}");
        }
    }

    #[test]
    fn thread_keys_report_their_kind_and_value() {
        assert_eq!(ThreadKey::Phone(phone()).kind(), ThreadKeyKind::Phone);
        assert_eq!(ThreadKey::Phone(phone()).value(), "+16505551234");
        assert_eq!(ThreadKey::Bsuid(bsuid()).value(), "US.13491208655302741918");
    }
}
