//! The purchase-order lifecycle and line rules of DOMAIN.md, each allowed and refused.

use chrono::Datelike;
use serde_json::{json, Value};
use stockgraph::auth::Permission;

use crate::helpers::{s, spawn_app, Fixture, TestApp};

pub const PO: &str =
    "purchaseOrder { id number status version taxRate subtotal tax shipping total \
    submittedAt exportedAt lines(first: 50) { nodes { id lineNumber quantity quantityReceived \
    quantityOpen unitCost amount product { id } location { id } } } }";

/// A create input with one line per (product index, quantity, unit cost).
pub fn po_input(fx: &Fixture, lines: &[(usize, &str, Option<&str>)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(p, q, c)| {
            let mut line =
                json!({ "productId": fx.products[*p], "locationId": fx.location, "quantity": q });
            if let Some(c) = c {
                line["unitCost"] = json!(c);
            }
            line
        })
        .collect();
    json!({
        "vendorId": fx.vendor, "shipToId": fx.location, "typeId": fx.po_type,
        "businessUnitId": fx.business_unit, "lines": lines
    })
}

/// Creates a PENDING purchase order and returns it.
pub async fn create_po(
    app: &TestApp,
    fx: &Fixture,
    lines: &[(usize, &str, Option<&str>)],
) -> Value {
    app.ok("createPurchaseOrder", po_input(fx, lines), PO).await["purchaseOrder"].clone()
}

/// Runs a transition (`submitPurchaseOrder`, …) that must succeed; returns the order.
pub async fn transition(app: &TestApp, name: &str, po: &Value) -> Value {
    app.ok(name, json!({ "purchaseOrderId": po["id"] }), PO)
        .await["purchaseOrder"]
        .clone()
}

pub fn line(po: &Value, index: usize) -> Value {
    po["lines"]["nodes"][index].clone()
}

#[tokio::test]
async fn create_gives_pending_numbered_orders_with_vendor_tax_and_exact_totals() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let year = chrono::Utc::now().year();
    let po = create_po(&app, &fx, &[(0, "3", Some("1.115")), (2, "7", None)]).await;
    assert_eq!(po["number"], format!("PO-{year}-0001"));
    assert_eq!(po["status"], "PENDING");
    assert_eq!(po["version"], 1);
    assert_eq!(po["taxRate"], "0.08", "the vendor's default tax rate");
    assert_eq!(line(&po, 0)["lineNumber"], 1);
    assert_eq!(line(&po, 1)["lineNumber"], 2);
    assert_eq!(
        line(&po, 1)["unitCost"],
        "0.3333",
        "the product's default cost"
    );
    // 3 × 1.115 + 7 × 0.3333 = 3.345 + 2.3331 = 5.6781 → 5.68; tax 0.454248 → 0.45.
    assert_eq!(po["subtotal"], "5.68");
    assert_eq!(po["tax"], "0.45");
    assert_eq!(po["total"], "6.13");
    assert!(po["submittedAt"].is_null());
    let second = create_po(&app, &fx, &[(0, "1", None)]).await;
    assert_eq!(second["number"], format!("PO-{year}-0002"));
    // An explicit tax rate overrides the vendor's.
    let mut input = po_input(&fx, &[(0, "1", None)]);
    input["taxRate"] = json!("0.05");
    input["number"] = json!("po-custom-1");
    let custom = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    assert_eq!(custom["taxRate"], "0.05");
    assert_eq!(custom["number"], "PO-CUSTOM-1");
}

#[tokio::test]
async fn a_hand_given_number_that_is_taken_is_refused_and_generation_skips_it() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let year = chrono::Utc::now().year();
    let mut input = po_input(&fx, &[(0, "1", None)]);
    input["number"] = json!(format!("PO-{year}-0001"));
    app.ok("createPurchaseOrder", input.clone(), "purchaseOrder { id }")
        .await;
    let field = app
        .refused("createPurchaseOrder", input, "DUPLICATE_PO_NUMBER")
        .await;
    assert_eq!(field, "input.number");
    let generated = create_po(&app, &fx, &[(0, "1", None)]).await;
    assert_eq!(generated["number"], format!("PO-{year}-0002"));
}

