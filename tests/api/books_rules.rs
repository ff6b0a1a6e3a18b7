//! Rules that were not enforced (issue 11, findings 6–12; issue 12, findings 5 and 9): backorder
//! numbers, reordering, inactive references, money without `costs:read`, job materials closed
//! short, receipt dates, location deactivation, adjustment reasons, reservation codes, no-op
//! edits and caller-scoped idempotency keys.

use entity::enums::JobMaterialStatus;
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use stockgraph::auth::Permission;

use crate::helpers::{row_id, spawn_app, Fixture, TestApp};
use crate::purchasing::{create_po, line, po_input, transition, PO};

const RECEIVE: &str = "receipt { id number receivedBy } bill { id } purchaseOrder { id status }";

/// Moves an order's submission back to `at`, as if it had been sent then, so a receipt may be
/// dated on that day.
pub async fn backdate_submission(app: &TestApp, po: &Value, at: &str) {
    use entity::purchase_order::{Column, Entity};
    let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
    Entity::update_many()
        .col_expr(Column::SubmittedAt, Expr::value(at))
        .filter(Column::Id.eq(row_id(&po["id"])))
        .exec(&app.db)
        .await
        .unwrap();
}

async fn submitted(app: &TestApp, fx: &Fixture, lines: &[(usize, &str, Option<&str>)]) -> Value {
    let po = create_po(app, fx, lines).await;
    transition(app, "submitPurchaseOrder", &po).await
}

fn receive_input(po: &Value, lines: &[(usize, &str)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(i, q)| json!({ "lineId": line(po, *i)["id"], "quantity": q }))
        .collect();
    json!({ "purchaseOrderId": po["id"], "lines": lines })
}

async fn receive(app: &TestApp, po: &Value, lines: &[(usize, &str)]) -> Value {
    app.ok("receivePurchaseOrder", receive_input(po, lines), RECEIVE)
        .await
}

async fn finalize(app: &TestApp, po: &Value, backorder: bool) -> Value {
    app.ok(
        "finalizePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "createBackorder": backorder }),
        "purchaseOrder { id status } backorder { id number status lines(first: 10) { nodes { id quantity } } }",
    )
    .await
}

/// The job's materials as stored, oldest first: (status, quantity, line id).
async fn materials(app: &TestApp, job: &str) -> Vec<(JobMaterialStatus, String, Option<i32>)> {
    use entity::job_material::{Column, Entity};
    Entity::find()
        .filter(Column::JobId.eq(row_id(&json!(job))))
        .order_by_asc(Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| {
            (
                m.status,
                m.quantity.to_decimal().normalize().to_string(),
                m.purchase_order_line_id,
            )
        })
        .collect()
}

async fn material(app: &TestApp, fx: &Fixture, product: usize, quantity: &str) -> Value {
    app.ok(
        "createJobMaterial",
        json!({ "jobId": fx.job, "productId": fx.products[product], "quantity": quantity }),
        "jobMaterial { id }",
    )
    .await["jobMaterial"]["id"]
        .clone()
}

/// A PENDING order whose only line fills `material`.
async fn order_for_material(
    app: &TestApp,
    fx: &Fixture,
    material: &Value,
    quantity: &str,
) -> Value {
    let mut input = po_input(fx, &[(1, quantity, None)]);
    input["lines"][0]["jobMaterialId"] = material.clone();
    app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone()
}

