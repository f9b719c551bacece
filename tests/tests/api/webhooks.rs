//! The WhatsApp webhook: handshake, signatures, every reference payload, threading scenarios,
//! statuses, duplicates, dead letters and privacy.

use chrono::{Duration, Utc};
use persistence::entities::message;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use api::inbound::batch::commit_together;
use api::inbound::whatsapp::payload::Webhook;

use crate::helpers::{Inbound, Tenant, TestApp, fixtures, sign};
use tests::fixtures::Customer;

const BSUID: &str = "US.13491208655302741918";
const NEW_BSUID: &str = "US.77771208655302741918";
const PARENT_BSUID: &str = "US.ENT.11815799212886844830";
const NEW_PARENT_BSUID: &str = "US.ENT.99915799212886844830";

/// Meta's example `wamid`: it base64-decodes to a blob containing the phone 16503879439.
const EXAMPLE_WAMID: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";

/// Meta's example of a text from a username-only customer (phone hidden, parent BSUID).
fn hidden_customer_text(t: &Tenant) -> Value {
    let sheena = Customer::full("Sheena Nelson", "@realsheenanelson", "16505550000", BSUID, PARENT_BSUID)
        .hiding_phone();
    let text = sheena.text(EXAMPLE_WAMID, "Does it come in another color?", Utc::now());
    hook(
        t,
        "messages",
        fixtures::number_change(&t.number.phone_number_id, &[&sheena], "messages", vec![text]),
    )
}

/// A webhook of `t`'s WABA with one change.
fn hook(t: &Tenant, field: &str, value: Value) -> Value {
    fixtures::webhook(&t.number.waba_id, field, value)
}

