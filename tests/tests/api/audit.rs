//! The audit trail: who linked, unlinked, relinked, assigned, changed a business username or a
//! webhook endpoint, and when — for admins only.

use serde_json::json;

use crate::helpers::{Inbound, TestApp, error_code};

async fn admins_see_who_did_what_and_when(app: TestApp) {
    let t = app.tenant("Acme").await;
    let c = app.receive(&t, &Inbound::hidden("US.1", "@one", "One")).await;
    let d = app.receive(&t, &Inbound::hidden("US.2", "@two", "Two")).await;
    let id = c.to_string();
    app.ok(
        &t.token,
        "mutation($c: ID!, $a: ID) { assignConversation(conversationId: $c, agentId: $a) { id } }",
        json!({ "c": id, "a": t.admin.to_string() }),
    )
    .await;
    let create = "mutation($c: ID!) { createContact(conversationId: $c, input: { name: \"X\" }) { id } }";
    app.ok(&t.token, create, json!({ "c": id })).await;
    let other = app.ok(&t.token, create, json!({ "c": d.to_string() })).await;
    app.ok(
        &t.token,
        "mutation($c: ID!, $k: ID!) { linkToExisting(conversationId: $c, contactId: $k) { id } }",
        json!({ "c": id, "k": other["createContact"]["id"] }),
    )
    .await;
    app.ok(&t.token, "mutation($c: ID!) { unlinkContact(conversationId: $c) { id } }", json!({ "c": id }))
        .await;
    app.ok(
        &t.token,
        "mutation($n: ID!) { setBusinessUsername(businessNumberId: $n, username: \"acme_help\") { status } }",
        json!({ "n": t.number.id.to_string() }),
    )
    .await;
    let endpoint = app.ok(&t.token, "mutation { createWebhookEndpoint(input: { url: \"https://crm.example.com/h\", eventTypes: [] }) { endpoint { id } } }", json!({})).await;
    app.ok(
        &t.token,
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        json!({ "id": endpoint["createWebhookEndpoint"]["endpoint"]["id"] }),
    )
    .await;

    let log = app
        .ok(
            &t.token,
            "{ auditLog(first: 50) { action agentId subjectType subjectId details occurredAt } }",
            json!({}),
        )
        .await;
    let entries = log["auditLog"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().rev().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "conversation.assigned",
            "contact.created",
            "conversation.linked",
            "contact.created",
            "conversation.linked",
            "conversation.unlinked",
            "conversation.linked",
            "conversation.unlinked",
            "business_username.set",
            "webhook_endpoint.created",
            "webhook_endpoint.deleted",
        ],
        "relinking shows as unlinked + linked"
    );
    assert!(entries.iter().all(|e| e["agentId"] == t.admin.to_string() && e["occurredAt"].is_string()));
    let set = entries.iter().find(|e| e["action"] == "business_username.set").unwrap();
    assert_eq!(set["details"]["username"], "acme_help");

    let agent = app.ok(&t.token, "mutation { createAgent(input: { email: \"a@acme.example.com\", name: \"A\", role: AGENT }) { id } }", json!({})).await;
    let token = app.token_for(agent["createAgent"]["id"].as_str().unwrap().parse().unwrap(), t.workspace);
    assert_eq!(
        error_code(&app.graphql(Some(&token), "{ auditLog { action } }", json!({})).await),
        "FORBIDDEN"
    );
    let other = app.tenant("Other").await;
    let theirs = app.ok(&other.token, "{ auditLog { action } }", json!({})).await;
    assert_eq!(theirs["auditLog"], json!([]), "no workspace sees another's trail");
}

on_both!(admins_see_who_did_what_and_when);
