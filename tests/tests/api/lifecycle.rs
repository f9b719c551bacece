//! The conversation lifecycle (PRODUCT.md section 12) against a fake Cloud API and SMS API that
//! check bearer tokens, basic auth and body shapes: starting conversations, read state and read
//! receipts, typing indicators, snooze and its waker, the new inbox filters, and business
//! numbers with their own (sealed) credentials.

use std::time::Duration;

use api::Config;
use chrono::Utc;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, FAKE_SMS_ACCOUNT, FAKE_TOKEN, FakeMedia, FakeProvider, Inbound, Tenant, TestApp, error_code,
    fixtures, spawn_with,
};

/// The URL the SMS provider is told to call (`PARLEY_PUBLIC_URL`): what it signs.
pub(crate) const PUBLIC_URL: &str = "https://parley.example.com";

pub(crate) struct Life {
    pub app: TestApp,
    pub fake: FakeProvider,
    pub t: Tenant,
    /// A UTILITY template `Order {{1}} ships.`
    pub template: String,
}

pub(crate) async fn life(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<Life> {
    let fake = FakeProvider::start().await;
    let url = fake.url.clone();
    let app = spawn_with(backend, move |config| {
        config.whatsapp.api_base = url.clone();
        config.whatsapp.access_token = Some(FAKE_TOKEN.to_owned().into());
        config.sms = api::config::SmsConfig {
            api_base: url,
            default_sender: Some(api::config::SmsAccount {
                account_sid: FAKE_SMS_ACCOUNT.0.into(),
                auth_token: FAKE_SMS_ACCOUNT.1.to_owned().into(),
                from: "+15550001111".into(),
            }),
            sandbox_account: None,
        };
        config.public_url = Some(PUBLIC_URL.to_owned());
        configure(config);
    })
    .await?;
    let t = app.tenant("Acme").await;
    let create = "mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id } }";
    let input = json!({ "i": { "name": "order_update", "language": "en_US", "category": "UTILITY", "body": "Order {{1}} ships." } });
    let template = app.ok(&t.token, create, input).await["createTemplate"]["id"].as_str().unwrap().to_owned();
    Some(Life { app, fake, t, template })
}

pub(crate) const CONVERSATION: &str = "query($c: ID!) { conversation(id: $c) { id channel status origin snoozedUntil \
    unreadCount lastReadAt assignee { id } contact { id } businessNumber { id } \
    customer { phoneNumber smsOptedOut } capabilities { reply { allowed reason } } \
    messages(first: 50) { nodes { id direction text status channel } } } }";

pub(crate) async fn conversation(l: &Life, token: &str, id: &str) -> Value {
    l.app.ok(token, CONVERSATION, json!({ "c": id })).await["conversation"].clone()
}

/// Every event of the given types in the workspace, oldest first.
pub(crate) async fn events(l: &Life, types: &[&str]) -> Vec<Value> {
    let query =
        "query($t: [String!]) { events(first: 100, types: $t) { nodes { type conversationId payload } } }";
    let data = l.app.ok(&l.t.token, query, json!({ "t": types })).await;
    data["events"]["nodes"].as_array().unwrap().clone()
}

/// Polls `check` until it returns `Some` (10 s at most).
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The JSON bodies the fake Cloud API received on `/{pnid}/messages` with their bearer token.
fn cloud_posts(fake: &FakeProvider, phone_number_id: &str) -> Vec<(Option<String>, Value)> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == format!("/{phone_number_id}/messages"))
        .map(|r| (r.authorization.clone(), r.json()))
        .collect()
}

const START: &str = "mutation($i: StartConversationInput!) { startConversation(input: $i) { id channel status origin \
    assignee { id } contact { id } customer { phoneNumber } messages(first: 10) { nodes { id text status } } } }";

