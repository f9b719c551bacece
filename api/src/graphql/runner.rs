//! How every operation runs, over HTTP and on a socket: the document's own limits, on a socket
//! a fresh viewer, the time limit, the served schema description and a code on every error.
//!
//! These used to be async-graphql extensions. Any extension takes async-graphql off its fast
//! path for *every field* (each field's resolution is then wrapped, boxed and looked up in the
//! registry), so the checks run here, around the schema, once per operation instead.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Data, Executor, Request, Response, ServerError, Value};
use chrono::Utc;
use futures::stream::{BoxStream, StreamExt};
use persistence::Database;

use super::context::RequestData;
use super::session::SocketSession;
use super::{ParleySchema, introspection, limits, loaders};
use crate::config::GraphqlConfig;
use crate::error::ApiError;

/// The schema with what runs around each of its operations (cheap to clone).
#[derive(Clone)]
pub struct Operations {
    schema: ParleySchema,
    /// Where a socket's agent is read again for each operation.
    db: Database,
    max_aliases: usize,
    time_limit: Duration,
    /// Whether `__schema { description }` answers Parley's description (introspection on).
    describe: bool,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations").field("time_limit", &self.time_limit).finish_non_exhaustive()
    }
}

/// What the checks learnt of a document.
#[derive(Clone, Copy, Debug, Default)]
struct Shape {
    subscription: bool,
}

impl Operations {
    #[must_use]
    pub fn new(schema: ParleySchema, db: Database, config: &GraphqlConfig) -> Self {
        Self {
            schema,
            db,
            max_aliases: config.max_aliases,
            time_limit: config.operation_timeout,
            describe: !config.production,
        }
    }

    /// Parses the document once (the schema reuses it) and applies Parley's limits. A document
    /// that does not parse goes on to the schema, which reports it as it always does.
    fn check(&self, request: &mut Request) -> Result<Shape, ServerError> {
        let name = request.operation_name.clone();
        let Ok(document) = request.parsed_query() else { return Ok(Shape::default()) };
        limits::check_document(document, self.max_aliases)?;
        let operation = operation(document, name.as_deref());
        Ok(Shape { subscription: operation.is_some_and(|ty| ty == OperationType::Subscription) })
    }

    /// A query or mutation, bounded by the time limit.
    async fn bounded(&self, run: impl Future<Output = Option<Response>>) -> Response {
        match tokio::time::timeout(self.time_limit, run).await {
            Ok(Some(response)) => response,
            // A stream that ended without answering.
            Ok(None) => Response::new(Value::Null),
            Err(_) => {
                let mut err = ServerError::new(
                    format!("The operation ran longer than {} s and was stopped.", self.time_limit.as_secs()),
                    None,
                );
                limits::set_code(&mut err, "TIMEOUT");
                Response::from_errors(vec![err])
            }
        }
    }

    fn describes(&self, request: &Request) -> bool {
        self.describe && request.query.contains("__schema")
    }

    /// On a socket, each operation runs as the agent is *now*: a disabled agent or a lowered
    /// role stops at the next operation, not at reconnection.
    async fn scoped(
        &self,
        request: Request,
        session: Option<&Arc<SocketSession>>,
    ) -> Result<Request, ServerError> {
        let Some(session) = session else { return Ok(request) };
        let db = &self.db;
        let now = Utc::now();
        let viewer = session.authorise(db, now).await.map_err(server_error)?;
        Ok(request.data(RequestData { viewer: Some(viewer), now }).data(loaders::for_viewer(
            db.clone(),
            viewer.workspace_id,
            viewer.agent_id,
        )))
    }
}

fn server_error(err: ApiError) -> ServerError {
    async_graphql::Error::from(err).into_server_error(async_graphql::Pos::default())
}

/// The type of the operation the request runs (`None` when the schema will refuse the choice).
fn operation(document: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

impl Executor for Operations {
    async fn execute(&self, mut request: Request) -> Response {
        let describes = self.describes(&request);
        let response = match self.check(&mut request) {
            Err(err) => Response::from_errors(vec![err]),
            Ok(_) => self.bounded(async { Some(self.schema.execute(request).await) }).await,
        };
        finish(describes, response)
    }

    fn execute_stream(&self, mut request: Request, data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let this = self.clone();
        let data = data.unwrap_or_default();
        let session = data
            .get(&std::any::TypeId::of::<Arc<SocketSession>>())
            .and_then(|s| s.downcast_ref::<Arc<SocketSession>>())
            .cloned();
        let describes = self.describes(&request);
        let shape = self.check(&mut request);
        futures::stream::once(async move {
            let shape = match shape {
                Ok(shape) => shape,
                Err(err) => return futures::stream::iter([Response::from_errors(vec![err])]).boxed(),
            };
            let request = match this.scoped(request, session.as_ref()).await {
                Ok(request) => request,
                Err(err) => return futures::stream::iter([Response::from_errors(vec![err])]).boxed(),
            };
            let responses = this.schema.execute_stream_with_session_data(request, data);
            if shape.subscription {
                return responses.boxed();
            }
            let mut responses = responses;
            let response = this.bounded(responses.next()).await;
            futures::stream::iter([response]).boxed()
        })
        .flatten()
        .map(move |response| finish(describes, response))
        .boxed()
    }
}

/// The response as served: Parley's description, and a code on every error.
fn finish(describes: bool, mut response: Response) -> Response {
    if describes {
        introspection::describe(&mut response);
    }
    limits::label_errors(&mut response);
    response
}
