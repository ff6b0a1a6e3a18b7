//! The benchmark harness: `seed --scale`, the SQL statement counter on `/metrics`, and a tiny
//! `bench` run. Nothing here asserts a timing: only counts, invariants and the report's shape.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

/// The URL another process opens the test app's database with.
async fn url_of(app: &TestApp) -> String {
    match app.db.get_database_backend() {
        DbBackend::Postgres => crate::helpers::database_url(app).await,
        _ => {
            let row = app
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    DbBackend::Sqlite,
                    "SELECT file FROM pragma_database_list WHERE name = 'main'",
                ))
                .await
                .unwrap()
                .unwrap();
            format!("sqlite://{}", row.try_get::<String>("", "file").unwrap())
        }
    }
}

/// Runs the `stockgraph` command in a scratch directory.
async fn stockgraph(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("sg-bench-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_stockgraph"));
    command
        .args(args)
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
    output
}

#[tokio::test]
async fn seed_scale_fills_an_empty_database_whose_books_balance_and_refuses_a_full_one() {
    let app = spawn_app().await;
    let url = url_of(&app).await;
    let output = stockgraph(&["seed", "--scale", "0.01"], &[("DATABASE_URL", &url)]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("purchase orders"),
        "progress on stderr: {stderr}"
    );
    let counts = app
        .gql(
            "{ purchaseOrders { totalCount } moved: purchaseOrders(filter: { status: \
             [SUBMITTED, PARTIALLY_RECEIVED, RECEIVED] }) { totalCount } vendors { totalCount } \
             products { totalCount } inventoryLocations { totalCount } receipts { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(counts["purchaseOrders"]["totalCount"], 100, "{counts}");
    assert_eq!(counts["moved"]["totalCount"], 10, "{counts}");
    assert_eq!(counts["vendors"]["totalCount"], 2, "{counts}");
    assert_eq!(counts["products"]["totalCount"], 20, "{counts}");
    assert_eq!(counts["inventoryLocations"]["totalCount"], 10, "{counts}");
    assert_eq!(counts["receipts"]["totalCount"], 5, "{counts}");
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;

    // A new order still gets a number and an id of its own after the bulk insert.
    let gid = |t: &str| format!("gid://stockgraph/{t}/1");
    let created = app
        .ok(
            "createPurchaseOrder",
            json!({ "vendorId": gid("Vendor"), "shipToId": gid("InventoryLocation"),
                    "typeId": gid("PurchaseOrderType"), "businessUnitId": gid("BusinessUnit"),
                    "lines": [{ "productId": gid("Product"),
                                "locationId": gid("InventoryLocation"), "quantity": "2" }] }),
            "purchaseOrder { number }",
        )
        .await;
    assert!(!created["purchaseOrder"]["number"].is_null(), "{created}");

    let again = stockgraph(&["seed", "--scale", "0.01"], &[("DATABASE_URL", &url)]).await;
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds data"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A `serve` process on the test app's database.
struct Serve {
    child: tokio::process::Child,
    address: std::net::SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.child.start_kill().ok();
    }
}

async fn serve(url: &str) -> Serve {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stockgraph"))
        .args(["serve", "--port", "0"])
        .env("DATABASE_URL", url)
        .env(
            "STOCKGRAPH_JWT_SECRET",
            "test-secret-test-secret-test-secret!",
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("serve starts")
            .unwrap()
            .expect("a line");
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim_end_matches("/graphql").parse().unwrap();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Serve { child, address }
}

/// One HTTP/1.1 exchange; returns the body.
async fn http(address: std::net::SocketAddr, request: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

async fn statements(address: std::net::SocketAddr) -> (f64, f64) {
    let text = http(
        address,
        format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let value = |source: &str| {
        stockgraph::bench::metric_value(
            &text,
            &format!("stockgraph_sql_statements_total{{source=\"{source}\"}}"),
        )
        .unwrap_or_else(|| panic!("no {source} statements on /metrics: {text}"))
    };
    (value("requests"), value("background"))
}

#[tokio::test]
async fn metrics_count_request_statements_apart_from_the_outbox_polls() {
    let app = spawn_app().await;
    let server = serve(&url_of(&app).await).await;
    let (requests, background) = statements(server.address).await;
    // The outbox is polled about once a second whether or not anyone asks: wait (bounded)
    // for a poll, which must not show up as a request's statement.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut now = statements(server.address).await;
    while now.1 <= background && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = statements(server.address).await;
    }
    assert!(now.1 > background, "background statements are counted");
    assert_eq!(now.0, requests, "no request ran, so no request statement");

    let body =
        json!({ "query": "{ vendors(first: 5) { totalCount nodes { code } } }" }).to_string();
    let address = server.address;
    let reply = http(
        address,
        format!(
            "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Authorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            app.admin,
            body.len()
        ),
    )
    .await;
    assert!(reply.contains("\"vendors\""), "{reply}");
    let after = statements(server.address).await;
    let ran = after.0 - now.0;
    assert!((1.0..=10.0).contains(&ran), "{ran} statements for one page");
}

#[tokio::test]
async fn a_tiny_bench_run_reports_every_scenario_and_balanced_books() {
    let server = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
    let database = if server.is_empty() {
        "sqlite"
    } else {
        "postgres"
    };
    let mut args = vec![
        "bench",
        "--database",
        database,
        "--scale",
        "0.01",
        "--duration",
        "0.3",
        "--concurrency",
        "2",
        "--receivers",
        "4",
        "--subscribers",
        "10",
        "--events",
        "1",
        "--pgbench-seconds",
        "0",
    ];
    if !server.is_empty() {
        args.extend(["--postgres-url", &server]);
    }
    let output = stockgraph(&args, &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "| nested page, 50 orders | 2 |",
        "| nested page, 5 orders | 2 |",
        "| one order by number, all lines | 2 |",
        "| receivePurchaseOrder, 4 hot lines | 4 |",
        "| raw SQL | 50 | 2 |",
        "| in memory | 50 | 2 |",
        "0 lost updates",
        "Fan-out: 10 of 10 subscribers connected, 1 status changes, 10 of 10 deliveries",
        "Targets of issue 13",
    ] {
        assert!(stdout.contains(expected), "no `{expected}` in:\n{stdout}");
    }
}
