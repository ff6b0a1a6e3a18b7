//! The test harness: a fresh database per test, the real router, and a GraphQL client.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend};
use serde_json::{json, Value};
use stockgraph::auth::{Permission, TokenKeys};
use stockgraph::events::{DispatchConfig, EventBus};
use stockgraph::{router, AppState, Settings};
use tower::ServiceExt;

/// A running app on its own database.
pub struct TestApp {
    pub router: axum::Router,
    /// What the router was built from.
    pub state: AppState,
    pub db: DatabaseConnection,
    pub keys: TokenKeys,
    pub events: EventBus,
    /// A token holding every permission.
    pub admin: String,
    /// The SQLite file of this test, removed when the test ends.
    sqlite_file: Option<std::path::PathBuf>,
    /// The PostgreSQL database of this test, dropped when the test ends.
    pg_database: Option<String>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Open connections keep working on an unlinked file; the disk is freed when they close.
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                std::fs::remove_file(file).ok();
            }
        }
        // Without this every run leaves a database per test behind (thousands fill the disk).
        // Drop runs on the test's runtime, so the drop gets a runtime of its own on a thread;
        // FORCE ends the connections the app still holds.
        if let (Some(name), Ok(server)) =
            (self.pg_database.take(), std::env::var("TEST_DATABASE_URL"))
        {
            let dropper = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let admin = Database::connect(server.as_str()).await.ok()?;
                    admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await
                        .ok()?;
                    admin.close().await.ok()
                })
            });
            dropper.join().ok();
        }
    }
}

/// Connections in a test app's pool.
pub const POOL_SIZE: u32 = 8;

/// The migrated PostgreSQL database every test database of this test binary is copied from:
/// migrating takes seconds per database, a copy a fraction of that. Named after the binary's
/// build, so a rebuilt binary (perhaps with new migrations) makes a new one; one process at a
/// time builds it (an advisory lock), under a temporary name until it is complete, and the
/// templates of older builds are dropped then.
fn postgres_template(server: &str) -> String {
    static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            // Each test has its own runtime; this one-off setup gets a runtime of its own.
            let server = server.to_owned();
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(build_postgres_template(&server))
            })
            .join()
            .expect("template builder")
        })
        .clone()
}

async fn build_postgres_template(server: &str) -> String {
    let exe = std::env::current_exe().expect("test binary");
    let built = std::fs::metadata(&exe)
        .and_then(|m| m.modified())
        .expect("test binary time")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos();
    let name = format!("stockgraph_template_{:016x}", built as u64);
    // One connection: the advisory lock belongs to the session that took it.
    let mut options = sea_orm::ConnectOptions::new(server.to_owned());
    options.max_connections(1).sqlx_logging(false);
    let admin = Database::connect(options)
        .await
        .expect("connect to TEST_DATABASE_URL");
    let run = |sql: String| {
        let admin = &admin;
        async move {
            admin
                .execute_unprepared(&sql)
                .await
                .expect("template setup")
        }
    };
    run("SELECT pg_advisory_lock(7312001)".into()).await;
    let databases: Vec<String> = admin
        .query_all_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 'stockgraph_template_%'",
        ))
        .await
        .expect("list templates")
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("datname"))
        .collect();
    if !databases.contains(&name) {
        for stale in &databases {
            run(format!("DROP DATABASE IF EXISTS {stale} WITH (FORCE)")).await;
        }
        let building = format!("{name}_building");
        run(format!("CREATE DATABASE {building}")).await;
        let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
        let db = stockgraph::db::connect(&format!("{base}/{building}"), 1)
            .await
            .expect("connect to the template");
        stockgraph::db::migrate_up(&db)
            .await
            .expect("migrate the template");
        db.close().await.ok();
        run(format!("ALTER DATABASE {building} RENAME TO {name}")).await;
    }
    run("SELECT pg_advisory_unlock(7312001)".into()).await;
    admin.close().await.ok();
    name
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
            let template = postgres_template(&server);
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
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
    let db = stockgraph::db::connect(&url, POOL_SIZE)
        .await
        .expect("connect to the test database");
    stockgraph::db::migrate_up(&db).await.expect("migrate");
    (db, url)
}

