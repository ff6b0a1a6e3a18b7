//! The example front end (`examples/purchasing-board/`), embedded in the binary so it works from
//! any working directory and with no internet access. Served at [`BASE`] by every `serve`: it is
//! static, carries no data of its own, and talks to the public graph with the token its user
//! types in; only `serve --demo` on loopback makes its page carry a token, as GraphiQL's does.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// Where the example app lives.
pub const BASE: &str = "/examples/purchasing-board/";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Embedded files: (file name, content type, bytes). `index.html` is served at [`BASE`].
pub const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        HTML,
        include_bytes!("../examples/purchasing-board/index.html"),
    ),
    (
        "style.css",
        CSS,
        include_bytes!("../examples/purchasing-board/style.css"),
    ),
    (
        "app.js",
        JS,
        include_bytes!("../examples/purchasing-board/app.js"),
    ),
    (
        "graphql.js",
        JS,
        include_bytes!("../examples/purchasing-board/graphql.js"),
    ),
    (
        "forms.js",
        JS,
        include_bytes!("../examples/purchasing-board/forms.js"),
    ),
    (
        "views.js",
        JS,
        include_bytes!("../examples/purchasing-board/views.js"),
    ),
];

/// The page's own policy on top of the headers every answer gets (app.rs): scripts, styles and
/// connections from this origin only (the WebSocket included), no inline script, so the demo
/// token travels in a `<meta>` element rather than in a script.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The placeholder in `index.html` that receives the demo token (or nothing).
const TOKEN_SLOT: &str = "{{demo_token}}";

/// Serves the example app. `demo_token` is the `serve --demo` token (see
/// [`crate::Settings::demo_token`]); the page carries it only to a loopback `Host`, exactly
/// when GraphiQL's page does.
pub fn router<S: Clone + Send + Sync + 'static>(demo_token: Option<String>) -> Router<S> {
    let trimmed = BASE.trim_end_matches('/');
    Router::new()
        .route(trimmed, get(|| async { Redirect::permanent(BASE) }))
        .route(
            BASE,
            get(move |headers: HeaderMap| async move {
                let token = demo_token
                    .as_deref()
                    .filter(|_| crate::app::loopback_host(&headers));
                index(token)
            }),
        )
        .route(&format!("{BASE}{{file}}"), get(file))
}

/// `index.html` with the demo token (HTML-escaped) in its slot, or an empty slot.
fn index(demo_token: Option<&str>) -> Response {
    let page = String::from_utf8_lossy(FILES[0].2);
    let page = page.replace(TOKEN_SLOT, &escape_html(demo_token.unwrap_or_default()));
    with_policy((StatusCode::OK, [(header::CONTENT_TYPE, HTML)], page).into_response())
}

async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some(("index.html", _, _)) => Redirect::permanent(BASE).into_response(),
        // No cache header here: every answer gets `no-store` (app.rs, security_headers).
        Some((_, content_type, bytes)) => {
            with_policy(([(header::CONTENT_TYPE, *content_type)], *bytes).into_response())
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

fn with_policy(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// Text safe inside a double-quoted HTML attribute.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_token_is_escaped_into_its_attribute() {
        assert_eq!(escape_html(r#"a"b<c>&'"#), "a&quot;b&lt;c&gt;&amp;&#39;");
    }

    #[test]
    fn the_pages_load_nothing_from_the_internet() {
        for (name, _, bytes) in FILES {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{name} refers to another origin"
            );
        }
    }

    #[test]
    fn index_has_one_token_slot() {
        let page = String::from_utf8_lossy(FILES[0].2);
        assert_eq!(FILES[0].0, "index.html");
        assert_eq!(page.matches(TOKEN_SLOT).count(), 1);
    }
}
