//! Hostile payloads (property-based): arbitrary and mutated Meta webhooks never crash the
//! server, are answered 200 (stored or dead-lettered) or 400 (not JSON) when signed and 401 when
//! not, and never leave a webhook half-stored: every stored message has its event.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, Tenant, TestApp, sign, spawn};

fn base_payload(t: &Tenant) -> Value {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": t.number.waba_id, "changes": [
        { "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": t.number.phone_number_id },
            "contacts": [{ "profile": { "name": "Sheena", "username": "@sheena" }, "user_id": "US.1349", "wa_id": "16505551234" }],
            "messages": [
                { "from_user_id": "US.1349", "id": "wamid.A", "timestamp": "1749416383", "type": "text", "text": { "body": "hi" } },
                { "from": "16505551234", "id": "wamid.B", "timestamp": "1749416384", "type": "image", "image": { "caption": "x" } }
            ],
            "statuses": [{ "id": "wamid.Z", "status": "read", "timestamp": "1", "recipient_id": "16505551234" }]
        } },
        { "field": "user_id_update", "value": { "metadata": { "phone_number_id": t.number.phone_number_id },
            "user_id_update": [{ "user_id": { "previous": "US.1349", "current": "US.9999" } }] } }
    ] }] })
}

/// Arbitrary JSON values, small but of every kind.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        Just(Value::from("US.ENT.1")),
        Just(Value::from("+16505551234")),
        Just(Value::from("9".repeat(400))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value at a pseudo-random path (chosen by `choices`) with `replacement`, or
/// removes it when `remove` is set.
fn mutate(node: &mut Value, choices: &[usize], replacement: Value, remove: bool) {
    let Some((choice, rest)) = choices.split_first() else {
        *node = replacement;
        return;
    };
    match node {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(choice % map.len()).cloned().unwrap_or_default();
            if !rest.is_empty() {
                if let Some(child) = map.get_mut(&key) {
                    mutate(child, rest, replacement, remove);
                }
            } else if remove {
                map.remove(&key);
            } else {
                map.insert(key, replacement);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = choice % items.len();
            if !rest.is_empty() {
                mutate(&mut items[i], rest, replacement, remove);
            } else if remove {
                items.remove(i);
            } else {
                items[i] = replacement;
            }
        }
        other => *other = replacement,
    }
}

async fn invariants_hold(app: &TestApp) {
    let conn = app.db.conn();
    let count = |sql: &'static str| crate::helpers::value::<i64>(conn, sql);
    let messages = count("SELECT COUNT(*) AS v FROM messages WHERE direction = 'INBOUND'").await;
    let received = count("SELECT COUNT(*) AS v FROM events WHERE event_type = 'message.received'").await;
    assert_eq!(messages, received, "every stored message has its event, and no event lacks its message");
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "the server is still up");
}

#[test]
fn arbitrary_and_mutated_webhooks_are_answered_and_never_half_stored() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (app, tenant) = runtime.block_on(async {
        let app = spawn(Backend::Sqlite).await.unwrap();
        let tenant = app.tenant("Acme").await;
        (app, tenant)
    });
    let config = ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(
        mutations in prop::collection::vec((prop::collection::vec(any::<usize>(), 1..7), any_json(), any::<bool>()), 0..4),
        raw in prop::collection::vec(any::<u8>(), 0..200),
        use_raw in prop::bool::weighted(0.15),
        signed in prop::bool::weighted(0.9),
    )| {
        runtime.block_on(async {
            let body = if use_raw {
                raw.clone()
            } else {
                let mut payload = base_payload(&tenant);
                for (path, replacement, remove) in &mutations {
                    mutate(&mut payload, path, replacement.clone(), *remove);
                }
                serde_json::to_vec(&payload).unwrap()
            };
            let signature = if signed { Some(sign(&body)) } else { None };
            let (status, reply) = app.post_webhook_raw(body, signature).await;
            match (signed, status) {
                (false, 401) | (true, 200) | (true, 400) => {}
                other => panic!("unexpected answer {other:?}: {reply}"),
            }
            invariants_hold(&app).await;
        });
    });
}
