//! The HTTP and WebSocket surface: routes, GraphiQL, health, and the request limits.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Data, Executor};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sea_orm::DatabaseConnection;

use crate::auth::{Actor, TokenKeys};
use crate::caller_limit::CallerLimits;
use crate::config::{BusinessConfig, LimitsConfig, TransportConfig};
use crate::error::ApiError;
use crate::events::EventBus;
use crate::graphql::build_schema;
use crate::graphql::limits::LimitedSchema;
use crate::graphql::loaders::DbLoader;
use crate::persisted::Refusal;

/// Settings the running service reads on every request.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Request limits.
    pub limits: LimitsConfig,
    /// Business defaults.
    pub business: BusinessConfig,
    /// Connection hygiene: timeouts and caps of HTTP and WebSocket connections.
    pub transport: TransportConfig,
    /// The admin token GraphiQL's header editor starts with. `serve` sets it only when `--demo`
    /// seeded the database in this process and the server listens on a loopback address; the
    /// page then carries it only to requests whose `Host` is a loopback name or address (a DNS
    /// rebinding page on another name gets none).
    pub demo_token: Option<String>,
    /// CORS, persisted queries and trusted documents.
    pub protocol: crate::config::ProtocolSettings,
}

/// What every request can reach.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// Limits and business defaults.
    pub settings: Arc<Settings>,
    /// Token verification.
    pub keys: TokenKeys,
    /// Delivers committed events to subscribers.
    pub events: EventBus,
}

#[derive(Clone)]
struct Server {
    state: AppState,
    /// The schema behind the query cost limits, for every transport.
    schema: LimitedSchema,
    /// Operations running per caller, over HTTP and WebSocket alike.
    callers: CallerLimits,
    metrics: Arc<crate::metrics::Metrics>,
    /// One permit per WebSocket that has not yet completed `connection_init`.
    pending_ws: Arc<tokio::sync::Semaphore>,
    /// The automatic-persisted-query store, or the trusted documents.
    persisted: Arc<crate::persisted::PersistedQueries>,
}

/// The complete router: `/graphql` (GET, POST, GraphiQL), `/graphql/ws`, `/healthz`, `/readyz`.
pub fn router(state: AppState) -> Router {
    let limits = &state.settings.limits;
    let callers = CallerLimits::new(
        limits.max_concurrent_per_caller,
        limits.max_queued_per_caller,
    );
    router_with_callers(state, callers)
}

/// The router whose per-caller concurrency slots are `callers` (shared with whoever else holds
/// them, e.g. a second listener of the same service).
pub fn router_with_callers(state: AppState, callers: CallerLimits) -> Router {
    let max_body = state.settings.limits.max_body_bytes;
    let protocol = &state.settings.protocol;
    let cors = Arc::new(protocol.cors.clone());
    let persisted = Arc::new(crate::persisted::PersistedQueries::new(
        protocol.apq_max_entries,
        protocol.apq_max_bytes,
        protocol.trusted_documents.clone(),
    ));
    let server = Server {
        persisted,
        schema: LimitedSchema::new(
            build_schema(state.clone()),
            state.settings.limits.clone(),
            callers.clone(),
        ),
        callers,
        pending_ws: Arc::new(tokio::sync::Semaphore::new(
            state.settings.transport.max_pending_ws.max(1),
        )),
        state,
        metrics: Arc::default(),
    };
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::graphiql::assets_router())
        .merge(crate::examples::router(
            server.state.settings.demo_token.clone(),
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(server)
        .layer(axum::middleware::from_fn_with_state(
            cors,
            crate::cors::layer,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(in_request))
}

/// Serves an HTTP request as a request of its own: a fresh id, and a span that carries it to
/// every log line written while it is served (WebSocket operations get theirs per operation,
/// see [`serve_socket`]).
async fn in_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    crate::request_id::run(crate::request_id::RequestId::new(), next.run(request)).await
}

/// Every answer: never cached (answers and the demo page may carry private data), never framed
/// (no clickjacking of GraphiQL), never content-sniffed.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// True when the request's `Host` is `localhost` or a loopback address (with or without port).
pub(crate) fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        // `[::1]:8000`
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The GraphQL-over-HTTP media type, used when the client asks for it.
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(media_type))
}

/// A response holding only request-level errors.
fn error_response(status: StatusCode, error: ApiError) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": error.message(), "extensions": { "code": error.code() } }]
    });
    (status, axum::Json(body)).into_response()
}