async fn vendor(app: &TestApp, code: &str) -> String {
    let address = json!({ "street": "2 B St", "city": "C", "postalCode": "2", "country": "US" });
    app.ok(
        "createVendor",
        json!({ "name": code, "code": code, "address": address }),
        "vendor { id }",
    )
    .await["vendor"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn location(app: &TestApp, code: &str) -> String {
    app.ok(
        "createInventoryLocation",
        json!({ "code": code, "name": code }),
        "inventoryLocation { id }",
    )
    .await["inventoryLocation"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn prefer(app: &TestApp, product: &str, vendor: &str) {
    app.ok(
        "updateProduct",
        json!({ "id": product, "preferredVendorId": vendor }),
        "",
    )
    .await;
}

async fn reorder_point(app: &TestApp, product: &str, location: &str, minimum: &str, maximum: &str) {
    app.ok(
        "upsertInventoryItem",
        json!({ "productId": product, "locationId": location, "minimum": minimum, "maximum": maximum }),
        "",
    )
    .await;
}

async fn stock(app: &TestApp, product: &str, location: &str, quantity: &str) {
    app.ok(
        "adjustInventory",
        json!({ "productId": product, "locationId": location, "delta": quantity, "reason": "FOUND" }),
        "",
    )
    .await;
}

// Finding 6.

#[tokio::test]
async fn a_backorder_number_a_client_already_took_is_skipped() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(0, "10", None)]).await;
    let number = po["number"].as_str().unwrap().to_owned();
    // A client chose the number the first backorder would get.
    let mut squatter = po_input(&fx, &[(1, "1", None)]);
    squatter["number"] = json!(format!("{number}-BO1"));
    app.ok("createPurchaseOrder", squatter, "purchaseOrder { id }")
        .await;
    receive(&app, &po, &[(0, "4")]).await;
    let done = finalize(&app, &po, true).await;
    assert_eq!(done["purchaseOrder"]["status"], "CLOSED");
    assert_eq!(done["backorder"]["number"], format!("{number}-BO2"));
    assert_eq!(done["backorder"]["lines"]["nodes"][0]["quantity"], "6");
    // The next backorder of the same original continues the count.
    let backorder = app
        .gql(
            &format!(
                "query($id: ID) {{ {} }}",
                PO.replacen("purchaseOrder", "purchaseOrder(id: $id)", 1)
            ),
            json!({ "id": done["backorder"]["id"] }),
        )
        .await["purchaseOrder"]
        .clone();
    receive(&app, &backorder, &[(0, "1")]).await;
    let again = finalize(&app, &backorder, true).await;
    assert_eq!(again["backorder"]["number"], format!("{number}-BO3"));
    app.assert_books_balance(Decimal::ZERO).await;
}

// Finding 7.

#[tokio::test]
async fn reorder_skips_inactive_vendors_and_locations_and_still_creates_the_other_orders() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let other = vendor(&app, "OTHER").await;
    let closed = location(&app, "CLOSED-WH").await;
    prefer(&app, &fx.products[0], &fx.vendor).await;
    prefer(&app, &fx.products[1], &other).await;
    reorder_point(&app, &fx.products[0], &fx.location, "5", "10").await;
    reorder_point(&app, &fx.products[1], &fx.location, "2", "4").await;
    reorder_point(&app, &fx.products[0], &closed, "1", "3").await;
    reorder_point(&app, &fx.products[2], &fx.location, "1", "1").await;
    app.ok("deactivateVendor", json!({ "id": other }), "").await;
    app.ok("deactivateInventoryLocation", json!({ "id": closed }), "")
        .await;
    let done = app
        .ok(
            "createReorderPurchaseOrders",
            json!({}),
            "purchaseOrders { vendor { id } shipTo { id } lines(first: 10) { nodes { quantity product { id } } } } \
             skipped { product { id } location { id } quantity skipReason skipMessage }",
        )
        .await;
    let orders = done["purchaseOrders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{done}");
    assert_eq!(orders[0]["vendor"]["id"], json!(fx.vendor));
    assert_eq!(orders[0]["lines"]["nodes"][0]["quantity"], "10");
    let mut skipped: Vec<(String, String, String)> = done["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(!s["skipMessage"].as_str().unwrap().is_empty());
            (
                s["product"]["id"].as_str().unwrap().to_owned(),
                s["location"]["id"].as_str().unwrap().to_owned(),
                s["skipReason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    skipped.sort();
    let mut expected = vec![
        (
            fx.products[1].clone(),
            fx.location.clone(),
            "VENDOR_INACTIVE".to_owned(),
        ),
        (
            fx.products[0].clone(),
            closed.clone(),
            "LOCATION_INACTIVE".to_owned(),
        ),
        (
            fx.products[2].clone(),
            fx.location.clone(),
            "NO_PREFERRED_VENDOR".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(skipped, expected);
}

#[tokio::test]
async fn an_order_the_service_cannot_make_is_skipped_with_its_reason() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // A vendor billing in another currency needs an exchange rate that a reorder cannot know.
    let address = json!({ "street": "2 B St", "city": "C", "postalCode": "2", "country": "DE" });
    let euro = app
        .ok(
            "createVendor",
            json!({ "name": "Euro", "code": "EURO", "address": address, "currency": "EUR" }),
            "vendor { id }",
        )
        .await["vendor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    prefer(&app, &fx.products[0], &fx.vendor).await;
    prefer(&app, &fx.products[1], &euro).await;
    reorder_point(&app, &fx.products[0], &fx.location, "1", "2").await;
    reorder_point(&app, &fx.products[1], &fx.location, "1", "2").await;
    let done = app
        .ok(
            "createReorderPurchaseOrders",
            json!({}),
            "purchaseOrders { vendor { id } } skipped { product { id } skipReason skipMessage }",
        )
        .await;
    assert_eq!(done["purchaseOrders"].as_array().unwrap().len(), 1);
    assert_eq!(done["purchaseOrders"][0]["vendor"]["id"], json!(fx.vendor));
    assert_eq!(done["skipped"][0]["product"]["id"], json!(fx.products[1]));
    assert_eq!(done["skipped"][0]["skipReason"], "ORDER_REFUSED");
    assert!(done["skipped"][0]["skipMessage"]
        .as_str()
        .unwrap()
        .contains("exchange rate"));
}

#[tokio::test]
async fn reorder_suggestions_never_list_inactive_products_or_locations() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let closed = location(&app, "CLOSED-WH").await;
    reorder_point(&app, &fx.products[0], &fx.location, "5", "10").await;
    reorder_point(&app, &fx.products[1], &fx.location, "5", "10").await;
    reorder_point(&app, &fx.products[0], &closed, "5", "10").await;
    let listed = app
        .gql("{ reorderSuggestions { product { id } } }", json!({}))
        .await;
    assert_eq!(listed["reorderSuggestions"].as_array().unwrap().len(), 3);
    app.ok("deactivateProduct", json!({ "id": fx.products[1] }), "")
        .await;
    app.ok("deactivateInventoryLocation", json!({ "id": closed }), "")
        .await;
    let data = app
        .gql(
            "{ reorderSuggestions { product { id } location { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["reorderSuggestions"],
        json!([{ "product": { "id": fx.products[0] }, "location": { "id": fx.location } }])
    );
}

// Finding 8.

#[tokio::test]
async fn reorder_counts_pending_orders_so_asking_twice_orders_nothing_twice() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (bolt, pipe) = (&fx.products[0], &fx.products[1]);
    prefer(&app, bolt, &fx.vendor).await;
    prefer(&app, pipe, &fx.vendor).await;
    reorder_point(&app, bolt, &fx.location, "6", "10").await;
    reorder_point(&app, pipe, &fx.location, "2", "5").await;
    stock(&app, bolt, &fx.location, "1").await;
    // 2 on order (submitted) and 3 pending (not yet submitted): 1 + 2 + 3 = 6 is not below the
    // minimum of 6 for bolts.
    submitted(&app, &fx, &[(0, "2", None)]).await;
    create_po(&app, &fx, &[(0, "3", None)]).await;
    let suggestions = app
        .gql(
            "{ reorderSuggestions { product { id } onHand onOrder pending quantity } }",
            json!({}),
        )
        .await["reorderSuggestions"]
        .clone();
    assert_eq!(
        suggestions,
        json!([{ "product": { "id": pipe }, "onHand": "0", "onOrder": "0", "pending": "0", "quantity": "5" }])
    );
    // One bolt written off: 0 + 2 + 3 = 5 < 6, so 10 − 0 − 2 − 3 = 5 are needed.
    app.ok(
        "adjustInventory",
        json!({ "productId": bolt, "locationId": fx.location, "delta": "-1", "reason": "LOSS" }),
        "",
    )
    .await;
    let first = app
        .ok(
            "createReorderPurchaseOrders",
            json!({}),
            "purchaseOrders { lines(first: 10) { nodes { quantity product { id } } } } skipped { quantity }",
        )
        .await;
    assert_eq!(
        first["purchaseOrders"][0]["lines"]["nodes"],
        json!([
            { "quantity": "5", "product": { "id": bolt } },
            { "quantity": "5", "product": { "id": pipe } }
        ])
    );
    let second = app
        .ok(
            "createReorderPurchaseOrders",
            json!({}),
            "purchaseOrders { id } skipped { quantity }",
        )
        .await;
    assert_eq!(
        second["purchaseOrders"],
        json!([]),
        "asking twice orders nothing twice"
    );
    assert_eq!(second["skipped"], json!([]));
    let due = app
        .gql(
            "{ inventoryItems(filter: { needsReorder: true }) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        due["inventoryItems"]["nodes"],
        json!([]),
        "pending counts in the filter too"
    );
}

// Finding 9.

#[tokio::test]
async fn inactive_jobs_projects_and_technicians_are_refused_on_orders_edits_lines_and_materials() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "1", None)]).await;
    let needed = material(&app, &fx, 1, "1").await;
    for name in ["deactivateJob", "deactivateProject", "deactivateTechnician"] {
        let id = match name {
            "deactivateJob" => &fx.job,
            "deactivateProject" => &fx.project,
            _ => &fx.technician,
        };
        app.ok(name, json!({ "id": id }), "").await;
    }
    for (key, id) in [
        ("jobId", &fx.job),
        ("projectId", &fx.project),
        ("technicianId", &fx.technician),
    ] {
        let mut input = po_input(&fx, &[(0, "1", None)]);
        input[key] = json!(id);
        assert_eq!(
            app.refused("createPurchaseOrder", input, "REFERENCE_INACTIVE")
                .await,
            format!("input.{key}")
        );
        assert_eq!(
            app.refused(
                "updatePurchaseOrder",
                json!({ "purchaseOrderId": po["id"], key: id }),
                "REFERENCE_INACTIVE"
            )
            .await,
            format!("input.{key}")
        );
    }
    for (key, id) in [("jobId", &fx.job), ("projectId", &fx.project)] {
        let mut input = po_input(&fx, &[(0, "1", None)]);
        input["lines"][0][key] = json!(id);
        assert_eq!(
            app.refused("createPurchaseOrder", input, "REFERENCE_INACTIVE")
                .await,
            format!("input.lines.0.{key}")
        );
    }
    // A material of a job that became inactive cannot be put on a line either.
    let mut input = po_input(&fx, &[(1, "1", None)]);
    input["lines"][0]["jobMaterialId"] = needed;
    assert_eq!(
        app.refused("createPurchaseOrder", input, "REFERENCE_INACTIVE")
            .await,
        "input.lines.0.jobMaterialId"
    );
    assert_eq!(
        app.refused(
            "createJobMaterial",
            json!({ "jobId": fx.job, "productId": fx.products[0], "quantity": "1" }),
            "REFERENCE_INACTIVE"
        )
        .await,
        "input.jobId"
    );
}

