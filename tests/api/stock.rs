//! Stock operations: item settings, adjustments, transfers, reservations and picks, reordering.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Fixture, TestApp};

const ITEM: &str = "inventoryItem { id onHand onOrder picked reserved available minimum maximum bin referenceNumber \
    ledger(first: 10) { nodes { delta reason memo actor } } }";

async fn stock(
    app: &TestApp,
    fx: &Fixture,
    product: usize,
    location: &str,
    quantity: &str,
) -> Value {
    app.ok(
        "adjustInventory",
        json!({ "productId": fx.products[product], "locationId": location, "delta": quantity, "reason": "FOUND" }),
        ITEM,
    )
    .await["inventoryItem"]
        .clone()
}

fn commitment(fx: &Fixture, quantity: &str) -> Value {
    json!({ "productId": fx.products[0], "locationId": fx.location, "quantity": quantity, "jobId": fx.job })
}

#[tokio::test]
async fn items_are_upserted_with_valid_reorder_points_and_places() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let base = json!({ "productId": fx.products[0], "locationId": fx.location });
    let with = |extra: Value| {
        let mut input = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        input
    };
    let item = app
        .ok(
            "upsertInventoryItem",
            with(json!({ "minimum": "5", "maximum": "20", "bin": "A-1", "referenceNumber": "R9" })),
            ITEM,
        )
        .await["inventoryItem"]
        .clone();
    assert_eq!(
        (item["minimum"].as_str(), item["maximum"].as_str()),
        (Some("5"), Some("20"))
    );
    assert_eq!(item["bin"], "A-1");
    let again = app
        .ok(
            "upsertInventoryItem",
            with(json!({ "maximum": null, "bin": null })),
            ITEM,
        )
        .await["inventoryItem"]
        .clone();
    assert_eq!(again["id"], item["id"], "the same item is updated");
    assert!(again["maximum"].is_null() && again["bin"].is_null());
    assert_eq!(again["referenceNumber"], "R9", "omitted fields stay");
    for (input, code, field) in [
        (
            with(json!({ "minimum": "10", "maximum": "9" })),
            "INVALID_INPUT",
            "input.maximum",
        ),
        (
            with(json!({ "minimum": "-1" })),
            "INVALID_INPUT",
            "input.minimum",
        ),
        (
            with(json!({ "bin": "x".repeat(51) })),
            "INVALID_INPUT",
            "input.bin",
        ),
        (
            with(json!({ "productId": "gid://stockgraph/Product/999" })),
            "NOT_FOUND",
            "input.productId",
        ),
    ] {
        assert_eq!(
            app.refused("upsertInventoryItem", input, code).await,
            field,
            "{code}"
        );
    }
    app.ok(
        "deactivateInventoryLocation",
        json!({ "id": fx.location2 }),
        "",
    )
    .await;
    app.refused(
        "upsertInventoryItem",
        json!({ "productId": fx.products[0], "locationId": fx.location2 }),
        "LOCATION_INACTIVE",
    )
    .await;
}

