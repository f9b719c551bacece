//! A business username: the searchable handle of one business phone number.
//!
//! Every format rule of WhatsApp (`seeds/003_*.txt`, reference §9) is checked here, and each
//! broken rule has its own error so the API can say exactly which one failed (Meta answers such
//! requests with error code 100).

use std::fmt;

use thiserror::Error;

/// A valid business username, kept as the admin typed it; compared by [`BusinessUsername::key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
/// Serialised as its text; read back only through `parse`.
#[derive(serde::Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
#[cfg_attr(
    feature = "sea-orm",
    sea_orm(
        value_type = "String",
        from_str = "BusinessUsername::parse",
        to_str = "BusinessUsername::as_str"
    )
)]
pub struct BusinessUsername(String);

/// Which format rule a business username broke.
#[derive(Debug, Error, PartialEq, Eq, Clone, Copy)]
pub enum BusinessUsernameError {
    #[error("username must be 3 to 35 characters long")]
    Length,
    #[error("username may contain only English letters, digits, periods and underscores")]
    InvalidCharacter,
    #[error("username must contain at least one English letter")]
    NoLetter,
    #[error("username must not start or end with a period")]
    EdgePeriod,
    #[error("username must not contain two consecutive periods")]
    ConsecutivePeriods,
    #[error("username must not start with www")]
    StartsWithWww,
    #[error("username must not end with a domain suffix such as .com")]
    DomainSuffix,
}

/// Suffixes that make a username look like a web address. WhatsApp's list ends with "…": the
/// common generic and a few country domains are refused; more can be added here.
const DOMAIN_SUFFIXES: &[&str] = &[
    ".com", ".org", ".net", ".int", ".edu", ".gov", ".mil", ".us", ".in", ".html", ".htm", ".io", ".co",
    ".info", ".biz", ".php",
];

impl BusinessUsername {
    /// # Errors
    /// The first broken format rule, in the order WhatsApp lists them.
    pub fn parse(input: &str) -> Result<Self, BusinessUsernameError> {
        let value = input.trim();
        let len = value.chars().count();
        if !(3..=35).contains(&len) {
            return Err(BusinessUsernameError::Length);
        }
        if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
            return Err(BusinessUsernameError::InvalidCharacter);
        }
        if !value.chars().any(|c| c.is_ascii_alphabetic()) {
            return Err(BusinessUsernameError::NoLetter);
        }
        if value.starts_with('.') || value.ends_with('.') {
            return Err(BusinessUsernameError::EdgePeriod);
        }
        if value.contains("..") {
            return Err(BusinessUsernameError::ConsecutivePeriods);
        }
        let folded = value.to_ascii_lowercase();
        if folded.starts_with("www") {
            return Err(BusinessUsernameError::StartsWithWww);
        }
        if DOMAIN_SUFFIXES.iter().any(|suffix| folded.ends_with(suffix)) {
            return Err(BusinessUsernameError::DomainSuffix);
        }
        Ok(Self(value.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Comparison key: case folded, `.` and `_` significant (`myID` = `myid` ≠ `my.id` ≠ `my_id`).
    #[must_use]
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for BusinessUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A business number as the username transfer rule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder<'a> {
    pub number: crate::BusinessNumberId,
    pub workspace: crate::WorkspaceId,
    pub portfolio: &'a str,
}

/// Who says a number takes a username.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// WhatsApp says the number holds it now (a webhook): WhatsApp is the authority, and every
    /// other number Parley thought held it loses it.
    Reported,
    /// The number's workspace asks for it. `force`: the admin chose `FORCE_TRANSFER`;
    /// `confirmed`: WhatsApp has already accepted the call (the Cloud API answered).
    Asked { force: bool, confirmed: bool },
}

/// Why a username cannot be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferRefusal {
    /// WhatsApp's 147001: another workspace or another portfolio holds it. The refusal names
    /// nothing of the holder.
    #[error("This username is unavailable.")]
    Unavailable,
    /// WhatsApp's 147005: another number of the same portfolio holds it, and the admin did not
    /// ask to force the transfer.
    #[error(
        "Another phone number of this business portfolio holds this username; retry with FORCE_TRANSFER to move it."
    )]
    HeldInPortfolio,
}

impl TransferRefusal {
    /// WhatsApp's error code for the refusal.
    #[must_use]
    pub fn whatsapp_code(self) -> i64 {
        match self {
            TransferRefusal::Unavailable => 147_001,
            TransferRefusal::HeldInPortfolio => 147_005,
        }
    }
}

