//! Issue 12, findings 1, 2, 7, 8 and 10: each attack replayed against a real server (or the
//! router), and the service still answering afterwards.
//!
//! No test waits for a fixed time: timeouts are configured tiny and the tests poll, bounded by
//! [`WAIT`], for the condition to hold.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stockgraph::auth::Permission;
use stockgraph::config::{LimitsConfig, TransportConfig};
use stockgraph::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// The longest any test waits for something that must happen.
const WAIT: Duration = Duration::from_secs(20);

/// Serves the app through the service's own server loop (timeouts, connection cap) with the
/// app's transport settings.
async fn serve(app: &TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = app.router.clone();
    let transport = app.state.settings.transport.clone();
    tokio::spawn(async move {
        stockgraph::transport::serve(listener, router, transport, std::future::pending()).await
    });
    address
}

fn with_transport(transport: TransportConfig) -> Settings {
    Settings {
        transport,
        ..Settings::default()
    }
}

/// One HTTP/1.1 exchange on a fresh connection: (status, head, body).
async fn http(address: SocketAddr, request: String) -> (u16, String, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("an answer")
        .expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {head}"));
    (status, head.to_owned(), body.to_owned())
}

fn get_request(address: SocketAddr, path: &str, token: &str) -> String {
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: application/json\r\n{auth}Connection: close\r\n\r\n"
    )
}

