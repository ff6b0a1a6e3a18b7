//! Issue 15, points 1 and 3: the lists and filters every screen needs, and no write-only field.
//! Each list is paged across pages, filtered by each of its filters, and refused to a caller
//! without its type's read permission.

use rust_decimal::Decimal;
use serde_json::{json, Value};
use stockgraph::app::Settings;
use stockgraph::auth::Permission;
use stockgraph::config::BusinessConfig;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::purchasing::{create_po, line, po_input, transition, PO};

/// Every id of root list `field` under `args` (argument text such as `, filter: $f`, whose
/// variables `params` declares), read two at a time. Checks on the way that `totalCount` is the
/// number read and that every page after the first knows it has a previous one. Returns the ids
/// and how many pages it took.
async fn every_id(
    app: &TestApp,
    field: &str,
    params: &str,
    args: &str,
    vars: Value,
) -> (Vec<String>, usize) {
    let query = format!(
        "query($after: String{params}) {{ {field}(first: 2, after: $after{args}) {{ totalCount \
         pageInfo {{ hasNextPage hasPreviousPage endCursor }} nodes {{ id }} }} }}"
    );
    let (mut ids, mut pages, mut after) = (Vec::new(), 0, Value::Null);
    let mut total;
    loop {
        let mut vars = vars.clone();
        vars["after"] = after.clone();
        let page = app.gql(&query, vars).await[field].clone();
        assert_eq!(
            page["pageInfo"]["hasPreviousPage"],
            pages > 0,
            "{field}: {page}"
        );
        pages += 1;
        total = page["totalCount"].as_u64().unwrap();
        for node in page["nodes"].as_array().unwrap() {
            ids.push(node["id"].as_str().unwrap().to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        total,
        ids.len() as u64,
        "{field}: totalCount counts every page"
    );
    (ids, pages)
}

/// Every id of `field` matching `filter` (of GraphQL type `filter_type`).
async fn filtered(app: &TestApp, field: &str, filter_type: &str, filter: Value) -> Vec<String> {
    every_id(
        app,
        field,
        &format!(", $f: {filter_type}"),
        ", filter: $f",
        json!({ "f": filter }),
    )
    .await
    .0
}

/// Asserts the root list `field` is refused with FORBIDDEN to a caller holding only `permissions`.
async fn refused_without(app: &TestApp, field: &str, permissions: &[Permission]) {
    let token = app.token(permissions);
    let reply = app
        .post(
            &token,
            &format!("{{ {field}(first: 1) {{ totalCount nodes {{ id }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{field}: {}",
        reply.body
    );
    assert!(reply.body["data"].is_null(), "{field}: {}", reply.body);
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
        .to_owned()
}

async fn created(app: &TestApp, mutation: &str, input: Value, object: &str) -> String {
    text(&app.ok(mutation, input, &format!("{object} {{ id }}")).await[object]["id"])
}

async fn deactivate(app: &TestApp, mutation: &str, id: &str) {
    app.mutate_as(&app.admin.clone(), mutation, json!({ "id": id }), "")
        .await;
}

/// A reference list of the PO form page: its root field, create and deactivate mutations,
/// payload field, the fixture's record and the inputs of two more records.
struct ReferenceList {
    field: &'static str,
    create: &'static str,
    deactivate: &'static str,
    object: &'static str,
    first: String,
    inputs: [Value; 2],
}

fn reference_list(fx: &crate::helpers::Fixture, field: &str) -> ReferenceList {
    let lists = [
        ReferenceList {
            field: "businessUnits",
            create: "createBusinessUnit",
            deactivate: "deactivateBusinessUnit",
            object: "businessUnit",
            first: fx.business_unit.clone(),
            inputs: [json!({ "name": "Heating" }), json!({ "name": "Cooling" })],
        },
        ReferenceList {
            field: "purchaseOrderTypes",
            create: "createPurchaseOrderType",
            deactivate: "deactivatePurchaseOrderType",
            object: "purchaseOrderType",
            first: fx.po_type.clone(),
            inputs: [json!({ "name": "Job" }), json!({ "name": "Project" })],
        },
        ReferenceList {
            field: "jobs",
            create: "createJob",
            deactivate: "deactivateJob",
            object: "job",
            first: fx.job.clone(),
            inputs: [
                json!({ "number": "J-2", "name": "Boiler swap" }),
                json!({ "number": "J-3", "name": "Roof" }),
            ],
        },
        ReferenceList {
            field: "projects",
            create: "createProject",
            deactivate: "deactivateProject",
            object: "project",
            first: fx.project.clone(),
            inputs: [
                json!({ "number": "P-2", "name": "Boiler fleet" }),
                json!({ "number": "P-3", "name": "Roof" }),
            ],
        },
        ReferenceList {
            field: "technicians",
            create: "createTechnician",
            deactivate: "deactivateTechnician",
            object: "technician",
            first: fx.technician.clone(),
            inputs: [
                json!({ "number": "T-2", "name": "Boiler Bob" }),
                json!({ "number": "T-3", "name": "Ray" }),
            ],
        },
    ];
    lists
        .into_iter()
        .find(|list| list.field == field)
        .unwrap_or_else(|| panic!("no reference list {field}"))
}

/// Creates the list's two extra records and deactivates the last; returns the second and third
/// record (the fixture's is the first).
async fn add_reference_records(app: &TestApp, list: &ReferenceList) -> (String, String) {
    let second = created(app, list.create, list.inputs[0].clone(), list.object).await;
    let third = created(app, list.create, list.inputs[1].clone(), list.object).await;
    deactivate(app, list.deactivate, &third).await;
    (second, third)
}

/// A reference list pages oldest first, filters by activity and by text in any case (filters
/// combining with AND), and is refused without vendors:read.
async fn assert_reference_list(field: &str) {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let list = reference_list(&fx, field);
    let (second, third) = add_reference_records(&app, &list).await;
    let first = list.first.clone();
    let filter_type = "NamedRecordFilter";

    let (all, pages) = every_id(&app, field, "", "", json!({})).await;
    assert_eq!(
        all,
        [first.clone(), second.clone(), third.clone()],
        "{field}: oldest first"
    );
    assert_eq!(pages, 2, "{field}: three records are two pages of two");

    let active = filtered(&app, field, filter_type, json!({ "active": true })).await;
    assert_eq!(active, [first.clone(), second.clone()], "{field}");
    let inactive = filtered(&app, field, filter_type, json!({ "active": false })).await;
    assert_eq!(inactive, vec![third.clone()], "{field}");

    let text_of = |input: &Value| {
        input["number"]
            .as_str()
            .unwrap_or_else(|| input["name"].as_str().unwrap())
            .to_lowercase()
    };
    let by_text = filtered(
        &app,
        field,
        filter_type,
        json!({ "search": text_of(&list.inputs[0]) }),
    )
    .await;
    assert_eq!(
        by_text,
        vec![second.clone()],
        "{field}: text search, any case"
    );
    let both = filtered(
        &app,
        field,
        filter_type,
        json!({ "search": text_of(&list.inputs[1]), "active": true }),
    )
    .await;
    assert!(both.is_empty(), "{field}: filters combine with AND");

    refused_without(
        &app,
        field,
        &[Permission::PurchaseOrdersRead, Permission::InventoryRead],
    )
    .await;
}

#[tokio::test]
async fn business_units_page_filter_by_activity_and_text_and_need_vendors_read() {
    assert_reference_list("businessUnits").await;
}

#[tokio::test]
async fn purchase_order_types_page_filter_by_activity_and_text_and_need_vendors_read() {
    assert_reference_list("purchaseOrderTypes").await;
}

#[tokio::test]
async fn jobs_page_filter_by_activity_and_text_and_need_vendors_read() {
    assert_reference_list("jobs").await;
}

#[tokio::test]
async fn projects_page_filter_by_activity_and_text_and_need_vendors_read() {
    assert_reference_list("projects").await;
}

#[tokio::test]
async fn technicians_page_filter_by_activity_and_text_and_need_vendors_read() {
    assert_reference_list("technicians").await;
}

#[tokio::test]
async fn jobs_projects_and_technicians_also_match_their_name() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    for field in ["jobs", "projects", "technicians"] {
        add_reference_records(&app, &reference_list(&fx, field)).await;
        assert_eq!(
            filtered(
                &app,
                field,
                "NamedRecordFilter",
                json!({ "search": "BOILER" })
            )
            .await
            .len(),
            1,
            "{field}"
        );
    }
}

/// Receives `quantity` of every line of `po`, optionally at `received_at`; returns the receipt id.
async fn receive_all(
    app: &TestApp,
    po: &Value,
    quantity: &str,
    received_at: Option<&str>,
) -> String {
    let lines: Vec<Value> = po["lines"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!({ "lineId": l["id"], "quantity": quantity }))
        .collect();
    let mut input = json!({ "purchaseOrderId": po["id"], "lines": lines });
    if let Some(at) = received_at {
        input["receivedAt"] = json!(at);
    }
    text(
        &app.ok("receivePurchaseOrder", input, "receipt { id }")
            .await["receipt"]["id"],
    )
}

async fn submitted(app: &TestApp, input: Value) -> Value {
    let po = app.ok("createPurchaseOrder", input, PO).await["purchaseOrder"].clone();
    transition(app, "submitPurchaseOrder", &po).await
}

async fn second_vendor(app: &TestApp, terms: i32) -> String {
    let address = json!({ "street": "2 Side St", "city": "Shelbyville", "postalCode": "54321", "country": "US" });
    created(
        app,
        "createVendor",
        json!({ "name": "Bolt Barn", "code": "BARN", "address": address, "paymentTermsDays": terms }),
        "vendor",
    )
    .await
}

#[tokio::test]
async fn receipts_are_listed_by_order_vendor_received_date_and_cancellation_and_need_purchase_orders_read(
) {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let barn = second_vendor(&app, 30).await;
    let acme_po = submitted(&app, po_input(&fx, &[(0, "10", None)])).await;
    let mut input = po_input(&fx, &[(1, "10", None)]);
    input["vendorId"] = json!(barn);
    let barn_po = submitted(&app, input).await;
    // Receipts are dated back to January, so the orders must have been submitted before then.
    crate::books_rules::backdate_submission(&app, &acme_po, "2026-01-01T00:00:00Z").await;
    crate::books_rules::backdate_submission(&app, &barn_po, "2026-01-01T00:00:00Z").await;

    let january = receive_all(&app, &acme_po, "2", Some("2026-01-10T12:00:00Z")).await;
    let later = receive_all(&app, &acme_po, "3", None).await;
    let barn_receipt = receive_all(&app, &barn_po, "4", Some("2026-01-20T08:00:00Z")).await;
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": later }),
        "receipt { id }",
    )
    .await;

    let filter = "ReceiptFilter";
    let (all, pages) = every_id(&app, "receipts", "", "", json!({})).await;
    assert_eq!(all, [january.clone(), later.clone(), barn_receipt.clone()]);
    assert_eq!(pages, 2);
    assert_eq!(
        filtered(
            &app,
            "receipts",
            filter,
            json!({ "purchaseOrderId": acme_po["id"] })
        )
        .await,
        [january.clone(), later.clone()]
    );
    assert_eq!(
        filtered(&app, "receipts", filter, json!({ "vendorId": barn })).await,
        vec![barn_receipt.clone()]
    );
    assert_eq!(
        filtered(
            &app,
            "receipts",
            filter,
            json!({ "receivedAfter": "2026-01-10", "receivedBefore": "2026-01-19" })
        )
        .await,
        vec![january.clone()],
        "both ends of the date range are inclusive days"
    );
    assert_eq!(
        filtered(
            &app,
            "receipts",
            filter,
            json!({ "receivedAfter": "2026-01-20", "receivedBefore": "2026-01-20" })
        )
        .await,
        vec![barn_receipt.clone()]
    );
    assert_eq!(
        filtered(&app, "receipts", filter, json!({ "cancelled": true })).await,
        vec![later.clone()]
    );
    assert_eq!(
        filtered(&app, "receipts", filter, json!({ "cancelled": false })).await,
        [january, barn_receipt]
    );
    refused_without(
        &app,
        "receipts",
        &[Permission::VendorsRead, Permission::InventoryRead],
    )
    .await;
}

#[tokio::test]
async fn job_materials_are_listed_by_job_status_and_product_and_need_purchase_orders_read() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let job2 = created(
        &app,
        "createJob",
        json!({ "number": "J-2", "name": "Two" }),
        "job",
    )
    .await;
    let material = |job: &str, product: usize| json!({ "jobId": job, "productId": fx.products[product], "quantity": "2" });
    let a = created(
        &app,
        "createJobMaterial",
        material(&fx.job, 0),
        "jobMaterial",
    )
    .await;
    let b = created(
        &app,
        "createJobMaterial",
        material(&fx.job, 1),
        "jobMaterial",
    )
    .await;
    let c = created(&app, "createJobMaterial", material(&job2, 0), "jobMaterial").await;
    // Ordering `a` on a submitted order makes it ORDERED.
    let mut input = po_input(&fx, &[]);
    input["lines"] = json!([{ "jobMaterialId": a, "locationId": fx.location, "quantity": "2" }]);
    submitted(&app, input).await;

    let filter = "JobMaterialFilter";
    let (all, pages) = every_id(&app, "jobMaterials", "", "", json!({})).await;
    assert_eq!(all, [a.clone(), b.clone(), c.clone()]);
    assert_eq!(pages, 2);
    assert_eq!(
        filtered(&app, "jobMaterials", filter, json!({ "jobId": fx.job })).await,
        [a.clone(), b.clone()]
    );
    assert_eq!(
        filtered(
            &app,
            "jobMaterials",
            filter,
            json!({ "status": ["ORDERED"] })
        )
        .await,
        vec![a.clone()]
    );
    assert_eq!(
        filtered(
            &app,
            "jobMaterials",
            filter,
            json!({ "status": ["NEED_TO_ORDER"], "productId": fx.products[0] })
        )
        .await,
        vec![c.clone()]
    );
    refused_without(
        &app,
        "jobMaterials",
        &[Permission::VendorsRead, Permission::InventoryRead],
    )
    .await;
}

