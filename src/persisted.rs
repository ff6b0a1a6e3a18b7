//! Automatic persisted queries (APQ) and the trusted-documents allow-list.
//!
//! Both are resolved in the HTTP and WebSocket layer, before the prescan, the limits and the
//! parser see the document: async-graphql's `apollo_persisted_queries` extension would do the
//! same, but registering any extension wraps every field resolution (see ARCHITECTURE.md).
//!
//! A request names a document by the `persistedQuery` extension Apollo Client and urql send:
//! `extensions: {persistedQuery: {version: 1, sha256Hash: "<hex>"}}`.
//! - Without trusted documents: a hash alone runs the document stored under it, or is answered
//!   `PERSISTED_QUERY_NOT_FOUND` (message `PersistedQueryNotFound`, what the clients look for
//!   before they retry with the full query); a hash with a query is checked against the query's
//!   SHA-256, stored in a bounded per-process LRU store and run.
//! - With trusted documents (`--trusted-documents FILE`): only the registered documents run, by
//!   hash or as a full query whose hash is registered; nothing is added at run time, and
//!   everything else is refused with `PERSISTED_QUERY_NOT_ALLOWED`.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_graphql::Value;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of a document, as the `persistedQuery` extension spells it.
pub fn sha256_hex(document: &str) -> String {
    use std::fmt::Write;
    Sha256::digest(document.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Why a request naming (or lacking) a persisted document cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A hash alone that the APQ store does not hold (any more): the client retries with the
    /// full query.
    NotFound,
    /// Trusted-documents mode: the document is not registered.
    NotAllowed,
    /// A malformed `persistedQuery` extension, or a query whose SHA-256 is not the hash sent.
    Invalid(String),
}

impl Refusal {
    /// The `extensions.code` of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            Refusal::NotAllowed => "PERSISTED_QUERY_NOT_ALLOWED",
            Refusal::Invalid(_) => "BAD_REQUEST",
        }
    }

    /// The error message. `PersistedQueryNotFound` is the exact text Apollo Client and urql
    /// match before they send the full query.
    pub fn message(&self) -> String {
        match self {
            Refusal::NotFound => "PersistedQueryNotFound".to_owned(),
            Refusal::NotAllowed => "only trusted documents run on this server: send the hash \
                                    (or the text) of a registered operation"
                .to_owned(),
            Refusal::Invalid(message) => message.clone(),
        }
    }

    /// The HTTP status of the refusal when the client accepts
    /// `application/graphql-response+json` (with `application/json` a `NotFound` is 200, as
    /// the APQ protocol has always answered it).
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::NotAllowed => StatusCode::FORBIDDEN,
            Refusal::Invalid(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The error as a GraphQL error object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "message": self.message(), "extensions": { "code": self.code() } })
    }
}

/// The registered operations of trusted-documents mode: SHA-256 hash → document.
#[derive(Debug, Default)]
pub struct TrustedDocuments {
    documents: HashMap<String, Arc<str>>,
}

impl TrustedDocuments {
    /// Reads a manifest: either a JSON object mapping each SHA-256 hash to its document (GraphQL
    /// Codegen's `persisted-documents.json` with `hashAlgorithm: 'sha256'`), or Apollo's
    /// persisted query manifest (`{"format": "apollo-persisted-query-manifest", "operations":
    /// [{"id", "body", ...}]}`, whose ids are the SHA-256 of the bodies). Every hash must be
    /// the SHA-256 of its document, so a manifest hashed otherwise is refused at start.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read trusted documents {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("trusted documents {}: {e}", path.display()))
    }

    /// Parses a manifest (see [`TrustedDocuments::load`]).
    pub fn parse(text: &str) -> Result<Self, String> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let entries: Vec<(String, String)> = match json.get("operations") {
            Some(serde_json::Value::Array(operations)) => operations
                .iter()
                .map(|op| {
                    let id = op.get("id").and_then(|v| v.as_str());
                    let body = op.get("body").and_then(|v| v.as_str());
                    match (id, body) {
                        (Some(id), Some(body)) => Ok((id.to_owned(), body.to_owned())),
                        _ => Err("an operation lacks its string `id` or `body`".to_owned()),
                    }
                })
                .collect::<Result<_, _>>()?,
            _ => match json {
                serde_json::Value::Object(map) => map
                    .into_iter()
                    .map(|(hash, document)| match document {
                        serde_json::Value::String(document) => Ok((hash, document)),
                        _ => Err(format!("the document of {hash} is not a string")),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err("expected an object of hash → document".to_owned()),
            },
        };
        let mut documents = HashMap::with_capacity(entries.len());
        for (hash, document) in entries {
            if sha256_hex(&document) != hash.to_ascii_lowercase() {
                return Err(format!(
                    "{hash} is not the SHA-256 of its document (generate the manifest with \
                     SHA-256 hashes)"
                ));
            }
            documents.insert(hash.to_ascii_lowercase(), Arc::from(document));
        }
        Ok(Self { documents })
    }

    /// How many operations are registered.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// True when no operation is registered (nothing can run).
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    fn get(&self, hash: &str) -> Option<&Arc<str>> {
        self.documents.get(hash)
    }
}

/// The bounded APQ store: least recently used documents leave first, and the documents held
/// never exceed `max_bytes` together.
struct Store {
    documents: lru::LruCache<String, Arc<str>>,
    bytes: usize,
    max_bytes: usize,
}

