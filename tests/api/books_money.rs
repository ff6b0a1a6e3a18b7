//! Exact money (DOMAIN.md, Money and rounding; issue 11 findings 1, 2 and 4; issue 12 finding
//! 4): exact line amounts, one rounding per document, the rounding carried across an order's
//! bills, money inputs in whole cents, bounded quantities and amounts, plain decimal strings
//! and ISO 4217 currencies.

use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

use crate::helpers::{spawn_app, Fixture, TestApp};
use crate::purchasing::{line, po_input, transition, PO};

const BILL: &str = "id number kind status billDate dueDate remitTo { street city } \
    taxRate subtotal tax freight total lines { quantity unitCost amount }";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn money(v: &Value) -> Decimal {
    d(v.as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {v}")))
}

/// Creates and submits an order of `(product index, quantity, unit cost)` lines at `tax_rate`.
async fn submitted_at(
    app: &TestApp,
    fx: &Fixture,
    lines: &[(usize, &str, Option<&str>)],
    tax_rate: &str,
) -> Value {
    let mut input = po_input(fx, lines);
    input["taxRate"] = json!(tax_rate);
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    transition(app, "submitPurchaseOrder", &po).await
}

/// Receives `(line index, quantity)` pairs; returns the receipt's bill.
async fn receive(app: &TestApp, po: &Value, lines: &[(usize, &str)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(i, q)| json!({ "lineId": line(po, *i)["id"], "quantity": q }))
        .collect();
    app.ok(
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "lines": lines }),
        &format!("receipt {{ id }} bill {{ {BILL} }}"),
    )
    .await
}

async fn order(app: &TestApp, po: &Value) -> Value {
    app.gql(
        &format!(
            "query($id: ID) {{ purchaseOrder(id: $id) {{ subtotal tax shipping total \
             bills {{ {BILL} }} }} }}"
        ),
        json!({ "id": po["id"] }),
    )
    .await["purchaseOrder"]
        .clone()
}

/// Σ subtotal, Σ tax and Σ total of the order's open bills and credits.
fn open_sums(order: &Value) -> (Decimal, Decimal, Decimal) {
    let open: Vec<&Value> = order["bills"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["status"] == "OPEN")
        .collect();
    let sum = |field: &str| open.iter().map(|b| money(&b[field])).sum();
    (sum("subtotal"), sum("tax"), sum("total"))
}

fn assert_parts_add_up(document: &Value, extra: &str) {
    assert_eq!(
        money(&document["subtotal"]) + money(&document["tax"]) + money(&document[extra]),
        money(&document["total"]),
        "printed parts add up to the printed total: {document}"
    );
}

#[tokio::test]
async fn a_single_receipt_of_a_whole_order_bills_exactly_the_orders_subtotal_and_tax() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted_at(
        &app,
        &fx,
        &[
            (0, "12.5", Some("3.4567")),
            (1, "7.25", Some("1.2345")),
            (2, "3", Some("0.3333")),
        ],
        "0.0825",
    )
    .await;
    // 43.20875 + 8.950125 + 0.9999 = 53.158775 → 53.16; 53.16 × 0.0825 = 4.3857 → 4.39.
    // (Rounding each line first billed 43.21 + 8.95 + 1.00.)
    assert_eq!(line(&po, 0)["amount"], "43.20875", "line amounts are exact");
    assert_eq!(
        (&po["subtotal"], &po["tax"], &po["total"]),
        (&json!("53.16"), &json!("4.39"), &json!("57.55"))
    );
    let bill = receive(&app, &po, &[(0, "12.5"), (1, "7.25"), (2, "3")]).await["bill"].clone();
    assert_eq!(bill["subtotal"], po["subtotal"]);
    assert_eq!(bill["tax"], po["tax"]);
    assert_eq!(bill["total"], po["total"]);
    assert_eq!(bill["lines"][2]["amount"], "0.9999");
    assert_parts_add_up(&bill, "freight");
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn three_half_cent_lines_are_billed_as_the_order_rounds_them_once() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted_at(
        &app,
        &fx,
        &[
            (0, "1", Some("0.005")),
            (1, "1", Some("0.005")),
            (2, "1", Some("0.005")),
        ],
        "0",
    )
    .await;
    assert_eq!(po["total"], "0.02", "0.015 rounds once to 0.02");
    let bill = receive(&app, &po, &[(0, "1"), (1, "1"), (2, "1")]).await["bill"].clone();
    assert_eq!(bill["subtotal"], "0.02", "not 3 × 0.01");
    assert_eq!(bill["total"], "0.02");
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn the_printed_parts_of_an_order_always_add_up_to_its_printed_total() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // Issue 11, finding 2: 0.004 at 50 % tax printed 0.00 + 0.00 + 0.00 = 0.01.
    let po = submitted_at(&app, &fx, &[(0, "1", Some("0.004"))], "0.5").await;
    assert_eq!(
        (&po["subtotal"], &po["tax"], &po["shipping"], &po["total"]),
        (
            &json!("0.00"),
            &json!("0.00"),
            &json!("0.00"),
            &json!("0.00")
        )
    );
    assert_parts_add_up(&po, "shipping");
}

