//! Receiving, cancel receipt, finalize with backorders, bills and the stock ledger.

use rust_decimal::Decimal;
use serde_json::{json, Value};
use stockgraph::app::Settings;
use stockgraph::config::BusinessConfig;

use crate::helpers::{spawn_app, spawn_app_with, Fixture, TestApp};
use crate::purchasing::{create_po, line, transition, PO};

const RECEIVE: &str = "receipt { id number receivedBy packingSlip freight canceledAt \
    lines { quantity rejectedQuantity rejectionReason serialNumbers unitCost line { id } } } \
    bill { id number kind status subtotal tax freight total billDate dueDate remitTo { city } \
    lines { quantity unitCost amount } match { state } } \
    purchaseOrder { id status version lines(first: 50) { nodes { id quantityReceived quantityOpen } } }";

const CANCEL: &str = "receipt { id canceledAt canceledBy } \
    creditBill { id number kind status subtotal tax total creditOf { id } lines { quantity amount } } \
    purchaseOrder { id status }";

fn zero() -> Decimal {
    Decimal::ZERO
}

/// Receives `(line index, quantity)` pairs on `po`; returns the payload (must succeed).
async fn receive(app: &TestApp, po: &Value, lines: &[(usize, &str)]) -> Value {
    app.ok("receivePurchaseOrder", receive_input(po, lines), RECEIVE)
        .await
}

fn receive_input(po: &Value, lines: &[(usize, &str)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(i, q)| json!({ "lineId": line(po, *i)["id"], "quantity": q }))
        .collect();
    json!({ "purchaseOrderId": po["id"], "lines": lines, "packingSlip": "PS-1" })
}

async fn submitted(app: &TestApp, fx: &Fixture, lines: &[(usize, &str, Option<&str>)]) -> Value {
    let po = create_po(app, fx, lines).await;
    transition(app, "submitPurchaseOrder", &po).await
}

async fn po_state(app: &TestApp, id: &Value) -> Value {
    app.gql(
        &format!(
            "query($id: ID) {{ {} }}",
            PO.replacen("purchaseOrder", "purchaseOrder(id: $id)", 1)
        ),
        json!({ "id": id }),
    )
    .await["purchaseOrder"]
        .clone()
}

/// The stages of the walk from create to a received backorder, in order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Created and submitted: 10 bolts at 2.50, 4 pipes at 10.
    Submitted,
    /// A partial receipt of 6 bolts.
    Received,
    /// That receipt canceled.
    Canceled,
    /// Received again: 7 bolts and all 4 pipes.
    ReceivedAgain,
    /// Finalized with a backorder for the 3 missing bolts.
    Finalized,
    /// The backorder received in full.
    BackorderReceived,
}

/// What each stage of the walk answered (the stages not reached stay `Null`).
struct Walk {
    po: Value,
    first: Value,
    cancel: Value,
    second: Value,
    done: Value,
    last: Value,
}

/// Walks an order from create to a received backorder, stopping after `until`.
async fn walk(app: &TestApp, fx: &Fixture, until: Stage) -> Walk {
    let mut walk = Walk {
        po: submitted(app, fx, &[(0, "10", None), (1, "4", None)]).await,
        first: Value::Null,
        cancel: Value::Null,
        second: Value::Null,
        done: Value::Null,
        last: Value::Null,
    };
    if until >= Stage::Received {
        walk.first = receive(app, &walk.po, &[(0, "6")]).await;
    }
    if until >= Stage::Canceled {
        walk.cancel = app
            .ok(
                "cancelReceipt",
                json!({ "receiptId": walk.first["receipt"]["id"] }),
                CANCEL,
            )
            .await;
    }
    if until >= Stage::ReceivedAgain {
        walk.second = receive(app, &walk.po, &[(0, "7"), (1, "4")]).await;
    }
    if until >= Stage::Finalized {
        walk.done = app
            .ok(
                "finalizePurchaseOrder",
                json!({ "number": walk.po["number"], "createBackorder": true }),
                &format!("purchaseOrder {{ status backorders {{ number }} }} backorder {{ id number status backorderOf {{ id }} {} }}", &PO["purchaseOrder { ".len()..PO.len() - 2]),
            )
            .await;
    }
    if until >= Stage::BackorderReceived {
        walk.last = receive(app, &walk.done["backorder"], &[(0, "3")]).await;
    }
    walk
}

