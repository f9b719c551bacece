//! Two-way SMS (PRODUCT.md section 12): `POST /webhooks/sms` with Twilio's form posts and
//! `X-Twilio-Signature`, threading, duplicates, STOP/START, status callbacks, and the bad input
//! that stores nothing. The tests sign with their own HMAC-SHA1 (the server's signer is checked
//! against Twilio's published example in its unit tests).

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::helpers::{Backend, Inbound, error_code};
use crate::lifecycle::{Life, PUBLIC_URL, connect_sms_with, conversation, events, eventually, life};

const SMS_NUMBER: &str = "+15557771000";
const SID: &str = "AC11111111111111111111111111111111";
const AUTH_TOKEN: &str = "sms-auth-token-of-the-number";
const CUSTOMER: &str = "+14155550110";

/// Twilio's algorithm, written out here independently of the server's.
fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn form(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}

/// Posts a form to `/webhooks/sms` with the given signature header (none: unsigned).
async fn post(l: &Life, params: &[(&str, &str)], signature: Option<String>) -> (u16, String) {
    let mut request = l
        .app
        .client
        .post(l.app.url("/webhooks/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(params));
    if let Some(signature) = signature {
        request = request.header("x-twilio-signature", signature);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Posts a form signed as Twilio signs it for `PARLEY_PUBLIC_URL`.
async fn post_signed(l: &Life, params: &[(&str, &str)]) -> (u16, String) {
    let signature = twilio_signature(AUTH_TOKEN, &format!("{PUBLIC_URL}/webhooks/sms"), params);
    post(l, params, Some(signature)).await
}

fn inbound<'a>(sid: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", SID),
        ("ApiVersion", "2010-04-01"),
        ("MessageSid", sid),
        ("SmsMessageSid", sid),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("From", CUSTOMER),
        ("To", SMS_NUMBER),
        ("Body", body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("FromCountry", "US"),
    ]
}

async fn sms_life(backend: Backend) -> Option<(Life, String)> {
    let l = life(backend, |_| {}).await?;
    l.fake.accept_sms_account(SID, AUTH_TOKEN);
    let number = connect_sms_with(&l, SMS_NUMBER, SID, AUTH_TOKEN).await;
    Some((l, number))
}

async fn only_conversation(l: &Life) -> Vec<Value> {
    let data = l
        .app
        .ok(&l.t.token, "{ conversations { nodes { id channel origin businessNumber { id } } } }", json!({}))
        .await;
    data["conversations"]["nodes"].as_array().unwrap().clone()
}

async fn customers_text_in_agents_reply_by_sms_and_statuses_move_forward(backend: Backend) {
    let Some((l, number)) = sms_life(backend).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let (status, body) =
        post_signed(&l, &inbound("SM00000000000000000000000000000001", "Hi, is my order ready?")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Response></Response>"), "an empty TwiML answer: {body}");
    let list = only_conversation(&l).await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0]["channel"].as_str(), list[0]["origin"].as_str()),
        (Some("SMS"), Some("FIRST_CONTACT"))
    );
    assert_eq!(list[0]["businessNumber"]["id"], json!(number));
    let id = list[0]["id"].as_str().unwrap().to_owned();
    // The same MessageSid again changes nothing; the next message joins the conversation.
    let (status, _) =
        post_signed(&l, &inbound("SM00000000000000000000000000000001", "Hi, is my order ready?")).await;
    assert_eq!(status, 200);
    post_signed(&l, &inbound("SM00000000000000000000000000000002", "Hello?")).await;
    let c = conversation(&l, &l.t.token, &id).await;
    let texts: Vec<&str> =
        c["messages"]["nodes"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["Hello?", "Hi, is my order ready?"]);
    assert_eq!(c["customer"]["phoneNumber"], CUSTOMER);
    assert_eq!(c["unreadCount"], 2);
    assert_eq!(only_conversation(&l).await.len(), 1);
    let received = events(&l, &["message.received", "conversation.created"]).await;
    let types: Vec<&str> = received.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, ["conversation.created", "message.received", "message.received"]);
    assert_eq!(received[1]["payload"]["data"]["channel"], "SMS");

    // The reply goes out by SMS from the number, with its own account.
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Yes, it ships today.\") { id } }";
    let message = l.app.ok(&l.t.token, send, json!({ "c": id })).await["sendMessage"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = eventually("the SMS reply", || async { l.fake.sent_sms().into_iter().next() }).await;
    let field = |name: &str| sent.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str().to_owned());
    assert_eq!((field("To").as_deref(), field("From").as_deref()), (Some(CUSTOMER), Some(SMS_NUMBER)));
    let request = l.fake.requests().into_iter().find(|r| r.path.ends_with("/Messages.json")).unwrap();
    assert_eq!(request.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    eventually("SENT", || async { (status_of(&l, &id, &message).await == "SENT").then_some(()) }).await;
    let provider_sid = l
        .app
        .ok(
            &l.t.token,
            "query($c: ID!) { conversation(id: $c) { messages(first: 1) { nodes { externalId } } } }",
            json!({ "c": id }),
        )
        .await["conversation"]["messages"]["nodes"][0]["externalId"]
        .as_str()
        .unwrap()
        .to_owned();
    let callback = |status: &'static str| {
        vec![
            ("AccountSid", SID),
            ("From", SMS_NUMBER),
            ("To", CUSTOMER),
            ("MessageSid", provider_sid.as_str()),
            ("SmsSid", provider_sid.as_str()),
            ("MessageStatus", status),
            ("SmsStatus", status),
        ]
    };
    assert_eq!(post_signed(&l, &callback("delivered")).await.0, 200);
    assert_eq!(status_of(&l, &id, &message).await, "DELIVERED");
    // A late `sent` does not move it back.
    assert_eq!(post_signed(&l, &callback("sent")).await.0, 200);
    assert_eq!(status_of(&l, &id, &message).await, "DELIVERED");
    let updates = events(&l, &["message.status_updated"]).await;
    let statuses: Vec<&str> =
        updates.iter().filter_map(|e| e["payload"]["data"]["status"].as_str()).collect();
    assert_eq!(statuses, ["SENT", "DELIVERED"]);
    // An undelivered SMS fails with the provider's code.
    post_signed(&l, &callback("undelivered").into_iter().chain([("ErrorCode", "30003")]).collect::<Vec<_>>())
        .await;
    let failed = l
        .app
        .ok(
            &l.t.token,
            "query($c: ID!) { conversation(id: $c) { messages(first: 1) { nodes { status errorCode } } } }",
            json!({ "c": id }),
        )
        .await;
    assert_eq!(
        failed["conversation"]["messages"]["nodes"][0],
        json!({ "status": "FAILED", "errorCode": 30003 })
    );
}