// Finding 10.

/// A token with every permission but `costs:read` (and `inventory:write`, `admin`).
fn clerk_without_costs(app: &TestApp) -> String {
    app.token(&[
        Permission::PurchaseOrdersRead,
        Permission::PurchaseOrdersWrite,
        Permission::ReceivingWrite,
        Permission::InventoryRead,
        Permission::VendorsRead,
        Permission::VendorsWrite,
        Permission::BillsRead,
    ])
}

/// The clerk creates an order of 2 × product 0 asking for shipping 50 and a tax rate of 0.5;
/// returns its id.
async fn order_by_clerk(app: &TestApp, fx: &Fixture, clerk: &str) -> Value {
    let mut input = po_input(fx, &[(0, "2", None)]);
    input["shipping"] = json!("50");
    input["taxRate"] = json!("0.5");
    app.mutate_as(clerk, "createPurchaseOrder", input, "purchaseOrder { id }")
        .await["purchaseOrder"]["id"]
        .clone()
}

/// An order's shipping, tax rate and version.
async fn order_money(app: &TestApp, id: &Value) -> Value {
    app.gql(
        "query($id: ID) { purchaseOrder(id: $id) { shipping taxRate version } }",
        json!({ "id": id }),
    )
    .await["purchaseOrder"]
        .clone()
}

