//! The serial registry (DOMAIN.md, Serial numbers): a serial exists once per product, compared
//! without regard to case or surrounding spaces, with where it is and how it moved.

use serde_json::{json, Value};
use stockgraph::auth::Permission;

use crate::helpers::{Fixture, TestApp};
use crate::purchasing::{line, po_input, transition, PO};

const SERIAL: &str = "query($p: ID!, $n: String!) { serialNumber(productId: $p, number: $n) { \
    id number status product { id } location { id } \
    history { kind actor occurredAt receipt { id } ledgerEntry { reason } fromLocation { id } toLocation { id } } } }";

/// A submitted order of `quantity` units of the serialized product at the main location.
async fn serialized_order(app: &TestApp, fx: &Fixture, quantity: &str) -> Value {
    let mut input = po_input(fx, &[]);
    input["lines"] =
        json!([{ "productId": fx.serialized, "locationId": fx.location, "quantity": quantity }]);
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    transition(app, "submitPurchaseOrder", &po).await
}

fn receive_input(po: &Value, serials: &[&str]) -> Value {
    json!({ "purchaseOrderId": po["id"], "lines": [{
        "lineId": line(po, 0)["id"],
        "quantity": serials.len().to_string(),
        "serialNumbers": serials,
    }] })
}

/// Receives the serials on `po`; returns the receipt id.
async fn receive(app: &TestApp, po: &Value, serials: &[&str]) -> Value {
    app.ok(
        "receivePurchaseOrder",
        receive_input(po, serials),
        "receipt { id }",
    )
    .await["receipt"]["id"]
        .clone()
}

async fn serial(app: &TestApp, fx: &Fixture, number: &str) -> Value {
    app.gql(SERIAL, json!({ "p": fx.serialized, "n": number }))
        .await["serialNumber"]
        .clone()
}

