//! The webhook reader: any bytes, parsed as Meta's envelope, then read whole into typed items
//! (and every kept original rendered), as the webhook does. Must never panic.
#![no_main]

use api::inbound::whatsapp::read::{ChangeBody, Item, read_webhook};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(webhook) = serde_json::from_slice::<api::inbound::whatsapp::payload::Webhook>(data) else {
        return;
    };
    for change in read_webhook(&webhook) {
        let _ = change.kept.payload();
        if let ChangeBody::ForNumber { items, .. } = &change.body {
            for item in items {
                if let Item::Unreadable { kept, .. } = item {
                    let _ = kept.payload();
                }
            }
        }
    }
});