#[tokio::test]
async fn adjustments_change_on_hand_with_a_reason_and_a_ledger_entry() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let item = stock(&app, &fx, 0, &fx.location, "5").await;
    assert_eq!(item["onHand"], "5");
    let counted = app
        .ok(
            "adjustInventory",
            json!({ "productId": fx.products[0], "locationId": fx.location, "countedQuantity": "3",
                    "reason": "COUNT", "expectedOnHand": "5", "memo": "cycle count" }),
            ITEM,
        )
        .await["inventoryItem"]
        .clone();
    assert_eq!(counted["onHand"], "3");
    let entries = counted["ledger"]["nodes"].as_array().unwrap();
    assert_eq!(entries[1]["delta"], "-2");
    assert_eq!(entries[1]["reason"], "ADJUSTMENT_COUNT");
    assert_eq!(entries[1]["memo"], "cycle count");
    let adjust = |extra: Value| {
        let mut input =
            json!({ "productId": fx.products[0], "locationId": fx.location, "reason": "DAMAGE" });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        input
    };
    for (input, code, field) in [
        (
            adjust(json!({ "delta": "-1", "expectedOnHand": "5" })),
            "STALE_VERSION",
            "input.expectedOnHand",
        ),
        (
            adjust(json!({ "delta": "-4" })),
            "INSUFFICIENT_AVAILABLE",
            "input.delta",
        ),
        (
            adjust(json!({ "delta": "1", "countedQuantity": "1" })),
            "INVALID_INPUT",
            "input",
        ),
        (adjust(json!({})), "INVALID_INPUT", "input"),
        (
            adjust(json!({ "delta": "0" })),
            "INVALID_INPUT",
            "input.delta",
        ),
        (
            adjust(json!({ "countedQuantity": "-1" })),
            "INVALID_INPUT",
            "input.countedQuantity",
        ),
    ] {
        assert_eq!(
            app.refused("adjustInventory", input, code).await,
            field,
            "{code}"
        );
    }
    // Reserved stock cannot be adjusted away.
    app.ok("reserveInventory", commitment(&fx, "2"), "").await;
    app.refused(
        "adjustInventory",
        adjust(json!({ "delta": "-2" })),
        "INSUFFICIENT_AVAILABLE",
    )
    .await;
    // A retry with the same key applies once.
    let keyed = adjust(json!({ "delta": "-1", "idempotencyKey": "damage-1" }));
    let first = app.ok("adjustInventory", keyed.clone(), ITEM).await;
    let again = app.ok("adjustInventory", keyed, ITEM).await;
    assert_eq!(first["inventoryItem"]["onHand"], "2");
    assert_eq!(again["inventoryItem"]["onHand"], "2");
    app.refused(
        "adjustInventory",
        adjust(json!({ "delta": "-2", "idempotencyKey": "damage-1" })),
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn transfers_move_available_stock_between_active_locations_atomically() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    stock(&app, &fx, 0, &fx.location, "5").await;
    let input = |quantity: &str| json!({ "productId": fx.products[0], "fromLocationId": fx.location, "toLocationId": fx.location2, "quantity": quantity });
    let moved = app
        .ok("transferInventory", input("2"), "from { onHand ledger { nodes { reason } } } to { onHand ledger { nodes { delta reason } } }")
        .await;
    assert_eq!(moved["from"]["onHand"], "3");
    assert_eq!(moved["to"]["onHand"], "2");
    assert_eq!(moved["to"]["ledger"]["nodes"][0]["reason"], "TRANSFER_IN");
    assert_eq!(
        moved["from"]["ledger"]["nodes"][1]["reason"],
        "TRANSFER_OUT"
    );
    app.refused(
        "transferInventory",
        input("3.0001"),
        "INSUFFICIENT_AVAILABLE",
    )
    .await;
    let mut same = input("1");
    same["toLocationId"] = json!(fx.location);
    assert_eq!(
        app.refused("transferInventory", same, "INVALID_INPUT")
            .await,
        "input.toLocationId"
    );
    app.refused("transferInventory", input("0"), "INVALID_INPUT")
        .await;
    // Serialized products move with one serial per unit.
    let mut serialized = input("1");
    serialized["productId"] = json!(fx.serialized);
    app.refused("transferInventory", serialized, "SERIAL_NUMBERS_MISMATCH")
        .await;
    // Ten concurrent transfers of 1 from 3 available: exactly 3 succeed, nothing overdrawn.
    let transfers = (0..10).map(|_| {
        app.mutate_as(
            &app.admin,
            "transferInventory",
            input("1"),
            "from { onHand }",
        )
    });
    let results = futures_util::future::join_all(transfers).await;
    let done = results
        .iter()
        .filter(|r| r["userErrors"] == json!([]))
        .count();
    assert_eq!(done, 3, "{results:?}");
    assert!(results
        .iter()
        .filter(|r| r["userErrors"] != json!([]))
        .all(|r| r["userErrors"][0]["code"] == "INSUFFICIENT_AVAILABLE"));
    assert_eq!(app.on_hand(&fx.products[0], &fx.location).await, "0");
    assert_eq!(app.on_hand(&fx.products[0], &fx.location2).await, "5");
    app.ok(
        "deactivateInventoryLocation",
        json!({ "id": fx.location }),
        "",
    )
    .await;
    app.refused("transferInventory", input("1"), "LOCATION_INACTIVE")
        .await;
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn reservations_and_picks_never_exceed_what_is_available() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    stock(&app, &fx, 0, &fx.location, "5").await;
    let reserved = app.ok("reserveInventory", commitment(&fx, "3"), ITEM).await;
    assert_eq!(reserved["inventoryItem"]["available"], "2");
    let picked = app.ok("pickInventory", commitment(&fx, "2"), ITEM).await;
    assert_eq!(picked["inventoryItem"]["available"], "0");
    assert_eq!(picked["inventoryItem"]["picked"], "2");
    for (name, quantity, code) in [
        ("reserveInventory", "0.0001", "INSUFFICIENT_AVAILABLE"),
        ("pickInventory", "1", "INSUFFICIENT_AVAILABLE"),
        ("releaseReservation", "3.5", "INSUFFICIENT_RESERVED"),
        ("unpickInventory", "2.5", "INSUFFICIENT_PICKED"),
        ("reserveInventory", "-1", "INVALID_INPUT"),
    ] {
        assert_eq!(
            app.refused(name, commitment(&fx, quantity), code).await,
            "input.quantity",
            "{name}"
        );
    }
    let mut unknown_job = commitment(&fx, "1");
    unknown_job["jobId"] = json!("gid://stockgraph/Job/999");
    app.refused("releaseReservation", unknown_job, "NOT_FOUND")
        .await;
    let released = app
        .ok("releaseReservation", commitment(&fx, "3"), ITEM)
        .await;
    assert_eq!(released["inventoryItem"]["reserved"], "0");
    let unpicked = app.ok("unpickInventory", commitment(&fx, "2"), ITEM).await;
    assert_eq!(unpicked["inventoryItem"]["available"], "5");
    // A receipt cannot be cancelled from under a reservation.
    let po = crate::purchasing::create_po(&app, &fx, &[(1, "4", None)]).await;
    let po = crate::purchasing::transition(&app, "submitPurchaseOrder", &po).await;
    let received = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": crate::purchasing::line(&po, 0)["id"], "quantity": "4" }] }),
            "receipt { id }",
        )
        .await;
    app.ok(
        "reserveInventory",
        json!({ "productId": fx.products[1], "locationId": fx.location, "quantity": "1" }),
        "",
    )
    .await;
    app.refused(
        "cancelReceipt",
        json!({ "receiptId": received["receipt"]["id"] }),
        "INSUFFICIENT_AVAILABLE",
    )
    .await;
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn reorder_suggestions_become_one_pending_order_per_vendor_and_location() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let address = json!({ "street": "2 B St", "city": "C", "postalCode": "2", "country": "US" });
    let other = app
        .ok(
            "createVendor",
            json!({ "name": "Other", "code": "OTHER", "address": address }),
            "vendor { id }",
        )
        .await["vendor"]["id"]
        .clone();
    app.ok(
        "updateProduct",
        json!({ "id": fx.products[0], "preferredVendorId": fx.vendor }),
        "",
    )
    .await;
    app.ok(
        "updateProduct",
        json!({ "id": fx.products[1], "preferredVendorId": fx.vendor }),
        "",
    )
    .await;
    app.ok(
        "updateProduct",
        json!({ "id": fx.products[2], "preferredVendorId": other }),
        "",
    )
    .await;
    for (product, location, minimum, maximum) in [
        (0, &fx.location, "5", Some("10")),
        (1, &fx.location, "2", None),
        (2, &fx.location, "1", None),
        (0, &fx.location2, "1", None),
    ] {
        let mut input = json!({ "productId": fx.products[product], "locationId": location, "minimum": minimum });
        if let Some(max) = maximum {
            input["maximum"] = json!(max);
        }
        app.ok("upsertInventoryItem", input, "").await;
    }
    app.ok(
        "upsertInventoryItem",
        json!({ "productId": fx.serialized, "locationId": fx.location, "minimum": "1" }),
        "",
    )
    .await;
    let done = app
        .ok(
            "createReorderPurchaseOrders",
            json!({ "typeId": fx.po_type }),
            "purchaseOrders { status vendor { id } shipTo { id } lines(first: 10) { nodes { quantity product { id } } } } skipped { product { id } quantity }",
        )
        .await;
    let orders = done["purchaseOrders"].as_array().unwrap();
    assert_eq!(orders.len(), 3, "{orders:?}");
    assert!(orders.iter().all(|po| po["status"] == "PENDING"));
    let acme_main = orders
        .iter()
        .find(|po| {
            po["vendor"]["id"] == json!(fx.vendor) && po["shipTo"]["id"] == json!(fx.location)
        })
        .unwrap();
    let quantities: Vec<&str> = acme_main["lines"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["quantity"].as_str().unwrap())
        .collect();
    assert_eq!(quantities, ["10", "2"]);
    assert_eq!(done["skipped"][0]["product"]["id"], json!(fx.serialized));
    // The PENDING orders count toward the need: nothing is ordered twice.
    let again = app
        .ok(
            "createReorderPurchaseOrders",
            json!({ "locationId": fx.location2 }),
            "purchaseOrders { shipTo { id } }",
        )
        .await;
    assert_eq!(again["purchaseOrders"], json!([]));
}
