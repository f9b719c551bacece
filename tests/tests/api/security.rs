//! The second security pass (PRODUCT.md section 10): the roles table, query cost, hidden
//! phones in nested message ids and dead letters, dead-letter attribution, username-update
//! replays, force transfers across workspaces, and the metrics token.

use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{Backend, Inbound, TestApp, error_code, fixtures, spawn_with};

/// What the reference desktop's inbox asks for: 50 open conversations with everything a row
/// shows. It must stay within the default complexity limit.
pub const DESKTOP_INBOX: &str = "query Inbox($after: String) {
  conversations(first: 50, after: $after, filter: { status: OPEN }) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id channel status origin displayName createdAt updatedAt lastInboundAt lastActivityAt serviceWindowEndsAt
      businessNumber { id displayPhoneNumber username }
      customer { phoneNumber bsuid parentBsuid username profileName phoneHidden notice }
      contact { id name phoneNumber }
      assignee { id name }
      previousConversation { id }
      suggestedContact { id name }
      lastMessage { id direction kind text status createdAt }
      capabilities {
        reply { allowed reason } call { allowed reason } switchToSms { allowed reason }
        requestPhoneNumber { allowed reason } templates { category allowed reason }
      }
    }
  }
}";

/// A nested page of pages, and 99 aliased pages inside a page: each would fetch about a million
/// rows with ten thousand statements if run.
fn costly_queries() -> Vec<String> {
    let nested =
        "{ conversations(first: 100) { nodes { contact { conversations(first: 100) { nodes { id } } } } } }"
            .to_owned();
    let aliased: String =
        (0..99).map(|i| format!("m{i}: messages(first: 100) {{ nodes {{ id text }} }} ")).collect();
    vec![nested, format!("{{ conversations(first: 100) {{ nodes {{ {aliased} }} }} }}")]
}

async fn a_page_of_pages_is_refused_before_any_sql_runs(app: TestApp) {
    let t = app.tenant("Acme").await;
    for i in 0..3 {
        app.receive(&t, &Inbound::hidden(&format!("US.{i}"), &format!("@c{i}"), "C")).await;
    }
    let before = app.db.statement_count();
    app.ok(&t.token, "{ __typename }", json!({})).await;
    let authentication = app.db.statement_count() - before;
    for query in costly_queries() {
        let before = app.db.statement_count();
        let body = app.graphql(Some(&t.token), &query, json!({})).await;
        let spent = app.db.statement_count() - before;
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("complex"), "{body}");
        assert_eq!(spent, authentication, "nothing but the token check ran");
    }
    let inbox = app.ok(&t.token, DESKTOP_INBOX, json!({})).await;
    assert_eq!(inbox["conversations"]["nodes"].as_array().unwrap().len(), 3);

    let long = "a".repeat(201);
    for (query, variables) in [
        (
            "query($s: String) { conversations(filter: { search: $s }) { nodes { id } } }",
            json!({ "s": long }),
        ),
        ("query($s: String) { contacts(search: $s) { nodes { id } } }", json!({ "s": long })),
    ] {
        let body = app.graphql(Some(&t.token), query, variables).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let ok = app
        .graphql(
            Some(&t.token),
            "query($s: String) { contacts(search: $s) { nodes { id } } }",
            json!({ "s": "a".repeat(200) }),
        )
        .await;
    assert!(ok.get("errors").is_none(), "{ok}");
}

