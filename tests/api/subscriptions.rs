//! Subscriptions over graphql-transport-ws: every transition, filters, permissions, no event for
//! a refused mutation, limits, keep-alive, shutdown, and on PostgreSQL fan-out across two
//! `serve` processes that survives a killed listener connection.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use stockgraph::app::Settings;
use stockgraph::auth::Permission;
use stockgraph::config::LimitsConfig;

use crate::helpers::{spawn_app, spawn_app_with, spawn_postgres_app, TestApp};
use crate::purchasing::{create_po, line, transition};
use crate::ws::{client, connect, Connected};

const STATUS: &str = "subscription($po: ID, $vendor: ID) { purchaseOrderStatusChanged(purchaseOrderId: $po, vendorId: $vendor) { previousStatus status actor occurredAt purchaseOrder { id number total } } }";
const ITEMS: &str = "subscription($location: ID, $product: ID) { inventoryItemChanged(locationId: $location, productId: $product) { inventoryItem { onHand onOrder product { id } location { id } } } }";

fn receive_input(po: &Value, index: usize, quantity: &str) -> Value {
    json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": line(po, index)["id"], "quantity": quantity }] })
}

#[tokio::test]
async fn every_transition_reaches_a_subscriber_in_order() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let address = app.serve().await;
    let mut ws = client(address, &app.admin).await;
    ws.subscribe(STATUS, json!({ "vendor": fx.vendor })).await;
    wait_subscribed(&app, 1).await;
    let po = create_po(&app, &fx, &[(0, "4", None)]).await;
    transition(&app, "submitPurchaseOrder", &po).await;
    app.ok("receivePurchaseOrder", receive_input(&po, 0, "1"), "")
        .await;
    app.ok("receivePurchaseOrder", receive_input(&po, 0, "3"), "")
        .await;
    app.ok(
        "finalizePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "createBackorder": false }),
        "",
    )
    .await;
    let canceled = create_po(&app, &fx, &[(1, "1", None)]).await;
    transition(&app, "cancelPurchaseOrder", &canceled).await;
    let mut seen = Vec::new();
    for _ in 0..7 {
        let event = ws.next_data().await["purchaseOrderStatusChanged"].clone();
        seen.push((
            event["purchaseOrder"]["number"]
                .as_str()
                .unwrap()
                .to_owned(),
            event["previousStatus"].as_str().map(str::to_owned),
            event["status"].as_str().unwrap().to_owned(),
        ));
        assert_eq!(event["actor"], "admin");
        assert!(event["occurredAt"].is_string());
    }
    let (a, b) = (
        po["number"].as_str().unwrap(),
        canceled["number"].as_str().unwrap(),
    );
    let expected = [
        (a, None, "PENDING"),
        (a, Some("PENDING"), "SUBMITTED"),
        (a, Some("SUBMITTED"), "PARTIALLY_RECEIVED"),
        (a, Some("PARTIALLY_RECEIVED"), "RECEIVED"),
        (a, Some("RECEIVED"), "CLOSED"),
        (b, None, "PENDING"),
        (b, Some("PENDING"), "CANCELED"),
    ];
    let expected: Vec<(String, Option<String>, String)> = expected
        .iter()
        .map(|(n, p, s)| (n.to_string(), p.map(str::to_owned), s.to_string()))
        .collect();
    assert_eq!(seen, expected);
    // A refused transition (it rolled back) sends nothing.
    app.refused(
        "submitPurchaseOrder",
        json!({ "purchaseOrderId": po["id"] }),
        "INVALID_TRANSITION",
    )
    .await;
    ws.quiet(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn filters_select_the_order_vendor_location_and_product() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let address = app.serve().await;
    let watched = create_po(&app, &fx, &[(0, "2", None)]).await;
    let other = create_po(&app, &fx, &[(1, "2", None)]).await;
    let mut by_order = client(address, &app.admin).await;
    by_order
        .subscribe(STATUS, json!({ "po": watched["id"] }))
        .await;
    let mut other_vendor = client(address, &app.admin).await;
    other_vendor
        .subscribe(STATUS, json!({ "vendor": "gid://stockgraph/Vendor/999" }))
        .await;
    let mut items_here = client(address, &app.admin).await;
    items_here
        .subscribe(
            ITEMS,
            json!({ "location": fx.location, "product": fx.products[1] }),
        )
        .await;
    let mut items_elsewhere = client(address, &app.admin).await;
    items_elsewhere
        .subscribe(ITEMS, json!({ "location": fx.location2 }))
        .await;
    wait_subscribed(&app, 4).await;
    transition(&app, "submitPurchaseOrder", &other).await;
    transition(&app, "submitPurchaseOrder", &watched).await;
    let event = by_order.next_data().await;
    assert_eq!(
        event["purchaseOrderStatusChanged"]["purchaseOrder"]["id"],
        watched["id"]
    );
    by_order.quiet(Duration::from_millis(800)).await;
    other_vendor.quiet(Duration::from_millis(200)).await;
    // Submitting `other` put product 1 on order at the main location.
    let item = items_here.next_data().await["inventoryItemChanged"]["inventoryItem"].clone();
    assert_eq!(item["product"]["id"], json!(fx.products[1]));
    assert_eq!(item["onOrder"], "2");
    items_here.quiet(Duration::from_millis(800)).await;
    items_elsewhere.quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn tokens_and_permissions_are_checked_per_connection_and_per_event() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let address = app.serve().await;
    match connect(address, json!({})).await {
        Connected::Closed(code, _) => assert_eq!(code, 4401),
        Connected::Ready(_) => panic!("a connection without a token was accepted"),
    }
    match connect(address, json!({ "authorization": "Bearer not-a-token" })).await {
        Connected::Closed(code, _) => assert_eq!(code, 4403),
        Connected::Ready(_) => panic!("a bad token was accepted"),
    }
    // Without purchase_orders:read the subscription is refused.
    let mut stranger = client(address, &app.token(&[Permission::InventoryRead])).await;
    stranger.subscribe(STATUS, json!({})).await;
    let refused = stranger.message(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    assert_eq!(
        stranger.message(Duration::from_secs(5)).await.unwrap()["type"],
        "complete"
    );
    // Costs follow each subscriber's own permissions.
    let mut clerk = client(address, &app.token(&[Permission::PurchaseOrdersRead])).await;
    clerk.subscribe(STATUS, json!({})).await;
    let mut buyer = client(
        address,
        &app.token(&[Permission::PurchaseOrdersRead, Permission::CostsRead]),
    )
    .await;
    buyer.subscribe(STATUS, json!({})).await;
    wait_subscribed(&app, 2).await;
    create_po(&app, &fx, &[(0, "2", None)]).await;
    let seen_by_clerk = clerk.next_data().await;
    assert!(seen_by_clerk["purchaseOrderStatusChanged"]["purchaseOrder"]["total"].is_null());
    let seen_by_buyer = buyer.next_data().await;
    assert_eq!(
        seen_by_buyer["purchaseOrderStatusChanged"]["purchaseOrder"]["total"],
        "5.40"
    );
}

#[tokio::test]
async fn connections_hold_a_bounded_number_of_subscriptions_are_pinged_and_closed_on_stop() {
    let app = spawn_app_with(Settings {
        limits: LimitsConfig {
            max_subscriptions: 2,
            ws_ping_secs: 1,
            ..LimitsConfig::default()
        },
        ..Settings::default()
    })
    .await;
    let address = app.serve().await;
    let mut ws = client(address, &app.admin).await;
    ws.subscribe(STATUS, json!({})).await;
    ws.subscribe(ITEMS, json!({})).await;
    ws.subscribe(STATUS, json!({})).await;
    // The server starts them in no particular order: one of the three is refused.
    let refused = ws.message(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refused}"
    );
    assert!(refused["payload"]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("at most 2"));
    assert_eq!(
        ws.message(Duration::from_secs(5)).await.unwrap()["type"],
        "complete"
    );
    // Pings come every second; a busy machine may take longer to show one.
    for _ in 0..40 {
        if ws.pings >= 1 {
            break;
        }
        ws.quiet(Duration::from_millis(500)).await;
    }
    assert!(ws.pings >= 1, "the server keeps the connection alive");
    // Stopping the server completes the subscriptions and closes the socket with 1001.
    app.events.shut_down();
    loop {
        let message = ws.message(Duration::from_secs(5)).await.expect("a close");
        if message["type"] == "close" {
            assert_eq!(message["code"], 1001);
            break;
        }
        assert_eq!(message["type"], "complete", "{message}");
    }
}

