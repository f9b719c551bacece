//! Agent actions through a real Cloud API gateway (a local fake that records requests): each
//! allowed or denied by the capabilities, exact request bodies, retries, Meta errors,
//! idempotency, SMS switching and calls.

use std::time::Duration;

use chrono::Utc;
use domain::{ContactId, ConversationId, PhoneNumber};
use serde_json::{Value, json};

use crate::helpers::{Backend, FakeProvider, Inbound, Tenant, TestApp, error_code, spawn_with};

const WINDOW: &str = "The 24-hour customer service window has closed; send a Marketing or Utility template.";
const SEND: &str = "mutation($c: ID!, $t: String!, $k: String) { sendMessage(conversationId: $c, text: $t, idempotencyKey: $k) { id status text } }";
const TEMPLATE: &str = "mutation($c: ID!, $t: ID!, $p: [String!]) { sendTemplate(conversationId: $c, templateId: $t, parameters: $p) { id status text templateName templateCategory } }";
const REQUEST: &str = "mutation($c: ID!) { requestPhoneNumber(conversationId: $c) { id status kind } }";
const CALL: &str =
    "mutation($c: ID!) { startCall(conversationId: $c) { conversationId phoneNumber source } }";
const SWITCH: &str =
    "mutation($c: ID!, $ch: Channel!) { switchChannel(conversationId: $c, channel: $ch) { channel } }";

struct Setup {
    app: TestApp,
    fake: FakeProvider,
    t: Tenant,
    templates: Value,
}

async fn setup(backend: Backend) -> Option<Setup> {
    let fake = FakeProvider::start().await;
    let url = fake.url.clone();
    let app = spawn_with(backend, move |config| {
        config.whatsapp.api_base = url.clone();
        config.whatsapp.access_token = Some("test-access-token".to_owned().into());
        config.sms = api::config::SmsConfig {
            api_base: url,
            default_sender: Some(api::config::SmsAccount {
                account_sid: "AC123".into(),
                auth_token: "sms-token".to_owned().into(),
                from: "+15550001111".into(),
            }),
            sandbox_account: None,
        };
    })
    .await?;
    let t = app.tenant("Acme").await;
    let create = "mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id name category } }";
    let mut ids = json!({});
    for (name, category, body) in [
        ("spring_sale", "MARKETING", "Hi {{1}}, 20% off today."),
        ("order_update", "UTILITY", "Order {{1}} ships {{2}}."),
        ("login_code", "AUTHENTICATION", "{{1}} is your code."),
    ] {
        let data = app
            .ok(
                &t.token,
                create,
                json!({ "i": { "name": name, "language": "en_US", "category": category, "body": body } }),
            )
            .await;
        ids[category] = data["createTemplate"]["id"].clone();
    }
    Some(Setup { app, fake, t, templates: ids })
}

macro_rules! with_fake {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::setup(crate::helpers::Backend::Sqlite).await.expect("sqlite")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match super::setup(crate::helpers::Backend::Postgres).await {
                    Some(s) => super::$name(s).await,
                    None => crate::helpers::postgres_skipped(module_path!()),
                }
            }
        }
    )*};
}

