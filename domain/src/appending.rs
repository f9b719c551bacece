//! What appending an inbound message changes on its conversation (after
//! [`crate::threading::decide`] chose `Append`): which identity facts to record, whether the
//! customer just shared a phone, reopening, and the moved window and inbox order.

use chrono::{DateTime, Utc};

use crate::identity::{Bsuid, ParentBsuid, PhoneNumber, Username};
use crate::model::ConversationStatus;

/// The conversation as the append rule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thread<'a> {
    pub phone: Option<&'a PhoneNumber>,
    pub bsuid: Option<&'a Bsuid>,
    pub parent_bsuid: Option<&'a ParentBsuid>,
    pub username: Option<&'a Username>,
    pub profile_name: Option<&'a str>,
    pub status: ConversationStatus,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub last_activity_at: DateTime<Utc>,
}

/// The inbound message as the append rule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival<'a> {
    /// The BSUID the message came from.
    pub bsuid: Option<&'a Bsuid>,
    pub parent_bsuid: Option<&'a ParentBsuid>,
    pub username: Option<&'a Username>,
    pub profile_name: Option<&'a str>,
    /// A phone shared with WhatsApp's request-contact-info button (attested by Meta).
    pub shared_phone: Option<&'a PhoneNumber>,
    /// When the customer wrote it.
    pub sent_at: DateTime<Utc>,
    /// Whether it opens or extends the 24-hour window (system notices do not).
    pub counts_for_window: bool,
}

/// How a phone became known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhoneSource {
    /// WhatsApp sent it with the message (`wa_id`): the customer revealed the number.
    Whatsapp,
    /// The customer shared it with the request-contact-info button.
    ContactRequest,
}

impl PhoneSource {
    /// The text form of events (`customer.phone_shared`'s `source`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            PhoneSource::Whatsapp => "whatsapp",
            PhoneSource::ContactRequest => "contact_request",
        }
    }
}

/// What to write on the conversation. Every `Some` is a new value; `None` leaves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendPlan {
    pub record_bsuid: Option<Bsuid>,
    pub record_phone: Option<PhoneNumber>,
    pub parent_bsuid: Option<ParentBsuid>,
    pub username: Option<Username>,
    pub profile_name: Option<String>,
    /// A resolved conversation that hears from its customer is open again.
    pub reopen: bool,
    /// The customer's latest window-counting message (the 24-hour window).
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The latest message in either direction (the inbox order).
    pub last_activity_at: DateTime<Utc>,
    /// Set when a phone became known with this message (event `customer.phone_shared`).
    pub phone_shared: Option<PhoneSource>,
}

impl AppendPlan {
    /// Whether anything but the activity times changes (event `conversation.updated`).
    #[must_use]
    pub fn changes_conversation(&self) -> bool {
        self.record_bsuid.is_some()
            || self.record_phone.is_some()
            || self.parent_bsuid.is_some()
            || self.username.is_some()
            || self.profile_name.is_some()
            || self.reopen
    }
}

