//! Mutations: their effects, their events, and bad input on each.

use domain::AgentId;
use serde_json::json;

use crate::helpers::{Inbound, TestApp, error_code};

const CREATE_AGENT: &str =
    "mutation($input: CreateAgentInput!) { createAgent(input: $input) { id email name role active } }";
const CREATE_TEMPLATE: &str = "mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id name language category body } }";

async fn admins_create_agents_and_bad_input_is_refused(app: TestApp) {
    let t = app.tenant("Acme").await;
    let data = app
        .ok(
            &t.token,
            CREATE_AGENT,
            json!({ "input": { "email": " Ana@ACME.example.com ", "name": " Ana ", "role": "AGENT" } }),
        )
        .await;
    assert_eq!(data["createAgent"]["email"], "Ana@acme.example.com");
    assert_eq!(data["createAgent"]["name"], "Ana");
    assert_eq!(data["createAgent"]["active"], true);
    let cases = [
        (json!({ "email": "not-an-email", "name": "X", "role": "AGENT" }), "BAD_USER_INPUT"),
        (json!({ "email": "x@acme.example.com", "name": "   ", "role": "AGENT" }), "BAD_USER_INPUT"),
        (
            json!({ "email": "x@acme.example.com", "name": "x".repeat(201), "role": "AGENT" }),
            "BAD_USER_INPUT",
        ),
        (json!({ "email": "Ana@acme.example.com", "name": "Ana again", "role": "AGENT" }), "CONFLICT"),
    ];
    for (input, code) in cases {
        let body = app.graphql(Some(&t.token), CREATE_AGENT, json!({ "input": input })).await;
        assert_eq!(error_code(&body), code, "{input}");
    }
    let body = app
        .graphql(
            Some(&t.token),
            CREATE_AGENT,
            json!({ "input": { "email": "a@b.co", "name": "A", "role": "OWNER" } }),
        )
        .await;
    assert!(body["errors"].is_array(), "an unknown role is a validation error");

    let agent_id: AgentId = data["createAgent"]["id"].as_str().unwrap().parse().unwrap();
    let agent_token = app.token_for(agent_id, t.workspace);
    let body = app
        .graphql(
            Some(&agent_token),
            CREATE_AGENT,
            json!({ "input": { "email": "z@acme.example.com", "name": "Z", "role": "ADMIN" } }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
}

async fn admins_create_templates_and_bad_input_is_refused(app: TestApp) {
    let t = app.tenant("Acme").await;
    let input = json!({ "name": "order_update", "language": "en_US", "category": "UTILITY", "body": "Order {{1}} shipped." });
    let data = app.ok(&t.token, CREATE_TEMPLATE, json!({ "input": input })).await;
    assert_eq!(data["createTemplate"]["category"], "UTILITY");
    let listed = app.ok(&t.token, "{ templates { name language category } }", json!({})).await;
    assert_eq!(
        listed["templates"],
        json!([{ "name": "order_update", "language": "en_US", "category": "UTILITY" }])
    );
    let cases = [
        (
            json!({ "name": "Order Update", "language": "en", "category": "UTILITY", "body": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "name": "ok", "language": "english", "category": "UTILITY", "body": "x" }),
            "BAD_USER_INPUT",
        ),
        (json!({ "name": "ok", "language": "en", "category": "UTILITY", "body": " " }), "BAD_USER_INPUT"),
        (input.clone(), "CONFLICT"),
    ];
    for (input, code) in cases {
        let body = app.graphql(Some(&t.token), CREATE_TEMPLATE, json!({ "input": input })).await;
        assert_eq!(error_code(&body), code, "{input}");
    }
    let create = app
        .ok(
            &t.token,
            CREATE_AGENT,
            json!({ "input": { "email": "ag@acme.example.com", "name": "Ag", "role": "AGENT" } }),
        )
        .await;
    let agent_id: AgentId = create["createAgent"]["id"].as_str().unwrap().parse().unwrap();
    let agent_token = app.token_for(agent_id, t.workspace);
    let other = json!({ "name": "other", "language": "en", "category": "MARKETING", "body": "Hi" });
    let body = app.graphql(Some(&agent_token), CREATE_TEMPLATE, json!({ "input": other })).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
}

async fn conversation_mutations_write_events_and_refuse_bad_ids(app: TestApp) {
    let t = app.tenant("Acme").await;
    let id = app.receive(&t, &Inbound::hidden("US.1", "@someone", "Someone")).await;
    let events = "query($after: String) { events(after: $after, first: 50) { nodes { cursor type conversationId payload } } }";
    let before = app.ok(&t.token, events, json!({})).await;
    let before = before["events"]["nodes"].as_array().unwrap().clone();
    let types: Vec<&str> = before.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["conversation.created", "message.received"]);
    let last = before.last().unwrap()["cursor"].clone();

    let resolve = "mutation($id: ID!) { resolveConversation(conversationId: $id) { status } }";
    app.ok(&t.token, resolve, json!({ "id": id.to_string() })).await;
    app.ok(&t.token, resolve, json!({ "id": id.to_string() })).await; // no change, no event
    let reopen = "mutation($id: ID!) { reopenConversation(conversationId: $id) { status } }";
    let data = app.ok(&t.token, reopen, json!({ "id": id.to_string() })).await;
    assert_eq!(data["reopenConversation"]["status"], "OPEN");
    let after = app.ok(&t.token, events, json!({ "after": last })).await;
    let after = after["events"]["nodes"].as_array().unwrap();
    assert_eq!(after.len(), 2, "{after:#?}");
    for e in after {
        assert_eq!(e["type"], "conversation.updated");
        assert_eq!(e["conversationId"], id.to_string());
        let ce = &e["payload"];
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["datacontenttype"], "application/json");
        assert_eq!(ce["type"], "conversation.updated");
        assert_eq!(ce["data"]["customer"]["phoneNumber"], serde_json::Value::Null);
        assert!(ce["id"].is_string() && ce["source"].is_string() && ce["time"].is_string());
    }
    let cursors: Vec<i64> =
        before.iter().chain(after.iter()).map(|e| e["cursor"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(cursors, [1, 2, 3, 4], "cursors are gap-free and increasing");

    for mutation in [
        "mutation($id: ID!) { resolveConversation(conversationId: $id) { id } }",
        "mutation($id: ID!) { reopenConversation(conversationId: $id) { id } }",
        "mutation($id: ID!) { assignConversation(conversationId: $id) { id } }",
    ] {
        let body = app.graphql(Some(&t.token), mutation, json!({ "id": "not-an-id" })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{mutation}");
    }
    let assign =
        "mutation($id: ID!, $agent: ID) { assignConversation(conversationId: $id, agentId: $agent) { id } }";
    let body = app.graphql(Some(&t.token), assign, json!({ "id": id.to_string(), "agent": "zzz" })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let body = app
        .graphql(
            Some(&t.token),
            assign,
            json!({ "id": id.to_string(), "agent": uuid::Uuid::now_v7().to_string() }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let body = app.graphql(Some(&t.token), events, json!({ "after": "-3" })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let body = app.graphql(Some(&t.token), "{ events(types: [\"nope\"]) { nodes { id } } }", json!({})).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

async fn a_duplicate_message_changes_nothing_and_writes_no_event(app: TestApp) {
    let t = app.tenant("Acme").await;
    let message = Inbound::hidden("US.9", "@dup", "Dup");
    app.receive(&t, &message).await;
    let value = message.value(&t.number.phone_number_id);
    let contacts: Vec<api::inbound::whatsapp::payload::ContactInfo> =
        serde_json::from_value(value["contacts"].clone()).unwrap();
    let inbound = api::inbound::whatsapp::read::read_message(&value["messages"][0], &contacts).unwrap();
    let txn = app.db.begin().await.unwrap();
    let outcome = api::inbound::whatsapp::thread::record_inbound(
        &txn,
        &t.number,
        &inbound,
        chrono::Utc::now(),
        &app.keyring,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(outcome, api::inbound::whatsapp::thread::IngestOutcome::Duplicate);
    let data = app.ok(&t.token, "{ events(first: 50) { nodes { type } } }", json!({})).await;
    assert_eq!(data["events"]["nodes"].as_array().unwrap().len(), 2);
}

on_both!(
    admins_create_agents_and_bad_input_is_refused,
    admins_create_templates_and_bad_input_is_refused,
    conversation_mutations_write_events_and_refuse_bad_ids,
    a_duplicate_message_changes_nothing_and_writes_no_event,
);
