//! GraphiQL, served entirely by the service (no CDN), so it works with no internet access.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Embedded assets: (file name, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "react.production.min.js",
        JS,
        include_bytes!("../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        JS,
        include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "graphql-ws.min.js",
        JS,
        include_bytes!("../assets/graphiql/graphql-ws.min.js"),
    ),
    (
        "graphiql.min.js",
        JS,
        include_bytes!("../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        CSS,
        include_bytes!("../assets/graphiql/graphiql.min.css"),
    ),
];

const JS: &str = "application/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The GraphiQL page for the endpoint. Subscriptions go over graphql-ws to
/// `subscription_path`; the `Authorization` header typed into GraphiQL's header editor travels
/// in the `connection_init` payload, as the service expects. `demo_token` (only with
/// `serve --demo`) pre-fills the header editor so the explorer works at first sight.
pub fn page(endpoint: &str, subscription_path: &str, demo_token: Option<&str>) -> Html<String> {
    let headers = match demo_token {
        Some(token) => {
            serde_json::json!({ "Authorization": format!("Bearer {token}") }).to_string()
        }
        None => String::new(),
    };
    // A JSON string literal is a JS string literal; escaping `<` keeps `</script>` harmless.
    let headers_literal = serde_json::Value::String(headers)
        .to_string()
        .replace('<', "\\u003c");
    Html(
        PAGE.replace("{endpoint}", endpoint)
            .replace("{subscription_path}", subscription_path)
            .replace("{default_headers}", &headers_literal),
    )
}

/// Serves `GET /graphiql/assets/{file}`.
pub fn assets_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/graphiql/assets/{file}", get(asset))
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            // No cache header here: every answer gets `no-store` (app.rs, security_headers).
            [(header::CONTENT_TYPE, *content_type)],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>stockgraph · GraphiQL</title>
  <style>body { margin: 0; height: 100vh; overflow: hidden; } #graphiql { height: 100vh; }</style>
  <link rel="stylesheet" href="/graphiql/assets/graphiql.min.css">
  <script src="/graphiql/assets/react.production.min.js"></script>
  <script src="/graphiql/assets/react-dom.production.min.js"></script>
  <script src="/graphiql/assets/graphql-ws.min.js"></script>
  <script src="/graphiql/assets/graphiql.min.js"></script>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script>
    // The header editor's content, which GraphiQL keeps in localStorage once edited; before
    // that the editor shows the headers the page started with (the demo token, with --demo).
    var startHeaders = {default_headers};
    function editorHeaders() {
      try {
        var saved = localStorage.getItem('graphiql:headers');
        return JSON.parse(saved || startHeaders || '{}') || {};
      } catch (e) { return {}; }
    }
    var wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '{subscription_path}';
    var wsClient = graphqlWs.createClient({
      url: wsUrl,
      lazy: true,
      connectionParams: function () {
        var headers = editorHeaders();
        var authorization = headers.Authorization || headers.authorization;
        return authorization ? { authorization: authorization } : {};
      },
    });
    var fetcher = GraphiQL.createFetcher({ url: '{endpoint}', wsClient: wsClient });
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {
        fetcher: fetcher,
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: true,
        defaultEditorToolsVisibility: 'headers',
        defaultHeaders: startHeaders || undefined,
        // A shared link (`/graphql?query=…`) opens with its query in the editor.
        query: new URLSearchParams(location.search).get('query') || undefined,
        defaultQuery: '# Headers: {"Authorization": "Bearer <token>"}\n# `stockgraph token --sub me --permissions admin`\n\n{\n  viewer { subject permissions }\n  vendors(first: 5) { nodes { code name } }\n}\n',
      })
    );
  </script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn referenced_assets(html: &str) -> Vec<String> {
        html.split("/graphiql/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next().map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_page_loads_nothing_from_the_internet() {
        let html = page("/graphql", "/graphql/ws", None).0;
        assert!(
            !html.contains("http://") && !html.contains("https://") && !html.contains("src=\"//")
        );
        assert_eq!(referenced_assets(&html).len(), ASSETS.len());
    }

    #[test]
    fn the_demo_token_is_embedded_as_a_json_string_literal() {
        let html = page("/graphql", "/graphql/ws", Some("abc</script>")).0;
        assert!(
            html.contains(
                r#"var startHeaders = "{\"Authorization\":\"Bearer abc\u003c/script>\"}";"#
            ),
            "{html}"
        );
        assert!(!html.contains("abc</script>"));
    }

    #[tokio::test]
    async fn every_referenced_asset_is_served_with_its_content_type() {
        let html = page("/graphql", "/graphql/ws", None).0;
        for file in referenced_assets(&html) {
            let response = assets_router::<()>()
                .oneshot(
                    Request::get(format!("/graphiql/assets/{file}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{file}");
            let content_type = response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_owned();
            let expected = if file.ends_with(".css") { CSS } else { JS };
            assert_eq!(content_type, expected, "{file}");
            assert!(!response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty());
        }
    }

    #[tokio::test]
    async fn an_unknown_asset_is_404() {
        let response = assets_router::<()>()
            .oneshot(
                Request::get("/graphiql/assets/evil.js")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
