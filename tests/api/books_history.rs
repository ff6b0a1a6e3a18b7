//! History (DOMAIN.md): receipts, bills and their lines keep what they were issued with, and a
//! line that ever had a receipt keeps its product and location.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::helpers::{row_id, spawn_app, TestApp};
use crate::purchasing::{create_po, line, po_input, transition, PO};

const LINES: &str = "product { id } location { id }";

fn receipt_query() -> String {
    format!(
        "query($id: ID!) {{ node(id: $id) {{ ... on Receipt {{ lines {{ quantity {LINES} }} \
         bills {{ kind lines {{ quantity {LINES} }} }} }} }} }}"
    )
}

async fn receipt_view(app: &TestApp, receipt: &Value) -> Value {
    app.gql(&receipt_query(), json!({ "id": receipt })).await["node"].clone()
}

/// The product and location every receipt line, bill line and credit line of the receipt shows.
fn shown(view: &Value) -> Vec<(Value, Value)> {
    let mut all = Vec::new();
    for l in view["lines"].as_array().unwrap() {
        all.push((l["product"]["id"].clone(), l["location"]["id"].clone()));
    }
    for bill in view["bills"].as_array().unwrap() {
        for l in bill["lines"].as_array().unwrap() {
            all.push((l["product"]["id"].clone(), l["location"]["id"].clone()));
        }
    }
    all
}

async fn execute(app: &TestApp, sql: &str) {
    app.db
        .execute_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .expect(sql);
}

#[tokio::test]
async fn a_line_whose_receipts_were_all_cancelled_cannot_change_product_or_location() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "5", None)]).await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let id = line(&po, 0)["id"].clone();
    let receipt = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": id, "quantity": "2" }] }),
            "receipt { id }",
        )
        .await["receipt"]["id"]
        .clone();
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": receipt }),
        "receipt { id }",
    )
    .await;
    for (input, field) in [
        (
            json!({ "lineId": id, "productId": fx.products[1] }),
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
    // The cancelled receipt, its bill and its credit all still show what was received.
    let view = receipt_view(&app, &receipt).await;
    let expected = (json!(fx.products[0]), json!(fx.location));
    assert_eq!(shown(&view), vec![expected; 3]);
    // Quantity and memo edits stay possible.
    app.ok(
        "updatePurchaseOrderLine",
        json!({ "lineId": id, "quantity": "6", "memo": "more" }),
        "line { id }",
    )
    .await;
    app.assert_history_and_serials_hold().await;
}

#[tokio::test]
async fn a_line_whose_only_receipt_rejected_everything_cannot_change_product() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "5", None)]).await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let id = line(&po, 0)["id"].clone();
    app.ok(
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": id, "quantity": "0",
                "rejectedQuantity": "2", "rejectionReason": "crushed" }] }),
        "receipt { id }",
    )
    .await;
    app.refused(
        "updatePurchaseOrderLine",
        json!({ "lineId": id, "productId": fx.products[1] }),
        "LINE_HAS_RECEIPTS",
    )
    .await;
}

#[tokio::test]
async fn receipt_and_bill_lines_keep_the_product_and_location_they_were_issued_with() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "5", None), (1, "1", None)]).await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let receipt = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": [
                { "lineId": line(&po, 0)["id"], "quantity": "2" },
                { "lineId": line(&po, 1)["id"], "quantity": "1" }] }),
            "receipt { id }",
        )
        .await["receipt"]["id"]
        .clone();
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": receipt }),
        "receipt { id }",
    )
    .await;
    // Whatever happens to the order line later (here rewritten behind the service's back, as
    // the old rules allowed), the documents keep their own copy.
    execute(
        &app,
        &format!(
            "UPDATE purchase_order_lines SET product_id = {}, location_id = {} WHERE id = {}",
            row_id(&json!(fx.products[2])),
            row_id(&json!(fx.location2)),
            row_id(&line(&po, 0)["id"])
        ),
    )
    .await;
    let view = receipt_view(&app, &receipt).await;
    let first = (json!(fx.products[0]), json!(fx.location));
    let second = (json!(fx.products[1]), json!(fx.location));
    assert_eq!(
        shown(&view),
        vec![
            first.clone(),
            second.clone(),
            first.clone(),
            second.clone(),
            first,
            second
        ]
    );
    // The credit shows the negated quantities against the same product.
    assert_eq!(view["bills"][1]["kind"], "CREDIT");
    assert_eq!(view["bills"][1]["lines"][0]["quantity"], "-2");
}

#[tokio::test]
async fn the_migration_fills_existing_receipt_and_bill_lines_and_the_serial_registry() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let mut input = po_input(&fx, &[(0, "4", None)]);
    input["lines"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "productId": fx.serialized, "locationId": fx.location2, "quantity": "3" }));
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let receive = |lines: Value| {
        app.ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": lines }),
            "receipt { id }",
        )
    };
    let kept = receive(json!([
        { "lineId": line(&po, 0)["id"], "quantity": "1" },
        { "lineId": line(&po, 1)["id"], "quantity": "1", "serialNumbers": ["SN-1"] }]))
    .await["receipt"]["id"]
        .clone();
    let cancelled = receive(json!([
        { "lineId": line(&po, 1)["id"], "quantity": "1", "serialNumbers": ["SN-2"] }]))
    .await["receipt"]["id"]
        .clone();
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": cancelled }),
        "receipt { id }",
    )
    .await;
    // Back to the schema before the history migration, then up again: the backfill runs on
    // rows written without snapshots or registry.
    stockgraph::db::migrate_down(&app.db, Some(1))
        .await
        .unwrap();
    stockgraph::db::migrate_up(&app.db).await.unwrap();
    let view = receipt_view(&app, &kept).await;
    assert_eq!(
        shown(&view),
        vec![
            (json!(fx.products[0]), json!(fx.location)),
            (json!(fx.serialized), json!(fx.location2)),
            (json!(fx.products[0]), json!(fx.location)),
            (json!(fx.serialized), json!(fx.location2)),
        ]
    );
    let serial = |n: &'static str| {
        app.gql(
            "query($p: ID!, $n: String!) { serialNumber(productId: $p, number: $n) { status location { id } history { kind } } }",
            json!({ "p": fx.serialized, "n": n }),
        )
    };
    let in_stock = serial("sn-1").await["serialNumber"].clone();
    assert_eq!(in_stock["status"], "IN_STOCK");
    assert_eq!(in_stock["location"]["id"], json!(fx.location2));
    assert_eq!(in_stock["history"], json!([{ "kind": "RECEIVED" }]));
    let gone = serial("SN-2").await["serialNumber"].clone();
    assert_eq!(gone["status"], "RECEIPT_CANCELED");
    assert_eq!(
        gone["history"],
        json!([{ "kind": "RECEIVED" }, { "kind": "RECEIPT_CANCELED" }])
    );
    // The registry guards the backfilled serials like new ones.
    app.refused(
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "lines": [
            { "lineId": line(&po, 1)["id"], "quantity": "1", "serialNumbers": ["Sn-1"] }] }),
        "SERIAL_IN_STOCK",
    )
    .await;
    app.assert_history_and_serials_hold().await;
}