fn kinds(serial: &Value) -> Vec<String> {
    serial["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn transfer_input(fx: &Fixture, from: &str, to: &str, serials: &[&str]) -> Value {
    json!({ "productId": fx.serialized, "fromLocationId": from, "toLocationId": to,
            "quantity": serials.len().to_string(), "serialNumbers": serials })
}

fn adjust_input(fx: &Fixture, delta: &str, serials: Value) -> Value {
    json!({ "productId": fx.serialized, "locationId": fx.location, "delta": delta,
            "reason": "OTHER", "memo": "test", "serialNumbers": serials })
}

#[tokio::test]
async fn a_serial_already_in_stock_cannot_be_received_again_on_any_order_whatever_its_case() {
    let app = crate::helpers::spawn_app().await;
    let fx = app.fixture().await;
    let first = serialized_order(&app, &fx, "3").await;
    let receipt = receive(&app, &first, &["SN-1"]).await;
    // The same order, another receipt; then another order: exact, other case, padded.
    let second = serialized_order(&app, &fx, "3").await;
    for (po, number) in [(&first, "SN-1"), (&second, "sn-1"), (&second, " Sn-1 ")] {
        assert_eq!(
            app.refused(
                "receivePurchaseOrder",
                receive_input(po, &[number]),
                "SERIAL_IN_STOCK"
            )
            .await,
            "input.lines.0.serialNumbers"
        );
    }
    // One receipt naming a unit twice in different case is refused as a repeat.
    app.refused(
        "receivePurchaseOrder",
        receive_input(&second, &["SN-2", "sn-2"]),
        "SERIAL_NUMBERS_MISMATCH",
    )
    .await;
    let found = serial(&app, &fx, "  sn-1").await;
    assert_eq!(found["number"], "SN-1");
    assert_eq!(found["status"], "IN_STOCK");
    assert_eq!(found["location"]["id"], json!(fx.location));
    assert_eq!(found["product"]["id"], json!(fx.serialized));
    assert_eq!(kinds(&found), ["RECEIVED"]);
    assert_eq!(found["history"][0]["receipt"]["id"], receipt);
    assert_eq!(found["history"][0]["toLocation"]["id"], json!(fx.location));
    assert_eq!(found["history"][0]["actor"], "admin");
    assert!(serial(&app, &fx, "SN-404").await.is_null());
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
    app.assert_history_and_serials_hold().await;
}

#[tokio::test]
async fn two_concurrent_receipts_of_the_same_serial_let_exactly_one_through() {
    let app = crate::helpers::spawn_app().await;
    let fx = app.fixture().await;
    let orders = [
        serialized_order(&app, &fx, "1").await,
        serialized_order(&app, &fx, "1").await,
    ];
    let attempts = orders.iter().map(|po| {
        app.mutate_as(
            &app.admin,
            "receivePurchaseOrder",
            receive_input(po, &["RACE-1"]),
            "receipt { id }",
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let accepted = results
        .iter()
        .filter(|r| r["userErrors"] == json!([]))
        .count();
    assert_eq!(accepted, 1, "{results:?}");
    assert!(
        results
            .iter()
            .any(|r| r["userErrors"][0]["code"] == "SERIAL_IN_STOCK"),
        "{results:?}"
    );
    assert_eq!(app.on_hand(&fx.serialized, &fx.location).await, "1");
    app.assert_history_and_serials_hold().await;
}

#[tokio::test]
async fn a_cancelled_receipt_takes_its_serials_out_and_they_may_be_received_again() {
    let app = crate::helpers::spawn_app().await;
    let fx = app.fixture().await;
    let po = serialized_order(&app, &fx, "3").await;
    let receipt = receive(&app, &po, &["SN-1", "SN-2"]).await;
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": receipt }),
        "receipt { id }",
    )
    .await;
    let gone = serial(&app, &fx, "SN-1").await;
    assert_eq!(gone["status"], "RECEIPT_CANCELED");
    assert!(gone["location"].is_null());
    assert_eq!(kinds(&gone), ["RECEIVED", "RECEIPT_CANCELED"]);
    assert_eq!(gone["history"][1]["receipt"]["id"], receipt);
    assert_eq!(gone["history"][1]["fromLocation"]["id"], json!(fx.location));
    // Gone units may come back (a redelivery), keeping their history.
    let again = receive(&app, &po, &["sn-1"]).await;
    let back = serial(&app, &fx, "SN-1").await;
    assert_eq!(back["status"], "IN_STOCK");
    assert_eq!(kinds(&back), ["RECEIVED", "RECEIPT_CANCELED", "RECEIVED"]);
    assert_eq!(back["history"][2]["receipt"]["id"], again);
    assert_eq!(
        serial(&app, &fx, "SN-2").await["status"],
        "RECEIPT_CANCELED"
    );
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
    app.assert_history_and_serials_hold().await;
}

#[tokio::test]
async fn a_transfer_names_serials_in_stock_at_the_source_and_moves_them() {
    let app = crate::helpers::spawn_app().await;
    let fx = app.fixture().await;
    let po = serialized_order(&app, &fx, "3").await;
    receive(&app, &po, &["SN-1", "SN-2", "SN-3"]).await;
    let (here, there) = (fx.location.as_str(), fx.location2.as_str());
    for serials in [&["NEVER-SEEN"][..], &["SN-1", "SN-9"][..]] {
        assert_eq!(
            app.refused(
                "transferInventory",
                transfer_input(&fx, here, there, serials),
                "SERIAL_NOT_IN_STOCK"
            )
            .await,
            "input.serialNumbers"
        );
    }
    // The destination has none of it: the refusal names the serial, not the quantity.
    app.refused(
        "transferInventory",
        transfer_input(&fx, there, here, &["SN-2"]),
        "SERIAL_NOT_IN_STOCK",
    )
    .await;
    // A fraction of a serialized unit, or a repeat, never moves.
    let mut half = transfer_input(&fx, here, there, &["SN-1"]);
    half["quantity"] = json!("0.5");
    app.refused("transferInventory", half, "SERIAL_NUMBERS_MISMATCH")
        .await;
    app.refused(
        "transferInventory",
        transfer_input(&fx, here, there, &["SN-1", "sn-1"]),
        "SERIAL_NUMBERS_MISMATCH",
    )
    .await;
    app.ok(
        "transferInventory",
        transfer_input(&fx, here, there, &["sn-1"]),
        "to { onHand }",
    )
    .await;
    let moved = serial(&app, &fx, "SN-1").await;
    assert_eq!(moved["location"]["id"], json!(there));
    assert_eq!(kinds(&moved), ["RECEIVED", "TRANSFERRED"]);
    assert_eq!(moved["history"][1]["fromLocation"]["id"], json!(here));
    assert_eq!(moved["history"][1]["toLocation"]["id"], json!(there));
    assert_eq!(moved["history"][1]["ledgerEntry"]["reason"], "TRANSFER_OUT");
    // It is no longer at the source.
    app.refused(
        "transferInventory",
        transfer_input(&fx, here, there, &["SN-1"]),
        "SERIAL_NOT_IN_STOCK",
    )
    .await;
    assert_eq!(app.on_hand(&fx.serialized, here).await, "2");
    assert_eq!(app.on_hand(&fx.serialized, there).await, "1");
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
    app.assert_history_and_serials_hold().await;
}

#[tokio::test]
async fn a_receipt_whose_serial_moved_away_is_cancelled_only_once_it_is_back() {
    let app = crate::helpers::spawn_app().await;
    let fx = app.fixture().await;
    let po = serialized_order(&app, &fx, "2").await;
    let receipt = receive(&app, &po, &["SN-1", "SN-2"]).await;
    let (here, there) = (fx.location.as_str(), fx.location2.as_str());
    app.ok(
        "transferInventory",
        transfer_input(&fx, here, there, &["SN-1"]),
        "to { onHand }",
    )
    .await;
    assert_eq!(
        app.refused(
            "cancelReceipt",
            json!({ "receiptId": receipt }),
            "SERIAL_NOT_IN_STOCK"
        )
        .await,
        "input.receiptId"
    );
    app.ok(
        "transferInventory",
        transfer_input(&fx, there, here, &["SN-1"]),
        "to { onHand }",
    )
    .await;
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": receipt }),
        "receipt { id }",
    )
    .await;
    assert_eq!(
        kinds(&serial(&app, &fx, "SN-1").await),
        ["RECEIVED", "TRANSFERRED", "TRANSFERRED", "RECEIPT_CANCELED"]
    );
    assert_eq!(app.on_hand(&fx.serialized, here).await, "0");
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
    app.assert_history_and_serials_hold().await;
}

#[tokio::test]
async fn a_serialized_product_is_adjusted_in_whole_named_units() {
    let app = crate::helpers::spawn_app().await;
    let fx = app.fixture().await;
    let po = serialized_order(&app, &fx, "2").await;
    receive(&app, &po, &["SN-1", "SN-2"]).await;
    // Fractions, missing or surplus serials.
    for (delta, serials) in [
        ("0.5", json!(null)),
        ("-0.5", json!(["SN-1"])),
        ("-1", json!(null)),
        ("-1", json!(["SN-1", "SN-2"])),
        ("1", json!([])),
    ] {
        assert_eq!(
            app.refused(
                "adjustInventory",
                adjust_input(&fx, delta, serials),
                "SERIAL_NUMBERS_MISMATCH"
            )
            .await,
            "input.serialNumbers"
        );
    }
    // A decrease names units in stock here; an increase names units not in stock.
    app.refused(
        "adjustInventory",
        adjust_input(&fx, "-1", json!(["SN-9"])),
        "SERIAL_NOT_IN_STOCK",
    )
    .await;
    app.refused(
        "adjustInventory",
        adjust_input(&fx, "1", json!(["sn-2"])),
        "SERIAL_IN_STOCK",
    )
    .await;
    app.ok(
        "adjustInventory",
        adjust_input(&fx, "-1", json!(["sn-1"])),
        "inventoryItem { onHand }",
    )
    .await;
    let out = serial(&app, &fx, "SN-1").await;
    assert_eq!(out["status"], "ADJUSTED_OUT");
    assert!(out["location"].is_null());
    assert_eq!(
        out["history"][1]["ledgerEntry"]["reason"],
        "ADJUSTMENT_OTHER"
    );
    // Found again, and a brand-new unit.
    app.ok(
        "adjustInventory",
        adjust_input(&fx, "2", json!(["SN-1", "NEW-1"])),
        "inventoryItem { onHand }",
    )
    .await;
    assert_eq!(
        kinds(&serial(&app, &fx, "SN-1").await),
        ["RECEIVED", "ADJUSTED_OUT", "ADJUSTED_IN"]
    );
    let new = serial(&app, &fx, "new-1").await;
    assert_eq!(new["status"], "IN_STOCK");
    assert_eq!(kinds(&new), ["ADJUSTED_IN"]);
    assert_eq!(app.on_hand(&fx.serialized, &fx.location).await, "3");
    // An unserialized product takes no serials.
    app.refused(
        "adjustInventory",
        json!({ "productId": fx.products[0], "locationId": fx.location, "delta": "1",
                "reason": "FOUND", "serialNumbers": ["X"] }),
        "SERIAL_NUMBERS_MISMATCH",
    )
    .await;
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
    app.assert_history_and_serials_hold().await;
}

#[tokio::test]
async fn a_product_with_serialized_stock_cannot_be_switched_to_non_serialized() {
    let app = crate::helpers::spawn_app().await;
    let fx = app.fixture().await;
    let po = serialized_order(&app, &fx, "1").await;
    receive(&app, &po, &["SN-1"]).await;
    let switch = json!({ "id": fx.serialized, "serialized": false });
    assert_eq!(
        app.refused(
            "updateProduct",
            switch.clone(),
            "PRODUCT_HAS_SERIALIZED_STOCK"
        )
        .await,
        "input.serialized"
    );
    app.ok(
        "adjustInventory",
        adjust_input(&fx, "-1", json!(["SN-1"])),
        "inventoryItem { onHand }",
    )
    .await;
    let done = app
        .ok("updateProduct", switch, "product { serialized }")
        .await;
    assert_eq!(done["product"]["serialized"], false);
}

#[tokio::test]
async fn serial_numbers_need_inventory_read_and_resolve_through_node() {
    let app = crate::helpers::spawn_app().await;
    let fx = app.fixture().await;
    let po = serialized_order(&app, &fx, "1").await;
    receive(&app, &po, &["SN-1"]).await;
    let found = serial(&app, &fx, "SN-1").await;
    let node = app
        .gql(
            "query($id: ID!) { node(id: $id) { id ... on SerialNumber { number status } } }",
            json!({ "id": found["id"] }),
        )
        .await["node"]
        .clone();
    assert_eq!(node["id"], found["id"]);
    assert_eq!(node["number"], "SN-1");
    assert_eq!(node["status"], "IN_STOCK");
    let reader = app.token(&[Permission::InventoryRead]);
    let seen = app
        .gql_as(&reader, SERIAL, json!({ "p": fx.serialized, "n": "sn-1" }))
        .await;
    assert_eq!(seen["serialNumber"]["id"], found["id"]);
    // The receipt shows its identity; the rest is purchase_orders:read's to show.
    assert_eq!(
        seen["serialNumber"]["history"][0]["receipt"]["id"],
        found["history"][0]["receipt"]["id"]
    );
    let receipt_detail = app
        .post(
            &reader,
            "query($p: ID!, $n: String!) { serialNumber(productId: $p, number: $n) { history { receipt { id receivedBy } } } }",
            json!({ "p": fx.serialized, "n": "SN-1" }),
        )
        .await;
    assert_eq!(
        receipt_detail.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{}",
        receipt_detail.body
    );
    let outsider = app.token(&[Permission::PurchaseOrdersRead]);
    for (query, variables) in [
        (SERIAL, json!({ "p": fx.serialized, "n": "SN-1" })),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": found["id"] }),
        ),
    ] {
        let reply = app.post(&outsider, query, variables).await;
        assert_eq!(
            reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{}",
            reply.body
        );
    }
    let (code, _) = app
        .gql_error(SERIAL, json!({ "p": fx.location, "n": "SN-1" }))
        .await;
    assert_eq!(code, "BAD_REQUEST");
}

#[tokio::test]
async fn a_receipt_is_not_cancelled_for_a_unit_that_came_in_again_with_a_later_receipt() {
    let app = crate::helpers::spawn_app().await;
    let fx = app.fixture().await;
    let po = serialized_order(&app, &fx, "3").await;
    let first = receive(&app, &po, &["SN-1"]).await;
    app.ok(
        "adjustInventory",
        adjust_input(&fx, "-1", json!(["SN-1"])),
        "inventoryItem { onHand }",
    )
    .await;
    let second = receive(&app, &po, &["SN-1"]).await;
    // The first receipt's unit was written off; the one in stock is the second receipt's.
    app.refused(
        "cancelReceipt",
        json!({ "receiptId": first }),
        "SERIAL_NOT_IN_STOCK",
    )
    .await;
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": second }),
        "receipt { id }",
    )
    .await;
    assert_eq!(
        kinds(&serial(&app, &fx, "SN-1").await),
        ["RECEIVED", "ADJUSTED_OUT", "RECEIVED", "RECEIPT_CANCELED"]
    );
    app.assert_books_balance(rust_decimal::Decimal::ZERO).await;
    app.assert_history_and_serials_hold().await;
}