/// Every kind of webhook of the Cloud API reference, built by the fixtures: (what it is, the
/// webhook, messages, duplicates, statuses, usernames, dead letters).
fn reference_webhooks(t: &Tenant, username_status: &str) -> Vec<(&'static str, Value, [u64; 5])> {
    let now = Utc::now();
    let number = t.number.phone_number_id.as_str();
    let pablo = Customer::full("Pablo Morales", "@pablomorales", "16505551234", BSUID, PARENT_BSUID);
    let rotated = Customer {
        bsuid: Some(NEW_BSUID.into()),
        parent_bsuid: Some(NEW_PARENT_BSUID.into()),
        ..pablo.clone()
    };
    let sheena = Customer::full("Sheena Nelson", "@realsheenanelson", "16505550000", BSUID, PARENT_BSUID);
    let wamid = || format!("wamid.FIXTURE{}", uuid::Uuid::new_v4().simple());
    let messages = |customer: &Customer, items: Vec<Value>| {
        hook(t, "messages", fixtures::number_change(number, &[customer], "messages", items))
    };
    let statuses = |customer: &Customer, items: Vec<Value>| {
        hook(t, "messages", fixtures::number_change(number, &[customer], "statuses", items))
    };
    // Meta's two examples of one message (phone shown, then hidden) reuse one wamid: the second
    // is the same message, so a duplicate.
    let shared = EXAMPLE_WAMID;
    let legacy = sheena.clone().phone_only();
    let mut group = pablo.text(&wamid(), "Hello", now);
    group["group_id"] = json!("120363025246125888");
    let mut failed = pablo.clone().phone_only().status(&wamid(), "failed", now);
    failed["errors"] = fixtures::status_error(
        131_049,
        "This message was not delivered to maintain healthy ecosystem engagement.",
    );
    let phone_holder = Customer { phone: Some("16505551234".into()), ..Customer::default() };
    vec![
        (
            "a text from a customer who shows the phone (before usernames)",
            messages(&legacy, vec![legacy.text(shared, "Does it come in another color?", now)]),
            [1, 0, 0, 0, 0],
        ),
        (
            "the same text from a customer who hid the phone",
            messages(
                &sheena.clone().hiding_phone(),
                vec![sheena.clone().hiding_phone().text(shared, "Does it come in another color?", now)],
            ),
            [0, 1, 0, 0, 0],
        ),
        ("a group message with every identity field", messages(&pablo, vec![group]), [0, 0, 0, 0, 1]),
        (
            "a call-permission reply",
            messages(&pablo, vec![fixtures::call_permission_reply(&pablo, &wamid(), &wamid(), now)]),
            [1, 0, 0, 0, 0],
        ),
        (
            "a shared contact card",
            messages(
                &pablo.clone().hiding_phone(),
                vec![fixtures::shared_contact(
                    &pablo.clone().hiding_phone(),
                    &wamid(),
                    "16505551234",
                    "contact_request",
                    now,
                )],
            ),
            [1, 0, 0, 0, 0],
        ),
        (
            "a system message: the customer changed BSUID",
            hook(
                t,
                "messages",
                fixtures::number_change(
                    number,
                    &[],
                    "messages",
                    vec![fixtures::system_change(
                        &phone_holder,
                        &wamid(),
                        &rotated,
                        "user_changed_user_id",
                        now,
                    )],
                ),
            ),
            [1, 0, 0, 0, 0],
        ),
        (
            "a BSUID rotation",
            hook(
                t,
                "user_id_update",
                fixtures::number_change(
                    number,
                    &[&pablo.clone().phone_only()],
                    "user_id_update",
                    vec![fixtures::user_id_update(&pablo, &rotated, now)],
                ),
            ),
            [0, 0, 0, 0, 0],
        ),
        (
            "a delivery to a hidden customer",
            statuses(
                &pablo.clone().hiding_phone(),
                vec![pablo.clone().hiding_phone().status(&wamid(), "delivered", now)],
            ),
            [0, 0, 0, 0, 0],
        ),
        (
            "a delivery to a phone whose customer has a username",
            statuses(&pablo, vec![pablo.status(&wamid(), "delivered", now)]),
            [0, 0, 0, 0, 0],
        ),
        ("a failure", statuses(&pablo.clone().phone_only(), vec![failed]), [0, 0, 0, 0, 0]),
        (
            "a read with every identity field",
            statuses(&pablo, vec![pablo.status(&wamid(), "read", now)]),
            [0, 0, 0, 0, 0],
        ),
        (
            "a business username update",
            hook(
                t,
                "business_username_update",
                fixtures::business_username_update(
                    fixtures::DISPLAY_PHONE_NUMBER,
                    "jaspers.market",
                    username_status,
                ),
            ),
            [0, 0, 0, 1, 0],
        ),
        (
            "another WABA's username update (plural field)",
            fixtures::webhook(
                "535497026314662",
                "business_username_updates",
                fixtures::business_username_update("573232821994", "wappa_support", "approved"),
            ),
            [0, 0, 0, 0, 1],
        ),
        (
            "an echo of a message sent from the app",
            hook(
                t,
                "smb_message_echoes",
                fixtures::number_change(
                    number,
                    &[&pablo],
                    "message_echoes",
                    vec![fixtures::message_echo(&pablo, &wamid(), now)],
                ),
            ),
            [0, 0, 0, 0, 1],
        ),
        (
            "a marketing preference",
            hook(
                t,
                "user_preferences",
                fixtures::number_change(
                    number,
                    &[&pablo],
                    "user_preferences",
                    vec![fixtures::user_preference(&pablo, "stop", now)],
                ),
            ),
            [0, 0, 0, 0, 1],
        ),
    ]
}

fn summary_of(body: &Value, key: &str) -> u64 {
    body[key].as_u64().unwrap_or_else(|| panic!("no {key} in {body}"))
}