/// Waits until a message leaves PENDING; returns its final state.
async fn settled(s: &Setup, conversation: ConversationId, message_id: &Value) -> Value {
    let query = "query($c: ID!) { conversation(id: $c) { messages(first: 50) { nodes { id status externalId errorCode errorTitle channel } } } }";
    for _ in 0..200 {
        let data = s.app.ok(&s.t.token, query, json!({ "c": conversation.to_string() })).await;
        let found = data["conversation"]["messages"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == *message_id)
            .cloned();
        if let Some(m) = found.filter(|m| m["status"] != "PENDING") {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("message {message_id} stayed PENDING");
}

async fn link_contact(s: &Setup, conversation: ConversationId, phone: &str) {
    let contact = ContactId::new();
    let phone = PhoneNumber::parse(phone).unwrap();
    let new = persistence::contacts::NewContact {
        id: contact,
        workspace_id: s.t.workspace,
        name: "Linked",
        email: None,
        phone: Some(&phone),
        created_by: None,
        external_id: None,
        attributes: None,
    };
    persistence::contacts::create(s.app.db.conn(), new, Utc::now()).await.unwrap();
    let row = persistence::conversations::find(s.app.db.conn(), s.t.workspace, conversation)
        .await
        .unwrap()
        .unwrap();
    let link = persistence::conversations::Link { contact, by: Some(s.t.admin), at: Utc::now() };
    let change =
        persistence::conversations::ConversationChange { link: Some(Some(link)), ..Default::default() };
    s.app
        .db
        .write(async |txn| persistence::conversations::update(txn, row, change, Utc::now()).await)
        .await
        .unwrap();
}

fn vars(c: ConversationId) -> Value {
    json!({ "c": c.to_string(), "t": "Hello there" })
}

async fn each_kind_of_conversation_allows_and_denies_as_its_capabilities_say(s: Setup) {
    let hidden_open =
        s.app.receive(&s.t, &Inbound::hidden("US.1", "@open", "Open").ago(chrono::Duration::hours(1))).await;
    let hidden_closed = s
        .app
        .receive(&s.t, &Inbound::hidden("US.2", "@closed", "Closed").ago(chrono::Duration::hours(30)))
        .await;
    let phone_closed = s
        .app
        .receive(&s.t, &Inbound::with_phone("16505550003", "US.3", "Phone").ago(chrono::Duration::hours(26)))
        .await;
    let linked = s
        .app
        .receive(&s.t, &Inbound::hidden("US.4", "@linked", "Linked").ago(chrono::Duration::hours(1)))
        .await;
    link_contact(&s, linked, "+16505550004").await;

    let denied = |body: &Value, capability: &str, reason: &str| {
        assert_eq!(error_code(body), "CAPABILITY_DENIED", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["capability"], capability);
        assert_eq!(body["errors"][0]["extensions"]["reason"], reason);
        assert_eq!(body["errors"][0]["message"], reason);
    };
    let auth = json!({ "t": s.templates["AUTHENTICATION"], "p": ["123456"] });
    let with = |c: ConversationId, extra: &Value| {
        let mut v = vars(c);
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let gql = |q: &'static str, v: Value| {
        let s = &s;
        async move { s.app.graphql(Some(&s.t.token), q, v).await }
    };

    // Username-only, window open: reply and request the phone; no call, no SMS, no auth templates.
    assert!(gql(SEND, vars(hidden_open)).await.get("errors").is_none());
    assert!(gql(REQUEST, vars(hidden_open)).await.get("errors").is_none());
    denied(&gql(CALL, vars(hidden_open)).await, "call", "Phone number is required for outbound calls.");
    denied(
        &gql(SWITCH, with(hidden_open, &json!({ "ch": "SMS" }))).await,
        "switchToSms",
        "Channel switching requires a phone number.",
    );
    denied(
        &gql(TEMPLATE, with(hidden_open, &auth)).await,
        "templates.AUTHENTICATION",
        "Phone number is required to send authentication templates.",
    );

    // Username-only, window closed: only marketing and utility templates.
    let sent_before = s.fake.requests().len();
    denied(&gql(SEND, vars(hidden_closed)).await, "reply", WINDOW);
    denied(&gql(REQUEST, vars(hidden_closed)).await, "requestPhoneNumber", WINDOW);
    let utility = json!({ "t": s.templates["UTILITY"], "p": ["A-17", "tomorrow"] });
    let data = gql(TEMPLATE, with(hidden_closed, &utility)).await;
    assert_eq!(data["data"]["sendTemplate"]["text"], "Order A-17 ships tomorrow.", "{data}");
    assert_eq!(data["data"]["sendTemplate"]["templateCategory"], "UTILITY");

    // Phone customer, window closed: calls, SMS and authentication templates, but no reply.
    denied(&gql(SEND, vars(phone_closed)).await, "reply", WINDOW);
    denied(
        &gql(REQUEST, vars(phone_closed)).await,
        "requestPhoneNumber",
        "The customer's phone number is already known.",
    );
    assert!(gql(TEMPLATE, with(phone_closed, &auth)).await.get("errors").is_none());
    let call = gql(CALL, vars(phone_closed)).await;
    assert_eq!(
        call["data"]["startCall"],
        json!({ "conversationId": phone_closed.to_string(), "phoneNumber": "+16505550003", "source": "CONVERSATION" })
    );

    // Username-only linked to a contact with a phone: call and SMS, still no auth templates.
    let call = gql(CALL, vars(linked)).await;
    assert_eq!(call["data"]["startCall"]["phoneNumber"], "+16505550004");
    assert_eq!(call["data"]["startCall"]["source"], "CONTACT");
    denied(
        &gql(TEMPLATE, with(linked, &auth)).await,
        "templates.AUTHENTICATION",
        "Phone number is required to send authentication templates.",
    );

    // Denied actions stored nothing and sent nothing.
    let query = "query($c: ID!) { conversation(id: $c) { messages { nodes { id } } } }";
    let stored = s.app.ok(&s.t.token, query, json!({ "c": hidden_closed.to_string() })).await;
    assert_eq!(
        stored["conversation"]["messages"]["nodes"].as_array().unwrap().len(),
        2,
        "inbound + the utility template"
    );
    let _ = sent_before;
}

async fn the_gateway_sends_to_for_phones_and_recipient_for_bsuids(s: Setup) {
    let hidden = s.app.receive(&s.t, &Inbound::hidden("US.13491208655302741918", "@sheena", "Sheena")).await;
    let phone = s.app.receive(&s.t, &Inbound::with_phone("16505551234", "US.99", "Pablo")).await;
    for c in [hidden, phone] {
        let data = s.app.ok(&s.t.token, SEND, vars(c)).await;
        let m = settled(&s, c, &data["sendMessage"]["id"]).await;
        assert_eq!(m["status"], "SENT", "{m}");
    }
    let data = s.app.ok(&s.t.token, REQUEST, vars(hidden)).await;
    settled(&s, hidden, &data["requestPhoneNumber"]["id"]).await;
    let marketing = json!({ "c": phone.to_string(), "t": s.templates["MARKETING"], "p": ["Pablo"] });
    let data = s.app.ok(&s.t.token, TEMPLATE, marketing).await;
    settled(&s, phone, &data["sendTemplate"]["id"]).await;

    let requests = s.fake.requests();
    assert_eq!(requests.len(), 4);
    for r in &requests {
        assert_eq!(r.path, format!("/{}/messages", s.t.number.phone_number_id));
        assert_eq!(r.authorization.as_deref(), Some("Bearer test-access-token"));
    }
    let to_bsuid = requests[0].json();
    assert_eq!(
        to_bsuid,
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "recipient": "US.13491208655302741918",
                "type": "text", "text": { "preview_url": false, "body": "Hello there" } })
    );
    assert!(to_bsuid.get("to").is_none(), "a BSUID never goes in `to`");
    let to_phone = requests[1].json();
    assert_eq!(to_phone["to"], "16505551234");
    assert!(to_phone.get("recipient").is_none());
    let request = requests[2].json();
    assert_eq!(request["recipient"], "US.13491208655302741918");
    assert_eq!(request["interactive"]["type"], "request_contact_info");
    assert_eq!(request["interactive"]["action"]["name"], "request_contact_info");
    let template = requests[3].json();
    assert_eq!(
        template["template"],
        json!({ "name": "spring_sale", "language": { "code": "en_US" }, "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "Pablo" }] }] })
    );

    // The phone customer's message keeps Meta's id, so status webhooks find it.
    let query = "query($c: ID!) { conversation(id: $c) { messages { nodes { direction externalId } } } }";
    let data = s.app.ok(&s.t.token, query, json!({ "c": phone.to_string() })).await;
    let ids: Vec<&str> = data["conversation"]["messages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "OUTBOUND")
        .map(|m| m["externalId"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| id.starts_with("wamid.FAKE")), "{ids:?}");
    let sent = s
        .app
        .ok(
            &s.t.token,
            r#"{ events(types: ["message.sent", "message.status_updated"]) { nodes { type } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        sent["events"]["nodes"].as_array().unwrap().len(),
        8,
        "one message.sent and one status update per send"
    );
}

async fn server_errors_are_retried_and_meta_errors_are_kept(s: Setup) {
    let c = s.app.receive(&s.t, &Inbound::with_phone("16505551234", "US.99", "Pablo")).await;
    s.fake.answer(&[
        (500, json!({})),
        (503, json!({ "error": { "code": 131000, "message": "Something went wrong" } })),
    ]);
    let data = s.app.ok(&s.t.token, SEND, vars(c)).await;
    let m = settled(&s, c, &data["sendMessage"]["id"]).await;
    assert_eq!(m["status"], "SENT");
    assert_eq!(m["errorCode"], Value::Null);
    assert_eq!(s.fake.requests().len(), 3, "two failures then success");

    for (code, title) in [
        (131047, "Re-engagement message: more than 24 hours have passed since the customer last wrote."),
        (131062, "Business-scoped User ID (BSUID) recipients are not supported for this message."),
    ] {
        s.fake.answer(&[(400, json!({ "error": { "message": "(#x) Meta text", "type": "OAuthException", "code": code, "fbtrace_id": "A" } }))]);
        let data = s.app.ok(&s.t.token, SEND, vars(c)).await;
        let m = settled(&s, c, &data["sendMessage"]["id"]).await;
        assert_eq!(
            (m["status"].as_str(), m["errorCode"].as_i64(), m["errorTitle"].as_str()),
            (Some("FAILED"), Some(code), Some(title))
        );
    }
    let failed = s
        .app
        .ok(&s.t.token, r#"{ events(types: ["message.status_updated"]) { nodes { payload } } }"#, json!({}))
        .await;
    let last = failed["events"]["nodes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["payload"]["data"]["status"], "FAILED");
    assert_eq!(last["payload"]["data"]["errorCode"], 131062);
}

/// A send reads its conversation and the conversation's number in one statement: each round
/// trip inside the transaction is one more wait for a scheduler on a busy machine, while the
/// conversation's row stays locked. A second send to an open conversation costs its
/// authentication, that read, the message, the conversation's activity and the event (SQLite:
/// and the workspace's event cursor, taken in the transaction; PostgreSQL numbers events after
/// commit, outside this count).
async fn a_send_reads_its_conversation_and_number_in_one_statement(s: Setup) {
    let c = s.app.receive(&s.t, &Inbound::hidden("US.77", "@sevens", "Sevens")).await;
    let first = s.app.ok(&s.t.token, SEND, vars(c)).await; // its first response is recorded
    settled(&s, c, &first["sendMessage"]["id"]).await;
    let before = s.app.db.statement_count();
    s.app.ok(&s.t.token, SEND, vars(c)).await;
    let cost = s.app.db.statement_count() - before;
    let expected = match s.app.backend {
        crate::helpers::Backend::Sqlite => 6,
        crate::helpers::Backend::Postgres => 5,
    };
    assert_eq!(cost, expected, "statements of one sendMessage");
}

async fn an_idempotency_key_sends_once(s: Setup) {
    let c = s.app.receive(&s.t, &Inbound::with_phone("16505551234", "US.99", "Pablo")).await;
    let mut v = vars(c);
    v["k"] = json!("retry-me-7");
    let first = s.app.ok(&s.t.token, SEND, v.clone()).await;
    settled(&s, c, &first["sendMessage"]["id"]).await;
    let second = s.app.ok(&s.t.token, SEND, v.clone()).await;
    assert_eq!(first["sendMessage"]["id"], second["sendMessage"]["id"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.fake.requests().len(), 1);
    v["k"] = json!("bad key with spaces");
    assert_eq!(error_code(&s.app.graphql(Some(&s.t.token), SEND, v).await), "BAD_USER_INPUT");
    for text in ["", "   ", &"x".repeat(4097)] {
        let body = s.app.graphql(Some(&s.t.token), SEND, json!({ "c": c.to_string(), "t": text })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
    }
    let wrong = json!({ "c": c.to_string(), "t": s.templates["UTILITY"], "p": ["only one"] });
    assert_eq!(error_code(&s.app.graphql(Some(&s.t.token), TEMPLATE, wrong).await), "BAD_USER_INPUT");
    let unknown = json!({ "c": c.to_string(), "t": uuid::Uuid::now_v7().to_string(), "p": [] });
    assert_eq!(error_code(&s.app.graphql(Some(&s.t.token), TEMPLATE, unknown).await), "NOT_FOUND");
}

async fn switching_to_sms_texts_the_phone_and_switching_back_uses_whatsapp(s: Setup) {
    let c = s
        .app
        .receive(&s.t, &Inbound::with_phone("16505551234", "US.99", "Pablo").ago(chrono::Duration::hours(40)))
        .await;
    let data = s.app.ok(&s.t.token, SWITCH, json!({ "c": c.to_string(), "ch": "SMS" })).await;
    assert_eq!(data["switchChannel"]["channel"], "SMS");
    let caps = s
        .app
        .ok(
            &s.t.token,
            "query($c: ID!) { conversation(id: $c) { capabilities { reply { allowed } } } }",
            json!({ "c": c.to_string() }),
        )
        .await;
    assert_eq!(caps["conversation"]["capabilities"]["reply"]["allowed"], true, "SMS has no 24-hour window");
    let sent = s.app.ok(&s.t.token, SEND, vars(c)).await;
    let m = settled(&s, c, &sent["sendMessage"]["id"]).await;
    assert_eq!((m["status"].as_str(), m["channel"].as_str()), (Some("SENT"), Some("SMS")));
    let sms = s.fake.requests().pop().unwrap();
    assert_eq!(sms.path, "/2010-04-01/Accounts/AC123/Messages.json");
    assert!(sms.authorization.unwrap().starts_with("Basic "));
    assert!(
        sms.body.contains("To=%2B16505551234")
            && sms.body.contains("From=%2B15550001111")
            && sms.body.contains("Body=Hello+there"),
        "{}",
        sms.body
    );
    let data = s.app.ok(&s.t.token, SWITCH, json!({ "c": c.to_string(), "ch": "WHATSAPP" })).await;
    assert_eq!(data["switchChannel"]["channel"], "WHATSAPP");
    let body = s.app.graphql(Some(&s.t.token), SEND, vars(c)).await;
    assert_eq!(error_code(&body), "CAPABILITY_DENIED", "back on WhatsApp the window applies again");
}

/// `n` queued outbound texts of one conversation, written in one commit (as a campaign is).
async fn queue_texts(s: &Setup, conversation: &persistence::Conversation, n: usize) {
    let texts: Vec<_> = (0..n)
        .map(|i| {
            let body = format!("Campaign message {i}");
            let new = persistence::messages::NewMessage {
                origin: persistence::messages::Origin::Outbound {
                    author: s.t.admin,
                    idempotency_key: None,
                    template: None,
                },
                channel: domain::Channel::Whatsapp,
                kind: "text".into(),
                text: body.clone(),
                content: Some(persistence::content::MessageContent::Outbound(
                    domain::content::OutboundContent::Text { body },
                )),
                sent_at: Utc::now(),
                reply_to: None,
            };
            (conversation.into(), new)
        })
        .collect();
    s.app.db.write(async |txn| persistence::messages::insert_many(txn, texts).await).await.unwrap();
}

/// The delivery worker records the answers of a claimed batch together, as they come in:
/// 32 sends answered at once cost a few commits, not one each (34 before).
async fn a_batch_of_answers_is_recorded_in_a_few_commits(s: Setup) {
    let id = s.app.receive(&s.t, &Inbound::with_phone("16505551234", "US.99", "Pablo")).await;
    let conversation =
        persistence::conversations::find(s.app.db.conn(), s.t.workspace, id).await.unwrap().unwrap();
    s.fake.slow_down(Duration::from_millis(50));
    let before = s.app.db.commit_count();
    queue_texts(&s, &conversation, 32).await;
    let query =
        "query($c: ID!) { conversation(id: $c) { messages(first: 50) { nodes { direction status } } } }";
    let mut sent = 0;
    for _ in 0..400 {
        let data = s.app.ok(&s.t.token, query, json!({ "c": id.to_string() })).await;
        let nodes = data["conversation"]["messages"]["nodes"].as_array().unwrap().clone();
        sent = nodes.iter().filter(|m| m["direction"] == "OUTBOUND" && m["status"] == "SENT").count();
        if sent == 32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(sent, 32, "every queued text was sent");
    let commits = s.app.db.commit_count() - before;
    assert!(commits <= 16, "32 answers took {commits} commits");
}

/// A bulk send of one tenant (200 queued messages) delays another tenant's reply by at most one
/// batch: workspaces take turns in the delivery worker.
async fn one_tenants_bulk_send_delays_anothers_reply_by_at_most_one_batch(s: Setup) {
    let bulk = s.app.receive(&s.t, &Inbound::with_phone("16505551234", "US.99", "Pablo")).await;
    let conversation =
        persistence::conversations::find(s.app.db.conn(), s.t.workspace, bulk).await.unwrap().unwrap();
    s.fake.slow_down(Duration::from_millis(20));
    queue_texts(&s, &conversation, 200).await;

    let other = s.app.tenant("Other").await;
    let reply = s.app.receive(&other, &Inbound::with_phone("447700900123", "GB.1", "Ana")).await;
    s.app.ok(&other.token, SEND, vars(reply)).await;
    // Counted once the reply is queued: on a loaded machine the campaign may have gone on
    // sending while the other tenant was being set up.
    let sent_before = s.fake.requests().len();
    let path = format!("/{}/messages", other.number.phone_number_id);
    let mut position = None;
    for _ in 0..400 {
        position = s.fake.requests().iter().position(|r| r.path == path);
        if position.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let position = position.expect("the other tenant's reply was sent");
    // At most the rest of the batch in flight and one claim (16 messages each) go before it.
    assert!(
        position < sent_before + 32,
        "the reply went out as request {position} ({sent_before} sent when it was queued), behind the other tenant's campaign"
    );
}

const CAPABILITIES: &str = "query($c: ID!) { conversation(id: $c) { capabilities { \
    reply { ...S } call { ...S } switchToSms { ...S } requestPhoneNumber { ...S } media { ...S } react { ...S } \
    templates { category allowed reason reasonCode } } messages(first: 1) { nodes { id } } } } \
    fragment S on CapabilityState { allowed reason reasonCode }";

/// Every denial the product can produce, walked through the API: each denied capability has a
/// `reasonCode` (the one of its reason), and the mutation it guards fails with the same
/// `extensions.reasonCode`. Between them the conversations produce every kind of denial.
async fn every_denial_has_a_code_in_the_capabilities_and_in_the_error(s: Setup) {
    let hour = chrono::Duration::hours(1);
    let hidden_open = s.app.receive(&s.t, &Inbound::hidden("US.1", "@open", "Open").ago(hour)).await;
    let hidden_closed =
        s.app.receive(&s.t, &Inbound::hidden("US.2", "@closed", "Closed").ago(hour * 30)).await;
    let phone_open =
        s.app.receive(&s.t, &Inbound::with_phone("16505550003", "US.3", "Phone").ago(hour)).await;
    let on_sms = s.app.receive(&s.t, &Inbound::with_phone("16505550005", "US.5", "Sms").ago(hour)).await;
    s.app.ok(&s.t.token, SWITCH, json!({ "c": on_sms.to_string(), "ch": "SMS" })).await;
    let opted_out = s.app.receive(&s.t, &Inbound::with_phone("16505550006", "US.6", "Stop").ago(hour)).await;
    let phone = PhoneNumber::parse("+16505550006").unwrap();
    persistence::conversations::set_sms_opted_out(s.app.db.conn(), s.t.workspace, &phone, true, Utc::now())
        .await
        .unwrap();
    let part = reqwest::multipart::Part::bytes(vec![7; 64]).file_name("a.png").mime_str("image/png").unwrap();
    let upload = s
        .app
        .client
        .post(s.app.url("/media"))
        .bearer_auth(&s.t.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    let attachment = upload.json::<Value>().await.unwrap()["id"].clone();

    let mut seen = std::collections::BTreeSet::new();
    for c in [hidden_open, hidden_closed, phone_open, on_sms, opted_out] {
        walk_denials(&s, c, &attachment, &mut seen).await;
    }
    let disconnect = "mutation($n: ID!) { disconnectBusinessNumber(id: $n) { connected } }";
    s.app.ok(&s.t.token, disconnect, json!({ "n": s.t.number.id.to_string() })).await;
    walk_denials(&s, phone_open, &attachment, &mut seen).await;

    let every: std::collections::BTreeSet<&str> = domain::Denial::ALL.iter().map(|d| d.reason()).collect();
    assert_eq!(seen, every, "some denial was never produced");
}

/// Checks each capability of conversation `c`; tries the mutation of each denied one.
async fn walk_denials(
    s: &Setup,
    c: ConversationId,
    attachment: &Value,
    seen: &mut std::collections::BTreeSet<&'static str>,
) {
    let data = s.app.ok(&s.t.token, CAPABILITIES, json!({ "c": c.to_string() })).await;
    let caps = &data["conversation"]["capabilities"];
    let message = data["conversation"]["messages"]["nodes"][0]["id"].clone();
    let mut states: Vec<(String, Value)> =
        ["reply", "call", "switchToSms", "requestPhoneNumber", "media", "react"]
            .iter()
            .map(|name| ((*name).to_owned(), caps[*name].clone()))
            .collect();
    for t in caps["templates"].as_array().unwrap() {
        states.push((format!("templates.{}", t["category"].as_str().unwrap()), t.clone()));
    }
    for (name, state) in states {
        if state["allowed"] == true {
            assert!(state["reasonCode"].is_null() && state["reason"].is_null(), "{name}: {state}");
            continue;
        }
        let reason = state["reason"].as_str().unwrap_or_else(|| panic!("{name} denied without a reason"));
        let denial = domain::Denial::ALL
            .into_iter()
            .find(|d| d.reason() == reason)
            .unwrap_or_else(|| panic!("{name}: an unknown reason {reason}"));
        assert_eq!(state["reasonCode"], denial.code().as_str(), "{name}: {state}");
        seen.insert(denial.reason());
        let (query, vars) = match name.as_str() {
            "reply" => (SEND, vars(c)),
            "call" => (CALL, vars(c)),
            "switchToSms" => (SWITCH, json!({ "c": c.to_string(), "ch": "SMS" })),
            "requestPhoneNumber" => (REQUEST, vars(c)),
            "media" => (
                "mutation($c: ID!, $a: ID!) { sendMedia(conversationId: $c, attachmentId: $a) { id } }",
                json!({ "c": c.to_string(), "a": attachment }),
            ),
            "react" => (
                "mutation($m: ID!) { reactToMessage(messageId: $m, emoji: \"👍\") { id } }",
                json!({ "m": message }),
            ),
            template => {
                let category = template.trim_start_matches("templates.");
                let parameters = if category == "UTILITY" { json!(["A-1", "today"]) } else { json!(["1"]) };
                (TEMPLATE, json!({ "c": c.to_string(), "t": s.templates[category], "p": parameters }))
            }
        };
        let body = s.app.graphql(Some(&s.t.token), query, vars).await;
        let extensions = &body["errors"][0]["extensions"];
        assert_eq!(error_code(&body), "CAPABILITY_DENIED", "{name}: {body}");
        assert_eq!(extensions["capability"], name.as_str(), "{body}");
        assert_eq!(extensions["reason"], reason, "{body}");
        assert_eq!(extensions["reasonCode"], state["reasonCode"], "{name}: {body}");
    }
}

with_fake!(
    a_batch_of_answers_is_recorded_in_a_few_commits,
    every_denial_has_a_code_in_the_capabilities_and_in_the_error,
    one_tenants_bulk_send_delays_anothers_reply_by_at_most_one_batch,
    each_kind_of_conversation_allows_and_denies_as_its_capabilities_say,
    the_gateway_sends_to_for_phones_and_recipient_for_bsuids,
    server_errors_are_retried_and_meta_errors_are_kept,
    an_idempotency_key_sends_once,
    a_send_reads_its_conversation_and_number_in_one_statement,
    switching_to_sms_texts_the_phone_and_switching_back_uses_whatsapp,
);
