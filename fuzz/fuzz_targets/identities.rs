//! The domain value parsers: any text. Must never panic, and what parses must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(phone) = domain::PhoneNumber::parse(text) {
        assert_eq!(domain::PhoneNumber::parse(phone.as_str()).ok(), Some(phone.clone()));
        assert_eq!(domain::PhoneNumber::from_whatsapp(phone.digits()).ok(), Some(phone));
    }
    let _ = domain::PhoneNumber::from_whatsapp(text);
    if let Ok(bsuid) = domain::Bsuid::parse(text) {
        assert_eq!(domain::Bsuid::parse(bsuid.as_str()).ok(), Some(bsuid));
    }
    let _ = domain::ParentBsuid::parse(text);
    if let Ok(username) = domain::Username::parse(text) {
        assert_eq!(username.key(), domain::Username::key_of(&username.display()));
    }
    if let Ok(name) = domain::BusinessUsername::parse(text) {
        assert!(domain::BusinessUsername::parse(name.as_str()).is_ok());
    }
    let _ = domain::Email::parse(text);
    let _ = domain::search::SearchQuery::parse(text);
});
