//! Long-lived connections (PRODUCT.md section 10): a WebSocket authenticates once, but every
//! operation on it is authorised with the agent's role and state at that moment, with its own
//! clock, dataloaders and time limit; the server closes it (`4403`) within 5 s of the agent's
//! deactivation, of a demotion below what an open subscription needs, or of the token's expiry;
//! an AGENT gets live events only, and a socket holds at most 50 subscriptions.

use std::time::{Duration, Instant};

use chrono::Utc;
use domain::Role;
use persistence::agents::AgentChange;
use serde_json::{Value, json};

use crate::helpers::{Backend, Inbound, TestApp, error_code, spawn_with};
use crate::ws::{Socket, closed_with, connect, next_message, operate, subscribe_as};

/// The socket's answer to subscription `id`: its first `next` payload or its `error`.
async fn answer_to(socket: &mut Socket, id: &str) -> Value {
    loop {
        let reply = next_message(socket).await.unwrap_or_else(|| panic!("no answer to {id}"));
        if reply["id"] == id {
            match reply["type"].as_str() {
                Some("error") => return json!({ "errors": reply["payload"] }),
                Some("next") => return reply["payload"].clone(),
                _ => {}
            }
        }
    }
}

async fn a_socket_is_closed_within_five_seconds_of_deactivation_demotion_or_expiry(app: TestApp) {
    let t = app.tenant("Acme").await;

    // Demoted below what an open subscription (the history, `after`) needs.
    let (admin, token) = app.agent(&t, "ADMIN").await;
    let (mut socket, ack) = connect(&app, Some(&token)).await;
    assert_eq!(ack["type"], "connection_ack");
    subscribe_as(&mut socket, "history", Some("0")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    app.change_agent(&t, admin, AgentChange { role: Some(Role::Agent), ..AgentChange::default() }).await;
    assert_eq!(closed_with(&mut socket, Duration::from_secs(5)).await, Some(4403), "closed after demotion");
    assert!(started.elapsed() <= Duration::from_secs(5));

    // Deactivated, with only a live subscription open.
    let (agent, token) = app.agent(&t, "AGENT").await;
    let (mut socket, _) = connect(&app, Some(&token)).await;
    subscribe_as(&mut socket, "live", None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    app.change_agent(&t, agent, AgentChange { active: Some(false), ..AgentChange::default() }).await;
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(5)).await,
        Some(4403),
        "closed after deactivation"
    );
    assert!(started.elapsed() <= Duration::from_secs(5));

    // A token that expires while the socket is open.
    let (agent, _) = app.agent(&t, "AGENT").await;
    let short = app.auth.issue(agent, t.workspace, Duration::from_secs(2), Utc::now()).unwrap();
    let (mut socket, ack) = connect(&app, Some(&short)).await;
    assert_eq!(ack["type"], "connection_ack");
    let started = Instant::now();
    assert_eq!(closed_with(&mut socket, Duration::from_secs(8)).await, Some(4403), "closed after exp");
    assert!(started.elapsed() <= Duration::from_secs(2 + 5));
}

async fn every_operation_on_a_socket_is_authorised_with_the_agents_current_role(app: TestApp) {
    let t = app.tenant("Acme").await;
    let (admin, token) = app.agent(&t, "ADMIN").await;
    let (mut socket, _) = connect(&app, Some(&token)).await;
    let endpoints = "{ webhookEndpoints { id } }";
    let first = operate(&mut socket, "1", endpoints, json!({})).await;
    assert!(first.get("errors").is_none(), "{first}");
    app.change_agent(&t, admin, AgentChange { role: Some(Role::Agent), ..AgentChange::default() }).await;
    let second = operate(&mut socket, "2", endpoints, json!({})).await;
    assert_eq!(error_code(&second), "FORBIDDEN", "the socket does not keep the role it connected with");
    let me = operate(&mut socket, "3", "{ me { role } }", json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "AGENT");
}