async fn start_conversations_by_phone_or_contact_reusing_threads(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let number = l.t.number.id.to_string();
    let input = json!({ "businessNumberId": number, "phoneNumber": "+1 (650) 555-1234", "templateId": l.template,
        "parameters": ["A-1"], "idempotencyKey": "start-1" });
    let started = l.app.ok(&l.t.token, START, json!({ "i": input })).await["startConversation"].clone();
    assert_eq!((started["channel"].as_str(), started["status"].as_str()), (Some("WHATSAPP"), Some("OPEN")));
    assert_eq!(started["origin"], "AGENT_STARTED");
    assert_eq!(
        started["assignee"]["id"],
        json!(l.t.admin.to_string()),
        "assigned to the agent who started it"
    );
    assert_eq!(started["customer"]["phoneNumber"], "+16505551234");
    assert_eq!(started["messages"]["nodes"][0]["text"], "Order A-1 ships.");
    let id = started["id"].as_str().unwrap().to_owned();

    // The template reaches Meta, addressed to the phone, with the number's token.
    let posts = eventually("the template send", || async {
        let posts = cloud_posts(&l.fake, &l.t.number.phone_number_id);
        (!posts.is_empty()).then_some(posts)
    })
    .await;
    assert_eq!(posts[0].0.as_deref(), Some(format!("Bearer {FAKE_TOKEN}").as_str()));
    assert_eq!(
        (posts[0].1["to"].as_str(), posts[0].1["type"].as_str()),
        (Some("16505551234"), Some("template"))
    );
    assert_eq!(posts[0].1["template"]["name"], "order_update");

    // The same call again (same key): the same conversation, nothing more sent.
    let again = l.app.ok(&l.t.token, START, json!({ "i": input })).await["startConversation"].clone();
    assert_eq!(again["id"], json!(id));
    assert_eq!(again["messages"]["nodes"].as_array().unwrap().len(), 1);
    // Without the key, the existing thread of that phone on that number is reused.
    let mut other = input.clone();
    other["idempotencyKey"] = Value::Null;
    other["parameters"] = json!(["B-2"]);
    let reused = l.app.ok(&l.t.token, START, json!({ "i": other })).await["startConversation"].clone();
    assert_eq!(reused["id"], json!(id));
    assert_eq!(reused["messages"]["nodes"].as_array().unwrap().len(), 2);
    let created = events(&l, &["conversation.created"]).await;
    assert_eq!(created.len(), 1, "one conversation.created: {created:?}");
    assert_eq!(created[0]["conversationId"], json!(id));

    // When the customer answers on WhatsApp, the message joins the started conversation.
    let customer = Inbound::with_phone("16505551234", "US.77", "Maria").text("Thanks!");
    let joined = l.app.receive(&l.t, &customer).await;
    assert_eq!(joined.to_string(), id);

    // By contact, on an SMS number: a new SMS conversation linked to the contact.
    let sms = connect_sms(&l, "+15557770000").await;
    let create =
        "mutation($c: ID!, $i: CreateContactInput!) { createContact(conversationId: $c, input: $i) { id } }";
    let contact = l
        .app
        .ok(&l.t.token, create, json!({ "c": id, "i": { "name": "Maria", "phoneNumber": "+16505551234" } }))
        .await["createContact"]["id"]
        .clone();
    let by_contact = json!({ "businessNumberId": sms, "contactId": contact, "text": "Your order shipped." });
    let texted = l.app.ok(&l.t.token, START, json!({ "i": by_contact })).await["startConversation"].clone();
    assert_eq!(
        (texted["channel"].as_str(), texted["contact"]["id"].as_str()),
        (Some("SMS"), contact.as_str())
    );
    assert_ne!(texted["id"], json!(id), "another number, another conversation");
    let sent = eventually("the SMS", || async {
        let sent = l.fake.sent_sms();
        (!sent.is_empty()).then_some(sent)
    })
    .await;
    let field = |name: &str| sent[0].iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(field("To").as_deref(), Some("+16505551234"));
    assert_eq!(field("From").as_deref(), Some("+15557770000"), "sent from the SMS number");
    assert_eq!(field("Body").as_deref(), Some("Your order shipped."));
    assert_eq!(field("StatusCallback").as_deref(), Some(format!("{PUBLIC_URL}/webhooks/sms").as_str()));
}

