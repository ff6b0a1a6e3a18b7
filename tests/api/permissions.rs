//! The permission matrix: every query field and mutation without its permission (FORBIDDEN,
//! nothing written), with it (works), and without a token (UNAUTHENTICATED); cost fields null
//! without `costs:read` everywhere they appear; limits of the HTTP surface; no internals leak.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{json, Value};
use stockgraph::app::Settings;
use stockgraph::auth::Permission;
use stockgraph::config::LimitsConfig;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::purchasing::{create_po, line, transition};

const NO_ID: &str = "gid://stockgraph/PurchaseOrder/999999";

/// Every root query field: (field, operation, permission it needs; None = any caller).
fn queries() -> Vec<(&'static str, String, Option<Permission>)> {
    use Permission::*;
    vec![
        ("viewer", "{ viewer { subject } }".into(), None),
        // The feed is guarded per event type (see feed.rs); a bills-only page needs bills:read.
        (
            "events",
            "{ events(filter: { types: [BILL_ISSUED] }) { edges { cursor } } }".into(),
            Some(BillsRead),
        ),
        (
            "node",
            "{ node(id: \"gid://stockgraph/Vendor/1\") { id } }".into(),
            Some(VendorsRead),
        ),
        (
            "nodes",
            "{ nodes(ids: [\"gid://stockgraph/Bill/1\"]) { id } }".into(),
            Some(BillsRead),
        ),
        (
            "vendors",
            "{ vendors { totalCount } }".into(),
            Some(VendorsRead),
        ),
        (
            "products",
            "{ products { totalCount } }".into(),
            Some(VendorsRead),
        ),
        (
            "inventoryLocations",
            "{ inventoryLocations { totalCount } }".into(),
            Some(VendorsRead),
        ),
        (
            "businessUnits",
            "{ businessUnits { totalCount } }".into(),
            Some(VendorsRead),
        ),
        (
            "purchaseOrderTypes",
            "{ purchaseOrderTypes { totalCount } }".into(),
            Some(VendorsRead),
        ),
        ("jobs", "{ jobs { totalCount } }".into(), Some(VendorsRead)),
        (
            "projects",
            "{ projects { totalCount } }".into(),
            Some(VendorsRead),
        ),
        (
            "technicians",
            "{ technicians { totalCount } }".into(),
            Some(VendorsRead),
        ),
        (
            "receipts",
            "{ receipts { totalCount } }".into(),
            Some(PurchaseOrdersRead),
        ),
        (
            "jobMaterials",
            "{ jobMaterials { totalCount } }".into(),
            Some(PurchaseOrdersRead),
        ),
        (
            "stockLedger",
            "{ stockLedger { totalCount } }".into(),
            Some(InventoryRead),
        ),
        (
            "purchaseOrder",
            format!("{{ purchaseOrder(id: \"{NO_ID}\") {{ id }} }}"),
            Some(PurchaseOrdersRead),
        ),
        (
            "purchaseOrders",
            "{ purchaseOrders { totalCount } }".into(),
            Some(PurchaseOrdersRead),
        ),
        (
            "inventoryItems",
            "{ inventoryItems { totalCount } }".into(),
            Some(InventoryRead),
        ),
        ("bills", "{ bills { totalCount } }".into(), Some(BillsRead)),
        (
            "reorderSuggestions",
            "{ reorderSuggestions { quantity } }".into(),
            Some(InventoryRead),
        ),
        (
            "serialNumber",
            r#"{ serialNumber(productId: "gid://stockgraph/Product/1", number: "S1") { status } }"#
                .into(),
            Some(InventoryRead),
        ),
    ]
}

