//! The `graphql-transport-ws` protocol, as its reference server speaks it
//! (<https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>):
//!
//! - `connection_init` → `connection_ack`, or close `4403` when the token is refused; a second
//!   `connection_init` closes with `4429`, none within [`INIT_TIMEOUT`](super::INIT_TIMEOUT)
//!   with `4408`;
//! - `subscribe` before the acknowledgement closes with `4401`, and one whose id is already
//!   running with `4409`; a message the protocol does not define closes with `4400`;
//! - an operation refused before it runs (a document that does not parse or validate, a
//!   variable of the wrong type, a query over the limits) gets one `error` message with the
//!   errors, and nothing after it; one that runs gets `next` messages, then `complete`;
//! - `ping` gets `pong` with its payload; `complete` from the client stops an operation.
//!
//! Every error carries `extensions.code`, as over HTTP.

use std::sync::Arc;

use async_graphql::{Data, Executor, Request, Response, ServerError, Value};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::{BoxStream, SplitSink};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_stream::StreamMap;

use super::{
    CLOSE_FORBIDDEN, CLOSE_INIT_TIMEOUT, CLOSE_TOO_BIG, INIT_TIMEOUT, MAX_MESSAGE, MAX_MESSAGE_BEFORE_INIT,
    open_session,
};
use crate::http::state::AppState;

/// A message the protocol does not define, or one that does not parse.
pub const CLOSE_BAD_REQUEST: u16 = 4400;

/// `subscribe` before `connection_ack`.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;

/// `subscribe` with the id of an operation still running.
pub const CLOSE_DUPLICATE_ID: u16 = 4409;

/// A second `connection_init`.
pub const CLOSE_TOO_MANY_INITS: u16 = 4429;

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code, reason = "read to accept the message; a pong needs no answer")]
        payload: Option<serde_json::Value>,
    },
    Subscribe {
        id: String,
        payload: Box<Request>,
    },
    Complete {
        id: String,
    },
}

/// What the server sends.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    ConnectionAck,
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<serde_json::Value>,
    },
    Next {
        id: &'a str,
        payload: &'a Response,
    },
    Error {
        id: &'a str,
        payload: &'a [ServerError],
    },
    Complete {
        id: &'a str,
    },
}

/// One operation's next step, as the socket reports it.
enum Step {
    Next(Response),
    /// Refused before it ran: the `error` message ends it.
    Refused(Vec<ServerError>),
    Done,
}

/// Why the loop stops; `None` when the client left.
type Close = Option<(u16, String)>;

