//! The webhook reader: any bytes, parsed as Meta's envelope, then every message read. Must
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(webhook) = serde_json::from_slice::<api::whatsapp::payload::Webhook>(data) else { return };
    for entry in &webhook.entry {
        for change in &entry.changes {
            let value: Result<api::whatsapp::payload::MessagesValue, _> =
                api::whatsapp::payload::read_value("messages", &change.value);
            if let Ok(value) = value {
                for raw in &value.messages {
                    let _ = api::whatsapp::inbound::read_message(raw, &value.contacts);
                }
                for raw in &value.statuses {
                    let _ = api::whatsapp::payload::read_value::<api::whatsapp::payload::StatusItem>(
                        "statuses", raw,
                    );
                }
            }
            let _ = api::whatsapp::payload::read_value::<api::whatsapp::payload::UserIdUpdateValue>(
                "user_id_update",
                &change.value,
            );
            let _ = api::whatsapp::payload::read_value::<api::whatsapp::payload::BusinessUsernameUpdate>(
                "business_username_update",
                &change.value,
            );
        }
    }
});
