//! CORS: which browser origins may call the API, and the answers to their preflights.
//!
//! A small middleware rather than tower-http's `CorsLayer`: the policy is a list of origins and
//! one flag, and tower-http would add a dependency tree for it. Tokens travel in the
//! `Authorization` header, never in cookies, so no answer allows credentials.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The request headers a page may send: the token, the JSON body, content negotiation, and
/// what Apollo Client and its CSRF prevention add.
const ALLOWED_HEADERS: &str = "authorization, content-type, accept, \
     apollographql-client-name, apollographql-client-version, \
     x-apollo-operation-name, apollo-require-preflight";

/// Seconds a browser may cache a preflight answer.
const MAX_AGE_SECS: &str = "600";

/// The origins whose pages may read the API's answers.
#[derive(Clone, Debug, Default)]
pub struct CorsPolicy {
    /// Origins allowed exactly (`https://app.example.com`, `http://localhost:5173`); `*`
    /// allows every origin.
    pub origins: Vec<String>,
    /// Also allow `http://localhost:*`, `http://127.0.0.1:*` and `http://[::1]:*` (demo mode).
    pub loopback: bool,
}

impl CorsPolicy {
    /// The policy of `--cors-allowed-origins` (trailing slashes and blanks ignored), plus the
    /// loopback origins when `loopback`.
    pub fn new(origins: &[String], loopback: bool) -> Self {
        let origins = origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        Self { origins, loopback }
    }

    /// Whether a page served from `origin` (an `Origin` header) may call the API.
    pub fn allows(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin))
            || (self.loopback && is_loopback_origin(origin))
    }
}

/// `http://localhost`, `http://127.0.0.1` or `http://[::1]`, on any port or none.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    ["localhost", "127.0.0.1", "[::1]"].iter().any(|host| {
        authority
            .get(..host.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(host))
            && match &authority[host.len()..] {
                "" => true,
                rest => rest.strip_prefix(':').is_some_and(|port| {
                    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
                }),
            }
    })
}

/// The request's `Origin`, when the policy allows it.
fn allowed_origin(policy: &CorsPolicy, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    policy.allows(origin.to_str().ok()?).then(|| origin.clone())
}

/// Answers preflights (`OPTIONS` with `Access-Control-Request-Method`) on every path: 204 with
/// the allowed methods and headers for an allowed origin, 403 without any CORS header
/// otherwise. Other requests run, and an allowed origin's answer names it in
/// `Access-Control-Allow-Origin`. Every answer varies by `Origin`, so caches keep them apart.
pub async fn layer(
    State(policy): State<Arc<CorsPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = allowed_origin(&policy, request.headers());
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        match origin {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => StatusCode::FORBIDDEN.into_response(),
        }
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if preflight {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE_SECS),
            );
        } else {
            // A page retrying a 429 or 503 needs to read how long to wait.
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("retry-after"),
            );
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_match_any_port_and_nothing_else() {
        for origin in [
            "http://localhost",
            "http://localhost:5173",
            "http://127.0.0.1:8000",
            "http://[::1]:3000",
        ] {
            assert!(is_loopback_origin(origin), "{origin}");
        }
        for origin in [
            "https://localhost:5173",
            "http://localhost.evil.com",
            "http://127.0.0.1.evil.com:80",
            "http://localhost:",
            "http://localhost:80/path",
            "http://[::1]x",
        ] {
            assert!(!is_loopback_origin(origin), "{origin}");
        }
    }

    #[test]
    fn configured_origins_match_exactly() {
        let policy = CorsPolicy::new(&["https://app.example.com/".to_owned()], false);
        assert!(policy.allows("https://app.example.com"));
        assert!(!policy.allows("https://app.example.com.evil.com"));
        assert!(!policy.allows("http://localhost:5173"));
        assert!(!CorsPolicy::default().allows("https://app.example.com"));
    }
}