#[tokio::test]
async fn a_slow_subscriber_is_dropped_without_holding_up_the_others() {
    use futures_util::StreamExt;
    // A bus that holds only 2 undelivered events per subscriber.
    let app = crate::helpers::spawn_app_with_bus(
        Settings::default(),
        stockgraph::events::EventBus::new(2),
    )
    .await;
    let fx = app.fixture().await;
    let schema = stockgraph::graphql::build_schema(app.state.clone());
    let actor = stockgraph::auth::Actor::new("slow", &[Permission::Admin]);
    let request =
        async_graphql::Request::new("subscription { purchaseOrderStatusChanged { status } }")
            .data(actor)
            .data(stockgraph::graphql::loaders::DbLoader::data_loader(
                app.db.clone(),
            ));
    let mut slow = schema.execute_stream(request);
    // Polled once (so it subscribes), then never read while events arrive.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), slow.next())
            .await
            .is_err()
    );
    let mut fast = app.events.subscribe();
    for _ in 0..5 {
        create_po(&app, &fx, &[(0, "1", None)]).await;
        // The fast subscriber reads everything, never held up by the slow one.
        let event = tokio::time::timeout(Duration::from_secs(5), fast.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(event.payload["status"], "PENDING");
    }
    let ended = tokio::time::timeout(Duration::from_secs(5), slow.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        ended.errors[0].message.contains("fell"),
        "{:?}",
        ended.errors
    );
    assert!(tokio::time::timeout(Duration::from_secs(5), slow.next())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn the_outbox_is_pruned_after_its_retention() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // Two events: the newest one is always kept (the feed's numbering continues from it).
    create_po(&app, &fx, &[(0, "1", None)]).await;
    create_po(&app, &fx, &[(0, "1", None)]).await;
    let kept = stockgraph::events::prune(&app.db, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(kept, 0);
    // Two hours pass for the outbox: its rows are backdated rather than waited for.
    {
        use entity::event::{Column, Entity};
        use sea_orm::EntityTrait;
        let two_hours_ago = chrono::Utc::now() - chrono::Duration::hours(2);
        Entity::update_many()
            .col_expr(
                Column::OccurredAt,
                sea_orm::sea_query::Expr::value(two_hours_ago),
            )
            .exec(&app.db)
            .await
            .unwrap();
    }
    let pruned = stockgraph::events::prune(&app.db, Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(pruned >= 1);
}

// SQLite commits one writer at a time: ids cannot commit out of order there.
#[tokio::test]
#[cfg_attr(
    not(test_postgres),
    ignore = "PostgreSQL only (ids committing out of order): set TEST_DATABASE_URL"
)]
async fn a_lower_id_that_commits_late_is_still_delivered() {
    let app = spawn_postgres_app().await;
    let fx = app.fixture().await;
    let early = create_po(&app, &fx, &[(0, "1", None)]).await;
    // Its own event is delivered before we listen (the dispatcher numbers, then delivers).
    for _ in 0..800 {
        if app.events.delivered() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut events = app.events.subscribe();
    // A transaction takes an outbox id and holds it while a later one commits.
    use sea_orm::TransactionTrait;
    let txn = app.db.begin().await.unwrap();
    let mut outbox = stockgraph::events::Outbox::default();
    outbox
        .record(
            &txn,
            stockgraph::events::EventKind::PurchaseOrderStatusChanged,
            "PurchaseOrder",
            crate::helpers::row_id(&early["id"]),
            json!({ "previousStatus": null, "status": "PENDING", "vendorId": 1 }),
            "slow-writer",
        )
        .await
        .unwrap();
    let later = create_po(&app, &fx, &[(0, "1", None)]).await;
    let first = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.entity_id, crate::helpers::row_id(&later["id"]));
    txn.commit().await.unwrap();
    app.events.publish(outbox);
    let second = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.actor, "slow-writer");
    assert!(second.id < first.id, "the late event has the lower id");
}