/// Inactive copies of each reference a purchase order names.
struct InactiveReferences {
    vendor: Value,
    location: Value,
    po_type: Value,
    business_unit: Value,
    product: Value,
}

/// Creates one of each reference and deactivates it.
async fn inactive_references(app: &TestApp) -> InactiveReferences {
    let address = json!({ "street": "2 Side St", "city": "X", "postalCode": "1", "country": "US" });
    let create = |name: &'static str, input: Value, object: &'static str| async move {
        app.ok(name, input, &format!("{object} {{ id }}")).await[object]["id"].clone()
    };
    let references = InactiveReferences {
        vendor: create(
            "createVendor",
            json!({ "name": "Old", "code": "OLD", "address": address }),
            "vendor",
        )
        .await,
        location: create(
            "createInventoryLocation",
            json!({ "code": "OLD-WH", "name": "Old" }),
            "inventoryLocation",
        )
        .await,
        po_type: create(
            "createPurchaseOrderType",
            json!({ "name": "Old type" }),
            "purchaseOrderType",
        )
        .await,
        business_unit: create(
            "createBusinessUnit",
            json!({ "name": "Old unit" }),
            "businessUnit",
        )
        .await,
        product: create(
            "createProduct",
            json!({ "sku": "OLD-P", "description": "Old" }),
            "product",
        )
        .await,
    };
    for (name, id) in [
        ("deactivateVendor", &references.vendor),
        ("deactivateInventoryLocation", &references.location),
        ("deactivatePurchaseOrderType", &references.po_type),
        ("deactivateBusinessUnit", &references.business_unit),
        ("deactivateProduct", &references.product),
    ] {
        app.ok(name, json!({ "id": id }), "").await;
    }
    references
}

/// `input` with the value at `path` (object keys and array indexes) replaced.
fn with_value(input: &Value, path: &[&str], value: Value) -> Value {
    let mut input = input.clone();
    let mut target = &mut input;
    for key in &path[..path.len() - 1] {
        target = match key.parse::<usize>() {
            Ok(i) => &mut target[i],
            Err(_) => &mut target[*key],
        };
    }
    target[path[path.len() - 1]] = value;
    input
}

#[tokio::test]
async fn create_refuses_inactive_references_on_their_field_and_writes_nothing() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let old = inactive_references(&app).await;
    let base = po_input(&fx, &[(0, "1", None)]);
    let with = |path: &[&str], value: Value| with_value(&base, path, value);
    let cases = vec![
        (
            with(&["vendorId"], old.vendor.clone()),
            "VENDOR_INACTIVE",
            "input.vendorId",
        ),
        (
            with(&["shipToId"], old.location.clone()),
            "LOCATION_INACTIVE",
            "input.shipToId",
        ),
        (
            with(&["lines", "0", "locationId"], old.location.clone()),
            "LOCATION_INACTIVE",
            "input.lines.0.locationId",
        ),
        (
            with(&["typeId"], old.po_type),
            "REFERENCE_INACTIVE",
            "input.typeId",
        ),
        (
            with(&["businessUnitId"], old.business_unit),
            "REFERENCE_INACTIVE",
            "input.businessUnitId",
        ),
        (
            with(&["lines", "0", "productId"], old.product),
            "PRODUCT_INACTIVE",
            "input.lines.0.productId",
        ),
    ];
    app.assert_each_refused("createPurchaseOrder", cases).await;
}