#[tokio::test]
async fn the_open_bills_of_many_small_receipts_sum_to_the_received_value_rounded_once() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted_at(&app, &fx, &[(0, "0.0025", Some("1234.5678"))], "0.0825").await;
    for _ in 0..25 {
        receive(&app, &po, &[(0, "0.0001")]).await;
    }
    // 25 × 0.12345678 = 3.0864195 → 3.09 (rounding each bill gave 25 × 0.12 = 3.00);
    // tax 3.09 × 0.0825 = 0.254925 → 0.25.
    let state = order(&app, &po).await;
    assert_eq!(
        open_sums(&state),
        (d("3.09"), d("0.25"), d("3.34")),
        "{state}"
    );
    assert_eq!(state["subtotal"], "3.09", "the order says the same");
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn cancellations_and_repricings_keep_the_open_bills_equal_to_the_received_value_rounded_once()
{
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted_at(
        &app,
        &fx,
        &[(0, "10", Some("0.0045")), (1, "10", Some("0.0033"))],
        "0.0825",
    )
    .await;
    let mut receipts = Vec::new();
    for (i, q) in [(0, "1"), (1, "1"), (0, "1"), (1, "2"), (0, "3")] {
        receipts.push(receive(&app, &po, &[(i, q)]).await["receipt"]["id"].clone());
        app.assert_books_balance(Decimal::ZERO).await;
    }
    // Cancel the first and the fourth receipt: their credits carry the rounding too.
    for r in [&receipts[0], &receipts[3]] {
        app.ok(
            "cancelReceipt",
            json!({ "receiptId": r }),
            "creditBill { id }",
        )
        .await;
        app.assert_books_balance(Decimal::ZERO).await;
    }
    // Re-price a line, then the tax rate: replacements carry it as well.
    app.ok(
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "unitCost": "0.0051" }),
        "line { id }",
    )
    .await;
    app.assert_books_balance(Decimal::ZERO).await;
    app.ok(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "taxRate": "0.5" }),
        "purchaseOrder { id }",
    )
    .await;
    app.assert_books_balance(Decimal::ZERO).await;
    receive(&app, &po, &[(1, "0.5")]).await;
    app.assert_books_balance(Decimal::ZERO).await;
    // Received and not cancelled: line 1 × (1 + 3) at 0.0051, line 2 × (1 + 0.5) at 0.0033:
    // 0.0204 + 0.00495 = 0.02535 → 0.03; tax 0.03 × 0.5 = 0.015 → 0.02.
    let state = order(&app, &po).await;
    assert_eq!(
        open_sums(&state),
        (d("0.03"), d("0.02"), d("0.05")),
        "{state}"
    );
}