/// The answer to a request whose persisted document cannot run, in the media type asked for.
fn persisted_refusal(headers: &HeaderMap, refusal: &Refusal) -> Response {
    let graphql_response = accepts(headers, GRAPHQL_RESPONSE_JSON);
    // APQ clients have always read `PersistedQueryNotFound` from a 200 application/json answer;
    // with the GraphQL-over-HTTP media type nothing ran, so the status says so.
    let status = if !graphql_response && *refusal == Refusal::NotFound {
        StatusCode::OK
    } else {
        refusal.status()
    };
    let content_type = if graphql_response {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    let body = serde_json::json!({ "errors": [refusal.to_json()] }).to_string();
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// Puts the persisted document a request names (`extensions.persistedQuery`) in its query,
/// stores a new one, or refuses the request (unknown hash, hash mismatch, or, with trusted
/// documents, anything unregistered). Runs before the prescan, so the limits see the document.
fn resolve_persisted(server: &Server, request: &mut async_graphql::Request) -> Result<(), Refusal> {
    server
        .persisted
        .resolve(&mut request.query, &request.extensions.0)
}

/// True when a POST body is declared `application/json` (UTF-8, the default, if a charset is
/// named). GraphQL over HTTP requires the header; without it a browser form could post here.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        && parts.all(|parameter| match parameter.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

/// True for an answer to a request error: the document did not parse or validate, a variable
/// did not coerce, a limit refused it, or no operation matched. Nothing ran, so there is no
/// `data`, and no error has a field path (a field error always has one).
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The caller of a request: `Ok(None)` when no token was sent, an error when a token is bad.
fn authenticate(keys: &TokenKeys, headers: &HeaderMap) -> Result<Option<Actor>, ApiError> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => {
            let value = value.to_str().map_err(|_| ApiError::Unauthenticated)?;
            keys.verify_header(value).map(Some)
        }
    }
}

/// The caller, or `None` (answer 401 UNAUTHENTICATED) unless the request carries a valid token.
fn require_actor(server: &Server, headers: &HeaderMap) -> Option<Actor> {
    authenticate(&server.state.keys, headers).ok().flatten()
}

/// What must hold before a document reaches the parser (a failure is answered with 400):
/// bounded nesting (deeper documents crash it) and no NUL characters.
fn precheck(request: &async_graphql::Request) -> Result<(), ApiError> {
    // GraphQL over HTTP: a request without a document is malformed, not a GraphQL error.
    if request.query.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "the request has no `query` (nor the hash of a persisted one)".to_owned(),
        ));
    }
    crate::prescan::check_document(&request.query)?;
    let variables = serde_json::to_value(&request.variables).unwrap_or_default();
    crate::prescan::check_no_nul(&request.query, &variables)
}