async fn the_subscription_handshake_echoes_the_challenge(app: TestApp) {
    let get = |query: &'static str| {
        let app = &app;
        async move {
            let r = app.client.get(app.url(&format!("/webhooks/whatsapp?{query}"))).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(
        get("hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=1158201444").await,
        (200, "1158201444".to_owned())
    );
    assert_eq!(get("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1").await.0, 403);
    assert_eq!(get("hub.mode=unsubscribe&hub.verify_token=test-verify-token&hub.challenge=1").await.0, 403);
    assert_eq!(get("hub.challenge=1").await.0, 403);
}

async fn bad_signatures_and_malformed_json_store_nothing(app: TestApp) {
    let t = app.tenant_with("Acme", "106540352242922", "102290129340398").await;
    let body = serde_json::to_vec(&hidden_customer_text(&t)).unwrap();
    let (status, _) = app.post_webhook_raw(body.clone(), None).await;
    assert_eq!(status, 401, "missing signature");
    let (status, _) = app.post_webhook_raw(body.clone(), Some("sha256=00ff".into())).await;
    assert_eq!(status, 401, "wrong signature");
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let (status, _) = app.post_webhook_raw(tampered, Some(sign(&body))).await;
    assert_eq!(status, 401, "signature of another body");
    let garbage = b"{\"object\": \"whatsapp_business_account\", \"entry\": [".to_vec();
    let (status, reply) = app.post_webhook_raw(garbage.clone(), Some(sign(&garbage))).await;
    assert_eq!(status, 400);
    assert!(reply["error"].as_str().unwrap().contains("not a WhatsApp webhook"), "{reply}");
    let wrong_shape = br#"{"entry": {"not": "a list"}}"#.to_vec();
    let (status, _) = app.post_webhook_raw(wrong_shape.clone(), Some(sign(&wrong_shape))).await;
    assert_eq!(status, 400);
    for table in ["conversations", "messages", "events", "dead_letters"] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
    let huge = vec![b' '; 5 * 1024 * 1024];
    let (status, _) = app.post_webhook_raw(huge.clone(), Some(sign(&huge))).await;
    assert_eq!(status, 413, "bodies over the limit are refused");
}

async fn every_reference_payload_is_answered_and_applied(app: TestApp) {
    let t = app.tenant_with("Acme", "106540352242922", "102290129340398").await;
    for (what, webhook, expected) in reference_webhooks(&t, "reserved") {
        let (code, summary) = app.post_webhook(&webhook).await;
        assert_eq!(code, 200, "{what}: {summary}");
        let got = ["messages", "duplicates", "statuses", "usernames", "deadLetters"]
            .map(|k| summary_of(&summary, k));
        assert_eq!(got, expected, "{what}: {summary}");
    }
    let data = app
        .ok(&t.token, "{ businessNumbers { username usernameStatus } deadLetters { reason } }", json!({}))
        .await;
    assert_eq!(
        data["businessNumbers"][0],
        json!({ "username": "jaspers.market", "usernameStatus": "RESERVED" })
    );
    let reasons: Vec<&str> =
        data["deadLetters"].as_array().unwrap().iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert!(reasons.contains(&"group messages are not supported"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("smb_message_echoes")), "{reasons:?}");
    assert!(
        reasons.iter().all(|r| !r.contains("wappa")),
        "another WABA's dead letter is not shown to this workspace"
    );

    // `deleted` clears the username.
    let deleted = hook(
        &t,
        "business_username_update",
        fixtures::business_username_update(fixtures::DISPLAY_PHONE_NUMBER, "jaspers.market", "deleted"),
    );
    let (code, summary) = app.post_webhook(&deleted).await;
    assert_eq!((code, summary_of(&summary, "usernames")), (200, 1));
    let data = app.ok(&t.token, "{ businessNumbers { username usernameStatus } }", json!({})).await;
    assert_eq!(data["businessNumbers"][0], json!({ "username": null, "usernameStatus": null }));
    let events = app
        .ok(&t.token, r#"{ events(types: ["business_username.updated"]) { nodes { type } } }"#, json!({}))
        .await;
    assert_eq!(events["events"]["nodes"].as_array().unwrap().len(), 2);
}

async fn a_username_only_customer_keeps_one_thread_and_a_hidden_phone_opens_another(app: TestApp) {
    let t = app.tenant("Acme").await;
    let first = Inbound::hidden("US.500", "@sheena", "Sheena").ago(Duration::minutes(10));
    app.deliver(&t, &[&first]).await;
    app.deliver(&t, &[&first.clone().fresh_id().ago(Duration::minutes(5))]).await;
    let list = "{ conversations { nodes { id origin displayName customer { phoneNumber } messages { nodes { text } } } } }";
    let data = app.ok(&t.token, list, json!({})).await;
    let nodes = data["conversations"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["messages"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(nodes[0]["origin"], "FIRST_CONTACT");

    let phone = Inbound::with_phone("5215512345678", "MX.900", "Carlos").ago(Duration::days(2));
    app.deliver(&t, &[&phone]).await;
    app.deliver(&t, &[&phone.clone().fresh_id().without_phone().ago(Duration::minutes(1))]).await;
    let query = r#"{ conversations(filter: { search: "Carlos" }) { nodes { id origin previousConversation { id } contact { id } customer { phoneNumber } } } }"#;
    let data = app.ok(&t.token, query, json!({})).await;
    let nodes = data["conversations"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["origin"], "RETURNING_CUSTOMER_HID_NUMBER");
    assert_eq!(nodes[0]["previousConversation"]["id"], nodes[1]["id"]);
    assert_eq!(nodes[0]["contact"], Value::Null);
    assert_eq!(nodes[0]["customer"]["phoneNumber"], Value::Null);
    assert_eq!(nodes[1]["customer"]["phoneNumber"], "+5215512345678");
}

async fn a_phone_shared_through_the_request_button_unlocks_capabilities(app: TestApp) {
    let t = app.tenant("Acme").await;
    app.deliver(&t, &[&Inbound::hidden(BSUID, "@pablo", "Pablo")]).await;
    // A contact card shared by hand is only a card.
    let card = |origin: &str| {
        let mut v = Inbound::hidden(BSUID, "@pablo", "Pablo").value(&t.number.phone_number_id);
        v["messages"][0]["type"] = json!("contacts");
        v["messages"][0]["contacts"] = json!([{ "origin": origin, "name": { "formatted_name": "Someone" },
            "phones": [{ "phone": "+16505551234", "wa_id": "16505551234", "type": "CELL" }] }]);
        v["messages"][0].as_object_mut().unwrap().remove("text");
        fixtures::webhook(&t.number.waba_id, "messages", v)
    };
    let query = "{ conversations { nodes { customer { phoneNumber phoneHidden notice } capabilities { call { allowed } templates { category allowed } } } } }";
    assert_eq!(app.post_webhook(&card("other")).await.0, 200);
    let data = app.ok(&t.token, query, json!({})).await;
    assert_eq!(data["conversations"]["nodes"][0]["customer"]["phoneNumber"], Value::Null);
    assert_eq!(app.post_webhook(&card("contact_request")).await.0, 200);
    let data = app.ok(&t.token, query, json!({})).await;
    let c = &data["conversations"]["nodes"][0];
    assert_eq!(c["customer"]["phoneNumber"], "+16505551234");
    assert_eq!(c["customer"]["notice"], Value::Null);
    assert_eq!(c["capabilities"]["call"]["allowed"], true);
    assert_eq!(c["capabilities"]["templates"][2], json!({ "category": "AUTHENTICATION", "allowed": true }));
    let events = app
        .ok(&t.token, r#"{ events(types: ["customer.phone_shared"]) { nodes { payload } } }"#, json!({}))
        .await;
    let shared = &events["events"]["nodes"][0]["payload"]["data"];
    assert_eq!(shared["phoneNumber"], "+16505551234");
    assert_eq!(shared["source"], "contact_request");
}

async fn a_bsuid_change_keeps_the_customer_on_the_same_thread(app: TestApp) {
    let t = app.tenant("Acme").await;
    let sheena = Inbound::hidden(BSUID, "@sheena", "Sheena").ago(Duration::minutes(30));
    app.deliver(&t, &[&sheena]).await;
    let system = {
        let mut v = sheena.clone().fresh_id().value(&t.number.phone_number_id);
        v["messages"][0]["type"] = json!("system");
        v["messages"][0]["system"] =
            json!({ "body": "changed", "user_id": NEW_BSUID, "type": "user_changed_user_id" });
        v["messages"][0].as_object_mut().unwrap().remove("text");
        fixtures::webhook(&t.number.waba_id, "messages", v)
    };
    assert_eq!(app.post_webhook(&system).await.0, 200);
    app.deliver(&t, &[&Inbound::hidden(NEW_BSUID, "@sheena", "Sheena")]).await;
    let query =
        "{ conversations { nodes { customer { bsuid } lastInboundAt messages { nodes { kind } } } } }";
    let data = app.ok(&t.token, query, json!({})).await;
    let nodes = data["conversations"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{data}");
    assert_eq!(nodes[0]["customer"]["bsuid"], NEW_BSUID);
    let kinds: Vec<&str> = nodes[0]["messages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["text", "system", "text"]);

    // The same rotation announced again by a user_id_update changes nothing; a later one applies.
    let update = |previous: &str, current: &str| {
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": t.number.waba_id, "changes": [{ "field": "user_id_update", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": t.number.phone_number_id },
            "user_id_update": [{ "detail": "updated", "user_id": { "previous": previous, "current": current }, "timestamp": "1750000000" }]
        } }] }] })
    };
    let (status, summary) = app.post_webhook(&update(BSUID, NEW_BSUID)).await;
    assert_eq!((status, summary_of(&summary, "identityChanges")), (200, 0));
    let (status, summary) = app.post_webhook(&update(NEW_BSUID, "US.31337")).await;
    assert_eq!((status, summary_of(&summary, "identityChanges")), (200, 1));
    app.deliver(&t, &[&Inbound::hidden("US.31337", "@sheena", "Sheena")]).await;
    let data = app.ok(&t.token, "{ conversations { nodes { customer { bsuid } } } }", json!({})).await;
    assert_eq!(data["conversations"]["nodes"].as_array().unwrap().len(), 1);
}