/// Every mutation with an input that passes validation: (name, input, permission).
fn mutations() -> Vec<(&'static str, Value, Permission)> {
    use Permission::*;
    let address = json!({ "street": "1 A St", "city": "B", "postalCode": "1", "country": "US" });
    let id = json!({ "id": "gid://stockgraph/Vendor/999" });
    let po = json!({ "purchaseOrderId": NO_ID });
    let reference = |t: &str| json!({ "id": format!("gid://stockgraph/{t}/999") });
    let commitment = json!({ "productId": "gid://stockgraph/Product/999",
                             "locationId": "gid://stockgraph/InventoryLocation/999", "quantity": "1" });
    vec![
        (
            "createVendor",
            json!({ "name": "N", "code": "N1", "address": address }),
            VendorsWrite,
        ),
        (
            "updateVendor",
            json!({ "id": "gid://stockgraph/Vendor/999", "name": "X" }),
            VendorsWrite,
        ),
        ("deactivateVendor", id.clone(), VendorsWrite),
        (
            "createProduct",
            json!({ "sku": "S1", "description": "D" }),
            VendorsWrite,
        ),
        (
            "updateProduct",
            json!({ "id": "gid://stockgraph/Product/999" }),
            VendorsWrite,
        ),
        ("deactivateProduct", reference("Product"), VendorsWrite),
        (
            "createInventoryLocation",
            json!({ "code": "L1", "name": "L" }),
            VendorsWrite,
        ),
        (
            "updateInventoryLocation",
            json!({ "id": "gid://stockgraph/InventoryLocation/999" }),
            VendorsWrite,
        ),
        (
            "deactivateInventoryLocation",
            reference("InventoryLocation"),
            VendorsWrite,
        ),
        ("createBusinessUnit", json!({ "name": "B" }), VendorsWrite),
        (
            "updateBusinessUnit",
            reference("BusinessUnit"),
            VendorsWrite,
        ),
        (
            "deactivateBusinessUnit",
            reference("BusinessUnit"),
            VendorsWrite,
        ),
        (
            "createPurchaseOrderType",
            json!({ "name": "T" }),
            VendorsWrite,
        ),
        (
            "updatePurchaseOrderType",
            reference("PurchaseOrderType"),
            VendorsWrite,
        ),
        (
            "deactivatePurchaseOrderType",
            reference("PurchaseOrderType"),
            VendorsWrite,
        ),
        (
            "createJob",
            json!({ "number": "J", "name": "J" }),
            VendorsWrite,
        ),
        ("updateJob", reference("Job"), VendorsWrite),
        ("deactivateJob", reference("Job"), VendorsWrite),
        (
            "createProject",
            json!({ "number": "P", "name": "P" }),
            VendorsWrite,
        ),
        ("updateProject", reference("Project"), VendorsWrite),
        ("deactivateProject", reference("Project"), VendorsWrite),
        (
            "createTechnician",
            json!({ "number": "T", "name": "T" }),
            VendorsWrite,
        ),
        ("updateTechnician", reference("Technician"), VendorsWrite),
        (
            "deactivateTechnician",
            reference("Technician"),
            VendorsWrite,
        ),
        (
            "createJobMaterial",
            json!({ "jobId": "gid://stockgraph/Job/999", "productId": "gid://stockgraph/Product/999", "quantity": "1" }),
            PurchaseOrdersWrite,
        ),
        (
            "createPurchaseOrder",
            json!({ "vendorId": "gid://stockgraph/Vendor/999", "shipToId": "gid://stockgraph/InventoryLocation/999",
                    "typeId": "gid://stockgraph/PurchaseOrderType/999", "businessUnitId": "gid://stockgraph/BusinessUnit/999",
                    "lines": [{ "productId": "gid://stockgraph/Product/999", "locationId": "gid://stockgraph/InventoryLocation/999", "quantity": "1" }] }),
            PurchaseOrdersWrite,
        ),
        (
            "updatePurchaseOrder",
            json!({ "purchaseOrderId": NO_ID, "memo": "m" }),
            PurchaseOrdersWrite,
        ),
        (
            "addPurchaseOrderLine",
            json!({ "purchaseOrderId": NO_ID, "productId": "gid://stockgraph/Product/999",
                    "locationId": "gid://stockgraph/InventoryLocation/999", "quantity": "1" }),
            PurchaseOrdersWrite,
        ),
        (
            "updatePurchaseOrderLine",
            json!({ "lineId": "gid://stockgraph/PurchaseOrderLine/999" }),
            PurchaseOrdersWrite,
        ),
        (
            "removePurchaseOrderLine",
            json!({ "lineId": "gid://stockgraph/PurchaseOrderLine/999" }),
            PurchaseOrdersWrite,
        ),
        ("submitPurchaseOrder", po.clone(), PurchaseOrdersWrite),
        ("cancelPurchaseOrder", po.clone(), PurchaseOrdersWrite),
        ("markPurchaseOrderExported", po.clone(), PurchaseOrdersWrite),
        (
            "finalizePurchaseOrder",
            json!({ "purchaseOrderId": NO_ID, "createBackorder": true }),
            PurchaseOrdersWrite,
        ),
        (
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": NO_ID, "lines": [{ "lineId": "gid://stockgraph/PurchaseOrderLine/999", "quantity": "1" }] }),
            ReceivingWrite,
        ),
        (
            "cancelReceipt",
            json!({ "receiptId": "gid://stockgraph/Receipt/999" }),
            ReceivingWrite,
        ),
        (
            "upsertInventoryItem",
            json!({ "productId": "gid://stockgraph/Product/999", "locationId": "gid://stockgraph/InventoryLocation/999" }),
            InventoryWrite,
        ),
        (
            "adjustInventory",
            json!({ "productId": "gid://stockgraph/Product/999", "locationId": "gid://stockgraph/InventoryLocation/999",
                    "delta": "1", "reason": "FOUND" }),
            InventoryWrite,
        ),
        (
            "transferInventory",
            json!({ "productId": "gid://stockgraph/Product/999", "fromLocationId": "gid://stockgraph/InventoryLocation/998",
                    "toLocationId": "gid://stockgraph/InventoryLocation/999", "quantity": "1" }),
            InventoryWrite,
        ),
        ("reserveInventory", commitment.clone(), InventoryWrite),
        ("releaseReservation", commitment.clone(), InventoryWrite),
        ("pickInventory", commitment.clone(), InventoryWrite),
        ("unpickInventory", commitment, InventoryWrite),
        (
            "createReorderPurchaseOrders",
            json!({}),
            PurchaseOrdersWrite,
        ),
    ]
}