#[tokio::test]
async fn create_refuses_unknown_and_wrong_type_ids_on_their_field_and_writes_nothing() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let base = po_input(&fx, &[(0, "1", None)]);
    let with = |path: &[&str], value: Value| with_value(&base, path, value);
    let cases = vec![
        (
            with(&["jobId"], json!("gid://stockgraph/Job/999")),
            "NOT_FOUND",
            "input.jobId",
        ),
        (
            with(&["projectId"], json!("gid://stockgraph/Project/999")),
            "NOT_FOUND",
            "input.projectId",
        ),
        (
            with(&["technicianId"], json!("gid://stockgraph/Technician/999")),
            "NOT_FOUND",
            "input.technicianId",
        ),
        (
            with(&["vendorId"], json!("gid://stockgraph/Vendor/999")),
            "NOT_FOUND",
            "input.vendorId",
        ),
        (
            with(&["vendorId"], json!(fx.location)),
            "INVALID_ID",
            "input.vendorId",
        ),
        (
            with(&["vendorId"], json!("42")),
            "INVALID_ID",
            "input.vendorId",
        ),
    ];
    app.assert_each_refused("createPurchaseOrder", cases).await;
}

#[tokio::test]
async fn create_refuses_no_lines_and_out_of_range_values_on_their_field_and_writes_nothing() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let base = po_input(&fx, &[(0, "1", None)]);
    let with = |path: &[&str], value: Value| with_value(&base, path, value);
    let cases = vec![
        (with(&["lines"], json!([])), "INVALID_INPUT", "input.lines"),
        (
            with(&["lines", "0", "quantity"], json!("0")),
            "INVALID_INPUT",
            "input.lines.0.quantity",
        ),
        (
            with(&["lines", "0", "quantity"], json!("-2")),
            "INVALID_INPUT",
            "input.lines.0.quantity",
        ),
        (
            with(&["lines", "0", "quantity"], json!("1.00001")),
            "INVALID_INPUT",
            "input.lines.0.quantity",
        ),
        (
            with(&["lines", "0", "unitCost"], json!("-0.01")),
            "INVALID_INPUT",
            "input.lines.0.unitCost",
        ),
        (
            with(&["taxRate"], json!("1")),
            "INVALID_INPUT",
            "input.taxRate",
        ),
        (
            with(&["shipping"], json!("-1")),
            "INVALID_INPUT",
            "input.shipping",
        ),
        (
            with(&["exchangeRate"], json!("1.1")),
            "INVALID_INPUT",
            "input.exchangeRate",
        ),
        (
            with(&["number"], json!("   ")),
            "INVALID_INPUT",
            "input.number",
        ),
    ];
    app.assert_each_refused("createPurchaseOrder", cases).await;
}

#[tokio::test]
async fn create_refuses_a_json_number_for_a_decimal_before_anything_runs() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let base = po_input(&fx, &[(0, "1", None)]);
    let reply = app
        .post(
            &app.admin.clone(),
            "mutation($input: CreatePurchaseOrderInput!) { createPurchaseOrder(input: $input) { userErrors { code } } }",
            json!({ "input": with_value(&base, &["lines", "0", "quantity"], json!(0.1)) }),
        )
        .await;
    let message = reply.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("decimals are written as strings"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn concurrent_creates_without_a_number_never_share_one() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let creates = (0..8).map(|_| create_po(&app, &fx, &[(0, "1", None)]));
    let orders = futures_util::future::join_all(creates).await;
    let mut numbers: Vec<&str> = orders
        .iter()
        .map(|po| po["number"].as_str().unwrap())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 8, "{numbers:?}");
}

#[tokio::test]
async fn submit_puts_open_quantities_on_order_and_only_from_pending() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(
        &app,
        &fx,
        &[(0, "3", None), (0, "2.5", None), (1, "4", None)],
    )
    .await;
    assert_eq!(
        app.on_order(&fx.products[0], &fx.location).await,
        "0",
        "PENDING orders nothing"
    );
    let submitted = transition(&app, "submitPurchaseOrder", &po).await;
    assert_eq!(submitted["status"], "SUBMITTED");
    assert_eq!(submitted["version"], 2);
    assert!(submitted["submittedAt"].is_string());
    assert_eq!(app.on_order(&fx.products[0], &fx.location).await, "5.5");
    assert_eq!(app.on_order(&fx.products[1], &fx.location).await, "4");
    let input = json!({ "purchaseOrderId": po["id"] });
    assert_eq!(
        app.refused("submitPurchaseOrder", input, "INVALID_TRANSITION")
            .await,
        "input"
    );
}