async fn statuses_move_forward_only_and_keep_failure_details(app: TestApp) {
    let t = app.tenant("Acme").await;
    let conversation = app.deliver(&t, &[&Inbound::with_phone("16505551234", BSUID, "Pablo")]).await;
    assert_eq!(conversation["messages"], 1);
    let data = app.ok(&t.token, "{ conversations { nodes { id } } }", json!({})).await;
    let conversation_id: domain::ConversationId =
        data["conversations"]["nodes"][0]["id"].as_str().unwrap().parse().unwrap();
    let thread = persistence::messages::Thread {
        workspace_id: t.workspace,
        conversation_id,
        business_number_id: t.number.id,
        assignee_id: None,
        team_id: None,
    };
    let outbound = |wamid: &str| {
        let (direction, status) = (domain::Direction::Outbound, domain::MessageStatus::Sent);
        fixtures::imported_message(thread, direction, status, Some(wamid.into()), "Hi", Utc::now())
    };
    let sent = vec![outbound("wamid.OUT1"), outbound("wamid.OUT2")];
    app.db.write(async |txn| persistence::messages::insert_many(txn, sent).await).await.unwrap();
    let status = |id: &str, status: &str, extra: Value| {
        let mut s =
            json!({ "id": id, "status": status, "timestamp": "1750030073", "recipient_id": "16505551234" });
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": t.number.waba_id, "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": t.number.phone_number_id },
            "statuses": [s]
        } }] }] })
    };
    for (id, s, applied) in [
        ("wamid.OUT1", "read", 1),
        ("wamid.OUT1", "delivered", 0),
        ("wamid.OUT1", "read", 0),
        ("wamid.UNKNOWN", "read", 0),
    ] {
        let (code, summary) =
            app.post_webhook(&status(id, s, json!({ "parent_recipient_user_id": "US.ENT.5" }))).await;
        assert_eq!((code, summary_of(&summary, "statuses")), (200, applied), "{id} {s}");
    }
    let failed = json!({ "errors": [{ "code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement." }] });
    let (code, summary) = app.post_webhook(&status("wamid.OUT2", "failed", failed)).await;
    assert_eq!((code, summary_of(&summary, "statuses")), (200, 1));
    let query = "{ conversations { nodes { customer { parentBsuid } messages { nodes { externalId status errorCode errorTitle } } } } }";
    let data = app.ok(&t.token, query, json!({})).await;
    let c = &data["conversations"]["nodes"][0];
    assert_eq!(c["customer"]["parentBsuid"], "US.ENT.5", "a status adds a missing parent BSUID");
    let messages = c["messages"]["nodes"].as_array().unwrap();
    let by_id = |id: &str| messages.iter().find(|m| m["externalId"] == id).unwrap().clone();
    assert_eq!(by_id("wamid.OUT1")["status"], "READ");
    assert_eq!(by_id("wamid.OUT2")["status"], "FAILED");
    assert_eq!(by_id("wamid.OUT2")["errorCode"], 131049);
    let events = app
        .ok(&t.token, r#"{ events(types: ["message.status_updated"]) { nodes { type } } }"#, json!({}))
        .await;
    assert_eq!(events["events"]["nodes"].as_array().unwrap().len(), 2);
}

