//! OpenTelemetry traces, exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; `OTEL_SERVICE_NAME` names the service
//! (default `parley`). Without the variable no exporter, no propagator and no GraphQL hook is
//! installed: nothing is exported and nothing is slower.
//!
//! The spans: one per HTTP request (continuing an incoming W3C `traceparent`), per GraphQL
//! operation (named by the operation), per webhook batch commit (linked to the requests it
//! commits), per worker pass that did work, and per outbound call (Cloud API, SMS, CRM), which
//! carries `traceparent` to the other side. Their attributes are methods, routes, operation
//! names, counts and status codes: never a phone, a message body, a token or a secret (the
//! events inside them are Parley's log lines, which carry none either).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
use axum::http::HeaderMap;
use bytes::Bytes;
use opentelemetry::Context;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::{
    HeaderExtractor, HeaderInjector, HttpClient, HttpError, Request, Response as HttpResponse,
};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether traces are exported (the variable was set when the process started).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The exporter's endpoint, when one is configured.
fn endpoint() -> Option<String> {
    ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

/// The process's tracer provider: shut it down before exit so the last spans leave.
#[derive(Debug, Clone)]
pub struct Traces(SdkTracerProvider);

impl Traces {
    /// Turns tracing on for the process once its layer is installed: the propagator reads and
    /// writes `traceparent`, and [`enabled`] says so to the GraphQL schema and outbound calls.
    pub fn activate(&self) {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        ENABLED.store(true, Ordering::Relaxed);
    }

    /// Exports what is still buffered, then stops (blocking: call it off the async workers).
    pub fn shutdown(&self) {
        if let Err(err) = self.0.shutdown() {
            tracing::warn!(error = %err, "the last traces could not be exported");
        }
    }
}

/// The OpenTelemetry layer for the subscriber, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and a
/// Tokio runtime runs: the exporter sends on it).
///
/// # Errors
/// An exporter that cannot be built (a malformed endpoint).
pub fn layer<S>() -> anyhow::Result<
    Option<(tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>, Traces)>,
>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    if endpoint().is_none() {
        return Ok(None);
    }
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| anyhow::anyhow!("OpenTelemetry export needs the Tokio runtime"))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(Duration::from_secs(10))
        .with_http_client(Exporter { client: reqwest::Client::new(), runtime })
        .build()?;
    let service =
        std::env::var("OTEL_SERVICE_NAME").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "parley".into());
    let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter).build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(WithoutIdlePasses(processor))
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name(service).build())
        .build();
    let tracer = provider.tracer("parley");
    Ok(Some((tracing_opentelemetry::layer().with_tracer(tracer), Traces(provider))))
}

/// OTLP/HTTP over the process's `reqwest` client, on the Tokio runtime (the batch processor
/// exports from a thread of its own).
#[derive(Debug)]
struct Exporter {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for Exporter {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<HttpResponse<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let answer = self
            .runtime
            .spawn(async move {
                let response = client.execute(request).await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            })
            .await??;
        let (status, headers, body) = answer;
        let mut response = HttpResponse::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// The attribute of a worker pass's span saying whether the pass did work.
const DID_WORK: &str = "worker.did_work";

/// Drops the spans of worker passes that found nothing to do: only passes that did work are
/// exported.
#[derive(Debug)]
struct WithoutIdlePasses<P>(P);

impl<P: SpanProcessor> SpanProcessor for WithoutIdlePasses<P> {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let idle = span
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == DID_WORK && kv.value == opentelemetry::Value::Bool(false));
        if !idle {
            self.0.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

/// The span of a worker pass; [`did_work`] records its outcome.
pub fn worker_pass(worker: &'static str) -> Span {
    tracing::info_span!(
        parent: None,
        "worker.pass",
        otel.name = %format_args!("worker {worker}"),
        worker,
        worker.did_work = tracing::field::Empty,
    )
}

/// Records whether the pass of `span` did work.
pub fn did_work(span: &Span, worked: bool) {
    span.record(DID_WORK, worked);
}

/// The span of an HTTP request, continuing the caller's `traceparent` when it sent one.
pub fn request_span(method: &axum::http::Method, path: &str, headers: &HeaderMap) -> Span {
    if !enabled() {
        // The logs' span, as it always was: no attribute is formatted for an exporter that is not there.
        return tracing::info_span!("http", method = %method, path = %path);
    }
    // The route, not the path: ids stay out of span names.
    let route = if path.starts_with("/media/") {
        "/media/{id}"
    } else if path.starts_with("/desktop/") {
        "/desktop/{file}"
    } else {
        path
    };
    let span = tracing::info_span!(
        "http",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        path = %path,
        http.response.status_code = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span
}

/// Sends an outbound request (Cloud API, SMS provider, CRM endpoint) in a client span that
/// carries `traceparent` to the other side.
///
/// # Errors
/// What `reqwest` returns.
pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
    if !enabled() {
        return request.send().await;
    }
    let (client, request) = request.build_split();
    let mut request = request?;
    let host = request.url().host_str().unwrap_or("unknown").to_owned();
    let span = tracing::info_span!(
        "outbound",
        otel.name = %format_args!("{} {host}", request.method()),
        otel.kind = "client",
        http.request.method = %request.method(),
        server.address = %host,
        http.response.status_code = tracing::field::Empty,
    );
    let cx = span.context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderInjector(request.headers_mut()))
    });
    let response = client.execute(request).instrument(span.clone()).await;
    if let Ok(response) = &response {
        span.record("http.response.status_code", response.status().as_u16());
    }
    response
}

/// A span per GraphQL operation, named `query Inbox` (its type and name), installed on the
/// schema only when traces are exported.
pub struct OperationSpans;

impl ExtensionFactory for OperationSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationSpan::default())
    }
}

#[derive(Default)]
struct OperationSpan {
    /// The document's operations: name and type.
    operations: std::sync::Mutex<Vec<(Option<String>, &'static str)>>,
}

#[async_trait::async_trait]
impl Extension for OperationSpan {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let operations = document
            .operations
            .iter()
            .map(|(name, op)| {
                let kind = match op.node.ty {
                    OperationType::Query => "query",
                    OperationType::Mutation => "mutation",
                    OperationType::Subscription => "subscription",
                };
                (name.map(|n| n.as_str().to_owned()), kind)
            })
            .collect();
        if let Ok(mut slot) = self.operations.lock() {
            *slot = operations;
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        // The operation the request chose, or the document's only one.
        let (kind, name) = self
            .operations
            .lock()
            .ok()
            .and_then(|ops| {
                ops.iter()
                    .find(|(name, _)| operation_name.is_none() || name.as_deref() == operation_name)
                    .map(|(name, kind)| (*kind, name.clone()))
            })
            .unwrap_or(("query", None));
        let bare =
            name.or_else(|| operation_name.map(str::to_owned)).unwrap_or_else(|| "anonymous".to_owned());
        let name = format!("{kind} {bare}");
        let span = tracing::info_span!(
            "graphql",
            otel.name = %name,
            graphql.operation.type = kind,
            graphql.operation.name = %bare,
            graphql.errors = tracing::field::Empty,
        );
        let response = next.run(ctx, operation_name).instrument(span.clone()).await;
        span.record("graphql.errors", response.errors.len());
        response
    }
}

/// `.send_traced()`: [`send`] for a request being built (every outbound call uses it).
pub trait SendTraced {
    /// Sends the request in a client span that carries `traceparent`.
    fn send_traced(self) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

impl SendTraced for reqwest::RequestBuilder {
    fn send_traced(self) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send {
        send(self)
    }
}
