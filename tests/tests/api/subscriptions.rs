//! The live event stream over WebSocket (`graphql-transport-ws`): authentication in
//! `connection_init`, replay then live with no gap and no duplicate, workspace isolation.

use serde_json::json;

use crate::helpers::{Inbound, TestApp};
use crate::ws::{connect, cursors, events, nothing_more, subscribe};

async fn a_subscriber_replays_then_streams_live_with_no_gap(app: TestApp) {
    let t = app.tenant("Acme").await;
    app.deliver(&t, &[&Inbound::hidden("US.1", "@one", "One")]).await; // cursors 1, 2
    let (mut socket, ack) = connect(&app, Some(&t.token)).await;
    assert_eq!(ack["type"], "connection_ack");
    subscribe(&mut socket, Some("0"), None).await;
    let replay = events(&mut socket, 2).await;
    assert_eq!(cursors(&replay), [1, 2]);
    assert_eq!(replay[0]["type"], "conversation.created");
    app.deliver(&t, &[&Inbound::hidden("US.1", "@one", "One").fresh_id()]).await; // cursor 3
    let live = events(&mut socket, 1).await;
    assert_eq!(cursors(&live), [3]);
    nothing_more(&mut socket).await;
    drop(socket);

    // Events written while the client is away arrive once when it resumes from its cursor.
    app.deliver(&t, &[&Inbound::hidden("US.2", "@two", "Two")]).await; // 4, 5
    let (mut socket, _) = connect(&app, Some(&t.token)).await;
    subscribe(&mut socket, Some("3"), Some(vec!["message.received"])).await;
    let resumed = events(&mut socket, 1).await;
    assert_eq!(cursors(&resumed), [5], "only the missed message.received");
    let (again, new) =
        (Inbound::hidden("US.2", "@two", "Two").fresh_id(), Inbound::hidden("US.3", "@three", "Three"));
    app.deliver(&t, &[&again, &new]).await; // 6 (received), 7 (created), 8 (received)
    let live = events(&mut socket, 2).await;
    assert_eq!(cursors(&live), [6, 8]);
    nothing_more(&mut socket).await;
}

async fn subscriptions_are_authenticated_and_scoped_to_the_workspace(app: TestApp) {
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    let (_, refused) = connect(&app, None).await;
    assert_eq!(refused["type"], "close", "a connection without a token is closed: {refused}");
    let (_, refused) = connect(&app, Some("not-a-token")).await;
    assert_eq!(refused["type"], "close", "{refused}");

    let (mut socket, ack) = connect(&app, Some(&b.token)).await;
    assert_eq!(ack["type"], "connection_ack");
    // From the start of B's stream (a subscription without `after` starts at the moment the
    // server handles it, which a client cannot observe).
    subscribe(&mut socket, Some("0"), None).await;
    app.deliver(&a, &[&Inbound::hidden("US.1", "@alpha", "Alpha")]).await;
    app.deliver(&b, &[&Inbound::hidden("US.2", "@beta", "Beta")]).await;
    let seen = events(&mut socket, 2).await;
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["conversation.created", "message.received"]);
    let data = app.ok(&a.token, "{ conversations { nodes { id } } }", json!({})).await;
    let alpha_conversation = data["conversations"]["nodes"][0]["id"].clone();
    assert!(seen.iter().all(|e| e["conversationId"] != alpha_conversation));
    nothing_more(&mut socket).await;
}

on_both!(
    a_subscriber_replays_then_streams_live_with_no_gap,
    subscriptions_are_authenticated_and_scoped_to_the_workspace
);
