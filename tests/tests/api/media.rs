//! Media, replies and reactions (PRODUCT.md section 11), against a fake Cloud API that serves
//! and receives files and checks the bearer token: customers' files fetched into the blob store
//! and served (bearer or signed link, ranges), failures kept with their reason, uploads checked
//! against WhatsApp's limits and sent byte for byte, replies and reactions both ways. Every test
//! runs on SQLite with the file store and on PostgreSQL with S3.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    Backend, FAKE_TOKEN, FakeMedia, FakeProvider, Inbound, Store, Tenant, TestApp, error_code, fixtures,
    spawn_on,
};

struct Media {
    app: TestApp,
    fake: FakeProvider,
    t: Tenant,
}

async fn media_app(backend: Backend, store: Store) -> Option<Media> {
    let fake = FakeProvider::start().await;
    let url = fake.url.clone();
    let app = spawn_on(backend, store, move |config| {
        config.whatsapp.api_base = url;
        config.whatsapp.access_token = Some(FAKE_TOKEN.to_owned().into());
    })
    .await?;
    let t = app.tenant("Acme").await;
    Some(Media { app, fake, t })
}

/// Bytes that look like nothing in particular, different for each seed.
pub(crate) fn file_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 31 + usize::from(seed) * 7) % 251).unwrap()).collect()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// A webhook carrying one media message of `customer` (`kind` object as Meta sends it).
pub(crate) fn media_webhook(t: &Tenant, customer: &Inbound, kind: &str, object: Value) -> Value {
    let mut value = customer.value(&t.number.phone_number_id);
    let message = value["messages"][0].as_object_mut().unwrap();
    message.remove("text");
    message.insert("type".into(), json!(kind));
    message.insert(kind.into(), object);
    fixtures::webhook(&t.number.waba_id, "messages", value)
}

const MESSAGES: &str = "query($c: ID!) { conversation(id: $c) { messages(first: 50) { nodes { id kind text direction externalId \
    replyTo { id } reactions { emoji direction agent { id } } \
    attachments { id kind mimeType fileName sizeBytes sha256 caption status failureReason url } } } } }";

async fn messages(m: &Media, conversation: &str) -> Vec<Value> {
    let data = m.app.ok(&m.t.token, MESSAGES, json!({ "c": conversation })).await;
    data["conversation"]["messages"]["nodes"].as_array().unwrap().clone()
}

/// The only conversation of the tenant.
async fn only_conversation(m: &Media) -> String {
    let data = m.app.ok(&m.t.token, "{ conversations { nodes { id } } }", json!({})).await;
    data["conversations"]["nodes"][0]["id"].as_str().unwrap().to_owned()
}