#[tokio::test]
async fn cancel_releases_on_order_and_is_final() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // From PENDING.
    let pending = create_po(&app, &fx, &[(0, "3", None)]).await;
    assert_eq!(
        transition(&app, "cancelPurchaseOrder", &pending).await["status"],
        "CANCELED"
    );
    // From SUBMITTED: on order goes back to zero.
    let po = create_po(&app, &fx, &[(0, "3", None), (1, "1", None)]).await;
    transition(&app, "submitPurchaseOrder", &po).await;
    assert_eq!(app.on_order(&fx.products[0], &fx.location).await, "3");
    let canceled = transition(&app, "cancelPurchaseOrder", &po).await;
    assert_eq!(canceled["status"], "CANCELED");
    assert_eq!(app.on_order(&fx.products[0], &fx.location).await, "0");
    assert_eq!(app.on_order(&fx.products[1], &fx.location).await, "0");
    // A cancelled order cannot be cancelled, submitted, exported or edited again.
    let id = json!({ "purchaseOrderId": po["id"] });
    app.refused("cancelPurchaseOrder", id.clone(), "INVALID_TRANSITION")
        .await;
    app.refused("submitPurchaseOrder", id.clone(), "INVALID_TRANSITION")
        .await;
    app.refused(
        "markPurchaseOrderExported",
        id.clone(),
        "INVALID_TRANSITION",
    )
    .await;
    app.refused(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "memo": "late" }),
        "PO_NOT_EDITABLE",
    )
    .await;
    app.refused(
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "quantity": "9" }),
        "PO_NOT_EDITABLE",
    )
    .await;
}

#[tokio::test]
async fn header_edits_bump_the_version_and_a_stale_version_is_refused() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(1, "2", None)]).await;
    let edited = app
        .ok(
            "updatePurchaseOrder",
            json!({
                "purchaseOrderId": po["id"], "expectedVersion": 1, "memo": "rush",
                "taxRate": "0.1", "shipping": "5", "expectedDate": "2026-12-24",
                "jobId": fx.job, "projectId": fx.project, "technicianId": fx.technician
            }),
            "purchaseOrder { version memo taxRate shipping total expectedDate job { id } project { id } technician { id } }",
        )
        .await["purchaseOrder"]
        .clone();
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["memo"], "rush");
    assert_eq!(edited["expectedDate"], "2026-12-24");
    assert_eq!(edited["job"]["id"], json!(fx.job));
    // 20 + 2 tax + 5 shipping.
    assert_eq!(edited["total"], "27.00");
    // null clears, omitted keeps.
    let cleared = app
        .ok(
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "memo": null, "jobId": null }),
            "purchaseOrder { version memo job { id } project { id } }",
        )
        .await["purchaseOrder"]
        .clone();
    assert!(cleared["memo"].is_null() && cleared["job"].is_null());
    assert_eq!(cleared["project"]["id"], json!(fx.project));
    let field = app
        .refused(
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "expectedVersion": 1, "memo": "stale" }),
            "STALE_VERSION",
        )
        .await;
    assert_eq!(field, "input.expectedVersion");
    app.refused(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "jobId": "gid://stockgraph/Job/77" }),
        "NOT_FOUND",
    )
    .await;
    app.refused(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": "gid://stockgraph/PurchaseOrder/999", "memo": "x" }),
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn two_concurrent_edits_with_the_same_version_exactly_one_wins() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "1", None)]).await;
    let edit = |memo: &'static str| {
        app.mutate_as(
            &app.admin,
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "expectedVersion": 1, "memo": memo }),
            "purchaseOrder { memo version }",
        )
    };
    let (a, b) = tokio::join!(edit("first"), edit("second"));
    let winners: Vec<&Value> = [&a, &b]
        .into_iter()
        .filter(|p| p["userErrors"] == json!([]))
        .collect();
    assert_eq!(winners.len(), 1, "{a} {b}");
    let loser = if a["userErrors"] == json!([]) { &b } else { &a };
    assert_eq!(loser["userErrors"][0]["code"], "STALE_VERSION");
    let stored = app
        .gql(
            "query($id: ID) { purchaseOrder(id: $id) { memo version } }",
            json!({ "id": po["id"] }),
        )
        .await;
    assert_eq!(stored["purchaseOrder"]["version"], 2);
    assert_eq!(
        stored["purchaseOrder"]["memo"],
        winners[0]["purchaseOrder"]["memo"]
    );
}

