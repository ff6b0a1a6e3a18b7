//! Many concurrent receives and cancels against the same lines; afterwards every number must
//! still add up. Scaled up in CI (`CI=true`), kept small in the edit loop.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::purchasing::{create_po, line, transition};

fn operations() -> usize {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        400
    } else {
        60
    }
}

/// What a run of concurrent receives and cancels against one order left behind.
struct Workload {
    app: Arc<TestApp>,
    po: Value,
    lines: Vec<Value>,
    /// Each operation's payload, in the order the operations were started.
    payloads: Vec<Value>,
}

/// Submits an order of three lines and runs [`operations`] receives (every fifth one retried
/// with its idempotency key) and cancels against it at once.
async fn concurrent_receives_and_cancels() -> Workload {
    let app = Arc::new(spawn_app().await);
    let fx = app.fixture().await;
    let po = create_po(
        &app,
        &fx,
        &[(0, "25", None), (1, "12.5", None), (2, "40", None)],
    )
    .await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let lines: Vec<Value> = (0..3).map(|i| line(&po, i)["id"].clone()).collect();
    let mut tasks = Vec::new();
    for n in 0..operations() {
        let app = Arc::clone(&app);
        let po_id = po["id"].clone();
        let lines = lines.clone();
        tasks.push(tokio::spawn(async move {
            let pick = n % 7;
            if pick < 4 {
                receive_and_maybe_retry(&app, n, po_id, &lines[pick % 3]).await
            } else {
                cancel_a_live_receipt(&app, n, po_id).await
            }
        }));
    }
    let mut payloads = Vec::new();
    for task in tasks {
        payloads.push(task.await.expect("no task panics"));
    }
    Workload {
        app,
        po,
        lines,
        payloads,
    }
}

/// A receive of 1–3 units (0.5 on the pipe line); every fifth one is retried and must answer
/// the same receipt.
async fn receive_and_maybe_retry(app: &TestApp, n: usize, po_id: Value, line_id: &Value) -> Value {
    let quantity = if n % 7 == 1 {
        "0.5".to_owned()
    } else {
        (n % 3 + 1).to_string()
    };
    let input = json!({
        "purchaseOrderId": po_id,
        "idempotencyKey": format!("receive-{}", n / 2),
        "lines": [{ "lineId": line_id, "quantity": quantity }],
    });
    let first = app
        .mutate_as(
            &app.admin,
            "receivePurchaseOrder",
            input.clone(),
            "receipt { id }",
        )
        .await;
    // A refusal wrote nothing, so only a success must be replayed.
    if n.is_multiple_of(5) && !first["receipt"].is_null() {
        let retry = app
            .mutate_as(&app.admin, "receivePurchaseOrder", input, "receipt { id }")
            .await;
        assert_eq!(first["receipt"], retry["receipt"], "a retry differs");
    }
    first
}

/// Cancels one of the receipts still live (picked by `n`), if there is one.
async fn cancel_a_live_receipt(app: &TestApp, n: usize, po_id: Value) -> Value {
    let receipts = app
        .gql(
            "query($id: ID) { purchaseOrder(id: $id) { receipts { id canceledAt } } }",
            json!({ "id": po_id }),
        )
        .await;
    let open: Vec<Value> = receipts["purchaseOrder"]["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["canceledAt"].is_null())
        .map(|r| r["id"].clone())
        .collect();
    match open.get(n % open.len().max(1)) {
        Some(id) => {
            app.mutate_as(
                &app.admin,
                "cancelReceipt",
                json!({ "receiptId": id }),
                "receipt { id }",
            )
            .await
        }
        None => json!({ "userErrors": [] }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_receives_and_cancels_are_refused_only_for_a_rule_and_not_all_refused() {
    let run = concurrent_receives_and_cancels().await;
    let mut refused = 0;
    for payload in &run.payloads {
        if let Some(error) = payload["userErrors"].as_array().and_then(|e| e.first()) {
            let code = error["code"].as_str().unwrap();
            assert!(
                matches!(
                    code,
                    "OVER_RECEIPT"
                        | "RECEIPT_ALREADY_CANCELED"
                        | "IDEMPOTENCY_CONFLICT"
                        | "INVALID_TRANSITION"
                ),
                "unexpected refusal {error}"
            );
            refused += 1;
        }
    }
    assert!(refused < operations(), "everything was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_receives_and_cancels_keep_the_books_exact() {
    let run = concurrent_receives_and_cancels().await;
    run.app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_concurrent_receives_and_cancels_each_line_holds_what_its_live_receipts_accepted() {
    let Workload { app, po, lines, .. } = concurrent_receives_and_cancels().await;
    // On hand equals what the live receipts accepted, item by item.
    let state = app
        .gql(
            "query($id: ID) { purchaseOrder(id: $id) { status lines(first: 5) { nodes { quantity quantityReceived inventoryItem { onHand onOrder } } } receipts { canceledAt lines { quantity line { id } } } } }",
            json!({ "id": po["id"] }),
        )
        .await["purchaseOrder"]
        .clone();
    for (i, line) in state["lines"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let live: Decimal = state["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["canceledAt"].is_null())
            .flat_map(|r| r["lines"].as_array().unwrap().iter())
            .filter(|l| l["line"]["id"] == lines[i])
            .map(|l| l["quantity"].as_str().unwrap().parse::<Decimal>().unwrap())
            .sum();
        let received: Decimal = line["quantityReceived"].as_str().unwrap().parse().unwrap();
        let ordered: Decimal = line["quantity"].as_str().unwrap().parse().unwrap();
        assert_eq!(received, live, "line {i}: received vs live receipts");
        assert!(received <= ordered, "line {i} over-received");
        assert_eq!(
            line["inventoryItem"]["onHand"],
            json!(live.normalize().to_string())
        );
    }
}