/// A `stockgraph serve` process on the test database.
struct Replica {
    child: tokio::process::Child,
    address: std::net::SocketAddr,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.child.start_kill().ok();
    }
}

async fn replica(database_url: &str) -> Replica {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stockgraph"))
        .args(["serve", "--port", "0"])
        .env("DATABASE_URL", database_url)
        .env(
            "STOCKGRAPH_JWT_SECRET",
            "test-secret-test-secret-test-secret!",
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("serve starts")
            .expect("read")
            .expect("a line");
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim_end_matches("/graphql").parse().expect("address");
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Replica { child, address }
}

/// POSTs a GraphQL operation to a replica over plain HTTP/1.1.
async fn post(address: std::net::SocketAddr, token: &str, query: &str, variables: Value) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({ "query": query, "variables": variables }).to_string();
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let json = response.split("\r\n\r\n").nth(1).expect("body");
    serde_json::from_str(json).unwrap_or_else(|_| panic!("not json: {response}"))
}

// One process owns a SQLite file; replicas need PostgreSQL.
#[tokio::test]
#[cfg_attr(
    not(test_postgres),
    ignore = "PostgreSQL only (replicas share its database): set TEST_DATABASE_URL"
)]
async fn replicas_deliver_each_others_events_even_after_losing_their_listener() {
    let app = spawn_postgres_app().await;
    let fx = app.fixture().await;
    let url = crate::helpers::database_url(&app).await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    let mut ws = client(b.address, &app.admin).await;
    ws.subscribe(STATUS, json!({ "vendor": fx.vendor })).await;
    wait_subscribed_at(b.address, 1).await;
    let submit = "mutation($id: ID!) { submitPurchaseOrder(input: { purchaseOrderId: $id }) { userErrors { code } } }";
    let po = create_po(&app, &fx, &[(0, "1", None)]).await;
    // The router of the test process is a third writer; `a` is the one that matters.
    let reply = post(a.address, &app.admin, submit, json!({ "id": po["id"] })).await;
    assert_eq!(
        reply["data"]["submitPurchaseOrder"]["userErrors"],
        json!([]),
        "{reply}"
    );
    let mut statuses = Vec::new();
    while statuses.len() < 2 {
        let event = ws.next_data().await["purchaseOrderStatusChanged"].clone();
        statuses.push(event["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, ["PENDING", "SUBMITTED"]);
    // Kill b's listener connection; what a commits meanwhile still reaches b's subscriber.
    let killed = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity \
                 WHERE application_name = 'stockgraph-listener:{}' AND datname = current_database()",
                b.address.port()
            ),
        ))
        .await
        .unwrap();
    assert_eq!(killed.len(), 1, "b's listener was found and terminated");
    let cancel = "mutation($id: ID!) { cancelPurchaseOrder(input: { purchaseOrderId: $id }) { userErrors { code } } }";
    let reply = post(a.address, &app.admin, cancel, json!({ "id": po["id"] })).await;
    assert_eq!(
        reply["data"]["cancelPurchaseOrder"]["userErrors"],
        json!([]),
        "{reply}"
    );
    let event = ws.next_data().await["purchaseOrderStatusChanged"].clone();
    assert_eq!(event["status"], "CANCELED");
    // And b's listener is back: the next event arrives too, exactly once.
    let mut listening = 0;
    for _ in 0..100 {
        listening = app
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'stockgraph-listener:{}' AND datname = current_database()",
                    b.address.port()
                ),
            ))
            .await
            .unwrap()
            .len();
        if listening == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listening, 1, "the listener reconnected");
    let other = create_po(&app, &fx, &[(1, "1", None)]).await;
    let reply = post(a.address, &app.admin, submit, json!({ "id": other["id"] })).await;
    assert_eq!(
        reply["data"]["submitPurchaseOrder"]["userErrors"],
        json!([])
    );
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.push(ws.next_data().await["purchaseOrderStatusChanged"]["status"].clone());
    }
    assert_eq!(seen, [json!("PENDING"), json!("SUBMITTED")]);
    ws.quiet(Duration::from_millis(1500)).await;
    drop((a, b));
    let _ = line;
}