/// A receipt of two lines (2 entries), an adjustment (1) and the receipt's cancellation (2);
/// returns the receipt's id.
async fn five_ledger_movements(app: &TestApp, fx: &crate::helpers::Fixture) -> String {
    let mut input = po_input(fx, &[(0, "10", None)]);
    input["lines"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "productId": fx.products[1], "locationId": fx.location2, "quantity": "5" }));
    let po = submitted(app, input).await;
    let receipt = receive_all(app, &po, "1", None).await;
    app.ok(
        "adjustInventory",
        json!({ "productId": fx.products[0], "locationId": fx.location, "delta": "4", "reason": "FOUND" }),
        "inventoryItem { id }",
    )
    .await;
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": receipt }),
        "receipt { id }",
    )
    .await;
    receipt
}

/// How many ledger entries match `filter`, and their reasons in order.
async fn ledger(app: &TestApp, filter: Value) -> (usize, Vec<String>) {
    let ids = filtered(app, "stockLedger", "StockLedgerFilter", filter.clone()).await;
    let reasons = app
        .gql(
            "query($f: StockLedgerFilter) { stockLedger(first: 50, filter: $f) { nodes { reason } } }",
            json!({ "f": filter }),
        )
        .await["stockLedger"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| text(&n["reason"]))
        .collect::<Vec<_>>();
    (ids.len(), reasons)
}