#[tokio::test]
async fn submitting_puts_each_lines_quantity_on_order() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (bolt, pipe) = (&fx.products[0], &fx.products[1]);
    walk(&app, &fx, Stage::Submitted).await;
    assert_eq!(app.on_order(bolt, &fx.location).await, "10");
    assert_eq!(app.on_order(pipe, &fx.location).await, "4");
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn a_partial_receipt_bills_what_arrived_and_moves_it_from_on_order_to_on_hand() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let bolt = &fx.products[0];
    let Walk { po, first, .. } = walk(&app, &fx, Stage::Received).await;
    assert_eq!(first["purchaseOrder"]["status"], "PARTIALLY_RECEIVED");
    assert_eq!(first["receipt"]["receivedBy"], "admin");
    assert_eq!(first["bill"]["subtotal"], "15.00");
    assert_eq!(first["bill"]["tax"], "1.20");
    assert_eq!(first["bill"]["total"], "16.20");
    assert_eq!(first["bill"]["kind"], "BILL");
    assert_eq!(first["bill"]["match"]["state"], "MATCHED");
    let po_number = po["number"].as_str().unwrap();
    assert_eq!(first["bill"]["number"], format!("BILL-{po_number}-1"));
    assert_eq!(first["receipt"]["number"], format!("{po_number}-R1"));
    assert_eq!(app.on_hand(bolt, &fx.location).await, "6");
    assert_eq!(app.on_order(bolt, &fx.location).await, "4");
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn canceling_a_receipt_returns_stock_on_order_and_status_and_a_credit_nets_its_bill() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let bolt = &fx.products[0];
    let Walk { first, cancel, .. } = walk(&app, &fx, Stage::Canceled).await;
    assert_eq!(cancel["purchaseOrder"]["status"], "SUBMITTED");
    assert!(cancel["receipt"]["canceledAt"].is_string());
    assert_eq!(cancel["creditBill"]["kind"], "CREDIT");
    assert_eq!(cancel["creditBill"]["total"], "-16.20");
    assert_eq!(cancel["creditBill"]["creditOf"]["id"], first["bill"]["id"]);
    assert_eq!(app.on_hand(bolt, &fx.location).await, "0");
    assert_eq!(app.on_order(bolt, &fx.location).await, "10");
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn an_order_whose_receipt_was_canceled_receives_again() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (bolt, pipe) = (&fx.products[0], &fx.products[1]);
    let Walk { second, .. } = walk(&app, &fx, Stage::ReceivedAgain).await;
    assert_eq!(second["purchaseOrder"]["status"], "PARTIALLY_RECEIVED");
    assert_eq!(app.on_hand(bolt, &fx.location).await, "7");
    assert_eq!(app.on_hand(pipe, &fx.location).await, "4");
    assert_eq!(app.on_order(pipe, &fx.location).await, "0");
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn finalizing_with_a_backorder_closes_the_order_and_moves_what_is_missing_to_a_submitted_backorder(
) {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let bolt = &fx.products[0];
    let Walk { po, done, .. } = walk(&app, &fx, Stage::Finalized).await;
    let po_number = po["number"].as_str().unwrap();
    assert_eq!(done["purchaseOrder"]["status"], "CLOSED");
    let backorder = done["backorder"].clone();
    assert_eq!(backorder["number"], format!("{po_number}-BO1"));
    assert_eq!(backorder["status"], "SUBMITTED");
    assert_eq!(backorder["backorderOf"]["id"], po["id"]);
    assert_eq!(
        done["purchaseOrder"]["backorders"][0]["number"],
        backorder["number"]
    );
    assert_eq!(line(&backorder, 0)["quantity"], "3");
    assert_eq!(line(&backorder, 0)["unitCost"], "2.5");
    assert_eq!(backorder["lines"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.on_order(bolt, &fx.location).await,
        "3",
        "on order moved, not released"
    );
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn a_backorder_received_in_full_is_received_and_billed_under_its_own_number() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let bolt = &fx.products[0];
    let Walk { done, last, .. } = walk(&app, &fx, Stage::BackorderReceived).await;
    let backorder = &done["backorder"];
    assert_eq!(last["purchaseOrder"]["status"], "RECEIVED");
    assert_eq!(
        last["bill"]["number"],
        format!("BILL-{}-1", backorder["number"].as_str().unwrap())
    );
    assert_eq!(app.on_hand(bolt, &fx.location).await, "10");
    assert_eq!(app.on_order(bolt, &fx.location).await, "0");
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn the_ledger_records_each_receipt_and_cancel_with_its_reason_and_actor() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let Walk { po, .. } = walk(&app, &fx, Stage::BackorderReceived).await;
    // The ledger tells the story: +6, −6, +7, +3.
    let ledger = app
        .gql(
            "query($id: ID) { purchaseOrder(id: $id) { lines(first: 1) { nodes { inventoryItem { onHand ledger(first: 10) { totalCount nodes { delta reason sourceType actor } } } } } } }",
            json!({ "id": po["id"] }),
        )
        .await;
    let item = &ledger["purchaseOrder"]["lines"]["nodes"][0]["inventoryItem"];
    let deltas: Vec<&str> = item["ledger"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["6", "-6", "7", "3"]);
    assert_eq!(item["ledger"]["nodes"][1]["reason"], "RECEIPT_CANCELED");
    assert_eq!(item["ledger"]["nodes"][0]["actor"], "admin");
}

#[tokio::test]
async fn every_status_change_of_an_order_and_its_backorder_leaves_exactly_one_event() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    walk(&app, &fx, Stage::BackorderReceived).await;
    let events = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT payload FROM events WHERE kind = 'PURCHASE_ORDER_STATUS_CHANGED' ORDER BY id",
        ))
        .await
        .unwrap();
    let statuses: Vec<String> = events
        .iter()
        .map(|r| {
            let payload: Value =
                serde_json::from_str(&r.try_get::<String>("", "payload").unwrap()).unwrap();
            payload["status"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "PENDING",
            "SUBMITTED",
            "PARTIALLY_RECEIVED",
            "SUBMITTED",
            "PARTIALLY_RECEIVED",
            "CLOSED",
            "SUBMITTED",
            "RECEIVED"
        ]
    );
}

use sea_orm::ConnectionTrait;

/// A submitted order of 5 × product 0 and 2 × product 1, and another of 1 × product 0.
async fn two_submitted_orders(app: &TestApp, fx: &Fixture) -> (Value, Value) {
    let po = submitted(app, fx, &[(0, "5", None), (1, "2", None)]).await;
    let other = submitted(app, fx, &[(0, "1", None)]).await;
    (po, other)
}