async fn each_operation_on_a_socket_has_its_own_clock_and_dataloaders(app: TestApp) {
    let t = app.tenant("Acme").await;
    let with_phone = Inbound::with_phone("447700900123", "GB.777", "Amelia").ago(chrono::Duration::days(2));
    let old = app.receive(&t, &with_phone).await;
    let new = app.receive(&t, &with_phone.clone().fresh_id().without_phone()).await;
    let (mut socket, _) = connect(&app, Some(&t.token)).await;
    let previous = "query($id: ID!) { conversation(id: $id) { previousConversation { status } } }";
    let vars = json!({ "id": new.to_string() });
    let before = operate(&mut socket, "1", previous, vars.clone()).await;
    assert_eq!(before["data"]["conversation"]["previousConversation"]["status"], "OPEN");
    let resolve = "mutation($c: ID!) { resolveConversation(conversationId: $c) { status } }";
    app.ok(&t.token, resolve, json!({ "c": old.to_string() })).await;
    let after = operate(&mut socket, "2", previous, vars).await;
    assert_eq!(
        after["data"]["conversation"]["previousConversation"]["status"], "RESOLVED",
        "a later operation does not read an earlier one's cached rows"
    );

    // Two mutations a second and a half apart are dated a second and a half apart.
    let reopen = "mutation($c: ID!) { reopenConversation(conversationId: $c) { status } }";
    operate(&mut socket, "3", resolve, json!({ "c": new.to_string() })).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    operate(&mut socket, "4", reopen, json!({ "c": new.to_string() })).await;
    let history =
        "{ events(first: 100, types: [\"conversation.updated\"]) { nodes { conversationId occurredAt } } }";
    let data = app.ok(&t.token, history, json!({})).await;
    let times: Vec<chrono::DateTime<Utc>> = data["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["conversationId"] == new.to_string())
        .map(|e| e["occurredAt"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(times.len(), 2, "{data}");
    assert!(
        times[1] - times[0] >= chrono::Duration::milliseconds(1400),
        "each operation has its own now: {times:?}"
    );
}

async fn an_agent_gets_live_events_only_and_a_socket_holds_at_most_fifty_subscriptions(app: TestApp) {
    let t = app.tenant("Acme").await;
    let (_, token) = app.agent(&t, "AGENT").await;
    let (mut socket, _) = connect(&app, Some(&token)).await;
    subscribe_as(&mut socket, "history", Some("0")).await;
    let refused = answer_to(&mut socket, "history").await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");

    for n in 0..50 {
        subscribe_as(&mut socket, &format!("live{n}"), None).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    subscribe_as(&mut socket, "one-too-many", None).await;
    let refused = answer_to(&mut socket, "one-too-many").await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    assert!(refused.to_string().contains("at most 50"), "{refused}");

    // The fifty live ones still stream.
    app.deliver(&t, &[&Inbound::hidden("US.1", "@one", "One")]).await;
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 50 {
        let msg = next_message(&mut socket).await.expect("every live subscription gets the event");
        if msg["type"] == "next" {
            seen.insert(msg["id"].as_str().unwrap().to_owned());
        }
    }
}

/// Bounded before authentication: a message over 64 KiB before `connection_init` (or over
/// 1 MiB after it) closes the socket with `1009`, and a socket that never initialises is closed
/// with `4408` after 10 s; nothing of it is stored.
async fn a_socket_is_bounded_before_it_authenticates(app: TestApp) {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let t = app.tenant("Acme").await;
    let open = || async {
        let url = app.address.replace("http://", "ws://") + "/graphql/ws";
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        tokio_tungstenite::connect_async(request).await.unwrap().0
    };
    let commits = app.db.commit_count();

    let mut socket = open().await;
    socket.send(Ws::text("x".repeat(100 * 1024))).await.unwrap();
    assert_eq!(closed_with(&mut socket, Duration::from_secs(5)).await, Some(1009), "100 KiB before init");
    assert_eq!(app.db.commit_count(), commits, "nothing was written for an unauthenticated socket");

    let (mut socket, ack) = connect(&app, Some(&t.token)).await;
    assert_eq!(ack["type"], "connection_ack");
    let big = json!({ "id": "1", "type": "subscribe", "payload": { "query": format!("{{ me {{ id }} }} # {}", "x".repeat(200 * 1024)) } });
    socket.send(Ws::text(big.to_string())).await.unwrap();
    assert!(answer_to(&mut socket, "1").await["data"]["me"]["id"].is_string(), "200 KiB after init is fine");
    socket.send(Ws::text("y".repeat(1536 * 1024))).await.unwrap();
    assert_eq!(closed_with(&mut socket, Duration::from_secs(5)).await, Some(1009), "1.5 MiB after init");

    // The authenticated socket's agent was recorded present (once); the silent one writes nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let commits = app.db.commit_count();
    let mut silent = open().await;
    let started = Instant::now();
    assert_eq!(closed_with(&mut silent, Duration::from_secs(15)).await, Some(4408), "no connection_init");
    assert!(started.elapsed() >= Duration::from_secs(9), "{:?}", started.elapsed());
    assert_eq!(app.db.commit_count(), commits, "nothing was written for unauthenticated sockets");
}

on_both!(
    a_socket_is_bounded_before_it_authenticates,
    a_socket_is_closed_within_five_seconds_of_deactivation_demotion_or_expiry,
    every_operation_on_a_socket_is_authorised_with_the_agents_current_role,
    each_operation_on_a_socket_has_its_own_clock_and_dataloaders,
    an_agent_gets_live_events_only_and_a_socket_holds_at_most_fifty_subscriptions,
);

async fn queries_and_mutations_over_a_socket_have_the_http_time_limit(backend: Backend) {
    let Some(app) =
        spawn_with(backend, |config| config.graphql.operation_timeout = Duration::from_millis(500)).await
    else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let conversation = app.receive(&t, &Inbound::hidden("US.1", "@one", "One")).await;
    // Another writer holds the conversation (SQLite: the write lock; PostgreSQL: the row).
    let txn = app.db.begin().await.unwrap();
    persistence::conversations::find_for_update(&txn, t.workspace, conversation).await.unwrap();
    let resolve = "mutation($c: ID!) { resolveConversation(conversationId: $c) { status } }";
    let vars = json!({ "c": conversation.to_string() });
    let started = Instant::now();
    let over_http = app.graphql(Some(&t.token), resolve, vars.clone()).await;
    assert_eq!(error_code(&over_http), "TIMEOUT", "{over_http}");
    let (mut socket, _) = connect(&app, Some(&t.token)).await;
    let over_socket = operate(&mut socket, "1", resolve, vars.clone()).await;
    assert_eq!(error_code(&over_socket), "TIMEOUT", "{over_socket}");
    assert!(started.elapsed() < Duration::from_secs(4), "stopped at the limit, not at a lock timeout");
    txn.rollback().await.unwrap();
    let done = operate(&mut socket, "2", resolve, vars).await;
    assert_eq!(done["data"]["resolveConversation"]["status"], "RESOLVED", "{done}");
}

on_both_backends!(queries_and_mutations_over_a_socket_have_the_http_time_limit);