#[tokio::test]
async fn without_costs_read_a_new_orders_shipping_and_tax_rate_are_ignored() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let clerk = clerk_without_costs(&app);
    let po_id = order_by_clerk(&app, &fx, &clerk).await;
    assert_eq!(
        order_money(&app, &po_id).await,
        json!({ "shipping": "0.00", "taxRate": "0.08", "version": 1 }),
        "the vendor's rate and no shipping"
    );
}

#[tokio::test]
async fn without_costs_read_an_edit_of_shipping_and_tax_rate_is_ignored_and_changes_nothing() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let clerk = clerk_without_costs(&app);
    let po_id = order_by_clerk(&app, &fx, &clerk).await;
    let edited = app
        .mutate_as(
            &clerk,
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": po_id, "shipping": "9", "taxRate": "0.2" }),
            "",
        )
        .await;
    assert_eq!(edited["userErrors"], json!([]));
    assert_eq!(
        order_money(&app, &po_id).await,
        json!({ "shipping": "0.00", "taxRate": "0.08", "version": 1 }),
        "ignored, so nothing changed"
    );
}

#[tokio::test]
async fn without_costs_read_a_receipts_freight_is_ignored_on_it_and_its_bill() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let clerk = clerk_without_costs(&app);
    let po_id = order_by_clerk(&app, &fx, &clerk).await;
    app.ok(
        "submitPurchaseOrder",
        json!({ "purchaseOrderId": po_id }),
        "",
    )
    .await;
    let po = app
        .gql(
            &format!(
                "query($id: ID) {{ {} }}",
                PO.replacen("purchaseOrder", "purchaseOrder(id: $id)", 1)
            ),
            json!({ "id": po_id }),
        )
        .await["purchaseOrder"]
        .clone();
    let mut input = receive_input(&po, &[(0, "2")]);
    input["freight"] = json!("25");
    let receipt = app
        .mutate_as(&clerk, "receivePurchaseOrder", input, "")
        .await;
    assert_eq!(receipt["userErrors"], json!([]));
    let bills = app
        .gql(
            "query($id: ID) { purchaseOrder(id: $id) { receipts { freight bill { freight } } } }",
            json!({ "id": po_id }),
        )
        .await;
    assert_eq!(
        bills["purchaseOrder"]["receipts"],
        json!([{ "freight": "0.00", "bill": { "freight": "0.00" } }])
    );
}

