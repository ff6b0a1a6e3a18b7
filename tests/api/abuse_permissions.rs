//! Issue 12, findings 5 and 6, replayed: reads across permissions through nested fields, mutation
//! payloads and subscription events, and `costs:read` bypassed through a sort and a tax rate.
//!
//! The matrix follows DOMAIN.md's second *Permissions* table: every object type shows its
//! identity to a caller who reached it through a parent, and every other field (enumerated from
//! the schema, so a field added later is covered) only with the type's own read permission.

use std::time::Duration;

use serde_json::{json, Value};
use stockgraph::auth::Permission::{self, *};

use crate::helpers::{spawn_app, Fixture, TestApp};
use crate::purchasing::{line, po_input, transition, PO};
use crate::ws::client;

/// Identity fields per type: visible to whoever reached the object.
const IDENTITY: &[(&str, &[&str], Permission)] = &[
    ("Vendor", &["id", "code", "name"], VendorsRead),
    (
        "Product",
        &["id", "sku", "description", "unitOfMeasure"],
        VendorsRead,
    ),
    ("InventoryLocation", &["id", "code", "name"], VendorsRead),
    ("BusinessUnit", &["id", "name"], VendorsRead),
    ("PurchaseOrderType", &["id", "name"], VendorsRead),
    ("Job", &["id", "number", "name"], VendorsRead),
    ("Project", &["id", "number", "name"], VendorsRead),
    ("Technician", &["id", "number", "name"], VendorsRead),
    ("JobMaterial", &["id", "status"], PurchaseOrdersRead),
    (
        "PurchaseOrder",
        &["id", "number", "status"],
        PurchaseOrdersRead,
    ),
    (
        "PurchaseOrderLine",
        &["id", "lineNumber"],
        PurchaseOrdersRead,
    ),
    ("Receipt", &["id", "number"], PurchaseOrdersRead),
    ("ReceiptLine", &["id"], PurchaseOrdersRead),
    ("InventoryItem", &["id"], InventoryRead),
    ("StockLedgerEntry", &["id"], InventoryRead),
    ("Bill", &["id", "number"], BillsRead),
    ("BillLine", &["id"], BillsRead),
];

fn identity_of(type_name: &str) -> (&'static [&'static str], Permission) {
    IDENTITY
        .iter()
        .find(|(t, _, _)| *t == type_name)
        .map(|(_, fields, permission)| (*fields, *permission))
        .unwrap_or_else(|| panic!("{type_name} has no row in IDENTITY"))
}

/// Every way an object is reached through a parent by a caller holding only the parent's
/// permission: (type reached, the parent's permission, route with `SEL` where the object's
/// selection goes).
const ROUTES: &[(&str, Permission, &str)] = &[
    (
        "Vendor",
        PurchaseOrdersRead,
        "purchaseOrders { nodes { vendor { SEL } } }",
    ),
    ("Vendor", BillsRead, "bills { nodes { vendor { SEL } } }"),
    (
        "Product",
        PurchaseOrdersRead,
        "purchaseOrders { nodes { lines { nodes { product { SEL } } } } }",
    ),
    (
        "Product",
        InventoryRead,
        "inventoryItems { nodes { product { SEL } } }",
    ),
    (
        "InventoryLocation",
        PurchaseOrdersRead,
        "purchaseOrders { nodes { shipTo { SEL } } }",
    ),
    (
        "InventoryLocation",
        InventoryRead,
        "inventoryItems { nodes { location { SEL } } }",
    ),
    (
        "BusinessUnit",
        PurchaseOrdersRead,
        "purchaseOrders { nodes { businessUnit { SEL } } }",
    ),
    (
        "PurchaseOrderType",
        PurchaseOrdersRead,
        "purchaseOrders { nodes { type { SEL } } }",
    ),
    (
        "Job",
        PurchaseOrdersRead,
        "purchaseOrders { nodes { job { SEL } } }",
    ),
    (
        "Project",
        PurchaseOrdersRead,
        "purchaseOrders { nodes { project { SEL } } }",
    ),
    (
        "Technician",
        PurchaseOrdersRead,
        "purchaseOrders { nodes { technician { SEL } } }",
    ),
    (
        "PurchaseOrder",
        BillsRead,
        "bills { nodes { purchaseOrder { SEL } } }",
    ),
    (
        "PurchaseOrderLine",
        BillsRead,
        "bills { nodes { lines { line { SEL } } } }",
    ),
    ("Receipt", BillsRead, "bills { nodes { receipt { SEL } } }"),
    (
        "InventoryItem",
        PurchaseOrdersRead,
        "purchaseOrders { nodes { lines { nodes { inventoryItem { SEL } } } } }",
    ),
];