/// The outbox's insert trigger queues the `NOTIFY` that wakes every replica's dispatcher
/// (the use cases send none themselves): a committed write notifies the channel, a refused
/// one writes no event and notifies nothing.
#[tokio::test]
#[cfg_attr(
    not(test_postgres),
    ignore = "PostgreSQL only (NOTIFY): set TEST_DATABASE_URL"
)]
async fn a_committed_event_notifies_the_replicas_channel() {
    use sea_orm::sqlx::postgres::PgListener;
    let app = spawn_postgres_app().await;
    let fx = app.fixture().await;
    let url = crate::helpers::database_url(&app).await;
    let mut listener = PgListener::connect(&url).await.unwrap();
    listener.listen("stockgraph_events").await.unwrap();
    let refused = "mutation { cancelPurchaseOrder(input: { purchaseOrderId: \"gid://stockgraph/PurchaseOrder/999999\" }) { userErrors { code } } }";
    let reply = app.gql(refused, json!({})).await;
    assert_eq!(
        reply["cancelPurchaseOrder"]["userErrors"][0]["code"], "NOT_FOUND",
        "{reply}"
    );
    let quiet = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await;
    assert!(quiet.is_err(), "a refused write notified: {quiet:?}");
    create_po(&app, &fx, &[(0, "1", None)]).await;
    let notified = tokio::time::timeout(Duration::from_secs(30), listener.recv())
        .await
        .expect("no notification within 30 s")
        .unwrap();
    assert_eq!(notified.channel(), "stockgraph_events");
}

