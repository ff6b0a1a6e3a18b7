//! What one receipt costs the database (issue 13, item 3): receiving holds the purchase order's
//! lock from its first statement to commit, so every statement is time other receivers of the
//! same order wait. The count of a receive is fixed by its shape, and a receipt of five lines
//! writes its rows in multi-row statements rather than once per line. Submitting, which also
//! holds the order's lock, reads its lines' references once for all lines.

use serde_json::{json, Value};

use crate::helpers::{spawn_counting_app, Fixture, TestApp};
use crate::purchasing::{line, transition, PO};

/// At most this many statements for a receive of unserialized lines without an idempotency key
/// (BEGIN and COMMIT are not counted; PostgreSQL's `NOTIFY` is queued by the outbox's insert
/// trigger, not sent as a statement). It was 26 for one line and 66 for five before the
/// receipt's rows were written in multi-row statements. The change feed added three (the
/// receipt's `RECEIPT_CREATED`, its bill's `BILL_ISSUED` and the `STOCK_MOVED` events of its
/// ledger entries, for 20); since then all of a receipt's events are written in one multi-row
/// statement (17), the receipt's number and its bill's are drawn in one statement, job
/// materials are written only when a line completes or reopens (15), and the order is locked
/// by the bump of its version rather than read `FOR UPDATE` and bumped later (14).
const RECEIVE: usize = 14;
/// An idempotency key adds its lookup, the removal of an expired use and its row.
const KEYED: usize = RECEIVE + 3;

/// A submitted order with one line for each of five products at the fixture's location.
async fn five_line_order(app: &TestApp, fx: &Fixture) -> Value {
    let mut products = fx.products.clone();
    for sku in ["NUT-M8", "TAPE-PTFE"] {
        let p = app
            .ok(
                "createProduct",
                json!({ "sku": sku, "description": sku, "defaultUnitCost": "1.25" }),
                "product { id }",
            )
            .await;
        products.push(p["product"]["id"].as_str().unwrap().to_owned());
    }
    let lines: Vec<Value> = products
        .iter()
        .map(|p| json!({ "productId": p, "locationId": fx.location, "quantity": "100" }))
        .collect();
    let mut input = crate::purchasing::po_input(fx, &[]);
    input["lines"] = json!(lines);
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    transition(app, "submitPurchaseOrder", &po).await
}

/// The statements one receive of 1 unit on each of the first `n` lines ran.
async fn receive_statements(
    app: &TestApp,
    log: &std::sync::Mutex<Vec<String>>,
    po: &Value,
    n: usize,
    key: Option<&str>,
) -> Vec<String> {
    let lines: Vec<Value> = (0..n)
        .map(|i| json!({ "lineId": line(po, i)["id"], "quantity": "1" }))
        .collect();
    let mut input = json!({ "purchaseOrderId": po["id"], "lines": lines });
    if let Some(key) = key {
        input["idempotencyKey"] = json!(key);
    }
    log.lock().unwrap().clear();
    app.ok("receivePurchaseOrder", input, "receipt { id }")
        .await;
    log.lock().unwrap().clone()
}