/// The data every test reads: master data, a submitted order for a job, project and technician
/// with a job material on its first line, received once (receipt, bill, stock, ledger).
struct World {
    fx: Fixture,
    po: Value,
    /// Global IDs of one object of every type, by type name.
    ids: Vec<(&'static str, String)>,
}

async fn world(app: &TestApp) -> World {
    let fx = app.fixture().await;
    let material = app
        .ok(
            "createJobMaterial",
            json!({ "jobId": fx.job, "productId": fx.products[0], "quantity": "2" }),
            "jobMaterial { id }",
        )
        .await["jobMaterial"]["id"]
        .clone();
    let mut input = po_input(&fx, &[(0, "2", None), (1, "3", None)]);
    input["jobId"] = json!(fx.job);
    input["projectId"] = json!(fx.project);
    input["technicianId"] = json!(fx.technician);
    input["lines"][0]["jobMaterialId"] = material.clone();
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    let po = transition(app, "submitPurchaseOrder", &po).await;
    app.ok(
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "1" }] }),
        "receipt { id }",
    )
    .await;
    let linked = app
        .gql(
            r#"query($id: ID!) { purchaseOrder(id: $id) {
                 businessUnit { id } type { id }
                 lines(first: 1) { nodes { inventoryItem { id ledger { nodes { id } } } } }
                 receipts { id lines { id } bill { id lines { id } } } } }"#,
            json!({ "id": po["id"] }),
        )
        .await["purchaseOrder"]
        .clone();
    let text = |v: &Value| v.as_str().expect("an id").to_owned();
    let item = &linked["lines"]["nodes"][0]["inventoryItem"];
    let receipt = &linked["receipts"][0];
    let ids = vec![
        ("Vendor", fx.vendor.clone()),
        ("Product", fx.products[0].clone()),
        ("InventoryLocation", fx.location.clone()),
        ("BusinessUnit", text(&linked["businessUnit"]["id"])),
        ("PurchaseOrderType", text(&linked["type"]["id"])),
        ("Job", fx.job.clone()),
        ("Project", fx.project.clone()),
        ("Technician", fx.technician.clone()),
        ("JobMaterial", text(&material)),
        ("PurchaseOrder", text(&po["id"])),
        ("PurchaseOrderLine", text(&line(&po, 0)["id"])),
        ("Receipt", text(&receipt["id"])),
        ("ReceiptLine", text(&receipt["lines"][0]["id"])),
        ("InventoryItem", text(&item["id"])),
        ("StockLedgerEntry", text(&item["ledger"]["nodes"][0]["id"])),
        ("Bill", text(&receipt["bill"]["id"])),
        ("BillLine", text(&receipt["bill"]["lines"][0]["id"])),
    ];
    World { fx, po, ids }
}

/// The fields of an object type, each with the selection that asks for it.
async fn fields_of(app: &TestApp, type_name: &str) -> Vec<(String, String)> {
    let data = app
        .gql(
            r#"query($t: String!) { __type(name: $t) { fields {
                 name args { name type { kind } defaultValue }
                 type { kind ofType { kind ofType { kind ofType { kind } } } } } } }"#,
            json!({ "t": type_name }),
        )
        .await;
    let fields = data["__type"]["fields"].as_array().expect("an object type");
    fields
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap().to_owned();
            for arg in f["args"].as_array().unwrap() {
                assert!(
                    arg["type"]["kind"] != "NON_NULL" || !arg["defaultValue"].is_null(),
                    "{type_name}.{name} has a required argument the matrix cannot fill"
                );
            }
            // The innermost kind: composite types need a selection of their own.
            let mut kind = &f["type"];
            while kind["kind"] == "NON_NULL" || kind["kind"] == "LIST" {
                kind = &kind["ofType"];
            }
            let selection = match kind["kind"].as_str() {
                Some("OBJECT" | "INTERFACE" | "UNION") => format!("{name} {{ __typename }}"),
                _ => name.clone(),
            };
            (name, selection)
        })
        .collect()
}