/// The token secret of test apps.
const TEST_SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

/// A running app on a fresh database with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::default()).await
}

/// [`spawn_app`] for a test marked `#[cfg_attr(not(test_postgres), ignore = …)]` (build.rs sets
/// `test_postgres` when `TEST_DATABASE_URL` is a PostgreSQL URL). Fails, rather than passing
/// vacuously, when a test binary built for PostgreSQL runs without `TEST_DATABASE_URL`.
pub async fn spawn_postgres_app() -> TestApp {
    let app = spawn_app().await;
    assert_eq!(
        app.db.get_database_backend(),
        DbBackend::Postgres,
        "this test needs PostgreSQL: run it with TEST_DATABASE_URL set"
    );
    app
}

/// A running app on a fresh database with the given settings.
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let (db, url) = fresh_database().await;
    app_on(db, &url, settings).await
}

/// A running app whose every request's SQL statements are recorded in the returned log.
///
/// The event dispatcher polls the outbox once a second through a clone taken before the log
/// was attached, so its statements never land in a request's count.
pub async fn spawn_counting_app() -> (TestApp, Arc<std::sync::Mutex<Vec<String>>>) {
    let (app, _peer, log) = spawn_counting_app_with_peer().await;
    (app, log)
}

/// Like [`spawn_counting_app`], plus a second app on the same database whose statements are
/// not recorded: load sent through it runs alongside the counted requests without landing in
/// their count.
pub async fn spawn_counting_app_with_peer() -> (TestApp, TestApp, Arc<std::sync::Mutex<Vec<String>>>)
{
    let (db, url) = fresh_database().await;
    let uncounted = db.clone();
    let mut counted = db;
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    counted.set_metric_callback(move |info| {
        seen.lock().expect("log").push(info.statement.sql.clone());
    });
    let events = EventBus::default();
    events
        .start(uncounted.clone(), &url, DispatchConfig::default())
        .await
        .expect("event dispatcher");
    let app = app_serving(counted, &url, Settings::default(), events);
    let state = AppState {
        db: uncounted.clone(),
        ..app.state.clone()
    };
    // The peer neither removes the database nor the file: the counted app owns them.
    let peer = TestApp {
        router: router(state.clone()),
        state,
        db: uncounted,
        keys: app.keys.clone(),
        events: app.events.clone(),
        admin: app.admin.clone(),
        sqlite_file: None,
        pg_database: None,
    };
    (app, peer, log)
}

/// A running app whose event bus is `events` (e.g. a small one).
pub async fn spawn_app_with_bus(settings: Settings, events: EventBus) -> TestApp {
    let (db, url) = fresh_database().await;
    app_with_bus(db, &url, settings, events).await
}

async fn app_on(db: DatabaseConnection, url: &str, settings: Settings) -> TestApp {
    app_with_bus(db, url, settings, EventBus::default()).await
}

async fn app_with_bus(
    db: DatabaseConnection,
    url: &str,
    settings: Settings,
    events: EventBus,
) -> TestApp {
    events
        .start(db.clone(), url, DispatchConfig::default())
        .await
        .expect("event dispatcher");
    app_serving(db, url, settings, events)
}