#[tokio::test]
async fn without_costs_read_a_products_default_cost_is_ignored_on_create_and_update() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let clerk = clerk_without_costs(&app);
    let product = app
        .mutate_as(
            &clerk,
            "createProduct",
            json!({ "sku": "NEW-1", "description": "New", "defaultUnitCost": "7" }),
            "product { id }",
        )
        .await["product"]["id"]
        .clone();
    app.mutate_as(
        &clerk,
        "updateProduct",
        json!({ "id": product, "defaultUnitCost": "8" }),
        "",
    )
    .await;
    app.mutate_as(
        &clerk,
        "updateProduct",
        json!({ "id": fx.products[0], "defaultUnitCost": "8" }),
        "",
    )
    .await;
    let seen = app
        .gql(
            "query($p: ID!, $q: ID!) {
                p: node(id: $p) { ... on Product { defaultUnitCost } }
                q: node(id: $q) { ... on Product { defaultUnitCost } }
            }",
            json!({ "p": product, "q": fx.products[0] }),
        )
        .await;
    assert_eq!(
        seen,
        json!({ "p": { "defaultUnitCost": "0" }, "q": { "defaultUnitCost": "2.5" } })
    );
}

#[tokio::test]
async fn without_costs_read_a_vendors_default_tax_rate_is_ignored_on_create_and_update() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let clerk = clerk_without_costs(&app);
    let address = json!({ "street": "2 B St", "city": "C", "postalCode": "2", "country": "US" });
    let vendor = app
        .mutate_as(
            &clerk,
            "createVendor",
            json!({ "name": "V", "code": "V", "address": address, "defaultTaxRate": "0.3" }),
            "vendor { id }",
        )
        .await["vendor"]["id"]
        .clone();
    app.mutate_as(
        &clerk,
        "updateVendor",
        json!({ "id": fx.vendor, "defaultTaxRate": "0.3" }),
        "",
    )
    .await;
    let seen = app
        .gql(
            "query($v: ID!, $w: ID!) {
                v: node(id: $v) { ... on Vendor { defaultTaxRate } }
                w: node(id: $w) { ... on Vendor { defaultTaxRate } }
            }",
            json!({ "v": vendor, "w": fx.vendor }),
        )
        .await;
    assert_eq!(
        seen,
        json!({ "v": { "defaultTaxRate": "0" }, "w": { "defaultTaxRate": "0.08" } })
    );
}

// Finding 11.

#[tokio::test]
async fn a_job_material_closed_short_without_a_backorder_is_needed_again_for_what_did_not_arrive() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // Nothing received: the whole material is needed again.
    let untouched = material(&app, &fx, 1, "4").await;
    let po = order_for_material(&app, &fx, &untouched, "4").await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    finalize(&app, &po, false).await;
    assert_eq!(
        materials(&app, &fx.job).await,
        [(JobMaterialStatus::NeedToOrder, "4".to_owned(), None)]
    );
    // It can be ordered again.
    let again = order_for_material(&app, &fx, &untouched, "4").await;
    let again = transition(&app, "submitPurchaseOrder", &again).await;
    // Part received: that part stays FULFILLED on the line, the rest is a new need.
    receive(&app, &again, &[(0, "1.5")]).await;
    finalize(&app, &again, false).await;
    let line_id = row_id(&line(&again, 0)["id"]);
    assert_eq!(
        materials(&app, &fx.job).await,
        [
            (
                JobMaterialStatus::Fulfilled,
                "1.5".to_owned(),
                Some(line_id)
            ),
            (JobMaterialStatus::NeedToOrder, "2.5".to_owned(), None),
        ]
    );
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn a_job_material_closed_short_with_a_backorder_follows_the_backorder_line() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let need = material(&app, &fx, 1, "4").await;
    let po = order_for_material(&app, &fx, &need, "4").await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    receive(&app, &po, &[(0, "1")]).await;
    let done = finalize(&app, &po, true).await;
    let backorder_line = row_id(&done["backorder"]["lines"]["nodes"][0]["id"]);
    assert_eq!(done["backorder"]["lines"]["nodes"][0]["quantity"], "3");
    assert_eq!(
        materials(&app, &fx.job).await,
        [
            (
                JobMaterialStatus::Fulfilled,
                "1".to_owned(),
                Some(row_id(&line(&po, 0)["id"]))
            ),
            (
                JobMaterialStatus::Ordered,
                "3".to_owned(),
                Some(backorder_line)
            ),
        ]
    );
    // Receiving the backorder fulfils the rest.
    let backorder = app
        .gql(
            &format!(
                "query($id: ID) {{ {} }}",
                PO.replacen("purchaseOrder", "purchaseOrder(id: $id)", 1)
            ),
            json!({ "id": done["backorder"]["id"] }),
        )
        .await["purchaseOrder"]
        .clone();
    receive(&app, &backorder, &[(0, "3")]).await;
    assert_eq!(
        materials(&app, &fx.job).await[1].0,
        JobMaterialStatus::Fulfilled
    );
    // A backorder of a line that received nothing takes the material whole.
    let whole = material(&app, &fx, 1, "2").await;
    let po = order_for_material(&app, &fx, &whole, "2").await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let done = finalize(&app, &po, true).await;
    let backorder_line = row_id(&done["backorder"]["lines"]["nodes"][0]["id"]);
    assert_eq!(
        materials(&app, &fx.job).await[2],
        (
            JobMaterialStatus::Ordered,
            "2".to_owned(),
            Some(backorder_line)
        )
    );
    app.assert_books_balance(Decimal::ZERO).await;
}

