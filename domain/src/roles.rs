//! Who may do what: the roles table of PRODUCT.md section 10, as one function.
//!
//! Every resolver guard and every use case asks [`Role::allows`] for the [`Permission`] its
//! action needs, so the table lives here once and a new action cannot forget a role.

use crate::model::Role;

/// What an action needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the workspace: conversations, messages, contacts, agents, templates, numbers.
    Read,
    /// Reach the customer: send, template, media, reaction, call, channel switch, read
    /// receipt, typing indicator. A CRM that sends does so with an agent's token.
    ReachCustomer,
    /// Work conversations: assign, resolve, reopen, snooze, notes, labels, read state.
    WorkConversations,
    /// Create, update, upsert and link contacts.
    EditContacts,
    /// The live event subscription (without `after`).
    LiveEvents,
    /// The event history: the `events` query and subscriptions with `after`.
    EventHistory,
    /// Administer the workspace: agents, teams, labels, canned responses, templates, business
    /// numbers and usernames, CRM endpoints, merging and deleting contacts, export and erasure,
    /// the audit log, dead letters.
    Administer,
}

impl Permission {
    /// Every permission, for table-driven checks.
    pub const ALL: &'static [Permission] = &[
        Permission::Read,
        Permission::ReachCustomer,
        Permission::WorkConversations,
        Permission::EditContacts,
        Permission::LiveEvents,
        Permission::EventHistory,
        Permission::Administer,
    ];

    /// The roles that hold it, for messages (`"ADMIN or INTEGRATION"`).
    #[must_use]
    pub fn holders(self) -> String {
        let names: Vec<&str> =
            Role::ALL.iter().filter(|role| role.allows(self)).map(|role| role.as_str()).collect();
        names.join(" or ")
    }
}

impl Role {
    /// Whether this role may do what `permission` covers (section 10's table).
    #[must_use]
    pub const fn allows(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Agent => matches!(
                permission,
                P::Read | P::ReachCustomer | P::WorkConversations | P::EditContacts | P::LiveEvents
            ),
            Role::Integration => {
                matches!(permission, P::Read | P::EditContacts | P::LiveEvents | P::EventHistory)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_table_of_section_ten() {
        use Permission as P;
        // (permission, AGENT, ADMIN, INTEGRATION)
        let table = [
            (P::Read, true, true, true),
            (P::ReachCustomer, true, true, false),
            (P::WorkConversations, true, true, false),
            (P::EditContacts, true, true, true),
            (P::LiveEvents, true, true, true),
            (P::EventHistory, false, true, true),
            (P::Administer, false, true, false),
        ];
        assert_eq!(table.len(), Permission::ALL.len());
        for (permission, agent, admin, integration) in table {
            assert_eq!(Role::Agent.allows(permission), agent, "{permission:?}");
            assert_eq!(Role::Admin.allows(permission), admin, "{permission:?}");
            assert_eq!(Role::Integration.allows(permission), integration, "{permission:?}");
        }
    }

    #[test]
    fn holders_name_the_roles() {
        assert_eq!(Permission::EventHistory.holders(), "ADMIN or INTEGRATION");
        assert_eq!(Permission::Administer.holders(), "ADMIN");
    }
}
