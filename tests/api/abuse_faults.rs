//! Issue 12, finding 11: database faults. While the service's PostgreSQL connections are
//! killed under load, every answer is a success or a retryable `SERVICE_UNAVAILABLE` (HTTP 503
//! with `Retry-After`), never `INTERNAL`; retries with idempotency keys count exactly once; and
//! the service recovers without a restart. PostgreSQL only: SQLite has no connections to kill.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::helpers::{database_url, spawn_postgres_app, TestApp};
use crate::purchasing::{create_po, line, transition};

/// Concurrent clients, and the operations each sends.
const CLIENTS: usize = 6;
const OPERATIONS: usize = 12;
/// How many times the service's connections are killed while the load runs.
const KILLS: usize = 30;
/// A client gives up on a receive after this many `SERVICE_UNAVAILABLE` answers.
const MAX_ATTEMPTS: usize = 100;

/// What a request answered: status, `Retry-After`, body.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    /// Status, `Retry-After` and body, for a failure message.
    fn describe(&self) -> String {
        format!("{} {:?} {}", self.status, self.retry_after, self.body)
    }

    fn is_success(&self) -> bool {
        self.status == StatusCode::OK && self.body.get("errors").is_none()
    }

    /// A 503 with `Retry-After` whose every error is `SERVICE_UNAVAILABLE`.
    fn is_retryable(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
            && self.retry_after.is_some()
            && self.body["errors"].as_array().is_some_and(|errors| {
                !errors.is_empty()
                    && errors
                        .iter()
                        .all(|e| e["extensions"]["code"] == "SERVICE_UNAVAILABLE")
            })
    }
}

async fn send(app: &TestApp, request: Request<Body>) -> Answer {
    let response = app.router.clone().oneshot(request).await.expect("router");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        retry_after,
        body,
    }
}

async fn post(app: &TestApp, query: &str, variables: Value) -> Answer {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", app.admin))
        .body(Body::from(body))
        .unwrap();
    send(app, request).await
}

async fn readyz(app: &TestApp) -> StatusCode {
    let request = Request::get("/readyz").body(Body::empty()).unwrap();
    send(app, request).await.status
}