/// The business-username transfer rule: which of the current `holders` lose the username when
/// `claimant` takes it, or why it cannot. A workspace never takes a username from another
/// workspace, whatever the transfer action; within the workspace, a number of another portfolio
/// keeps it, and one of the same portfolio gives it up only on `FORCE_TRANSFER` (unless WhatsApp
/// has already moved it). What WhatsApp reports, Parley follows.
///
/// # Errors
/// The refusal, as WhatsApp would word it.
pub fn transfer(
    claimant: &Holder<'_>,
    holders: &[Holder<'_>],
    claim: Claim,
) -> Result<Vec<crate::BusinessNumberId>, TransferRefusal> {
    let others = holders.iter().filter(|h| h.number != claimant.number);
    if let Claim::Asked { force, confirmed } = claim {
        if holders.iter().any(|h| h.workspace != claimant.workspace) {
            return Err(TransferRefusal::Unavailable);
        }
        for holder in others.clone() {
            if confirmed {
                break;
            }
            if holder.portfolio != claimant.portfolio {
                return Err(TransferRefusal::Unavailable);
            }
            if !force {
                return Err(TransferRefusal::HeldInPortfolio);
            }
        }
    }
    Ok(others.map(|h| h.number).collect())
}

#[cfg(test)]
mod tests {
    use super::BusinessUsernameError as E;
    use super::*;

    #[test]
    fn every_rule_has_a_passing_and_a_failing_case() {
        let cases: &[(&str, Result<(), E>)] = &[
            ("abc", Ok(())),
            ("ab", Err(E::Length)),
            (&"a".repeat(35), Ok(())),
            (&"a".repeat(36), Err(E::Length)),
            ("jaspers_market.2", Ok(())),
            ("jaspers-market", Err(E::InvalidCharacter)),
            ("señor_taco", Err(E::InvalidCharacter)),
            ("jasper market", Err(E::InvalidCharacter)),
            ("a12", Ok(())),
            ("123_456", Err(E::NoLetter)),
            ("acme.support", Ok(())),
            (".acme", Err(E::EdgePeriod)),
            ("acme.", Err(E::EdgePeriod)),
            ("acme.the.store", Ok(())),
            ("acme..store", Err(E::ConsecutivePeriods)),
            ("thewwwstore", Ok(())),
            ("wwwstore", Err(E::StartsWithWww)),
            ("WWW_store", Err(E::StartsWithWww)),
            ("acme_com", Ok(())),
            ("acme.com", Err(E::DomainSuffix)),
            ("acme.ORG", Err(E::DomainSuffix)),
            ("acme.net", Err(E::DomainSuffix)),
            ("acme.int", Err(E::DomainSuffix)),
            ("acme.edu", Err(E::DomainSuffix)),
            ("acme.gov", Err(E::DomainSuffix)),
            ("acme.mil", Err(E::DomainSuffix)),
            ("acme.us", Err(E::DomainSuffix)),
            ("acme.in", Err(E::DomainSuffix)),
            ("acme.html", Err(E::DomainSuffix)),
            ("acme.inc", Ok(())),
        ];
        for (input, expected) in cases {
            assert_eq!(BusinessUsername::parse(input).map(|_| ()), *expected, "{input}");
        }
    }

    #[test]
    fn comparison_folds_case_but_keeps_periods_and_underscores() {
        let key = |s: &str| BusinessUsername::parse(s).unwrap().key();
        assert_eq!(key("myID"), key("myid"));
        assert_ne!(key("myid"), key("my.id"));
        assert_ne!(key("my.id"), key("my_id"));
        assert_ne!(key("myid"), key("my_id"));
    }

    #[test]
    fn a_transfer_never_crosses_workspaces_and_needs_force_within_a_portfolio() {
        use crate::{BusinessNumberId, WorkspaceId};
        let ws = WorkspaceId::new();
        let other_ws = WorkspaceId::new();
        let holder = |workspace, portfolio| Holder { number: BusinessNumberId::new(), workspace, portfolio };
        let me = holder(ws, "P1");
        let sibling = holder(ws, "P1");
        let foreign_portfolio = holder(ws, "P2");
        let stranger = holder(other_ws, "P1");
        let asked = |force, confirmed| Claim::Asked { force, confirmed };

        assert_eq!(transfer(&me, &[me], asked(false, false)), Ok(vec![]), "already mine");
        assert_eq!(transfer(&me, &[], asked(false, false)), Ok(vec![]), "free");
        assert_eq!(transfer(&me, &[sibling], asked(false, false)), Err(TransferRefusal::HeldInPortfolio));
        assert_eq!(transfer(&me, &[sibling], asked(true, false)), Ok(vec![sibling.number]));
        assert_eq!(transfer(&me, &[sibling], asked(false, true)), Ok(vec![sibling.number]));
        assert_eq!(
            transfer(&me, &[foreign_portfolio], asked(true, false)),
            Err(TransferRefusal::Unavailable)
        );
        assert_eq!(
            transfer(&me, &[foreign_portfolio], asked(false, true)),
            Ok(vec![foreign_portfolio.number])
        );
        for (force, confirmed) in [(false, false), (true, false), (true, true)] {
            assert_eq!(
                transfer(&me, &[stranger], asked(force, confirmed)),
                Err(TransferRefusal::Unavailable),
                "another workspace keeps it"
            );
        }
        assert_eq!(
            transfer(&me, &[stranger, sibling], Claim::Reported),
            Ok(vec![stranger.number, sibling.number]),
            "what WhatsApp reports, Parley follows"
        );
        assert_eq!(TransferRefusal::HeldInPortfolio.whatsapp_code(), 147_005);
    }
}
