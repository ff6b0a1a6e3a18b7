//! The example front end (examples/purchasing-board/): served with its content types and the
//! security headers, the demo token only where GraphiQL gets it, and every operation it sends
//! valid against the public schema (the browser test in .ci/example-app drives the rest).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use stockgraph::Settings;
use tower::ServiceExt;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const BASE: &str = "/examples/purchasing-board/";

/// Status, headers and body of a GET.
async fn get(
    app: &TestApp,
    path: &str,
    host: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::get(path);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

/// The files a page or module refers to: `href="x"`, `src="x"` and `from './x'`.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["href=\"", "src=\"", "from './"] {
        for rest in text.split(marker).skip(1) {
            let end = rest.find(['"', '\'']).unwrap_or(rest.len());
            let name = &rest[..end];
            if !name.starts_with('#') && !name.starts_with("data:") {
                found.push(name.to_owned());
            }
        }
    }
    found
}

#[tokio::test]
async fn every_file_of_the_example_app_is_served_with_its_content_type_and_the_security_headers() {
    let app = spawn_app().await;
    let mut pending = vec![String::new()];
    let mut seen = Vec::new();
    while let Some(name) = pending.pop() {
        if seen.contains(&name) {
            continue;
        }
        let (status, headers, body) = get(&app, &format!("{BASE}{name}"), None).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let expected = match name.rsplit('.').next() {
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            _ => "text/html; charset=utf-8",
        };
        assert_eq!(headers["content-type"], expected, "{name}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{name}");
        assert_eq!(headers["x-frame-options"], "DENY", "{name}");
        assert_eq!(headers["cache-control"], "no-store", "{name}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"),
            "{name}: {policy}"
        );
        assert!(!body.is_empty(), "{name}");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{name} loads from another origin"
        );
        pending.extend(references(&body));
        seen.push(name);
    }
    // index.html, style.css and the five modules.
    assert_eq!(seen.len(), stockgraph::examples::FILES.len(), "{seen:?}");
}

#[tokio::test]
async fn the_example_app_answers_404_for_an_unknown_file_and_redirects_its_bare_path() {
    let app = spawn_app().await;
    let (status, _, _) = get(&app, &format!("{BASE}evil.js"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&app, &format!("{BASE}..%2Fsrc%2Fmain.rs"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, headers, _) = get(&app, BASE.trim_end_matches('/'), None).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers["location"], BASE);
}

#[tokio::test]
async fn the_example_app_carries_the_demo_token_only_for_a_loopback_host() {
    let app = spawn_app_with(Settings {
        demo_token: Some("demo-token-value".into()),
        ..Settings::default()
    })
    .await;
    for host in ["localhost:8000", "127.0.0.1:8000", "[::1]:8000"] {
        let (_, _, page) = get(&app, BASE, Some(host)).await;
        assert!(
            page.contains(r#"<meta name="stockgraph-demo-token" content="demo-token-value">"#),
            "{host}"
        );
    }
    for host in [
        Some("evil.example:8000"),
        Some("localhost.evil.example"),
        None,
    ] {
        let (_, _, page) = get(&app, BASE, host).await;
        assert!(!page.contains("demo-token-value"), "{host:?}");
        assert!(
            page.contains(r#"<meta name="stockgraph-demo-token" content="">"#),
            "{host:?}"
        );
    }
    // Without --demo there is no token to carry, whatever the host.
    let plain = spawn_app().await;
    let (_, _, page) = get(&plain, BASE, Some("localhost:8000")).await;
    assert!(page.contains(r#"<meta name="stockgraph-demo-token" content="">"#));
}

/// The GraphQL documents of the app's modules: `const NAME = \`query …\`;` and the like.
fn documents(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for kind in ["query ", "mutation ", "subscription "] {
        for rest in source.split(&format!("= `{kind}")).skip(1) {
            let end = rest.find('`').unwrap();
            found.push(format!("{kind}{}", &rest[..end]));
        }
    }
    found
}

#[tokio::test]
async fn every_operation_of_the_example_app_is_valid_against_the_public_schema() {
    let app = spawn_app().await;
    let mut checked = 0;
    for (name, _, bytes) in stockgraph::examples::FILES {
        let source = String::from_utf8_lossy(bytes);
        for document in documents(&source) {
            // Run without variables: queries run (they only read); an operation with a required
            // variable stops at that variable, after validation, and so writes nothing.
            let reply = app.post(&app.admin.clone(), &document, json!({})).await;
            let errors = reply.body["errors"].as_array().cloned().unwrap_or_default();
            for error in &errors {
                let message = error["message"].as_str().unwrap_or_default();
                let after_validation = (message.starts_with("Variable ")
                    && message.ends_with(" is not defined."))
                    || message == "Subscriptions are not supported on this transport.";
                assert!(after_validation, "{name}: {document}\n{error}");
            }
            if document.starts_with("query ") && !document.contains("!)") {
                assert_ne!(reply.body["data"], Value::Null, "{name}: {document}");
            }
            checked += 1;
        }
    }
    // Board, vendor choices, badges, order, order status, submit, receive, locations, stock,
    // stock changes, order choices, create.
    assert_eq!(checked, 12);
}