#[tokio::test]
async fn a_replacement_bill_keeps_the_bill_date_due_date_and_remit_to_of_the_bill_it_replaces() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    app.ok(
        "updateVendor",
        json!({ "id": fx.vendor, "paymentTermsDays": 45 }),
        "vendor { id }",
    )
    .await;
    let po = submitted_at(&app, &fx, &[(0, "4", Some("2.50"))], "0.08").await;
    let original = receive(&app, &po, &[(0, "2")]).await["bill"].clone();
    // The vendor moves and shortens its terms after the invoice was issued.
    app.ok(
        "updateVendor",
        json!({ "id": fx.vendor, "paymentTermsDays": 10,
                "address": { "street": "9 Elm St", "city": "Shelbyville", "postalCode": "54321", "country": "US" } }),
        "vendor { id }",
    )
    .await;
    app.ok(
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "unitCost": "3" }),
        "line { id }",
    )
    .await;
    app.ok(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "taxRate": "0.1" }),
        "purchaseOrder { id }",
    )
    .await;
    let state = order(&app, &po).await;
    let bills = state["bills"].as_array().unwrap();
    assert_eq!(bills.len(), 3, "the bill and two replacements: {state}");
    let open: Vec<&Value> = bills.iter().filter(|b| b["status"] == "OPEN").collect();
    assert_eq!(open.len(), 1);
    let replacement = open[0];
    assert_eq!(replacement["subtotal"], "6.00", "re-priced");
    assert_eq!(replacement["tax"], "0.60", "re-taxed");
    for kept in ["billDate", "dueDate", "remitTo"] {
        assert_eq!(replacement[kept], original[kept], "{kept} kept");
    }
    assert_eq!(replacement["remitTo"]["city"], "Springfield");
    // A new receipt is a new invoice: the vendor's terms and address of today.
    let later = receive(&app, &po, &[(0, "1")]).await["bill"].clone();
    assert_eq!(later["remitTo"]["city"], "Shelbyville");
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn money_entered_as_money_has_at_most_two_decimals_and_is_refused_not_rounded() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let mut input = po_input(&fx, &[(0, "1", None)]);
    input["shipping"] = json!("1.004");
    assert_eq!(
        app.refused("createPurchaseOrder", input, "INVALID_INPUT")
            .await,
        "input.shipping"
    );
    let po = submitted_at(&app, &fx, &[(0, "4", None)], "0.08").await;
    app.refused(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "shipping": "1.004" }),
        "INVALID_INPUT",
    )
    .await;
    app.refused(
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "freight": "0.001",
                "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "1" }] }),
        "INVALID_INPUT",
    )
    .await;
    assert_eq!(
        app.refused(
            "updatePurchaseOrderLine",
            json!({ "lineId": line(&po, 0)["id"], "unitCost": "0.00001" }),
            "INVALID_INPUT",
        )
        .await,
        "input.unitCost",
        "a unit cost has at most 4 decimals"
    );
    // Whole cents with trailing zeros are fine.
    app.ok(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "shipping": "1.0000" }),
        "purchaseOrder { shipping }",
    )
    .await;
}

/// A create input of one line of product 0 at `quantity` × `cost`, with `shipping`, untaxed.
fn create_input(fx: &Fixture, quantity: &str, cost: &str, shipping: &str) -> Value {
    let mut input = po_input(fx, &[(0, quantity, Some(cost))]);
    input["shipping"] = json!(shipping);
    input["taxRate"] = json!("0");
    input
}

#[tokio::test]
async fn a_create_beyond_a_quantity_cost_shipping_or_document_limit_is_refused_with_value_too_large(
) {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let create =
        |quantity: &str, cost: &str, shipping: &str| create_input(&fx, quantity, cost, shipping);
    for (input, field) in [
        // Issue 11, finding 12: this quantity answered INTERNAL (bigint overflow).
        (
            create("922337203685477.5807", "1", "0"),
            "input.lines.0.quantity",
        ),
        (
            create("1000000000.0001", "0", "0"),
            "input.lines.0.quantity",
        ),
        (create("1", "1000000.0001", "0"), "input.lines.0.unitCost"),
        (create("1", "1", "1000000000.01"), "input.shipping"),
        // 1,000,000,000 × 101 = 101,000,000,000: over the document limit.
        (create("1000000000", "101", "0"), "input"),
    ] {
        assert_eq!(
            app.refused("createPurchaseOrder", input, "VALUE_TOO_LARGE")
                .await,
            field
        );
    }
}