fn post_request(address: SocketAddr, token: &str, body: &str) -> String {
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    format!(
        "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The first error's `extensions.code` of a JSON answer body.
fn code(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    let error = if value.is_array() {
        value
            .as_array()
            .unwrap()
            .iter()
            .find_map(|r| r.get("errors").map(|e| e[0].clone()))
            .unwrap_or_default()
    } else {
        value["errors"][0].clone()
    };
    error["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn assert_healthy(address: SocketAddr) {
    let (status, _, body) = http(address, get_request(address, "/healthz", "")).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a graphql-transport-ws connection without sending anything.
async fn open_ws(
    address: SocketAddr,
) -> Result<Socket, Box<tokio_tungstenite::tungstenite::Error>> {
    let mut request = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
        .map_err(Box::new)
}

async fn send_json(socket: &mut Socket, message: Value) {
    // The server may already have closed the socket; what matters is what it did.
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .ok();
}

/// What the server sends next (pings skipped): a JSON message, or `{"type":"close","code":…}`
/// when it closes (code 1006 when the connection just ends).
async fn next_ws(socket: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("the server answers")
        {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] != "ping" {
                    return message;
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return json!({ "type": "close", "code": frame.map_or(1005, |f| u16::from(f.code)) })
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return json!({ "type": "close", "code": 1006 }),
        }
    }
}

async fn init_ws(socket: &mut Socket, token: &str) {
    send_json(
        socket,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(next_ws(socket).await["type"], "connection_ack");
}

/// A vendor address as a GraphQL literal.
const ADDRESS: &str = r#"{ street: "1 Main St", city: "Springfield", region: "IL", postalCode: "62701", country: "US" }"#;

fn address() -> Value {
    json!({ "street": "1 Main St", "city": "Springfield", "region": "IL", "postalCode": "62701", "country": "US" })
}

// ---------------------------------------------------------------------------------------------
// Finding 1: one request crashed the process.

/// `{ viewer(x: [[[…) }`: about 1,800 levels overflowed the parser's stack.
fn deep_lists(levels: usize) -> String {
    format!("{{ viewer(x: {}) {{ subject }} }}", "[".repeat(levels))
}

/// The same with object literals.
fn deep_objects(levels: usize) -> String {
    format!("{{ viewer(x: {}) {{ subject }} }}", "{a: ".repeat(levels))
}

#[tokio::test]
async fn documents_nested_too_deep_are_refused_before_parsing_over_get_post_and_websocket() {
    let app = spawn_app().await;
    let address = serve(&app).await;
    // A token without a single permission is enough to reach the parser over POST.
    let nobody = app.token(&[]);
    for document in [deep_lists(100_000), deep_objects(100_000)] {
        let body = json!({ "query": document }).to_string();
        let (status, _, answer) = http(address, post_request(address, &nobody, &body)).await;
        assert_eq!((status, code(&answer)), (400, "LIMIT_EXCEEDED".into()));
        let batch = json!([{ "query": "{ viewer { subject } }" }, { "query": document }]);
        let (status, _, answer) =
            http(address, post_request(address, &nobody, &batch.to_string())).await;
        assert_eq!((status, code(&answer)), (400, "LIMIT_EXCEEDED".into()));
        // Without a token nothing is parsed at all.
        let (status, _, answer) = http(address, post_request(address, "", &body)).await;
        assert_eq!((status, code(&answer)), (401, "UNAUTHENTICATED".into()));
        assert_healthy(address).await;
    }
    // GET parsed the document before it looked at the token.
    // (A URI holds at most 64 KiB, still ten times what crashed the parser.)
    for encoded in ["%5B".repeat(20_000), "%7Ba%3A".repeat(9_000)] {
        let path = format!("/graphql?query=%7B%20viewer(x%3A{encoded})%20%7D");
        let (status, _, answer) = http(address, get_request(address, &path, "")).await;
        assert_eq!((status, code(&answer)), (401, "UNAUTHENTICATED".into()));
        let (status, _, answer) = http(address, get_request(address, &path, &nobody)).await;
        assert_eq!((status, code(&answer)), (400, "LIMIT_EXCEEDED".into()));
        assert_healthy(address).await;
    }
    // WebSocket `subscribe` goes through the same parser: refused, and the socket stays usable.
    let mut socket = open_ws(address).await.unwrap();
    init_ws(&mut socket, &app.admin).await;
    for (id, document) in [("1", deep_lists(100_000)), ("2", deep_objects(100_000))] {
        send_json(
            &mut socket,
            json!({ "id": id, "type": "subscribe", "payload": { "query": document } }),
        )
        .await;
        let answer = next_ws(&mut socket).await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(answer["id"], id);
        assert_eq!(answer["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    }
    send_json(
        &mut socket,
        json!({ "id": "3", "type": "subscribe", "payload": { "query": "{ viewer { subject } }" } }),
    )
    .await;
    let answer = next_ws(&mut socket).await;
    assert_eq!(answer["payload"]["data"]["viewer"]["subject"], "admin");
    assert_healthy(address).await;
}

// ---------------------------------------------------------------------------------------------
// Finding 2: connections without end.

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = spawn_app_with(with_transport(TransportConfig {
        header_timeout_secs: 1,
        ..TransportConfig::default()
    }))
    .await;
    let address = serve(&app).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut rest = Vec::new();
    // The server ends the connection; without a header timeout this read never returns.
    tokio::time::timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection")
        .ok();
    assert!(!String::from_utf8_lossy(&rest).contains(" 200 "));
    assert_healthy(address).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(with_transport(TransportConfig {
        header_timeout_secs: 1,
        ..TransportConfig::default()
    }))
    .await;
    let address = serve(&app).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    // One answer, then the kept-alive connection waits for a next request that never comes,
    // until the server closes it.
    tokio::time::timeout(WAIT, stream.read_to_end(&mut all))
        .await
        .expect("the server closes the idle connection")
        .ok();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_request_whose_body_stalls_is_disconnected_by_the_idle_timeout() {
    let app = spawn_app_with(with_transport(TransportConfig {
        idle_timeout_secs: 1,
        ..TransportConfig::default()
    }))
    .await;
    let address = serve(&app).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    // The headers are complete (so the header timeout is over); the promised body never comes.
    stream
        .write_all(
            format!(
                "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nContent-Length: 1000\r\n\r\n{{",
                app.admin
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the stalled connection")
        .ok();
    assert!(!String::from_utf8_lossy(&rest).contains(" 200 "));
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = spawn_app_with(with_transport(TransportConfig {
        max_connections: 2,
        ..TransportConfig::default()
    }))
    .await;
    let address = serve(&app).await;
    let idle_one = TcpStream::connect(address).await.unwrap();
    let _idle_two = TcpStream::connect(address).await.unwrap();
    let mut third = TcpStream::connect(address).await.unwrap();
    third
        .write_all(get_request(address, "/healthz", "").as_bytes())
        .await
        .unwrap();
    // Both slots are taken: the third connection is not served…
    let mut buffer = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), third.read(&mut buffer))
            .await
            .is_err(),
        "a third connection was served past the cap of 2"
    );
    // …until a slot comes free.
    drop(idle_one);
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, third.read_to_end(&mut answer))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_websocket_without_connection_init_is_closed_with_4408() {
    let app = spawn_app_with(with_transport(TransportConfig {
        ws_init_timeout_secs: 1,
        ..TransportConfig::default()
    }))
    .await;
    let address = serve(&app).await;
    let mut socket = open_ws(address).await.unwrap();
    assert_eq!(
        next_ws(&mut socket).await,
        json!({ "type": "close", "code": 4408 })
    );
    // A prompt client is unaffected.
    let mut socket = open_ws(address).await.unwrap();
    init_ws(&mut socket, &app.admin).await;
}

#[tokio::test]
async fn a_subscribe_before_connection_init_is_closed_with_4401_and_runs_nothing() {
    let app = spawn_app().await;
    let address = serve(&app).await;
    let mut socket = open_ws(address).await.unwrap();
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe",
                "payload": { "query": "subscription { purchaseOrderStatusChanged { status } }" } }),
    )
    .await;
    assert_eq!(
        next_ws(&mut socket).await,
        json!({ "type": "close", "code": 4401 })
    );
    // Other messages before the handshake do not count as operations.
    let mut socket = open_ws(address).await.unwrap();
    send_json(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(next_ws(&mut socket).await["type"], "pong");
    init_ws(&mut socket, &app.admin).await;
}

#[tokio::test]
async fn a_websocket_message_larger_than_the_body_limit_is_refused_before_authentication() {
    let app = spawn_app_with(Settings {
        limits: LimitsConfig {
            max_body_bytes: 64 * 1024,
            ..LimitsConfig::default()
        },
        ..Settings::default()
    })
    .await;
    let address = serve(&app).await;
    let mut socket = open_ws(address).await.unwrap();
    // A valid token, padded past the limit: the server must not read it all and accept it.
    let padding = "x".repeat(256 * 1024);
    send_json(
        &mut socket,
        json!({ "type": "connection_init",
                "payload": { "authorization": format!("Bearer {}", app.admin), "padding": padding } }),
    )
    .await;
    let answer = next_ws(&mut socket).await;
    assert_eq!(answer["type"], "close", "{answer}");
    assert_healthy(address).await;
    // Within the limit the same handshake works.
    let mut socket = open_ws(address).await.unwrap();
    init_ws(&mut socket, &app.admin).await;
}

#[tokio::test]
async fn websockets_waiting_for_connection_init_are_capped() {
    let app = spawn_app_with(with_transport(TransportConfig {
        max_pending_ws: 1,
        ..TransportConfig::default()
    }))
    .await;
    let address = serve(&app).await;
    let mut first = open_ws(address).await.unwrap();
    match open_ws(address).await {
        Err(error) => match *error {
            tokio_tungstenite::tungstenite::Error::Http(response) => {
                assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE)
            }
            other => panic!("expected a 503, got {other}"),
        },
        Ok(_) => panic!("a second pending WebSocket was accepted past the cap of 1"),
    }
    // Once the first has authenticated, its slot is free again.
    init_ws(&mut first, &app.admin).await;
    let mut third = open_ws(address).await.unwrap();
    init_ws(&mut third, &app.admin).await;
}

#[tokio::test]
async fn the_request_time_limit_applies_to_websocket_queries() {
    let app = spawn_app_with(Settings {
        limits: LimitsConfig {
            request_timeout_secs: 1,
            ..LimitsConfig::default()
        },
        ..Settings::default()
    })
    .await;
    let address = serve(&app).await;
    let mut socket = open_ws(address).await.unwrap();
    init_ws(&mut socket, &app.admin).await;
    // While every database connection is held elsewhere a query waits longer than its limit
    // (the pool would wait 8 s and then fail with INTERNAL).
    let mut held = Vec::new();
    for _ in 0..crate::helpers::POOL_SIZE {
        held.push(sea_orm::TransactionTrait::begin(&app.db).await.unwrap());
    }
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ purchaseOrders { totalCount } }" } }),
    )
    .await;
    let answer = next_ws(&mut socket).await;
    drop(held);
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{answer}"
    );
}