async fn duplicates_change_nothing_and_batches_store_what_they_can(app: TestApp) {
    let t = app.tenant_with("Acme", "106540352242922", "102290129340398").await;
    let payload = hidden_customer_text(&t);
    let (_, first) = app.post_webhook(&payload).await;
    assert_eq!(summary_of(&first, "messages"), 1);
    let events_before = app.count("events").await;
    let (code, second) = app.post_webhook(&payload).await;
    assert_eq!((code, summary_of(&second, "messages"), summary_of(&second, "duplicates")), (200, 0, 1));
    assert_eq!(app.count("events").await, events_before, "a duplicate writes no event");
    assert_eq!(app.count("messages").await, 1);

    let a = Inbound::hidden("US.1", "@one", "One").value(&t.number.phone_number_id);
    let b = Inbound::with_phone("16505550002", "US.2", "Two").value(&t.number.phone_number_id);
    let mut unroutable = Inbound::hidden("US.3", "@three", "Three").value("999999999");
    unroutable["metadata"]["phone_number_id"] = json!("999999999");
    let batch = json!({ "object": "whatsapp_business_account", "entry": [
        { "id": t.number.waba_id, "changes": [{ "field": "messages", "value": a }, { "field": "messages", "value": unroutable }] },
        { "id": "777", "changes": [{ "field": "messages", "value": b }] },
    ] });
    let (code, summary) = app.post_webhook(&batch).await;
    assert_eq!(code, 200);
    assert_eq!((summary_of(&summary, "messages"), summary_of(&summary, "deadLetters")), (2, 1), "{summary}");
    let data = app
        .ok(&t.token, "{ deadLetters { reason payload } conversations { nodes { displayName } } }", json!({}))
        .await;
    assert_eq!(data["deadLetters"][0]["reason"], "unknown business number: phone_number_id \"999999999\"");
    assert!(data["deadLetters"][0]["payload"].as_str().unwrap().contains("@three"), "kept whole");
    assert_eq!(data["conversations"]["nodes"].as_array().unwrap().len(), 3);
}