/// Every permission but `needed` (and but admin, which implies all).
fn all_but(app: &TestApp, needed: Permission) -> String {
    let granted: Vec<Permission> = Permission::ALL
        .into_iter()
        .filter(|p| *p != needed && *p != Permission::Admin)
        .collect();
    app.token(&granted)
}

async fn root_fields(app: &TestApp, root: &str) -> Vec<String> {
    let data = app
        .gql(
            &format!("{{ __type(name: \"{root}\") {{ fields {{ name }} }} }}"),
            json!({}),
        )
        .await;
    data["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_query_field_is_guarded_by_its_permission() {
    let app = spawn_app().await;
    let mut covered: Vec<String> = queries().iter().map(|(f, _, _)| f.to_string()).collect();
    let mut fields = root_fields(&app, "Query").await;
    covered.sort();
    fields.sort();
    assert_eq!(covered, fields, "every query field has a row in the matrix");
    for (field, query, permission) in queries() {
        // No token: UNAUTHENTICATED, nothing else.
        let reply = app.post("", &query, json!({})).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{field}");
        assert_eq!(
            reply.body["errors"][0]["extensions"]["code"],
            "UNAUTHENTICATED"
        );
        assert!(reply.body.get("data").is_none());
        let Some(permission) = permission else {
            let nobody = app.token(&[]);
            assert!(app.post(&nobody, &query, json!({})).await.body["errors"].is_null());
            continue;
        };
        let reply = app
            .post(&all_but(&app, permission), &query, json!({}))
            .await;
        assert_eq!(
            reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{field}: {}",
            reply.body
        );
        assert!(reply.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(permission.as_str()));
        let reply = app.post(&app.token(&[permission]), &query, json!({})).await;
        assert!(
            reply.body["errors"].is_null(),
            "{field} with {}: {}",
            permission.as_str(),
            reply.body
        );
    }
    // The seed's security IDs 18 and 42 mean purchase_orders:read and :write.
    let legacy = app.raw_token("legacy", &["18"]);
    let reply = app
        .post(&legacy, "{ purchaseOrders { totalCount } }", json!({}))
        .await;
    assert!(reply.body["errors"].is_null(), "{}", reply.body);
}

#[tokio::test]
async fn every_mutation_is_guarded_before_anything_is_read_or_written() {
    let app = spawn_app().await;
    let mut covered: Vec<String> = mutations().iter().map(|(m, _, _)| m.to_string()).collect();
    let mut fields = root_fields(&app, "Mutation").await;
    covered.sort();
    fields.sort();
    assert_eq!(covered, fields, "every mutation has a row in the matrix");
    for (name, input, permission) in mutations() {
        let query = format!(
            "mutation($input: {}!) {{ {name}(input: $input) {{ userErrors {{ code }} }} }}",
            crate::helpers::input_type(name)
        );
        let variables = json!({ "input": input });
        let reply = app.post("", &query, variables.clone()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
        let before = app.snapshot().await;
        let reply = app
            .post(&all_but(&app, permission), &query, variables.clone())
            .await;
        assert_eq!(
            reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{name}: {}",
            reply.body
        );
        assert!(
            before == app.snapshot().await,
            "{name} wrote without permission"
        );
        let reply = app.post(&app.token(&[permission]), &query, variables).await;
        assert!(reply.body["errors"].is_null(), "{name}: {}", reply.body);
        assert!(reply.body["data"][name]["userErrors"].is_array(), "{name}");
    }
    // The seed's security ID 42 writes purchase orders.
    let legacy = app.raw_token("legacy", &["42"]);
    let reply = app
        .post(&legacy, "mutation { submitPurchaseOrder(input: { purchaseOrderId: \"gid://stockgraph/PurchaseOrder/1\" }) { userErrors { code } } }", json!({}))
        .await;
    assert!(reply.body["errors"].is_null(), "{}", reply.body);
}

#[tokio::test]
async fn nested_fields_are_guarded_by_the_permission_of_what_they_show() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    create_po(&app, &fx, &[(0, "1", None)]).await;
    let vendors_only = app.token(&[Permission::VendorsRead]);
    for query in [
        "{ vendors { nodes { purchaseOrders { totalCount } } } }",
        "{ vendors { nodes { bills { totalCount } } } }",
        "{ products { nodes { inventoryItems { totalCount } } } }",
        "{ inventoryLocations { nodes { inventoryItems { totalCount } } } }",
    ] {
        let reply = app.post(&vendors_only, query, json!({})).await;
        assert_eq!(
            reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{query}"
        );
    }
    let orders_only = app.token(&[Permission::PurchaseOrdersRead]);
    let reply = app
        .post(
            &orders_only,
            "{ purchaseOrders { nodes { number bills { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

const COSTS: &str = r#"
fragment Costs on PurchaseOrder {
  taxRate subtotal tax shipping total baseTotal
  lines(first: 5) { nodes { unitCost amount baseUnitCost product { defaultUnitCost } } }
  receipts { freight lines { unitCost } bill { taxRate subtotal tax freight total baseTotal lines { unitCost amount }
                                               match { differences { billed expected } } } }
  bills { subtotal total creditOf { total } supersededBy { total } }
}
query($id: ID!) {
  purchaseOrders(first: 5) { nodes { ...Costs } }
  purchaseOrder(id: $id) { ...Costs }
  node(id: $id) { ...Costs }
  vendors(first: 2) { nodes { purchaseOrders(first: 2) { nodes { ...Costs } } bills { nodes { total subtotal } } } }
  products { nodes { defaultUnitCost } }
  bills { nodes { subtotal tax freight total baseTotal taxRate } }
}"#;

/// Every leaf value of `value` at a key in `keys`.
fn leaves<'a>(value: &'a Value, keys: &[&str], out: &mut Vec<(&'a str, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if keys.contains(&k.as_str()) && !v.is_object() && !v.is_array() {
                    out.push((k.as_str(), v));
                } else {
                    leaves(v, keys, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| leaves(v, keys, out)),
        _ => {}
    }
}

/// Every cost field the [`COSTS`] query reaches.
const COST_KEYS: [&str; 13] = [
    "taxRate",
    "subtotal",
    "tax",
    "shipping",
    "total",
    "baseTotal",
    "unitCost",
    "amount",
    "baseUnitCost",
    "defaultUnitCost",
    "freight",
    "billed",
    "expected",
];

/// A submitted order of 4 × product 0 and 1 × product 1 with a receipt of 2 (freight 5) whose
/// bill a cost change superseded, so `match` has UNIT_COST differences to hide.
async fn order_with_a_superseded_bill(app: &TestApp) -> Value {
    let fx = app.fixture().await;
    let po = create_po(app, &fx, &[(0, "4", None), (1, "1", None)]).await;
    let po = transition(app, "submitPurchaseOrder", &po).await;
    app.ok(
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "freight": "5", "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "2" }] }),
        "",
    )
    .await;
    app.ok(
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "unitCost": "3" }),
        "",
    )
    .await;
    po
}