/// A receipt of 1 × the first line of `po`, changed by `edit`.
fn receive_one_with(po: &Value, edit: impl Fn(&mut Value)) -> Value {
    let mut input = receive_input(po, &[(0, "1")]);
    edit(&mut input);
    input
}

#[tokio::test]
async fn a_pending_order_receives_nothing() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let pending = create_po(&app, &fx, &[(0, "5", None)]).await;
    app.refused(
        "receivePurchaseOrder",
        receive_input(&pending, &[(0, "1")]),
        "INVALID_TRANSITION",
    )
    .await;
}

#[tokio::test]
async fn receiving_refuses_over_receipts_non_positive_quantities_and_repeated_or_no_lines() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (po, _) = two_submitted_orders(&app, &fx).await;
    let cases = vec![
        (
            receive_input(&po, &[(0, "5.0001")]),
            "OVER_RECEIPT",
            "input.lines.0.quantity",
        ),
        (
            receive_input(&po, &[(0, "-1")]),
            "INVALID_INPUT",
            "input.lines.0.quantity",
        ),
        (
            receive_input(&po, &[(0, "0")]),
            "INVALID_INPUT",
            "input.lines.0.quantity",
        ),
        (
            receive_input(&po, &[(0, "1"), (0, "1")]),
            "INVALID_INPUT",
            "input.lines.1.lineId",
        ),
        (
            receive_one_with(&po, |i| i["lines"] = json!([])),
            "INVALID_INPUT",
            "input.lines",
        ),
    ];
    app.assert_each_refused("receivePurchaseOrder", cases).await;
}

#[tokio::test]
async fn receiving_refuses_another_orders_line_and_unknown_or_wrong_type_ids() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (po, other) = two_submitted_orders(&app, &fx).await;
    let cases = vec![
        (
            receive_one_with(&po, |i| {
                i["lines"][0]["lineId"] = line(&other, 0)["id"].clone()
            }),
            "NOT_FOUND",
            "input.lines.0.lineId",
        ),
        (
            receive_one_with(&po, |i| {
                i["lines"][0]["lineId"] = json!("gid://stockgraph/Vendor/1")
            }),
            "INVALID_ID",
            "input.lines.0.lineId",
        ),
        (
            receive_one_with(&po, |i| {
                i["purchaseOrderId"] = json!("gid://stockgraph/PurchaseOrder/999")
            }),
            "NOT_FOUND",
            "input.purchaseOrderId",
        ),
    ];
    app.assert_each_refused("receivePurchaseOrder", cases).await;
}

#[tokio::test]
async fn receiving_refuses_a_rejection_without_a_reason_and_serials_for_a_plain_product() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (po, _) = two_submitted_orders(&app, &fx).await;
    let cases = vec![
        (
            receive_one_with(&po, |i| i["lines"][0]["rejectedQuantity"] = json!("1")),
            "INVALID_INPUT",
            "input.lines.0.rejectionReason",
        ),
        (
            receive_one_with(&po, |i| i["lines"][0]["serialNumbers"] = json!(["S1"])),
            "SERIAL_NUMBERS_MISMATCH",
            "input.lines.0.serialNumbers",
        ),
    ];
    app.assert_each_refused("receivePurchaseOrder", cases).await;
}

#[tokio::test]
async fn receiving_refuses_bad_freight_a_future_date_and_a_blank_idempotency_key() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (po, _) = two_submitted_orders(&app, &fx).await;
    let cases = vec![
        (
            receive_one_with(&po, |i| i["freight"] = json!("1.001")),
            "INVALID_INPUT",
            "input.freight",
        ),
        (
            receive_one_with(&po, |i| i["freight"] = json!("-1")),
            "INVALID_INPUT",
            "input.freight",
        ),
        (
            receive_one_with(&po, |i| i["receivedAt"] = json!("2999-01-01T00:00:00Z")),
            "INVALID_INPUT",
            "input.receivedAt",
        ),
        (
            receive_one_with(&po, |i| i["idempotencyKey"] = json!(" ")),
            "INVALID_INPUT",
            "input.idempotencyKey",
        ),
    ];
    app.assert_each_refused("receivePurchaseOrder", cases).await;
}

#[tokio::test]
async fn an_inactive_location_receives_nothing() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (po, _) = two_submitted_orders(&app, &fx).await;
    // The API refuses to deactivate a location an open line is bound for (LOCATION_IN_USE), so
    // it is made inactive behind the API's back.
    {
        use entity::inventory_location::{Column, Entity};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        Entity::update_many()
            .col_expr(Column::Active, sea_orm::sea_query::Expr::value(false))
            .filter(Column::Id.eq(crate::helpers::row_id(&json!(fx.location))))
            .exec(&app.db)
            .await
            .unwrap();
    }
    app.refused(
        "receivePurchaseOrder",
        receive_input(&po, &[(0, "1")]),
        "LOCATION_INACTIVE",
    )
    .await;
}