/// Waits until every attachment of the conversation has left `PENDING`.
async fn settled_attachments(m: &Media, conversation: &str) -> Vec<Value> {
    for _ in 0..400 {
        let all: Vec<Value> = messages(m, conversation)
            .await
            .iter()
            .flat_map(|n| n["attachments"].as_array().unwrap().clone())
            .collect();
        if !all.is_empty() && all.iter().all(|a| a["status"] != "PENDING") {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("attachments stayed PENDING");
}

async fn get(m: &Media, path: &str, token: Option<&str>, range: Option<&str>) -> reqwest::Response {
    let url = if path.starts_with("http") { path.to_owned() } else { m.app.url(path) };
    let mut request = m.app.client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(range) = range {
        request = request.header("range", range);
    }
    request.send().await.unwrap()
}

async fn a_customers_photo_is_fetched_stored_and_served(backend: Backend, store: Store) {
    let Some(m) = media_app(backend, store).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let photo = file_bytes(300_000, 1);
    m.fake.host_media(
        "7001",
        FakeMedia { mime_type: "image/jpeg".into(), file_name: None, bytes: photo.clone(), sha256: None },
    );
    let customer = Inbound::hidden("US.1", "@sheena", "Sheena");
    let object = json!({ "id": "7001", "mime_type": "image/jpeg", "sha256": sha256_base64(&photo), "caption": "Receipt" });
    let (status, summary) = m.app.post_webhook(&media_webhook(&m.t, &customer, "image", object)).await;
    assert_eq!((status, summary["messages"].as_i64()), (200, Some(1)), "{summary}");
    let conversation = only_conversation(&m).await;
    let attachments = settled_attachments(&m, &conversation).await;
    let a = &attachments[0];
    assert_eq!(a["status"], "STORED", "{a}");
    assert_eq!((a["kind"].as_str(), a["mimeType"].as_str()), (Some("IMAGE"), Some("image/jpeg")));
    assert_eq!(a["sizeBytes"], 300_000);
    assert_eq!(a["sha256"], sha256_hex(&photo));
    assert_eq!(a["caption"], "Receipt");
    let message = &messages(&m, &conversation).await[0];
    assert_eq!(
        (message["kind"].as_str(), message["text"].as_str()),
        (Some("image"), Some("[image] Receipt"))
    );
    let fetched: Vec<String> =
        m.fake.requests().iter().filter(|r| r.method == "GET").map(|r| r.path.clone()).collect();
    assert_eq!(fetched, ["/7001", "/download/7001"], "the media id, then the download");
    assert!(
        m.fake
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .all(|r| r.authorization.as_deref() == Some("Bearer test-access-token"))
    );

    // The signed link works without a token, as an <img src> would use it.
    let link = a["url"].as_str().unwrap();
    let response = get(&m, link, None, None).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["content-length"], "300000");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-disposition"], "inline");
    assert_eq!(sha256_hex(&response.bytes().await.unwrap()), sha256_hex(&photo), "byte for byte");

    // A bearer token of the workspace works too; ranges are partial content.
    let id = a["id"].as_str().unwrap();
    let path = format!("/media/{id}");
    let whole = get(&m, &path, Some(&m.t.token), None).await;
    assert_eq!(whole.status(), 200);
    let part = get(&m, &path, Some(&m.t.token), Some("bytes=100-199")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 100-199/300000");
    assert_eq!(part.bytes().await.unwrap().to_vec(), photo[100..200].to_vec());
    assert_eq!(get(&m, &path, Some(&m.t.token), Some("bytes=400000-")).await.status(), 416);

    // Everything else is 404 alike (or 401 without any credential).
    let other = m.app.tenant("Other").await;
    assert_eq!(get(&m, &path, Some(&other.token), None).await.status(), 404, "another workspace");
    let unknown = format!("/media/{}", domain::AttachmentId::new());
    assert_eq!(get(&m, &unknown, Some(&m.t.token), None).await.status(), 404);
    assert_eq!(get(&m, &path, None, None).await.status(), 401);
    let tampered = link.replace("sig=", "sig=A");
    assert_eq!(get(&m, &tampered, None, None).await.status(), 404);
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let expired = api::links::media_path(&m.app.keyring, id.parse().unwrap(), past);
    assert_eq!(get(&m, &expired, None, None).await.status(), 404);
    let forged = link.replace(id, &domain::AttachmentId::new().to_string());
    assert_eq!(get(&m, &forged, None, None).await.status(), 404, "a signature is for one attachment");

    let events = m
        .app
        .ok(&m.t.token, r#"{ events(types: ["attachment.stored"]) { nodes { payload } } }"#, json!({}))
        .await;
    let stored = &events["events"]["nodes"][0]["payload"]["data"];
    assert_eq!(
        (stored["attachmentId"].as_str(), stored["sha256"].as_str()),
        (Some(id), a["sha256"].as_str())
    );
}

async fn a_fetch_that_fails_ends_failed_with_its_reason_and_keeps_the_message(
    backend: Backend,
    store: Store,
) {
    let Some(m) = media_app(backend, store).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let voice = file_bytes(40_000, 2);
    m.fake.host_media(
        "8002",
        FakeMedia {
            mime_type: "audio/ogg".into(),
            file_name: None,
            bytes: voice,
            sha256: Some(sha256_base64(b"something else")),
        },
    );
    let customer = Inbound::hidden("US.2", "@ana", "Ana");
    let gone = json!({ "id": "404404", "mime_type": "application/pdf", "filename": "receipt.pdf" });
    m.app.post_webhook(&media_webhook(&m.t, &customer, "document", gone)).await;
    let mismatched = json!({ "id": "8002", "mime_type": "audio/ogg; codecs=opus", "voice": true });
    m.app.post_webhook(&media_webhook(&m.t, &customer.clone().fresh_id(), "audio", mismatched)).await;
    let conversation = only_conversation(&m).await;
    let attachments = settled_attachments(&m, &conversation).await;
    assert_eq!(attachments.len(), 2, "both messages stay, with their attachments");
    let by_kind = |kind: &str| attachments.iter().find(|a| a["kind"] == kind).unwrap().clone();
    let document = by_kind("DOCUMENT");
    assert_eq!(document["status"], "FAILED");
    assert!(document["failureReason"].as_str().unwrap().contains("404"), "{document}");
    assert_eq!(document["fileName"], "receipt.pdf");
    assert_eq!(document["url"], Value::Null);
    let voice = by_kind("VOICE");
    assert_eq!(voice["status"], "FAILED");
    assert!(voice["failureReason"].as_str().unwrap().contains("SHA-256"), "{voice}");
    assert_eq!(messages(&m, &conversation).await.len(), 2);
    assert!(m.app.blobs.keys().await.unwrap().is_empty(), "the mismatched file is not kept");
}

/// A multipart body with one `file` part.
fn form(bytes: Vec<u8>, mime: &str, name: &str) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()).mime_str(mime).unwrap();
    reqwest::multipart::Form::new().part("file", part)
}

async fn upload(m: &Media, token: &str, form: reqwest::multipart::Form) -> (u16, Value) {
    let response =
        m.app.client.post(m.app.url("/media")).bearer_auth(token).multipart(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const SEND_MEDIA: &str = "mutation($c: ID!, $a: ID!, $cap: String, $r: ID) { sendMedia(conversationId: $c, attachmentId: $a, caption: $cap, replyToMessageId: $r) { id status kind } }";

async fn an_upload_is_checked_and_sent_byte_for_byte(backend: Backend, store: Store) {
    let Some(m) = media_app(backend, store).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let conversation = m
        .app
        .receive(&m.t, &Inbound::hidden("US.13491208655302741918", "@sheena", "Sheena"))
        .await
        .to_string();
    let png = file_bytes(120_000, 3);
    let (_, agent) = m.app.agent(&m.t, "AGENT").await;
    let (status, created) = upload(&m, &agent, form(png.clone(), "image/png", "receipt.png")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["kind"].as_str(), created["mimeType"].as_str()), (Some("IMAGE"), Some("image/png")));
    assert_eq!(
        (created["sizeBytes"].as_i64(), created["sha256"].as_str()),
        (Some(120_000), Some(sha256_hex(&png).as_str()))
    );
    let uploaded = created["id"].as_str().unwrap().to_owned();

    // Refused uploads keep nothing.
    let (rows, keys) = (m.app.count("attachments").await, m.app.blobs.keys().await.unwrap().len());
    let (status, body) = upload(&m, &agent, form(vec![1; 100], "image/gif", "a.gif")).await;
    assert_eq!(status, 415, "{body}");
    assert!(body["error"].as_str().unwrap().contains("image/gif"), "{body}");
    let (status, body) = upload(&m, &agent, form(vec![1; 5 * 1024 * 1024 + 1], "image/png", "big.png")).await;
    assert_eq!((status, body["limit"].as_u64()), (413, Some(5 * 1024 * 1024)), "{body}");
    assert!(body["error"].as_str().unwrap().contains("5242880"), "{body}");
    let truncated = b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nonly the start of".to_vec();
    let response = m
        .app
        .client
        .post(m.app.url("/media"))
        .bearer_auth(&agent)
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body(truncated)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let (_, integration) = m.app.agent(&m.t, "INTEGRATION").await;
    assert_eq!(upload(&m, &integration, form(png.clone(), "image/png", "r.png")).await.0, 403);
    assert_eq!(m.app.count("attachments").await, rows);
    assert_eq!(m.app.blobs.keys().await.unwrap().len(), keys);

    // Another workspace's upload is not found; sending one's own goes through the worker.
    let other = m.app.tenant("Other").await;
    let vars = json!({ "c": conversation, "a": uploaded, "cap": "Your receipt" });
    assert_eq!(error_code(&m.app.graphql(Some(&other.token), SEND_MEDIA, vars.clone()).await), "NOT_FOUND");
    let sent = m.app.ok(&agent, SEND_MEDIA, vars).await;
    assert_eq!(
        (sent["sendMedia"]["status"].as_str(), sent["sendMedia"]["kind"].as_str()),
        (Some("PENDING"), Some("image"))
    );
    let mut bodies = Vec::new();
    for _ in 0..200 {
        bodies = m.fake.sent_messages();
        if !bodies.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let uploads = m.fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(sha256_hex(&uploads[0].bytes), sha256_hex(&png), "Meta got the bytes as uploaded");
    assert_eq!(
        (uploads[0].mime_type.as_str(), uploads[0].file_name.as_deref()),
        ("image/png", Some("receipt.png"))
    );
    assert_eq!(
        bodies[0],
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "recipient": "US.13491208655302741918",
                "type": "image", "image": { "id": "UPLOADED1", "caption": "Your receipt" } })
    );
    let listed = messages(&m, &conversation).await;
    let media = listed.iter().find(|n| n["kind"] == "image").unwrap();
    assert_eq!(media["attachments"][0]["status"], "STORED");
    assert_eq!(media["attachments"][0]["caption"], "Your receipt");
    assert!(media["attachments"][0]["url"].is_string());

    // Closed window: the media capability says no, and nothing is stored.
    let late = m
        .app
        .receive(&m.t, &Inbound::with_phone("16505551234", "US.77", "Late").ago(chrono::Duration::hours(30)))
        .await;
    let body = m.app.graphql(Some(&agent), SEND_MEDIA, json!({ "c": late.to_string(), "a": uploaded })).await;
    assert_eq!(error_code(&body), "CAPABILITY_DENIED");
    assert_eq!(body["errors"][0]["extensions"]["capability"], "media");
}

async fn replies_and_reactions_go_both_ways(backend: Backend, store: Store) {
    let Some(m) = media_app(backend, store).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let customer = Inbound::hidden("US.13491208655302741918", "@sheena", "Sheena");
    let customer_wamid = customer.wamid.clone();
    let conversation = m.app.receive(&m.t, &customer).await.to_string();
    let first = messages(&m, &conversation).await[0]["id"].as_str().unwrap().to_owned();
    let send = "mutation($c: ID!, $t: String!, $r: ID) { sendMessage(conversationId: $c, text: $t, replyToMessageId: $r) { id } }";
    let ours = m.app.ok(&m.t.token, send, json!({ "c": conversation, "t": "Hello", "r": first })).await["sendMessage"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bodies = Vec::new();
    for _ in 0..200 {
        bodies = m.fake.sent_messages();
        if !bodies.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        bodies[0]["context"],
        json!({ "message_id": customer_wamid }),
        "the raw id, opened from its sealed copy"
    );
    // The fake answers the n-th request with `wamid.FAKE{n}`; wait until Parley recorded it.
    let n = m.fake.requests().iter().position(|r| r.path.ends_with("/messages")).unwrap() + 1;
    for _ in 0..200 {
        if by_id_now(&m, &conversation, &ours).await["externalId"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let our_wamid = format!("wamid.FAKE{n}");

    // The customer replies to our message, then reacts to it, then takes the reaction back.
    let value = |message: Value| {
        let mut value = customer.value(&m.t.number.phone_number_id);
        value["messages"][0] = message;
        fixtures::webhook(&m.t.number.waba_id, "messages", value)
    };
    let now = chrono::Utc::now().timestamp().to_string();
    let reply = json!({ "from_user_id": "US.13491208655302741918", "id": "wamid.REPLY1", "timestamp": now, "type": "text",
                        "text": { "body": "Thanks" }, "context": { "from": fixtures::DISPLAY_PHONE_NUMBER, "id": our_wamid } });
    m.app.post_webhook(&value(reply)).await;
    let reaction = |id: &str, emoji: Option<&str>| {
        let mut r = json!({ "message_id": our_wamid });
        if let Some(e) = emoji {
            r["emoji"] = json!(e);
        }
        json!({ "from_user_id": "US.13491208655302741918", "id": id, "timestamp": now, "type": "reaction", "reaction": r })
    };
    let (_, summary) = m.app.post_webhook(&value(reaction("wamid.REACT1", Some("👍")))).await;
    assert_eq!(
        (summary["reactions"].as_i64(), summary["messages"].as_i64()),
        (Some(1), Some(0)),
        "{summary}"
    );
    let listed = messages(&m, &conversation).await;
    assert_eq!(listed.len(), 3, "a reaction is not a message");
    let by_id = |id: &str| listed.iter().find(|n| n["id"] == id).unwrap().clone();
    let thanks = listed.iter().find(|n| n["text"] == "Thanks").unwrap();
    assert_eq!(thanks["replyTo"]["id"], ours.as_str());
    assert_eq!(by_id(&ours)["reactions"], json!([{ "emoji": "👍", "direction": "INBOUND", "agent": null }]));
    assert_eq!(by_id(&ours)["replyTo"]["id"], first.as_str());
    m.app.post_webhook(&value(reaction("wamid.REACT2", None))).await;
    assert_eq!(by_id_now(&m, &conversation, &ours).await["reactions"], json!([]), "no emoji: removed");

    // An agent reacts to the customer's message: Meta gets the raw id; the API never shows it.
    let react = "mutation($m: ID!, $e: String!) { reactToMessage(messageId: $m, emoji: $e) { id } }";
    assert_eq!(
        error_code(&m.app.graphql(Some(&m.t.token), react, json!({ "m": first, "e": "abc" })).await),
        "BAD_USER_INPUT"
    );
    m.app.ok(&m.t.token, react, json!({ "m": first, "e": "❤️" })).await;
    let mut reacted = None;
    for _ in 0..200 {
        reacted = m.fake.sent_messages().into_iter().find(|b| b["type"] == "reaction");
        if reacted.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let reacted = reacted.expect("the reaction was sent");
    assert_eq!(reacted["reaction"], json!({ "message_id": customer_wamid, "emoji": "❤️" }));
    assert_eq!(reacted["recipient"], "US.13491208655302741918");
    let mine = by_id_now(&m, &conversation, &first).await;
    assert_eq!(mine["reactions"][0]["emoji"], "❤️");
    assert_eq!(
        (mine["reactions"][0]["direction"].as_str(), mine["reactions"][0]["agent"]["id"].as_str()),
        (Some("OUTBOUND"), Some(m.t.admin.to_string().as_str()))
    );
    assert!(mine["externalId"].as_str().unwrap().starts_with("sha256:"));
    let everything = m
        .app
        .ok(&m.t.token, "{ events(first: 100) { nodes { type payload } } }", json!({}))
        .await
        .to_string();
    assert!(everything.contains("message.reaction"));
    assert!(!everything.contains(&customer_wamid), "no event carries a hidden customer's raw id");
    assert!(!messages(&m, &conversation).await.iter().any(|n| n.to_string().contains(&customer_wamid)));
}

async fn by_id_now(m: &Media, conversation: &str, id: &str) -> Value {
    messages(m, conversation).await.into_iter().find(|n| n["id"] == id).unwrap()
}

/// A workspace holds at most `PARLEY_MEDIA_QUOTA` bytes of uploads not sent yet (`413` naming
/// it beyond; sending one frees its room), and an upload never sent is deleted, row and bytes,
/// after its time (24 hours; here 2 s), while one that was sent stays.
async fn uploads_are_bounded_by_a_quota_and_expire_when_never_sent(backend: Backend, store: Store) {
    let fake = FakeProvider::start().await;
    let url = fake.url.clone();
    let Some(app) = spawn_on(backend, store, move |config| {
        config.whatsapp.api_base = url;
        config.whatsapp.access_token = Some(FAKE_TOKEN.to_owned().into());
        config.media.quota = 10_000;
        config.media.upload_ttl = Duration::from_secs(2);
    })
    .await
    else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let m = Media { t: app.tenant("Acme").await, app, fake };
    let conversation = m.app.receive(&m.t, &Inbound::hidden("US.1", "@sheena", "Sheena")).await.to_string();
    let (status, first) = upload(&m, &m.t.token, form(file_bytes(6_000, 1), "image/png", "a.png")).await;
    assert_eq!(status, 201, "{first}");
    let (status, refused) = upload(&m, &m.t.token, form(file_bytes(6_000, 2), "image/png", "b.png")).await;
    assert_eq!(status, 413, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("PARLEY_MEDIA_QUOTA"), "{refused}");
    assert_eq!(m.app.count("attachments").await, 1, "the refused upload keeps nothing");
    let other = m.app.tenant("Other").await;
    let (status, _) = upload(&m, &other.token, form(file_bytes(6_000, 3), "image/png", "c.png")).await;
    assert_eq!(status, 201, "another workspace has its own quota");
    let sent = json!({ "c": conversation, "a": first["id"], "cap": null, "r": null });
    m.app.ok(&m.t.token, SEND_MEDIA, sent).await;
    let (status, second) = upload(&m, &m.t.token, form(file_bytes(6_000, 4), "image/png", "d.png")).await;
    assert_eq!(status, 201, "a sent upload frees its room: {second}");

    // Never sent: gone after its time, row and bytes; the sent one stays.
    let mut expired = false;
    for _ in 0..100 {
        let rows = m.app.count("attachments").await;
        let keys = m.app.blobs.keys().await.unwrap().len();
        // Left: the sent upload and its copy on the message (one blob).
        if rows == 2 && keys == 1 {
            expired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(expired, "unsent uploads expire: {} rows", m.app.count("attachments").await);
    let query =
        "query($c: ID!) { conversation(id: $c) { messages(first: 5) { nodes { attachments { status } } } } }";
    let data = m.app.ok(&m.t.token, query, json!({ "c": conversation })).await.to_string();
    assert!(data.contains("STORED"), "{data}");
}

/// A 20 MB document on a slow link (about 17 s, longer than the old 15 s total limit) is
/// fetched whole: transfers have connect and idle-read timeouts, not a total one.
async fn a_large_file_on_a_slow_link_is_fetched_whole(backend: Backend, store: Store) {
    let Some(m) = media_app(backend, store).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let document = file_bytes(20 * 1024 * 1024, 7);
    let media = FakeMedia {
        mime_type: "application/pdf".into(),
        file_name: None,
        bytes: document.clone(),
        sha256: None,
    };
    m.fake.host_media("7020", media);
    m.fake.pace_media("7020", Duration::from_millis(53));
    let customer = Inbound::hidden("US.1", "@sheena", "Sheena");
    let object = json!({ "id": "7020", "mime_type": "application/pdf", "sha256": sha256_base64(&document), "filename": "catalogue.pdf" });
    let started = std::time::Instant::now();
    assert_eq!(m.app.post_webhook(&media_webhook(&m.t, &customer, "document", object)).await.0, 200);
    let conversation = only_conversation(&m).await;
    let mut stored = None;
    for _ in 0..600 {
        let attachments = messages(&m, &conversation).await[0]["attachments"].clone();
        if attachments[0]["status"] != "PENDING" {
            stored = Some(attachments[0].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let a = stored.expect("the fetch ended");
    assert_eq!(a["status"], "STORED", "{a}");
    assert_eq!(a["sizeBytes"], 20 * 1024 * 1024);
    assert!(started.elapsed() > Duration::from_secs(15), "the link was slow: {:?}", started.elapsed());
}

on_both_stores!(
    a_large_file_on_a_slow_link_is_fetched_whole,
    uploads_are_bounded_by_a_quota_and_expire_when_never_sent,
    a_customers_photo_is_fetched_stored_and_served,
    a_fetch_that_fails_ends_failed_with_its_reason_and_keeps_the_message,
    an_upload_is_checked_and_sent_byte_for_byte,
    replies_and_reactions_go_both_ways,
);

/// PostgreSQL only: two server processes fetch media from one queue; each file is fetched by
/// one of them, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_fetch_each_file_once() {
    if crate::helpers::fresh_store(Store::S3).is_none() {
        return crate::helpers::s3_skipped(module_path!());
    }
    let Some(m) = media_app(Backend::Postgres, Store::S3).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let url = m.fake.url.clone();
    let _peer = crate::helpers::spawn_peer(&m.app, move |config| {
        config.whatsapp.api_base = url;
        config.whatsapp.access_token = Some(FAKE_TOKEN.to_owned().into());
    })
    .await;
    let photo = file_bytes(20_000, 4);
    for i in 0..20 {
        m.fake.host_media(
            &format!("90{i}"),
            FakeMedia { mime_type: "image/png".into(), file_name: None, bytes: photo.clone(), sha256: None },
        );
        let customer = Inbound::hidden(&format!("US.5{i}"), &format!("@p{i}"), "P");
        m.app
            .post_webhook(&media_webhook(
                &m.t,
                &customer,
                "image",
                json!({ "id": format!("90{i}"), "mime_type": "image/png" }),
            ))
            .await;
    }
    for _ in 0..400 {
        let stored: i64 = crate::helpers::value(
            m.app.db.conn(),
            "SELECT COUNT(*) AS v FROM attachments WHERE status = 'STORED'",
        )
        .await;
        if stored == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let downloads: Vec<String> = m
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/download/"))
        .map(|r| r.path.clone())
        .collect();
    let mut unique = downloads.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((downloads.len(), unique.len()), (20, 20), "each file fetched once: {downloads:?}");
}