/// Every permission but `admin` and `costs:read`.
fn everything_but_costs() -> Vec<Permission> {
    Permission::ALL
        .into_iter()
        .filter(|p| !matches!(p, Permission::Admin | Permission::CostsRead))
        .collect()
}

/// The cost fields the [`COSTS`] query answers about `po` to a caller holding `permissions`.
async fn cost_leaves(
    app: &TestApp,
    po: &Value,
    permissions: &[Permission],
) -> Vec<(String, Value)> {
    let data = app
        .gql_as(&app.token(permissions), COSTS, json!({ "id": po["id"] }))
        .await;
    let mut found = Vec::new();
    leaves(&data, &COST_KEYS, &mut found);
    found
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.clone()))
        .collect()
}

#[tokio::test]
async fn cost_fields_are_null_without_costs_read_everywhere() {
    let app = spawn_app().await;
    let po = order_with_a_superseded_bill(&app).await;
    let found = cost_leaves(&app, &po, &everything_but_costs()).await;
    assert!(
        found.len() > 60,
        "the query reaches cost fields: {}",
        found.len()
    );
    for (key, value) in &found {
        assert!(value.is_null(), "{key} = {value} without costs:read");
    }
}

#[tokio::test]
async fn every_cost_field_is_shown_with_costs_read() {
    let app = spawn_app().await;
    let po = order_with_a_superseded_bill(&app).await;
    let found = cost_leaves(&app, &po, &everything_but_costs()).await;
    let mut with = everything_but_costs();
    with.push(Permission::CostsRead);
    let shown = cost_leaves(&app, &po, &with).await;
    assert_eq!(shown.len(), found.len());
    let nulls = shown.iter().filter(|(_, v)| v.is_null()).count();
    // Only links that do not exist (a bill's creditOf / supersededBy) may be null.
    assert!(nulls == 0, "{nulls} cost fields null with costs:read");
}

