//! Every violation at once (issue 15, points 2 and 3): a refused mutation reports all of its
//! input's violations in `userErrors`, each on the path of its field, in the input's order and
//! once, and writes nothing; a committed mutation answers null, without an error, for a payload
//! object the caller may not read.

use serde_json::{json, Value};
use stockgraph::auth::Permission::*;

use crate::helpers::{spawn_app, Fixture, TestApp};
use crate::purchasing::{create_po, line, po_input, transition, PO};

const MISSING_LOCATION: &str = "gid://stockgraph/InventoryLocation/999999";
const MISSING_PRODUCT: &str = "gid://stockgraph/Product/999999";
const MISSING_VENDOR: &str = "gid://stockgraph/Vendor/999999";
const MISSING_JOB: &str = "gid://stockgraph/Job/999999";

/// Runs `name` as admin, asserts it was refused and wrote nothing; returns each user error as
/// (field path joined with dots, code), in the order answered, after checking that each
/// explains itself and none repeats.
async fn refusals(app: &TestApp, name: &str, input: Value) -> Vec<(String, String)> {
    let before = app.snapshot().await;
    let payload = app.mutate_as(&app.admin.clone(), name, input, "").await;
    assert!(
        before == app.snapshot().await,
        "{name} was refused but changed the database: {payload}"
    );
    let errors = payload["userErrors"]
        .as_array()
        .expect("userErrors")
        .clone();
    assert!(!errors.is_empty(), "{name} was accepted");
    for (i, error) in errors.iter().enumerate() {
        assert!(
            !error["message"].as_str().unwrap_or_default().is_empty(),
            "a refusal explains itself: {payload}"
        );
        assert!(
            !errors[..i].contains(error),
            "{name} answered the same error twice: {payload}"
        );
    }
    errors
        .iter()
        .map(|e| {
            let path = e["field"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .map(|p| p.as_str().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .unwrap_or_default();
            (path, e["code"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
        .collect()
}

/// Asserts that `name` refuses `input` with exactly these (path, code) pairs, in this order,
/// and writes nothing; the same input refused twice answers the same.
async fn assert_refused_with(app: &TestApp, name: &str, input: Value, expected: &[(&str, &str)]) {
    let first = refusals(app, name, input.clone()).await;
    assert_eq!(first, pairs(expected), "{name}");
    assert_eq!(
        refusals(app, name, input).await,
        first,
        "{name}: the order of userErrors is stable"
    );
}

fn address() -> Value {
    json!({ "street": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US" })
}

#[tokio::test]
async fn a_vendor_form_with_five_bad_fields_gets_five_user_errors_on_five_paths() {
    let app = spawn_app().await;
    let input = json!({
        "name": "   ",
        "code": "a b",
        "address": { "street": "1 Main St", "city": "Springfield",
                     "postalCode": "1".repeat(21), "country": "US" },
        "contact": { "email": "not an email" },
        "currency": "XYZ",
    });
    assert_refused_with(
        &app,
        "createVendor",
        input,
        &[
            ("input.name", "INVALID_INPUT"),
            ("input.code", "INVALID_INPUT"),
            ("input.address.postalCode", "INVALID_INPUT"),
            ("input.contact.email", "INVALID_INPUT"),
            ("input.currency", "INVALID_INPUT"),
        ],
    )
    .await;
}

#[tokio::test]
async fn master_data_forms_report_every_bad_field_including_taken_codes() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // A taken code is reported with the other fields' violations.
    assert_refused_with(
        &app,
        "createVendor",
        json!({ "name": "", "code": "acme", "address": address(), "defaultTaxRate": "1.5",
                "paymentTermsDays": 9999 }),
        &[
            ("input.name", "INVALID_INPUT"),
            ("input.code", "DUPLICATE_CODE"),
            ("input.defaultTaxRate", "INVALID_INPUT"),
            ("input.paymentTermsDays", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "updateVendor",
        json!({ "id": fx.vendor, "name": "", "paymentTermsDays": -1, "currency": "EURO",
                "address": { "street": "", "city": "", "postalCode": "1", "country": "US" } }),
        &[
            ("input.name", "INVALID_INPUT"),
            ("input.address.street", "INVALID_INPUT"),
            ("input.address.city", "INVALID_INPUT"),
            ("input.paymentTermsDays", "INVALID_INPUT"),
            ("input.currency", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "createInventoryLocation",
        json!({ "code": "wh-main", "name": " ",
                "address": { "street": "1 Main St", "city": "", "postalCode": "1", "country": "U" } }),
        &[
            ("input.code", "DUPLICATE_CODE"),
            ("input.name", "INVALID_INPUT"),
            ("input.address.city", "INVALID_INPUT"),
            ("input.address.country", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "updateInventoryLocation",
        json!({ "id": fx.location, "name": "", "address": { "street": "", "city": "B",
                "postalCode": "1".repeat(21), "country": "US" } }),
        &[
            ("input.name", "INVALID_INPUT"),
            ("input.address.street", "INVALID_INPUT"),
            ("input.address.postalCode", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "createProduct",
        json!({ "sku": "bolt-m8", "description": "", "unitOfMeasure": "u".repeat(21),
                "defaultUnitCost": "-1", "preferredVendorId": MISSING_VENDOR,
                "overReceiptAllowancePercent": "-5" }),
        &[
            ("input.sku", "DUPLICATE_CODE"),
            ("input.description", "INVALID_INPUT"),
            ("input.unitOfMeasure", "INVALID_INPUT"),
            ("input.defaultUnitCost", "INVALID_INPUT"),
            ("input.preferredVendorId", "NOT_FOUND"),
            ("input.overReceiptAllowancePercent", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "updateProduct",
        json!({ "id": fx.products[0], "description": " ", "defaultUnitCost": "0.00001",
                "overReceiptAllowancePercent": "-1" }),
        &[
            ("input.description", "INVALID_INPUT"),
            ("input.defaultUnitCost", "INVALID_INPUT"),
            ("input.overReceiptAllowancePercent", "INVALID_INPUT"),
        ],
    )
    .await;
}

#[tokio::test]
async fn reference_records_and_job_materials_report_every_bad_field() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    for name in ["createJob", "createProject", "createTechnician"] {
        assert_refused_with(
            &app,
            name,
            json!({ "number": "a b", "name": "" }),
            &[
                ("input.number", "INVALID_INPUT"),
                ("input.name", "INVALID_INPUT"),
            ],
        )
        .await;
    }
    assert_refused_with(
        &app,
        "createJob",
        json!({ "number": "n".repeat(51), "name": "x".repeat(201) }),
        &[
            ("input.number", "INVALID_INPUT"),
            ("input.name", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "createJobMaterial",
        json!({ "jobId": MISSING_JOB, "productId": MISSING_PRODUCT, "quantity": "0" }),
        &[
            ("input.jobId", "NOT_FOUND"),
            ("input.productId", "NOT_FOUND"),
            ("input.quantity", "INVALID_INPUT"),
        ],
    )
    .await;
    // An existing, active job and product leave the quantity alone at fault.
    assert_refused_with(
        &app,
        "createJobMaterial",
        json!({ "jobId": fx.job, "productId": fx.products[0], "quantity": "-2" }),
        &[("input.quantity", "INVALID_INPUT")],
    )
    .await;
}

#[tokio::test]
async fn an_order_with_two_bad_lines_reports_both_lines() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let mut input = po_input(&fx, &[(0, "-1", None), (1, "2", None)]);
    input["lines"][1]["locationId"] = json!(MISSING_LOCATION);
    assert_refused_with(
        &app,
        "createPurchaseOrder",
        input,
        &[
            ("input.lines.0.quantity", "INVALID_INPUT"),
            ("input.lines.1.locationId", "NOT_FOUND"),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_order_reports_its_header_and_every_field_of_every_line_at_once() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let taken = create_po(&app, &fx, &[(0, "1", None)]).await["number"].clone();
    let mut input = po_input(&fx, &[(0, "0", Some("-1")), (1, "1", None), (2, "3", None)]);
    input["number"] = taken;
    input["shipToId"] = json!(MISSING_LOCATION);
    input["shipping"] = json!("1.005");
    input["memo"] = json!("m".repeat(2001));
    input["lines"][0]["memo"] = json!("m".repeat(2001));
    input["lines"][1]["productId"] = json!(MISSING_PRODUCT);
    input["lines"][1]["locationId"] = json!(MISSING_LOCATION);
    assert_refused_with(
        &app,
        "createPurchaseOrder",
        input,
        &[
            ("input.number", "DUPLICATE_PO_NUMBER"),
            ("input.shipToId", "NOT_FOUND"),
            ("input.shipping", "INVALID_INPUT"),
            ("input.memo", "INVALID_INPUT"),
            ("input.lines.0.quantity", "INVALID_INPUT"),
            ("input.lines.0.unitCost", "INVALID_INPUT"),
            ("input.lines.0.memo", "INVALID_INPUT"),
            ("input.lines.1.productId", "NOT_FOUND"),
            ("input.lines.1.locationId", "NOT_FOUND"),
        ],
    )
    .await;
}

#[tokio::test]
async fn order_edits_report_every_bad_field() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "5", None)]).await;
    assert_refused_with(
        &app,
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "memo": "m".repeat(2001), "jobId": MISSING_JOB,
                "taxRate": "1.5", "shipping": "-1" }),
        &[
            ("input.memo", "INVALID_INPUT"),
            ("input.jobId", "NOT_FOUND"),
            ("input.taxRate", "INVALID_INPUT"),
            ("input.shipping", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "addPurchaseOrderLine",
        json!({ "purchaseOrderId": po["id"], "productId": MISSING_PRODUCT,
                "locationId": MISSING_LOCATION, "quantity": "0", "unitCost": "-1" }),
        &[
            ("input.productId", "NOT_FOUND"),
            ("input.locationId", "NOT_FOUND"),
            ("input.quantity", "INVALID_INPUT"),
            ("input.unitCost", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "productId": MISSING_PRODUCT,
                "locationId": MISSING_LOCATION, "unitCost": "0.00001", "memo": "m".repeat(2001),
                "jobId": MISSING_JOB }),
        &[
            ("input.productId", "NOT_FOUND"),
            ("input.locationId", "NOT_FOUND"),
            ("input.unitCost", "INVALID_INPUT"),
            ("input.memo", "INVALID_INPUT"),
            ("input.jobId", "NOT_FOUND"),
        ],
    )
    .await;
}

async fn submitted(app: &TestApp, fx: &Fixture, lines: &[(usize, &str, Option<&str>)]) -> Value {
    let po = create_po(app, fx, lines).await;
    transition(app, "submitPurchaseOrder", &po).await
}

/// A submitted order of the serialized product: `quantity` on line 0 (and 10 of product 0 on
/// line 1 when `with_bolts`).
async fn submitted_serialized(
    app: &TestApp,
    fx: &Fixture,
    quantity: &str,
    with_bolts: bool,
) -> Value {
    let mut input = if with_bolts {
        po_input(fx, &[(0, quantity, None), (0, "10", None)])
    } else {
        po_input(fx, &[(0, quantity, None)])
    };
    input["lines"][0]["productId"] = json!(fx.serialized);
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    transition(app, "submitPurchaseOrder", &po).await
}

#[tokio::test]
async fn a_receipt_with_two_bad_lines_reports_both_lines() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(0, "10", None), (1, "4", None)]).await;
    let input = json!({ "purchaseOrderId": po["id"], "lines": [
        { "lineId": line(&po, 0)["id"], "quantity": "100" },
        { "lineId": line(&po, 1)["id"], "quantity": "-1" },
    ] });
    assert_refused_with(
        &app,
        "receivePurchaseOrder",
        input,
        &[
            ("input.lines.0.quantity", "OVER_RECEIPT"),
            ("input.lines.1.quantity", "INVALID_INPUT"),
        ],
    )
    .await;
    // Two over-receipts: both lines.
    let input = json!({ "purchaseOrderId": po["id"], "lines": [
        { "lineId": line(&po, 0)["id"], "quantity": "11" },
        { "lineId": line(&po, 1)["id"], "quantity": "5" },
    ] });
    assert_refused_with(
        &app,
        "receivePurchaseOrder",
        input,
        &[
            ("input.lines.0.quantity", "OVER_RECEIPT"),
            ("input.lines.1.quantity", "OVER_RECEIPT"),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_receipt_reports_every_line_field_and_its_header_at_once() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // Line 0: 2 serialized pumps; line 1: 10 bolts.
    let po = submitted_serialized(&app, &fx, "2", true).await;
    let input = json!({ "purchaseOrderId": po["id"], "packingSlip": "p".repeat(101),
        "freight": "1.001", "receivedAt": "2999-01-01T00:00:00Z", "lines": [
        { "lineId": line(&po, 1)["id"], "quantity": "-1", "rejectedQuantity": "2" },
        { "lineId": "gid://stockgraph/PurchaseOrderLine/999999", "quantity": "1" },
        { "lineId": line(&po, 0)["id"], "quantity": "2", "serialNumbers": ["S-1"] },
        { "lineId": line(&po, 1)["id"], "quantity": "1" },
    ] });
    assert_refused_with(
        &app,
        "receivePurchaseOrder",
        input,
        &[
            ("input.lines.0.quantity", "INVALID_INPUT"),
            ("input.lines.0.rejectionReason", "INVALID_INPUT"),
            ("input.lines.1.lineId", "NOT_FOUND"),
            ("input.lines.2.serialNumbers", "SERIAL_NUMBERS_MISMATCH"),
            ("input.lines.3.lineId", "INVALID_INPUT"),
            ("input.packingSlip", "INVALID_INPUT"),
            ("input.receivedAt", "INVALID_INPUT"),
            ("input.freight", "INVALID_INPUT"),
        ],
    )
    .await;
}

#[tokio::test]
async fn cancelling_a_receipt_whose_units_left_reports_every_missing_unit() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted_serialized(&app, &fx, "2", false).await;
    let received = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": [
                { "lineId": line(&po, 0)["id"], "quantity": "2", "serialNumbers": ["SN-A", "SN-B"] },
            ] }),
            "receipt { id }",
        )
        .await;
    // Both units are written off since.
    app.ok(
        "adjustInventory",
        json!({ "productId": fx.serialized, "locationId": fx.location, "delta": "-2",
                "reason": "LOSS", "serialNumbers": ["SN-A", "SN-B"] }),
        "inventoryItem { id }",
    )
    .await;
    let errors = refusals(
        &app,
        "cancelReceipt",
        json!({ "receiptId": received["receipt"]["id"] }),
    )
    .await;
    assert_eq!(
        errors,
        pairs(&[
            ("input.receiptId", "SERIAL_NOT_IN_STOCK"),
            ("input.receiptId", "SERIAL_NOT_IN_STOCK"),
        ]),
        "one error per missing unit"
    );
}

#[tokio::test]
async fn stock_operations_report_every_bad_field() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    assert_refused_with(
        &app,
        "adjustInventory",
        json!({ "productId": MISSING_PRODUCT, "locationId": MISSING_LOCATION,
                "delta": "1", "countedQuantity": "1", "reason": "OTHER" }),
        &[
            ("input.productId", "NOT_FOUND"),
            ("input.locationId", "NOT_FOUND"),
            ("input", "INVALID_INPUT"),
            ("input.memo", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "adjustInventory",
        json!({ "productId": fx.products[0], "locationId": fx.location,
                "delta": "5", "reason": "DAMAGE", "memo": "m".repeat(501) }),
        &[
            ("input.reason", "INVALID_INPUT"),
            ("input.memo", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "transferInventory",
        json!({ "productId": MISSING_PRODUCT, "fromLocationId": fx.location,
                "toLocationId": fx.location, "quantity": "-1" }),
        &[
            ("input.productId", "NOT_FOUND"),
            ("input.quantity", "INVALID_INPUT"),
            ("input.toLocationId", "INVALID_INPUT"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "transferInventory",
        json!({ "productId": fx.serialized, "fromLocationId": MISSING_LOCATION,
                "toLocationId": fx.location2, "quantity": "2", "serialNumbers": ["X"] }),
        &[
            ("input.fromLocationId", "NOT_FOUND"),
            ("input.serialNumbers", "SERIAL_NUMBERS_MISMATCH"),
        ],
    )
    .await;
    for name in [
        "reserveInventory",
        "releaseReservation",
        "pickInventory",
        "unpickInventory",
    ] {
        assert_refused_with(
            &app,
            name,
            json!({ "productId": MISSING_PRODUCT, "locationId": MISSING_LOCATION,
                    "quantity": "0", "jobId": MISSING_JOB }),
            &[
                ("input.productId", "NOT_FOUND"),
                ("input.locationId", "NOT_FOUND"),
                ("input.quantity", "INVALID_INPUT"),
                ("input.jobId", "NOT_FOUND"),
            ],
        )
        .await;
    }
    assert_refused_with(
        &app,
        "upsertInventoryItem",
        json!({ "productId": fx.products[0], "locationId": MISSING_LOCATION, "minimum": "-1",
                "maximum": "-2", "bin": "b".repeat(51), "referenceNumber": "r".repeat(51) }),
        &[
            ("input.locationId", "NOT_FOUND"),
            ("input.minimum", "INVALID_INPUT"),
            ("input.maximum", "INVALID_INPUT"),
            ("input.bin", "INVALID_INPUT"),
            ("input.referenceNumber", "INVALID_INPUT"),
        ],
    )
    .await;
}

/// Receives 1 of line 0 of a fresh submitted order as `token`, selecting every payload object.
async fn receive_one(app: &TestApp, fx: &Fixture, token: &str) -> Value {
    let po = submitted(app, fx, &[(0, "5", None)]).await;
    app.mutate_as(
        token,
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "1" }] }),
        "receipt { id number } purchaseOrder { id status } bill { id total }",
    )
    .await
}

#[tokio::test]
async fn a_receive_without_bills_read_commits_and_answers_a_null_bill_without_an_error() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // A receiver who may read orders but not bills: the receipt commits, `bill` is null and
    // the answer carries no error (a client that retries on errors would receive twice).
    let token = app.token(&[ReceivingWrite, PurchaseOrdersRead]);
    let query =
        "mutation($input: ReceivePurchaseOrderInput!) { receivePurchaseOrder(input: $input) \
        { receipt { id } bill { id total } userErrors { code } } }";
    let po = submitted(&app, &fx, &[(0, "5", None)]).await;
    let reply = app
        .post(
            &token,
            query,
            json!({ "input": { "purchaseOrderId": po["id"],
                "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "1" }] } }),
        )
        .await;
    assert!(reply.body.get("errors").is_none(), "{}", reply.body);
    let payload = &reply.body["data"]["receivePurchaseOrder"];
    assert_eq!(payload["userErrors"], json!([]));
    assert!(payload["receipt"]["id"].is_string(), "{payload}");
    assert!(payload["bill"].is_null(), "{payload}");
    assert_eq!(app.on_hand(&fx.products[0], &fx.location).await, "1");
}

#[tokio::test]
async fn a_receive_without_any_read_permission_answers_every_payload_object_null_without_an_error()
{
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let payload = receive_one(&app, &fx, &app.token(&[ReceivingWrite])).await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    for object in ["receipt", "purchaseOrder", "bill"] {
        assert!(payload[object].is_null(), "{object}: {payload}");
    }
}

#[tokio::test]
async fn a_cancel_without_bills_read_commits_and_answers_a_null_credit_bill() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let payload = receive_one(&app, &fx, &app.admin.clone()).await;
    let cancel = app
        .mutate_as(
            &app.token(&[ReceivingWrite, PurchaseOrdersRead]),
            "cancelReceipt",
            json!({ "receiptId": payload["receipt"]["id"] }),
            "receipt { id canceledAt } purchaseOrder { id } creditBill { id total }",
        )
        .await;
    assert_eq!(cancel["userErrors"], json!([]), "{cancel}");
    assert!(cancel["receipt"]["canceledAt"].is_string(), "{cancel}");
    assert!(cancel["creditBill"].is_null(), "{cancel}");
}

#[tokio::test]
async fn an_added_line_without_purchase_orders_read_commits_and_answers_null_line_and_order() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "1", None)]).await;
    let added = app
        .mutate_as(
            &app.token(&[PurchaseOrdersWrite]),
            "addPurchaseOrderLine",
            json!({ "purchaseOrderId": po["id"], "productId": fx.products[1],
                    "locationId": fx.location, "quantity": "1" }),
            "line { id quantity } purchaseOrder { id total }",
        )
        .await;
    assert_eq!(added["userErrors"], json!([]), "{added}");
    assert!(
        added["line"].is_null() && added["purchaseOrder"].is_null(),
        "{added}"
    );
}

#[tokio::test]
async fn a_transfer_without_inventory_read_commits_and_answers_null_items() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // One unit on hand to move.
    receive_one(&app, &fx, &app.admin.clone()).await;
    let moved = app
        .mutate_as(
            &app.token(&[InventoryWrite]),
            "transferInventory",
            json!({ "productId": fx.products[0], "fromLocationId": fx.location,
                    "toLocationId": fx.location2, "quantity": "1" }),
            "from { id onHand } to { id onHand }",
        )
        .await;
    assert_eq!(moved["userErrors"], json!([]), "{moved}");
    assert!(moved["from"].is_null() && moved["to"].is_null(), "{moved}");
    assert_eq!(app.on_hand(&fx.products[0], &fx.location2).await, "1");
}

#[tokio::test]
async fn master_data_created_without_vendors_read_commits_and_answers_a_null_object() {
    let app = spawn_app().await;
    for (name, input, selection) in [
        (
            "createProduct",
            json!({ "sku": "NEW-1", "description": "New" }),
            "product { id defaultUnitCost }",
        ),
        (
            "createInventoryLocation",
            json!({ "code": "NEW-LOC", "name": "New" }),
            "inventoryLocation { id name }",
        ),
        (
            "createBusinessUnit",
            json!({ "name": "New unit" }),
            "businessUnit { id name }",
        ),
    ] {
        let payload = app
            .mutate_as(&app.token(&[VendorsWrite]), name, input, selection)
            .await;
        assert_eq!(payload["userErrors"], json!([]), "{name}: {payload}");
        let object = selection.split_whitespace().next().unwrap();
        assert!(payload[object].is_null(), "{name}: {payload}");
    }
}

#[tokio::test]
async fn malformed_ids_are_reported_together_on_their_paths() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let mut input = po_input(&fx, &[(0, "1", None), (1, "2", None)]);
    input["vendorId"] = json!("nope");
    input["lines"][1]["locationId"] = json!(fx.vendor);
    input["lines"][1]["jobId"] = json!("gid://stockgraph/Job/x");
    assert_refused_with(
        &app,
        "createPurchaseOrder",
        input,
        &[
            ("input.vendorId", "INVALID_ID"),
            ("input.lines.1.locationId", "INVALID_ID"),
            ("input.lines.1.jobId", "INVALID_ID"),
        ],
    )
    .await;
    let po = submitted(&app, &fx, &[(0, "5", None)]).await;
    assert_refused_with(
        &app,
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "lines": [
            { "lineId": "1", "quantity": "1" },
            { "lineId": line(&po, 0)["id"], "quantity": "1" },
            { "lineId": po["id"], "quantity": "1" },
        ] }),
        &[
            ("input.lines.0.lineId", "INVALID_ID"),
            ("input.lines.2.lineId", "INVALID_ID"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "transferInventory",
        json!({ "productId": fx.location, "fromLocationId": "x", "toLocationId": fx.location2,
                "quantity": "1" }),
        &[
            ("input.productId", "INVALID_ID"),
            ("input.fromLocationId", "INVALID_ID"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "updateProduct",
        json!({ "id": "x", "preferredVendorId": fx.location, "description": "New" }),
        &[
            ("input.id", "INVALID_ID"),
            ("input.preferredVendorId", "INVALID_ID"),
        ],
    )
    .await;
    assert_refused_with(
        &app,
        "createJobMaterial",
        json!({ "jobId": fx.project, "productId": "7", "quantity": "1" }),
        &[
            ("input.jobId", "INVALID_ID"),
            ("input.productId", "INVALID_ID"),
        ],
    )
    .await;
}

#[tokio::test]
async fn submitting_an_order_reports_every_inactive_record_it_names() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "1", None), (1, "1", None)]).await;
    app.ok(
        "updateVendor",
        json!({ "id": fx.vendor, "active": false }),
        "vendor { id }",
    )
    .await;
    for product in [&fx.products[0], &fx.products[1]] {
        app.ok(
            "deactivateProduct",
            json!({ "id": product }),
            "product { id }",
        )
        .await;
    }
    assert_refused_with(
        &app,
        "submitPurchaseOrder",
        json!({ "purchaseOrderId": po["id"] }),
        &[
            ("input.purchaseOrderId", "VENDOR_INACTIVE"),
            ("input.purchaseOrderId", "PRODUCT_INACTIVE"),
            ("input.purchaseOrderId", "PRODUCT_INACTIVE"),
        ],
    )
    .await;
}