#[tokio::test]
async fn the_stock_ledger_lists_every_movement_across_pages() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    five_ledger_movements(&app, &fx).await;
    // Receipt: 2 entries; adjustment: 1; cancellation: 2.
    let (all, pages) = every_id(&app, "stockLedger", "", "", json!({})).await;
    assert_eq!(all.len(), 5);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn the_stock_ledger_filters_by_product_location_reason_and_source() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let receipt = five_ledger_movements(&app, &fx).await;
    assert_eq!(
        ledger(&app, json!({ "productId": fx.products[0] })).await.1,
        ["RECEIPT", "ADJUSTMENT_FOUND", "RECEIPT_CANCELED"]
    );
    assert_eq!(
        ledger(&app, json!({ "locationId": fx.location2 })).await.1,
        ["RECEIPT", "RECEIPT_CANCELED"]
    );
    assert_eq!(
        ledger(
            &app,
            json!({ "reason": ["ADJUSTMENT_FOUND", "RECEIPT_CANCELED"] })
        )
        .await
        .1,
        ["ADJUSTMENT_FOUND", "RECEIPT_CANCELED", "RECEIPT_CANCELED"]
    );
    assert_eq!(ledger(&app, json!({ "sourceId": receipt })).await.0, 4);
    assert_eq!(
        ledger(&app, json!({ "sourceType": "InventoryItem" }))
            .await
            .1,
        ["ADJUSTMENT_FOUND"]
    );
}