#[tokio::test]
async fn every_subscription_is_guarded_by_its_permission() {
    let app = spawn_app().await;
    let address = app.serve().await;
    for (query, permission) in [
        (STATUS, Permission::PurchaseOrdersRead),
        (ITEMS, Permission::InventoryRead),
    ] {
        let others: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| *p != permission && *p != Permission::Admin)
            .collect();
        let mut refused = client(address, &app.token(&others)).await;
        refused.subscribe(query, json!({})).await;
        let answer = refused.message(Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            answer["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{answer}"
        );
        let mut allowed = client(address, &app.token(&[permission])).await;
        allowed.subscribe(query, json!({})).await;
        allowed.quiet(Duration::from_millis(300)).await;
    }
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let reply = app
        .send(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, axum::http::StatusCode::OK);
    let text = reply.body.as_str().unwrap().to_owned();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing from {text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_count_operations_connections_subscriptions_and_events() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let address = app.serve().await;
    let operations = metric(&app, "stockgraph_graphql_operations_total").await;
    assert!(operations > 10, "the fixture ran mutations: {operations}");
    app.post(&app.admin.clone(), "{ nope }", json!({})).await;
    assert_eq!(metric(&app, "stockgraph_graphql_errors_total").await, 1);
    assert_eq!(metric(&app, "stockgraph_websocket_connections").await, 0);
    let mut ws = client(address, &app.admin).await;
    ws.subscribe(STATUS, json!({})).await;
    wait_subscribed(&app, 1).await;
    assert_eq!(metric(&app, "stockgraph_websocket_connections").await, 1);
    assert_eq!(metric(&app, "stockgraph_subscriptions").await, 1);
    let delivered = metric(&app, "stockgraph_events_delivered_total").await;
    create_po(&app, &fx, &[(0, "1", None)]).await;
    ws.next_data().await;
    assert_eq!(
        metric(&app, "stockgraph_events_delivered_total").await,
        delivered + 1
    );
    drop(ws);
    let mut open = (1, 1);
    for _ in 0..800 {
        open = (
            metric(&app, "stockgraph_websocket_connections").await,
            metric(&app, "stockgraph_subscriptions").await,
        );
        if open == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        open,
        (0, 0),
        "the closed connection's gauges went back down"
    );
}

/// Waits until the app runs `n` subscriptions, so no event is published before they listen.
pub async fn wait_subscribed(app: &TestApp, n: u64) {
    for _ in 0..800 {
        if metric(app, "stockgraph_subscriptions").await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{n} subscriptions never started");
}

/// Like [`wait_subscribed`] for a `serve` process.
async fn wait_subscribed_at(address: std::net::SocketAddr, n: u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..800 {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let request =
            format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        let running: u64 = response
            .lines()
            .find_map(|line| line.strip_prefix("stockgraph_subscriptions "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if running >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{n} subscriptions never started at {address}");
}