#[tokio::test]
async fn who_did_what_is_recorded_with_the_tokens_subject() {
    let app = spawn_app().await;
    let po = order_with_a_superseded_bill(&app).await;
    let clerk = app.raw_token(
        "clerk-7",
        &[
            "purchase_orders:write",
            "purchase_orders:read",
            "receiving:write",
        ],
    );
    app.mutate_as(
        &clerk,
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "memo": "by clerk" }),
        "",
    )
    .await;
    let received = app
        .mutate_as(
            &clerk,
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": line(&po, 1)["id"], "quantity": "1" }] }),
            "receipt { receivedBy } purchaseOrder { updatedBy createdBy }",
        )
        .await;
    assert_eq!(received["receipt"]["receivedBy"], "clerk-7");
    assert_eq!(received["purchaseOrder"]["updatedBy"], "clerk-7");
    assert_eq!(received["purchaseOrder"]["createdBy"], "admin");
    let actors = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT actor FROM stock_ledger_entries ORDER BY id DESC",
        ))
        .await
        .unwrap();
    assert_eq!(actors[0].try_get::<String>("", "actor").unwrap(), "clerk-7");
}

/// An app whose request bodies may hold 2,000 bytes and batches 3 operations.
async fn app_with_small_limits() -> TestApp {
    let limits = LimitsConfig {
        max_body_bytes: 2_000,
        max_batch: 3,
        ..LimitsConfig::default()
    };
    spawn_app_with(Settings {
        limits,
        ..Settings::default()
    })
    .await
}