impl Store {
    fn insert(&mut self, hash: String, document: Arc<str>) {
        if document.len() > self.max_bytes {
            return;
        }
        self.bytes = self.bytes.saturating_add(document.len());
        if let Some((_, old)) = self.documents.push(hash, document) {
            // Either the least recently used entry left, or the same hash was stored again.
            self.bytes = self.bytes.saturating_sub(old.len());
        }
        while self.bytes > self.max_bytes {
            match self.documents.pop_lru() {
                Some((_, old)) => self.bytes = self.bytes.saturating_sub(old.len()),
                None => break,
            }
        }
    }
}

/// Persisted documents of one process: the APQ store, or the trusted documents.
pub struct PersistedQueries {
    store: Mutex<Store>,
    trusted: Option<Arc<TrustedDocuments>>,
}

impl std::fmt::Debug for PersistedQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedQueries")
            .field("trusted", &self.trusted.as_ref().map(|t| t.len()))
            .finish_non_exhaustive()
    }
}

impl PersistedQueries {
    /// An APQ store of at most `max_entries` documents and `max_bytes` bytes; with `trusted`,
    /// only those documents run and the store stays unused.
    pub fn new(
        max_entries: usize,
        max_bytes: usize,
        trusted: Option<Arc<TrustedDocuments>>,
    ) -> Self {
        Self {
            store: Mutex::new(Store {
                documents: lru::LruCache::new(NonZeroUsize::new(max_entries).unwrap_or(
                    // A capacity of 0 stores nothing useful; one entry keeps the type simple.
                    NonZeroUsize::MIN,
                )),
                bytes: 0,
                max_bytes: if max_entries == 0 { 0 } else { max_bytes },
            }),
            trusted,
        }
    }

    /// Fills in `query` from the persisted document the request names, registers a new APQ
    /// document, or refuses the request. `extensions` is the request's `extensions` map.
    pub fn resolve(
        &self,
        query: &mut String,
        extensions: &HashMap<String, Value>,
    ) -> Result<(), Refusal> {
        let hash = persisted_hash(extensions)?;
        if let Some(trusted) = &self.trusted {
            // Trusted documents: the hash sent, or the hash of the text sent, must be registered.
            let hash = match hash {
                Some(hash) => hash,
                None if query.is_empty() => return Err(Refusal::NotAllowed),
                None => sha256_hex(query),
            };
            let Some(document) = trusted.get(&hash) else {
                return Err(Refusal::NotAllowed);
            };
            if !query.is_empty() && **document != **query {
                return Err(Refusal::NotAllowed);
            }
            query.clear();
            query.push_str(document);
            return Ok(());
        }
        let Some(hash) = hash else {
            return Ok(());
        };
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if query.is_empty() {
            let document = store.documents.get(&hash).ok_or(Refusal::NotFound)?;
            query.push_str(document);
            return Ok(());
        }
        if sha256_hex(query) != hash {
            return Err(Refusal::Invalid(
                "the persistedQuery sha256Hash is not the SHA-256 of the query".to_owned(),
            ));
        }
        store.insert(hash, Arc::from(query.as_str()));
        Ok(())
    }
}

/// The lowercase `sha256Hash` of the `persistedQuery` extension, if the request has one.
fn persisted_hash(extensions: &HashMap<String, Value>) -> Result<Option<String>, Refusal> {
    let invalid = |message: &str| Refusal::Invalid(format!("persistedQuery: {message}"));
    let Some(persisted) = extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let Value::Object(persisted) = persisted else {
        return Err(invalid("expected an object {version: 1, sha256Hash}"));
    };
    match persisted.get("version") {
        Some(Value::Number(version)) if version.as_u64() == Some(1) => {}
        _ => return Err(invalid("only version 1 is supported")),
    }
    let Some(Value::String(hash)) = persisted.get("sha256Hash") else {
        return Err(invalid("sha256Hash must be a string"));
    };
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("sha256Hash must be 64 hex digits"));
    }
    Ok(Some(hash.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extensions(hash: &str) -> HashMap<String, Value> {
        let json = serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_hash_is_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex("{ __typename }"),
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
    }

    #[test]
    fn the_store_forgets_the_least_recently_used_document_past_its_byte_bound() {
        let persisted = PersistedQueries::new(10, 30, None);
        let documents = ["{ a: __typename }", "{ b: __typename }"];
        for document in documents {
            let mut query = document.to_owned();
            persisted
                .resolve(&mut query, &extensions(&sha256_hex(document)))
                .unwrap();
        }
        let mut query = String::new();
        assert_eq!(
            persisted.resolve(&mut query, &extensions(&sha256_hex(documents[0]))),
            Err(Refusal::NotFound)
        );
        persisted
            .resolve(&mut query, &extensions(&sha256_hex(documents[1])))
            .unwrap();
        assert_eq!(query, documents[1]);
    }

    #[test]
    fn a_manifest_whose_hash_is_not_the_documents_sha256_is_refused() {
        assert!(TrustedDocuments::parse(r#"{"abc": "{ __typename }"}"#).is_err());
        let hash = sha256_hex("{ __typename }");
        let map = TrustedDocuments::parse(&format!(r#"{{"{hash}": "{{ __typename }}"}}"#));
        assert_eq!(map.unwrap().len(), 1);
        let apollo = format!(
            r#"{{"format": "apollo-persisted-query-manifest", "version": 1, "operations":
               [{{"id": "{hash}", "name": "T", "type": "query", "body": "{{ __typename }}"}}]}}"#
        );
        assert_eq!(TrustedDocuments::parse(&apollo).unwrap().len(), 1);
    }
}