#[tokio::test]
async fn the_stock_ledger_filters_by_date() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    five_ledger_movements(&app, &fx).await;
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap().to_string();
    assert_eq!(
        ledger(&app, json!({ "occurredAfter": yesterday })).await.0,
        5
    );
    assert_eq!(
        ledger(&app, json!({ "occurredBefore": yesterday })).await.0,
        0
    );
}

#[tokio::test]
async fn the_root_stock_ledger_and_an_items_own_ledger_are_one_connection_type() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    five_ledger_movements(&app, &fx).await;
    let typename = app
        .gql(
            "{ stockLedger(first: 1) { __typename edges { __typename } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        typename["stockLedger"]["__typename"],
        "StockLedgerConnection"
    );
    assert_eq!(
        typename["stockLedger"]["edges"][0]["__typename"],
        "StockLedgerEdge"
    );
}

#[tokio::test]
async fn the_stock_ledger_needs_inventory_read() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    five_ledger_movements(&app, &fx).await;
    refused_without(
        &app,
        "stockLedger",
        &[Permission::VendorsRead, Permission::PurchaseOrdersRead],
    )
    .await;
}

/// Three orders for the purchase-order filters, with the references only B uses.
struct FilterOrders {
    a: String,
    b: String,
    c: String,
    job2: String,
    project2: String,
    other_type: String,
    other_unit: String,
}