// Finding 12.

#[tokio::test]
async fn a_receipt_cannot_be_dated_before_its_order_was_submitted_or_in_the_future() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(0, "2", None)]).await;
    backdate_submission(&app, &po, "2026-03-01T12:00:00Z").await;
    for at in ["2026-03-01T11:59:59Z", "2999-01-01T00:00:00Z"] {
        let mut input = receive_input(&po, &[(0, "1")]);
        input["receivedAt"] = json!(at);
        assert_eq!(
            app.refused("receivePurchaseOrder", input, "INVALID_INPUT")
                .await,
            "input.receivedAt",
            "{at}"
        );
    }
    let mut input = receive_input(&po, &[(0, "1")]);
    input["receivedAt"] = json!("2026-03-01T12:00:00Z");
    app.ok("receivePurchaseOrder", input, "").await;
}

#[tokio::test]
async fn a_location_holding_stock_or_awaiting_an_open_line_cannot_be_deactivated() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let bolt = &fx.products[0];
    let spare = location(&app, "SPARE").await;
    // Stock on hand.
    stock(&app, bolt, &spare, "1").await;
    let deactivate = json!({ "id": spare });
    app.refused(
        "deactivateInventoryLocation",
        deactivate.clone(),
        "LOCATION_IN_USE",
    )
    .await;
    app.refused(
        "updateInventoryLocation",
        json!({ "id": spare, "active": false }),
        "LOCATION_IN_USE",
    )
    .await;
    app.ok(
        "adjustInventory",
        json!({ "productId": bolt, "locationId": spare, "delta": "-1", "reason": "LOSS" }),
        "",
    )
    .await;
    // An open line (even on a PENDING order) still to be delivered there.
    let mut input = po_input(&fx, &[(0, "2", None)]);
    input["lines"][0]["locationId"] = json!(spare);
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    app.refused(
        "deactivateInventoryLocation",
        deactivate.clone(),
        "LOCATION_IN_USE",
    )
    .await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    receive(&app, &po, &[(0, "1")]).await;
    app.refused(
        "deactivateInventoryLocation",
        deactivate.clone(),
        "LOCATION_IN_USE",
    )
    .await;
    finalize(&app, &po, false).await;
    app.refused(
        "deactivateInventoryLocation",
        deactivate.clone(),
        "LOCATION_IN_USE",
    )
    .await;
    app.ok(
        "adjustInventory",
        json!({ "productId": bolt, "locationId": spare, "countedQuantity": "0", "reason": "COUNT" }),
        "",
    )
    .await;
    // Empty and awaited by nothing: it may go.
    let done = app
        .ok(
            "deactivateInventoryLocation",
            deactivate,
            "inventoryLocation { active }",
        )
        .await;
    assert_eq!(done["inventoryLocation"]["active"], false);
}

#[tokio::test]
async fn submit_is_refused_while_the_vendor_or_a_line_product_or_location_is_inactive() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "1", None), (1, "1", None)]).await;
    let submit = json!({ "purchaseOrderId": po["id"] });
    app.ok("deactivateVendor", json!({ "id": fx.vendor }), "")
        .await;
    app.refused("submitPurchaseOrder", submit.clone(), "VENDOR_INACTIVE")
        .await;
    app.ok(
        "updateVendor",
        json!({ "id": fx.vendor, "active": true }),
        "",
    )
    .await;
    app.ok("deactivateProduct", json!({ "id": fx.products[1] }), "")
        .await;
    app.refused("submitPurchaseOrder", submit.clone(), "PRODUCT_INACTIVE")
        .await;
    app.ok(
        "updateProduct",
        json!({ "id": fx.products[1], "active": true }),
        "",
    )
    .await;
    // The API refuses to deactivate a location an open line is bound for; a location made
    // inactive some other way (an older release, the database) still blocks the submit.
    {
        use entity::inventory_location::{Column, Entity};
        Entity::update_many()
            .col_expr(Column::Active, Expr::value(false))
            .filter(Column::Id.eq(row_id(&json!(fx.location))))
            .exec(&app.db)
            .await
            .unwrap();
    }
    app.refused("submitPurchaseOrder", submit.clone(), "LOCATION_INACTIVE")
        .await;
}