/// Polls `/readyz` until it answers `wanted`, for at most 20 s.
async fn wait_for_readyz(app: &TestApp, wanted: StatusCode) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = readyz(app).await;
        if status == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still answers {status}, expected {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A connection to the PostgreSQL server outside the test's database, and that database's name.
async fn server_admin(app: &TestApp) -> (DatabaseConnection, String) {
    let url = database_url(app).await;
    let name = url.rsplit('/').next().unwrap().to_owned();
    let server = std::env::var("TEST_DATABASE_URL").unwrap();
    let mut options = sea_orm::ConnectOptions::new(server);
    options.max_connections(1).sqlx_logging(false);
    (Database::connect(options).await.unwrap(), name)
}

/// Terminates every connection to `database` (the service's pool and its event listener);
/// returns how many were killed.
async fn kill_connections(admin: &DatabaseConnection, database: &str) -> i64 {
    let row = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS killed \
             FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            [database.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "killed").unwrap()
}

const RECEIVE: &str = "mutation($input: ReceivePurchaseOrderInput!) { \
    receivePurchaseOrder(input: $input) { receipt { id } purchaseOrder { status } \
    userErrors { code message } } }";

const READ: &str = "query($id: ID!) { purchaseOrder(id: $id) { number status \
    lines(first: 10) { nodes { quantityReceived product { sku } } } receipts { id } } \
    inventoryItems(first: 10) { nodes { onHand onOrder location { code } } } }";

/// What a load run under killed connections left behind.
struct KilledLoad {
    app: Arc<TestApp>,
    fx: crate::helpers::Fixture,
    po_id: Value,
    /// (idempotency key, receipt id) of every receive that succeeded.
    receipts: Vec<(String, Value)>,
    /// Answers that were neither a success nor a retryable 503, described.
    unexpected: Vec<String>,
    /// Keys whose receive was still unavailable after [`MAX_ATTEMPTS`] tries.
    gave_up: Vec<String>,
    /// How many connections the killer terminated.
    killed: i64,
}

/// Runs [`CLIENTS`] clients sending reads and keyed receives of one unit (each retried with
/// its key while the answer is retryable) while the service's connections are killed
/// [`KILLS`] times.
async fn load_under_killed_connections() -> KilledLoad {
    let app = Arc::new(spawn_postgres_app().await);
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "1000", None)]).await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let po_id = po["id"].clone();
    let line_id = line(&po, 0)["id"].clone();
    let (admin, database) = server_admin(&app).await;

    // The killer strikes after every other completed request, so kills land while other
    // requests are in flight, and stops after KILLS strikes or when the clients are done.
    let (completed, mut completions) = tokio::sync::mpsc::unbounded_channel::<()>();
    let killer = tokio::spawn(async move {
        let (mut strikes, mut killed, mut seen) = (0, 0, 0);
        while strikes < KILLS && completions.recv().await.is_some() {
            seen += 1;
            if seen % 2 == 0 {
                strikes += 1;
                killed += kill_connections(&admin, &database).await;
            }
        }
        admin.close().await.ok();
        killed
    });

    let unavailable = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let app = Arc::clone(&app);
        let completed = completed.clone();
        let unavailable = Arc::clone(&unavailable);
        let (po_id, line_id) = (po_id.clone(), line_id.clone());
        clients.push(tokio::spawn(async move {
            let (mut keys, mut unexpected, mut gave_up) = (Vec::new(), Vec::new(), Vec::new());
            for op in 0..OPERATIONS {
                if op % 2 == 0 {
                    let answer = post(&app, READ, json!({ "id": po_id })).await;
                    completed.send(()).ok();
                    if !answer.is_success() {
                        if !answer.is_retryable() {
                            unexpected.push(format!("a read answered {}", answer.describe()));
                        }
                        unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                // A receive of one unit, retried with the same key until it succeeds.
                let key = format!("fault-{client}-{op}");
                let input = json!({
                    "purchaseOrderId": po_id,
                    "idempotencyKey": key,
                    "lines": [{ "lineId": line_id, "quantity": "1" }],
                });
                let mut attempts = 0;
                loop {
                    if attempts == MAX_ATTEMPTS {
                        gave_up.push(key);
                        break;
                    }
                    attempts += 1;
                    let answer = post(&app, RECEIVE, json!({ "input": input })).await;
                    completed.send(()).ok();
                    if answer.is_success() {
                        let payload = &answer.body["data"]["receivePurchaseOrder"];
                        assert_eq!(payload["userErrors"], json!([]), "{payload}");
                        keys.push((key, payload["receipt"]["id"].clone()));
                        break;
                    }
                    if !answer.is_retryable() {
                        unexpected.push(format!("a receive answered {}", answer.describe()));
                        break;
                    }
                    unavailable.fetch_add(1, Ordering::Relaxed);
                }
            }
            (keys, unexpected, gave_up)
        }));
    }
    let (mut receipts, mut unexpected, mut gave_up) = (Vec::new(), Vec::new(), Vec::new());
    for client in clients {
        let (keys, answers, given_up) = client.await.unwrap();
        receipts.extend(keys);
        unexpected.extend(answers);
        gave_up.extend(given_up);
    }
    drop(completed);
    let killed = killer.await.unwrap();
    println!(
        "killed {killed} connections; {} answers were SERVICE_UNAVAILABLE",
        unavailable.load(Ordering::Relaxed)
    );
    KilledLoad {
        app,
        fx,
        po_id,
        receipts,
        unexpected,
        gave_up,
        killed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(test_postgres),
    ignore = "PostgreSQL only (kills its connections): set TEST_DATABASE_URL"
)]
async fn killed_database_connections_answer_a_success_or_a_retryable_503_never_anything_else() {
    let load = load_under_killed_connections().await;
    assert!(
        load.killed > 0,
        "the test killed no connection, so it proved nothing"
    );
    assert_eq!(load.unexpected, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(test_postgres),
    ignore = "PostgreSQL only (kills its connections): set TEST_DATABASE_URL"
)]
async fn keyed_receives_retried_through_killed_connections_each_count_exactly_once() {
    let KilledLoad {
        app,
        fx,
        po_id,
        receipts,
        gave_up,
        ..
    } = load_under_killed_connections().await;
    assert!(
        gave_up.is_empty(),
        "{gave_up:?} never succeeded in {MAX_ATTEMPTS}"
    );
    // Every key produced one receipt, and each receipt counted once.
    let keys: HashSet<&str> = receipts.iter().map(|(k, _)| k.as_str()).collect();
    let distinct: HashSet<String> = receipts.iter().map(|(_, r)| r.to_string()).collect();
    assert_eq!(keys.len(), CLIENTS * OPERATIONS / 2);
    assert_eq!(distinct.len(), keys.len(), "two keys share a receipt");
    wait_for_readyz(&app, StatusCode::OK).await;
    let after = app.gql(READ, json!({ "id": po_id })).await;
    let received = after["purchaseOrder"]["lines"]["nodes"][0]["quantityReceived"].clone();
    assert_eq!(received, json!(keys.len().to_string()), "{after}");
    assert_eq!(
        after["purchaseOrder"]["receipts"].as_array().unwrap().len(),
        keys.len(),
        "a retried receive was booked twice"
    );
    assert_eq!(
        app.on_hand(&fx.products[0], &fx.location).await,
        keys.len().to_string()
    );
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(test_postgres),
    ignore = "PostgreSQL only (kills its connections): set TEST_DATABASE_URL"
)]
async fn after_its_connections_were_killed_the_service_answers_normally_without_a_restart() {
    let KilledLoad { app, po_id, .. } = load_under_killed_connections().await;
    wait_for_readyz(&app, StatusCode::OK).await;
    let after = post(&app, READ, json!({ "id": po_id })).await;
    assert!(after.is_success(), "{}", after.describe());
}

