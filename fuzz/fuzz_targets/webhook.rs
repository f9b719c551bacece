//! The webhook reader: any bytes, parsed as Meta's envelope, then every message read. Must
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(webhook) = serde_json::from_slice::<api::inbound::payload::Webhook>(data) else { return };
    for entry in &webhook.entry {
        for change in &entry.changes {
            let value: Result<api::inbound::payload::MessagesValue, _> =
                api::inbound::payload::read_value("messages", &change.value);
            if let Ok(value) = value {
                for raw in &value.messages {
                    let _ = api::inbound::read::read_message(raw, &value.contacts);
                }
                for raw in &value.statuses {
                    let _ = api::inbound::payload::read_value::<api::inbound::payload::StatusItem>(
                        "statuses", raw,
                    );
                }
            }
            let _ = api::inbound::payload::read_value::<api::inbound::payload::UserIdUpdateValue>(
                "user_id_update",
                &change.value,
            );
            let _ = api::inbound::payload::read_value::<api::inbound::payload::BusinessUsernameUpdate>(
                "business_username_update",
                &change.value,
            );
        }
    }
});