/// The app over `db` whose event bus was already started.
fn app_serving(db: DatabaseConnection, url: &str, settings: Settings, events: EventBus) -> TestApp {
    let keys = TokenKeys::from_secret(TEST_SECRET);
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
        sqlite_file: stockgraph::db::sqlite_path(url),
        pg_database: url
            .starts_with("postgres")
            .then(|| url.rsplit('/').next().unwrap_or_default().to_owned())
            .filter(|name| name.starts_with("stockgraph_test_")),
        router: router(state.clone()),
        state,
        db,
        keys,
        events,
        admin,
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

    /// A token for `subject` whose claims list `permissions` verbatim (legacy IDs included).
    pub fn raw_token(&self, subject: &str, permissions: &[&str]) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        Self::signed_token(subject, permissions, now, now + 3600)
    }

    /// A token signed with the app's secret that expired a minute ago: the service's clock
    /// reads it as spent at once, so no test waits for a token to expire.
    pub fn expired_token(&self, subject: &str, permissions: &[Permission]) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        self.token_expiring_at(subject, permissions, now - 60)
    }

    /// A token signed with the app's secret whose `exp` claim is `exp` (Unix seconds).
    pub fn token_expiring_at(&self, subject: &str, permissions: &[Permission], exp: u64) -> String {
        let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        Self::signed_token(subject, &names, exp.saturating_sub(60), exp)
    }

    /// A token signed with the app's secret, issued at `iat` and expiring at `exp` (Unix seconds).
    fn signed_token(subject: &str, permissions: &[&str], iat: u64, exp: u64) -> String {
        let claims = json!({ "sub": subject, "permissions": permissions, "iat": iat, "exp": exp });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET),
        )
        .expect("encode")
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
            "serial_numbers",
            "serial_movements",
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
            // An event's `seq` is given after commit by the dispatcher running beside the test
            // (see src/events.rs), so it may change between two snapshots of a refused
            // mutation without that mutation writing anything: it is left out.
            let sql = match self.db.get_database_backend() {
                DbBackend::Postgres if table == "events" => format!(
                    "SELECT ROW(id, kind, entity_type, entity_id, payload, actor, occurred_at)::text \
                     AS row FROM {table} ORDER BY {order}"
                ),
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
                        .map(|c| c.try_get::<String>("", "name").expect("column name"))
                        .filter(|name| !(table == "events" && name == "seq"))
                        .map(|name| format!("quote({name})"))
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

/// The row id behind a global ID.
pub fn row_id(gid: &Value) -> i32 {
    gid.as_str()
        .and_then(|g| g.rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a global ID: {gid}"))
}

/// The records most purchase-order tests need, created through the API.
pub struct Fixture {
    pub vendor: String,
    pub location: String,
    pub location2: String,
    pub po_type: String,
    pub business_unit: String,
    /// Unserialized products with default unit costs 2.50, 10 and 0.3333.
    pub products: Vec<String>,
    /// A serialized product with default unit cost 100.
    pub serialized: String,
    pub job: String,
    pub project: String,
    pub technician: String,
}

impl TestApp {
    /// Runs mutation `name` with `input` as `token`; returns its payload (GraphQL errors fail).
    pub async fn mutate_as(&self, token: &str, name: &str, input: Value, selection: &str) -> Value {
        let query = format!(
            "mutation($input: {}!) {{ {name}(input: $input) {{ {selection} userErrors {{ field message code }} }} }}",
            input_type(name)
        );
        let data = self.gql_as(token, &query, json!({ "input": input })).await;
        data[name].clone()
    }

    /// Runs mutation `name` as admin and asserts it succeeded; returns its payload.
    pub async fn ok(&self, name: &str, input: Value, selection: &str) -> Value {
        let payload = self
            .mutate_as(&self.admin.clone(), name, input, selection)
            .await;
        assert_eq!(
            payload["userErrors"],
            json!([]),
            "{name} was refused: {payload}"
        );
        payload
    }

    /// Runs mutation `name` as `token`, asserts it was refused with `code` and wrote nothing;
    /// returns the offending field path joined with dots.
    pub async fn refused_as(&self, token: &str, name: &str, input: Value, code: &str) -> String {
        let before = self.snapshot().await;
        let payload = self.mutate_as(token, name, input, "").await;
        let errors = payload["userErrors"].as_array().expect("userErrors");
        assert!(!errors.is_empty(), "{name} was accepted, expected {code}");
        assert_eq!(errors[0]["code"], code, "{name}: {payload}");
        assert!(
            !errors[0]["message"].as_str().unwrap_or_default().is_empty(),
            "a refusal explains itself"
        );
        assert!(
            before == self.snapshot().await,
            "{name} was refused with {code} but changed the database"
        );
        errors[0]["field"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|p| p.as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .unwrap_or_default()
    }

    /// Like [`TestApp::refused_as`] as admin.
    pub async fn refused(&self, name: &str, input: Value, code: &str) -> String {
        self.refused_as(&self.admin.clone(), name, input, code)
            .await
    }

    /// Asserts mutation `name` refuses each `(input, code, field)` case with that code on that
    /// field (path joined with dots) and writes nothing.
    pub async fn assert_each_refused(&self, name: &str, cases: Vec<(Value, &str, &str)>) {
        for (input, code, field) in cases {
            assert_eq!(
                self.refused(name, input, code).await,
                field,
                "{name}: {code}"
            );
        }
    }

    /// Creates the usual master data through the API.
    pub async fn fixture(&self) -> Fixture {
        let address = json!({ "street": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US" });
        let vendor = self
            .ok(
                "createVendor",
                json!({ "name": "Acme Supply", "code": "ACME", "address": address, "defaultTaxRate": "0.08" }),
                "vendor { id }",
            )
            .await["vendor"]["id"]
            .clone();
        let mut locations = Vec::new();
        for code in ["WH-MAIN", "TRUCK-1"] {
            let l = self
                .ok(
                    "createInventoryLocation",
                    json!({ "code": code, "name": code }),
                    "inventoryLocation { id }",
                )
                .await;
            locations.push(l["inventoryLocation"]["id"].as_str().unwrap().to_owned());
        }
        let po_type = self
            .ok(
                "createPurchaseOrderType",
                json!({ "name": "Stock" }),
                "purchaseOrderType { id }",
            )
            .await["purchaseOrderType"]["id"]
            .clone();
        let business_unit = self
            .ok(
                "createBusinessUnit",
                json!({ "name": "Plumbing" }),
                "businessUnit { id }",
            )
            .await["businessUnit"]["id"]
            .clone();
        let mut products = Vec::new();
        for (sku, cost) in [
            ("BOLT-M8", "2.50"),
            ("PIPE-CU-15", "10"),
            ("WASHER", "0.3333"),
        ] {
            let p = self
                .ok(
                    "createProduct",
                    json!({ "sku": sku, "description": sku, "defaultUnitCost": cost }),
                    "product { id }",
                )
                .await;
            products.push(p["product"]["id"].as_str().unwrap().to_owned());
        }
        let serialized = self
            .ok(
                "createProduct",
                json!({ "sku": "PUMP-X1", "description": "Pump", "defaultUnitCost": "100", "serialized": true }),
                "product { id }",
            )
            .await["product"]["id"]
            .clone();
        let job = self
            .ok(
                "createJob",
                json!({ "number": "J-1", "name": "Job one" }),
                "job { id }",
            )
            .await["job"]["id"]
            .clone();
        let project = self
            .ok(
                "createProject",
                json!({ "number": "P-1", "name": "Project one" }),
                "project { id }",
            )
            .await["project"]["id"]
            .clone();
        let technician = self
            .ok(
                "createTechnician",
                json!({ "number": "T-1", "name": "Tess" }),
                "technician { id }",
            )
            .await["technician"]["id"]
            .clone();
        let text = |v: Value| v.as_str().unwrap().to_owned();
        Fixture {
            vendor: text(vendor),
            location: locations[0].clone(),
            location2: locations[1].clone(),
            po_type: text(po_type),
            business_unit: text(business_unit),
            products,
            serialized: text(serialized),
            job: text(job),
            project: text(project),
            technician: text(technician),
        }
    }

    /// On-order quantity of (product, location) as stored, normalised; "0" when no item exists.
    pub async fn on_order(&self, product: &str, location: &str) -> String {
        self.item_quantity(product, location, |i| i.on_order).await
    }

    /// On-hand quantity of (product, location) as stored, normalised; "0" when no item exists.
    pub async fn on_hand(&self, product: &str, location: &str) -> String {
        self.item_quantity(product, location, |i| i.on_hand).await
    }

    async fn item_quantity(
        &self,
        product: &str,
        location: &str,
        pick: impl Fn(&entity::inventory_item::Model) -> entity::Fixed4,
    ) -> String {
        use entity::inventory_item::{Column, Entity};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let item = Entity::find()
            .filter(Column::ProductId.eq(row_id(&json!(product))))
            .filter(Column::LocationId.eq(row_id(&json!(location))))
            .one(&self.db)
            .await
            .expect("item");
        item.map(|i| pick(&i).to_decimal().normalize().to_string())
            .unwrap_or_else(|| "0".to_owned())
    }
}

/// The input type of a mutation, by the schema's naming.
pub fn input_type(mutation: &str) -> String {
    match mutation {
        "createBusinessUnit" | "createPurchaseOrderType" => "CreateNamedRecordInput".to_owned(),
        "createJob" | "createProject" | "createTechnician" => {
            "CreateNumberedRecordInput".to_owned()
        }
        m if m.starts_with("deactivate") => "DeactivateInput".to_owned(),
        "updateBusinessUnit"
        | "updatePurchaseOrderType"
        | "updateJob"
        | "updateProject"
        | "updateTechnician" => "UpdateReferenceInput".to_owned(),
        "submitPurchaseOrder" => "SubmitPurchaseOrderInput".to_owned(),
        "cancelPurchaseOrder" => "CancelPurchaseOrderInput".to_owned(),
        "markPurchaseOrderExported" => "MarkExportedInput".to_owned(),
        "releaseReservation" => "ReleaseReservationInput".to_owned(),
        m => {
            let mut chars = m.chars();
            let first = chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .unwrap_or_default();
            format!("{first}{}Input", chars.as_str())
        }
    }
}

impl TestApp {
    /// Checks every stock and billing invariant of DOMAIN.md against the stored rows:
    /// on hand = Σ ledger per item; on order and back-ordered = the open quantities of the
    /// orders that count them; no line received beyond its quantity (with `allowance` percent);
    /// and the money rule of DOMAIN.md (Money and rounding) exactly: for every order,
    /// Σ open bills' subtotal (credits included) = round(Σ received quantity × unit cost) and
    /// Σ open bills' tax = round(that subtotal × the order's tax rate), rounding half away from
    /// zero to cents; every bill's parts are whole cents and add up to its total; a credit
    /// negates its bill's lines and freight.
    pub async fn assert_books_balance(&self, allowance: rust_decimal::Decimal) {
        use entity::enums::{BillStatus, PurchaseOrderStatus as S};
        use rust_decimal::Decimal;
        use sea_orm::EntityTrait;
        use std::collections::HashMap;
        let db = &self.db;
        let items = entity::inventory_item::Entity::find()
            .all(db)
            .await
            .unwrap();
        let ledger = entity::stock_ledger_entry::Entity::find()
            .all(db)
            .await
            .unwrap();
        let orders: HashMap<i32, entity::purchase_order::Model> =
            entity::purchase_order::Entity::find()
                .all(db)
                .await
                .unwrap()
                .into_iter()
                .map(|po| (po.id, po))
                .collect();
        let lines = entity::purchase_order_line::Entity::find()
            .all(db)
            .await
            .unwrap();
        let receipts: HashMap<i32, entity::receipt::Model> = entity::receipt::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let receipt_lines = entity::receipt_line::Entity::find().all(db).await.unwrap();
        let bills = entity::bill::Entity::find().all(db).await.unwrap();

        let mut expected_on_order: HashMap<(i32, i32), Decimal> = HashMap::new();
        let mut expected_backordered: HashMap<(i32, i32), Decimal> = HashMap::new();
        let mut received_by_line: HashMap<i32, Decimal> = HashMap::new();
        for r in &receipt_lines {
            if receipts[&r.receipt_id].canceled_at.is_none() {
                *received_by_line
                    .entry(r.purchase_order_line_id)
                    .or_default() += r.quantity.to_decimal();
            }
        }
        let mut value_received: HashMap<i32, Decimal> = HashMap::new();
        for line in &lines {
            let po = &orders[&line.purchase_order_id];
            let quantity = line.quantity.to_decimal();
            let received = line.quantity_received.to_decimal();
            assert_eq!(
                received,
                received_by_line.get(&line.id).copied().unwrap_or_default(),
                "line {} received differs from its receipts",
                line.id
            );
            assert!(
                received <= quantity * (Decimal::ONE + allowance / Decimal::ONE_HUNDRED),
                "line {} over-received: {received} of {quantity}",
                line.id
            );
            if matches!(po.status, S::Submitted | S::PartiallyReceived | S::Received) {
                let open = (quantity - received).max(Decimal::ZERO);
                *expected_on_order
                    .entry((line.product_id, line.location_id))
                    .or_default() += open;
                if po.backorder_of_id.is_some() {
                    *expected_backordered
                        .entry((line.product_id, line.location_id))
                        .or_default() += open;
                }
            }
        }
        for r in &receipt_lines {
            if receipts[&r.receipt_id].canceled_at.is_none() {
                let line = lines
                    .iter()
                    .find(|l| l.id == r.purchase_order_line_id)
                    .unwrap();
                // Exact: only the order's sum is rounded, once.
                let amount = r.quantity.to_decimal() * line.unit_cost.to_decimal();
                *value_received.entry(line.purchase_order_id).or_default() += amount;
            }
        }
        for item in &items {
            let key = (item.product_id, item.location_id);
            let sum: Decimal = ledger
                .iter()
                .filter(|e| e.inventory_item_id == item.id)
                .map(|e| e.delta.to_decimal())
                .sum();
            assert_eq!(
                item.on_hand.to_decimal(),
                sum,
                "item {} on hand vs ledger",
                item.id
            );
            assert_eq!(
                item.on_order.to_decimal(),
                expected_on_order.get(&key).copied().unwrap_or_default(),
                "item {} on order",
                item.id
            );
            assert_eq!(
                item.backordered.to_decimal(),
                expected_backordered.get(&key).copied().unwrap_or_default(),
                "item {} back-ordered",
                item.id
            );
        }
        let money = |d: Decimal| {
            d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        };
        let bill_lines = entity::bill_line::Entity::find().all(db).await.unwrap();
        for bill in &bills {
            let (subtotal, tax, freight) = (
                bill.subtotal.to_decimal(),
                bill.tax.to_decimal(),
                bill.freight.to_decimal(),
            );
            for part in [subtotal, tax, freight, bill.total.to_decimal()] {
                assert_eq!(part, money(part), "bill {} prints whole cents", bill.number);
            }
            assert_eq!(
                bill.total.to_decimal(),
                subtotal + tax + freight,
                "bill {}: subtotal + tax + freight = total",
                bill.number
            );
            if bill.status == BillStatus::Open && receipts[&bill.receipt_id].canceled_at.is_none() {
                // A live receipt's open bill is taxed at its order's rate of today.
                assert_eq!(
                    bill.tax_rate, orders[&bill.purchase_order_id].tax_rate,
                    "bill {} tax rate",
                    bill.number
                );
            }
            if let Some(original) = bill.credit_of_id {
                // A credit negates its bill line by line, and the freight.
                let original = bills.iter().find(|b| b.id == original).unwrap();
                assert_eq!(
                    bill.freight.0, -original.freight.0,
                    "credit {}",
                    bill.number
                );
                let lines_of = |id: i32| -> Vec<(i32, i64, i64)> {
                    bill_lines
                        .iter()
                        .filter(|l| l.bill_id == id)
                        .map(|l| (l.receipt_line_id, l.quantity.0, l.unit_cost.0))
                        .collect()
                };
                let negated: Vec<(i32, i64, i64)> = lines_of(original.id)
                    .into_iter()
                    .map(|(line, quantity, cost)| (line, -quantity, cost))
                    .collect();
                assert_eq!(lines_of(bill.id), negated, "credit {} lines", bill.number);
            }
        }
        for po in orders.values() {
            let open: Vec<&entity::bill::Model> = bills
                .iter()
                .filter(|b| b.purchase_order_id == po.id && b.status == BillStatus::Open)
                .collect();
            let billed_subtotal: Decimal = open.iter().map(|b| b.subtotal.to_decimal()).sum();
            let billed_tax: Decimal = open.iter().map(|b| b.tax.to_decimal()).sum();
            let subtotal = money(value_received.get(&po.id).copied().unwrap_or_default());
            assert_eq!(
                billed_subtotal, subtotal,
                "open bills of {}: Σ subtotal = round(value received)",
                po.number
            );
            assert_eq!(
                billed_tax,
                money(subtotal * po.tax_rate.to_decimal()),
                "open bills of {}: Σ tax = round(round(value received) × tax rate)",
                po.number
            );
        }
    }
}

impl TestApp {
    /// Serves the router on a free local port; returns its address.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let router = self.router.clone();
        tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        address
    }
}

/// The URL of an app's database (for processes that must share it).
pub async fn database_url(app: &TestApp) -> String {
    let name = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_database() AS name",
        ))
        .await
        .expect("name")
        .expect("row")
        .try_get::<String>("", "name")
        .expect("text");
    let server = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    let base = server
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(&server);
    format!("{base}/{name}")
}

impl TestApp {
    /// Checks DOMAIN.md's *History* and *Serial numbers* against the stored rows: every bill
    /// line shows the product and location of the receipt line it bills, every receipt line
    /// those of its order line (which can no longer change once received); each serialized
    /// product has exactly as many units in stock at a location as is on hand there, and no
    /// serial twice.
    pub async fn assert_history_and_serials_hold(&self) {
        use entity::enums::SerialStatus;
        use sea_orm::EntityTrait;
        use std::collections::{HashMap, HashSet};
        let db = &self.db;
        let order_lines: HashMap<i32, entity::purchase_order_line::Model> =
            entity::purchase_order_line::Entity::find()
                .all(db)
                .await
                .unwrap()
                .into_iter()
                .map(|l| (l.id, l))
                .collect();
        let receipt_lines: HashMap<i32, entity::receipt_line::Model> =
            entity::receipt_line::Entity::find()
                .all(db)
                .await
                .unwrap()
                .into_iter()
                .map(|l| (l.id, l))
                .collect();
        for r in receipt_lines.values() {
            let line = &order_lines[&r.purchase_order_line_id];
            assert_eq!(
                (r.product_id, r.location_id),
                (line.product_id, line.location_id),
                "receipt line {} vs its order line",
                r.id
            );
        }
        for b in entity::bill_line::Entity::find().all(db).await.unwrap() {
            let r = &receipt_lines[&b.receipt_line_id];
            assert_eq!(
                (b.product_id, b.location_id),
                (r.product_id, r.location_id),
                "bill line {} vs its receipt line",
                b.id
            );
        }
        let serials = entity::serial_number::Entity::find().all(db).await.unwrap();
        let mut seen = HashSet::new();
        let mut in_stock: HashMap<(i32, i32), i64> = HashMap::new();
        for s in &serials {
            assert!(
                seen.insert((s.product_id, s.serial_number.trim().to_uppercase())),
                "serial {} of product {} twice",
                s.serial_number,
                s.product_id
            );
            if s.status == SerialStatus::InStock {
                *in_stock
                    .entry((s.product_id, s.location_id.unwrap()))
                    .or_default() += 1;
            }
        }
        let serialized: HashSet<i32> = entity::product::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .filter(|p| p.serialized)
            .map(|p| p.id)
            .collect();
        for item in entity::inventory_item::Entity::find()
            .all(db)
            .await
            .unwrap()
        {
            if serialized.contains(&item.product_id) {
                let units = in_stock
                    .get(&(item.product_id, item.location_id))
                    .copied()
                    .unwrap_or_default();
                assert_eq!(
                    item.on_hand.to_decimal(),
                    rust_decimal::Decimal::from(units),
                    "serialized item {}: on hand vs units in stock",
                    item.id
                );
            }
        }
    }
}