async fn body(app: &TestApp, token: &str, query: &str) -> Value {
    app.post(token, query, json!({})).await.body
}

fn errors(body: &Value) -> Vec<Value> {
    body["errors"].as_array().cloned().unwrap_or_default()
}

/// True when `body` carries a FORBIDDEN error for `field` naming `permission`.
fn forbids(body: &Value, field: &str, permission: Permission) -> bool {
    errors(body).iter().any(|e| {
        e["extensions"]["code"] == "FORBIDDEN"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains(permission.as_str()))
            && e["path"]
                .as_array()
                .and_then(|p| p.last())
                .is_some_and(|last| last == field)
    })
}

#[tokio::test]
async fn an_object_reached_through_a_parent_shows_its_identity_and_nothing_else_without_its_own_permission(
) {
    let app = spawn_app().await;
    world(&app).await;
    for (type_name, parent, route) in ROUTES {
        let (identity, own) = identity_of(type_name);
        assert_ne!(*parent, own, "{type_name}: a route crosses permissions");
        let parent_only = app.token(&[*parent]);
        let query = |selection: &str| format!("{{ {} }}", route.replace("SEL", selection));

        // The identity: exactly what an admin sees, without any error.
        let identity_query = query(&identity.join(" "));
        let seen = body(&app, &parent_only, &identity_query).await;
        assert!(
            errors(&seen).is_empty(),
            "{type_name} identity through {route}: {seen}"
        );
        let by_admin = app.gql(&identity_query, json!({})).await;
        assert_eq!(seen["data"], by_admin, "{type_name} through {route}");
        let shown = by_admin.to_string();
        for field in identity {
            assert!(
                shown.contains(&format!("\"{field}\":"))
                    && !shown.contains(&format!("\"{field}\":null")),
                "{type_name}.{field} is shown through {route}: {by_admin}"
            );
        }

        // Everything else: refused with FORBIDDEN naming the type's own permission.
        let fields = fields_of(&app, type_name).await;
        let mut checked = 0;
        for (field, selection) in &fields {
            if identity.contains(&field.as_str()) {
                continue;
            }
            let refused = body(&app, &parent_only, &query(&format!("id {selection}"))).await;
            assert!(
                forbids(&refused, field, own),
                "{type_name}.{field} through {route} with only {}: {refused}",
                parent.as_str()
            );
            // With the type's own permission the field is no longer refused for it.
            let both = app.token(&[*parent, own]);
            let allowed = body(&app, &both, &query(&format!("id {selection}"))).await;
            assert!(
                !forbids(&allowed, field, own),
                "{type_name}.{field} through {route} with {}: {allowed}",
                own.as_str()
            );
            checked += 1;
        }
        assert!(checked > 0, "{type_name} has fields beyond its identity");
    }
}

#[tokio::test]
async fn every_type_shows_every_field_to_a_caller_with_its_own_permission() {
    let app = spawn_app().await;
    let world = world(&app).await;
    assert_eq!(world.ids.len(), IDENTITY.len(), "every type has an object");
    for (type_name, id) in &world.ids {
        let (identity, own) = identity_of(type_name);
        let token = app.token(&[own]);
        for (field, selection) in fields_of(&app, type_name).await {
            let query = format!(
                "query($id: ID!) {{ node(id: $id) {{ ... on {type_name} {{ {selection} }} }} }}"
            );
            let reply = app.post(&token, &query, json!({ "id": id })).await.body;
            // Some edges need a second permission (an order's bills need `bills:read`); none
            // is refused for the type's own.
            assert!(
                !forbids(&reply, &field, own),
                "{type_name}.{field} with {}: {reply}",
                own.as_str()
            );
            if identity.contains(&field.as_str()) {
                assert!(errors(&reply).is_empty(), "{type_name}.{field}: {reply}");
                assert!(!reply["data"]["node"][&field].is_null(), "{reply}");
            }
        }
    }
}

