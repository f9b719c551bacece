//! The team workflow (PRODUCT.md section 13): notes, labels, teams with membership-checked
//! assignment, canned responses, and admins changing agents — with the roles of section 10.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Inbound, Tenant, TestApp, error_code};
use crate::ws::{closed_with, connect, subscribe_as};

const CONVERSATION: &str = "query($c: ID!) { conversation(id: $c) { id lastInboundAt serviceWindowEndsAt \
    unreadCount assignee { id } team { id name members { id } } labels { id name color } \
    lastMessage { direction kind } \
    messages(first: 10) { nodes { id direction kind text status externalId author { id name } } } } }";

async fn conversation(app: &TestApp, token: &str, id: &str) -> Value {
    app.ok(token, CONVERSATION, json!({ "c": id })).await["conversation"].clone()
}

/// Events of the given types, oldest first.
async fn events(app: &TestApp, t: &Tenant, types: &[&str]) -> Vec<Value> {
    let query =
        "query($t: [String!]) { events(first: 100, types: $t) { nodes { type conversationId payload } } }";
    app.ok(&t.token, query, json!({ "t": types })).await["events"]["nodes"].as_array().unwrap().clone()
}

async fn create_label(app: &TestApp, token: &str, name: &str) -> Value {
    let create = "mutation($i: CreateLabelInput!) { createLabel(input: $i) { id name color } }";
    app.graphql(Some(token), create, json!({ "i": { "name": name, "color": "#FF8800" } })).await
}

async fn create_team(app: &TestApp, token: &str, name: &str) -> Value {
    let create = "mutation($i: CreateTeamInput!) { createTeam(input: $i) { id name members { id } } }";
    app.graphql(Some(token), create, json!({ "i": { "name": name } })).await
}

const ASSIGN: &str = "mutation($c: ID!, $a: ID, $t: ID) { assignConversation(conversationId: $c, agentId: $a, teamId: $t) { id assignee { id } team { id } } }";
const ASSIGN_AGENT_ONLY: &str = "mutation($c: ID!, $a: ID) { assignConversation(conversationId: $c, agentId: $a) { id assignee { id } team { id } } }";

async fn notes_are_internal_and_change_nothing_for_the_customer(app: TestApp) {
    let t = app.tenant("Acme").await;
    let c = app.receive(&t, &Inbound::with_phone("16505550101", "US.101", "Ada")).await.to_string();
    let read = "mutation($c: ID!) { markConversationRead(conversationId: $c) { unreadCount } }";
    app.ok(&t.token, read, json!({ "c": c })).await;
    let before = conversation(&app, &t.token, &c).await;

    let (agent, token) = app.agent(&t, "AGENT").await;
    let add = "mutation($c: ID!, $x: String!) { addNote(conversationId: $c, text: $x) { id direction kind text status externalId author { id } } }";
    let note = app.ok(&token, add, json!({ "c": c, "x": "  Customer is a VIP, call back before 5  " })).await
        ["addNote"]
        .clone();
    assert_eq!(note["direction"], "INTERNAL");
    assert_eq!(note["kind"], "note");
    assert_eq!(note["text"], "Customer is a VIP, call back before 5");
    assert_eq!(note["author"]["id"], agent.to_string());
    assert!(note["externalId"].is_null());

    tokio::time::sleep(Duration::from_millis(600)).await; // the delivery worker had its chance
    let after = conversation(&app, &t.token, &c).await;
    assert_eq!(after["unreadCount"], 0, "a note is nobody's unread message");
    assert_eq!(after["lastInboundAt"], before["lastInboundAt"]);
    assert_eq!(after["serviceWindowEndsAt"], before["serviceWindowEndsAt"]);
    let stored = &after["messages"]["nodes"][0];
    assert_eq!((stored["direction"].as_str(), stored["status"].as_str()), (Some("INTERNAL"), Some("SENT")));
    assert!(stored["externalId"].is_null(), "never sent");
    let inbound = &after["messages"]["nodes"][1];
    assert!(inbound["author"].is_null(), "the customer's message has no agent author");

    let added = events(&app, &t, &["note.added", "message.sent"]).await;
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0]["type"], "note.added");
    assert_eq!(added[0]["payload"]["data"]["authorId"], agent.to_string());

    // Bad input stores nothing; INTEGRATION does not work conversations; other workspaces' are unknown.
    let count = app.count("messages").await;
    assert_eq!(
        error_code(&app.graphql(Some(&token), add, json!({ "c": c, "x": "   " })).await),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        error_code(&app.graphql(Some(&token), add, json!({ "c": c, "x": "a\u{0}b" })).await),
        "BAD_USER_INPUT"
    );
    let long = "x".repeat(4097);
    assert_eq!(
        error_code(&app.graphql(Some(&token), add, json!({ "c": c, "x": long })).await),
        "BAD_USER_INPUT"
    );
    let (_, integration) = app.agent(&t, "INTEGRATION").await;
    assert_eq!(
        error_code(&app.graphql(Some(&integration), add, json!({ "c": c, "x": "hi" })).await),
        "FORBIDDEN"
    );
    let other = app.tenant("Other").await;
    assert_eq!(
        error_code(&app.graphql(Some(&other.token), add, json!({ "c": c, "x": "hi" })).await),
        "NOT_FOUND"
    );
    assert_eq!(app.count("messages").await, count);
}