#[tokio::test]
async fn damage_and_loss_only_lower_on_hand_found_only_raises_it_and_other_needs_a_memo() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    stock(&app, &fx.products[0], &fx.location, "5").await;
    let adjust = |reason: &str, change: Value| {
        let mut input =
            json!({ "productId": fx.products[0], "locationId": fx.location, "reason": reason });
        for (k, v) in change.as_object().unwrap() {
            input[k] = v.clone();
        }
        input
    };
    for (reason, change, field) in [
        ("DAMAGE", json!({ "delta": "1" }), "input.reason"),
        ("LOSS", json!({ "delta": "1" }), "input.reason"),
        ("FOUND", json!({ "delta": "-1" }), "input.reason"),
        ("DAMAGE", json!({ "countedQuantity": "6" }), "input.reason"),
        ("FOUND", json!({ "countedQuantity": "4" }), "input.reason"),
        ("OTHER", json!({ "delta": "1" }), "input.memo"),
    ] {
        assert_eq!(
            app.refused(
                "adjustInventory",
                adjust(reason, change.clone()),
                "INVALID_INPUT"
            )
            .await,
            field,
            "{reason} {change}"
        );
    }
    for (reason, change) in [
        ("DAMAGE", json!({ "delta": "-1" })),
        ("LOSS", json!({ "countedQuantity": "3" })),
        ("FOUND", json!({ "delta": "2" })),
        (
            "OTHER",
            json!({ "delta": "-1", "memo": "sample for the customer" }),
        ),
        ("OTHER", json!({ "delta": "1", "memo": "sample came back" })),
        ("COUNT", json!({ "delta": "-1" })),
    ] {
        app.ok("adjustInventory", adjust(reason, change), "").await;
    }
    assert_eq!(app.on_hand(&fx.products[0], &fx.location).await, "4");
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn releasing_or_unpicking_more_than_is_reserved_or_picked_has_its_own_code() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    stock(&app, &fx.products[0], &fx.location, "5").await;
    let input = |quantity: &str| json!({ "productId": fx.products[0], "locationId": fx.location, "quantity": quantity });
    app.ok("reserveInventory", input("2"), "").await;
    app.ok("pickInventory", input("1"), "").await;
    app.refused(
        "releaseReservation",
        input("2.0001"),
        "INSUFFICIENT_RESERVED",
    )
    .await;
    app.refused("unpickInventory", input("1.5"), "INSUFFICIENT_PICKED")
        .await;
}

#[tokio::test]
async fn an_edit_that_changes_nothing_writes_nothing_and_keeps_the_version() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "2", Some("1.5"))]).await;
    let edited = app
        .ok(
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "memo": "first" }),
            "purchaseOrder { version }",
        )
        .await;
    assert_eq!(edited["purchaseOrder"]["version"], 2);
    let line_id = line(&po, 0)["id"].clone();
    for (name, input) in [
        (
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": po["id"] }),
        ),
        (
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "memo": "first", "taxRate": "0.08",
                    "shipping": "0", "expectedVersion": 2 }),
        ),
        (
            "updatePurchaseOrderLine",
            json!({ "lineId": line_id, "quantity": "2.0", "unitCost": "1.50",
                    "productId": fx.products[0], "locationId": fx.location }),
        ),
        (
            "updateVendor",
            json!({ "id": fx.vendor, "name": "Acme Supply", "defaultTaxRate": "0.08" }),
        ),
        (
            "updateProduct",
            json!({ "id": fx.products[0], "defaultUnitCost": "2.5" }),
        ),
        (
            "updateInventoryLocation",
            json!({ "id": fx.location, "active": true }),
        ),
    ] {
        let before = app.snapshot().await;
        let payload = app.mutate_as(&app.admin, name, input, "").await;
        assert_eq!(payload["userErrors"], json!([]), "{name}");
        assert!(before == app.snapshot().await, "{name} wrote something");
    }
}

// Idempotency (issue 11 finding 12, issue 12 finding 9).