#[tokio::test]
async fn an_order_at_the_limits_is_fine_and_a_cent_more_shipping_or_cost_is_value_too_large() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let full = app
        .ok(
            "createPurchaseOrder",
            create_input(&fx, "1000000000", "100", "0"),
            "purchaseOrder { id total lines(first: 1) { nodes { id } } }",
        )
        .await["purchaseOrder"]
        .clone();
    assert_eq!(full["total"], "100000000000.00");
    assert_eq!(
        app.refused(
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": full["id"], "shipping": "0.01" }),
            "VALUE_TOO_LARGE",
        )
        .await,
        "input"
    );
    app.refused(
        "updatePurchaseOrderLine",
        json!({ "lineId": full["lines"]["nodes"][0]["id"], "unitCost": "100.0001" }),
        "VALUE_TOO_LARGE",
    )
    .await;
}

#[tokio::test]
async fn a_line_cost_receipt_freight_or_received_quantity_beyond_its_limit_is_value_too_large() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted_at(&app, &fx, &[(0, "10", Some("1"))], "0").await;
    app.refused(
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "unitCost": "1000001" }),
        "VALUE_TOO_LARGE",
    )
    .await;
    app.refused(
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "freight": "1000000000.01",
                "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "1" }] }),
        "VALUE_TOO_LARGE",
    )
    .await;
    app.refused(
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"],
                "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "922337203685477.5807" }] }),
        "VALUE_TOO_LARGE",
    )
    .await;
}

#[tokio::test]
async fn stock_quantities_and_a_product_cost_beyond_their_limits_are_value_too_large() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (product, location) = (&fx.products[0], &fx.location);
    for (name, input) in [
        (
            "adjustInventory",
            json!({ "productId": product, "locationId": location,
                    "delta": "922337203685477.5807", "reason": "FOUND" }),
        ),
        (
            "adjustInventory",
            json!({ "productId": product, "locationId": location,
                    "countedQuantity": "1000000001", "reason": "COUNT" }),
        ),
        (
            "upsertInventoryItem",
            json!({ "productId": product, "locationId": location, "maximum": "1000000001" }),
        ),
        (
            "transferInventory",
            json!({ "productId": product, "fromLocationId": location,
                    "toLocationId": fx.location2, "quantity": "1000000001" }),
        ),
        (
            "createProduct",
            json!({ "sku": "DEAR", "description": "Dear", "defaultUnitCost": "1000000.01" }),
        ),
    ] {
        app.refused(name, input, "VALUE_TOO_LARGE").await;
    }
}

#[tokio::test]
async fn a_line_of_9e14_by_9e14_cannot_be_created_and_order_totals_stay_answerable() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // Issue 12, finding 4: this line made every `purchaseOrders { total }` reset the
    // connection.
    app.refused(
        "createPurchaseOrder",
        po_input(&fx, &[(0, "900000000000000", Some("900000000000000"))]),
        "VALUE_TOO_LARGE",
    )
    .await;
    submitted_at(&app, &fx, &[(0, "2", Some("3"))], "0").await;
    let data = app
        .gql(
            "{ purchaseOrders(first: 10) { nodes { total } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["purchaseOrders"]["nodes"][0]["total"], "6.00");

    // A row written before the limits existed: its total is a typed error, the list still
    // answers and the service stays up.
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let stored = entity::purchase_order_line::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut huge: entity::purchase_order_line::ActiveModel = stored.into();
    huge.quantity = Set(entity::Fixed4(i64::MAX));
    huge.unit_cost = Set(entity::Fixed4(i64::MAX));
    huge.update(&app.db).await.unwrap();
    let reply = app
        .post(
            &app.admin.clone(),
            "{ purchaseOrders(first: 10) { nodes { number total } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"], "VALUE_TOO_LARGE",
        "{}",
        reply.body
    );
    assert!(reply.body["data"]["purchaseOrders"]["nodes"][0]["number"].is_string());
    assert!(reply.body["data"]["purchaseOrders"]["nodes"][0]["total"].is_null());
}