#[tokio::test]
async fn lines_are_added_and_removed_only_while_pending_and_numbers_are_never_reused() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "1", None), (1, "1", None)]).await;
    let removed = app
        .ok(
            "removePurchaseOrderLine",
            json!({ "lineId": line(&po, 1)["id"] }),
            PO,
        )
        .await["purchaseOrder"]
        .clone();
    assert_eq!(removed["lines"]["nodes"].as_array().unwrap().len(), 1);
    let added = app
        .ok(
            "addPurchaseOrderLine",
            json!({ "purchaseOrderId": po["id"], "productId": fx.products[2], "locationId": fx.location2, "quantity": "12.5" }),
            "line { lineNumber quantity location { id } } purchaseOrder { version totalLines }",
        )
        .await;
    assert_eq!(added["line"]["lineNumber"], 3, "line 2 is never reused");
    assert_eq!(added["purchaseOrder"]["totalLines"], 2);
    // The same product and location twice is fine.
    app.ok(
        "addPurchaseOrderLine",
        json!({ "purchaseOrderId": po["id"], "productId": fx.products[2], "locationId": fx.location2, "quantity": "1" }),
        "line { lineNumber }",
    )
    .await;
    app.refused(
        "addPurchaseOrderLine",
        json!({ "purchaseOrderId": po["id"], "productId": fx.products[0], "locationId": fx.location, "quantity": "0" }),
        "INVALID_INPUT",
    )
    .await;
    // The last line stays.
    let single = create_po(&app, &fx, &[(0, "1", None)]).await;
    assert_eq!(
        app.refused(
            "removePurchaseOrderLine",
            json!({ "lineId": line(&single, 0)["id"] }),
            "LAST_LINE"
        )
        .await,
        "input.lineId"
    );
    // Once submitted: no adding, no removing.
    let submitted = transition(&app, "submitPurchaseOrder", &po).await;
    app.refused(
        "addPurchaseOrderLine",
        json!({ "purchaseOrderId": po["id"], "productId": fx.products[0], "locationId": fx.location, "quantity": "1" }),
        "PO_NOT_EDITABLE",
    )
    .await;
    app.refused(
        "removePurchaseOrderLine",
        json!({ "lineId": line(&submitted, 0)["id"] }),
        "PO_NOT_EDITABLE",
    )
    .await;
}

#[tokio::test]
async fn line_edits_on_a_submitted_order_move_on_order_quantities() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "4", None)]).await;
    transition(&app, "submitPurchaseOrder", &po).await;
    let id = line(&po, 0)["id"].clone();
    app.ok(
        "updatePurchaseOrderLine",
        json!({ "lineId": id, "quantity": "6" }),
        "line { quantity }",
    )
    .await;
    assert_eq!(app.on_order(&fx.products[0], &fx.location).await, "6");
    let moved = app
        .ok(
            "updatePurchaseOrderLine",
            json!({ "lineId": id, "productId": fx.products[1], "locationId": fx.location2, "unitCost": "9.99", "memo": "swap" }),
            "line { unitCost memo product { id } location { id } } purchaseOrder { status version subtotal }",
        )
        .await;
    assert_eq!(moved["line"]["unitCost"], "9.99");
    assert_eq!(moved["purchaseOrder"]["status"], "SUBMITTED");
    assert_eq!(moved["purchaseOrder"]["subtotal"], "59.94");
    assert_eq!(app.on_order(&fx.products[0], &fx.location).await, "0");
    assert_eq!(app.on_order(&fx.products[1], &fx.location2).await, "6");
    for (input, code, field) in [
        (
            json!({ "lineId": id, "quantity": "0" }),
            "INVALID_INPUT",
            "input.quantity",
        ),
        (
            json!({ "lineId": id, "unitCost": "-1" }),
            "INVALID_INPUT",
            "input.unitCost",
        ),
        (
            json!({ "lineId": id, "expectedVersion": 1 }),
            "STALE_VERSION",
            "input.expectedVersion",
        ),
        (
            json!({ "lineId": "gid://stockgraph/PurchaseOrderLine/999" }),
            "NOT_FOUND",
            "input.lineId",
        ),
        (
            json!({ "lineId": id, "productId": "gid://stockgraph/Product/999" }),
            "NOT_FOUND",
            "input.productId",
        ),
    ] {
        assert_eq!(
            app.refused("updatePurchaseOrderLine", input, code).await,
            field
        );
    }
}

