//! E-mail addresses of agents and contacts.

use std::fmt;

use thiserror::Error;

/// An e-mail address: one `@`, a non-empty local part, a dotted domain, no spaces; the domain
/// is lower-cased (the local part is kept: some servers treat it case-sensitively).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
/// Serialised as its text; read back only through `parse`.
#[derive(serde::Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
#[cfg_attr(
    feature = "sea-orm",
    sea_orm(value_type = "String", from_str = "Email::parse", to_str = "Email::as_str")
)]
pub struct Email(String);

/// Why an e-mail address was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EmailError {
    #[error("e-mail address is empty")]
    Empty,
    #[error("e-mail address must be at most 254 characters")]
    TooLong,
    #[error("e-mail address must look like name@example.com")]
    Malformed,
}

impl Email {
    /// # Errors
    /// When the address is empty, too long, or not of the form `local@domain.tld`.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(EmailError::Empty);
        }
        if value.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = value.split_once('@').ok_or(EmailError::Malformed)?;
        let domain_ok = !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty()
            || local.len() > 64
            || !domain_ok
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(EmailError::Malformed);
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_their_domain_lowercased() {
        assert_eq!(Email::parse(" Ana@Example.COM ").unwrap().as_str(), "Ana@example.com");
        let bad = [
            ("", EmailError::Empty),
            ("ana", EmailError::Malformed),
            ("ana@", EmailError::Malformed),
            ("@example.com", EmailError::Malformed),
            ("ana@example", EmailError::Malformed),
            ("ana@@example.com", EmailError::Malformed),
            ("ana maria@example.com", EmailError::Malformed),
            ("ana@example..com", EmailError::Malformed),
        ];
        for (input, expected) in bad {
            assert_eq!(Email::parse(input).unwrap_err(), expected, "{input:?}");
        }
        assert_eq!(Email::parse(&format!("{}@x.io", "a".repeat(260))).unwrap_err(), EmailError::TooLong);
    }
}
