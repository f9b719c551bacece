//! Privacy requests (PRODUCT.md section 13): a full customer history — a phone thread, then the
//! same customer hiding the number, a photo, an agent's reply and note, a contact, CRM
//! deliveries — is exported whole, then erased; afterwards no table of the database and nothing
//! in the blob store holds any of the customer's identifiers, texts or media bytes. Runs on
//! SQLite with the file store and on PostgreSQL with S3.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use sea_orm::EntityTrait;

use crate::helpers::{
    Backend, FAKE_TOKEN, FakeMedia, FakeProvider, Inbound, Store, TestApp, error_code, fixtures, spawn_on,
};
use crate::media::{file_bytes, media_webhook, sha256_base64, sha256_hex};

/// A CRM endpoint that accepts everything and keeps the bodies.
async fn crm() -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&got);
    let app = axum::Router::new().fallback(move |body: String| {
        let sink = Arc::clone(&sink);
        async move {
            sink.lock().unwrap().push(body);
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

const SEND_MEDIA: &str =
    "mutation($c: ID!, $a: ID!) { sendMedia(conversationId: $c, attachmentId: $a) { id } }";

/// Uploads a PDF as an agent would; returns its id.
pub(crate) async fn upload(app: &crate::helpers::TestApp, token: &str, bytes: Vec<u8>, name: &str) -> String {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("application/pdf")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let response =
        app.client.post(app.url("/media")).bearer_auth(token).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

const PHONE: &str = "16505550777";
const BSUID: &str = "US.7770001";
const USERNAME: &str = "zedz_zebra";

async fn erasure_leaves_nothing_of_the_customer_and_the_export_had_it_all(backend: Backend, store: Store) {
    let fake = FakeProvider::start().await;
    let url = fake.url.clone();
    let Some(app) = spawn_on(backend, store, move |config| {
        config.whatsapp.api_base = url;
        config.whatsapp.access_token = Some(FAKE_TOKEN.to_owned().into());
        config.dispatch.allow_private_targets = true;
        config.dispatch.retry_base = Duration::from_millis(30);
    })
    .await
    else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let (crm_url, crm_got) = crm().await;
    let create = "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }";
    app.ok(&t.token, create, json!({ "i": { "url": crm_url, "eventTypes": [] } })).await;

    // The phone thread: the customer writes, an agent replies and leaves a note, a contact is made.
    let first = Inbound::with_phone(PHONE, BSUID, "Zed Zebra").text("My order 4471 never arrived");
    let first_wamid = first.wamid.clone();
    assert_eq!(
        app.post_webhook(&crate::helpers::fixtures::webhook(
            &t.number.waba_id,
            "messages",
            first.value(&t.number.phone_number_id)
        ))
        .await
        .0,
        200
    );
    let inbox = "{ conversations(first: 10) { nodes { id origin customer { bsuid } } } }";
    let phone_thread = app.ok(&t.token, inbox, json!({})).await["conversations"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = "mutation($c: ID!, $t: String!) { sendMessage(conversationId: $c, text: $t) { id } }";
    app.ok(&t.token, send, json!({ "c": phone_thread, "t": "Sorry Zed, resending parcel 4471 today" })).await;
    let note = "mutation($c: ID!, $t: String!) { addNote(conversationId: $c, text: $t) { id } }";
    app.ok(&t.token, note, json!({ "c": phone_thread, "t": "Zed prefers calls after six" })).await;
    let contact =
        "mutation($c: ID, $i: CreateContactInput!) { createContact(conversationId: $c, input: $i) { id } }";
    let input = json!({ "c": phone_thread, "i": { "name": "Zed Zebra (CRM)", "email": "zed@zebra.example",
        "externalId": "crm-zed-1", "attributes": { "favourite": "striped-socks" } } });
    let contact_id =
        app.ok(&t.token, contact, input).await["createContact"]["id"].as_str().unwrap().to_owned();
    // A second record of the same person, merged into the first: its own events described them.
    let standalone = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }";
    let second = json!({ "i": { "name": "Zeddy Merged", "attributes": { "note": "zebra-merged-secret" } } });
    let second =
        app.ok(&t.token, standalone, second).await["createContact"]["id"].as_str().unwrap().to_owned();
    let merge = "mutation($p: ID!, $s: ID!) { mergeContacts(primaryId: $p, secondaryId: $s) { id } }";
    app.ok(&t.token, merge, json!({ "p": contact_id, "s": second })).await;
    // Files an agent sends: an invoice to this customer only, a price list to them and to
    // someone else (one upload, one blob).
    let invoice = file_bytes(3_000, 21);
    let price_list = file_bytes(5_000, 22);
    let invoice_id = upload(&app, &t.token, invoice.clone(), "zed-invoice-4471.pdf").await;
    let price_list_id = upload(&app, &t.token, price_list.clone(), "price-list.pdf").await;
    for file in [&invoice_id, &price_list_id] {
        app.ok(&t.token, SEND_MEDIA, json!({ "c": phone_thread, "a": file })).await;
    }

    // The same customer hides the number: a new thread, with a photo.
    let photo = file_bytes(40_000, 9);
    fake.host_media(
        "8801",
        FakeMedia { mime_type: "image/jpeg".into(), file_name: None, bytes: photo.clone(), sha256: None },
    );
    let hidden = Inbound::hidden(BSUID, USERNAME, "Zed Z").text("Here is the zebra receipt");
    let hidden_wamid = hidden.wamid.clone();
    let object = json!({ "id": "8801", "mime_type": "image/jpeg", "sha256": sha256_base64(&photo), "caption": "zebra receipt photo" });
    assert_eq!(app.post_webhook(&media_webhook(&t, &hidden, "image", object)).await.0, 200);
    let threads =
        app.ok(&t.token, inbox, json!({})).await["conversations"]["nodes"].as_array().unwrap().clone();
    assert_eq!(threads.len(), 2, "{threads:?}");
    let hidden_thread =
        threads.iter().find(|c| c["id"] != phone_thread.as_str()).unwrap()["id"].as_str().unwrap().to_owned();
    let stored =
        "query($c: ID!) { conversation(id: $c) { messages(first: 5) { nodes { attachments { status } } } } }";
    let mut settled = false;
    for _ in 0..400 {
        let data = app.ok(&t.token, stored, json!({ "c": hidden_thread })).await.to_string();
        if data.contains("STORED") {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(settled, "the photo was stored");
    assert!(!app.blobs.keys().await.unwrap().is_empty());

    // Someone else, who must not be touched.
    let other = Inbound::with_phone("16505550999", "US.9990001", "Una Related").text("unrelated hello");
    app.post_webhook(&crate::helpers::fixtures::webhook(
        &t.number.waba_id,
        "messages",
        other.value(&t.number.phone_number_id),
    ))
    .await;
    let una_thread = app.ok(&t.token, inbox, json!({})).await["conversations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["customer"]["bsuid"] == "US.9990001")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(&t.token, SEND_MEDIA, json!({ "c": una_thread, "a": price_list_id })).await;
    for _ in 0..400 {
        if crm_got.lock().unwrap().len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(crm_got.lock().unwrap().len() >= 5, "the CRM got deliveries");

    // Only admins of the workspace may export or erase.
    let export = "mutation($c: ID!) { exportCustomer(conversationId: $c) }";
    let erase = "mutation($c: ID!) { eraseCustomer(conversationId: $c, includeContact: true) }";
    let (_, agent) = app.agent(&t, "AGENT").await;
    assert_eq!(
        error_code(&app.graphql(Some(&agent), export, json!({ "c": phone_thread })).await),
        "FORBIDDEN"
    );
    assert_eq!(
        error_code(&app.graphql(Some(&agent), erase, json!({ "c": phone_thread })).await),
        "FORBIDDEN"
    );
    let stranger = app.tenant("Other").await;
    assert_eq!(
        error_code(&app.graphql(Some(&stranger.token), erase, json!({ "c": phone_thread })).await),
        "NOT_FOUND"
    );

    let needles: Vec<String> = vec![
        PHONE.to_owned(),
        BSUID.to_owned(),
        USERNAME.to_owned(),
        "Zed Zebra".into(),
        "Zed Z".into(),
        "order 4471".into(),
        "resending parcel".into(),
        "prefers calls".into(),
        "zed@zebra.example".into(),
        "crm-zed-1".into(),
        "striped-socks".into(),
        "zebra receipt".into(),
        sha256_hex(&photo),
        "Zeddy Merged".into(),
        "zebra-merged-secret".into(),
        "zed-invoice-4471".into(),
        sha256_hex(&invoice),
        first_wamid,
        hidden_wamid.clone(),
    ];
    let exported = app.ok(&t.token, export, json!({ "c": hidden_thread })).await["exportCustomer"].clone();
    assert_eq!(exported["conversations"].as_array().unwrap().len(), 2, "both threads of the customer");
    let text = exported.to_string();
    for needle in needles.iter().filter(|n| !n.starts_with("wamid.")) {
        assert!(text.contains(needle.as_str()), "the export lacks {needle}");
    }
    // The name as searches compare it (case folded) is stored too, and must go with the rest.
    let mut needles = needles;
    needles.push("zed zebra".into());
    assert!(text.contains(&sha256_hex(&photo)), "attachment metadata");
    assert!(!text.contains("unrelated hello"), "another customer is not exported");

    // Before: all of it is stored (the hidden customer's raw message id only sealed), the photo's bytes too.
    let before = app.storage_text().await;
    for needle in needles.iter().filter(|n| **n != hidden_wamid) {
        assert!(
            before.contains(needle.as_str()),
            "{needle} was never stored: the scan below would prove nothing"
        );
    }
    let mut photo_stored = false;
    for key in app.blobs.keys().await.unwrap() {
        photo_stored |= app.blobs.read_all(&key).await.unwrap().as_ref() == photo.as_slice();
    }
    assert!(photo_stored);

    assert_eq!(app.ok(&t.token, erase, json!({ "c": phone_thread })).await["eraseCustomer"], true);

    let storage = app.storage_text().await;
    for needle in &needles {
        let found: Vec<&str> = storage.lines().filter(|l| l.contains(needle.as_str())).collect();
        assert!(found.is_empty(), "{needle} is still stored: {found:#?}");
    }
    assert!(storage.contains("unrelated hello"), "the other customer is untouched");
    // The bytes only the customer's rows held go after the commit (the blob janitor); the price
    // list, also sent to Una, stays hers: served, and its upload can be sent again.
    let mut gone = false;
    for _ in 0..200 {
        let mut held = Vec::new();
        for key in app.blobs.keys().await.unwrap() {
            held.push(app.blobs.read_all(&key).await.unwrap().to_vec());
        }
        if !held.iter().any(|b| *b == photo || *b == invoice) {
            assert!(held.contains(&price_list), "the shared price list's bytes stay");
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(gone, "the photo's and the invoice's bytes are deleted after the commit");
    assert_eq!(app.count("blob_deletions").await, 0, "the list of blobs to delete is worked off");
    let una = "query($c: ID!) { conversation(id: $c) { messages(first: 5) { nodes { attachments { id status fileName } } } } }";
    let una = app.ok(&t.token, una, json!({ "c": una_thread })).await.to_string();
    assert!(una.contains("STORED") && una.contains("price-list.pdf"), "{una}");
    let una_attachment = una.split("\"id\":\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let served = app
        .client
        .get(app.url(&format!("/media/{una_attachment}")))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), price_list.as_slice());
    app.ok(&t.token, SEND_MEDIA, json!({ "c": una_thread, "a": price_list_id })).await;
    // SQLite: neither the database file's free pages nor its write-ahead log keep what was said.
    if backend == Backend::Sqlite {
        let path = app.database_url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
        let mut raw = std::fs::read(&path).unwrap();
        raw.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        let raw = String::from_utf8_lossy(&raw);
        for needle in needles.iter().filter(|n| !n.starts_with("wamid.")) {
            assert!(!raw.contains(needle.as_str()), "{needle} is still in the SQLite file's bytes");
        }
    }
    let erased = "{ events(first: 100, types: [\"customer.erased\"]) { nodes { payload } } }";
    let erased = app.ok(&t.token, erased, json!({})).await["events"]["nodes"].clone();
    assert_eq!(erased[0]["payload"]["data"]["conversationIds"].as_array().unwrap().len(), 2);
    let log = app.ok(&t.token, "{ auditLog(first: 5) { action } }", json!({})).await;
    assert_eq!(log["auditLog"][0]["action"], "customer.erased");
    // The threads remain as ids and types: the inbox still counts them, without the customer.
    let after = app.ok(&t.token, "query($c: ID!) { conversation(id: $c) { id contact { id } customer { bsuid phoneNumber username } messages(first: 5) { nodes { kind text } } } }", json!({ "c": phone_thread })).await;
    assert!(after["conversation"]["contact"].is_null());
    assert_eq!(
        after["conversation"]["customer"],
        json!({ "bsuid": null, "phoneNumber": null, "username": null })
    );
    assert!(
        after["conversation"]["messages"]["nodes"].as_array().unwrap().iter().all(|m| m["text"].is_null())
    );

    // The customer writes again: a fresh first contact.
    let again = Inbound::hidden(BSUID, USERNAME, "Zed Z").text("hello again");
    app.post_webhook(&crate::helpers::fixtures::webhook(
        &t.number.waba_id,
        "messages",
        again.value(&t.number.phone_number_id),
    ))
    .await;
    let threads =
        app.ok(&t.token, inbox, json!({})).await["conversations"]["nodes"].as_array().unwrap().clone();
    let fresh = threads.iter().find(|c| c["customer"]["bsuid"] == BSUID).expect("a new thread");
    assert_eq!(fresh["origin"], "FIRST_CONTACT");
    assert!(fresh["id"] != phone_thread.as_str() && fresh["id"] != hidden_thread.as_str());
}

on_both_stores!(erasure_leaves_nothing_of_the_customer_and_the_export_had_it_all);

/// A send the provider is still answering when the customer is erased stays `FAILED`: the
/// provider's late answer brings back no message id, status or event.
async fn a_send_in_flight_when_the_customer_is_erased_stays_failed(backend: Backend) {
    let fake = FakeProvider::start().await;
    let url = fake.url.clone();
    let Some(app) = crate::helpers::spawn_with(backend, move |config| {
        config.whatsapp.api_base = url;
        config.whatsapp.access_token = Some(FAKE_TOKEN.to_owned().into());
    })
    .await
    else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let conversation = app.receive(&t, &Inbound::hidden(BSUID, USERNAME, "Zed Z")).await.to_string();
    fake.slow_down(Duration::from_millis(1500));
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"on its way\") { id } }";
    app.ok(&t.token, send, json!({ "c": conversation })).await;
    for _ in 0..200 {
        if !fake.sent_messages().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.sent_messages().len(), 1, "the send is with the provider");
    let erase = "mutation($c: ID!) { eraseCustomer(conversationId: $c) }";
    app.ok(&t.token, erase, json!({ "c": conversation })).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let query = "query($c: ID!) { conversation(id: $c) { messages(first: 5) { nodes { direction status externalId } } } }";
    let messages = app.ok(&t.token, query, json!({ "c": conversation })).await;
    let outbound: Vec<_> = messages["conversation"]["messages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "OUTBOUND")
        .cloned()
        .collect();
    assert_eq!(outbound.len(), 1);
    assert_eq!(outbound[0]["status"], "FAILED", "{outbound:?}");
    assert!(outbound[0]["externalId"].is_null(), "{outbound:?}");
    let storage = app.storage_text().await;
    assert!(!storage.contains("wamid.FAKE"), "the provider's id of the erased send is not kept");
    assert!(!storage.contains(BSUID), "no identity came back with the answer");
    let types = "{ events(first: 100) { nodes { type } } }";
    let types: Vec<String> = app.ok(&t.token, types, json!({})).await["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    let erased_at = types.iter().position(|t| t == "customer.erased").unwrap();
    assert!(
        !types[erased_at..].iter().any(|t| t == "message.status_updated"),
        "no status event after the erasure: {types:?}"
    );
}

on_both_backends!(a_send_in_flight_when_the_customer_is_erased_stays_failed);

/// An erasure deletes the workspace's dead letters that name the customer, matched literally
/// (the `_` of a username is no wildcard, on either database), and never the operator's (rows
/// of no workspace, which no tenant may choose); those expire after `PARLEY_DEAD_LETTER_DAYS`.
async fn dead_letters_are_erased_literally_within_the_workspace_and_the_operators_expire(backend: Backend) {
    let Some(app) =
        crate::helpers::spawn_with(backend, |config| config.dead_letter_ttl = Duration::from_secs(3)).await
    else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let conversation = app.receive(&t, &Inbound::hidden(BSUID, USERNAME, "Zed Z")).await.to_string();
    let unroutable = |waba: &str, bsuid: &str, username: &str| {
        let mut value = Inbound::hidden(bsuid, username, "Someone").value("999999999");
        value["metadata"]["phone_number_id"] = json!("999999999");
        crate::helpers::fixtures::webhook(waba, "messages", value)
    };
    let waba = t.number.waba_id.clone();
    for (waba, bsuid, username) in [
        (waba.as_str(), BSUID, USERNAME), // the workspace's, about the customer
        (waba.as_str(), "US.5550001", "zedzXzebra"), // the workspace's, about someone else
        ("888000888", "US.5550002", USERNAME), // the operator's: no workspace owns the WABA
    ] {
        assert_eq!(app.post_webhook(&unroutable(waba, bsuid, username)).await.0, 200);
    }
    assert_eq!(app.count("dead_letters").await, 3);
    let erase = "mutation($c: ID!) { eraseCustomer(conversationId: $c) }";
    app.ok(&t.token, erase, json!({ "c": conversation })).await;
    let kept = app.ok(&t.token, "{ deadLetters { payload } }", json!({})).await.to_string();
    assert!(kept.contains("zedzXzebra"), "a username the pattern's `_` would match stays: {kept}");
    assert!(!kept.contains(BSUID), "the customer's dead letter is erased: {kept}");
    assert_eq!(app.count("dead_letters").await, 2, "the operator's dead letter is not the tenant's to erase");
    // The operator's dead letter expires (here after 3 s); the tenant's stays.
    let mut expired = false;
    for _ in 0..120 {
        if app.count("dead_letters").await == 1 {
            expired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(expired, "the operator's dead letter expired");
    assert!(
        app.ok(&t.token, "{ deadLetters { payload } }", json!({})).await.to_string().contains("zedzXzebra")
    );
}

on_both_backends!(dead_letters_are_erased_literally_within_the_workspace_and_the_operators_expire);

/// A file still being fetched when its customer is erased: the fetch's answer is not recorded,
/// and the bytes it stored go on the durable list and are deleted after commit.
async fn a_file_fetched_during_an_erasure_leaves_no_bytes(backend: Backend, store: Store) {
    let fake = FakeProvider::start().await;
    let url = fake.url.clone();
    let Some(app) = spawn_on(backend, store, move |config| {
        config.whatsapp.api_base = url;
        config.whatsapp.access_token = Some(FAKE_TOKEN.to_owned().into());
    })
    .await
    else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let photo = file_bytes(640 * 1024, 4);
    fake.host_media(
        "8802",
        FakeMedia { mime_type: "image/jpeg".into(), file_name: None, bytes: photo.clone(), sha256: None },
    );
    fake.pace_media("8802", Duration::from_millis(150));
    let customer = Inbound::hidden(BSUID, USERNAME, "Zed Z");
    let object = json!({ "id": "8802", "mime_type": "image/jpeg", "sha256": sha256_base64(&photo) });
    assert_eq!(app.post_webhook(&media_webhook(&t, &customer, "image", object)).await.0, 200);
    // The download has begun (and takes about 1.5 s).
    for _ in 0..100 {
        if fake.requests().iter().any(|r| r.path == "/download/8802") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let inbox = "{ conversations(first: 1) { nodes { id } } }";
    let conversation = app.ok(&t.token, inbox, json!({})).await["conversations"]["nodes"][0]["id"].clone();
    let erase = "mutation($c: ID!) { eraseCustomer(conversationId: $c) }";
    app.ok(&t.token, erase, json!({ "c": conversation })).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for key in app.blobs.keys().await.unwrap() {
        assert_ne!(
            app.blobs.read_all(&key).await.unwrap().as_ref(),
            photo.as_slice(),
            "the fetched bytes are gone"
        );
    }
    assert_eq!(app.count("blob_deletions").await, 0, "the list of blobs to delete is worked off");
    assert!(!app.storage_text().await.contains(&sha256_hex(&photo)), "nothing of the file is recorded");
}

on_both_stores!(a_file_fetched_during_an_erasure_leaves_no_bytes);

/// A hidden customer's `wamid`s, at any depth (a reaction's `message_id`, a reply's context, a
/// dead-lettered item), are kept only as digests; the raw id only sealed. Every table is
/// scanned.
async fn no_stored_value_reveals_a_hidden_customers_phone(app: TestApp) {
    let t = app.tenant("Acme").await;
    // This id base64-decodes to a blob holding the phone 16503879439.
    let wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";
    let other = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
    let now = chrono::Utc::now().timestamp().to_string();
    let sender = json!({ "from_user_id": "US.13491208655302741918", "timestamp": now });
    let mut text = sender.clone();
    text["id"] = json!(wamid);
    text["type"] = json!("text");
    text["text"] = json!({ "body": "Where is my order?" });
    text["context"] = json!({ "from": "15550783881", "id": other });
    let mut reaction = sender.clone();
    reaction["id"] = json!(format!("{wamid}R"));
    reaction["type"] = json!("reaction");
    reaction["reaction"] = json!({ "message_id": wamid, "emoji": "👍" });
    let contacts = json!([{ "profile": { "name": "Sheena", "username": "@sheena" }, "user_id": "US.13491208655302741918" }]);
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": fixtures::DISPLAY_PHONE_NUMBER, "phone_number_id": t.number.phone_number_id },
        "contacts": contacts,
        "messages": [text, reaction, { "id": format!("{wamid}X"), "from_user_id": "US.1349", "type": "text" }],
    });
    let (status, summary) = app.post_webhook(&fixtures::webhook(&t.number.waba_id, "messages", value)).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        (summary["messages"].as_i64(), summary["reactions"].as_i64(), summary["deadLetters"].as_i64()),
        (Some(1), Some(1), Some(1)),
        "{summary}"
    );

    let stored = app.storage_text().await;
    for needle in ["wamid.", "HBgL", "16503879439"] {
        let leaks: Vec<&str> = stored.lines().filter(|l| l.contains(needle)).collect();
        assert!(leaks.is_empty(), "{needle} is stored: {leaks:#?}");
    }
    let sealed: Vec<persistence::sealed::Sealed> = persistence::entities::message::Entity::find()
        .all(app.db.conn())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| m.external_id_sealed)
        .collect();
    assert_eq!(sealed.len(), 1);
    let opened: Vec<String> = sealed
        .iter()
        .map(|s| {
            let raw = app.keyring.open(persistence::sealed::Purpose::MessageId, s).unwrap();
            secrecy::ExposeSecret::expose_secret(&raw).to_owned()
        })
        .collect();
    assert!(opened.contains(&wamid.to_owned()), "the raw id is kept sealed, for replies: {opened:?}");
    let letters = app.ok(&t.token, "{ deadLetters { reason payload } }", json!({})).await;
    assert!(!letters.to_string().contains("wamid."), "{letters}");
}

on_both!(no_stored_value_reveals_a_hidden_customers_phone,);