#[tokio::test]
async fn an_exported_order_locks_header_and_lines() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "4", None), (1, "1", None)]).await;
    transition(&app, "submitPurchaseOrder", &po).await;
    let exported = transition(&app, "markPurchaseOrderExported", &po).await;
    assert!(exported["exportedAt"].is_string());
    assert_eq!(exported["status"], "SUBMITTED");
    let id = json!({ "purchaseOrderId": po["id"] });
    app.refused("markPurchaseOrderExported", id, "INVALID_TRANSITION")
        .await;
    app.refused(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "memo": "no" }),
        "PO_NOT_EDITABLE",
    )
    .await;
    app.refused(
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "quantity": "5" }),
        "PO_NOT_EDITABLE",
    )
    .await;
    // A PENDING export blocks adding and removing lines too.
    let pending = create_po(&app, &fx, &[(0, "1", None), (1, "1", None)]).await;
    transition(&app, "markPurchaseOrderExported", &pending).await;
    app.refused(
        "removePurchaseOrderLine",
        json!({ "lineId": line(&pending, 1)["id"] }),
        "PO_NOT_EDITABLE",
    )
    .await;
    app.refused(
        "addPurchaseOrderLine",
        json!({ "purchaseOrderId": pending["id"], "productId": fx.products[0], "locationId": fx.location, "quantity": "1" }),
        "PO_NOT_EDITABLE",
    )
    .await;
}

#[tokio::test]
async fn without_costs_read_unit_costs_sent_are_ignored() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let clerk = app.token(&[
        Permission::PurchaseOrdersWrite,
        Permission::PurchaseOrdersRead,
    ]);
    let payload = app
        .mutate_as(
            &clerk,
            "createPurchaseOrder",
            po_input(&fx, &[(0, "2", Some("99"))]),
            "purchaseOrder { id total lines(first: 5) { nodes { id unitCost amount } } }",
        )
        .await;
    let po = &payload["purchaseOrder"];
    assert!(po["total"].is_null() && po["lines"]["nodes"][0]["unitCost"].is_null());
    let line_id = po["lines"]["nodes"][0]["id"].clone();
    app.mutate_as(
        &clerk,
        "updatePurchaseOrderLine",
        json!({ "lineId": line_id, "unitCost": "50" }),
        "line { id }",
    )
    .await;
    let seen = app
        .gql(
            "query($id: ID) { purchaseOrder(id: $id) { total lines(first: 5) { nodes { unitCost } } } }",
            json!({ "id": po["id"] }),
        )
        .await;
    assert_eq!(
        seen["purchaseOrder"]["lines"]["nodes"][0]["unitCost"],
        "2.5"
    );
    assert_eq!(s(&seen["purchaseOrder"]["total"]), "5.40");
}

/// A job material: 5 × product 1 for the fixture's job.
async fn five_for_the_job(app: &TestApp, fx: &Fixture) -> Value {
    app.ok(
        "createJobMaterial",
        json!({ "jobId": fx.job, "productId": fx.products[1], "quantity": "5" }),
        "jobMaterial { id status quantity }",
    )
    .await["jobMaterial"]
        .clone()
}