async fn start_conversation_refuses_usernames_and_wrong_shapes(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let number = l.t.number.id.to_string();
    let sms = connect_sms(&l, "+15557770001").await;
    let hidden = l.app.receive(&l.t, &Inbound::hidden("US.5", "@maria", "Maria")).await;
    let create =
        "mutation($c: ID!, $i: CreateContactInput!) { createContact(conversationId: $c, input: $i) { id } }";
    let phoneless = l
        .app
        .ok(&l.t.token, create, json!({ "c": hidden.to_string(), "i": { "name": "Maria" } }))
        .await["createContact"]["id"]
        .clone();
    let cases = [
        json!({ "businessNumberId": number, "phoneNumber": "@maria", "templateId": l.template, "parameters": ["1"] }),
        json!({ "businessNumberId": number, "phoneNumber": "US.5", "templateId": l.template, "parameters": ["1"] }),
        json!({ "businessNumberId": number, "phoneNumber": "maria", "templateId": l.template, "parameters": ["1"] }),
        json!({ "businessNumberId": number, "templateId": l.template, "parameters": ["1"] }),
        json!({ "businessNumberId": number, "phoneNumber": "+16505551234", "contactId": phoneless, "templateId": l.template, "parameters": ["1"] }),
        json!({ "businessNumberId": number, "phoneNumber": "+16505551234", "text": "Hi" }),
        json!({ "businessNumberId": number, "phoneNumber": "+16505551234", "templateId": l.template, "parameters": ["1"], "text": "Hi" }),
        json!({ "businessNumberId": sms, "phoneNumber": "+16505551234", "templateId": l.template, "parameters": ["1"] }),
        json!({ "businessNumberId": sms, "phoneNumber": "+16505551234" }),
        json!({ "businessNumberId": number, "contactId": phoneless, "templateId": l.template, "parameters": ["1"] }),
        json!({ "businessNumberId": number, "phoneNumber": "+16505551234", "templateId": l.template, "parameters": [] }),
    ];
    for input in cases {
        let body = l.app.graphql(Some(&l.t.token), START, json!({ "i": input })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
    }
    let unknown = json!({ "businessNumberId": uuid::Uuid::now_v7().to_string(), "phoneNumber": "+16505551234", "text": "Hi" });
    let body = l.app.graphql(Some(&l.t.token), START, json!({ "i": unknown })).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let (_, integration) = l.app.agent(&l.t, "INTEGRATION").await;
    let input = json!({ "businessNumberId": number, "phoneNumber": "+16505551234", "templateId": l.template, "parameters": ["1"] });
    let body = l.app.graphql(Some(&integration), START, json!({ "i": input })).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let conversations = l.app.ok(&l.t.token, "{ conversations { nodes { id } } }", json!({})).await;
    assert_eq!(conversations["conversations"]["nodes"].as_array().unwrap().len(), 1, "nothing was started");
    assert!(cloud_posts(&l.fake, &l.t.number.phone_number_id).is_empty() && l.fake.sent_sms().is_empty());
}

/// Connects an SMS number (the fake accepts its account); returns its id.
pub(crate) async fn connect_sms(l: &Life, phone: &str) -> String {
    let sid = format!("AC{}", uuid::Uuid::new_v4().simple());
    let token = format!("auth-{}", uuid::Uuid::new_v4().simple());
    l.fake.accept_sms_account(&sid, &token);
    connect_sms_with(l, phone, &sid, &token).await
}

/// Connects `phone` with the account `sid` (which the fake SMS provider then lists as owning it).
pub(crate) async fn connect_sms_with(l: &Life, phone: &str, sid: &str, token: &str) -> String {
    l.fake.own_sms_number(sid, phone);
    let connect = "mutation($i: ConnectSmsNumberInput!) { connectSmsNumber(input: $i) { id channel connected phoneNumberId displayPhoneNumber wabaId accountSid } }";
    let input = json!({ "i": { "phoneNumber": phone, "accountSid": sid, "authToken": token } });
    let number = l.app.ok(&l.t.token, connect, input).await["connectSmsNumber"].clone();
    assert_eq!((number["channel"].as_str(), number["connected"].as_bool()), (Some("SMS"), Some(true)));
    assert_eq!((number["displayPhoneNumber"].as_str(), number["wabaId"].as_str()), (Some(phone), None));
    number["id"].as_str().unwrap().to_owned()
}

const MARK_READ: &str =
    "mutation($c: ID!) { markConversationRead(conversationId: $c) { id unreadCount lastReadAt } }";
const COUNTS: &str = "{ inboxCounts { open unread mine unassigned } }";

async fn read_state_is_per_agent_and_sends_one_receipt_per_read(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let (agent, agent_token) = l.app.agent(&l.t, "AGENT").await;
    let hidden = Inbound::hidden("US.1", "@sheena", "Sheena").wamid("wamid.HIDDEN-1");
    let first = l.app.receive(&l.t, &hidden).await.to_string();
    l.app.receive(&l.t, &hidden.clone().wamid("wamid.HIDDEN-2").text("Still there?")).await;
    let other = l.app.receive(&l.t, &Inbound::with_phone("16505550001", "US.2", "Ana")).await.to_string();
    let assign = "mutation($c: ID!, $a: ID) { assignConversation(conversationId: $c, agentId: $a) { id } }";
    l.app.ok(&l.t.token, assign, json!({ "c": other, "a": agent.to_string() })).await;
    // Outbound messages never count as unread.
    l.app
        .ok(
            &l.t.token,
            "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hi\") { id } }",
            json!({ "c": first }),
        )
        .await;

    let c = conversation(&l, &l.t.token, &first).await;
    assert_eq!((c["unreadCount"].as_i64(), c["lastReadAt"].as_str()), (Some(2), None));
    let counts = l.app.ok(&agent_token, COUNTS, json!({})).await["inboxCounts"].clone();
    assert_eq!(counts, json!({ "open": 2, "unread": 2, "mine": 1, "unassigned": 1 }));
    let before = events(&l, &[]).await.len();

    let read = l.app.ok(&l.t.token, MARK_READ, json!({ "c": first })).await["markConversationRead"].clone();
    assert_eq!(read["unreadCount"], 0);
    assert!(read["lastReadAt"].is_string());
    // One read receipt for the latest customer message, with its raw wamid (the customer hid
    // the number: Parley stores a digest and opens the sealed id for Meta).
    let receipt = eventually("the read receipt", || async {
        cloud_posts(&l.fake, &l.t.number.phone_number_id)
            .into_iter()
            .find(|(_, body)| body["status"] == "read")
    })
    .await;
    assert_eq!(
        receipt.1,
        json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HIDDEN-2" })
    );
    assert_eq!(receipt.0.as_deref(), Some(format!("Bearer {FAKE_TOKEN}").as_str()));
    // Reading again sends nothing more; read state emits nothing to CRMs.
    l.app.ok(&l.t.token, MARK_READ, json!({ "c": first })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let receipts = |fake: &FakeProvider| {
        cloud_posts(fake, &l.t.number.phone_number_id)
            .into_iter()
            .filter(|(_, b)| b["status"] == "read")
            .count()
    };
    assert_eq!(receipts(&l.fake), 1);
    assert_eq!(events(&l, &[]).await.len(), before, "read state changes emit no events");

    // Per agent: the other agent still has both unread, and the filter sees it.
    let theirs = conversation(&l, &agent_token, &first).await;
    assert_eq!(theirs["unreadCount"], 2);
    let unread = "query($u: Boolean) { conversations(filter: { unread: $u }) { nodes { id unreadCount } } }";
    let mine = l.app.ok(&l.t.token, unread, json!({ "u": true })).await["conversations"]["nodes"].clone();
    assert_eq!(mine, json!([{ "id": other, "unreadCount": 1 }]));
    let read_ones =
        l.app.ok(&l.t.token, unread, json!({ "u": false })).await["conversations"]["nodes"].clone();
    assert_eq!(read_ones, json!([{ "id": first, "unreadCount": 0 }]));
    let counts = l.app.ok(&l.t.token, COUNTS, json!({})).await["inboxCounts"].clone();
    assert_eq!(counts["unread"], 1);

    // A new message is unread again, and the next read acknowledges it (a second receipt).
    l.app.receive(&l.t, &hidden.clone().wamid("wamid.HIDDEN-3").text("Hello?")).await;
    assert_eq!(conversation(&l, &l.t.token, &first).await["unreadCount"], 1);
    l.app.ok(&l.t.token, MARK_READ, json!({ "c": first })).await;
    eventually("the second receipt", || async { (receipts(&l.fake) == 2).then_some(()) }).await;
    // A second agent reading the same message sends no receipt of its own.
    l.app.ok(&agent_token, MARK_READ, json!({ "c": first })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receipts(&l.fake), 2);
}

async fn read_receipts_can_be_turned_off(backend: Backend) {
    let Some(l) = life(backend, |config| config.read_receipts = false).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let c = l.app.receive(&l.t, &Inbound::with_phone("16505550002", "US.3", "Bo")).await.to_string();
    let read = l.app.ok(&l.t.token, MARK_READ, json!({ "c": c })).await["markConversationRead"].clone();
    assert_eq!(read["unreadCount"], 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(cloud_posts(&l.fake, &l.t.number.phone_number_id).is_empty(), "no receipt with receipts off");
}

async fn typing_indicators_need_an_open_window(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let typing = "mutation($c: ID!) { sendTypingIndicator(conversationId: $c) }";
    let open =
        l.app.receive(&l.t, &Inbound::with_phone("16505550003", "US.4", "Cy").wamid("wamid.OPEN")).await;
    let data = l.app.ok(&l.t.token, typing, json!({ "c": open.to_string() })).await;
    assert_eq!(data["sendTypingIndicator"], true);
    let post = eventually("the typing indicator", || async {
        cloud_posts(&l.fake, &l.t.number.phone_number_id).into_iter().next()
    })
    .await;
    assert_eq!(
        post.1,
        json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.OPEN",
                "typing_indicator": { "type": "text" } })
    );
    let late = Inbound::with_phone("16505550004", "US.6", "Di").ago(chrono::Duration::hours(25));
    let closed = l.app.receive(&l.t, &late).await;
    let body = l.app.graphql(Some(&l.t.token), typing, json!({ "c": closed.to_string() })).await;
    assert_eq!(error_code(&body), "CAPABILITY_DENIED", "{body}");
    let (_, integration) = l.app.agent(&l.t, "INTEGRATION").await;
    let body = l.app.graphql(Some(&integration), typing, json!({ "c": open.to_string() })).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
}

const SNOOZE: &str = "mutation($c: ID!, $u: DateTime!) { snoozeConversation(conversationId: $c, until: $u) { id status snoozedUntil } }";

async fn snoozed_conversations_reopen_at_their_time_or_on_a_message(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let customer = Inbound::with_phone("16505550005", "US.8", "Eve");
    let c = l.app.receive(&l.t, &customer).await.to_string();
    for bad in [Utc::now() - chrono::Duration::minutes(1), Utc::now() + chrono::Duration::days(400)] {
        let body = l.app.graphql(Some(&l.t.token), SNOOZE, json!({ "c": c, "u": bad.to_rfc3339() })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let until = Utc::now() + chrono::Duration::seconds(2);
    let snoozed =
        l.app.ok(&l.t.token, SNOOZE, json!({ "c": c, "u": until.to_rfc3339() })).await["snoozeConversation"]
            .clone();
    assert_eq!(snoozed["status"], "SNOOZED");
    assert!(snoozed["snoozedUntil"].is_string());
    let filtered = "{ conversations(filter: { status: SNOOZED }) { nodes { id } } }";
    assert_eq!(l.app.ok(&l.t.token, filtered, json!({})).await["conversations"]["nodes"][0]["id"], json!(c));
    // The waker reopens it at `until`.
    eventually("the wake-up", || async {
        let now = conversation(&l, &l.t.token, &c).await;
        (now["status"] == "OPEN").then_some(())
    })
    .await;
    assert!(conversation(&l, &l.t.token, &c).await["snoozedUntil"].is_null());
    let updates = events(&l, &["conversation.updated"]).await;
    let statuses: Vec<&str> =
        updates.iter().filter_map(|e| e["payload"]["data"]["status"].as_str()).collect();
    assert_eq!(statuses, ["SNOOZED", "OPEN"], "{updates:?}");

    // Snoozed for a day, the customer's next message reopens it at once.
    let later = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    l.app.ok(&l.t.token, SNOOZE, json!({ "c": c, "u": later })).await;
    l.app.deliver(&l.t, &[&customer.clone().fresh_id().text("Any news?")]).await;
    let now = conversation(&l, &l.t.token, &c).await;
    assert_eq!((now["status"].as_str(), now["snoozedUntil"].as_str()), (Some("OPEN"), None));
}

async fn waking_is_exactly_once_across_processes(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let mut ids = Vec::new();
    for i in 0..12 {
        let customer = Inbound::with_phone(&format!("1650555{i:04}"), &format!("US.9{i}"), "Fay");
        ids.push(l.app.receive(&l.t, &customer).await.to_string());
    }
    let until = (Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    for id in &ids {
        l.app.ok(&l.t.token, SNOOZE, json!({ "c": id, "u": until })).await;
    }
    tokio::time::sleep(Duration::from_millis(1600)).await;
    // Four more wakers race the server's own.
    let at = Utc::now();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let db = l.app.db.clone();
            tokio::spawn(async move { api::workflow::lifecycle::wake_due(&db, at).await.unwrap() })
        })
        .collect();
    for racer in racers {
        racer.await.unwrap();
    }
    eventually("every conversation open", || async {
        let open = "{ conversations(filter: { status: OPEN }) { nodes { id } } }";
        let n =
            l.app.ok(&l.t.token, open, json!({})).await["conversations"]["nodes"].as_array().unwrap().len();
        (n == ids.len()).then_some(())
    })
    .await;
    let reopened = events(&l, &["conversation.updated"])
        .await
        .into_iter()
        .filter(|e| e["payload"]["data"]["status"] == "OPEN")
        .count();
    assert_eq!(reopened, ids.len(), "each conversation reopened exactly once");
}

async fn the_new_inbox_filters(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let (agent, _) = l.app.agent(&l.t, "AGENT").await;
    let a = l.app.receive(&l.t, &Inbound::with_phone("16505550010", "US.10", "A")).await.to_string();
    let b = l.app.receive(&l.t, &Inbound::with_phone("16505550011", "US.11", "B")).await.to_string();
    let sms = connect_sms(&l, "+15557770002").await;
    let start = json!({ "businessNumberId": sms, "phoneNumber": "+16505550012", "text": "Hello" });
    let c = l.app.ok(&l.t.token, START, json!({ "i": start })).await["startConversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assign = "mutation($c: ID!, $a: ID) { assignConversation(conversationId: $c, agentId: $a) { id } }";
    l.app.ok(&l.t.token, assign, json!({ "c": a, "a": agent.to_string() })).await;
    let query = "query($f: ConversationFilter) { conversations(filter: $f) { nodes { id } } }";
    let ids = |data: Value| -> Vec<String> {
        let mut ids: Vec<String> = data["conversations"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    for (filter, expected) in [
        (json!({ "assigneeId": agent.to_string() }), vec![a.clone()]),
        (json!({ "assignedToMe": true }), vec![c.clone()]),
        (json!({ "unassigned": true }), vec![b.clone()]),
        (json!({ "unassigned": false }), vec![a.clone(), c.clone()]),
        (json!({ "channel": "SMS" }), vec![c.clone()]),
        (json!({ "channel": "WHATSAPP" }), vec![a.clone(), b.clone()]),
        (json!({ "businessNumberId": sms }), vec![c.clone()]),
        (json!({ "businessNumberId": l.t.number.id.to_string(), "unassigned": true }), vec![b.clone()]),
        (json!({ "unread": true }), vec![a.clone(), b.clone()]),
        (json!({ "unread": false }), vec![c.clone()]),
    ] {
        let data = l.app.ok(&l.t.token, query, json!({ "f": filter })).await;
        assert_eq!(ids(data), sorted(expected), "{filter}");
    }
    let body = l.app.graphql(Some(&l.t.token), query, json!({ "f": { "businessNumberId": "nope" } })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

const CONNECT_WA: &str = "mutation($i: ConnectWhatsAppNumberInput!) { connectWhatsAppNumber(input: $i) { id channel connected \
    phoneNumberId wabaId portfolioId hasOwnAccessToken } }";

async fn each_number_uses_its_own_sealed_token(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    const OWN: &str = "own-token-of-number-b-7c1e";
    l.fake.own_number(OWN, "800100200300", "900100");
    let input = json!({ "phoneNumberId": "800100200300", "displayPhoneNumber": "+15550100200", "wabaId": "900100",
        "portfolioId": "700100", "accessToken": OWN });
    let number =
        l.app.ok(&l.t.token, CONNECT_WA, json!({ "i": input })).await["connectWhatsAppNumber"].clone();
    assert_eq!(
        (number["channel"].as_str(), number["hasOwnAccessToken"].as_bool()),
        (Some("WHATSAPP"), Some(true))
    );
    let id: domain::BusinessNumberId = number["id"].as_str().unwrap().parse().unwrap();
    let model =
        persistence::business_numbers::find(l.app.db.conn(), l.t.workspace, id).await.unwrap().unwrap();
    let on_b = Tenant { number: model, ..l.t.clone() };

    // Sends: number B with its token, the first number with the process's.
    let b = l.app.receive(&on_b, &Inbound::with_phone("16505550020", "US.20", "Gus")).await.to_string();
    let a = l.app.receive(&l.t, &Inbound::with_phone("16505550021", "US.21", "Hal")).await.to_string();
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hi\") { id } }";
    l.app.ok(&l.t.token, send, json!({ "c": b })).await;
    l.app.ok(&l.t.token, send, json!({ "c": a })).await;
    let on_b_posts = eventually("number B's send", || async {
        let posts = cloud_posts(&l.fake, "800100200300");
        (!posts.is_empty()).then_some(posts)
    })
    .await;
    assert_eq!(on_b_posts[0].0.as_deref(), Some(format!("Bearer {OWN}").as_str()));
    let on_a = eventually("number A's send", || async {
        let posts = cloud_posts(&l.fake, &l.t.number.phone_number_id);
        (!posts.is_empty()).then_some(posts)
    })
    .await;
    assert_eq!(on_a[0].0.as_deref(), Some(format!("Bearer {FAKE_TOKEN}").as_str()));

    // Media: fetched with number B's token (the fake serves it to that token only).
    l.fake.host_media(
        "9001",
        FakeMedia { mime_type: "image/png".into(), file_name: None, bytes: vec![7; 2048], sha256: None },
    );
    let customer = Inbound::with_phone("16505550020", "US.20", "Gus");
    let mut value = customer.value(&on_b.number.phone_number_id);
    let message = value["messages"][0].as_object_mut().unwrap();
    message.remove("text");
    message.insert("type".into(), json!("image"));
    message.insert("image".into(), json!({ "id": "9001", "mime_type": "image/png" }));
    let (status, _) = l.app.post_webhook(&fixtures::webhook(&on_b.number.waba_id, "messages", value)).await;
    assert_eq!(status, 200);
    let fetched = eventually("the media fetch", || async {
        l.fake.requests().into_iter().find(|r| r.path == "/download/9001")
    })
    .await;
    assert_eq!(fetched.authorization.as_deref(), Some(format!("Bearer {OWN}").as_str()));
    let info = l.fake.requests().into_iter().find(|r| r.path == "/9001").unwrap();
    assert_eq!(info.authorization.as_deref(), Some(format!("Bearer {OWN}").as_str()));

    // Username calls, with the number's token.
    let set =
        "mutation($n: ID!) { setBusinessUsername(businessNumberId: $n, username: \"acme.b\") { status } }";
    l.fake.answer(&[(200, json!({ "status": "approved" }))]);
    l.app.ok(&l.t.token, set, json!({ "n": id.to_string() })).await;
    let call = l.fake.requests().into_iter().find(|r| r.path == "/800100200300/username").unwrap();
    assert_eq!(call.authorization.as_deref(), Some(format!("Bearer {OWN}").as_str()));

    // The token is sealed at rest and never returned.
    assert!(!l.app.storage_text().await.contains(OWN), "the token is stored sealed");
    let listed =
        l.app.ok(&l.t.token, "{ businessNumbers { id phoneNumberId channel connected } }", json!({})).await;
    assert!(!listed.to_string().contains(OWN));
    let audit = l.app.ok(&l.t.token, "{ auditLog(first: 50) { action details } }", json!({})).await;
    assert!(audit.to_string().contains("business_number.connected"), "{audit}");
    assert!(!audit.to_string().contains(OWN));
}

async fn numbers_belong_to_one_workspace_and_disconnect_cleanly(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let other = l.app.tenant("Globex").await;
    // The first tenant's own number: another workspace's token cannot see it (refused, naming the
    // check); with a token that sees it, from this workspace again or another: CONFLICT.
    l.fake.own_number("acme-own-token", &l.t.number.phone_number_id, &l.t.number.waba_id);
    l.fake.own_number("globex-own-token", "800999000111", "900999");
    let taken = |token: &str| {
        json!({ "phoneNumberId": l.t.number.phone_number_id, "displayPhoneNumber": "+15550100201",
        "wabaId": l.t.number.waba_id, "portfolioId": "700101", "accessToken": token })
    };
    let body = l.app.graphql(Some(&other.token), CONNECT_WA, json!({ "i": taken("globex-own-token") })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(body.to_string().contains("does not show this phoneNumberId"), "{body}");
    for token in [&other.token, &l.t.token] {
        let body = l.app.graphql(Some(token), CONNECT_WA, json!({ "i": taken("acme-own-token") })).await;
        assert_eq!(error_code(&body), "CONFLICT", "{body}");
        assert!(!body.to_string().contains("Acme"), "the refusal names no workspace");
    }
    connect_sms(&l, "+15557770003").await;
    let connect_sms_query = "mutation($i: ConnectSmsNumberInput!) { connectSmsNumber(input: $i) { id } }";
    let sms = json!({ "i": { "phoneNumber": "+15557770003", "accountSid": "AC9", "authToken": "t" } });
    let body = l.app.graphql(Some(&other.token), connect_sms_query, sms).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "an account the provider refuses: {body}");
    l.fake.accept_sms_account("AC10", "t10");
    l.fake.own_sms_number("AC10", "+15557770003");
    let sms = json!({ "i": { "phoneNumber": "+15557770003", "accountSid": "AC10", "authToken": "t10" } });
    let body = l.app.graphql(Some(&other.token), connect_sms_query, sms).await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    for bad in [
        json!({ "phoneNumberId": "abc", "displayPhoneNumber": "+15550100202", "wabaId": "1", "portfolioId": "2" }),
        json!({ "phoneNumberId": "800100200301", "displayPhoneNumber": "nope", "wabaId": "1", "portfolioId": "2" }),
        json!({ "phoneNumberId": "800100200301", "displayPhoneNumber": "+15550100202", "wabaId": "1", "portfolioId": "2", "accessToken": "has space" }),
    ] {
        let body = l.app.graphql(Some(&l.t.token), CONNECT_WA, json!({ "i": bad })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
    }
    let (_, agent) = l.app.agent(&l.t, "AGENT").await;
    let fresh = json!({ "phoneNumberId": "800100200302", "displayPhoneNumber": "+15550100203", "wabaId": "1", "portfolioId": "2" });
    let body = l.app.graphql(Some(&agent), CONNECT_WA, json!({ "i": fresh })).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");

    // Disconnecting keeps the conversations readable and denies every action.
    let c = l.app.receive(&l.t, &Inbound::with_phone("16505550030", "US.30", "Ida")).await.to_string();
    let disconnect = "mutation($n: ID!) { disconnectBusinessNumber(id: $n) { id connected } }";
    let body = l.app.graphql(Some(&agent), disconnect, json!({ "n": l.t.number.id.to_string() })).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let done = l.app.ok(&l.t.token, disconnect, json!({ "n": l.t.number.id.to_string() })).await;
    assert_eq!(done["disconnectBusinessNumber"]["connected"], false);
    let now = conversation(&l, &l.t.token, &c).await;
    assert_eq!(now["messages"]["nodes"].as_array().unwrap().len(), 1, "still readable");
    assert_eq!(
        now["capabilities"]["reply"],
        json!({ "allowed": false, "reason": "This business number is disconnected." })
    );
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hi\") { id } }";
    let body = l.app.graphql(Some(&l.t.token), send, json!({ "c": c })).await;
    assert_eq!(error_code(&body), "CAPABILITY_DENIED", "{body}");
    let start = json!({ "businessNumberId": l.t.number.id.to_string(), "phoneNumber": "+16505550031",
        "templateId": l.template, "parameters": ["1"] });
    let body = l.app.graphql(Some(&l.t.token), START, json!({ "i": start })).await;
    assert_eq!(error_code(&body), "CAPABILITY_DENIED", "{body}");
    // Connected again (same workspace), with its own token this time.
    l.fake.own_number("fresh-token", &l.t.number.phone_number_id, &l.t.number.waba_id);
    let again = json!({ "phoneNumberId": l.t.number.phone_number_id, "displayPhoneNumber": "+15550783881",
        "wabaId": l.t.number.waba_id, "portfolioId": l.t.number.portfolio_id, "accessToken": "fresh-token" });
    let back = l.app.ok(&l.t.token, CONNECT_WA, json!({ "i": again })).await["connectWhatsAppNumber"].clone();
    assert_eq!(
        (back["id"].as_str(), back["connected"].as_bool()),
        (Some(l.t.number.id.to_string().as_str()), Some(true))
    );
    let audit = l.app.ok(&l.t.token, "{ auditLog(first: 50) { action } }", json!({})).await.to_string();
    assert!(
        audit.contains("business_number.disconnected") && audit.contains("business_number.connected"),
        "{audit}"
    );
}

/// Numbers are proven with the provider, not claimed: a tenant must give a token, the Cloud API
/// must show the number to it and list it in the WABA given (page by page), an SMS account must
/// own its number; and the operator's token serves only the numbers the operator connected.
async fn numbers_are_proven_with_the_provider_and_the_operators_token_serves_only_its_own(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let input = |pnid: &str, waba: &str, token: Option<&str>| {
        json!({ "i": { "phoneNumberId": pnid, "displayPhoneNumber": "+15550100200", "wabaId": waba,
            "portfolioId": "700100", "accessToken": token } })
    };
    let refusal = |body: &Value| {
        (error_code(body).to_owned(), body["errors"][0]["message"].as_str().unwrap_or_default().to_owned())
    };
    // No token: the operator's never serves a tenant's number.
    let body = l.app.graphql(Some(&l.t.token), CONNECT_WA, input("800200300400", "900200", None)).await;
    let (code, message) = refusal(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(message.contains("accessToken is required"), "{message}");
    // Several numbers in the WABA, listed one per page; the last is ours.
    l.fake.own_number("team-token", "800200300401", "900200");
    l.fake.own_number("team-token", "800200300402", "900200");
    l.fake.own_number("team-token", "800200300400", "900200");
    l.fake.own_number("elsewhere-token", "800777000001", "900777");
    // A token that cannot see the number.
    let body = l
        .app
        .graphql(Some(&l.t.token), CONNECT_WA, input("800200300400", "900200", Some("elsewhere-token")))
        .await;
    let (code, message) = refusal(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(message.contains("does not show this phoneNumberId"), "{message}");
    // A number the token sees, claimed under another WABA (one it can also see).
    l.fake.own_number("team-token", "800200300499", "900201");
    let body = l
        .app
        .graphql(Some(&l.t.token), CONNECT_WA, input("800200300400", "900201", Some("team-token")))
        .await;
    let (code, message) = refusal(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(message.contains("among the numbers of wabaId"), "{message}");
    assert_eq!(l.app.count("business_numbers").await, 1, "nothing refused was stored");
    // Proven: stored, and the WABA was read through its pages, with the token in the header only.
    let ok = l.app.ok(&l.t.token, CONNECT_WA, input("800200300400", "900200", Some("team-token"))).await;
    assert_eq!(ok["connectWhatsAppNumber"]["hasOwnAccessToken"], true);
    let pages: Vec<_> = l.fake.requests().into_iter().filter(|r| r.path == "/900200/phone_numbers").collect();
    assert!(pages.len() >= 3, "paged through paging.next: {} pages", pages.len());
    assert!(pages.iter().all(|r| r.authorization.as_deref() == Some("Bearer team-token")));
    assert!(l.fake.requests().iter().all(|r| !r.path.contains("team-token")), "never a token in a URL");

    // SMS: the account must own the number.
    l.fake.accept_sms_account("AC77", "t77");
    let sms = "mutation($i: ConnectSmsNumberInput!) { connectSmsNumber(input: $i) { id } }";
    let claim = json!({ "i": { "phoneNumber": "+15557770077", "accountSid": "AC77", "authToken": "t77" } });
    let body = l.app.graphql(Some(&l.t.token), sms, claim.clone()).await;
    let (code, message) = refusal(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(message.contains("does not list this phoneNumber"), "{message}");
    l.fake.own_sms_number("AC77", "+15557770077");
    l.app.ok(&l.t.token, sms, claim).await;

    // A number stored without a token of its own that the operator did not connect (a claim
    // from before numbers were proven): the operator's token does not send for it.
    let rogue = persistence::business_numbers::NewBusinessNumber {
        id: domain::BusinessNumberId::new(),
        workspace_id: l.t.workspace,
        phone_number_id: "800200300999",
        display_phone_number: &domain::PhoneNumber::parse("+15550100999").unwrap(),
        waba_id: "900999",
        portfolio_id: "700999",
        business_name: None,
        channel: domain::Channel::Whatsapp,
        access_token: None,
        sms_account: None,
        operator_connected: false,
    };
    let number = l
        .app
        .db
        .write(async |txn| persistence::business_numbers::create(txn, rogue, chrono::Utc::now()).await)
        .await
        .unwrap();
    let on_rogue = Tenant { number, ..l.t.clone() };
    let c = l.app.receive(&on_rogue, &Inbound::with_phone("16505550040", "US.40", "Jo")).await.to_string();
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hi\") { id } }";
    let sent = l.app.ok(&l.t.token, send, json!({ "c": c })).await["sendMessage"]["id"].clone();
    let failed = eventually("the refused send", || async {
        let query = "query($c: ID!) { conversation(id: $c) { messages(first: 5) { nodes { id status errorTitle } } } }";
        let data = l.app.ok(&l.t.token, query, json!({ "c": c })).await["conversation"].clone();
        data["messages"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == sent && m["status"] == "FAILED")
            .cloned()
    })
    .await;
    assert!(failed.to_string().contains("no access token of its own"), "{failed}");
    assert!(cloud_posts(&l.fake, "800200300999").is_empty(), "the operator's token was not used");
}

on_both_backends!(
    numbers_are_proven_with_the_provider_and_the_operators_token_serves_only_its_own,
    start_conversations_by_phone_or_contact_reusing_threads,
    start_conversation_refuses_usernames_and_wrong_shapes,
    read_state_is_per_agent_and_sends_one_receipt_per_read,
    read_receipts_can_be_turned_off,
    typing_indicators_need_an_open_window,
    snoozed_conversations_reopen_at_their_time_or_on_a_message,
    waking_is_exactly_once_across_processes,
    the_new_inbox_filters,
    each_number_uses_its_own_sealed_token,
    numbers_belong_to_one_workspace_and_disconnect_cleanly,
);