#[tokio::test]
#[cfg_attr(
    not(test_postgres),
    ignore = "PostgreSQL only (refuses its connections): set TEST_DATABASE_URL"
)]
async fn an_unreachable_database_answers_503_with_retry_after_and_readyz_recovers() {
    let app = spawn_postgres_app().await;
    let (admin, database) = server_admin(&app).await;
    let allow = |on: bool| format!("ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS {on}");
    wait_for_readyz(&app, StatusCode::OK).await;

    // The database refuses new connections and the open ones are killed: unreachable.
    admin.execute_unprepared(&allow(false)).await.unwrap();
    kill_connections(&admin, &database).await;
    wait_for_readyz(&app, StatusCode::SERVICE_UNAVAILABLE).await;
    let read = post(&app, "{ vendors(first: 5) { nodes { id } } }", json!({})).await;
    assert!(
        read.is_retryable(),
        "{} {:?} {}",
        read.status,
        read.retry_after,
        read.body
    );
    let create = post(
        &app,
        "mutation { createInventoryLocation(input: { code: \"X\", name: \"X\" }) { inventoryLocation { id } userErrors { code } } }",
        json!({}),
    )
    .await;
    assert!(
        create.is_retryable(),
        "{} {:?} {}",
        create.status,
        create.retry_after,
        create.body
    );
    let message = create.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        !message.contains(&database),
        "no connection detail leaks: {message}"
    );

    // The database is back: the same pool reconnects, nothing restarts.
    admin.execute_unprepared(&allow(true)).await.unwrap();
    wait_for_readyz(&app, StatusCode::OK).await;
    let read = post(&app, "{ vendors(first: 5) { nodes { id } } }", json!({})).await;
    assert!(read.is_success(), "{}", read.body);
    let locations = app
        .gql(
            "{ inventoryLocations(first: 5) { nodes { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        locations["inventoryLocations"]["nodes"],
        json!([]),
        "the refused create wrote nothing"
    );
    admin.close().await.ok();
}

/// Polls (at most 20 s) for a backend of `database`, other than the caller's and `except`,
/// waiting on a lock; returns its pid.
async fn backend_waiting_on_a_lock(admin: &DatabaseConnection, database: &str, except: i32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = admin
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 \
                 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND pid <> $2",
                [database.into(), except.into()],
            ))
            .await
            .unwrap();
        if let Some(row) = row {
            return row.try_get::<i32>("", "pid").unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no request ever waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
#[cfg_attr(
    not(test_postgres),
    ignore = "PostgreSQL only (kills its connection): set TEST_DATABASE_URL"
)]
async fn a_receive_whose_connection_is_killed_before_commit_is_run_again_and_counts_once() {
    use sea_orm::TransactionTrait;
    let app = Arc::new(spawn_postgres_app().await);
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "10", None)]).await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let (server, database) = server_admin(&app).await;

    // Another session holds the order's row lock, so the receive's transaction stops at its
    // first statement; its connection is killed there, before COMMIT.
    let holder = Database::connect(database_url(&app).await).await.unwrap();
    let lock = holder.begin().await.unwrap();
    lock.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id FROM purchase_orders WHERE id = $1 FOR UPDATE",
        [crate::helpers::row_id(&po["id"]).into()],
    ))
    .await
    .unwrap();
    let input = json!({
        "purchaseOrderId": po["id"],
        "idempotencyKey": "killed-once",
        "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "2" }],
    });
    let receive = {
        let app = Arc::clone(&app);
        let input = input.clone();
        tokio::spawn(async move { post(&app, RECEIVE, json!({ "input": input })).await })
    };
    let first = backend_waiting_on_a_lock(&server, &database, 0).await;
    let killed = server
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_terminate_backend($1) AS killed",
            [first.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(killed.try_get::<bool>("", "killed").unwrap());
    // The use case runs again on a fresh connection and waits for the lock anew (the killed
    // backend may linger in pg_stat_activity for a moment, hence `except`).
    backend_waiting_on_a_lock(&server, &database, first).await;
    lock.rollback().await.unwrap();

    let answer = receive.await.unwrap();
    assert!(
        answer.is_success(),
        "the client saw the lost connection: {} {}",
        answer.status,
        answer.body
    );
    let payload = &answer.body["data"]["receivePurchaseOrder"];
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    // The key replays the one receipt: the first attempt wrote nothing.
    let again = post(&app, RECEIVE, json!({ "input": input })).await;
    assert_eq!(
        again.body["data"]["receivePurchaseOrder"]["receipt"],
        payload["receipt"]
    );
    assert_eq!(app.on_hand(&fx.products[0], &fx.location).await, "2");
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
    holder.close().await.ok();
    server.close().await.ok();
}