// ---------------------------------------------------------------------------------------------
// Finding 7: the demo token.

async fn graphiql_page(app: &TestApp, host: Option<&str>) -> String {
    let mut request = Request::get("/graphql").header("accept", "text/html");
    if let Some(host) = host {
        request = request.header("host", host);
    }
    let reply = app.send(request.body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn graphiql_carries_the_demo_token_only_for_a_loopback_host() {
    let app = spawn_app_with(Settings {
        demo_token: Some("demo-token-value".into()),
        ..Settings::default()
    })
    .await;
    for host in [
        "localhost:8000",
        "LOCALHOST",
        "127.0.0.1:8000",
        "[::1]:8000",
    ] {
        assert!(
            graphiql_page(&app, Some(host))
                .await
                .contains("demo-token-value"),
            "{host}"
        );
    }
    // A DNS-rebinding page reaches us under its own name; no Host at all is no better.
    for host in [
        Some("evil.example:8000"),
        Some("localhost.evil.example"),
        None,
    ] {
        assert!(
            !graphiql_page(&app, host).await.contains("demo-token-value"),
            "{host:?}"
        );
    }
}

#[tokio::test]
async fn every_answer_forbids_caching_framing_and_sniffing() {
    let app = spawn_app().await;
    let requests = [
        Request::get("/healthz").body(Body::empty()).unwrap(),
        Request::get("/graphql")
            .header("accept", "text/html")
            .body(Body::empty())
            .unwrap(),
        Request::get("/graphiql/assets/graphiql.min.js")
            .body(Body::empty())
            .unwrap(),
        Request::get("/no-such-page").body(Body::empty()).unwrap(),
        Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"query":"{ viewer { subject } }"}"#))
            .unwrap(),
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", app.admin))
            .body(Body::from(r#"{"query":"{ viewer { subject } }"}"#))
            .unwrap(),
    ];
    for request in requests {
        let uri = request.uri().clone();
        let response = tower::ServiceExt::oneshot(app.router.clone(), request)
            .await
            .unwrap();
        let headers = response.headers();
        assert_eq!(headers["cache-control"], "no-store", "{uri}");
        assert_eq!(headers["x-frame-options"], "DENY", "{uri}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{uri}");
    }
}

/// A `stockgraph serve` process on a SQLite file.
struct Served {
    child: tokio::process::Child,
    address: SocketAddr,
    /// The demo token it printed, if any.
    token: Option<String>,
}

const DEMO_SECRET: &str = "demo-test-secret-0123456789abcdefghij";

async fn serve_process(database_url: &str, demo: bool) -> Served {
    use tokio::io::AsyncBufReadExt;
    let mut args = vec!["serve", "--port", "0", "--bind", "127.0.0.1"];
    if demo {
        args.push("--demo");
    }
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stockgraph"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("STOCKGRAPH_JWT_SECRET", DEMO_SECRET)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn serve");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // A demo token is printed before the address line, which ends the start-up output.
    let mut token = None;
    let address: SocketAddr = loop {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("serve prints")
            .expect("read")
            .expect("serve prints its address");
        if let Some(rest) = line.strip_prefix("Authorization: Bearer ") {
            token = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim_end_matches("/graphql").parse().unwrap();
        }
    };
    Served {
        child,
        address,
        token,
    }
}

async fn viewer_status(address: SocketAddr, token: &str) -> (u16, String) {
    let body = json!({ "query": "{ viewer { subject } }" }).to_string();
    let (status, _, answer) = http(address, post_request(address, token, &body)).await;
    (status, answer)
}

async fn page_over_tcp(address: SocketAddr) -> String {
    let request = format!(
        "GET /graphql HTTP/1.1\r\nHost: localhost:{}\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
        address.port()
    );
    let (status, _, body) = http(address, request).await;
    assert_eq!(status, 200);
    body
}

#[tokio::test]
async fn the_demo_token_lives_an_hour_in_the_seeding_process_only() {
    let dir = std::env::temp_dir().join(format!("sg-demo-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("demo.db").display());
    // First start: --demo seeds the empty database, so GraphiQL gets a token.
    let mut first = serve_process(&url, true).await;
    let token = first
        .token
        .clone()
        .expect("a seeding demo prints its token");
    assert!(page_over_tcp(first.address).await.contains(&token));
    let (status, answer) = viewer_status(first.address, &token).await;
    assert_eq!(status, 200, "{answer}");
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(DEMO_SECRET.as_bytes()),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .unwrap()
    .claims;
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    first.child.kill().await.unwrap();
    // A restart, even with --demo again: nothing was seeded, so there is no token, and the old
    // one (signed with the same secret, not yet expired) is worthless.
    for demo in [true, false] {
        let mut again = serve_process(&url, demo).await;
        assert!(again.token.is_none());
        assert!(!page_over_tcp(again.address).await.contains("Bearer ey"));
        let (status, answer) = viewer_status(again.address, &token).await;
        assert_eq!(
            (status, code(&answer)),
            (401, "UNAUTHENTICATED".into()),
            "{answer}"
        );
        again.child.kill().await.unwrap();
    }
    std::fs::remove_dir_all(dir).ok();
}

// ---------------------------------------------------------------------------------------------
// Finding 8: WebSocket sessions outlived their token.

#[tokio::test]
async fn a_websocket_session_runs_operations_while_its_token_is_valid() {
    let app = spawn_app().await;
    let address = serve(&app).await;
    let token = app
        .keys
        .mint(
            "short-lived",
            &[Permission::VendorsWrite, Permission::VendorsRead],
            Duration::from_secs(60),
        )
        .unwrap();
    let mut socket = open_ws(address).await.unwrap();
    init_ws(&mut socket, &token).await;
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ viewer { subject } }" } }),
    )
    .await;
    assert_eq!(
        next_ws(&mut socket).await["payload"]["data"]["viewer"]["subject"],
        "short-lived"
    );
    assert_eq!(next_ws(&mut socket).await["type"], "complete");
}

/// A session whose token expires as it starts: the token's `exp` is the current second, which
/// the handshake still accepts (a token is refused once the clock is past its `exp`) but the
/// session counts as spent, so its deadline is due at once and no test waits for a token to
/// expire. Tries again when the second turns between minting and the handshake (the token is
/// then refused with 4403 before `connection_ack`).
async fn session_whose_token_expires_now(
    app: &TestApp,
    address: SocketAddr,
    permissions: &[Permission],
) -> Socket {
    for _ in 0..5 {
        let now = jsonwebtoken::get_current_timestamp();
        let token = app.token_expiring_at("short-lived", permissions, now);
        let mut socket = open_ws(address).await.unwrap();
        send_json(
            &mut socket,
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
        )
        .await;
        let answer = next_ws(&mut socket).await;
        if answer["type"] == "connection_ack" {
            return socket;
        }
        assert_eq!(answer["code"], 4403, "{answer}");
    }
    panic!("a token expiring this second was refused at every handshake");
}

#[tokio::test]
async fn a_websocket_closes_with_4403_when_its_token_expires_and_runs_nothing_after() {
    let app = spawn_app().await;
    let address = serve(&app).await;
    let mut socket = session_whose_token_expires_now(
        &app,
        address,
        &[Permission::VendorsWrite, Permission::VendorsRead],
    )
    .await;
    // The token is spent: whether the mutation arrives before or after the server's close, it
    // must not run.
    send_json(
        &mut socket,
        json!({ "id": "2", "type": "subscribe", "payload": {
            "query": format!("mutation {{ createVendor(input: {{ name: \"Late\", code: \"LATE\", address: {ADDRESS} }}) {{ vendor {{ id }} }} }}") } }),
    )
    .await;
    loop {
        let message = next_ws(&mut socket).await;
        if message["type"] == "close" {
            assert_eq!(message["code"], 4403, "{message}");
            break;
        }
        assert_ne!(
            message["id"], "2",
            "the mutation ran after expiry: {message}"
        );
    }
    let data = app
        .gql(
            "{ vendors(first: 5, filter: { search: \"LATE\" }) { nodes { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["vendors"]["nodes"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// Finding 10: the small things.

#[tokio::test]
async fn get_honours_operation_name_for_the_mutation_guard_every_time() {
    let app = spawn_app().await;
    let document = format!(
        "query Q {{ viewer {{ subject }} }} mutation M {{ createVendor(input: {{ name: \"G\", code: \"G\", address: {ADDRESS} }}) {{ vendor {{ id }} }} }}"
    );
    let encoded: String = document
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let get = |name: &str| {
        Request::get(format!("/graphql?query={encoded}&operationName={name}"))
            .header("accept", "application/json")
            .header("authorization", format!("Bearer {}", app.admin))
            .body(Body::empty())
            .unwrap()
    };
    // The same request answers the same way every time (the guard once picked an operation
    // from a hash map).
    for _ in 0..20 {
        let reply = app.send(get("Q")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(
            reply.body["data"]["viewer"]["subject"], "admin",
            "{}",
            reply.body
        );
        let reply = app.send(get("M")).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{}",
            reply.body
        );
    }
    let data = app
        .gql("{ vendors(first: 5) { nodes { code } } }", json!({}))
        .await;
    assert_eq!(data["vendors"]["nodes"], json!([]), "GET ran the mutation");
}

#[tokio::test]
async fn nul_characters_answer_bad_request_not_internal() {
    let app = spawn_app().await;
    let before = app.snapshot().await;
    let mutation = format!("mutation($name: String!) {{ createVendor(input: {{ name: $name, code: \"NUL\", address: {ADDRESS} }}) {{ vendor {{ id }} }} }}");
    let (code, message) = app.gql_error(&mutation, json!({ "name": "a\u{0}b" })).await;
    assert_eq!(code, "BAD_REQUEST", "{message}");
    let (code, message) = app
        .gql_error(
            &format!("mutation {{ createVendor(input: {{ name: \"a\\u0000b\", code: \"NUL\", address: {ADDRESS} }}) {{ vendor {{ id }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_REQUEST", "{message}");
    assert!(before == app.snapshot().await);
}

#[tokio::test]
async fn a_key_that_upper_cases_past_its_length_limit_is_a_user_error() {
    let app = spawn_app().await;
    let field = app
        .refused(
            "createVendor",
            json!({ "name": "Straße", "code": "ß".repeat(50), "address": address() }),
            "INVALID_INPUT",
        )
        .await;
    assert_eq!(field, "input.code");
}

#[tokio::test]
async fn a_search_text_of_50000_characters_answers_bad_request() {
    let app = spawn_app().await;
    let search = "x".repeat(50_000);
    for query in [
        "query($s: String!) { vendors(first: 5, filter: { search: $s }) { nodes { id } } }",
        "query($s: String!) { products(first: 5, filter: { search: $s }) { nodes { id } } }",
        "query($s: String!) { purchaseOrders(first: 5, filter: { search: $s }) { nodes { id } } }",
    ] {
        let (code, message) = app.gql_error(query, json!({ "s": search })).await;
        assert_eq!(code, "BAD_REQUEST", "{query}: {message}");
    }
    // The longest searchable text still searches.
    app.gql(
        "query($s: String!) { products(first: 5, filter: { search: $s }) { nodes { id } } }",
        json!({ "s": "x".repeat(500) }),
    )
    .await;
}

#[tokio::test]
async fn a_vendor_email_longer_than_254_characters_is_refused() {
    let app = spawn_app().await;
    let email = format!("{}@example.com", "a".repeat(250));
    let field = app
        .refused(
            "createVendor",
            json!({ "name": "Long", "code": "LONG", "address": address(), "contact": { "email": email } }),
            "INVALID_INPUT",
        )
        .await;
    assert_eq!(field, "input.contact.email");
}

fn token_command(args: &[&str]) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("sg-token-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stockgraph"))
        .arg("token")
        .args(args)
        .current_dir(&dir)
        .env("DATABASE_URL", "sqlite://t.db")
        .env_remove("STOCKGRAPH_JWT_SECRET")
        .output()
        .unwrap();
    std::fs::remove_dir_all(dir).ok();
    output
}

#[test]
fn token_refuses_an_empty_subject_and_a_lifetime_past_thirty_days_or_overflowing() {
    for args in [
        ["--sub", "", "--permissions", "admin", "--ttl", "8h"],
        ["--sub", "  ", "--permissions", "admin", "--ttl", "8h"],
        ["--sub", "ann", "--permissions", "admin", "--ttl", "31d"],
        [
            "--sub",
            "ann",
            "--permissions",
            "admin",
            "--ttl",
            "213503982334602d",
        ],
    ] {
        let output = token_command(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(
            stderr.contains("error: ") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
    let output = token_command(&["--sub", "ann", "--permissions", "admin", "--ttl", "30d"]);
    assert!(output.status.success());
}

#[cfg(unix)]
#[test]
fn a_planted_world_writable_secret_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("sg-plant-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("t.db.jwt-secret");
    std::fs::write(&secret, "attacker-knows-this-secret-0123456789").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o666)).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stockgraph"))
        .args(["token", "--sub", "mallory", "--permissions", "admin"])
        .current_dir(&dir)
        .env("DATABASE_URL", "sqlite://t.db")
        .env_remove("STOCKGRAPH_JWT_SECRET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a token was minted: {stderr}");
    assert!(stderr.contains("writable"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}