async fn execute(
    server: &Server,
    headers: &HeaderMap,
    actor: Actor,
    batch: BatchRequest,
) -> Response {
    let limits = &server.state.settings.limits;
    if let BatchRequest::Batch(requests) = &batch {
        if requests.len() > limits.max_batch {
            return error_response(
                StatusCode::BAD_REQUEST,
                ApiError::LimitExceeded(format!(
                    "a batch holds {} operations, but the limit is {}",
                    requests.len(),
                    limits.max_batch
                )),
            );
        }
    }
    let checked = match &batch {
        BatchRequest::Single(request) => precheck(request),
        BatchRequest::Batch(requests) => requests.iter().try_for_each(precheck),
    };
    if let Err(error) = checked {
        return error_response(StatusCode::BAD_REQUEST, error);
    }
    let subject = actor.subject.clone();
    let mut batch = batch.data(actor);
    // A loader per operation: a batch runs its operations one after another, and rows primed
    // for one must not answer the next (a mutation may have changed them in between).
    for request in batch.iter_mut() {
        request
            .data
            .insert(DbLoader::data_loader(server.state.db.clone()));
    }
    let run = async {
        // One slot of the caller's concurrency limit for the whole request (a batch runs its
        // operations one after another); waiting for it counts against the time limit.
        let _permit = server.callers.acquire(&subject).await?;
        // The schema parses and checks each document against the cost limits before running it.
        Ok::<_, ApiError>(server.schema.execute_batch(batch).await)
    };
    let outcome = tokio::time::timeout(limits.request_timeout(), run).await;
    let response: BatchResponse = match outcome {
        Ok(Err(error)) => {
            let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, error);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        Ok(Ok(response)) => {
            let (operations, failed) = match &response {
                BatchResponse::Single(r) => (1, u64::from(r.is_err())),
                BatchResponse::Batch(all) => (
                    all.len() as u64,
                    all.iter().filter(|r| r.is_err()).count() as u64,
                ),
            };
            use std::sync::atomic::Ordering;
            server
                .metrics
                .graphql_operations
                .fetch_add(operations, Ordering::Relaxed);
            server
                .metrics
                .graphql_errors
                .fetch_add(failed, Ordering::Relaxed);
            response
        }
        Err(_) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                ApiError::LimitExceeded(format!(
                    "the request exceeded the time limit of {} s",
                    limits.request_timeout_secs
                )),
            )
        }
    };
    // A database outage is 503 with Retry-After, so clients and proxies know to retry.
    let unavailable = match &response {
        BatchResponse::Single(r) => crate::error::any_unavailable(&r.errors),
        BatchResponse::Batch(all) => all.iter().any(|r| crate::error::any_unavailable(&r.errors)),
    };
    let graphql_response = accepts(headers, GRAPHQL_RESPONSE_JSON);
    let content_type = if graphql_response {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    // GraphQL over HTTP: with application/graphql-response+json a request error is a 400 with
    // no `data` entry. application/json answers keep 200 and `data: null`, as clients of that
    // media type expect.
    if graphql_response && !unavailable {
        if let BatchResponse::Single(single) = &response {
            if is_request_error(single) {
                let mut body = serde_json::to_value(&response).unwrap_or_default();
                if let Some(body) = body.as_object_mut() {
                    body.remove("data");
                }
                return (
                    StatusCode::BAD_REQUEST,
                    [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
                    body.to_string(),
                )
                    .into_response();
            }
        }
    }
    match serde_json::to_vec(&response) {
        Ok(body) if unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::RETRY_AFTER, crate::error::retry_after()),
            ],
            body,
        )
            .into_response(),
        Ok(body) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response(),
        Err(err) => error_response(StatusCode::INTERNAL_SERVER_ERROR, ApiError::internal(err)),
    }
}

async fn graphql_post(
    State(server): State<Server>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let limit = server.state.settings.limits.max_body_bytes;
            let error = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::LimitExceeded(format!(
                    "the request body is larger than the limit of {limit} bytes"
                ))
            } else {
                ApiError::BadRequest(format!("the request body could not be read: {rejection}"))
            };
            return error_response(rejection.status(), error);
        }
    };
    // Unauthenticated callers get nothing but UNAUTHENTICATED, before anything is parsed.
    let Some(actor) = require_actor(&server, &headers) else {
        return error_response(StatusCode::UNAUTHORIZED, ApiError::Unauthenticated);
    };
    if !json_content_type(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BadRequest(
                "send the request body as Content-Type: application/json".to_owned(),
            ),
        );
    }
    let mut batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                ApiError::BadRequest(format!("the body is not a GraphQL request: {err}")),
            )
        }
    };
    let resolved = match &mut batch {
        BatchRequest::Single(request) => resolve_persisted(&server, request),
        BatchRequest::Batch(requests) => requests
            .iter_mut()
            .try_for_each(|request| resolve_persisted(&server, request)),
    };
    if let Err(refusal) = resolved {
        return persisted_refusal(&headers, &refusal);
    }
    execute(&server, &headers, actor, batch).await
}

/// The parameters of a GraphQL GET request (GraphQL over HTTP spells them in camelCase).
#[derive(serde::Deserialize)]
struct GetParams {
    #[serde(default)]
    query: String,
    #[serde(default, rename = "operationName", alias = "operation_name")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<String>,
    #[serde(default)]
    extensions: Option<String>,
}

fn get_request(uri: &Uri) -> Result<async_graphql::Request, String> {
    let params = axum::extract::Query::<GetParams>::try_from_uri(uri)
        .map_err(|e| e.body_text())?
        .0;
    let mut request = async_graphql::Request::new(params.query);
    request.operation_name = params.operation_name.filter(|name| !name.is_empty());
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        request.variables =
            serde_json::from_str(&variables).map_err(|e| format!("invalid variables: {e}"))?;
    }
    if let Some(extensions) = params.extensions.filter(|e| !e.is_empty()) {
        request.extensions =
            serde_json::from_str(&extensions).map_err(|e| format!("invalid extensions: {e}"))?;
    }
    Ok(request)
}

