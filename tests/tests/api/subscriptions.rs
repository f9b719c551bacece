//! The live event stream over WebSocket (`graphql-transport-ws`): authentication in
//! `connection_init`, replay then live with no gap and no duplicate, workspace isolation.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Inbound, TestApp};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, token: Option<&str>) -> (Socket, Value) {
    let url = app.address.replace("http://", "ws://") + "/graphql/ws";
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let payload = match token {
        Some(t) => json!({ "Authorization": format!("Bearer {t}") }),
        None => json!({}),
    };
    socket
        .send(Ws::text(json!({ "type": "connection_init", "payload": payload }).to_string()))
        .await
        .unwrap();
    let ack = next_message(&mut socket).await.unwrap_or(Value::Null);
    (socket, ack)
}

async fn next_message(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Ws::Text(text)))) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["type"] == "ping" {
                    socket.send(Ws::text(json!({ "type": "pong" }).to_string())).await.ok();
                    continue;
                }
                return Some(v);
            }
            Ok(Some(Ok(Ws::Close(frame)))) => {
                return Some(json!({ "type": "close", "frame": format!("{frame:?}") }));
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

async fn subscribe(socket: &mut Socket, after: Option<&str>, types: Option<Vec<&str>>) {
    let query = "subscription($after: String, $types: [String!]) { events(after: $after, types: $types) { cursor type conversationId } }";
    let msg = json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": { "after": after, "types": types } } });
    socket.send(Ws::text(msg.to_string())).await.unwrap();
}

/// The next `n` events of the subscription.
async fn events(socket: &mut Socket, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let msg = next_message(socket)
            .await
            .unwrap_or_else(|| panic!("only {} of {n} events arrived: {out:?}", out.len()));
        assert_eq!(msg["type"], "next", "{msg}");
        out.push(msg["payload"]["data"]["events"].clone());
    }
    out
}

async fn nothing_more(socket: &mut Socket) {
    let quiet = tokio::time::timeout(Duration::from_millis(700), socket.next()).await;
    assert!(quiet.is_err(), "unexpected message: {quiet:?}");
}

fn cursors(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["cursor"].as_str().unwrap().parse().unwrap()).collect()
}

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
