//! Contact rules that are decisions rather than storage: which contact a conversation probably
//! belongs to, and who may unlink or relink a conversation (PRODUCT.md section 5).

use chrono::{DateTime, Duration, Utc};

use crate::ids::{AgentId, ContactId};
use crate::model::Role;

/// How long the agent who linked a conversation may undo the link without `ADMIN`.
pub const UNLINK_GRACE: Duration = Duration::hours(24);

/// Why an agent may not unlink a conversation.
pub const UNLINK_FORBIDDEN: &str = "Only an admin, or the agent who linked it within 24 hours, may unlink.";
/// Why an agent may not link an already linked conversation to another contact.
pub const RELINK_FORBIDDEN: &str = "Relinking a conversation to another contact requires the ADMIN role.";

/// The contact a conversation's customer probably is, offered so that linking is one call:
/// none once the conversation is linked; else the contact of the earlier conversation it
/// continues; else the one contact that owns the conversation's BSUID or username
/// (`identity_owners`, duplicates allowed). Several owners: no guess.
#[must_use]
pub fn suggested_contact(
    linked: bool,
    previous_conversation_contact: Option<ContactId>,
    identity_owners: &[ContactId],
) -> Option<ContactId> {
    if linked {
        return None;
    }
    if previous_conversation_contact.is_some() {
        return previous_conversation_contact;
    }
    let mut owners = identity_owners.to_vec();
    owners.sort();
    owners.dedup();
    match owners.as_slice() {
        [only] => Some(*only),
        _ => None,
    }
}

/// Who linked a conversation, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkedBy {
    pub agent: Option<AgentId>,
    pub at: Option<DateTime<Utc>>,
}

/// Whether `viewer` (with `role`) may unlink: admins always; the agent who made the link
/// within [`UNLINK_GRACE`].
///
/// # Errors
/// [`UNLINK_FORBIDDEN`] otherwise.
pub fn may_unlink(
    role: Role,
    viewer: AgentId,
    link: LinkedBy,
    now: DateTime<Utc>,
) -> Result<(), &'static str> {
    let own_recent_link = link.agent == Some(viewer) && link.at.is_some_and(|at| now - at < UNLINK_GRACE);
    if role.is_admin() || own_recent_link { Ok(()) } else { Err(UNLINK_FORBIDDEN) }
}

/// Whether `role` may link a conversation that is already linked to another contact.
///
/// # Errors
/// [`RELINK_FORBIDDEN`] for anyone but an admin.
pub fn may_relink(role: Role) -> Result<(), &'static str> {
    if role.is_admin() { Ok(()) } else { Err(RELINK_FORBIDDEN) }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn suggestions_prefer_the_previous_thread_then_a_single_owner() {
        let (a, b) = (ContactId::new(), ContactId::new());
        let cases = [
            ("linked: no suggestion", true, Some(a), vec![b], None),
            ("previous thread's contact first", false, Some(a), vec![b], Some(a)),
            ("one owner", false, None, vec![b], Some(b)),
            ("the same owner of BSUID and username", false, None, vec![b, b], Some(b)),
            ("two owners: no guess", false, None, vec![a, b], None),
            ("no owner", false, None, vec![], None),
        ];
        for (name, linked, previous, owners, expected) in cases {
            assert_eq!(suggested_contact(linked, previous, &owners), expected, "{name}");
        }
    }

    #[test]
    fn unlinking_is_for_admins_and_the_linking_agent_within_a_day() {
        let now = Utc.with_ymd_and_hms(2026, 11, 2, 12, 0, 0).unwrap();
        let (me, other) = (AgentId::new(), AgentId::new());
        let recent = Some(now - Duration::hours(23));
        let old = Some(now - Duration::hours(24));
        let cases = [
            ("admin, anyone's old link", Role::Admin, LinkedBy { agent: Some(other), at: old }, true),
            ("agent, own recent link", Role::Agent, LinkedBy { agent: Some(me), at: recent }, true),
            ("agent, own link of 24 hours", Role::Agent, LinkedBy { agent: Some(me), at: old }, false),
            (
                "agent, someone else's recent link",
                Role::Agent,
                LinkedBy { agent: Some(other), at: recent },
                false,
            ),
            ("agent, link of unknown origin", Role::Agent, LinkedBy { agent: None, at: None }, false),
            (
                "integration, own recent link",
                Role::Integration,
                LinkedBy { agent: Some(me), at: recent },
                true,
            ),
        ];
        for (name, role, link, allowed) in cases {
            assert_eq!(may_unlink(role, me, link, now).is_ok(), allowed, "{name}");
        }
        assert_eq!(
            may_unlink(Role::Agent, me, LinkedBy { agent: None, at: None }, now),
            Err(UNLINK_FORBIDDEN)
        );
    }

    #[test]
    fn only_admins_relink() {
        assert!(may_relink(Role::Admin).is_ok());
        assert_eq!(may_relink(Role::Agent), Err(RELINK_FORBIDDEN));
        assert_eq!(may_relink(Role::Integration), Err(RELINK_FORBIDDEN));
    }
}
