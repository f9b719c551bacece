//! How a search string is read (PRODUCT.md section 5).
//!
//! `@name` searches usernames only (exact or prefix). Anything else searches usernames by
//! prefix, names by case-insensitive substring and, when it looks like a phone number, phone
//! digits by substring.

use crate::identity::Username;

/// A parsed search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    /// Username comparison key to match as a prefix (one `@` stripped, case folded).
    pub username_prefix: String,
    /// Lower-cased text to find inside profile and contact names; `None` for an `@` search.
    pub name_contains: Option<String>,
    /// Digits to find inside phone numbers, when the text looks like a phone number.
    pub phone_digits: Option<String>,
}

impl SearchQuery {
    /// Reads a search box. Returns `None` for a blank search (which filters nothing).
    #[must_use]
    pub fn parse(input: &str) -> Option<Self> {
        let text = input.trim();
        if text.is_empty() || text == "@" {
            return None;
        }
        let username_prefix = Username::key_of(text);
        if text.starts_with('@') {
            return Some(Self { username_prefix, name_contains: None, phone_digits: None });
        }
        let phone_like = text.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        Some(Self {
            username_prefix,
            name_contains: Some(text.to_lowercase()),
            phone_digits: (phone_like && digits.len() >= 3).then_some(digits),
        })
    }
}

/// The lower-cased form names are stored in for case-insensitive search (Unicode-aware).
#[must_use]
pub fn fold_name(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_read_by_their_shape() {
        let q = SearchQuery::parse("@Carlos_MX").unwrap();
        assert_eq!(
            q,
            SearchQuery { username_prefix: "carlos_mx".into(), name_contains: None, phone_digits: None }
        );

        let q = SearchQuery::parse("Zoë").unwrap();
        assert_eq!(q.username_prefix, "zoë");
        assert_eq!(q.name_contains.as_deref(), Some("zoë"));
        assert_eq!(q.phone_digits, None);

        let q = SearchQuery::parse("+1 (650) 555").unwrap();
        assert_eq!(q.phone_digits.as_deref(), Some("1650555"));

        assert_eq!(
            SearchQuery::parse("12").unwrap().phone_digits,
            None,
            "too few digits to be a phone search"
        );
        assert_eq!(SearchQuery::parse("   "), None);
        assert_eq!(SearchQuery::parse("@"), None);
    }

    #[test]
    fn names_fold_case_with_unicode() {
        assert_eq!(fold_name(" ÉLODIE Dupont "), "élodie dupont");
    }
}