/// The status of one message of a conversation.
async fn status_of(l: &Life, conversation_id: &str, message: &str) -> String {
    let c = conversation(l, &l.t.token, conversation_id).await;
    let found =
        c["messages"]["nodes"].as_array().unwrap().iter().find(|m| m["id"] == json!(message)).cloned();
    found.unwrap()["status"].as_str().unwrap().to_owned()
}

async fn bad_sms_posts_store_nothing(backend: Backend) {
    let Some((l, _)) = sms_life(backend).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let params = inbound("SM00000000000000000000000000000009", "Hi");
    let before =
        (l.app.count("messages").await, l.app.count("conversations").await, l.app.count("events").await);
    // No signature, a wrong one, one for another URL (the Host, not PARLEY_PUBLIC_URL), one
    // with another token.
    assert_eq!(post(&l, &params, None).await.0, 403);
    assert_eq!(post(&l, &params, Some("bm90IHRoZSBzaWduYXR1cmU=".into())).await.0, 403);
    let wrong_url = twilio_signature(AUTH_TOKEN, &l.app.url("/webhooks/sms"), &params);
    assert_eq!(post(&l, &params, Some(wrong_url)).await.0, 403);
    let wrong_token = twilio_signature("another-token", &format!("{PUBLIC_URL}/webhooks/sms"), &params);
    assert_eq!(post(&l, &params, Some(wrong_token)).await.0, 403);
    // A field changed after signing.
    let signed = twilio_signature(AUTH_TOKEN, &format!("{PUBLIC_URL}/webhooks/sms"), &params);
    let mut tampered = params.clone();
    tampered[8] = ("Body", "Hi!");
    assert_eq!(post(&l, &tampered, Some(signed)).await.0, 403);
    // Not a form.
    let response = l
        .app
        .client
        .post(l.app.url("/webhooks/sms"))
        .header("content-type", "application/json")
        .header("x-twilio-signature", "x")
        .body(json!({ "MessageSid": "SM1", "From": CUSTOMER, "To": SMS_NUMBER }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let (status, _) = post_signed(&l, &[("From", CUSTOMER), ("To", SMS_NUMBER), ("Body", "no sid")]).await;
    assert_eq!(status, 400);
    let after =
        (l.app.count("messages").await, l.app.count("conversations").await, l.app.count("events").await);
    assert_eq!(before, after, "nothing stored");
    assert_eq!(l.app.count("dead_letters").await, 0);

    // An unknown `To`: nobody's auth token can verify it, so it is anyone's post: 404, and a
    // flood of them writes nothing (no dead letter, no commit, no write lock), only a counter.
    let mut unknown = params.clone();
    unknown[7] = ("To", "+15550009999");
    let signature = twilio_signature(AUTH_TOKEN, &format!("{PUBLIC_URL}/webhooks/sms"), &unknown);
    let commits = l.app.db.commit_count();
    for _ in 0..50 {
        assert_eq!(post(&l, &unknown, Some(signature.clone())).await.0, 404);
    }
    assert_eq!(l.app.db.commit_count(), commits, "nothing was written for an unverified caller");
    assert_eq!(l.app.count("dead_letters").await, 0);
    let metrics = l.app.client.get(l.app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("parley_unverified_requests_total{channel=\"sms\",reason=\"unknown_number\"}"),
        "{metrics}"
    );
    let after =
        (l.app.count("messages").await, l.app.count("conversations").await, l.app.count("events").await);
    assert_eq!(before, after, "nothing else stored");
}

async fn stop_opts_the_customer_out_and_start_back_in(backend: Backend) {
    let Some((l, number)) = sms_life(backend).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    post_signed(&l, &inbound("SM00000000000000000000000000000011", "Hello")).await;
    let id = only_conversation(&l).await[0]["id"].as_str().unwrap().to_owned();
    post_signed(&l, &inbound("SM00000000000000000000000000000012", " stop ")).await;
    let c = conversation(&l, &l.t.token, &id).await;
    assert_eq!(c["customer"]["smsOptedOut"], true);
    let reason = "The customer has opted out of SMS (replied STOP).";
    assert_eq!(c["capabilities"]["reply"], json!({ "allowed": false, "reason": reason }));
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hi\") { id } }";
    let body = l.app.graphql(Some(&l.t.token), send, json!({ "c": id })).await;
    assert_eq!(error_code(&body), "CAPABILITY_DENIED", "{body}");
    assert_eq!(body["errors"][0]["message"].as_str().map(|m| m.contains(reason)), Some(true), "{body}");
    let start = "mutation($i: StartConversationInput!) { startConversation(input: $i) { id } }";
    let input = json!({ "i": { "businessNumberId": number, "phoneNumber": CUSTOMER, "text": "Hi" } });
    let body = l.app.graphql(Some(&l.t.token), start, input.clone()).await;
    assert_eq!(error_code(&body), "CAPABILITY_DENIED", "{body}");
    // The STOP itself is kept as a message of the thread.
    assert_eq!(conversation(&l, &l.t.token, &id).await["messages"]["nodes"].as_array().unwrap().len(), 2);

    post_signed(&l, &inbound("SM00000000000000000000000000000013", "START")).await;
    let c = conversation(&l, &l.t.token, &id).await;
    assert_eq!(c["customer"]["smsOptedOut"], false);
    assert_eq!(c["capabilities"]["reply"]["allowed"], true);
    l.app.ok(&l.t.token, send, json!({ "c": id })).await;
    // Each flip of the reply is an event, with the capabilities before and after.
    let changes = events(&l, &["conversation.capabilities_changed"]).await;
    let causes: Vec<&str> = changes.iter().map(|e| e["payload"]["data"]["cause"].as_str().unwrap()).collect();
    assert_eq!(causes, ["opted_out", "opted_in"], "{changes:?}");
    let out = &changes[0]["payload"]["data"];
    assert_eq!(
        (out["before"]["reply"]["allowed"].as_bool(), out["after"]["reply"]["allowed"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(out["after"]["reply"]["reasonCode"], "OPTED_OUT");
    assert_eq!(changes[0]["conversationId"], id.as_str());

    // The provider's Advanced Opt-Out type wins over the words.
    let mut advanced = inbound("SM00000000000000000000000000000014", "arrêtez");
    advanced.push(("OptOutType", "STOP"));
    advanced.push(("FutureTwilioField", "must-be-signed-too"));
    assert_eq!(post_signed(&l, &advanced).await.0, 200);
    assert_eq!(conversation(&l, &l.t.token, &id).await["customer"]["smsOptedOut"], true);
    // "STOP please" is not a keyword.
    post_signed(&l, &inbound("SM00000000000000000000000000000015", "START")).await;
    post_signed(&l, &inbound("SM00000000000000000000000000000016", "STOP please")).await;
    assert_eq!(conversation(&l, &l.t.token, &id).await["customer"]["smsOptedOut"], false);
}

async fn after_a_switch_to_sms_the_customers_texts_join_the_whatsapp_conversation(backend: Backend) {
    let Some((l, _)) = sms_life(backend).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let customer = Inbound::with_phone(CUSTOMER.trim_start_matches('+'), "US.40", "Jo");
    let c = l.app.receive(&l.t, &customer).await.to_string();
    let switch = "mutation($c: ID!) { switchChannel(conversationId: $c, channel: SMS) { channel } }";
    l.app.ok(&l.t.token, switch, json!({ "c": c })).await;
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Texting you instead.\") { id } }";
    l.app.ok(&l.t.token, send, json!({ "c": c })).await;
    let sent = eventually("the SMS", || async { l.fake.sent_sms().into_iter().next() }).await;
    let from = sent.iter().find(|(k, _)| k == "From").map(|(_, v)| v.clone());
    assert_eq!(from.as_deref(), Some(SMS_NUMBER), "the workspace's SMS number texts for it");
    let (status, _) = post_signed(&l, &inbound("SM00000000000000000000000000000021", "Got it, thanks")).await;
    assert_eq!(status, 200);
    let list = only_conversation(&l).await;
    assert_eq!(list.len(), 1, "no new conversation: {list:?}");
    let now = conversation(&l, &l.t.token, &c).await;
    let last = &now["messages"]["nodes"][0];
    assert_eq!((last["text"].as_str(), last["channel"].as_str()), (Some("Got it, thanks"), Some("SMS")));
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// An SMS number with its own account says so (`hasOwnCredentials`, and the older
/// `hasOwnAccessToken`), and customers' texts are counted in `parley_inbound_messages_total`
/// with `channel="sms"` beside WhatsApp's.
async fn an_sms_number_reports_its_credentials_and_its_texts_are_counted(backend: Backend) {
    let Some((l, _)) = sms_life(backend).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let numbers = l
        .app
        .ok(&l.t.token, "{ businessNumbers { channel hasOwnCredentials hasOwnAccessToken } }", json!({}))
        .await;
    let sms = numbers["businessNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["channel"] == "SMS")
        .unwrap()
        .clone();
    assert_eq!(
        (sms["hasOwnCredentials"].as_bool(), sms["hasOwnAccessToken"].as_bool()),
        (Some(true), Some(true)),
        "{numbers}"
    );

    assert_eq!(post_signed(&l, &inbound("SM0000000000000000000000000000c001", "Hola")).await.0, 200);
    assert_eq!(post_signed(&l, &inbound("SM0000000000000000000000000000c001", "Hola")).await.0, 200);
    l.app.deliver(&l.t, &[&Inbound::hidden("US.77", "@counted", "Counted")]).await;
    let metrics = l.app.client.get(l.app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        "parley_inbound_messages_total{channel=\"sms\",outcome=\"stored\"}",
        "parley_inbound_messages_total{channel=\"sms\",outcome=\"duplicate\"}",
        "parley_inbound_messages_total{channel=\"whatsapp\",outcome=\"stored\"}",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }

    // A customer's text is unread like a WhatsApp message, until read, and again after a new one.
    let counts = "{ inboxCounts { open unread } }";
    let unread = |data: Value| data["inboxCounts"].clone();
    assert_eq!(unread(l.app.ok(&l.t.token, counts, json!({})).await), json!({ "open": 2, "unread": 2 }));
    let sms = only_conversation(&l).await;
    let id = sms.iter().find(|c| c["channel"] == "SMS").unwrap()["id"].clone();
    let read = "mutation($c: ID!) { markConversationRead(conversationId: $c) { unreadCount } }";
    l.app.ok(&l.t.token, read, json!({ "c": id })).await;
    assert_eq!(unread(l.app.ok(&l.t.token, counts, json!({})).await), json!({ "open": 2, "unread": 1 }));
    assert_eq!(post_signed(&l, &inbound("SM0000000000000000000000000000c002", "¿Hola?")).await.0, 200);
    assert_eq!(unread(l.app.ok(&l.t.token, counts, json!({})).await), json!({ "open": 2, "unread": 2 }));
}

/// How many away replies the conversation holds (outbound, no author, `kind: "away"`).
async fn away_replies(l: &Life, id: &str) -> usize {
    let query =
        "query($c: ID!) { conversation(id: $c) { messages(first: 20) { nodes { kind author { id } } } } }";
    let data = l.app.ok(&l.t.token, query, json!({ "c": id })).await;
    let nodes = data["conversation"]["messages"]["nodes"].as_array().unwrap().clone();
    nodes.iter().filter(|m| m["kind"] == "away" && m["author"].is_null()).count()
}

/// Outside business hours the away reply goes by SMS too, once per closed period, and never to
/// a customer who opted out.
async fn the_away_reply_goes_by_sms_but_never_to_an_opted_out_customer(backend: Backend) {
    let Some((l, _)) = sms_life(backend).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    // Closed: every weekday has hours, but yesterday, today and tomorrow are closed dates.
    let today = chrono::Utc::now().date_naive();
    let closed: Vec<String> =
        [-1i64, 0, 1].iter().map(|d| (today + chrono::Duration::days(*d)).to_string()).collect();
    let hours = json!({ "i": {
        "timeZone": "America/New_York",
        "weekly": [{ "day": "MONDAY", "opens": "09:00", "closes": "17:00" }],
        "closedDates": closed,
        "awayMessage": "We are closed; we answer Monday at 9:00.",
    } });
    let set = "mutation($i: BusinessHoursInput) { updateBusinessHours(input: $i) { timeZone } }";
    l.app.ok(&l.t.token, set, hours).await;
    // The customer's first text is STOP: opted out, no away reply.
    post_signed(&l, &inbound("SM00000000000000000000000000000031", "STOP")).await;
    let id = only_conversation(&l).await[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(away_replies(&l, &id).await, 0, "never to an opted-out customer");
    // Back in: the next text gets the away reply, once for this closed period.
    post_signed(&l, &inbound("SM00000000000000000000000000000032", "START")).await;
    assert_eq!(away_replies(&l, &id).await, 1);
    post_signed(&l, &inbound("SM00000000000000000000000000000033", "Still there?")).await;
    assert_eq!(away_replies(&l, &id).await, 1, "once per closed period");
}

on_both_backends!(
    the_away_reply_goes_by_sms_but_never_to_an_opted_out_customer,
    an_sms_number_reports_its_credentials_and_its_texts_are_counted,
    customers_text_in_agents_reply_by_sms_and_statuses_move_forward,
    bad_sms_posts_store_nothing,
    stop_opts_the_customer_out_and_start_back_in,
    after_a_switch_to_sms_the_customers_texts_join_the_whatsapp_conversation,
);