async fn labels_are_unique_per_workspace_and_filter_the_inbox(app: TestApp) {
    let t = app.tenant("Acme").await;
    let billing = create_label(&app, &t.token, "Billing").await;
    let billing = billing["data"]["createLabel"]["id"].as_str().unwrap().to_owned();
    let vip =
        create_label(&app, &t.token, "VIP").await["data"]["createLabel"]["id"].as_str().unwrap().to_owned();
    assert_eq!(error_code(&create_label(&app, &t.token, "  billing ").await), "CONFLICT");
    let bad = "mutation { createLabel(input: { name: \"Red\", color: \"red\" }) { id } }";
    assert_eq!(error_code(&app.graphql(Some(&t.token), bad, json!({})).await), "BAD_USER_INPUT");
    let (_, agent) = app.agent(&t, "AGENT").await;
    assert_eq!(error_code(&create_label(&app, &agent, "Mine").await), "FORBIDDEN");
    let listed = app.ok(&agent, "{ labels { name color } }", json!({})).await;
    assert_eq!(
        listed["labels"],
        json!([{ "name": "Billing", "color": "#ff8800" }, { "name": "VIP", "color": "#ff8800" }])
    );

    let a = app.receive(&t, &Inbound::with_phone("16505550201", "US.201", "A")).await.to_string();
    let b = app.receive(&t, &Inbound::hidden("US.202", "@bee", "B")).await.to_string();
    app.receive(&t, &Inbound::hidden("US.203", "@cee", "C")).await;
    let add =
        "mutation($c: ID!, $l: ID!) { addLabel(conversationId: $c, labelId: $l) { id labels { name } } }";
    let remove =
        "mutation($c: ID!, $l: ID!) { removeLabel(conversationId: $c, labelId: $l) { id labels { name } } }";
    app.ok(&agent, add, json!({ "c": a, "l": billing })).await;
    let twice = app.ok(&agent, add, json!({ "c": a, "l": billing })).await;
    assert_eq!(twice["addLabel"]["labels"], json!([{ "name": "Billing" }]), "a label is carried once");
    app.ok(&agent, add, json!({ "c": a, "l": vip })).await;
    app.ok(&agent, add, json!({ "c": b, "l": vip })).await;
    assert_eq!(
        conversation(&app, &agent, &a).await["labels"].as_array().unwrap().len(),
        2,
        "Billing and VIP"
    );

    let inbox = "query($f: ConversationFilter) { conversations(first: 10, filter: $f) { nodes { id } } }";
    let ids = |data: Value| -> Vec<String> {
        data["conversations"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(app.ok(&agent, inbox, json!({ "f": { "labelIds": [billing] } })).await), vec![a.clone()]);
    let mut both = ids(app.ok(&agent, inbox, json!({ "f": { "labelIds": [billing, vip] } })).await);
    both.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(both, expected, "any of the labels");

    let after = app.ok(&agent, remove, json!({ "c": a, "l": billing })).await;
    assert_eq!(after["removeLabel"]["labels"], json!([{ "name": "VIP" }]));
    app.ok(&agent, remove, json!({ "c": a, "l": billing })).await; // not carried: nothing changes
    assert!(ids(app.ok(&agent, inbox, json!({ "f": { "labelIds": [billing] } })).await).is_empty());

    // Three changes, three events; the repeated add and remove wrote none.
    let updates: Vec<Value> = events(&app, &t, &["conversation.updated"]).await;
    let labelled: Vec<&Value> =
        updates.iter().filter(|e| e["payload"]["data"]["labelIds"].is_array()).collect();
    assert_eq!(labelled.len(), 4, "{updates:?}");
    assert_eq!(labelled[3]["payload"]["data"]["labelIds"], json!([vip]));

    // Another workspace's label or conversation is unknown; a bad id is bad input.
    let other = app.tenant("Other").await;
    let foreign = create_label(&app, &other.token, "Billing").await; // same name, other workspace: fine
    let foreign = foreign["data"]["createLabel"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        error_code(&app.graphql(Some(&agent), add, json!({ "c": a, "l": foreign })).await),
        "NOT_FOUND"
    );
    assert_eq!(
        error_code(&app.graphql(Some(&other.token), add, json!({ "c": a, "l": foreign })).await),
        "NOT_FOUND"
    );
    let filter = json!({ "f": { "labelIds": [foreign] } });
    assert!(
        ids(app.ok(&agent, inbox, filter).await).is_empty(),
        "another workspace's label filters to nothing"
    );
    let body = app.graphql(Some(&agent), inbox, json!({ "f": { "labelIds": ["nope"] } })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let many: Vec<String> = (0..21).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let body = app.graphql(Some(&agent), inbox, json!({ "f": { "labelIds": many } })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "a list field is bounded");
    let (_, integration) = app.agent(&t, "INTEGRATION").await;
    assert_eq!(
        error_code(&app.graphql(Some(&integration), add, json!({ "c": b, "l": billing })).await),
        "FORBIDDEN"
    );
}

async fn teams_route_conversations_and_assignment_checks_membership(app: TestApp) {
    let t = app.tenant("Acme").await;
    let support =
        create_team(&app, &t.token, "Support").await["data"]["createTeam"]["id"].as_str().unwrap().to_owned();
    let sales =
        create_team(&app, &t.token, "Sales").await["data"]["createTeam"]["id"].as_str().unwrap().to_owned();
    assert_eq!(error_code(&create_team(&app, &t.token, "SUPPORT").await), "CONFLICT");
    let (ann, ann_token) = app.agent(&t, "AGENT").await;
    let (bob, _) = app.agent(&t, "AGENT").await;
    assert_eq!(error_code(&create_team(&app, &ann_token, "Mine").await), "FORBIDDEN");
    let member =
        "mutation($t: ID!, $a: ID!) { addTeamMember(teamId: $t, agentId: $a) { id members { id } } }";
    let unmember =
        "mutation($t: ID!, $a: ID!) { removeTeamMember(teamId: $t, agentId: $a) { id members { id } } }";
    app.ok(&t.token, member, json!({ "t": support, "a": ann.to_string() })).await;
    let team = app.ok(&t.token, member, json!({ "t": support, "a": ann.to_string() })).await;
    assert_eq!(team["addTeamMember"]["members"], json!([{ "id": ann.to_string() }]), "a member once");
    assert_eq!(
        error_code(
            &app.graphql(Some(&ann_token), member, json!({ "t": support, "a": bob.to_string() })).await
        ),
        "FORBIDDEN"
    );
    let teams = app.ok(&ann_token, "{ teams { name members { id } } }", json!({})).await;
    assert_eq!(
        teams["teams"],
        json!([{ "name": "Sales", "members": [] }, { "name": "Support", "members": [{ "id": ann.to_string() }] }])
    );

    let c = app.receive(&t, &Inbound::hidden("US.301", "@dee", "D")).await.to_string();
    let d = app.receive(&t, &Inbound::hidden("US.302", "@eve", "E")).await.to_string();
    // An agent given with a team must be its member; nothing is half-applied.
    let body =
        app.graphql(Some(&ann_token), ASSIGN, json!({ "c": c, "a": bob.to_string(), "t": support })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let now = conversation(&app, &ann_token, &c).await;
    assert!(now["assignee"].is_null() && now["team"].is_null(), "{now}");
    let done = app.ok(&ann_token, ASSIGN, json!({ "c": c, "a": ann.to_string(), "t": support })).await;
    assert_eq!(done["assignConversation"]["team"]["id"], support.as_str());
    assert_eq!(done["assignConversation"]["assignee"]["id"], ann.to_string());
    // Without teamId the team stays; an explicit null takes it off.
    let kept = app.ok(&ann_token, ASSIGN_AGENT_ONLY, json!({ "c": c, "a": bob.to_string() })).await;
    assert_eq!(kept["assignConversation"]["team"]["id"], support.as_str());
    assert_eq!(kept["assignConversation"]["assignee"]["id"], bob.to_string());
    let team_only = app.ok(&ann_token, ASSIGN, json!({ "c": d, "a": null, "t": sales })).await;
    assert!(team_only["assignConversation"]["assignee"].is_null());

    let inbox = "query($f: ConversationFilter) { conversations(first: 10, filter: $f) { nodes { id team { name members { id } } } } }";
    let found = app.ok(&ann_token, inbox, json!({ "f": { "teamId": support } })).await;
    assert_eq!(
        found["conversations"]["nodes"],
        json!([{ "id": c, "team": { "name": "Support", "members": [{ "id": ann.to_string() }] } }])
    );
    let found = app.ok(&ann_token, inbox, json!({ "f": { "teamId": sales, "unassigned": true } })).await;
    assert_eq!(found["conversations"]["nodes"][0]["id"], d.as_str());
    let found = app.ok(&ann_token, inbox, json!({ "f": { "assigneeId": bob.to_string() } })).await;
    assert_eq!(found["conversations"]["nodes"].as_array().unwrap().len(), 1);

    let cleared = app.ok(&ann_token, ASSIGN, json!({ "c": c, "a": null, "t": null })).await;
    assert!(
        cleared["assignConversation"]["team"].is_null()
            && cleared["assignConversation"]["assignee"].is_null()
    );
    let assigned: Vec<Value> = events(&app, &t, &["conversation.updated"]).await;
    assert_eq!(assigned.len(), 4, "each change one event; {assigned:?}");
    assert_eq!(assigned[0]["payload"]["data"]["teamId"], support.as_str());

    let left = app.ok(&t.token, unmember, json!({ "t": support, "a": ann.to_string() })).await;
    assert_eq!(left["removeTeamMember"]["members"], json!([]));
    let body =
        app.graphql(Some(&ann_token), ASSIGN, json!({ "c": c, "a": ann.to_string(), "t": support })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "no longer a member");

    // Another workspace's team or agent is unknown; INTEGRATION does not assign.
    let other = app.tenant("Other").await;
    let foreign = create_team(&app, &other.token, "Support").await["data"]["createTeam"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app.graphql(Some(&ann_token), ASSIGN, json!({ "c": c, "a": null, "t": foreign })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let body =
        app.graphql(Some(&t.token), member, json!({ "t": support, "a": other.admin.to_string() })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let body =
        app.graphql(Some(&other.token), member, json!({ "t": support, "a": other.admin.to_string() })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (_, integration) = app.agent(&t, "INTEGRATION").await;
    let body = app.graphql(Some(&integration), ASSIGN, json!({ "c": c, "a": null, "t": support })).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
}

async fn canned_responses_are_saved_found_and_deleted_by_admins(app: TestApp) {
    let t = app.tenant("Acme").await;
    let create =
        "mutation($i: CreateCannedResponseInput!) { createCannedResponse(input: $i) { id shortCode text } }";
    let saved = app
        .ok(
            &t.token,
            create,
            json!({ "i": { "shortCode": "refund", "text": "Refunds take 5 working days." } }),
        )
        .await["createCannedResponse"]
        .clone();
    assert_eq!(saved["shortCode"], "refund");
    app.ok(
        &t.token,
        create,
        json!({ "i": { "shortCode": "hours", "text": "We answer 9 to 5, Monday to Friday." } }),
    )
    .await;
    let dup =
        app.graphql(Some(&t.token), create, json!({ "i": { "shortCode": "REFUND", "text": "x" } })).await;
    assert_eq!(error_code(&dup), "CONFLICT");
    let bad =
        app.graphql(Some(&t.token), create, json!({ "i": { "shortCode": "two words", "text": "x" } })).await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let empty =
        app.graphql(Some(&t.token), create, json!({ "i": { "shortCode": "empty", "text": " " } })).await;
    assert_eq!(error_code(&empty), "BAD_USER_INPUT");
    let (_, agent) = app.agent(&t, "AGENT").await;
    let forbidden =
        app.graphql(Some(&agent), create, json!({ "i": { "shortCode": "mine", "text": "x" } })).await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");

    let list = "query($s: String) { cannedResponses(search: $s) { shortCode } }";
    let codes = |data: Value| -> Vec<String> {
        data["cannedResponses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["shortCode"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(codes(app.ok(&agent, list, json!({ "s": null })).await), vec!["hours", "refund"]);
    assert_eq!(codes(app.ok(&agent, list, json!({ "s": "REF" })).await), vec!["refund"], "short-code prefix");
    assert_eq!(codes(app.ok(&agent, list, json!({ "s": "monday" })).await), vec!["hours"], "text");
    assert_eq!(codes(app.ok(&agent, list, json!({ "s": "100%" })).await), Vec::<String>::new(), "literal %");
    let long = "x".repeat(201);
    assert_eq!(error_code(&app.graphql(Some(&agent), list, json!({ "s": long })).await), "BAD_USER_INPUT");

    let delete = "mutation($id: ID!) { deleteCannedResponse(id: $id) }";
    let id = saved["id"].as_str().unwrap();
    assert_eq!(error_code(&app.graphql(Some(&agent), delete, json!({ "id": id })).await), "FORBIDDEN");
    let other = app.tenant("Other").await;
    assert_eq!(error_code(&app.graphql(Some(&other.token), delete, json!({ "id": id })).await), "NOT_FOUND");
    assert_eq!(app.ok(&t.token, delete, json!({ "id": id })).await["deleteCannedResponse"], true);
    assert_eq!(error_code(&app.graphql(Some(&t.token), delete, json!({ "id": id })).await), "NOT_FOUND");
    assert_eq!(codes(app.ok(&agent, list, json!({ "s": null })).await), vec!["hours"]);
    // The short code is free again.
    app.ok(&t.token, create, json!({ "i": { "shortCode": "refund", "text": "Refunds take 3 days now." } }))
        .await;
}

async fn admins_change_agents_and_the_last_admin_stays(app: TestApp) {
    let t = app.tenant("Acme").await;
    let update = "mutation($id: ID!, $i: UpdateAgentInput!) { updateAgent(id: $id, input: $i) { id name role active } }";
    let (agent, agent_token) = app.agent(&t, "AGENT").await;
    let renamed =
        app.ok(&t.token, update, json!({ "id": agent.to_string(), "i": { "name": "  Ann Lee " } })).await;
    assert_eq!(
        renamed["updateAgent"],
        json!({ "id": agent.to_string(), "name": "Ann Lee", "role": "AGENT", "active": true })
    );
    let body = app
        .graphql(Some(&agent_token), update, json!({ "id": agent.to_string(), "i": { "role": "ADMIN" } }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "no one promotes themself");
    let body =
        app.graphql(Some(&t.token), update, json!({ "id": agent.to_string(), "i": { "name": "" } })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let other = app.tenant("Other").await;
    let body = app
        .graphql(Some(&other.token), update, json!({ "id": agent.to_string(), "i": { "active": false } }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");

    // The sole admin can neither deactivate nor demote itself; nothing of the change applies.
    for change in [json!({ "active": false, "name": "Gone" }), json!({ "role": "AGENT", "name": "Gone" })] {
        let body =
            app.graphql(Some(&t.token), update, json!({ "id": t.admin.to_string(), "i": change })).await;
        assert_eq!(error_code(&body), "CONFLICT", "{body}");
    }
    let me = app.ok(&t.token, "{ me { name role active } }", json!({})).await;
    assert_ne!(me["me"]["name"], "Gone");
    assert_eq!((me["me"]["role"].as_str(), me["me"]["active"].as_bool()), (Some("ADMIN"), Some(true)));

    // With a second admin, the first may step down.
    let (second, second_token) = app.agent(&t, "ADMIN").await;
    app.ok(&t.token, update, json!({ "id": t.admin.to_string(), "i": { "role": "AGENT" } })).await;
    let body = app
        .graphql(Some(&second_token), update, json!({ "id": second.to_string(), "i": { "active": false } }))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "now the second is the last");

    // A deactivated agent's token stops at once, and its open socket within seconds.
    let (mut socket, ack) = connect(&app, Some(&agent_token)).await;
    assert_eq!(ack["type"], "connection_ack");
    subscribe_as(&mut socket, "live", None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    app.ok(&second_token, update, json!({ "id": agent.to_string(), "i": { "active": false } })).await;
    let body = app.graphql(Some(&agent_token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert_eq!(closed_with(&mut socket, Duration::from_secs(5)).await, Some(4403));
    assert!(started.elapsed() <= Duration::from_secs(5));

    let log = app.ok(&second_token, "{ auditLog(first: 50) { action subjectId details } }", json!({})).await;
    let updates: Vec<&Value> =
        log["auditLog"].as_array().unwrap().iter().filter(|e| e["action"] == "agent.updated").collect();
    assert_eq!(updates.len(), 3, "rename, step down, deactivation; refusals leave no entry: {updates:?}");
    assert_eq!(updates[0]["subjectId"], agent.to_string());
    assert_eq!(updates[0]["details"]["active"], false);
}

on_both!(
    notes_are_internal_and_change_nothing_for_the_customer,
    labels_are_unique_per_workspace_and_filter_the_inbox,
    teams_route_conversations_and_assignment_checks_membership,
    canned_responses_are_saved_found_and_deleted_by_admins,
    admins_change_agents_and_the_last_admin_stays,
);
