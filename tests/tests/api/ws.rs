//! A `graphql-transport-ws` client for the tests: connect with a token, subscribe, read.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::TestApp;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(app: &TestApp, token: Option<&str>) -> (Socket, Value) {
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

pub async fn next_message(socket: &mut Socket) -> Option<Value> {
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

pub async fn subscribe(socket: &mut Socket, after: Option<&str>, types: Option<Vec<&str>>) {
    let query = "subscription($after: String, $types: [String!]) { events(after: $after, types: $types) { cursor type conversationId } }";
    let msg = json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": { "after": after, "types": types } } });
    socket.send(Ws::text(msg.to_string())).await.unwrap();
}

/// The next `n` events of the subscription.
pub async fn events(socket: &mut Socket, n: usize) -> Vec<Value> {
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

pub async fn nothing_more(socket: &mut Socket) {
    let quiet = tokio::time::timeout(Duration::from_millis(700), socket.next()).await;
    assert!(quiet.is_err(), "unexpected message: {quiet:?}");
}

pub fn cursors(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["cursor"].as_str().unwrap().parse().unwrap()).collect()
}

/// Sends a subscription with its own id (an `events` subscription, live or from `after`).
pub async fn subscribe_as(socket: &mut Socket, id: &str, after: Option<&str>) {
    let query = "subscription($after: String) { events(after: $after) { cursor type } }";
    let msg = json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": { "after": after } } });
    socket.send(Ws::text(msg.to_string())).await.unwrap();
}

/// Runs one query or mutation over the socket; returns its result (`data` and `errors`), or
/// the protocol's `error` payload.
pub async fn operate(socket: &mut Socket, id: &str, query: &str, variables: Value) -> Value {
    let msg = json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } });
    socket.send(Ws::text(msg.to_string())).await.unwrap();
    loop {
        let reply = next_message(socket).await.unwrap_or_else(|| panic!("no answer to operation {id}"));
        if reply["id"] != id {
            continue;
        }
        match reply["type"].as_str() {
            Some("next") => return reply["payload"].clone(),
            Some("error") => return json!({ "errors": reply["payload"] }),
            other => panic!("unexpected {other:?}: {reply}"),
        }
    }
}

/// Waits up to `within` for the server to close the socket; returns the close code.
pub async fn closed_with(socket: &mut Socket, within: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Ws::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) | Err(_) => return None,
        }
    }
}
