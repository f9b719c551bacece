//! A customer's new identity (a BSUID rotation, a new phone), announced by a `system` message or
//! a `user_id_update` webhook, and what it changes on each conversation that carries the old one.

use crate::identity::{Bsuid, ParentBsuid, PhoneNumber};
use crate::model::ThreadKeyKind;

/// What WhatsApp announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityChange {
    pub previous_bsuid: Option<Bsuid>,
    pub new_bsuid: Option<Bsuid>,
    pub new_parent_bsuid: Option<ParentBsuid>,
    pub new_phone: Option<PhoneNumber>,
}

/// A conversation's identity facts and key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keyed<'a> {
    pub key_kind: ThreadKeyKind,
    pub key_value: &'a str,
    pub bsuid: Option<&'a Bsuid>,
    pub parent_bsuid: Option<&'a ParentBsuid>,
    pub phone: Option<&'a PhoneNumber>,
}

/// What to write on one conversation. Every `Some` is a new value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityPlan {
    pub bsuid: Option<Bsuid>,
    pub parent_bsuid: Option<ParentBsuid>,
    pub phone: Option<PhoneNumber>,
    /// The thread is keyed by the old BSUID: re-key it to the new one, so the customer's next
    /// message joins it, unless the business number already has a thread keyed by the new one
    /// (the caller checks; two threads never share a key).
    pub rekey_to: Option<Bsuid>,
}

/// Plans the change for one conversation; `None` when it already carries every new fact (so
/// a rotation announced twice changes nothing and emits nothing the second time).
#[must_use]
pub fn plan(change: &IdentityChange, thread: &Keyed<'_>) -> Option<IdentityPlan> {
    let bsuid = change.new_bsuid.as_ref().filter(|b| thread.bsuid != Some(*b)).cloned();
    let parent_bsuid = change.new_parent_bsuid.as_ref().filter(|p| thread.parent_bsuid != Some(*p)).cloned();
    let phone = change.new_phone.as_ref().filter(|p| thread.phone != Some(*p)).cloned();
    if bsuid.is_none() && parent_bsuid.is_none() && phone.is_none() {
        return None;
    }
    let keyed_by_own_bsuid = thread.key_kind == ThreadKeyKind::Bsuid
        && thread.bsuid.is_some_and(|b| b.as_str() == thread.key_value);
    let rekey_to = bsuid.clone().filter(|_| keyed_by_own_bsuid);
    Some(IdentityPlan { bsuid, parent_bsuid, phone, rekey_to })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_changes_record_new_facts_and_rekey_bsuid_threads() {
        let old = Bsuid::parse("US.1").unwrap();
        let new = Bsuid::parse("US.2").unwrap();
        let parent = ParentBsuid::parse("US.ENT.1").unwrap();
        let phone = PhoneNumber::parse("+16505551234").unwrap();
        let rotation = IdentityChange {
            previous_bsuid: Some(old.clone()),
            new_bsuid: Some(new.clone()),
            new_parent_bsuid: None,
            new_phone: None,
        };
        let by_old_bsuid = Keyed {
            key_kind: ThreadKeyKind::Bsuid,
            key_value: "US.1",
            bsuid: Some(&old),
            parent_bsuid: None,
            phone: None,
        };
        let by_phone = Keyed {
            key_kind: ThreadKeyKind::Phone,
            key_value: "+16505551234",
            bsuid: Some(&old),
            parent_bsuid: None,
            phone: Some(&phone),
        };
        let already_new = Keyed { bsuid: Some(&new), key_value: "US.1", ..by_old_bsuid };
        let with_parent = IdentityChange { new_parent_bsuid: Some(parent.clone()), ..rotation.clone() };
        let new_phone = IdentityChange {
            previous_bsuid: None,
            new_bsuid: None,
            new_parent_bsuid: None,
            new_phone: Some(phone.clone()),
        };
        let cases: [(&str, &IdentityChange, Keyed<'_>, Option<IdentityPlan>); 5] = [
            (
                "a BSUID-keyed thread is re-keyed",
                &rotation,
                by_old_bsuid,
                Some(IdentityPlan {
                    bsuid: Some(new.clone()),
                    parent_bsuid: None,
                    phone: None,
                    rekey_to: Some(new.clone()),
                }),
            ),
            (
                "a phone-keyed thread keeps its key",
                &rotation,
                by_phone,
                Some(IdentityPlan {
                    bsuid: Some(new.clone()),
                    parent_bsuid: None,
                    phone: None,
                    rekey_to: None,
                }),
            ),
            ("a rotation applied twice changes nothing", &rotation, already_new, None),
            (
                "a new parent BSUID is recorded with the rotation",
                &with_parent,
                by_phone,
                Some(IdentityPlan {
                    bsuid: Some(new.clone()),
                    parent_bsuid: Some(parent.clone()),
                    phone: None,
                    rekey_to: None,
                }),
            ),
            (
                "a new phone on a hidden-number thread is recorded, the key stays",
                &new_phone,
                by_old_bsuid,
                Some(IdentityPlan {
                    bsuid: None,
                    parent_bsuid: None,
                    phone: Some(phone.clone()),
                    rekey_to: None,
                }),
            ),
        ];
        for (name, change, thread, expected) in cases {
            assert_eq!(plan(change, &thread), expected, "{name}");
        }
    }
}