async fn graphql_get(
    State(server): State<Server>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Response {
    // A browser navigating here (HTML wanted, no JSON media type asked for) gets GraphiQL, which
    // opens a shared `?query=` link in its editor; API clients ask for JSON.
    let browser = accepts(&headers, "text/html")
        && !accepts(&headers, "application/json")
        && !accepts(&headers, GRAPHQL_RESPONSE_JSON);
    if browser && method == Method::GET {
        // The demo token only for a loopback Host: a page on another name that resolves here
        // (DNS rebinding) must not read it.
        let demo_token = server
            .state
            .settings
            .demo_token
            .as_deref()
            .filter(|_| loopback_host(&headers));
        return crate::graphiql::page("/graphql", "/graphql/ws", demo_token).into_response();
    }
    // Unauthenticated callers get nothing but UNAUTHENTICATED, before anything is parsed.
    let Some(actor) = require_actor(&server, &headers) else {
        return error_response(StatusCode::UNAUTHORIZED, ApiError::Unauthenticated);
    };
    let mut request = match get_request(&uri) {
        Ok(request) => request,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                ApiError::BadRequest(format!("the query string is not a GraphQL request: {err}")),
            )
        }
    };
    if let Err(refusal) = resolve_persisted(&server, &mut request) {
        return persisted_refusal(&headers, &refusal);
    }
    if let Err(error) = precheck(&request) {
        return error_response(StatusCode::BAD_REQUEST, error);
    }
    // GraphQL over HTTP: GET may only run queries. The guard looks at the operation that would
    // run: the named one, or the only one; several without a name fail in execution.
    if let Ok(document) = async_graphql::parser::parse_query(&request.query) {
        use async_graphql::parser::types::DocumentOperations;
        let selected = match (&request.operation_name, &document.operations) {
            (Some(name), operations) => operations
                .iter()
                .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
                .map(|(_, op)| op),
            (None, DocumentOperations::Single(op)) => Some(op),
            (None, DocumentOperations::Multiple(_)) => None,
        };
        if selected.is_some_and(|op| op.node.ty != OperationType::Query) {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                ApiError::BadRequest(
                    "mutations and subscriptions must use POST (or the WebSocket)".to_owned(),
                ),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
    }
    execute(&server, &headers, actor, BatchRequest::Single(request)).await
}

async fn graphql_ws(
    State(server): State<Server>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    use async_graphql::http::WebSocketProtocols;
    use std::str::FromStr;
    // The first sub-protocol offered that we speak (graphql-transport-ws or the legacy one).
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        });
    let Some(protocol) = protocol else {
        return error_response(
            StatusCode::BAD_REQUEST,
            ApiError::BadRequest("use the graphql-transport-ws sub-protocol".to_owned()),
        );
    };
    // Sockets that have not authenticated yet are capped: each costs memory while it waits.
    let Ok(pending) = Arc::clone(&server.pending_ws).try_acquire_owned() else {
        let mut response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ApiError::LimitExceeded(
                "too many WebSocket connections are waiting for connection_init".to_owned(),
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    // A message may be as large as an HTTP body, no larger; the limit holds before
    // `connection_init` too, so an unauthenticated client cannot make us buffer more.
    let max_message = server.state.settings.limits.max_body_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| serve_socket(server, socket, protocol, pending))
}

/// Why this server ends a graphql-transport-ws connection that async-graphql closes. The
/// library closes with its own codes (1002 for a refused `connection_init`, 1011 for an
/// operation before the handshake); the protocol wants 4401 and 4403, so whoever refuses
/// records the reason here and the close code is taken from it, never from the message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refused {
    /// `connection_init` without a token.
    NoToken,
    /// `connection_init` with a token that does not verify.
    BadToken,
    /// An operation sent before `connection_init` was accepted.
    NotInitialised,
}

impl Refused {
    /// The graphql-transport-ws close code.
    fn code(self) -> u16 {
        match self {
            Refused::NoToken | Refused::NotInitialised => 4401,
            Refused::BadToken => 4403,
        }
    }

    /// The close reason.
    fn message(self) -> &'static str {
        match self {
            Refused::NoToken => {
                "Unauthorized: send {\"authorization\": \"Bearer <token>\"} in connection_init"
            }
            Refused::BadToken => "Forbidden: the token is invalid or expired",
            Refused::NotInitialised => "Unauthorized: send connection_init first",
        }
    }
}

/// True for a client message that starts an operation (`subscribe`, or the legacy `start`).
fn starts_operation(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Kind>(bytes)
        .is_ok_and(|m| matches!(m.kind.as_deref(), Some("subscribe" | "start")))
}

