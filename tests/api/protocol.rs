//! GraphQL over HTTP (the points the `graphql-http` audit checks), CORS, automatic persisted
//! queries and trusted documents.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use stockgraph::config::{LimitsConfig, ProtocolSettings};
use stockgraph::cors::CorsPolicy;
use stockgraph::persisted::{sha256_hex, TrustedDocuments};
use stockgraph::Settings;

use crate::helpers::{spawn_app, spawn_app_with, Reply, TestApp};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// POSTs `body` as the admin with the given `Accept` (none when empty).
async fn post_accepting(app: &TestApp, accept: &str, body: Value) -> Reply {
    let mut request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", app.admin));
    if !accept.is_empty() {
        request = request.header("accept", accept);
    }
    app.send(request.body(Body::from(body.to_string())).unwrap())
        .await
}

/// GETs `/graphql` as the admin with the given query-string parameters.
async fn get(app: &TestApp, params: &[(&str, &str)]) -> Reply {
    let query: String = params
        .iter()
        .map(|(name, value)| format!("{name}={}", urlencode(value)))
        .collect::<Vec<_>>()
        .join("&");
    app.send(
        Request::get(format!("/graphql?{query}"))
            .header("accept", "application/json")
            .header("authorization", format!("Bearer {}", app.admin))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

fn code(reply: &Reply) -> &str {
    reply.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// GraphQL over HTTP

#[tokio::test]
async fn with_the_graphql_response_media_type_a_request_error_is_a_400_without_data() {
    let app = spawn_app().await;
    let request_errors = [
        // The document does not parse.
        json!({ "query": "{" }),
        // It does not validate.
        json!({ "query": "{ noSuchField }" }),
        // A variable does not coerce.
        json!({ "query": "query Q($id: ID!) { node(id: $id) { id } }", "variables": { "id": null } }),
        // No operation of that name.
        json!({ "query": "query A { __typename }", "operationName": "B" }),
    ];
    for body in request_errors {
        let reply = post_accepting(&app, GRAPHQL_RESPONSE, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.body
        );
        assert!(reply.body.get("data").is_none(), "{body}: {}", reply.body);
        assert!(reply.body["errors"][0]["message"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn with_application_json_a_request_error_stays_a_200_with_null_data() {
    let app = spawn_app().await;
    for accept in ["application/json", "*/*", ""] {
        let reply = post_accepting(&app, accept, json!({ "query": "{ noSuchField }" })).await;
        assert_eq!(reply.status, StatusCode::OK, "{accept}");
        assert_eq!(reply.body["data"], Value::Null, "{accept}");
        assert!(reply.body["errors"][0]["message"].is_string(), "{accept}");
    }
}

#[tokio::test]
async fn a_field_error_with_the_graphql_response_media_type_keeps_200_and_its_data() {
    let app = spawn_app().await;
    let reply = post_accepting(
        &app,
        GRAPHQL_RESPONSE,
        json!({ "query": r#"{ viewer { subject } node(id: "not-an-id") { id } }"# }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["data"]["viewer"]["subject"], "admin");
    assert!(reply.body["errors"][0]["path"].is_array(), "{}", reply.body);
}

#[tokio::test]
async fn a_post_without_a_json_content_type_is_refused_with_415() {
    let app = spawn_app().await;
    let body = json!({ "query": "{ __typename }" }).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/json; charset=latin1"),
    ] {
        let mut request =
            Request::post("/graphql").header("authorization", format!("Bearer {}", app.admin));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = app
            .send(request.body(Body::from(body.clone())).unwrap())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(code(&reply), "BAD_REQUEST");
    }
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let reply = app
            .send(
                Request::post("/graphql")
                    .header("authorization", format!("Bearer {}", app.admin))
                    .header("content-type", content_type)
                    .body(Body::from(body.clone()))
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{content_type}");
        assert_eq!(reply.body["data"]["__typename"], "Query");
    }
}

#[tokio::test]
async fn null_operation_name_variables_and_extensions_are_accepted() {
    let app = spawn_app().await;
    for parameter in ["variables", "operationName", "extensions"] {
        for accept in ["application/json", GRAPHQL_RESPONSE] {
            let reply = post_accepting(
                &app,
                accept,
                json!({ "query": "{ __typename }", parameter: null }),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{parameter} {accept}");
            assert!(reply.body.get("errors").is_none(), "{parameter} {accept}");
        }
    }
}

#[tokio::test]
async fn malformed_parameters_and_a_missing_query_are_a_400() {
    let app = spawn_app().await;
    let bodies = [
        json!({ "query": 0 }),
        json!({ "query": ["array"] }),
        json!({ "query": "{ __typename }", "operationName": false }),
        json!({ "query": "{ __typename }", "variables": "string" }),
        json!({ "query": "{ __typename }", "extensions": ["array"] }),
        // No query at all (a misspelt parameter).
        json!({ "qeury": "{ __typename }" }),
        json!({ "query": "  " }),
    ];
    for body in bodies {
        let reply = post_accepting(&app, "application/json", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
    }
}

// ---------------------------------------------------------------------------------------------
// CORS

fn with_cors(policy: CorsPolicy) -> Settings {
    Settings {
        protocol: ProtocolSettings {
            cors: policy,
            ..ProtocolSettings::default()
        },
        ..Settings::default()
    }
}

/// The answer's headers to a preflight from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> (StatusCode, axum::http::HeaderMap) {
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        Request::options("/graphql")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    (response.status(), response.headers().clone())
}

/// The answer's status and headers to an authenticated POST from `origin`.
async fn post_from(app: &TestApp, origin: &str) -> (StatusCode, axum::http::HeaderMap) {
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        Request::post("/graphql")
            .header("origin", origin)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", app.admin))
            .body(Body::from(r#"{"query":"{ __typename }"}"#))
            .unwrap(),
    )
    .await
    .unwrap();
    (response.status(), response.headers().clone())
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_204_with_methods_headers_and_max_age() {
    let origin = "https://app.example.com";
    let app = spawn_app_with(with_cors(CorsPolicy::new(&[origin.to_owned()], false))).await;
    let (status, headers) = preflight(&app, origin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["access-control-allow-origin"], origin);
    assert_eq!(headers["access-control-allow-methods"], "GET, POST");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    for header in ["authorization", "content-type", "accept"] {
        assert!(allowed.contains(header), "{allowed}");
    }
    assert!(headers.contains_key("access-control-max-age"));
    assert_eq!(headers["vary"], "Origin");
    assert!(!headers.contains_key("access-control-allow-credentials"));

    let (status, headers) = post_from(&app, origin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], origin);
    assert_eq!(headers["vary"], "Origin");
}

#[tokio::test]
async fn an_origin_that_is_not_allowed_gets_no_cors_headers() {
    let allowed = "https://app.example.com";
    let configured = spawn_app_with(with_cors(CorsPolicy::new(&[allowed.to_owned()], false))).await;
    let by_default = spawn_app().await;
    for (app, origin) in [
        (&configured, "https://evil.example.com"),
        (&configured, "https://app.example.com.evil.com"),
        (&configured, "http://localhost:5173"),
        (&by_default, allowed),
        (&by_default, "http://localhost:5173"),
    ] {
        let (status, headers) = preflight(app, origin).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin}");
        let (_, answer) = post_from(app, origin).await;
        for headers in [headers, answer] {
            let cors: Vec<_> = headers
                .keys()
                .filter(|name| name.as_str().starts_with("access-control-"))
                .collect();
            assert!(cors.is_empty(), "{origin}: {cors:?}");
        }
    }
}

#[tokio::test]
async fn demo_mode_allows_loopback_origins_on_any_port() {
    let app = spawn_app_with(with_cors(CorsPolicy::new(&[], true))).await;
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:8000",
        "http://[::1]:3000",
    ] {
        let (status, headers) = preflight(&app, origin).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{origin}");
        assert_eq!(headers["access-control-allow-origin"], origin);
    }
    let (status, _) = preflight(&app, "http://localhost.evil.com").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------------------------
// Automatic persisted queries

const VIEWER: &str = "query Viewer { viewer { subject } }";

#[tokio::test]
async fn an_unknown_hash_alone_is_answered_persisted_query_not_found() {
    let app = spawn_app().await;
    let hash = sha256_hex(VIEWER);
    let reply = post_accepting(
        &app,
        "application/json",
        json!({ "extensions": persisted(&hash) }),
    )
    .await;
    // Apollo Client and urql look for exactly this message or code, then send the query.
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(code(&reply), "PERSISTED_QUERY_NOT_FOUND");
    let reply = post_accepting(
        &app,
        GRAPHQL_RESPONSE,
        json!({ "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(code(&reply), "PERSISTED_QUERY_NOT_FOUND");
    assert!(reply.body.get("data").is_none());
}

#[tokio::test]
async fn a_query_sent_with_its_hash_runs_and_then_runs_by_hash_alone_over_post_and_get() {
    let app = spawn_app().await;
    let hash = sha256_hex(VIEWER);
    let extensions = persisted(&hash);
    let reply = post_accepting(
        &app,
        "application/json",
        json!({ "query": VIEWER, "extensions": extensions }),
    )
    .await;
    assert_eq!(
        reply.body["data"]["viewer"]["subject"], "admin",
        "{}",
        reply.body
    );

    let reply = post_accepting(
        &app,
        "application/json",
        json!({ "extensions": extensions, "operationName": "Viewer" }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["data"]["viewer"]["subject"], "admin",
        "{}",
        reply.body
    );

    // Apollo Client's `useGETForHashedQueries`: the extension in the query string.
    let reply = get(&app, &[("extensions", &extensions.to_string())]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["data"]["viewer"]["subject"], "admin",
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_hash_that_is_not_the_sha256_of_the_query_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let other = sha256_hex("{ __typename }");
    let reply = post_accepting(
        &app,
        "application/json",
        json!({ "query": VIEWER, "extensions": persisted(&other) }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&reply), "BAD_REQUEST");
    assert!(reply.body.get("data").is_none());
    let reply = post_accepting(
        &app,
        "application/json",
        json!({ "extensions": persisted(&other) }),
    )
    .await;
    assert_eq!(code(&reply), "PERSISTED_QUERY_NOT_FOUND");

    for extensions in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": other } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": "yes" }),
    ] {
        let reply = post_accepting(
            &app,
            "application/json",
            json!({ "query": "{ __typename }", "extensions": extensions }),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{extensions}");
    }
}

#[tokio::test]
async fn a_persisted_query_obeys_the_limits_and_get_runs_no_persisted_mutation() {
    let app = spawn_app_with(Settings {
        limits: LimitsConfig {
            max_aliases: 1,
            ..LimitsConfig::default()
        },
        ..Settings::default()
    })
    .await;
    let costly = "{ a: __typename b: __typename }";
    let extensions = persisted(&sha256_hex(costly));
    for body in [
        json!({ "query": costly, "extensions": extensions }),
        json!({ "extensions": extensions }),
    ] {
        let reply = post_accepting(&app, "application/json", body).await;
        assert_eq!(code(&reply), "LIMIT_EXCEEDED", "{}", reply.body);
    }

    let mutation = "mutation { __typename }";
    let extensions = persisted(&sha256_hex(mutation));
    let reply = post_accepting(
        &app,
        "application/json",
        json!({ "query": mutation, "extensions": extensions }),
    )
    .await;
    assert_eq!(
        reply.body["data"]["__typename"], "Mutation",
        "{}",
        reply.body
    );
    let reply = get(&app, &[("extensions", &extensions.to_string())]).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---------------------------------------------------------------------------------------------
// Trusted documents

const REGISTERED_QUERY: &str = "{ viewer { subject } }";

async fn trusted_app() -> TestApp {
    let manifest = json!({ sha256_hex(REGISTERED_QUERY): REGISTERED_QUERY }).to_string();
    let trusted = TrustedDocuments::parse(&manifest).unwrap();
    spawn_app_with(Settings {
        protocol: ProtocolSettings {
            trusted_documents: Some(Arc::new(trusted)),
            ..ProtocolSettings::default()
        },
        ..Settings::default()
    })
    .await
}

#[tokio::test]
async fn with_trusted_documents_only_registered_operations_run_by_hash_or_by_text() {
    let app = trusted_app().await;
    let hash = sha256_hex(REGISTERED_QUERY);
    for body in [
        json!({ "extensions": persisted(&hash) }),
        json!({ "query": REGISTERED_QUERY }),
        json!({ "query": REGISTERED_QUERY, "extensions": persisted(&hash) }),
    ] {
        let reply = post_accepting(&app, "application/json", body.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{body}");
        assert_eq!(reply.body["data"]["viewer"]["subject"], "admin", "{body}");
    }
    let reply = get(&app, &[("extensions", &persisted(&hash).to_string())]).await;
    assert_eq!(reply.body["data"]["viewer"]["subject"], "admin");

    let other = "{ __typename }";
    let refused = [
        json!({ "query": other }),
        json!({ "extensions": persisted(&sha256_hex(other)) }),
        // Registering a document at run time (APQ) is no way in.
        json!({ "query": other, "extensions": persisted(&sha256_hex(other)) }),
        // Nor is a registered hash with another text.
        json!({ "query": other, "extensions": persisted(&hash) }),
        // Introspection is an operation like any other: GraphiQL cannot run here.
        json!({ "query": "{ __schema { queryType { name } } }" }),
    ];
    for body in refused {
        let reply = post_accepting(&app, "application/json", body.clone()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(code(&reply), "PERSISTED_QUERY_NOT_ALLOWED", "{body}");
        assert!(reply.body.get("data").is_none(), "{body}");
    }
    let reply = get(&app, &[("query", other)]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(code(&reply), "PERSISTED_QUERY_NOT_ALLOWED");
}

#[tokio::test]
async fn with_trusted_documents_a_websocket_runs_only_registered_operations() {
    let app = trusted_app().await;
    let address = app.serve().await;
    let mut client = crate::ws::client(address, &app.admin).await;

    let id = client
        .subscribe(
            "subscription { purchaseOrderStatusChanged { status } }",
            json!({}),
        )
        .await;
    let message = client
        .message(Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(message["id"], id.as_str());
    assert_eq!(
        message["payload"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_ALLOWED"
    );

    let id = client
        .subscribe_with(json!({ "extensions": persisted(&sha256_hex(REGISTERED_QUERY)) }))
        .await;
    let message = client
        .message(Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["id"], id.as_str());
    assert_eq!(message["payload"]["data"]["viewer"]["subject"], "admin");
}

#[tokio::test]
async fn the_persisted_query_hash_over_a_websocket_runs_the_stored_document() {
    let app = spawn_app().await;
    let hash = sha256_hex(VIEWER);
    // Stored over HTTP, named over the WebSocket.
    post_accepting(
        &app,
        "application/json",
        json!({ "query": VIEWER, "extensions": persisted(&hash) }),
    )
    .await;
    let address = app.serve().await;
    let mut client = crate::ws::client(address, &app.admin).await;
    client
        .subscribe_with(json!({ "extensions": persisted(&hash) }))
        .await;
    let data = client.next_data().await;
    assert_eq!(data["viewer"]["subject"], "admin");
    let id = client
        .subscribe_with(json!({ "extensions": persisted(&sha256_hex("{ __typename }")) }))
        .await;
    // The first operation's `complete` may come first.
    let message = loop {
        let message = client
            .message(Duration::from_secs(10))
            .await
            .expect("an answer");
        if message["id"] == id.as_str() {
            break message;
        }
    };
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(
        message["payload"][0]["message"], "PersistedQueryNotFound",
        "{message}"
    );
}

#[tokio::test]
async fn a_served_response_body_is_utf8_json_for_a_unicode_request() {
    let app = spawn_app().await;
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        Request::post("/graphql")
            .header("content-type", "application/json; charset=utf-8")
            .header("authorization", format!("Bearer {}", app.admin))
            .body(Body::from(
                json!({ "query": "{ __type(name: \"Run🏃Swim🏊\") { name } }" }).to_string(),
            ))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert!(std::str::from_utf8(&bytes).is_ok());
}