async fn nothing_stored_reveals_a_hidden_phone(app: TestApp) {
    let t = app.tenant_with("Acme", "106540352242922", "102290129340398").await;
    // This wamid base64-decodes to a blob containing the phone 16503879439.
    let payload = hidden_customer_text(&t);
    let wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post_webhook(&payload).await.0, 200);
    let conn = app.db.conn();
    for row in message::Entity::find().all(conn).await.unwrap() {
        let text = format!("{row:?}");
        assert!(!text.contains(&wamid) && !text.contains("HBgL") && !text.contains("16503879439"), "{text}");
        assert!(row.external_id.unwrap().starts_with("sha256:"));
    }
    for row in persistence::entities::event::Entity::find().all(conn).await.unwrap() {
        let text = row.payload.to_string();
        assert!(!text.contains(&wamid) && !text.contains("16503879439"), "{text}");
    }
}

/// Concurrent webhooks are committed together (group commit); each is still applied on its
/// own: a customer's first two messages arriving at once open one conversation, a webhook and
/// its duplicate arriving at once store one message (also when two processes race), and every
/// 200 means stored.
async fn concurrent_webhooks_are_committed_together_and_each_applied_once(app: TestApp) {
    let t = app.tenant("Acme").await;
    let customers: Vec<Inbound> = (0..5)
        .map(|i| Inbound::hidden(&format!("US.9{i:019}"), &format!("user_{i}"), &format!("User {i}")))
        .collect();
    let mut bodies = Vec::new();
    for round in 0..4 {
        for customer in &customers {
            let message = customer.clone().fresh_id();
            let value = message.value(&t.number.phone_number_id);
            let body = fixtures::webhook(&t.number.waba_id, "messages", value);
            // Every message is delivered twice at once, as Meta may.
            bodies.push((round, body.clone()));
            bodies.push((round, body));
        }
    }
    // On PostgreSQL half of them go to a second server process, so the two race to open the
    // same conversations (the loser's batch rolls back and is applied webhook by webhook).
    let peer = match app.backend {
        crate::helpers::Backend::Postgres => Some(crate::helpers::spawn_peer(&app, |_| {}).await),
        crate::helpers::Backend::Sqlite => None,
    };
    let answers = futures::future::join_all(bodies.iter().enumerate().map(|(i, (_, body))| {
        let target = match &peer {
            Some(peer) if i % 2 == 1 => peer,
            _ => &app,
        };
        target.post_webhook(body)
    }))
    .await;
    let (mut stored, mut duplicates) = (0, 0);
    for (status, summary) in &answers {
        assert_eq!(*status, 200, "{summary}");
        stored += summary["messages"].as_u64().unwrap();
        duplicates += summary["duplicates"].as_u64().unwrap();
    }
    assert_eq!((stored, duplicates), (20, 20), "each message stored once, each copy a duplicate");
    assert_eq!(app.count("messages").await, 20);
    assert_eq!(app.count("conversations").await, 5, "one thread per customer");
    let created = app.count("events WHERE event_type = 'conversation.created'").await;
    let received = app.count("events WHERE event_type = 'message.received'").await;
    assert_eq!((created, received), (5, 20));
    let cursors: Vec<i64> = persistence::events::list(app.db.conn(), t.workspace, 0, 1_000, None)
        .await
        .unwrap()
        .iter()
        .map(|e| e.cursor)
        .collect();
    assert_eq!(cursors, (1..=cursors.len() as i64).collect::<Vec<_>>(), "cursors stay gap-free");
}