async fn every_role_may_do_what_the_table_says_and_nothing_more(app: TestApp) {
    let t = app.tenant("Acme").await;
    let (_, integration) = app.agent(&t, "INTEGRATION").await;
    let (agent_id, agent) = app.agent(&t, "AGENT").await;
    let phone = app.receive(&t, &Inbound::with_phone("16505551234", "US.99", "Pablo")).await;
    let hidden = app.receive(&t, &Inbound::hidden("US.1", "@one", "One")).await;
    let create = "mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id } }";
    let template = app
        .ok(
            &t.token,
            create,
            json!({ "i": { "name": "sale", "language": "en", "category": "MARKETING", "body": "Hi" } }),
        )
        .await["createTemplate"]["id"]
        .clone();
    let c = json!(phone.to_string());
    let reaching = [
        ("mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hi\") { id } }", json!({ "c": c })),
        (
            "mutation($c: ID!, $t: ID!) { sendTemplate(conversationId: $c, templateId: $t) { id } }",
            json!({ "c": c, "t": template }),
        ),
        (
            "mutation($c: ID!) { requestPhoneNumber(conversationId: $c) { id } }",
            json!({ "c": hidden.to_string() }),
        ),
        ("mutation($c: ID!) { startCall(conversationId: $c) { phoneNumber } }", json!({ "c": c })),
        (
            "mutation($c: ID!) { switchChannel(conversationId: $c, channel: SMS) { channel } }",
            json!({ "c": c }),
        ),
        (
            "mutation($c: ID!, $a: ID) { assignConversation(conversationId: $c, agentId: $a) { id } }",
            json!({ "c": c, "a": agent_id.to_string() }),
        ),
        ("mutation($c: ID!) { resolveConversation(conversationId: $c) { id } }", json!({ "c": c })),
        ("mutation($c: ID!) { reopenConversation(conversationId: $c) { id } }", json!({ "c": c })),
    ];
    let (messages, events) = (app.count("messages").await, app.count("events").await);
    for (query, variables) in &reaching {
        let body = app.graphql(Some(&integration), query, variables.clone()).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "an integration may not: {query}: {body}");
    }
    assert_eq!(app.count("messages").await, messages, "nothing was stored or sent");
    assert_eq!(app.count("events").await, events);
    for (query, variables) in &reaching {
        let body = app.graphql(Some(&agent), query, variables.clone()).await;
        assert!(body.get("errors").is_none(), "an agent may: {query}: {body}");
    }

    // An integration reads, reads the history, and creates and links contacts.
    app.ok(
        &integration,
        "{ events(after: \"0\", first: 5) { nodes { type } } conversations { nodes { id } } }",
        json!({}),
    )
    .await;
    let contact = "mutation($c: ID!) { createContact(conversationId: $c, input: { name: \"Crm\" }) { id } }";
    app.ok(&integration, contact, json!({ "c": hidden.to_string() })).await;

    // An agent does not administer, nor read the history.
    let suggestions = "query($n: ID!) { businessUsernameSuggestions(businessNumberId: $n) }";
    for (query, variables) in [
        (suggestions, json!({ "n": t.number.id.to_string() })),
        ("{ events(first: 5) { nodes { type } } }", json!({})),
        ("{ auditLog { action } }", json!({})),
        ("{ deadLetters { id } }", json!({})),
    ] {
        let body = app.graphql(Some(&agent), query, variables).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body}");
    }
}

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

async fn a_dead_letter_belongs_to_the_workspace_that_proved_its_waba_first(app: TestApp) {
    let alpha = app.tenant_with("Alpha", "100000000001", "300000000001").await;
    let beta = app.tenant_with("Beta", "100000000002", "300000000001").await; // the same WABA id
    let gamma = app.tenant_with("Gamma", "100000000003", "300000000003").await;
    for waba in ["300000000001", "300000000003"] {
        let value = Inbound::hidden("US.1", "@one", "One").value("999999999999");
        let (status, _) = app.post_webhook(&fixtures::webhook(waba, "messages", value)).await;
        assert_eq!(status, 200);
    }
    assert_eq!(app.count("dead_letters").await, 2);
    let query = "{ deadLetters { reason } }";
    // The WABA both claim: its dead letters stay with the workspace that proved it first.
    for (tenant, expected) in [(&alpha, 1), (&beta, 0), (&gamma, 1)] {
        let data = app.ok(&tenant.token, query, json!({})).await;
        assert_eq!(data["deadLetters"].as_array().unwrap().len(), expected, "{data}");
    }
}