/// Whether a response is an operation refused before execution: no data and no error with a
/// path (field errors have one).
fn refused_before_execution(response: &Response) -> bool {
    matches!(response.data, Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Where an operation's stream of responses is.
enum Phase {
    First(BoxStream<'static, Response>),
    Rest(BoxStream<'static, Response>),
    Ended,
}

/// One operation's steps: its responses with their codes, the first one turned into a refusal
/// when nothing ran, then `Done` unless it was refused.
fn steps(
    operations: &crate::graphql::runner::Operations,
    request: Request,
    data: Arc<Data>,
) -> BoxStream<'static, Step> {
    let responses = operations.execute_stream(request, Some(data));
    futures::stream::unfold(Phase::First(responses), |phase| async move {
        match phase {
            Phase::First(mut responses) => match responses.next().await {
                None => Some((Step::Done, Phase::Ended)),
                Some(response) if refused_before_execution(&response) => {
                    Some((Step::Refused(response.errors), Phase::Ended))
                }
                Some(response) => Some((Step::Next(response), Phase::Rest(responses))),
            },
            Phase::Rest(mut responses) => match responses.next().await {
                None => Some((Step::Done, Phase::Ended)),
                Some(response) => Some((Step::Next(response), Phase::Rest(responses))),
            },
            Phase::Ended => None,
        }
    })
    .boxed()
}

/// A frame that closes with `code`; the reason is cut to the 123 bytes a close frame holds.
fn close_frame(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame { code, reason: reason[..end].into() }))
}

struct Connection {
    state: AppState,
    sink: SplitSink<WebSocket, Message>,
    /// Set once `connection_init` arrived (whatever its outcome).
    init_received: bool,
    /// The session's data once acknowledged.
    data: Option<Arc<Data>>,
    operations: StreamMap<String, BoxStream<'static, Step>>,
    close_tx: Option<watch::Sender<Option<crate::graphql::session::CloseReason>>>,
}

impl Connection {
    async fn send(&mut self, message: &ServerMessage<'_>) -> Result<(), Close> {
        let text = serde_json::to_string(message).map_err(|_| None)?;
        self.sink.send(Message::Text(text.into())).await.map_err(|_| None)
    }

    /// Handles one message from the client.
    async fn receive(&mut self, text: &[u8]) -> Result<(), Close> {
        let message: ClientMessage = serde_json::from_slice(text)
            .map_err(|err| Some((CLOSE_BAD_REQUEST, format!("Invalid message received: {err}"))))?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.init_received {
                    return Err(Some((CLOSE_TOO_MANY_INITS, "Too many initialisation requests".into())));
                }
                self.init_received = true;
                let Some(close_tx) = self.close_tx.take() else { return Err(None) };
                match open_session(self.state.clone(), payload.unwrap_or_default(), close_tx).await {
                    Ok(data) => {
                        self.data = Some(Arc::new(data));
                        self.send(&ServerMessage::ConnectionAck).await
                    }
                    Err(err) => Err(Some((CLOSE_FORBIDDEN, format!("Forbidden: {}", err.message)))),
                }
            }
            ClientMessage::Ping { payload } => self.send(&ServerMessage::Pong { payload }).await,
            ClientMessage::Pong { .. } => Ok(()),
            ClientMessage::Subscribe { id, payload } => {
                let Some(data) = self.data.clone() else {
                    return Err(Some((CLOSE_UNAUTHORIZED, "Unauthorized".into())));
                };
                if self.operations.contains_key(&id) {
                    return Err(Some((CLOSE_DUPLICATE_ID, format!("Subscriber for {id} already exists"))));
                }
                let operation = steps(&self.state.graphql, *payload, data);
                self.operations.insert(id, operation);
                Ok(())
            }
            ClientMessage::Complete { id } => {
                self.operations.remove(&id);
                Ok(())
            }
        }
    }

    /// Sends one operation's step; an operation that ended leaves at once, so its id may be
    /// used again.
    async fn report(&mut self, id: &str, step: Step) -> Result<(), Close> {
        if matches!(step, Step::Refused(_) | Step::Done) {
            self.operations.remove(id);
        }
        match step {
            Step::Next(response) => self.send(&ServerMessage::Next { id, payload: &response }).await,
            Step::Refused(errors) => self.send(&ServerMessage::Error { id, payload: &errors }).await,
            Step::Done => self.send(&ServerMessage::Complete { id }).await,
        }
    }
}

/// Runs one `graphql-transport-ws` socket until either side closes it.
pub async fn serve(socket: WebSocket, state: AppState) {
    let (sink, mut stream) = socket.split();
    let (close_tx, mut close_rx) = watch::channel(None);
    let mut connection = Connection {
        state,
        sink,
        init_received: false,
        data: None,
        operations: StreamMap::new(),
        close_tx: Some(close_tx),
    };
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    futures::pin_mut!(init_deadline);
    let close: Close = loop {
        let outcome = tokio::select! {
            biased;
            () = &mut init_deadline, if connection.data.is_none() => {
                Err(Some((CLOSE_INIT_TIMEOUT, "Connection initialisation timeout".into())))
            }
            changed = close_rx.changed(), if connection.data.is_some() => match changed {
                Ok(()) => Err(Some((CLOSE_FORBIDDEN, (*close_rx.borrow()).unwrap_or("Forbidden").to_owned()))),
                Err(_) => Err(None),
            },
            incoming = stream.next() => match incoming {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    let data = message.into_data();
                    let limit = if connection.data.is_some() { MAX_MESSAGE } else { MAX_MESSAGE_BEFORE_INIT };
                    if data.len() > limit {
                        Err(Some((CLOSE_TOO_BIG, "Message too big".into())))
                    } else {
                        connection.receive(&data).await
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => Err(None),
            },
            Some((id, step)) = connection.operations.next() => connection.report(&id, step).await,
        };
        if let Err(close) = outcome {
            break close;
        }
    };
    if let Some((code, reason)) = close {
        let _ = connection.sink.send(close_frame(code, &reason)).await;
    }
}