fn group_of(t: &Tenant, messages: &[Inbound]) -> Vec<Webhook> {
    messages
        .iter()
        .map(|m| {
            serde_json::from_value(fixtures::webhook(
                &t.number.waba_id,
                "messages",
                m.value(&t.number.phone_number_id),
            ))
            .unwrap()
        })
        .collect()
}

async fn commit(app: &TestApp, webhooks: Vec<Webhook>) -> Vec<Value> {
    commit_together(&app.db, &app.keyring, webhooks, Utc::now())
        .await
        .into_iter()
        .map(|r| serde_json::to_value(r.expect("stored")).unwrap())
        .collect()
}

/// A group commit batches its statements per table: the business numbers, duplicate checks
/// and threads of the whole group are looked up together, and its conversations' changes,
/// messages and events are written a few rows per statement, so a group of sixteen webhooks
/// costs the same statements as a group of four (one by one, each cost about seven).
async fn a_group_of_webhooks_costs_the_same_statements_whatever_its_size(app: TestApp) {
    let t = app.tenant("Acme").await;
    let customers: Vec<Inbound> = (0..20)
        .map(|i| Inbound::hidden(&format!("US.7{i:019}"), &format!("@group_{i}"), &format!("Group {i}")))
        .collect();
    for customer in &customers {
        app.receive(&t, customer).await;
    }
    let next: Vec<Inbound> = customers.iter().map(|c| c.clone().fresh_id().text("again")).collect();
    let mut costs = Vec::new();
    for part in [&next[..4], &next[4..]] {
        let before = app.db.statement_count();
        let answers = commit(&app, group_of(&t, part)).await;
        costs.push(app.db.statement_count() - before);
        assert!(answers.iter().all(|a| a["messages"] == 1), "{answers:?}");
    }
    assert_eq!(costs[0], costs[1], "groups of 4 and 16 webhooks cost {costs:?} statements");
    assert!(costs[0] <= 8, "a group should cost a handful of statements: {costs:?}");
    assert_eq!(app.count("messages").await, 40);
    assert_eq!(app.count("conversations").await, 20);
    let data =
        app.ok(&t.token, "{ conversations(first: 50) { nodes { lastMessage { text } } } }", json!({})).await;
    let latest: Vec<&Value> = data["conversations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["lastMessage"]["text"])
        .collect();
    assert!(latest.iter().all(|text| *text == "again"), "{latest:?}");
}

/// Within one group each webhook still sees what the ones before it stored: a new customer's
/// two messages open one conversation, a copy of a message is a duplicate, a reaction finds
/// the message it names, and the events come out in the order the webhooks were applied.
async fn a_group_of_webhooks_applies_each_after_the_one_before(app: TestApp) {
    let t = app.tenant("Acme").await;
    let known = Inbound::hidden("US.80000000000000000001", "@known", "Known");
    app.receive(&t, &known).await;
    let first = Inbound::hidden("US.80000000000000000002", "@new", "New");
    let second = first.clone().fresh_id().text("second");
    let again = known.clone().fresh_id().text("again");
    let mut webhooks = group_of(&t, &[first.clone(), second, again.clone(), again.clone()]);
    let mut reaction = again.clone().fresh_id().value(&t.number.phone_number_id);
    reaction["messages"][0]["type"] = json!("reaction");
    reaction["messages"][0]["reaction"] = json!({ "message_id": again.wamid, "emoji": "👍" });
    webhooks
        .push(serde_json::from_value(fixtures::webhook(&t.number.waba_id, "messages", reaction)).unwrap());
    let answers = commit(&app, webhooks).await;
    let counts: Vec<(u64, u64, u64)> = answers
        .iter()
        .map(|a| {
            (
                a["messages"].as_u64().unwrap(),
                a["duplicates"].as_u64().unwrap(),
                a["reactions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [(1, 0, 0), (1, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]);
    assert_eq!(app.count("conversations").await, 2);
    assert_eq!(app.count("messages").await, 4);
    let types: Vec<String> = persistence::events::list(app.db.conn(), t.workspace, 0, 100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    let applied = [
        "conversation.created",
        "message.received",
        "message.received",
        "message.received",
        "message.reaction",
    ];
    assert_eq!(types[types.len() - 5..], applied, "{types:?}");
}

/// Two changes of one conversation within a group are written as one: what the first set (a
/// new profile name) stays when the second sets something else (its latest activity).
async fn a_groups_changes_of_one_conversation_are_merged(app: TestApp) {
    let t = app.tenant("Acme").await;
    let known = Inbound::hidden("US.80000000000000000003", "@merge", "Before");
    app.receive(&t, &known.clone().ago(Duration::minutes(10))).await;
    let renamed =
        Inbound { name: Some("After".to_owned()), ..known.clone().fresh_id().ago(Duration::minutes(2)) };
    let latest = renamed.clone().fresh_id().text("latest").ago(Duration::minutes(1));
    let answers = commit(&app, group_of(&t, &[renamed, latest])).await;
    assert!(answers.iter().all(|a| a["messages"] == 1), "{answers:?}");
    let query = "{ conversations { nodes { displayName customer { profileName } lastMessage { text } } } }";
    let data = app.ok(&t.token, query, json!({})).await;
    let node = &data["conversations"]["nodes"][0];
    assert_eq!(
        (&node["customer"]["profileName"], &node["lastMessage"]["text"]),
        (&json!("After"), &json!("latest")),
        "{node}"
    );
    assert_eq!(app.count("conversations").await, 1);
}

on_both!(
    a_groups_changes_of_one_conversation_are_merged,
    a_group_of_webhooks_costs_the_same_statements_whatever_its_size,
    a_group_of_webhooks_applies_each_after_the_one_before,
    the_subscription_handshake_echoes_the_challenge,
    concurrent_webhooks_are_committed_together_and_each_applied_once,
    bad_signatures_and_malformed_json_store_nothing,
    every_reference_payload_is_answered_and_applied,
    a_username_only_customer_keeps_one_thread_and_a_hidden_phone_opens_another,
    a_phone_shared_through_the_request_button_unlocks_capabilities,
    a_bsuid_change_keeps_the_customer_on_the_same_thread,
    statuses_move_forward_only_and_keep_failure_details,
    duplicates_change_nothing_and_batches_store_what_they_can,
    nothing_stored_reveals_a_hidden_phone,
);

/// PostgreSQL only: SQLite is a file in the process and has no outage to simulate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_and_the_retry_is_stored_once() {
    use sea_orm::ConnectionTrait;
    let Some(app) = crate::helpers::spawn(crate::helpers::Backend::Postgres).await else {
        crate::helpers::postgres_skipped(module_path!());
        return;
    };
    let t = app.tenant("Acme").await;
    let base = std::env::var("PARLEY_TEST_POSTGRES_URL").unwrap();
    let name = app.database_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let admin = sea_orm::Database::connect(base.as_str()).await.unwrap();
    let outage = |allow: bool| {
        let admin = &admin;
        let name = name.clone();
        async move {
            admin
                .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allow}"))
                .await
                .unwrap();
            if !allow {
                admin
                    .execute_unprepared(&format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                    ))
                    .await
                    .unwrap();
            }
        }
    };
    let message = Inbound::hidden("US.404", "@patient", "Patient");
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": t.number.waba_id, "changes": [
        { "field": "messages", "value": message.value(&t.number.phone_number_id) }
    ] }] });
    outage(false).await;
    let (status, reply) = app.post_webhook(&body).await;
    assert_eq!(status, 503, "{reply}");
    outage(true).await;
    let mut stored = None;
    for _ in 0..20 {
        let (status, reply) = app.post_webhook(&body).await;
        if status == 200 {
            stored = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let reply = stored.expect("the retry is accepted once the database is back");
    assert_eq!(summary_of(&reply, "messages"), 1);
    let (_, again) = app.post_webhook(&body).await;
    assert_eq!(summary_of(&again, "duplicates"), 1);
    assert_eq!(app.count("messages").await, 1);
    assert_eq!(app.count("conversations").await, 1);
}
