//! What WhatsApp tells us about a customer: phone number, BSUID, parent BSUID and username.
//!
//! Each is a newtype built only by parsing, so the rest of Parley never sees a raw string.

use std::fmt;

use thiserror::Error;

/// A phone number in E.164 form (`+16505551234`).
///
/// WhatsApp sends digits without `+` ([`PhoneNumber::from_whatsapp`]); people type numbers with
/// spaces, dashes and brackets ([`PhoneNumber::parse`]). Both end up as the same value, so the
/// same function serves matching and sending.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// Serialised as its text; read back only through `parse`.
#[derive(serde::Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
#[cfg_attr(
    feature = "sea-orm",
    sea_orm(value_type = "String", from_str = "PhoneNumber::parse", to_str = "PhoneNumber::as_str")
)]
pub struct PhoneNumber(String);

/// Why a phone number was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PhoneNumberError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number may contain only digits, spaces, dashes, dots, brackets and a leading +")]
    InvalidCharacter,
    #[error("phone number must have between 7 and 15 digits including the country code")]
    InvalidLength,
    #[error("phone number must start with a country code, not 0")]
    LeadingZero,
}

impl PhoneNumber {
    /// Minimum digits accepted (country code included); E.164 allows at most 15.
    const MIN_DIGITS: usize = 7;
    const MAX_DIGITS: usize = 15;

    /// Parses what a person typed: `+1 (650) 555-1234`, `16505551234`, `+16505551234`.
    ///
    /// # Errors
    /// When anything other than digits and common separators is present, or the digit count is
    /// outside E.164.
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneNumberError::Empty);
        }
        let rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(PhoneNumberError::InvalidCharacter),
            }
        }
        Self::from_digits(digits)
    }

    /// Reads a WhatsApp `wa_id` / `from` field: digits only, country code first, no `+`.
    ///
    /// # Errors
    /// When the value is not all digits or has the wrong length.
    pub fn from_whatsapp(digits: &str) -> Result<Self, PhoneNumberError> {
        let digits = digits.trim();
        let digits = digits.strip_prefix('+').unwrap_or(digits);
        if digits.is_empty() {
            return Err(PhoneNumberError::Empty);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneNumberError::InvalidCharacter);
        }
        Self::from_digits(digits.to_owned())
    }

    fn from_digits(digits: String) -> Result<Self, PhoneNumberError> {
        if digits.is_empty() {
            return Err(PhoneNumberError::Empty);
        }
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits.len()) {
            return Err(PhoneNumberError::InvalidLength);
        }
        if digits.starts_with('0') {
            return Err(PhoneNumberError::LeadingZero);
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The E.164 form, `+16505551234`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`, as the Cloud API `to` field takes them.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a BSUID or parent BSUID was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BsuidError {
    #[error("a BSUID must start with a two-letter country code and a period, like US.1234")]
    MissingCountryCode,
    #[error("a BSUID must have 1 to 128 letters or digits after its prefix")]
    InvalidBody,
    #[error("this is a parent BSUID (CC.ENT.…), not a BSUID")]
    IsParent,
    #[error("a parent BSUID must look like CC.ENT.<letters or digits>")]
    NotParent,
}

fn split_country_code(value: &str) -> Result<&str, BsuidError> {
    let bytes = value.as_bytes();
    if bytes.len() < 3
        || !bytes[0].is_ascii_alphabetic()
        || !bytes[1].is_ascii_alphabetic()
        || bytes[2] != b'.'
    {
        return Err(BsuidError::MissingCountryCode);
    }
    Ok(&value[3..])
}

fn check_body(body: &str) -> Result<(), BsuidError> {
    if body.is_empty() || body.len() > 128 || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(BsuidError::InvalidBody);
    }
    Ok(())
}

/// A business-scoped user id: `CC.` followed by 1–128 ASCII letters or digits.
///
/// Stored whole and compared exactly. It is never put in the Cloud API `to` field (WhatsApp
/// silently drops such sends); a send to a BSUID uses the top-level `recipient` field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// Serialised as its text; read back only through `parse`.
#[derive(serde::Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
#[cfg_attr(
    feature = "sea-orm",
    sea_orm(value_type = "String", from_str = "Bsuid::parse", to_str = "Bsuid::as_str")
)]
pub struct Bsuid(String);

impl Bsuid {
    /// # Errors
    /// When the value is not `CC.` + 1–128 alphanumerics, or is a parent BSUID.
    pub fn parse(input: &str) -> Result<Self, BsuidError> {
        let value = input.trim();
        let body = split_country_code(value)?;
        if body.starts_with("ENT.") {
            return Err(BsuidError::IsParent);
        }
        check_body(body)?;
        Ok(Self(value.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ISO 3166 country code in the prefix: the only country signal when the phone is hidden.
    #[must_use]
    pub fn country_code(&self) -> &str {
        &self.0[..2]
    }
}

impl fmt::Display for Bsuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parent BSUID, shared by the portfolios of one parent account: `CC.ENT.` + alphanumerics.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// Serialised as its text; read back only through `parse`.
#[derive(serde::Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
#[cfg_attr(
    feature = "sea-orm",
    sea_orm(value_type = "String", from_str = "ParentBsuid::parse", to_str = "ParentBsuid::as_str")
)]
pub struct ParentBsuid(String);

impl ParentBsuid {
    /// # Errors
    /// When the value is not `CC.ENT.` + 1–128 alphanumerics.
    pub fn parse(input: &str) -> Result<Self, BsuidError> {
        let value = input.trim();
        let body = split_country_code(value)?;
        let body = body.strip_prefix("ENT.").ok_or(BsuidError::NotParent)?;
        check_body(body)?;
        Ok(Self(value.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ParentBsuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A customer's WhatsApp username, stored as WhatsApp sent it (`@pablomorales` or `sashanicolai`).
///
/// A display and search attribute, never a key: for comparison one leading `@` is stripped and
/// case is folded ([`Username::key`]); `.` and `_` stay significant (`my.id` ≠ `my_id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
/// Serialised as its text; read back only through `parse`.
#[derive(serde::Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
#[cfg_attr(
    feature = "sea-orm",
    sea_orm(value_type = "String", from_str = "Username::parse", to_str = "Username::as_str")
)]
pub struct Username(String);