/// A: header links, expected early; B: line links to job 2 and project 2, other type and
/// unit, a washer line; C: nothing, expected late.
async fn filter_orders(app: &TestApp, fx: &crate::helpers::Fixture) -> FilterOrders {
    let job2 = created(
        app,
        "createJob",
        json!({ "number": "J-2", "name": "Two" }),
        "job",
    )
    .await;
    let project2 = created(
        app,
        "createProject",
        json!({ "number": "P-2", "name": "Two" }),
        "project",
    )
    .await;
    let other_type = created(
        app,
        "createPurchaseOrderType",
        json!({ "name": "Job" }),
        "purchaseOrderType",
    )
    .await;
    let other_unit = created(
        app,
        "createBusinessUnit",
        json!({ "name": "Heating" }),
        "businessUnit",
    )
    .await;
    let mut a_input = po_input(fx, &[(0, "1", None)]);
    a_input["jobId"] = json!(fx.job);
    a_input["projectId"] = json!(fx.project);
    a_input["technicianId"] = json!(fx.technician);
    a_input["expectedDate"] = json!("2026-03-01");
    let a = created(app, "createPurchaseOrder", a_input, "purchaseOrder").await;
    let mut b_input = po_input(fx, &[(0, "1", None), (2, "5", None)]);
    b_input["lines"][1]["jobId"] = json!(job2);
    b_input["lines"][1]["projectId"] = json!(project2);
    b_input["typeId"] = json!(other_type);
    b_input["businessUnitId"] = json!(other_unit);
    let b = created(app, "createPurchaseOrder", b_input, "purchaseOrder").await;
    let mut c_input = po_input(fx, &[(1, "1", None)]);
    c_input["expectedDate"] = json!("2026-06-01");
    let c = created(app, "createPurchaseOrder", c_input, "purchaseOrder").await;
    FilterOrders {
        a,
        b,
        c,
        job2,
        project2,
        other_type,
        other_unit,
    }
}

/// The ids of the purchase orders matching `filter`.
async fn orders_matching(app: &TestApp, filter: Value) -> Vec<String> {
    filtered(app, "purchaseOrders", "PurchaseOrderFilter", filter).await
}

#[tokio::test]
async fn purchase_orders_filter_by_job_and_project_on_the_header_or_a_line() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let FilterOrders {
        a,
        b,
        job2,
        project2,
        ..
    } = filter_orders(&app, &fx).await;
    let orders = |f: Value| orders_matching(&app, f);
    assert_eq!(orders(json!({ "jobId": fx.job })).await, vec![a.clone()]);
    assert_eq!(
        orders(json!({ "jobId": job2 })).await,
        vec![b.clone()],
        "a line's job counts"
    );
    assert_eq!(
        orders(json!({ "projectId": fx.project })).await,
        vec![a.clone()]
    );
    assert_eq!(
        orders(json!({ "projectId": project2 })).await,
        vec![b.clone()],
        "a line's project counts"
    );
}

#[tokio::test]
async fn purchase_orders_filter_by_technician_type_business_unit_and_product() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let FilterOrders {
        a,
        b,
        c,
        other_type,
        other_unit,
        ..
    } = filter_orders(&app, &fx).await;
    let orders = |f: Value| orders_matching(&app, f);
    assert_eq!(
        orders(json!({ "technicianId": fx.technician })).await,
        vec![a.clone()]
    );
    assert_eq!(
        orders(json!({ "typeId": other_type })).await,
        vec![b.clone()]
    );
    assert_eq!(
        orders(json!({ "typeId": fx.po_type })).await,
        [a.clone(), c.clone()]
    );
    assert_eq!(
        orders(json!({ "businessUnitId": other_unit })).await,
        vec![b.clone()]
    );
    assert_eq!(
        orders(json!({ "productId": fx.products[2] })).await,
        vec![b.clone()]
    );
    assert_eq!(
        orders(json!({ "productId": fx.products[0] })).await,
        [a.clone(), b.clone()]
    );
}

#[tokio::test]
async fn purchase_orders_expected_before_is_strict_and_an_order_without_a_date_is_never_late() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let FilterOrders { a, c, .. } = filter_orders(&app, &fx).await;
    let orders = |f: Value| orders_matching(&app, f);
    assert_eq!(
        orders(json!({ "expectedBefore": "2026-06-01" })).await,
        vec![a.clone()],
        "strictly before; orders without a date never late"
    );
    assert_eq!(
        orders(json!({ "expectedBefore": "2026-06-02", "status": ["PENDING"] })).await,
        [a.clone(), c.clone()]
    );
}