/// Plans the append. `record_bsuid` and `record_phone` are what the threading decision found
/// new. A phone shared with the request button counts only when the message comes from the
/// conversation's own BSUID and the phone differs from the known one. Times never move back
/// (Meta may deliver an older message late).
#[must_use]
pub fn plan(
    thread: &Thread<'_>,
    arrival: &Arrival<'_>,
    record_bsuid: Option<Bsuid>,
    record_phone: Option<PhoneNumber>,
) -> AppendPlan {
    let own_bsuid = arrival.bsuid.is_some() && arrival.bsuid == thread.bsuid;
    let shared = arrival.shared_phone.filter(|p| own_bsuid && thread.phone != Some(*p)).cloned();
    let phone_shared = match (&record_phone, &shared) {
        (_, Some(_)) => Some(PhoneSource::ContactRequest),
        (Some(_), None) => Some(PhoneSource::Whatsapp),
        (None, None) => None,
    };
    fn differs(incoming: Option<&str>, known: Option<&str>) -> bool {
        incoming.is_some() && incoming != known
    }
    let last_inbound_at = match (thread.last_inbound_at, arrival.counts_for_window) {
        (Some(at), true) => Some(at.max(arrival.sent_at)),
        (None, true) => Some(arrival.sent_at),
        (known, false) => known,
    };
    AppendPlan {
        record_bsuid,
        record_phone: record_phone.or(shared),
        parent_bsuid: arrival
            .parent_bsuid
            .filter(|p| differs(Some(p.as_str()), thread.parent_bsuid.map(ParentBsuid::as_str)))
            .cloned(),
        username: arrival
            .username
            .filter(|u| differs(Some(u.as_str()), thread.username.map(Username::as_str)))
            .cloned(),
        profile_name: arrival
            .profile_name
            .filter(|p| differs(Some(p), thread.profile_name))
            .map(str::to_owned),
        reopen: thread.status != ConversationStatus::Open,
        last_inbound_at,
        last_activity_at: thread.last_activity_at.max(arrival.sent_at),
        phone_shared,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, hour, 0, 0).unwrap()
    }

    struct Case {
        name: &'static str,
        thread_phone: Option<&'static str>,
        thread_bsuid: Option<&'static str>,
        status: ConversationStatus,
        last_inbound: Option<u32>,
        arrival_bsuid: Option<&'static str>,
        shared: Option<&'static str>,
        sent: u32,
        counts: bool,
        record_phone: Option<&'static str>,
        // expected
        phone: Option<&'static str>,
        source: Option<PhoneSource>,
        reopen: bool,
        inbound: Option<u32>,
        activity: u32,
        changes: bool,
    }

    #[test]
    fn appending_follows_the_rules_of_shared_phones_reopening_and_time() {
        use ConversationStatus::{Open, Resolved};
        let u = Some("US.1");
        let cases = [
            Case {
                name: "plain message moves window and order",
                thread_phone: None,
                thread_bsuid: u,
                status: Open,
                last_inbound: Some(8),
                arrival_bsuid: u,
                shared: None,
                sent: 10,
                counts: true,
                record_phone: None,
                phone: None,
                source: None,
                reopen: false,
                inbound: Some(10),
                activity: 10,
                changes: false,
            },
            Case {
                name: "late message moves nothing back",
                thread_phone: None,
                thread_bsuid: u,
                status: Open,
                last_inbound: Some(12),
                arrival_bsuid: u,
                shared: None,
                sent: 10,
                counts: true,
                record_phone: None,
                phone: None,
                source: None,
                reopen: false,
                inbound: Some(12),
                activity: 12,
                changes: false,
            },
            Case {
                name: "system notice keeps the window",
                thread_phone: None,
                thread_bsuid: u,
                status: Open,
                last_inbound: Some(8),
                arrival_bsuid: u,
                shared: None,
                sent: 10,
                counts: false,
                record_phone: None,
                phone: None,
                source: None,
                reopen: false,
                inbound: Some(8),
                activity: 10,
                changes: false,
            },
            Case {
                name: "first window-counting message opens the window",
                thread_phone: None,
                thread_bsuid: u,
                status: Open,
                last_inbound: None,
                arrival_bsuid: u,
                shared: None,
                sent: 10,
                counts: true,
                record_phone: None,
                phone: None,
                source: None,
                reopen: false,
                inbound: Some(10),
                activity: 10,
                changes: false,
            },
            Case {
                name: "resolved conversation reopens",
                thread_phone: None,
                thread_bsuid: u,
                status: Resolved,
                last_inbound: Some(8),
                arrival_bsuid: u,
                shared: None,
                sent: 10,
                counts: true,
                record_phone: None,
                phone: None,
                source: None,
                reopen: true,
                inbound: Some(10),
                activity: 10,
                changes: true,
            },
            Case {
                name: "phone shared from the own BSUID counts",
                thread_phone: None,
                thread_bsuid: u,
                status: Open,
                last_inbound: Some(8),
                arrival_bsuid: u,
                shared: Some("+16505551234"),
                sent: 10,
                counts: true,
                record_phone: None,
                phone: Some("+16505551234"),
                source: Some(PhoneSource::ContactRequest),
                reopen: false,
                inbound: Some(10),
                activity: 10,
                changes: true,
            },
            Case {
                name: "phone shared from another BSUID does not",
                thread_phone: None,
                thread_bsuid: u,
                status: Open,
                last_inbound: Some(8),
                arrival_bsuid: Some("US.2"),
                shared: Some("+16505551234"),
                sent: 10,
                counts: true,
                record_phone: None,
                phone: None,
                source: None,
                reopen: false,
                inbound: Some(10),
                activity: 10,
                changes: false,
            },
            Case {
                name: "phone shared without a BSUID does not",
                thread_phone: None,
                thread_bsuid: None,
                status: Open,
                last_inbound: Some(8),
                arrival_bsuid: None,
                shared: Some("+16505551234"),
                sent: 10,
                counts: true,
                record_phone: None,
                phone: None,
                source: None,
                reopen: false,
                inbound: Some(10),
                activity: 10,
                changes: false,
            },
            Case {
                name: "the known phone shared again is nothing new",
                thread_phone: Some("+16505551234"),
                thread_bsuid: u,
                status: Open,
                last_inbound: Some(8),
                arrival_bsuid: u,
                shared: Some("+16505551234"),
                sent: 10,
                counts: true,
                record_phone: None,
                phone: None,
                source: None,
                reopen: false,
                inbound: Some(10),
                activity: 10,
                changes: false,
            },
            Case {
                name: "revealed phone comes from WhatsApp",
                thread_phone: None,
                thread_bsuid: u,
                status: Open,
                last_inbound: Some(8),
                arrival_bsuid: u,
                shared: None,
                sent: 10,
                counts: true,
                record_phone: Some("+16505559999"),
                phone: Some("+16505559999"),
                source: Some(PhoneSource::Whatsapp),
                reopen: false,
                inbound: Some(10),
                activity: 10,
                changes: true,
            },
            Case {
                name: "revealed phone wins over a shared one, which names the source",
                thread_phone: None,
                thread_bsuid: u,
                status: Open,
                last_inbound: Some(8),
                arrival_bsuid: u,
                shared: Some("+16505551234"),
                sent: 10,
                counts: true,
                record_phone: Some("+16505559999"),
                phone: Some("+16505559999"),
                source: Some(PhoneSource::ContactRequest),
                reopen: false,
                inbound: Some(10),
                activity: 10,
                changes: true,
            },
        ];
        for case in cases {
            let phone = |p: Option<&str>| p.map(|p| PhoneNumber::parse(p).unwrap());
            let bsuid = |b: Option<&str>| b.map(|b| Bsuid::parse(b).unwrap());
            let (thread_phone, thread_bsuid) = (phone(case.thread_phone), bsuid(case.thread_bsuid));
            let (arrival_bsuid, shared) = (bsuid(case.arrival_bsuid), phone(case.shared));
            let thread = Thread {
                phone: thread_phone.as_ref(),
                bsuid: thread_bsuid.as_ref(),
                parent_bsuid: None,
                username: None,
                profile_name: None,
                status: case.status,
                last_inbound_at: case.last_inbound.map(at),
                last_activity_at: at(case.last_inbound.unwrap_or(8).max(8)),
            };
            let arrival = Arrival {
                bsuid: arrival_bsuid.as_ref(),
                parent_bsuid: None,
                username: None,
                profile_name: None,
                shared_phone: shared.as_ref(),
                sent_at: at(case.sent),
                counts_for_window: case.counts,
            };
            let plan = plan(&thread, &arrival, None, phone(case.record_phone));
            assert_eq!(plan.record_phone, phone(case.phone), "{}", case.name);
            assert_eq!(plan.phone_shared, case.source, "{}", case.name);
            assert_eq!(plan.reopen, case.reopen, "{}", case.name);
            assert_eq!(plan.last_inbound_at, case.inbound.map(at), "{}", case.name);
            assert_eq!(plan.last_activity_at, at(case.activity), "{}", case.name);
            assert_eq!(plan.changes_conversation(), case.changes, "{}", case.name);
        }
    }

    #[test]
    fn only_new_profile_facts_are_recorded() {
        let known_user = Username::parse("carlos_mx").unwrap();
        let new_user = Username::parse("Carlos.MX").unwrap();
        let parent = ParentBsuid::parse("US.ENT.1").unwrap();
        let thread = Thread {
            phone: None,
            bsuid: None,
            parent_bsuid: Some(&parent),
            username: Some(&known_user),
            profile_name: Some("Carlos"),
            status: ConversationStatus::Open,
            last_inbound_at: None,
            last_activity_at: at(8),
        };
        let same = Arrival {
            bsuid: None,
            parent_bsuid: Some(&parent),
            username: Some(&known_user),
            profile_name: Some("Carlos"),
            shared_phone: None,
            sent_at: at(9),
            counts_for_window: true,
        };
        let unchanged = plan(&thread, &same, None, None);
        assert_eq!(
            (&unchanged.username, &unchanged.profile_name, &unchanged.parent_bsuid),
            (&None, &None, &None)
        );
        assert!(!unchanged.changes_conversation());
        let absent = Arrival { username: None, profile_name: None, parent_bsuid: None, ..same };
        assert!(!plan(&thread, &absent, None, None).changes_conversation(), "absent facts erase nothing");
        let renamed = Arrival { username: Some(&new_user), profile_name: Some("Carlos M."), ..same };
        let changed = plan(&thread, &renamed, None, None);
        assert_eq!(changed.username, Some(new_user.clone()));
        assert_eq!(changed.profile_name.as_deref(), Some("Carlos M."));
        assert!(changed.changes_conversation());
        let bsuid = Bsuid::parse("US.9").unwrap();
        assert!(plan(&thread, &same, Some(bsuid), None).changes_conversation(), "a new BSUID is a change");
    }
}