/// A create input whose one line buys `material`: `quantity` of `product`, or of no product
/// given (the material's).
fn buying(fx: &Fixture, material: &Value, product: Option<&str>, quantity: &str) -> Value {
    let mut input = po_input(fx, &[(0, quantity, None)]);
    input["lines"][0]["jobMaterialId"] = material["id"].clone();
    match product {
        Some(p) => input["lines"][0]["productId"] = json!(p),
        None => {
            input["lines"][0]
                .as_object_mut()
                .unwrap()
                .remove("productId");
        }
    }
    input
}

/// Creates an order whose one line buys all of `material` (5 × product 1).
async fn order_buying_all_of(app: &TestApp, fx: &Fixture, material: &Value) -> Value {
    app.ok(
        "createPurchaseOrder",
        buying(fx, material, Some(&fx.products[1]), "5"),
        PO,
    )
    .await["purchaseOrder"]
        .clone()
}

#[tokio::test]
async fn a_new_job_material_needs_ordering_and_a_positive_quantity() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let material = five_for_the_job(&app, &fx).await;
    assert_eq!(material["status"], "NEED_TO_ORDER");
    app.refused(
        "createJobMaterial",
        json!({ "jobId": fx.job, "productId": fx.products[1], "quantity": "0" }),
        "INVALID_INPUT",
    )
    .await;
}

#[tokio::test]
async fn a_line_for_a_job_material_may_not_buy_more_of_it_or_another_product() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let material = five_for_the_job(&app, &fx).await;
    assert_eq!(
        app.refused(
            "createPurchaseOrder",
            buying(&fx, &material, None, "6"),
            "JOB_MATERIAL_UNAVAILABLE"
        )
        .await,
        "input.lines.0.quantity"
    );
    assert_eq!(
        app.refused(
            "createPurchaseOrder",
            buying(&fx, &material, Some(&fx.products[0]), "5"),
            "JOB_MATERIAL_UNAVAILABLE"
        )
        .await,
        "input.lines.0.productId"
    );
}

#[tokio::test]
async fn a_job_material_is_bought_by_one_line_only() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let material = five_for_the_job(&app, &fx).await;
    let po = order_buying_all_of(&app, &fx, &material).await;
    assert_eq!(line(&po, 0)["product"]["id"], json!(fx.products[1]));
    // Already on a purchase order.
    app.refused(
        "createPurchaseOrder",
        buying(&fx, &material, None, "1"),
        "JOB_MATERIAL_UNAVAILABLE",
    )
    .await;
}

#[tokio::test]
async fn a_job_material_is_ordered_when_its_order_is_submitted_and_needed_again_when_it_is_cancelled(
) {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let material = five_for_the_job(&app, &fx).await;
    let po = order_buying_all_of(&app, &fx, &material).await;
    transition(&app, "submitPurchaseOrder", &po).await;
    assert_eq!(
        material_status(&app, material["id"].clone()).await,
        "ORDERED"
    );
    transition(&app, "cancelPurchaseOrder", &po).await;
    assert_eq!(
        material_status(&app, material["id"].clone()).await,
        "NEED_TO_ORDER"
    );
}

#[tokio::test]
async fn removing_its_line_frees_a_job_material() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let material = five_for_the_job(&app, &fx).await;
    let mut input = buying(&fx, &material, None, "2");
    input["lines"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "productId": fx.products[0], "locationId": fx.location, "quantity": "1" }));
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    app.ok(
        "removePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"] }),
        "",
    )
    .await;
    assert_eq!(
        material_status(&app, material["id"].clone()).await,
        "NEED_TO_ORDER"
    );
    // Free again: another order may buy it.
    app.ok(
        "createPurchaseOrder",
        buying(&fx, &material, None, "1"),
        "purchaseOrder { id }",
    )
    .await;
}