#[tokio::test]
async fn a_job_lists_the_orders_bought_for_it_by_header_or_line_once_each_paged() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let FilterOrders { a, .. } = filter_orders(&app, &fx).await;
    let line_only = {
        let mut input = po_input(&fx, &[(1, "1", None)]);
        input["lines"][0]["jobId"] = json!(fx.job);
        created(&app, "createPurchaseOrder", input, "purchaseOrder").await
    };
    let both = {
        let mut input = po_input(&fx, &[(1, "1", None)]);
        input["jobId"] = json!(fx.job);
        input["lines"][0]["jobId"] = json!(fx.job);
        created(&app, "createPurchaseOrder", input, "purchaseOrder").await
    };
    let page = |after: Value| {
        app.gql(
            "query($id: ID!, $after: String) { node(id: $id) { ... on Job { purchaseOrders(first: 2, after: $after) { \
             totalCount pageInfo { hasNextPage endCursor } nodes { id } } } } }",
            json!({ "id": fx.job, "after": after }),
        )
    };
    let first = page(Value::Null).await["node"]["purchaseOrders"].clone();
    assert_eq!(
        first["totalCount"], 3,
        "each order once, however it is linked"
    );
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["nodes"], json!([{ "id": a }, { "id": line_only }]));
    let second =
        page(first["pageInfo"]["endCursor"].clone()).await["node"]["purchaseOrders"].clone();
    assert_eq!(second["nodes"], json!([{ "id": both }]));
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn a_jobs_purchase_orders_need_purchase_orders_read_besides_vendors_read() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let reply = app
        .post(
            &app.token(&[Permission::VendorsRead]),
            "query($id: ID!) { node(id: $id) { ... on Job { purchaseOrders { totalCount } } } }",
            json!({ "id": fx.job }),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn inventory_items_are_found_by_sku_or_description_and_sorted() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    for (product, delta) in [(0, "7"), (1, "3"), (2, "12")] {
        app.ok(
            "adjustInventory",
            json!({ "productId": fx.products[product], "locationId": fx.location, "delta": delta, "reason": "FOUND" }),
            "inventoryItem { id }",
        )
        .await;
    }
    let skus = |sort: Value, filter: Value| {
        let app = &app;
        async move {
            let ids = every_id(
                app,
                "inventoryItems",
                ", $f: InventoryItemFilter, $s: InventoryItemSort",
                ", filter: $f, sort: $s",
                json!({ "f": filter, "s": sort }),
            )
            .await
            .0;
            let mut skus = Vec::new();
            for id in ids {
                let item = app
                    .gql(
                        "query($id: ID!) { node(id: $id) { ... on InventoryItem { product { sku } } } }",
                        json!({ "id": id }),
                    )
                    .await;
                skus.push(text(&item["node"]["product"]["sku"]));
            }
            skus
        }
    };
    assert_eq!(
        skus(Value::Null, json!({ "search": "pipe" })).await,
        ["PIPE-CU-15"],
        "by SKU, any case"
    );
    assert_eq!(
        skus(Value::Null, json!({ "search": "ash" })).await,
        ["WASHER"]
    );
    assert_eq!(
        skus(json!({ "field": "SKU", "direction": "DESC" }), Value::Null).await,
        ["WASHER", "PIPE-CU-15", "BOLT-M8"],
        "sorted by SKU across two pages"
    );
    assert_eq!(
        skus(json!({ "field": "ON_HAND" }), Value::Null).await,
        ["PIPE-CU-15", "BOLT-M8", "WASHER"]
    );
    assert_eq!(
        skus(
            json!({ "field": "AVAILABLE", "direction": "DESC" }),
            Value::Null
        )
        .await,
        ["WASHER", "BOLT-M8", "PIPE-CU-15"]
    );
    // A description search (the fixture's descriptions are the SKUs; give one its own).
    app.ok(
        "updateProduct",
        json!({ "id": fx.products[0], "description": "Hex bolt zinc" }),
        "product { id }",
    )
    .await;
    assert_eq!(
        skus(Value::Null, json!({ "search": "ZINC" })).await,
        ["BOLT-M8"]
    );
}

/// Receives `quantity` on the first line of `po`; returns the bill.
async fn receive_for_bill(app: &TestApp, po: &Value, quantity: &str) -> String {
    let lines = json!([{ "lineId": line(po, 0)["id"], "quantity": quantity }]);
    text(
        &app.ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": lines }),
            "bill { id }",
        )
        .await["bill"]["id"],
    )
}