/// Seconds since the Unix epoch, as token `exp` claims count them.
fn unix_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Screens a client message before async-graphql reads it: a `subscribe` naming a persisted
/// document gets that document as its query (trusted-documents mode refuses anything
/// unregistered), and one whose document must not reach the parser (too deep, or holding NUL)
/// is refused. `Err` carries the `error` message answering a refused `subscribe`; every other
/// message passes unchanged.
fn screen_subscribe(
    persisted: &crate::persisted::PersistedQueries,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let Ok(mut message) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Ok(bytes);
    };
    let kind = message.get("type").and_then(|k| k.as_str());
    if kind != Some("subscribe") && kind != Some("start") {
        return Ok(bytes);
    }
    let id = message.get("id").cloned();
    let refuse = |error: serde_json::Value| {
        serde_json::json!({ "type": "error", "id": id, "payload": [error] }).to_string()
    };
    let Some(payload) = message.get_mut("payload").and_then(|p| p.as_object_mut()) else {
        return Ok(bytes);
    };
    let mut query = payload
        .get("query")
        .and_then(|q| q.as_str())
        .unwrap_or_default()
        .to_owned();
    let extensions: std::collections::HashMap<String, async_graphql::Value> = payload
        .get("extensions")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default();
    let named_only = query.is_empty();
    persisted
        .resolve(&mut query, &extensions)
        .map_err(|refusal| refuse(refusal.to_json()))?;
    let variables = payload
        .get("variables")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    crate::prescan::check_document(&query)
        .and_then(|()| crate::prescan::check_no_nul(&query, &variables))
        .map_err(|error| {
            refuse(serde_json::json!({
                "message": error.message(), "extensions": { "code": error.code() }
            }))
        })?;
    if !named_only {
        // The text sent is what runs (APQ stored it, or it is a trusted document).
        return Ok(bytes);
    }
    payload.insert("query".to_owned(), serde_json::Value::String(query));
    Ok(serde_json::to_vec(&message).unwrap_or(bytes))
}