fn username_update(waba: &str, username: &str, status: &str) -> Value {
    let value = json!({ "display_phone_number": fixtures::DISPLAY_PHONE_NUMBER, "username": username, "status": status });
    fixtures::webhook(waba, "business_username_update", value)
}

async fn a_replayed_username_update_changes_nothing(app: TestApp) {
    let t = app.tenant("Acme").await;
    let approved = username_update(&t.number.waba_id, "jaspers.market", "approved");
    assert_eq!(app.post_webhook(&approved).await.1["usernames"], 1);
    let deleted = username_update(&t.number.waba_id, "jaspers.market", "deleted");
    assert_eq!(app.post_webhook(&deleted).await.1["usernames"], 1);
    let events = app.count("events").await;
    let (status, summary) = app.post_webhook(&approved).await;
    assert_eq!((status, summary["usernames"].as_i64(), summary["ignored"].as_i64()), (200, Some(0), Some(1)));
    let data = app.ok(&t.token, "{ businessNumbers { username usernameStatus } }", json!({})).await;
    assert_eq!(
        data["businessNumbers"][0],
        json!({ "username": null, "usernameStatus": null }),
        "the replay undid nothing"
    );
    assert_eq!(app.count("events").await, events);
}

async fn force_transfer_never_takes_a_username_from_another_workspace(app: TestApp) {
    let alpha = app.tenant("Alpha").await;
    let beta = app.tenant("Beta").await;
    // Beta's number claims Alpha's portfolio.
    let new = persistence::business_numbers::NewBusinessNumber {
        id: domain::BusinessNumberId::new(),
        workspace_id: beta.workspace,
        phone_number_id: "777000111222",
        display_phone_number: &domain::PhoneNumber::parse("+15550003333").unwrap(),
        waba_id: &alpha.number.waba_id,
        portfolio_id: &alpha.number.portfolio_id,
        business_name: None,
        channel: domain::Channel::Whatsapp,
        access_token: None,
        sms_account: None,
        operator_connected: true,
    };
    let claimed =
        persistence::business_numbers::create(app.db.conn(), new, chrono::Utc::now()).await.unwrap();
    let set = "mutation($n: ID!, $u: String!, $t: TransferAction) { setBusinessUsername(businessNumberId: $n, username: $u, transferAction: $t) { username } }";
    app.ok(&alpha.token, set, json!({ "n": alpha.number.id.to_string(), "u": "acme" })).await;
    let events = app.count("events").await;
    let body = app
        .graphql(
            Some(&beta.token),
            set,
            json!({ "n": claimed.id.to_string(), "u": "acme", "t": "FORCE_TRANSFER" }),
        )
        .await;
    assert_eq!(
        (error_code(&body), body["errors"][0]["extensions"]["whatsappCode"].as_i64()),
        ("CONFLICT", Some(147001))
    );
    assert_eq!(app.count("events").await, events, "nothing changed in either workspace");
    let numbers = app.ok(&alpha.token, "{ businessNumbers { username } }", json!({})).await;
    assert_eq!(numbers["businessNumbers"][0]["username"], "acme");
    let audit = app.ok(&beta.token, "{ auditLog { action subjectId details } }", json!({})).await;
    assert!(!audit.to_string().contains(&alpha.number.id.to_string()), "{audit}");
}

on_both!(
    a_page_of_pages_is_refused_before_any_sql_runs,
    every_role_may_do_what_the_table_says_and_nothing_more,
    no_stored_value_reveals_a_hidden_customers_phone,
    a_dead_letter_belongs_to_the_workspace_that_proved_its_waba_first,
    a_replayed_username_update_changes_nothing,
    force_transfer_never_takes_a_username_from_another_workspace,
);

async fn metrics_need_the_token_when_one_is_set(backend: Backend) {
    let Some(app) =
        spawn_with(backend, |config| config.metrics_token = Some("metrics-token-1".to_owned().into())).await
    else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let get = |token: Option<&'static str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some("wrong")).await.unwrap().status(), 401);
    let ok = get(Some("metrics-token-1")).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("parley_"));
}

on_both_backends!(metrics_need_the_token_when_one_is_set);