async fn material_status(app: &TestApp, id: Value) -> String {
    use entity::job_material::Entity;
    use sea_orm::EntityTrait;
    let material = Entity::find_by_id(crate::helpers::row_id(&id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    async_graphql::Value::from(stockgraph::graphql::enums::JobMaterialStatus::from(
        material.status,
    ))
    .to_string()
}

#[tokio::test]
async fn a_foreign_currency_vendor_needs_an_exchange_rate_editable_only_while_pending() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let address =
        json!({ "street": "Rue 1", "city": "Paris", "postalCode": "75001", "country": "FR" });
    let euro = app
        .ok(
            "createVendor",
            json!({ "name": "Euro Parts", "code": "EURO", "address": address, "currency": "EUR" }),
            "vendor { id currency }",
        )
        .await["vendor"]
        .clone();
    assert_eq!(euro["currency"], "EUR");
    let mut input = po_input(&fx, &[(1, "3", None)]);
    input["vendorId"] = euro["id"].clone();
    assert_eq!(
        app.refused("createPurchaseOrder", input.clone(), "INVALID_INPUT")
            .await,
        "input.exchangeRate"
    );
    input["exchangeRate"] = json!("1.08");
    let po = app
        .ok(
            "createPurchaseOrder",
            input,
            "purchaseOrder { id currency exchangeRate total baseTotal }",
        )
        .await["purchaseOrder"]
        .clone();
    assert_eq!(po["currency"], "EUR");
    assert_eq!(po["exchangeRate"], "1.08");
    assert_eq!(po["total"], "30.00");
    assert_eq!(po["baseTotal"], "32.40");
    app.ok(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "exchangeRate": "1.1" }),
        "",
    )
    .await;
    app.ok(
        "submitPurchaseOrder",
        json!({ "purchaseOrderId": po["id"] }),
        "",
    )
    .await;
    assert_eq!(
        app.refused(
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "exchangeRate": "1.2" }),
            "PO_NOT_EDITABLE"
        )
        .await,
        "input.exchangeRate"
    );
}

#[tokio::test]
async fn the_status_is_never_an_input() {
    let app = spawn_app().await;
    let data = app
        .gql(
            "{ __schema { types { name kind inputFields { name } } } }",
            json!({}),
        )
        .await;
    for t in data["__schema"]["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        // Filters may select by status; no input that writes may carry one.
        let writes = !name.ends_with("Filter") && !name.ends_with("Sort");
        if t["kind"] == "INPUT_OBJECT" && name.contains("PurchaseOrder") && writes {
            let fields = t["inputFields"].as_array().unwrap();
            assert!(
                fields.iter().all(|f| f["name"] != "status"),
                "{} accepts a status",
                t["name"]
            );
        }
    }
}

#[tokio::test]
async fn a_mutation_over_get_is_refused_with_405() {
    let app = spawn_app().await;
    let request = axum::http::Request::get(
        "/graphql?query=mutation%7BcancelPurchaseOrder(input%3A%7BpurchaseOrderId%3A%22x%22%7D)%7BuserErrors%7Bcode%7D%7D%7D",
    )
    .header("authorization", format!("Bearer {}", app.admin))
    .body(axum::body::Body::empty())
    .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, axum::http::StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn committed_status_changes_are_published_and_refusals_publish_nothing() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let mut events = app.events.subscribe();
    let po = create_po(&app, &fx, &[(0, "2", None)]).await;
    transition(&app, "submitPurchaseOrder", &po).await;
    app.refused(
        "submitPurchaseOrder",
        json!({ "purchaseOrderId": po["id"] }),
        "INVALID_TRANSITION",
    )
    .await;
    // Delivery is asynchronous (after commit, in outbox order): wait for the two however busy
    // the machine is, then make sure nothing else follows.
    let mut statuses = Vec::new();
    let mut wait = std::time::Duration::from_secs(20);
    while let Ok(Ok(event)) = tokio::time::timeout(wait, events.recv()).await {
        if event.kind == stockgraph::events::EventKind::PurchaseOrderStatusChanged {
            statuses.push(event.payload["status"].as_str().unwrap().to_owned());
        }
        if statuses.len() == 2 {
            wait = std::time::Duration::from_millis(1500);
        }
    }
    assert_eq!(statuses, ["PENDING", "SUBMITTED"]);
}