#[tokio::test]
async fn a_create_with_only_its_write_permission_commits_and_answers_null_for_the_new_object() {
    let app = spawn_app().await;
    let world = world(&app).await;
    let fx = &world.fx;
    // (mutation, input, what the payload selects, the write permission alone).
    let address = json!({ "street": "1 A St", "city": "B", "postalCode": "1", "country": "US" });
    let cases: Vec<(&str, Value, &str, Permission)> = vec![
        (
            "createVendor",
            json!({ "name": "Other", "code": "OTHER", "address": address }),
            "vendor { id name contact { email } }",
            VendorsWrite,
        ),
        (
            "createJob",
            json!({ "number": "J-9", "name": "Job nine" }),
            "job { id name active }",
            VendorsWrite,
        ),
        (
            "createJobMaterial",
            json!({ "jobId": fx.job, "productId": fx.products[2], "quantity": "1" }),
            "jobMaterial { id quantity }",
            PurchaseOrdersWrite,
        ),
        (
            "createPurchaseOrder",
            po_input(fx, &[(2, "1", None)]),
            "purchaseOrder { id memo vendor { id } lines { nodes { quantity } } }",
            PurchaseOrdersWrite,
        ),
        (
            "upsertInventoryItem",
            json!({ "productId": fx.products[2], "locationId": fx.location2, "minimum": "1" }),
            "inventoryItem { id onHand ledger { nodes { delta } } }",
            InventoryWrite,
        ),
    ];
    for (name, input, selection, write) in cases {
        let payload = app
            .mutate_as(&app.token(&[write]), name, input.clone(), selection)
            .await;
        assert_eq!(payload["userErrors"], json!([]), "{name}: {payload}");
        let object = selection.split_whitespace().next().unwrap();
        assert!(
            payload[object].is_null(),
            "{name} showed {object} to a write-only token: {payload}"
        );
    }
}

#[tokio::test]
async fn a_create_with_the_read_permission_too_shows_the_new_object() {
    let app = spawn_app().await;
    let world = world(&app).await;
    let payload = app
        .mutate_as(
            &app.token(&[PurchaseOrdersWrite, PurchaseOrdersRead]),
            "createPurchaseOrder",
            po_input(&world.fx, &[(2, "1", None)]),
            "purchaseOrder { id memo }",
        )
        .await;
    assert!(payload["purchaseOrder"]["id"].is_string(), "{payload}");
}

#[tokio::test]
async fn an_edit_with_only_the_write_permission_commits_and_is_no_way_to_read_the_order() {
    let app = spawn_app().await;
    let world = world(&app).await;
    let payload = app
        .mutate_as(
            &app.token(&[PurchaseOrdersWrite]),
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": world.po["id"], "memo": "edited" }),
            "purchaseOrder { id memo createdBy vendor { id } }",
        )
        .await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    assert!(payload["purchaseOrder"].is_null(), "{payload}");
}

/// Receives 1 of the world's second line as `token`, selecting the receipt, order and bill.
async fn receive_one_as(app: &TestApp, world: &World, token: &str) -> Value {
    let po = &world.po;
    app.mutate_as(
        token,
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": line(po, 1)["id"], "quantity": "1" }] }),
        "receipt { id receivedBy } purchaseOrder { id memo } bill { id total }",
    )
    .await
}

#[tokio::test]
async fn a_receive_with_only_receiving_write_commits_and_answers_null_receipt_order_and_bill() {
    let app = spawn_app().await;
    let world = world(&app).await;
    let clerk = receive_one_as(&app, &world, &app.token(&[ReceivingWrite])).await;
    assert_eq!(clerk["userErrors"], json!([]), "{clerk}");
    assert!(clerk["receipt"].is_null() && clerk["purchaseOrder"].is_null());
    assert!(clerk["bill"].is_null());
}

#[tokio::test]
async fn a_receive_shows_the_receipt_and_order_with_purchase_orders_read_and_the_bill_only_with_bills_read(
) {
    let app = spawn_app().await;
    let world = world(&app).await;
    let token = app.token(&[ReceivingWrite, PurchaseOrdersRead]);
    let reader = receive_one_as(&app, &world, &token).await;
    assert!(reader["receipt"]["receivedBy"].is_string(), "{reader}");
    assert!(reader["purchaseOrder"]["id"].is_string());
    assert!(reader["bill"].is_null(), "no bills:read: {reader}");
}

#[tokio::test]
async fn reordering_with_only_the_write_permission_answers_null_orders_and_suggestions() {
    let app = spawn_app().await;
    world(&app).await;
    let reorder = app
        .mutate_as(
            &app.token(&[PurchaseOrdersWrite]),
            "createReorderPurchaseOrders",
            json!({}),
            "purchaseOrders { id total } skipped { onHand }",
        )
        .await;
    assert_eq!(reorder["userErrors"], json!([]), "{reorder}");
    assert!(reorder["purchaseOrders"].is_null(), "{reorder}");
    assert!(reorder["skipped"].is_null(), "{reorder}");
}