#[tokio::test]
async fn a_decimal_is_a_plain_string_and_anything_else_is_a_bad_request() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let mutation = "mutation($input: AdjustInventoryInput!) { adjustInventory(input: $input) { userErrors { code } } }";
    for malformed in ["1e3", "+5", ".5", "5.", "abc", " 5", "1,5"] {
        let input = json!({ "productId": fx.products[0], "locationId": fx.location,
                            "delta": malformed, "reason": "FOUND" });
        let (code, message) = app.gql_error(mutation, json!({ "input": input })).await;
        assert_eq!(code, "BAD_REQUEST", "{malformed:?}: {message}");
    }
    // Written in the document instead of a variable: the same answer.
    let (code, _) = app
        .gql_error(
            &format!(
                "mutation {{ adjustInventory(input: {{ productId: \"{}\", locationId: \"{}\", \
                 delta: \"1e3\", reason: FOUND }}) {{ userErrors {{ code }} }} }}",
                fx.products[0], fx.location
            ),
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_REQUEST");
    assert_eq!(app.on_hand(&fx.products[0], &fx.location).await, "0");
}

#[tokio::test]
async fn a_currency_is_an_active_iso_4217_code() {
    let app = spawn_app().await;
    let address = json!({ "street": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US" });
    assert_eq!(
        app.refused(
            "createVendor",
            json!({ "name": "Nowhere", "code": "NOWHERE", "address": address, "currency": "XYZ" }),
            "INVALID_INPUT",
        )
        .await,
        "input.currency"
    );
    let vendor = app
        .ok(
            "createVendor",
            json!({ "name": "Euro", "code": "EURO", "address": address, "currency": "eur" }),
            "vendor { id currency }",
        )
        .await["vendor"]
        .clone();
    assert_eq!(vendor["currency"], "EUR");
    app.refused(
        "updateVendor",
        json!({ "id": vendor["id"], "currency": "ABC" }),
        "INVALID_INPUT",
    )
    .await;
}

/// A small deterministic generator (64-bit LCG): the same steps on every run and backend.
struct Steps(u64);

impl Steps {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    /// A decimal of `units` ten-thousandths, `1..=max` of them.
    fn ten_thousandths(&mut self, max: u64) -> String {
        Decimal::new(1 + self.below(max) as i64, 4).to_string()
    }
}

#[tokio::test]
async fn any_mix_of_receipts_cancellations_and_repricings_keeps_the_open_bills_at_the_received_value_rounded_once(
) {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let mut steps = Steps(11);
    let lines: Vec<(usize, String, Option<String>)> = (0..3)
        .map(|p| (p, "1000".to_owned(), Some(steps.ten_thousandths(200_000))))
        .collect();
    let lines: Vec<(usize, &str, Option<&str>)> = lines
        .iter()
        .map(|(p, q, c)| (*p, q.as_str(), c.as_deref()))
        .collect();
    let po = submitted_at(&app, &fx, &lines, "0.0825").await;
    let mut live: Vec<Value> = Vec::new();
    for _ in 0..40 {
        match steps.below(10) {
            0..=4 => {
                let quantity = steps.ten_thousandths(5_000);
                let i = steps.below(3) as usize;
                live.push(receive(&app, &po, &[(i, &quantity)]).await["receipt"]["id"].clone());
            }
            5 | 6 if !live.is_empty() => {
                let receipt = live.remove(steps.below(live.len() as u64) as usize);
                app.ok(
                    "cancelReceipt",
                    json!({ "receiptId": receipt }),
                    "creditBill { id }",
                )
                .await;
            }
            7 | 8 => {
                let cost = steps.ten_thousandths(200_000);
                let i = steps.below(3) as usize;
                app.ok(
                    "updatePurchaseOrderLine",
                    json!({ "lineId": line(&po, i)["id"], "unitCost": cost }),
                    "line { id }",
                )
                .await;
            }
            _ => {
                let rate = Decimal::new(steps.below(2_000) as i64, 4).to_string();
                app.ok(
                    "updatePurchaseOrder",
                    json!({ "purchaseOrderId": po["id"], "taxRate": rate }),
                    "purchaseOrder { id }",
                )
                .await;
            }
        }
        app.assert_books_balance(Decimal::ZERO).await;
    }
}