#[tokio::test]
async fn serialized_products_take_one_distinct_serial_per_unit() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let mut input = crate::purchasing::po_input(&fx, &[]);
    input["lines"] =
        json!([{ "productId": fx.serialized, "locationId": fx.location, "quantity": "3" }]);
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    transition(&app, "submitPurchaseOrder", &po).await;
    let serial_input = |serials: Value, quantity: &str| json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": line(&po, 0)["id"], "quantity": quantity, "serialNumbers": serials }] });
    for (serials, quantity) in [
        (json!(["A", "B"]), "3"),
        (json!(["A", "A"]), "2"),
        (json!(["A", ""]), "2"),
        (json!(null), "1"),
        (json!(["A", "B"]), "1.5"),
    ] {
        app.refused(
            "receivePurchaseOrder",
            serial_input(serials, quantity),
            "SERIAL_NUMBERS_MISMATCH",
        )
        .await;
    }
    let ok = app
        .ok(
            "receivePurchaseOrder",
            serial_input(json!(["SN-1", "SN-2"]), "2"),
            RECEIVE,
        )
        .await;
    assert_eq!(
        ok["receipt"]["lines"][0]["serialNumbers"],
        json!(["SN-1", "SN-2"])
    );
}

#[tokio::test]
async fn rejected_quantity_is_recorded_but_neither_stocked_nor_billed() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(1, "5", None)]).await;
    let payload = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "freight": "12.50", "lines": [{
                "lineId": line(&po, 0)["id"], "quantity": "3", "rejectedQuantity": "2", "rejectionReason": "dented" }] }),
            RECEIVE,
        )
        .await;
    let receipt_line = &payload["receipt"]["lines"][0];
    assert_eq!(receipt_line["quantity"], "3");
    assert_eq!(receipt_line["rejectedQuantity"], "2");
    assert_eq!(receipt_line["rejectionReason"], "dented");
    assert_eq!(
        payload["purchaseOrder"]["lines"]["nodes"][0]["quantityReceived"],
        "3"
    );
    assert_eq!(
        payload["purchaseOrder"]["lines"]["nodes"][0]["quantityOpen"],
        "2"
    );
    assert_eq!(app.on_hand(&fx.products[1], &fx.location).await, "3");
    // 3 × 10 = 30, tax 2.40, freight 12.50.
    assert_eq!(payload["bill"]["subtotal"], "30.00");
    assert_eq!(payload["bill"]["freight"], "12.50");
    assert_eq!(payload["bill"]["total"], "44.90");
    assert_eq!(payload["receipt"]["freight"], "12.50");
    // A delivery that was refused whole still counts as a receipt.
    let all_rejected = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": [{
                "lineId": line(&po, 0)["id"], "quantity": "0", "rejectedQuantity": "2", "rejectionReason": "wrong size" }] }),
            RECEIVE,
        )
        .await;
    assert_eq!(all_rejected["bill"], Value::Null);
    assert_eq!(app.on_hand(&fx.products[1], &fx.location).await, "3");
    app.assert_books_balance(zero()).await;
}

/// A receipt draws its bill's number with its own only when it bills something, so bill
/// numbers stay gapless.
#[tokio::test]
async fn a_receipt_that_accepts_nothing_takes_a_receipt_number_but_no_bill_number() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(1, "5", None)]).await;
    let number = po["number"].as_str().unwrap();
    let receive_as = |quantity: &str, rejected: &str| {
        let mut line = json!({ "lineId": line(&po, 0)["id"], "quantity": quantity });
        if rejected != "0" {
            line["rejectedQuantity"] = json!(rejected);
            line["rejectionReason"] = json!("wrong size");
        }
        json!({ "purchaseOrderId": po["id"], "lines": [line] })
    };
    let first = app
        .ok("receivePurchaseOrder", receive_as("3", "0"), RECEIVE)
        .await;
    let all_rejected = app
        .ok("receivePurchaseOrder", receive_as("0", "2"), RECEIVE)
        .await;
    let third = app
        .ok("receivePurchaseOrder", receive_as("1", "0"), RECEIVE)
        .await;
    assert_eq!(first["bill"]["number"], format!("BILL-{number}-1"));
    assert_eq!(all_rejected["bill"], Value::Null);
    assert_eq!(all_rejected["receipt"]["number"], format!("{number}-R2"));
    assert_eq!(third["receipt"]["number"], format!("{number}-R3"));
    assert_eq!(third["bill"]["number"], format!("BILL-{number}-2"));
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn a_receipt_that_accepts_nothing_issues_no_bill_and_its_cancellation_no_credit() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(1, "5", None)]).await;
    let bill_ids = |data: &Value| -> Vec<Value> {
        data["purchaseOrder"]["bills"].as_array().unwrap().to_vec()
    };
    const BILLS: &str = "query($id: ID!) { purchaseOrder(id: $id) { bills { id } } }";
    // One delivery accepted in part (billed), then one refused whole.
    receive(&app, &po, &[(0, "2")]).await;
    let refused_whole = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "freight": "3.00", "lines": [{
                "lineId": line(&po, 0)["id"], "quantity": "0", "rejectedQuantity": "3",
                "rejectionReason": "wrong part" }] }),
            RECEIVE,
        )
        .await;
    assert_eq!(refused_whole["bill"], Value::Null);
    let before = app.gql(BILLS, json!({ "id": po["id"] })).await;
    assert_eq!(
        bill_ids(&before).len(),
        1,
        "only the accepted delivery is billed"
    );
    let cancelled = app
        .ok(
            "cancelReceipt",
            json!({ "receiptId": refused_whole["receipt"]["id"] }),
            "receipt { canceledAt } creditBill { id }",
        )
        .await;
    assert_ne!(cancelled["receipt"]["canceledAt"], Value::Null);
    assert_eq!(cancelled["creditBill"], Value::Null);
    let after = app.gql(BILLS, json!({ "id": po["id"] })).await;
    assert_eq!(
        bill_ids(&after),
        bill_ids(&before),
        "no credit for what was never billed"
    );
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn the_over_receipt_allowance_is_cumulative_and_exact() {
    let settings = Settings {
        business: BusinessConfig {
            over_receipt_percent: Decimal::new(10, 0),
            ..BusinessConfig::default()
        },
        ..Settings::default()
    };
    let app = spawn_app_with(settings).await;
    let fx = app.fixture().await;
    // Global 10 %: 10 ordered allows 11 in all.
    let po = submitted(&app, &fx, &[(0, "10", None), (1, "3", None)]).await;
    receive(&app, &po, &[(0, "6")]).await;
    receive(&app, &po, &[(0, "4.5")]).await;
    let field = app
        .refused(
            "receivePurchaseOrder",
            receive_input(&po, &[(0, "0.5001")]),
            "OVER_RECEIPT",
        )
        .await;
    assert_eq!(field, "input.lines.0.quantity");
    let last = receive(&app, &po, &[(0, "0.5")]).await;
    assert_eq!(
        last["purchaseOrder"]["lines"]["nodes"][0]["quantityReceived"],
        "11"
    );
    assert_eq!(
        last["purchaseOrder"]["lines"]["nodes"][0]["quantityOpen"],
        "0"
    );
    // A product override (33.3333 %) beats the default: 3 allows 3.9999.
    app.ok(
        "updateProduct",
        json!({ "id": fx.products[1], "overReceiptAllowancePercent": "33.3333" }),
        "",
    )
    .await;
    app.refused(
        "receivePurchaseOrder",
        receive_input(&po, &[(1, "4")]),
        "OVER_RECEIPT",
    )
    .await;
    let done = receive(&app, &po, &[(1, "3.9999")]).await;
    assert_eq!(done["purchaseOrder"]["status"], "RECEIVED");
    assert_eq!(app.on_order(&fx.products[0], &fx.location).await, "0");
    app.assert_books_balance(Decimal::new(34, 0)).await;
}

