//! Privacy requests (PRODUCT.md section 13): a full customer history — a phone thread, then the
//! same customer hiding the number, a photo, an agent's reply and note, a contact, CRM
//! deliveries — is exported whole, then erased; afterwards no table of the database and nothing
//! in the blob store holds any of the customer's identifiers, texts or media bytes. Runs on
//! SQLite with the file store and on PostgreSQL with S3.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{Backend, FAKE_TOKEN, FakeMedia, FakeProvider, Inbound, Store, error_code, spawn_on};
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
    app.ok(&t.token, contact, input).await;

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
        first_wamid,
        hidden_wamid.clone(),
    ];
    let exported = app.ok(&t.token, export, json!({ "c": hidden_thread })).await["exportCustomer"].clone();
    assert_eq!(exported["conversations"].as_array().unwrap().len(), 2, "both threads of the customer");
    let text = exported.to_string();
    for needle in needles.iter().filter(|n| !n.starts_with("wamid.")) {
        assert!(text.contains(needle.as_str()), "the export lacks {needle}");
    }
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
    for key in app.blobs.keys().await.unwrap() {
        assert_ne!(
            app.blobs.read_all(&key).await.unwrap().as_ref(),
            photo.as_slice(),
            "the photo's bytes are gone"
        );
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