/// An admin POST of `body` to /graphql.
fn graphql_post(app: &TestApp, body: String) -> Request<Body> {
    Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", app.admin))
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn a_body_at_the_size_limit_passes_and_one_byte_over_is_refused_with_a_clear_error() {
    let app = app_with_small_limits().await;
    // A viewer query padded to exactly `len` bytes of JSON.
    let query = |len: usize| {
        let padding = " ".repeat(len);
        let body = json!({ "query": format!("{{ viewer {{ subject }} }}{padding}") }).to_string();
        let over = body.len() - len;
        json!({ "query": format!("{{ viewer {{ subject }} }}{}", " ".repeat(len - over)) })
            .to_string()
    };
    let at = query(2_000);
    assert_eq!(at.len(), 2_000);
    assert_eq!(
        app.send(graphql_post(&app, at)).await.status,
        StatusCode::OK
    );
    let over = query(2_001);
    let reply = app.send(graphql_post(&app, over)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    assert!(reply.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("2000 bytes"));
}

#[tokio::test]
async fn a_batch_at_the_limit_runs_and_one_operation_more_is_refused_with_a_clear_error() {
    let app = app_with_small_limits().await;
    let batch = |n: usize| {
        let ops: Vec<Value> = (0..n)
            .map(|_| json!({ "query": "{ viewer { subject } }" }))
            .collect();
        Value::Array(ops).to_string()
    };
    let reply = app.send(graphql_post(&app, batch(3))).await;
    assert_eq!(reply.body.as_array().map(Vec::len), Some(3));
    let reply = app.send(graphql_post(&app, batch(4))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    assert!(reply.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("limit is 3"));
}

#[tokio::test]
async fn a_request_waiting_past_its_time_limit_is_stopped_with_a_clear_error_and_the_service_recovers(
) {
    // While every database connection is held elsewhere, a request waits for one longer than
    // its 1 s limit (the pool would wait 8 s): it is stopped with a clear error, and once the
    // connections come back the service answers again.
    let hurried = spawn_app_with(Settings {
        limits: LimitsConfig {
            request_timeout_secs: 1,
            ..LimitsConfig::default()
        },
        ..Settings::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..crate::helpers::POOL_SIZE {
        held.push(hurried.db.begin().await.unwrap());
    }
    let fx_reply = hurried
        .post(
            &hurried.admin.clone(),
            "{ purchaseOrders { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(fx_reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        fx_reply.body["errors"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    assert!(fx_reply.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("time limit"));
    drop(held);
    let reply = hurried
        .post(
            &hurried.admin.clone(),
            "{ purchaseOrders { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["data"]["purchaseOrders"]["totalCount"], 0);
}

#[tokio::test]
async fn database_failures_are_internal_with_a_request_id_and_no_details() {
    let app = spawn_app().await;
    // A broken database: the bills tables are gone.
    app.db
        .execute_unprepared("DROP TABLE bill_lines")
        .await
        .unwrap();
    app.db.execute_unprepared("DROP TABLE bills").await.unwrap();
    let reply = app
        .post(&app.admin.clone(), "{ bills { totalCount } }", json!({}))
        .await;
    let error = &reply.body["errors"][0];
    assert_eq!(error["extensions"]["code"], "INTERNAL");
    let request_id = error["extensions"]["requestId"].as_str().unwrap();
    assert_eq!(request_id.len(), 16);
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(request_id));
    for leak in ["bills", "SELECT", "table", "sqlx", "relation"] {
        assert!(!message.contains(leak), "{message}");
    }
    // The service keeps answering.
    let reply = app
        .post(&app.admin.clone(), "{ vendors { totalCount } }", json!({}))
        .await;
    assert!(reply.body["errors"].is_null());
}