#[tokio::test]
async fn cancel_receipt_is_refused_when_cancelled_closed_or_stock_is_committed() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(0, "10", None)]).await;
    let first = receive(&app, &po, &[(0, "4")]).await;
    let second = receive(&app, &po, &[(0, "4")]).await;
    let cancel = |r: &Value| json!({ "receiptId": r["receipt"]["id"] });
    app.ok("cancelReceipt", cancel(&first), CANCEL).await;
    assert_eq!(
        app.refused("cancelReceipt", cancel(&first), "RECEIPT_ALREADY_CANCELED")
            .await,
        "input.receiptId"
    );
    app.refused(
        "cancelReceipt",
        json!({ "receiptId": "gid://stockgraph/Receipt/999" }),
        "NOT_FOUND",
    )
    .await;
    // Reserve 1 of the 4 on hand: cancelling would leave 0 < 1 reserved.
    app.db
        .execute_unprepared("UPDATE inventory_items SET reserved = 10000")
        .await
        .unwrap();
    app.refused("cancelReceipt", cancel(&second), "INSUFFICIENT_AVAILABLE")
        .await;
    app.db
        .execute_unprepared("UPDATE inventory_items SET reserved = 0")
        .await
        .unwrap();
    // Once CLOSED, receipts stand.
    app.ok(
        "finalizePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "createBackorder": false }),
        "",
    )
    .await;
    app.refused("cancelReceipt", cancel(&second), "INVALID_TRANSITION")
        .await;
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn idempotency_keys_make_retries_safe() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(0, "10", None)]).await;
    let mut input = receive_input(&po, &[(0, "2")]);
    input["idempotencyKey"] = json!("delivery-77");
    let first = app.ok("receivePurchaseOrder", input.clone(), RECEIVE).await;
    let before = app.snapshot().await;
    let retry = app.ok("receivePurchaseOrder", input.clone(), RECEIVE).await;
    assert!(before == app.snapshot().await, "a retry wrote something");
    assert_eq!(retry["receipt"]["id"], first["receipt"]["id"]);
    assert_eq!(retry["bill"]["id"], first["bill"]["id"]);
    // Concurrent retries of a new key: one receipt.
    input["idempotencyKey"] = json!("delivery-78");
    let (a, b) = tokio::join!(
        app.mutate_as(
            &app.admin,
            "receivePurchaseOrder",
            input.clone(),
            "receipt { id }"
        ),
        app.mutate_as(
            &app.admin,
            "receivePurchaseOrder",
            input.clone(),
            "receipt { id }"
        ),
    );
    assert_eq!(a["receipt"]["id"], b["receipt"]["id"], "{a} {b}");
    assert_eq!(app.on_hand(&fx.products[0], &fx.location).await, "4");
    // Same key, different input.
    let mut different = input.clone();
    different["lines"][0]["quantity"] = json!("3");
    assert_eq!(
        app.refused("receivePurchaseOrder", different, "IDEMPOTENCY_CONFLICT")
            .await,
        "input.idempotencyKey"
    );
    // Cancel is idempotent too.
    let cancel = json!({ "receiptId": first["receipt"]["id"], "idempotencyKey": "undo-77" });
    let undone = app.ok("cancelReceipt", cancel.clone(), CANCEL).await;
    let again = app.ok("cancelReceipt", cancel, CANCEL).await;
    assert_eq!(undone["creditBill"]["id"], again["creditBill"]["id"]);
    app.refused(
        "cancelReceipt",
        json!({ "receiptId": a["receipt"]["id"], "idempotencyKey": "undo-77" }),
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    app.assert_books_balance(zero()).await;
}