#[tokio::test]
async fn reordering_shows_orders_with_purchase_orders_read_and_skipped_suggestions_with_inventory_read(
) {
    let app = spawn_app().await;
    world(&app).await;
    let reorder = app
        .mutate_as(
            &app.token(&[PurchaseOrdersWrite, PurchaseOrdersRead, InventoryRead]),
            "createReorderPurchaseOrders",
            json!({}),
            "purchaseOrders { id } skipped { onHand }",
        )
        .await;
    assert!(reorder["purchaseOrders"].is_array(), "{reorder}");
    assert!(reorder["skipped"].is_array(), "{reorder}");
}

#[tokio::test]
async fn a_subscription_event_guards_the_objects_it_carries_like_any_other_edge() {
    let app = spawn_app().await;
    let world = world(&app).await;
    let address = app.serve().await;
    const ITEMS: &str = "subscription { inventoryItemChanged { inventoryItem { id onHand product { sku active } } } }";
    let mut stock_only = client(address, &app.token(&[InventoryRead])).await;
    stock_only.subscribe(ITEMS, json!({})).await;
    let mut both = client(address, &app.token(&[InventoryRead, VendorsRead])).await;
    both.subscribe(ITEMS, json!({})).await;
    crate::subscriptions::wait_subscribed(&app, 2).await;
    app.ok(
        "adjustInventory",
        json!({ "productId": world.fx.products[0], "locationId": world.fx.location,
                "delta": "1", "reason": "FOUND" }),
        "",
    )
    .await;
    let refused = stock_only
        .message(Duration::from_secs(20))
        .await
        .expect("an event");
    assert_eq!(refused["type"], "next", "{refused}");
    assert!(
        forbids(&refused["payload"], "active", VendorsRead),
        "{refused}"
    );
    // Whichever item's event comes first (setup moved two), its product shows whole.
    let seen = both.next_data().await;
    let product = &seen["inventoryItemChanged"]["inventoryItem"]["product"];
    assert!(product["sku"].is_string(), "{seen}");
    assert_eq!(product["active"], true, "{seen}");
}

#[tokio::test]
async fn sorting_purchase_orders_by_total_needs_costs_read() {
    let app = spawn_app().await;
    world(&app).await;
    let query = "{ purchaseOrders(sort: { field: TOTAL, direction: DESC }) { nodes { id } } }";
    let orders_only = app.token(&[PurchaseOrdersRead]);
    let reply = body(&app, &orders_only, query).await;
    assert_eq!(
        reply["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{reply}"
    );
    assert!(reply["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("costs:read"));
    assert!(
        reply["data"]["purchaseOrders"].is_null(),
        "no order is revealed: {reply}"
    );
    // Sorting by what the caller may see still works.
    let reply = body(
        &app,
        &orders_only,
        "{ purchaseOrders(sort: { field: NUMBER }) { nodes { id } } }",
    )
    .await;
    assert!(errors(&reply).is_empty(), "{reply}");
    let with_costs = app.token(&[PurchaseOrdersRead, CostsRead]);
    let reply = body(&app, &with_costs, query).await;
    assert!(errors(&reply).is_empty(), "{reply}");
    assert_eq!(
        reply["data"]["purchaseOrders"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_vendor_default_tax_rate_is_a_money_value_null_without_costs_read() {
    let app = spawn_app().await;
    let world = world(&app).await;
    let query = format!(
        "{{ node(id: \"{}\") {{ ... on Vendor {{ code defaultTaxRate }} }} }}",
        world.fx.vendor
    );
    let reply = body(&app, &app.token(&[VendorsRead]), &query).await;
    assert!(errors(&reply).is_empty(), "{reply}");
    assert_eq!(reply["data"]["node"]["code"], "ACME");
    assert!(reply["data"]["node"]["defaultTaxRate"].is_null(), "{reply}");
    let reply = body(&app, &app.token(&[VendorsRead, CostsRead]), &query).await;
    assert_eq!(reply["data"]["node"]["defaultTaxRate"], "0.08", "{reply}");
}
