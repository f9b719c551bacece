//! The `graphql-transport-ws` protocol as its reference server speaks it, checked with a
//! third-party client (`graphql-ws-client` from crates.io) and frame by frame: `4403` for a
//! refused `connection_init`, an `error` message (with `extensions.code`) for an operation
//! refused before it runs, `4400`, `4401`, `4409` and `4429` as the protocol defines them.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use graphql_ws_client::graphql::GraphqlOperation;
use graphql_ws_client::{Client, Connection, Message};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Inbound, TestApp};
use crate::ws::{Socket, closed_with, connect, next_message, nothing_more};

/// A raw socket offering `graphql-transport-ws`, nothing sent yet.
async fn open(app: &TestApp) -> Socket {
    let url = app.address.replace("http://", "ws://") + "/graphql/ws";
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The socket, as `graphql-ws-client` drives a connection.
struct ClientSocket(Socket);

impl Connection for ClientSocket {
    async fn receive(&mut self) -> Option<Message> {
        loop {
            match self.0.next().await? {
                Ok(Ws::Text(text)) => return Some(Message::Text(text.as_str().into())),
                Ok(Ws::Ping(_)) => return Some(Message::Ping),
                Ok(Ws::Pong(_)) => return Some(Message::Pong),
                Ok(Ws::Close(frame)) => {
                    return Some(Message::Close {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame.map(|f| f.reason.to_string()),
                    });
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    async fn send(&mut self, message: Message) -> Result<(), graphql_ws_client::Error> {
        let frame = match message {
            Message::Text(text) => Ws::text(text),
            Message::Close { code, reason } => {
                Ws::Close(code.map(|code| tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: code.into(),
                    reason: reason.unwrap_or_default().into(),
                }))
            }
            Message::Ping => Ws::Ping(Vec::new().into()),
            Message::Pong => Ws::Pong(Vec::new().into()),
        };
        self.0.send(frame).await.map_err(|e| graphql_ws_client::Error::Send(e.to_string()))
    }
}

/// An operation whose responses the client hands back as the JSON it decoded.
#[derive(serde::Serialize)]
struct Operation {
    query: &'static str,
    variables: Value,
}

impl GraphqlOperation for Operation {
    type Response = Value;
    type Error = serde_json::Error;

    fn decode(&self, data: Value) -> Result<Value, serde_json::Error> {
        Ok(data)
    }
}

fn client(
    app: &TestApp,
    token: &str,
) -> impl std::future::Future<
    Output = Result<(Client, graphql_ws_client::ConnectionActor), graphql_ws_client::Error>,
> {
    let payload = json!({ "Authorization": format!("Bearer {token}") });
    let address = app.address.clone();
    async move {
        let url = address.replace("http://", "ws://") + "/graphql/ws";
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        let socket = tokio_tungstenite::connect_async(request).await.unwrap().0;
        Client::build(ClientSocket(socket)).payload(payload)?.build().await
    }
}

async fn a_third_party_client_is_refused_with_4403_and_gets_errors_with_codes(app: TestApp) {
    let t = app.tenant("Acme").await;

    // A refused `connection_init` closes with 4403, as the protocol's reference server does.
    match client(&app, "not-a-token").await {
        Err(graphql_ws_client::Error::Close(code, reason)) => {
            assert_eq!(code, 4403, "{reason}");
            assert!(reason.starts_with("Forbidden"), "{reason}");
        }
        other => panic!("expected a 4403 close, got {:?}", other.map(|_| ())),
    }

    let (client, actor) = client(&app, &t.token).await.expect("connection_ack");
    tokio::spawn(actor.into_future());

    // A document that does not validate: one `error` (the client hands its payload back as
    // `{"errors": …}`, with no `data`), carrying the code it has over HTTP.
    let invalid = Operation { query: "subscription { events { nope } }", variables: json!({}) };
    let mut refused = client.subscribe(invalid).await.unwrap();
    let answer =
        tokio::time::timeout(Duration::from_secs(5), refused.next()).await.unwrap().unwrap().unwrap();
    assert!(answer.get("data").is_none(), "an `error` message, not `next`: {answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{answer}");
    let http = app.graphql(Some(&t.token), "{ conversations { nope } }", json!({})).await;
    assert_eq!(http["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{http}");

    // A subscription that runs streams events through the same client.
    let live = Operation {
        query: "subscription($after: String) { events(after: $after) { cursor type } }",
        variables: json!({ "after": "0" }),
    };
    let mut events = client.subscribe(live).await.unwrap();
    app.deliver(&t, &[&Inbound::hidden("US.1", "@one", "One")]).await;
    let first = tokio::time::timeout(Duration::from_secs(5), events.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(first["data"]["events"]["type"], "conversation.created", "{first}");
}

/// Sends one protocol message.
async fn send(socket: &mut Socket, message: Value) {
    socket.send(Ws::text(message.to_string())).await.unwrap();
}

async fn the_socket_speaks_the_protocols_messages_and_close_codes(app: TestApp) {
    let t = app.tenant("Acme").await;

    // Refused before execution: `error` with the errors (each with a code), then nothing;
    // the id may be used again at once.
    let (mut socket, ack) = connect(&app, Some(&t.token)).await;
    assert_eq!(ack["type"], "connection_ack");
    for query in [
        "{ conversations { nope } }",
        "{ conversations(",
        "query($n: Int!) { conversations(first: $n) { nodes { id } } }",
    ] {
        send(&mut socket, json!({ "id": "a", "type": "subscribe", "payload": { "query": query, "variables": { "n": "x" } } })).await;
        let reply = next_message(&mut socket).await.unwrap();
        assert_eq!(reply["type"], "error", "{query}: {reply}");
        assert_eq!(reply["id"], "a");
        let errors = reply["payload"].as_array().expect("an array of errors");
        assert!(!errors.is_empty() && errors.iter().all(|e| e["extensions"]["code"].is_string()), "{reply}");
        nothing_more(&mut socket).await;
    }
    // An error while it runs is a result: `next`, then `complete`.
    send(&mut socket, json!({ "id": "b", "type": "subscribe", "payload": { "query": "{ conversation(id: \"nope\") { id } }" } })).await;
    let next = next_message(&mut socket).await.unwrap();
    assert_eq!(next["type"], "next", "{next}");
    assert!(next["payload"]["errors"][0]["extensions"]["code"].is_string(), "{next}");
    assert_eq!(next_message(&mut socket).await.unwrap(), json!({ "type": "complete", "id": "b" }));
    // Ping gets pong with its payload.
    send(&mut socket, json!({ "type": "ping", "payload": { "n": 1 } })).await;
    assert_eq!(next_message(&mut socket).await.unwrap(), json!({ "type": "pong", "payload": { "n": 1 } }));
    // A second subscriber with a running id: 4409.
    let live = json!({ "id": "live", "type": "subscribe", "payload": { "query": "subscription { events { cursor } }" } });
    send(&mut socket, live.clone()).await;
    send(&mut socket, live).await;
    assert_eq!(closed_with(&mut socket, Duration::from_secs(5)).await, Some(4409));

    // A second `connection_init`: 4429.
    let (mut socket, _) = connect(&app, Some(&t.token)).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", t.token) } }),
    )
    .await;
    assert_eq!(closed_with(&mut socket, Duration::from_secs(5)).await, Some(4429));

    // `subscribe` before `connection_ack`: 4401.
    let mut socket = open(&app).await;
    send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }" } }))
        .await;
    assert_eq!(closed_with(&mut socket, Duration::from_secs(5)).await, Some(4401));

    // A message the protocol does not define: 4400.
    let (mut socket, _) = connect(&app, Some(&t.token)).await;
    send(&mut socket, json!({ "type": "start", "id": "1" })).await;
    assert_eq!(closed_with(&mut socket, Duration::from_secs(5)).await, Some(4400));

    // A refused token: 4403 (no connection_ack).
    let (_, refused) = connect(&app, Some("not-a-token")).await;
    assert!(refused["frame"].as_str().unwrap().contains("4403"), "{refused}");
}

on_both!(
    a_third_party_client_is_refused_with_4403_and_gets_errors_with_codes,
    the_socket_speaks_the_protocols_messages_and_close_codes,
);