/// Taking the order's lock bumps its version; a replay must not show that bump (it is rolled
/// back), so it answers the order exactly as committed.
#[tokio::test]
async fn a_replayed_receipt_or_cancellation_answers_the_order_as_committed() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(0, "10", None)]).await;
    let mut input = receive_input(&po, &[(0, "2")]);
    input["idempotencyKey"] = json!("delivery-90");
    let first = app.ok("receivePurchaseOrder", input.clone(), RECEIVE).await;
    let retry = app.ok("receivePurchaseOrder", input, RECEIVE).await;
    assert_eq!(retry["purchaseOrder"], first["purchaseOrder"]);
    let cancel = json!({ "receiptId": first["receipt"]["id"], "idempotencyKey": "undo-90" });
    let selection = "purchaseOrder { id status version updatedBy }";
    let undone = app.ok("cancelReceipt", cancel.clone(), selection).await;
    let again = app.ok("cancelReceipt", cancel, selection).await;
    assert_eq!(again["purchaseOrder"], undone["purchaseOrder"]);
    assert_eq!(
        undone["purchaseOrder"]["version"].as_i64().unwrap(),
        first["purchaseOrder"]["version"].as_i64().unwrap() + 1,
        "a cancellation bumps the version once: {undone}"
    );
}

/// A submitted order of 10 bolts and 1 pipe with two receipts: the first (3 bolts, the pipe)
/// stands, the second (1 bolt) was cancelled. Returns the order and the first receipt's payload.
async fn received_then_one_receipt_cancelled(app: &TestApp, fx: &Fixture) -> (Value, Value) {
    let po = submitted(app, fx, &[(0, "10", None), (1, "1", None)]).await;
    let first = receive(app, &po, &[(0, "3"), (1, "1")]).await;
    let canceled = receive(app, &po, &[(0, "1")]).await;
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": canceled["receipt"]["id"] }),
        "",
    )
    .await;
    (po, first)
}

#[tokio::test]
async fn a_unit_cost_change_supersedes_the_bills_that_priced_the_line() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (po, first) = received_then_one_receipt_cancelled(&app, &fx).await;
    app.ok(
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "unitCost": "3" }),
        "",
    )
    .await;
    let bills = app
        .gql(
            "query($id: ID) { purchaseOrder(id: $id) { bills { id number kind status subtotal supersededBy { id number subtotal } match { state differences { field billed expected } } } } }",
            json!({ "id": po["id"] }),
        )
        .await["purchaseOrder"]["bills"]
        .clone();
    let bills = bills.as_array().unwrap();
    let original = bills
        .iter()
        .find(|b| b["id"] == first["bill"]["id"])
        .unwrap();
    assert_eq!(original["status"], "SUPERSEDED");
    assert_eq!(original["match"]["state"], "MISMATCHED");
    assert_eq!(original["match"]["differences"][0]["field"], "UNIT_COST");
    assert_eq!(original["match"]["differences"][0]["expected"], "3");
    // 3 × 3 + 1 × 10 = 19.
    assert_eq!(original["supersededBy"]["subtotal"], "19.00");
    let replacement = bills
        .iter()
        .find(|b| b["id"] == original["supersededBy"]["id"])
        .unwrap();
    assert_eq!(replacement["status"], "OPEN");
    assert_eq!(replacement["match"]["state"], "MATCHED");
    // The cancelled receipt's bill and credit stay as they were: they net to zero.
    let statuses: Vec<(&str, &str)> = bills
        .iter()
        .map(|b| (b["kind"].as_str().unwrap(), b["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("BILL", "SUPERSEDED"),
            ("BILL", "OPEN"),
            ("CREDIT", "OPEN"),
            ("BILL", "OPEN")
        ]
    );
    app.assert_books_balance(zero()).await;
    // Unchanged cost: nothing superseded.
    app.ok(
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "unitCost": "3.0" }),
        "",
    )
    .await;
    let count = app
        .gql(
            "query($id: ID) { purchaseOrder(id: $id) { bills { id } } }",
            json!({ "id": po["id"] }),
        )
        .await["purchaseOrder"]["bills"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(count, 4);
}