#[tokio::test]
async fn a_receive_runs_a_bounded_number_of_statements_and_writes_its_lines_in_multi_row_statements(
) {
    let (app, log) = spawn_counting_app().await;
    let fx = app.fixture().await;
    let po = five_line_order(&app, &fx).await;
    // The first receipt changes the status; the later ones are the steady state measured.
    receive_statements(&app, &log, &po, 5, None).await;
    let one = receive_statements(&app, &log, &po, 1, None).await;
    let five = receive_statements(&app, &log, &po, 5, None).await;
    let keyed = receive_statements(&app, &log, &po, 1, Some("count-1")).await;
    if std::env::var("SHOW_STATEMENTS").is_ok() {
        println!("one line: {one:#?}\nfive lines: {five:#?}\nkeyed: {keyed:#?}");
    }
    println!(
        "statements per receive: 1 line {}, 5 lines {}, 1 line with an idempotency key {}",
        one.len(),
        five.len(),
        keyed.len()
    );
    assert!(
        one.len() <= RECEIVE,
        "a one-line receive ran {} statements: {one:#?}",
        one.len()
    );
    assert_eq!(
        five.len(),
        one.len(),
        "the statements of a receive do not grow with its lines: {five:#?}"
    );
    for (what, statements) in [("one line", &one), ("five lines", &five), ("keyed", &keyed)] {
        let events = statements
            .iter()
            .filter(|s| s.contains("INSERT INTO \"events\""))
            .count();
        assert_eq!(
            events, 1,
            "{what}: a receipt writes its events in one statement: {statements:#?}"
        );
    }
    for (what, statements) in [("one line", &one), ("five lines", &five)] {
        let counters = statements
            .iter()
            .filter(|s| s.contains("document_counters"))
            .count();
        assert_eq!(
            counters, 1,
            "{what}: the receipt's and its bill's numbers are drawn together: {statements:#?}"
        );
        assert!(
            !statements.iter().any(|s| s.contains("job_materials")),
            "{what}: no line completed, so no job material changes: {statements:#?}"
        );
    }
    assert!(
        keyed.len() <= KEYED,
        "a keyed receive ran {} statements: {keyed:#?}",
        keyed.len()
    );
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
}

#[tokio::test]
async fn a_cancellation_writes_all_its_events_in_one_statement() {
    let (app, log) = spawn_counting_app().await;
    let fx = app.fixture().await;
    let po = five_line_order(&app, &fx).await;
    receive_statements(&app, &log, &po, 5, None).await;
    let receipt = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": (0..5)
                .map(|i| json!({ "lineId": line(&po, i)["id"], "quantity": "1" }))
                .collect::<Vec<_>>() }),
            "receipt { id }",
        )
        .await["receipt"]["id"]
        .clone();
    log.lock().unwrap().clear();
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": receipt }),
        "receipt { id }",
    )
    .await;
    let statements = log.lock().unwrap().clone();
    let events = statements
        .iter()
        .filter(|s| s.contains("INSERT INTO \"events\""))
        .count();
    // Five stock moves, five item changes, the credit and the cancellation.
    assert_eq!(events, 1, "{statements:#?}");
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
}

/// The statements one `submitPurchaseOrder` of `po` ran.
async fn submit_statements(
    app: &TestApp,
    log: &std::sync::Mutex<Vec<String>>,
    po: &Value,
) -> Vec<String> {
    log.lock().unwrap().clear();
    app.ok(
        "submitPurchaseOrder",
        json!({ "purchaseOrderId": po["id"] }),
        "purchaseOrder { id }",
    )
    .await;
    log.lock().unwrap().clone()
}

#[tokio::test]
async fn submitting_checks_every_lines_product_and_location_in_one_statement_each() {
    let (app, log) = spawn_counting_app().await;
    let fx = app.fixture().await;
    let one = crate::purchasing::create_po(&app, &fx, &[(0, "1", None)]).await;
    let mut input = crate::purchasing::po_input(&fx, &[]);
    input["lines"] = json!((0..5)
        .map(|_| json!({ "productId": fx.products[0], "locationId": fx.location, "quantity": "1" }))
        .collect::<Vec<_>>());
    let five = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    let one = submit_statements(&app, &log, &one).await;
    let five = submit_statements(&app, &log, &five).await;
    for (what, statements) in [("one line", &one), ("five lines", &five)] {
        for table in ["\"products\"", "\"inventory_locations\""] {
            let reads = statements
                .iter()
                .filter(|s| s.starts_with("SELECT") && s.contains(&format!("FROM {table}")))
                .count();
            assert_eq!(reads, 1, "{what}: {table} read once: {statements:#?}");
        }
    }
}