#[tokio::test]
async fn bills_filter_by_due_date_and_number_and_sort_and_a_total_sort_needs_costs_read() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let barn = second_vendor(&app, 60).await;
    let acme_po = submitted(&app, po_input(&fx, &[(1, "10", None)])).await;
    let mut input = po_input(&fx, &[(0, "10", None)]);
    input["vendorId"] = json!(barn);
    let barn_po = submitted(&app, input).await;
    let acme1 = receive_for_bill(&app, &acme_po, "1").await; // total 10 × 1.08
    let barn1 = receive_for_bill(&app, &barn_po, "4").await; // 2.50 × 4, no tax
    let acme2 = receive_for_bill(&app, &acme_po, "2").await;

    let today = chrono::Utc::now().date_naive();
    // Acme's bills fall due in 30 days, Bolt Barn's in 60.
    let in_45_days = (today + chrono::Days::new(45)).to_string();
    let filter = "BillFilter";
    let bills = |f: Value| filtered(&app, "bills", filter, f);
    assert_eq!(
        bills(json!({ "dueAfter": in_45_days })).await,
        vec![barn1.clone()]
    );
    assert_eq!(
        bills(json!({ "dueBefore": in_45_days })).await,
        [acme1.clone(), acme2.clone()]
    );
    let acme_number = acme_po["number"].as_str().unwrap().to_lowercase();
    assert_eq!(
        bills(json!({ "number": format!("{acme_number}-2") })).await,
        vec![acme2.clone()],
        "number text, any case"
    );

    let sorted = |sort: Value| {
        let app = &app;
        async move {
            every_id(
                app,
                "bills",
                ", $s: BillSort",
                ", sort: $s",
                json!({ "s": sort }),
            )
            .await
            .0
        }
    };
    assert_eq!(
        sorted(json!({ "field": "DUE_DATE", "direction": "DESC" })).await,
        [barn1.clone(), acme2.clone(), acme1.clone()],
        "ties run by age in the sort's direction"
    );
    assert_eq!(
        sorted(json!({ "field": "TOTAL" })).await,
        [barn1.clone(), acme1.clone(), acme2.clone()]
    );
    // BILL-PO-…-0002-1 > BILL-PO-…-0001-2 > BILL-PO-…-0001-1.
    assert_eq!(
        sorted(json!({ "field": "NUMBER", "direction": "DESC" })).await,
        [barn1.clone(), acme2.clone(), acme1.clone()]
    );
    let reply = app
        .post(
            &app.token(&[Permission::BillsRead]),
            "{ bills(sort: { field: TOTAL }) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn products_are_listed_by_preferred_vendor() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let barn = second_vendor(&app, 30).await;
    for (product, vendor) in [(0, &fx.vendor), (2, &barn)] {
        app.ok(
            "updateProduct",
            json!({ "id": fx.products[product], "preferredVendorId": vendor }),
            "product { id }",
        )
        .await;
    }
    let products = |vendor: &str| {
        filtered(
            &app,
            "products",
            "ProductFilter",
            json!({ "preferredVendorId": vendor }),
        )
    };
    assert_eq!(products(&fx.vendor).await, vec![fx.products[0].clone()]);
    assert_eq!(products(&barn).await, vec![fx.products[2].clone()]);
}

const LINE: &str = "line { id job { id number } project { id number } product { id } \
    overReceiptAllowancePercent receivableQuantity }";

/// The allowance and receivable quantity of each line of `po`.
async fn allowance_lines(app: &TestApp, po: &Value) -> Value {
    app.gql(
        "query($id: ID) { purchaseOrder(id: $id) { lines { nodes { overReceiptAllowancePercent receivableQuantity } } } }",
        json!({ "id": po["id"] }),
    )
    .await["purchaseOrder"]["lines"]["nodes"]
        .clone()
}

#[tokio::test]
async fn a_line_shows_the_allowance_that_applies_and_the_most_receiving_still_accepts() {
    let settings = Settings {
        business: BusinessConfig {
            over_receipt_percent: Decimal::from(10),
            ..BusinessConfig::default()
        },
        ..Settings::default()
    };
    let app = spawn_app_with(settings).await;
    let fx = app.fixture().await;
    // The bolt keeps the server's 10 %; the pipe has its own 0 %.
    app.ok(
        "updateProduct",
        json!({ "id": fx.products[1], "overReceiptAllowancePercent": "0" }),
        "product { id }",
    )
    .await;
    let po = submitted(&app, po_input(&fx, &[(0, "10", None), (1, "10", None)])).await;
    assert_eq!(
        allowance_lines(&app, &po).await,
        json!([
            { "overReceiptAllowancePercent": "10", "receivableQuantity": "11" },
            { "overReceiptAllowancePercent": "0", "receivableQuantity": "10" },
        ])
    );
    let receive = |quantity: &str| json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": line(&po, 0)["id"], "quantity": quantity }] });
    app.ok("receivePurchaseOrder", receive("4"), "receipt { id }")
        .await;
    assert_eq!(
        allowance_lines(&app, &po).await[0]["receivableQuantity"],
        "7"
    );
    // Exactly what the line says is accepted; a unit more is OVER_RECEIPT.
    app.refused("receivePurchaseOrder", receive("7.0001"), "OVER_RECEIPT")
        .await;
    app.ok("receivePurchaseOrder", receive("7"), "receipt { id }")
        .await;
    assert_eq!(
        allowance_lines(&app, &po).await[0]["receivableQuantity"],
        "0"
    );
}

