//! Tenant isolation: an agent of workspace B never sees or touches workspace A's data, and
//! A's ids answer exactly like ids that do not exist.

use serde_json::json;

use crate::helpers::{Inbound, TestApp, error_code};

async fn another_workspace_sees_nothing_by_list_id_or_search(app: TestApp) {
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    let secret = app.receive(&a, &Inbound::hidden("US.42", "@alpha_customer", "Alpha Customer")).await;
    app.receive(&b, &Inbound::hidden("US.43", "@beta_customer", "Beta Customer")).await;

    let list = "{ conversations(first: 50) { nodes { id displayName } } }";
    let data = app.ok(&b.token, list, json!({})).await;
    let nodes = data["conversations"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["displayName"], "Beta Customer");

    let search = "query($s: String) { conversations(filter: { search: $s }) { nodes { id } } }";
    for s in ["@alpha", "Alpha", "alpha_customer"] {
        let data = app.ok(&b.token, search, json!({ "s": s })).await;
        assert!(data["conversations"]["nodes"].as_array().unwrap().is_empty(), "search {s}");
    }
    let contacts = "query($s: String) { contacts(search: $s) { nodes { id } } }";
    let data = app.ok(&b.token, contacts, json!({ "s": "alpha" })).await;
    assert!(data["contacts"]["nodes"].as_array().unwrap().is_empty());

    let missing = uuid::Uuid::now_v7().to_string();
    for id in [secret.to_string(), missing] {
        let by_id = "query($id: ID!) { conversation(id: $id) { id } }";
        let body = app.graphql(Some(&b.token), by_id, json!({ "id": id })).await;
        assert_eq!(error_code(&body), "NOT_FOUND");
        assert_eq!(body["errors"][0]["message"], "conversation not found", "same answer as a missing id");
        for mutation in [
            "mutation($id: ID!) { resolveConversation(conversationId: $id) { id } }",
            "mutation($id: ID!) { reopenConversation(conversationId: $id) { id } }",
            "mutation($id: ID!) { assignConversation(conversationId: $id) { id } }",
        ] {
            let body = app.graphql(Some(&b.token), mutation, json!({ "id": id })).await;
            assert_eq!(error_code(&body), "NOT_FOUND", "{mutation}");
        }
    }
    let by_contact = "query($id: ID!) { contact(id: $id) { id } }";
    let body = app.graphql(Some(&b.token), by_contact, json!({ "id": secret.to_string() })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");

    // B cannot assign its conversation to an agent of A.
    let data = app.ok(&b.token, list, json!({})).await;
    let b_conversation = data["conversations"]["nodes"][0]["id"].clone();
    let assign =
        "mutation($id: ID!, $agent: ID) { assignConversation(conversationId: $id, agentId: $agent) { id } }";
    let body = app
        .graphql(Some(&b.token), assign, json!({ "id": b_conversation, "agent": a.admin.to_string() }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");

    // A's conversation is untouched.
    let by_id = "query($id: ID!) { conversation(id: $id) { status assignee { id } } }";
    let data = app.ok(&a.token, by_id, json!({ "id": secret.to_string() })).await;
    assert_eq!(data["conversation"]["status"], "OPEN");

    // Events are per workspace.
    let events = "{ events(first: 100) { nodes { conversationId } } }";
    let data = app.ok(&b.token, events, json!({})).await;
    for event in data["events"]["nodes"].as_array().unwrap() {
        assert_ne!(event["conversationId"], secret.to_string());
    }
    let agents =
        app.ok(&b.token, "{ agents { id } businessNumbers { id } templates { id } }", json!({})).await;
    assert_eq!(agents["agents"].as_array().unwrap().len(), 1);
    assert_eq!(agents["businessNumbers"][0]["id"], b.number.id.to_string());
}

on_both!(another_workspace_sees_nothing_by_list_id_or_search);