#[tokio::test]
async fn an_idempotency_key_reused_on_another_operation_is_a_conflict() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    stock(&app, &fx.products[0], &fx.location, "5").await;
    let reserve = json!({ "productId": fx.products[0], "locationId": fx.location,
                          "quantity": "1", "idempotencyKey": "K-1" });
    app.ok("reserveInventory", reserve.clone(), "").await;
    // The same request again is answered from the first result.
    app.ok("reserveInventory", reserve.clone(), "").await;
    let item = app
        .gql("{ inventoryItems { nodes { reserved } } }", json!({}))
        .await;
    assert_eq!(item["inventoryItems"]["nodes"][0]["reserved"], "1");
    // The same key on another mutation, even with fitting input, is refused.
    app.refused("pickInventory", reserve.clone(), "IDEMPOTENCY_CONFLICT")
        .await;
    let po = submitted(&app, &fx, &[(0, "2", None)]).await;
    let mut receive = receive_input(&po, &[(0, "1")]);
    receive["idempotencyKey"] = json!("K-1");
    assert_eq!(
        app.refused("receivePurchaseOrder", receive, "IDEMPOTENCY_CONFLICT")
            .await,
        "input.idempotencyKey"
    );
}

#[tokio::test]
async fn another_callers_idempotency_key_is_invisible() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = submitted(&app, &fx, &[(0, "10", None)]).await;
    let alice = app.raw_token("alice", &["admin"]);
    let bob = app.raw_token("bob", &["admin"]);
    let carol = app.raw_token("carol", &["admin"]);
    let mut input = receive_input(&po, &[(0, "1")]);
    input["idempotencyKey"] = json!("DELIVERY-1");
    // Bob squats Alice's predictable key on another mutation first.
    stock(&app, &fx.products[1], &fx.location, "1").await;
    let squat = app
        .mutate_as(
            &bob,
            "reserveInventory",
            json!({ "productId": fx.products[1], "locationId": fx.location,
                    "quantity": "1", "idempotencyKey": "DELIVERY-1" }),
            "",
        )
        .await;
    assert_eq!(squat["userErrors"], json!([]));
    // Alice's real request goes through, and her retry is answered from her first result.
    let first = app
        .mutate_as(&alice, "receivePurchaseOrder", input.clone(), RECEIVE)
        .await;
    assert_eq!(first["userErrors"], json!([]));
    assert_eq!(first["receipt"]["receivedBy"], "alice");
    let retry = app
        .mutate_as(&alice, "receivePurchaseOrder", input.clone(), RECEIVE)
        .await;
    assert_eq!(retry["receipt"]["id"], first["receipt"]["id"]);
    // Carol sending the same key and input does her own receipt and never sees Alice's.
    let carols = app
        .mutate_as(&carol, "receivePurchaseOrder", input.clone(), RECEIVE)
        .await;
    assert_eq!(carols["userErrors"], json!([]));
    assert_ne!(carols["receipt"]["id"], first["receipt"]["id"]);
    assert_eq!(carols["receipt"]["receivedBy"], "carol");
    // Bob's own key is his reservation: using it to receive is a conflict.
    let bobs = app
        .mutate_as(&bob, "receivePurchaseOrder", input.clone(), RECEIVE)
        .await;
    assert_eq!(bobs["userErrors"][0]["code"], "IDEMPOTENCY_CONFLICT");
    assert_eq!(app.on_hand(&fx.products[0], &fx.location).await, "2");
    app.assert_books_balance(Decimal::ZERO).await;
}

#[tokio::test]
async fn idempotency_keys_are_forgotten_after_the_retention() {
    use entity::idempotency_key::{Column, Entity};
    let app = spawn_app().await;
    let fx = app.fixture().await;
    stock(&app, &fx.products[0], &fx.location, "5").await;
    let reserve = json!({ "productId": fx.products[0], "locationId": fx.location,
                          "quantity": "1", "idempotencyKey": "R-1" });
    app.ok("reserveInventory", reserve.clone(), "").await;
    let count = || async { Entity::find().all(&app.db).await.unwrap().len() };
    assert_eq!(count().await, 1);
    // A key older than the retention (24 h by default) is a new request when used again.
    let old = stockgraph::services::now() - chrono::Duration::hours(25);
    Entity::update_many()
        .col_expr(Column::CreatedAt, Expr::value(old))
        .exec(&app.db)
        .await
        .unwrap();
    app.ok("reserveInventory", reserve.clone(), "").await;
    let item = app
        .gql("{ inventoryItems { nodes { reserved } } }", json!({}))
        .await;
    assert_eq!(item["inventoryItems"]["nodes"][0]["reserved"], "2");
    assert_eq!(count().await, 1, "the expired key was replaced");
    // Pruning removes exactly the keys created before the cutoff.
    let now = stockgraph::services::now();
    let pruned =
        stockgraph::services::idempotency::prune(&app.db, now - chrono::Duration::hours(24))
            .await
            .unwrap();
    assert_eq!(pruned, 0);
    assert_eq!(count().await, 1);
    let pruned =
        stockgraph::services::idempotency::prune(&app.db, now + chrono::Duration::seconds(1))
            .await
            .unwrap();
    assert_eq!(pruned, 1);
    assert_eq!(count().await, 0);
}