#[tokio::test]
async fn a_lines_job_and_project_are_readable_and_settable_on_add_and_update_and_must_be_active() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let mut input = po_input(&fx, &[(0, "1", None)]);
    input["lines"][0]["jobId"] = json!(fx.job);
    input["lines"][0]["projectId"] = json!(fx.project);
    let po = app
        .ok(
            "createPurchaseOrder",
            input,
            "purchaseOrder { id lines { nodes { job { number } project { number } } } }",
        )
        .await["purchaseOrder"]
        .clone();
    assert_eq!(
        po["lines"]["nodes"][0],
        json!({ "job": { "number": "J-1" }, "project": { "number": "P-1" } }),
        "what create stored is readable"
    );

    let job2 = created(
        &app,
        "createJob",
        json!({ "number": "J-2", "name": "Two" }),
        "job",
    )
    .await;
    let added = app
        .ok(
            "addPurchaseOrderLine",
            json!({ "purchaseOrderId": po["id"], "productId": fx.products[1], "locationId": fx.location,
                    "quantity": "2", "jobId": job2, "projectId": fx.project }),
            LINE,
        )
        .await["line"]
        .clone();
    assert_eq!(added["job"]["number"], "J-2");
    assert_eq!(added["project"]["number"], "P-1");

    let updated = app
        .ok(
            "updatePurchaseOrderLine",
            json!({ "lineId": added["id"], "jobId": fx.job, "projectId": null }),
            LINE,
        )
        .await["line"]
        .clone();
    assert_eq!(updated["job"]["number"], "J-1");
    assert!(updated["project"].is_null(), "null unlinks");
    let kept = app
        .ok(
            "updatePurchaseOrderLine",
            json!({ "lineId": added["id"], "quantity": "3" }),
            LINE,
        )
        .await["line"]
        .clone();
    assert_eq!(kept["job"]["number"], "J-1", "omitted links stay");

    deactivate(&app, "deactivateJob", &job2).await;
    deactivate(&app, "deactivateProject", &fx.project).await;
    let field = app
        .refused(
            "addPurchaseOrderLine",
            json!({ "purchaseOrderId": po["id"], "productId": fx.products[1], "locationId": fx.location,
                    "quantity": "2", "jobId": job2 }),
            "REFERENCE_INACTIVE",
        )
        .await;
    assert_eq!(field, "input.jobId");
    let field = app
        .refused(
            "updatePurchaseOrderLine",
            json!({ "lineId": added["id"], "projectId": fx.project }),
            "REFERENCE_INACTIVE",
        )
        .await;
    assert_eq!(field, "input.projectId");
    app.refused(
        "updatePurchaseOrderLine",
        json!({ "lineId": added["id"], "jobId": "gid://stockgraph/Job/999" }),
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn a_line_added_for_a_job_material_takes_its_product_and_job() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "1", None)]).await;
    let material = created(
        &app,
        "createJobMaterial",
        json!({ "jobId": fx.job, "productId": fx.products[2], "quantity": "5" }),
        "jobMaterial",
    )
    .await;
    let added = app
        .ok(
            "addPurchaseOrderLine",
            json!({ "purchaseOrderId": po["id"], "jobMaterialId": material, "locationId": fx.location, "quantity": "5" }),
            "line { product { id } job { id } jobMaterial { id } }",
        )
        .await["line"]
        .clone();
    assert_eq!(added["product"]["id"], fx.products[2]);
    assert_eq!(added["job"]["id"], fx.job);
    assert_eq!(added["jobMaterial"]["id"], material);
    // Neither a product nor a material: a typed error, nothing written.
    let field = app
        .refused(
            "addPurchaseOrderLine",
            json!({ "purchaseOrderId": po["id"], "locationId": fx.location, "quantity": "5" }),
            "INVALID_INPUT",
        )
        .await;
    assert_eq!(field, "input.productId");
}

#[tokio::test]
async fn the_new_lists_refuse_unauthenticated_callers() {
    let app = spawn_app().await;
    for field in [
        "businessUnits",
        "purchaseOrderTypes",
        "jobs",
        "projects",
        "technicians",
        "receipts",
        "jobMaterials",
        "stockLedger",
    ] {
        let reply = app
            .post("", &format!("{{ {field} {{ totalCount }} }}"), json!({}))
            .await;
        assert_eq!(
            reply.body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{field}: {}",
            reply.body
        );
    }
}
