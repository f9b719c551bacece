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
}
