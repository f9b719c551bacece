//! `GET /graphql/ws`: GraphQL over WebSocket (`graphql-transport-ws`, spoken by
//! [`transport`], and the older `graphql-ws` of `subscriptions-transport-ws`, spoken by
//! async-graphql's engine). The client authenticates in the `connection_init` payload
//! (`{"Authorization": "Bearer <JWT>"}`); every operation is then authorised again when it
//! runs, and the server closes the socket with code `4403` when the registry's sweep finds the
//! agent or token no longer allows it (see [`crate::graphql::session`]).
//!
//! Bounded before authentication: a message before a successful `connection_init` is at most
//! [`MAX_MESSAGE_BEFORE_INIT`] and after it [`MAX_MESSAGE`] (close `1009` beyond), and a socket
//! without a successful `connection_init` within [`INIT_TIMEOUT`] is closed with `4408`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::str::FromStr;

use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as GraphqlSocket, WebSocketProtocols, WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use tokio::sync::watch;

pub mod transport;

use crate::auth::bearer_token;
use crate::error::ApiError;
use crate::graphql::session::{CloseReason, SocketSession};
use crate::http::state::AppState;

/// The close code of a socket the server closes because its agent or token no longer allows it.
pub const CLOSE_FORBIDDEN: u16 = 4403;

/// `graphql-transport-ws`: no successful `connection_init` in time.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;

/// RFC 6455: a message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// The largest message before the socket is authenticated.
pub const MAX_MESSAGE_BEFORE_INIT: usize = 64 * 1024;

/// The largest message of an authenticated socket.
pub const MAX_MESSAGE: usize = 1024 * 1024;

/// How long a socket may stay open without a successful `connection_init`.
pub const INIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The read buffer and the write batch of one socket.
const SOCKET_BUFFER: usize = 8 * 1024;

/// The upgrade handler; `400` when the client offers no GraphQL sub-protocol.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|offered| offered.split(',').find_map(|p| WebSocketProtocols::from_str(p.trim()).ok()));
    let Some(protocol) = protocol else {
        return (StatusCode::BAD_REQUEST, "Offer the graphql-transport-ws (or graphql-ws) sub-protocol.")
            .into_response();
    };
    // The transport's own bound (a message is buffered whole before it is checked here): twice
    // the authenticated limit, so every message the limits refuse is read, then refused by size.
    // Buffers of 8 KiB, not the transport's 128 KiB each way: a subscription's frames are small,
    // a larger one still arrives (in several reads), and 1,000 open sockets cost 16 MB of
    // buffers instead of 250 MB.
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(2 * MAX_MESSAGE)
        .max_frame_size(2 * MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            match protocol {
                WebSocketProtocols::GraphQLWS => transport::serve(socket, state).await,
                WebSocketProtocols::SubscriptionsTransportWS => serve_legacy(socket, state).await,
            }
        })
}

/// Reads the token of a `connection_init` payload and opens the session.
async fn open_session(
    state: AppState,
    payload: serde_json::Value,
    close: watch::Sender<Option<CloseReason>>,
) -> async_graphql::Result<async_graphql::Data> {
    let header = payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            async_graphql::Error::from(ApiError::Unauthenticated(
                "Send {\"Authorization\": \"Bearer <token>\"} in connection_init.",
            ))
        })?;
    let token = bearer_token(header)?;
    let session = SocketSession::open(Arc::clone(&state.auth), &state.db, token, Utc::now(), close).await?;
    state.sockets.register(&session);
    let mut data = async_graphql::Data::default();
    data.insert(session);
    Ok(data)
}

/// Runs one socket of the older `graphql-ws` protocol: async-graphql's protocol engine between
/// the client and the schema, and the server's own close when the session asks for it.
async fn serve_legacy(socket: WebSocket, state: AppState) {
    let protocol = WebSocketProtocols::SubscriptionsTransportWS;
    let (mut sink, stream) = socket.split();
    let initialised = Arc::new(AtomicBool::new(false));
    let (too_big_tx, mut too_big_rx) = watch::channel(false);
    let authenticated = Arc::clone(&initialised);
    let input = stream
        .take_while(|message| futures::future::ready(message.is_ok()))
        .filter_map(|message| {
            futures::future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        })
        .take_while(move |data| {
            let limit =
                if authenticated.load(Ordering::Acquire) { MAX_MESSAGE } else { MAX_MESSAGE_BEFORE_INIT };
            let fits = data.len() <= limit;
            if !fits {
                let _ = too_big_tx.send(true);
            }
            futures::future::ready(fits)
        });
    let (close_tx, mut close_rx) = watch::channel(None);
    let schema = state.graphql.clone();
    let opened = Arc::clone(&initialised);
    let outgoing =
        GraphqlSocket::new(schema, input, protocol).on_connection_init(move |payload| async move {
            let data = open_session(state, payload, close_tx).await?;
            opened.store(true, Ordering::Release);
            Ok(data)
        });
    futures::pin_mut!(outgoing);
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    futures::pin_mut!(init_deadline);
    // Whether a session may still ask to close (its sender is alive), and whether the input
    // may still report a message too big.
    let (mut watching, mut sizing) = (true, true);
    loop {
        tokio::select! {
            biased;
            changed = too_big_rx.changed(), if sizing => {
                if changed.is_err() {
                    sizing = false;
                    continue;
                }
                let frame = CloseFrame { code: CLOSE_TOO_BIG, reason: "Message too big".into() };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
            () = &mut init_deadline, if !initialised.load(Ordering::Acquire) => {
                let frame = CloseFrame { code: CLOSE_INIT_TIMEOUT, reason: "Connection initialisation timeout".into() };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
            message = outgoing.next() => {
                let Some(message) = message else {
                    // The input ended: because a message was too big, or the client left.
                    if *too_big_rx.borrow() {
                        let frame = CloseFrame { code: CLOSE_TOO_BIG, reason: "Message too big".into() };
                        let _ = sink.send(Message::Close(Some(frame))).await;
                    }
                    break;
                };
                let message = match message {
                    WsMessage::Text(text) => Message::Text(text.into()),
                    WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame { code, reason: reason.into() })),
                };
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            changed = close_rx.changed(), if watching => {
                // `Err`: no session will ask (none was opened); the protocol ends the socket.
                if changed.is_err() {
                    watching = false;
                    continue;
                }
                let reason = (*close_rx.borrow()).unwrap_or("Forbidden");
                let frame = CloseFrame { code: CLOSE_FORBIDDEN, reason: reason.into() };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
        }
    }
}
