//! Who may do what (PRODUCT.md section 10): every role against the roles table, and the
//! metrics endpoint's token.

use serde_json::json;

use crate::helpers::{Backend, Inbound, TestApp, error_code, spawn_with};

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

on_both!(every_role_may_do_what_the_table_says_and_nothing_more,);

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