#[tokio::test]
async fn a_tax_rate_change_supersedes_the_open_bills_taxed_at_the_old_rate() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (po, first) = received_then_one_receipt_cancelled(&app, &fx).await;
    let query = "query($id: ID) { purchaseOrder(id: $id) { bills { id kind status taxRate subtotal tax total supersededBy { id } } } }";
    let bills_of = || async {
        app.gql(query, json!({ "id": po["id"] })).await["purchaseOrder"]["bills"]
            .as_array()
            .unwrap()
            .clone()
    };
    let before = bills_of().await;
    // The same rate, written differently, changes no bill.
    app.ok(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "taxRate": "0.0800" }),
        "",
    )
    .await;
    assert_eq!(bills_of().await, before);
    app.ok(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "taxRate": "0.1" }),
        "",
    )
    .await;
    let bills = bills_of().await;
    let original = bills
        .iter()
        .find(|b| b["id"] == first["bill"]["id"])
        .unwrap();
    assert_eq!(original["status"], "SUPERSEDED");
    assert_eq!(original["taxRate"], "0.08");
    let replacement = bills
        .iter()
        .find(|b| b["id"] == original["supersededBy"]["id"])
        .unwrap();
    // 3 × 2.50 + 1 × 10 = 17.50, taxed at 10 %.
    assert_eq!(replacement["status"], "OPEN");
    assert_eq!(replacement["taxRate"], "0.1");
    assert_eq!(replacement["subtotal"], "17.50");
    assert_eq!(replacement["tax"], "1.75");
    assert_eq!(replacement["total"], "19.25");
    // The cancelled receipt's bill and credit keep the rate they net to zero at.
    let untouched: Vec<&Value> = bills
        .iter()
        .filter(|b| b["id"] != original["id"] && b["id"] != replacement["id"])
        .collect();
    assert_eq!(untouched.len(), 2);
    for bill in untouched {
        assert_eq!(bill["status"], "OPEN");
        assert_eq!(bill["taxRate"], "0.08");
    }
    app.assert_books_balance(zero()).await;
    // Receipts after the change are taxed at the new rate.
    let later = receive(&app, &po, &[(0, "2")]).await;
    let later = app
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Bill { taxRate tax } } }",
            json!({ "id": later["bill"]["id"] }),
        )
        .await["node"]
        .clone();
    assert_eq!(later, json!({ "taxRate": "0.1", "tax": "0.50" }));
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn bills_carry_vendor_terms_remit_to_and_tax() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    app.ok(
        "updateVendor",
        json!({ "id": fx.vendor, "paymentTermsDays": 45 }),
        "",
    )
    .await;
    let po = submitted(&app, &fx, &[(2, "3", None)]).await;
    // A receipt is never dated before its order was submitted.
    crate::books_rules::backdate_submission(&app, &po, "2026-01-20T00:00:00Z").await;
    let payload = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "receivedAt": "2026-01-20T10:00:00Z",
                    "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "3" }] }),
            RECEIVE,
        )
        .await;
    let bill = &payload["bill"];
    assert_eq!(bill["billDate"], "2026-01-20");
    assert_eq!(bill["dueDate"], "2026-03-06");
    assert_eq!(bill["remitTo"]["city"], "Springfield");
    // 3 × 0.3333 = 0.9999 exactly; the bill rounds once: 1.00, tax 0.08.
    assert_eq!(bill["lines"][0]["amount"], "0.9999");
    assert_eq!(bill["subtotal"], "1.00");
    assert_eq!(bill["tax"], "0.08");
    assert_eq!(bill["total"], "1.08");
}

#[tokio::test]
async fn line_rules_that_depend_on_receipts() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(0, "10", None), (1, "2", None)]).await;
    receive(&app, &po, &[(0, "4")]).await;
    let id = line(&po, 0)["id"].clone();
    // Cancelling an order with receipts is refused.
    app.refused(
        "cancelPurchaseOrder",
        json!({ "purchaseOrderId": po["id"] }),
        "INVALID_TRANSITION",
    )
    .await;
    assert_eq!(
        app.refused(
            "updatePurchaseOrderLine",
            json!({ "lineId": id, "quantity": "3.9999" }),
            "LINE_QUANTITY_BELOW_RECEIVED"
        )
        .await,
        "input.quantity"
    );
    for (input, field) in [
        (
            json!({ "lineId": id, "productId": fx.products[2] }),
            "input.productId",
        ),
        (
            json!({ "lineId": id, "locationId": fx.location2 }),
            "input.locationId",
        ),
    ] {
        assert_eq!(
            app.refused("updatePurchaseOrderLine", input, "LINE_HAS_RECEIPTS")
                .await,
            field
        );
    }
    // Raising while PARTIALLY_RECEIVED is fine and moves on order.
    app.ok(
        "updatePurchaseOrderLine",
        json!({ "lineId": id, "quantity": "12" }),
        "",
    )
    .await;
    assert_eq!(app.on_order(&fx.products[0], &fx.location).await, "8");
    // Receive the pipes, then lower the bolts to what was received: the order completes.
    receive(&app, &po, &[(1, "2")]).await;
    let lowered = app
        .ok(
            "updatePurchaseOrderLine",
            json!({ "lineId": id, "quantity": "4" }),
            "purchaseOrder { status }",
        )
        .await;
    assert_eq!(lowered["purchaseOrder"]["status"], "RECEIVED");
    assert_eq!(app.on_order(&fx.products[0], &fx.location).await, "0");
    assert_eq!(
        app.refused(
            "updatePurchaseOrderLine",
            json!({ "lineId": id, "quantity": "5" }),
            "LINE_QUANTITY_LOCKED"
        )
        .await,
        "input.quantity"
    );
    // Memo edits still work on a RECEIVED order's lines? No: lines update only until received.
    app.refused(
        "updatePurchaseOrderLine",
        json!({ "lineId": id, "memo": "x" }),
        "PO_NOT_EDITABLE",
    )
    .await;
    // Receiving a RECEIVED order is refused.
    app.refused(
        "receivePurchaseOrder",
        receive_input(&po, &[(0, "1")]),
        "INVALID_TRANSITION",
    )
    .await;
    app.assert_books_balance(zero()).await;
    let state = po_state(&app, &po["id"]).await;
    assert_eq!(state["status"], "RECEIVED");
}

