//! The HTTP and WebSocket surface: routes, GraphiQL, health, and the request limits.

use std::sync::Arc;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Data, Executor};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::auth::{Actor, TokenKeys};
use crate::caller_limit::CallerLimits;
use crate::config::{BusinessConfig, LimitsConfig};
use crate::error::ApiError;
use crate::events::EventBus;
use crate::graphql::build_schema;
use crate::graphql::limits::LimitedSchema;
use crate::graphql::loaders::DbLoader;

/// Settings the running service reads on every request.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Request limits.
    pub limits: LimitsConfig,
    /// Business defaults.
    pub business: BusinessConfig,
    /// With `serve --demo`: the admin token GraphiQL's header editor starts with.
    pub demo_token: Option<String>,
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
    let server = Server {
        schema: LimitedSchema::new(
            build_schema(state.clone()),
            state.settings.limits.clone(),
            callers.clone(),
        ),
        callers,
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
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(server)
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

async fn execute(server: &Server, headers: &HeaderMap, batch: BatchRequest) -> Response {
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
    // Unauthenticated callers get nothing but UNAUTHENTICATED.
    let actor = match authenticate(&server.state.keys, headers) {
        Ok(Some(actor)) => actor,
        Ok(None) | Err(_) => {
            return error_response(StatusCode::UNAUTHORIZED, ApiError::Unauthenticated)
        }
    };
    let subject = actor.subject.clone();
    let batch = batch
        .data(actor)
        .data(DbLoader::data_loader(server.state.db.clone()));
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
    let content_type = if accepts(headers, GRAPHQL_RESPONSE_JSON) {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    match serde_json::to_vec(&response) {
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
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                ApiError::BadRequest(format!("the body is not a GraphQL request: {err}")),
            )
        }
    };
    execute(&server, &headers, batch).await
}

async fn graphql_get(
    State(server): State<Server>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Response {
    let query = uri.query().unwrap_or_default();
    // A browser navigating here (HTML wanted, no JSON media type asked for) gets GraphiQL, which
    // opens a shared `?query=` link in its editor; API clients ask for JSON.
    let browser = accepts(&headers, "text/html")
        && !accepts(&headers, "application/json")
        && !accepts(&headers, GRAPHQL_RESPONSE_JSON);
    if browser && method == Method::GET {
        return crate::graphiql::page(
            "/graphql",
            "/graphql/ws",
            server.state.settings.demo_token.as_deref(),
        )
        .into_response();
    }
    let request = match async_graphql::http::parse_query_string(query) {
        Ok(request) => request,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                ApiError::BadRequest(format!("the query string is not a GraphQL request: {err}")),
            )
        }
    };
    // GraphQL over HTTP: GET may only run queries.
    if let Ok(document) = async_graphql::parser::parse_query(&request.query) {
        let selected = match &request.operation_name {
            Some(name) => document
                .operations
                .iter()
                .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
                .map(|(_, op)| op),
            None => document.operations.iter().next().map(|(_, op)| op),
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
    execute(&server, &headers, BatchRequest::Single(request)).await
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
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve_socket(server, socket, protocol))
}

/// Why a WebSocket handshake was refused, carried to the close code.
const NO_TOKEN: &str =
    "Unauthorized: send {\"authorization\": \"Bearer <token>\"} in connection_init";
const BAD_TOKEN: &str = "Forbidden: the token is invalid or expired";

/// One graphql-transport-ws connection: the token in `connection_init` (none → 4401, bad →
/// 4403), keep-alive pings, and a close (1001) when the server stops.
async fn serve_socket(
    server: Server,
    socket: axum::extract::ws::WebSocket,
    protocol: async_graphql::http::WebSocketProtocols,
) {
    use async_graphql::http::{WebSocket as GraphQLSocket, WsMessage};
    use axum::extract::ws::{CloseFrame, Message};
    use futures_util::{SinkExt, StreamExt};

    let _open = crate::metrics::ConnectionGuard::open(Arc::clone(&server.metrics));
    let running = Arc::clone(&server.metrics.subscriptions);
    let keys = server.state.keys.clone();
    let db = server.state.db.clone();
    let limits = server.state.settings.limits.clone();
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|message| {
            futures_util::future::ready(!matches!(message, Ok(Message::Close(_)) | Err(_)))
        })
        .filter_map(|message| async move {
            match message {
                Ok(Message::Text(text)) => Some(text.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            }
        });
    let mut graphql = Box::pin(
        GraphQLSocket::new(server.schema.clone(), input, protocol).on_connection_init(
            move |payload| async move {
                let header = payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| async_graphql::Error::new(NO_TOKEN))?;
                let actor = keys
                    .verify_header(header)
                    .map_err(|_| async_graphql::Error::new(BAD_TOKEN))?;
                let mut data = Data::default();
                data.insert(actor);
                data.insert(DbLoader::data_loader(db));
                data.insert(crate::graphql::subscriptions::SubscriptionSlots::new(
                    limits.max_subscriptions,
                    running,
                ));
                Ok(data)
            },
        ),
    );
    let mut stopping = server.state.events.stopping();
    let mut ping = tokio::time::interval(std::time::Duration::from_secs(
        server.state.settings.limits.ws_ping_secs.max(1),
    ));
    ping.tick().await;
    loop {
        let outgoing = tokio::select! {
            message = graphql.next() => match message {
                Some(WsMessage::Text(text)) => Message::Text(text.into()),
                Some(WsMessage::Close(code, reason)) => {
                    // graphql-transport-ws: 4401 before a valid handshake, 4403 for a bad token.
                    let code = if reason == NO_TOKEN || reason.contains("handshake is not completed") {
                        4401
                    } else if reason == BAD_TOKEN {
                        4403
                    } else {
                        code
                    };
                    let frame = CloseFrame { code, reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
                None => return,
            },
            _ = ping.tick() => Message::Text(r#"{"type":"ping"}"#.into()),
            _ = stopping.changed() => {
                let frame = CloseFrame { code: 1001, reason: "the server is shutting down".into() };
                let _ = sink.send(Message::Close(Some(frame))).await;
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

async fn readyz(State(server): State<Server>) -> Response {
    match server.state.db.execute_unprepared("SELECT 1").await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}