/// One graphql-transport-ws connection: the token in `connection_init` within the init
/// timeout (none → 4401, bad → 4403, too late → 4408), keep-alive pings, a close (4403) when
/// the token expires, and a close (1001) when the server stops.
async fn serve_socket(
    server: Server,
    socket: axum::extract::ws::WebSocket,
    protocol: async_graphql::http::WebSocketProtocols,
    pending: tokio::sync::OwnedSemaphorePermit,
) {
    use async_graphql::http::{WebSocket as GraphQLSocket, WsMessage};
    use axum::extract::ws::{CloseFrame, Message};
    use futures_util::{SinkExt, StreamExt};
    use std::sync::atomic::{AtomicU64, Ordering};

    let _open = crate::metrics::ConnectionGuard::open(Arc::clone(&server.metrics));
    let running = Arc::clone(&server.metrics.subscriptions);
    let keys = server.state.keys.clone();
    let persisted = Arc::clone(&server.persisted);
    let db = server.state.db.clone();
    let limits = server.state.settings.limits.clone();
    let transport = &server.state.settings.transport;
    // The `exp` of the session's token (0 until `connection_init` was accepted).
    let expires = Arc::new(AtomicU64::new(0));
    let expired = {
        let expires = Arc::clone(&expires);
        move || {
            let exp = expires.load(Ordering::Relaxed);
            exp != 0 && unix_now().as_secs() >= exp
        }
    };
    // Answers to messages refused before they reach async-graphql.
    let (refusals, mut refused) = tokio::sync::mpsc::unbounded_channel::<String>();
    // Why the connection is being refused, once it is (see `Refused`).
    let refusal = Arc::new(std::sync::OnceLock::<Refused>::new());
    let init_refusal = Arc::clone(&refusal);
    let early_refusal = Arc::clone(&refusal);
    let initialised = {
        let expires = Arc::clone(&expires);
        move || expires.load(Ordering::Relaxed) != 0
    };
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|message| {
            futures_util::future::ready(!matches!(message, Ok(Message::Close(_)) | Err(_)))
        })
        .filter_map(move |message| {
            let bytes = match message {
                Ok(Message::Text(text)) => Some(text.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            };
            // Nothing a client sends once its token has expired runs, even if it arrives
            // before the close below goes out.
            let bytes = bytes.filter(|_| !expired()).and_then(|bytes| {
                match screen_subscribe(&persisted, bytes) {
                    Ok(bytes) => Some(bytes),
                    Err(answer) => {
                        refusals.send(answer).ok();
                        None
                    }
                }
            });
            // async-graphql closes the connection on an operation before the handshake; it
            // reads messages only while no `connection_init` is pending, so "not initialised"
            // here means none was accepted.
            if !initialised() && bytes.as_deref().is_some_and(starts_operation) {
                early_refusal.set(Refused::NotInitialised).ok();
            }
            futures_util::future::ready(bytes)
        });
    let session_expires = Arc::clone(&expires);
    // Each operation of the connection is a request of its own, with its id and span.
    let executor = crate::request_id::PerOperation(server.schema.clone());
    let mut graphql = Box::pin(
        GraphQLSocket::new(executor, input, protocol).on_connection_init(
            move |payload| async move {
                let refuse = |why: Refused| {
                    init_refusal.set(why).ok();
                    async_graphql::Error::new(why.message())
                };
                let header = payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| refuse(Refused::NoToken))?;
                let (actor, exp) = keys
                    .verify_header_until(header)
                    .map_err(|_| refuse(Refused::BadToken))?;
                session_expires.store(exp.max(1), Ordering::Relaxed);
                let mut data = Data::default();
                data.insert(actor);
                // Shared by every operation of the session, so it never caches.
                data.insert(DbLoader::session_loader(db));
                data.insert(crate::graphql::subscriptions::SubscriptionSlots::new(
                    limits.max_subscriptions,
                    running,
                ));
                Ok(data)
            },
        ),
    );
    let mut stopping = server.state.events.stopping();
    let mut ping = tokio::time::interval(Duration::from_secs(
        server.state.settings.limits.ws_ping_secs.max(1),
    ));
    ping.tick().await;
    // Until `connection_ack` goes out the socket holds a pending-handshake permit and must
    // finish within the init timeout; after it, the token's expiry is the deadline.
    let mut pending = Some(pending);
    let deadline = tokio::time::sleep(transport.ws_init_timeout());
    tokio::pin!(deadline);
    let close = |code: u16, reason: &str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    loop {
        let outgoing = tokio::select! {
            message = graphql.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if pending.is_some() && text.contains("connection_ack") {
                        pending = None;
                        let exp = Duration::from_secs(expires.load(Ordering::Relaxed));
                        // A hair past `exp`, so the expiry check agrees the token is spent.
                        let left = exp.saturating_sub(unix_now()) + Duration::from_millis(10);
                        deadline.as_mut().reset(tokio::time::Instant::now() + left);
                    }
                    Message::Text(text.into())
                }
                Some(WsMessage::Close(code, reason)) => {
                    // graphql-transport-ws: 4401 before a valid handshake, 4403 for a bad token.
                    let (code, reason) = match refusal.get() {
                        Some(why) => (why.code(), why.message()),
                        None => (code, reason.as_str()),
                    };
                    let _ = sink.send(close(code, reason)).await;
                    return;
                }
                None => return,
            },
            Some(answer) = refused.recv() => Message::Text(answer.into()),
            () = &mut deadline => {
                if pending.is_some() {
                    let _ = sink.send(close(4408, "Connection initialisation timeout")).await;
                    return;
                }
                let _ = sink.send(close(4403, "Forbidden: the token has expired")).await;
                // Finish the closing handshake (whatever the client still sends is dropped
                // unread by the expiry check above), so the client reads the 4403 instead of
                // a reset caused by closing on unread data.
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    while graphql.next().await.is_some() {}
                })
                .await;
                return;
            }
            _ = ping.tick() => Message::Text(r#"{"type":"ping"}"#.into()),
            _ = stopping.changed() => {
                let _ = sink.send(close(1001, "the server is shutting down")).await;
                return;
            }
        };
        if sink.send(outgoing).await.is_err() {
            return;
        }
    }
}

async fn metrics(State(server): State<Server>) -> Response {
    let body = server.metrics.render(server.state.events.delivered());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        body,
    )
        .into_response()
}

/// 200 while the database answers, 503 (with `Retry-After`) while it does not. Bounded by
/// [`crate::db::READY_CHECK_TIMEOUT`], so a probe never waits out the pool's acquire timeout;
/// the pool reconnects on its own, so the answer turns 200 again when the database is back.
async fn readyz(State(server): State<Server>) -> Response {
    match crate::db::ready(&server.state.db).await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, crate::error::retry_after())],
                "database unreachable",
            )
                .into_response()
        }
    }
}