/// Why a username was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UsernameError {
    #[error("username is empty")]
    Empty,
    #[error("username must be at most 64 characters")]
    TooLong,
    #[error("username must not contain spaces or control characters")]
    InvalidCharacter,
}

impl Username {
    const MAX_CHARS: usize = 64;

    /// Accepts what WhatsApp sends. Lenient on purpose: an inbound message is never refused
    /// because of an unusual username; only empty, overlong or whitespace-bearing values are.
    ///
    /// # Errors
    /// When the value is empty (after one leading `@`), too long, or has whitespace.
    pub fn parse(input: &str) -> Result<Self, UsernameError> {
        let value = input.trim();
        let bare = value.strip_prefix('@').unwrap_or(value);
        if bare.is_empty() {
            return Err(UsernameError::Empty);
        }
        if bare.chars().count() > Self::MAX_CHARS {
            return Err(UsernameError::TooLong);
        }
        if bare.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UsernameError::InvalidCharacter);
        }
        Ok(Self(value.to_owned()))
    }

    /// The value exactly as WhatsApp sent it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The comparison key: one leading `@` stripped, case folded, `.` and `_` kept.
    #[must_use]
    pub fn key(&self) -> String {
        Self::key_of(&self.0)
    }

    /// The comparison key of any text, for search: the same folding as [`Username::key`].
    #[must_use]
    pub fn key_of(text: &str) -> String {
        let text = text.trim();
        text.strip_prefix('@').unwrap_or(text).to_lowercase()
    }

    /// How agents see it: `@name`.
    #[must_use]
    pub fn display(&self) -> String {
        format!("@{}", self.0.strip_prefix('@').unwrap_or(&self.0))
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_normalise_to_e164() {
        let cases = [
            ("+16505551234", "+16505551234"),
            ("16505551234", "+16505551234"),
            ("+1 (650) 555-1234", "+16505551234"),
            (" +44 20 7946 0958 ", "+442079460958"),
            ("52.55.1234.5678", "+525512345678"),
        ];
        for (input, expected) in cases {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), expected, "{input}");
        }
    }

    #[test]
    fn whatsapp_digits_and_typed_numbers_give_the_same_value() {
        let wa = PhoneNumber::from_whatsapp("16505551234").unwrap();
        let typed = PhoneNumber::parse("+1 650-555-1234").unwrap();
        assert_eq!(wa, typed);
        assert_eq!(wa.digits(), "16505551234");
    }

    #[test]
    fn bad_phone_numbers_are_refused_with_a_reason() {
        let cases = [
            ("", PhoneNumberError::Empty),
            ("   ", PhoneNumberError::Empty),
            ("+1 650 CALL NOW", PhoneNumberError::InvalidCharacter),
            ("US.13491208655302741918", PhoneNumberError::InvalidCharacter),
            ("12345", PhoneNumberError::InvalidLength),
            ("1234567890123456", PhoneNumberError::InvalidLength),
            ("06505551234", PhoneNumberError::LeadingZero),
            ("+", PhoneNumberError::Empty),
        ];
        for (input, expected) in cases {
            assert_eq!(PhoneNumber::parse(input).unwrap_err(), expected, "{input:?}");
        }
        assert_eq!(PhoneNumber::from_whatsapp("1650 555").unwrap_err(), PhoneNumberError::InvalidCharacter);
    }

    #[test]
    fn bsuids_are_stored_whole_and_parents_are_told_apart() {
        let b = Bsuid::parse("US.13491208655302741918").unwrap();
        assert_eq!(b.as_str(), "US.13491208655302741918");
        assert_eq!(b.country_code(), "US");
        assert_eq!(Bsuid::parse("US.ENT.11815799212886844830").unwrap_err(), BsuidError::IsParent);
        let p = ParentBsuid::parse("US.ENT.11815799212886844830").unwrap();
        assert_eq!(p.as_str(), "US.ENT.11815799212886844830");
        assert_eq!(ParentBsuid::parse("US.1181579").unwrap_err(), BsuidError::NotParent);
    }

    #[test]
    fn malformed_bsuids_are_refused() {
        let long = format!("US.{}", "1".repeat(129));
        let cases = [
            ("13491208655302741918", BsuidError::MissingCountryCode),
            ("U.123", BsuidError::MissingCountryCode),
            ("1S.123", BsuidError::MissingCountryCode),
            ("US.", BsuidError::InvalidBody),
            ("US.12-34", BsuidError::InvalidBody),
            ("US.12 34", BsuidError::InvalidBody),
            (long.as_str(), BsuidError::InvalidBody),
        ];
        for (input, expected) in cases {
            assert_eq!(Bsuid::parse(input).unwrap_err(), expected, "{input}");
        }
        assert!(Bsuid::parse(&format!("BR.{}", "a".repeat(128))).is_ok());
    }

    #[test]
    fn usernames_compare_without_at_and_case_but_keep_dots_and_underscores() {
        let a = Username::parse("@Carlos_MX").unwrap();
        let b = Username::parse("carlos_mx").unwrap();
        let c = Username::parse("carlos.mx").unwrap();
        assert_eq!(a.key(), b.key());
        assert_ne!(b.key(), c.key());
        assert_eq!(a.as_str(), "@Carlos_MX");
        assert_eq!(a.display(), "@Carlos_MX");
        assert_eq!(b.display(), "@carlos_mx");
        assert_eq!(Username::key_of("@@x"), "@x", "only one leading @ is stripped");
    }

    #[test]
    fn empty_or_spaced_usernames_are_refused() {
        assert_eq!(Username::parse("@").unwrap_err(), UsernameError::Empty);
        assert_eq!(Username::parse("").unwrap_err(), UsernameError::Empty);
        assert_eq!(Username::parse("two words").unwrap_err(), UsernameError::InvalidCharacter);
        assert_eq!(Username::parse(&"a".repeat(65)).unwrap_err(), UsernameError::TooLong);
    }
}
