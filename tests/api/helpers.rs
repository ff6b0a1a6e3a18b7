//! The test harness: a fresh database per test, the real router, and a GraphQL client.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend};
use serde_json::{json, Value};
use stockgraph::auth::{Permission, TokenKeys};
use stockgraph::events::EventBus;
use stockgraph::{router, AppState, Settings};
use tower::ServiceExt;

/// A running app on its own database.
pub struct TestApp {
    pub router: axum::Router,
    pub db: DatabaseConnection,
    pub keys: TokenKeys,
    pub events: EventBus,
    /// A token holding every permission.
    pub admin: String,
    /// The URL of this test's database.
    pub database_url: String,
}

/// A fresh, migrated database: a temp SQLite file, or a new PostgreSQL database on the server
/// `TEST_DATABASE_URL` points at.
pub async fn fresh_database() -> (DatabaseConnection, String) {
    let name = format!("stockgraph_test_{:016x}", rand::random::<u64>());
    let url = match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            let admin = Database::connect(server.as_str())
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = server
                .rsplit_once('/')
                .map(|(base, _)| base)
                .unwrap_or(&server);
            format!("{base}/{name}")
        }
        _ => {
            let dir = std::env::temp_dir().join("stockgraph-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}", dir.join(format!("{name}.db")).display())
        }
    };
    let db = stockgraph::db::connect(&url, 8)
        .await
        .expect("connect to the test database");
    stockgraph::db::migrate_up(&db).await.expect("migrate");
    (db, url)
}

/// The backend of the run: "sqlite" or "postgres".
pub fn backend(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Postgres => "postgres",
        _ => "sqlite",
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::default()).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let (db, database_url) = fresh_database().await;
    let keys = TokenKeys::from_secret(b"test-secret-test-secret-test-secret!");
    let events = EventBus::default();
    let state = AppState {
        db: db.clone(),
        settings: Arc::new(settings),
        keys: keys.clone(),
        events: events.clone(),
    };
    let admin = keys
        .mint("admin", &[Permission::Admin], Duration::from_secs(3600))
        .expect("mint");
    TestApp {
        router: router(state),
        db,
        keys,
        events,
        admin,
        database_url,
    }
}

/// What an HTTP call returned.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl TestApp {
    /// A token for `subject` holding exactly `permissions`.
    pub fn token(&self, permissions: &[Permission]) -> String {
        self.keys
            .mint("tester", permissions, Duration::from_secs(3600))
            .expect("mint")
    }

    /// Sends a request through the real router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("router");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply { status, body }
    }

    /// POSTs a GraphQL operation with the given token (none when `token` is empty).
    pub async fn post(&self, token: &str, query: &str, variables: Value) -> Reply {
        let mut request = Request::post("/graphql").header("content-type", "application/json");
        if !token.is_empty() {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = json!({ "query": query, "variables": variables }).to_string();
        self.send(request.body(Body::from(body)).expect("request"))
            .await
    }

    /// Runs an operation as admin and returns `data`, failing the test on any GraphQL error.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(&self.admin.clone(), query, variables).await
    }

    /// Runs an operation with `token` and returns `data`, failing the test on any GraphQL error.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let reply = self.post(token, query, variables).await;
        assert!(
            reply.body.get("errors").is_none(),
            "unexpected errors: {}",
            serde_json::to_string_pretty(&reply.body).unwrap_or_default()
        );
        reply.body["data"].clone()
    }

    /// Runs an operation as admin that must fail; returns the first error's `extensions.code`
    /// and message.
    pub async fn gql_error(&self, query: &str, variables: Value) -> (String, String) {
        let reply = self.post(&self.admin.clone(), query, variables).await;
        let error = &reply.body["errors"][0];
        assert!(!error.is_null(), "expected an error, got {}", reply.body);
        (
            error["extensions"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            error["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// A snapshot of every table's rows, to prove a refused mutation wrote nothing.
    pub async fn snapshot(&self) -> Vec<(String, Vec<String>)> {
        let mut tables = Vec::new();
        for table in [
            "vendors",
            "inventory_locations",
            "products",
            "business_units",
            "purchase_order_types",
            "jobs",
            "projects",
            "technicians",
            "purchase_orders",
            "purchase_order_lines",
            "job_materials",
            "receipts",
            "receipt_lines",
            "receipt_serials",
            "bills",
            "bill_lines",
            "inventory_items",
            "stock_ledger_entries",
            "events",
            "idempotency_keys",
            "document_counters",
        ] {
            let order = if table == "document_counters" {
                "name"
            } else {
                "id"
            };
            let sql = match self.db.get_database_backend() {
                DbBackend::Postgres => {
                    format!("SELECT t::text AS row FROM {table} t ORDER BY {order}")
                }
                _ => {
                    let columns = self
                        .db
                        .query_all_raw(sea_orm::Statement::from_string(
                            DbBackend::Sqlite,
                            format!("PRAGMA table_info({table})"),
                        ))
                        .await
                        .expect("table info");
                    let quoted: Vec<String> = columns
                        .iter()
                        .map(|c| {
                            format!(
                                "quote({})",
                                c.try_get::<String>("", "name").expect("column name")
                            )
                        })
                        .collect();
                    format!(
                        "SELECT {} AS row FROM {table} ORDER BY {order}",
                        quoted.join(" || ',' || ")
                    )
                }
            };
            let rows = self
                .db
                .query_all_raw(sea_orm::Statement::from_string(
                    self.db.get_database_backend(),
                    sql,
                ))
                .await
                .expect("snapshot");
            let rows: Vec<String> = rows
                .iter()
                .map(|r| r.try_get::<String>("", "row").expect("row text"))
                .collect();
            tables.push((table.to_owned(), rows));
        }
        tables
    }
}

/// A `Decimal` value as the API prints it.
pub fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}