#[tokio::test]
async fn finalize_rules_and_backorders_of_backorders() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let pending = create_po(&app, &fx, &[(0, "1", None)]).await;
    app.refused(
        "finalizePurchaseOrder",
        json!({ "purchaseOrderId": pending["id"], "createBackorder": true }),
        "INVALID_TRANSITION",
    )
    .await;
    app.refused(
        "finalizePurchaseOrder",
        json!({ "number": "PO-NOPE", "createBackorder": true }),
        "NOT_FOUND",
    )
    .await;
    app.refused(
        "finalizePurchaseOrder",
        json!({ "purchaseOrderId": pending["id"], "number": pending["number"], "createBackorder": true }),
        "INVALID_INPUT",
    )
    .await;
    // Without a backorder the short quantity is released.
    let po = submitted(&app, &fx, &[(0, "10", None)]).await;
    receive(&app, &po, &[(0, "4")]).await;
    let closed = app
        .ok(
            "finalizePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "createBackorder": false }),
            "purchaseOrder { status } backorder { id }",
        )
        .await;
    assert_eq!(closed["purchaseOrder"]["status"], "CLOSED");
    assert!(closed["backorder"].is_null());
    assert_eq!(app.on_order(&fx.products[0], &fx.location).await, "0");
    app.refused(
        "finalizePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "createBackorder": true }),
        "INVALID_TRANSITION",
    )
    .await;
    app.refused(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "memo": "x" }),
        "PO_NOT_EDITABLE",
    )
    .await;
    // A backorder of a backorder continues the original's count; back-ordered follows.
    let root = submitted(&app, &fx, &[(1, "10", None)]).await;
    let number = root["number"].as_str().unwrap().to_owned();
    receive(&app, &root, &[(0, "2")]).await;
    let bo1 = finalize_with_backorder(&app, &root["id"]).await;
    assert_eq!(bo1["number"], format!("{number}-BO1"));
    assert_eq!(app.on_order(&fx.products[1], &fx.location).await, "8");
    receive(&app, &bo1, &[(0, "5")]).await;
    app.assert_books_balance(zero()).await;
    let bo2 = finalize_with_backorder(&app, &bo1["id"]).await;
    assert_eq!(bo2["number"], format!("{number}-BO2"));
    assert_eq!(line(&bo2, 0)["quantity"], "3");
    app.assert_books_balance(zero()).await;
    // Finalizing a fully received order makes no backorder even when asked.
    let full = submitted(&app, &fx, &[(0, "1", None)]).await;
    receive(&app, &full, &[(0, "1")]).await;
    assert!(finalize_with_backorder(&app, &full["id"]).await.is_null());
    // Finalizing without a backorder a backorder releases its back-ordered quantity.
    app.ok(
        "finalizePurchaseOrder",
        json!({ "purchaseOrderId": bo2["id"], "createBackorder": false }),
        "",
    )
    .await;
    app.assert_books_balance(zero()).await;
}

#[tokio::test]
async fn job_materials_are_fulfilled_by_receipts_and_follow_backorders() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let material = app
        .ok(
            "createJobMaterial",
            json!({ "jobId": fx.job, "productId": fx.products[1], "quantity": "4" }),
            "jobMaterial { id }",
        )
        .await["jobMaterial"]["id"]
        .clone();
    let mut input = crate::purchasing::po_input(&fx, &[]);
    input["lines"] =
        json!([{ "jobMaterialId": material, "locationId": fx.location, "quantity": "4" }]);
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    transition(&app, "submitPurchaseOrder", &po).await;
    let partial = receive(&app, &po, &[(0, "1")]).await;
    assert_eq!(material_row(&app, &material).await.0, "Ordered");
    let bo = app
        .ok(
            "finalizePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "createBackorder": true }),
            &format!(
                "backorder {{ {} }}",
                &PO["purchaseOrder { ".len()..PO.len() - 2]
            ),
        )
        .await["backorder"]
        .clone();
    // The received unit stays on the closed line; the short 3 follow it to the backorder.
    let (state, line_id) = material_row(&app, &material).await;
    assert_eq!(state, "Fulfilled");
    assert_eq!(Some(crate::helpers::row_id(&line(&po, 0)["id"])), line_id);
    let short = material_of_line(&app, crate::helpers::row_id(&line(&bo, 0)["id"])).await;
    assert_eq!(material_row(&app, &short).await.0, "Ordered");
    let done = receive(&app, &bo, &[(0, "3")]).await;
    assert_eq!(material_row(&app, &short).await.0, "Fulfilled");
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": done["receipt"]["id"] }),
        "",
    )
    .await;
    assert_eq!(material_row(&app, &short).await.0, "Ordered");
    let _ = partial;
}

async fn finalize_with_backorder(app: &TestApp, id: &Value) -> Value {
    let selection = format!(
        "backorder {{ id number {} }}",
        &PO["purchaseOrder { ".len()..PO.len() - 2]
    );
    app.ok(
        "finalizePurchaseOrder",
        json!({ "purchaseOrderId": id, "createBackorder": true }),
        &selection,
    )
    .await["backorder"]
        .clone()
}

/// The global ID of the job material a line fills.
async fn material_of_line(app: &TestApp, line_id: i32) -> Value {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let row = entity::job_material::Entity::find()
        .filter(entity::job_material::Column::PurchaseOrderLineId.eq(line_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    json!(format!("gid://stockgraph/JobMaterial/{}", row.id))
}

async fn material_row(app: &TestApp, id: &Value) -> (String, Option<i32>) {
    use sea_orm::EntityTrait;
    let row = entity::job_material::Entity::find_by_id(crate::helpers::row_id(id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    (format!("{:?}", row.status), row.purchase_order_line_id)
}
