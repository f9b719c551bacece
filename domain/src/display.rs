//! How a customer is named to agents (PRODUCT.md section 5).

use crate::identity::{PhoneNumber, Username};

/// Shown instead of a phone number for a customer who hid it.
pub const HIDDEN_PHONE_NOTICE: &str = "No phone number provided by user.";

/// Shown when WhatsApp told us nothing presentable (no name, username or phone).
pub const UNKNOWN_CUSTOMER: &str = "WhatsApp user";

/// The name agents see, highest first: linked contact's name → WhatsApp profile name →
/// `@username` → phone.
#[must_use]
pub fn display_name(
    contact_name: Option<&str>,
    profile_name: Option<&str>,
    username: Option<&Username>,
    phone: Option<&PhoneNumber>,
) -> String {
    let non_blank = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    non_blank(contact_name)
        .or_else(|| non_blank(profile_name))
        .or_else(|| username.map(Username::display))
        .or_else(|| phone.map(|p| p.as_str().to_owned()))
        .unwrap_or_else(|| UNKNOWN_CUSTOMER.to_owned())
}

/// The notice shown beside a conversation whose customer phone is unknown.
#[must_use]
pub fn phone_notice(phone: Option<&PhoneNumber>) -> Option<&'static str> {
    phone.is_none().then_some(HIDDEN_PHONE_NOTICE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_takes_the_highest_known_attribute() {
        let u = Username::parse("@realsheenanelson").unwrap();
        let p = PhoneNumber::parse("+16505551234").unwrap();
        let cases = [
            ((Some("Sheena N. (VIP)"), Some("Sheena Nelson"), Some(&u), Some(&p)), "Sheena N. (VIP)"),
            ((None, Some("Sheena Nelson"), Some(&u), Some(&p)), "Sheena Nelson"),
            ((Some("  "), Some("Sheena Nelson"), Some(&u), Some(&p)), "Sheena Nelson"),
            ((None, None, Some(&u), Some(&p)), "@realsheenanelson"),
            ((None, Some(""), None, Some(&p)), "+16505551234"),
            ((None, None, None, None), UNKNOWN_CUSTOMER),
        ];
        for ((contact, profile, username, phone), expected) in cases {
            assert_eq!(display_name(contact, profile, username, phone), expected);
        }
    }

    #[test]
    fn the_notice_appears_only_without_a_phone() {
        assert_eq!(phone_notice(None), Some("No phone number provided by user."));
        assert_eq!(phone_notice(Some(&PhoneNumber::parse("+16505551234").unwrap())), None);
    }
}
