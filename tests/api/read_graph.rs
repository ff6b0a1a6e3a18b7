//! The read graph: links both ways, node/nodes, filters, sorts, paging edges and the
//! statement count that proves loading is batched per level.

use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use stockgraph::auth::Permission;

use crate::helpers::{
    spawn_app, spawn_counting_app, spawn_counting_app_with_peer, Fixture, TestApp,
};
use crate::purchasing::{create_po, line, transition};

async fn receive(app: &TestApp, po: &Value, lines: &[(usize, &str)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(i, q)| json!({ "lineId": line(po, *i)["id"], "quantity": q }))
        .collect();
    app.ok(
        "receivePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "lines": lines }),
        "receipt { id } bill { id }",
    )
    .await
}

fn ids(connection: &Value) -> Vec<Value> {
    connection["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|n| n["id"].clone())
        .collect()
}

#[tokio::test]
async fn every_link_walks_both_ways() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "5", None), (1, "2", None)]).await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let received = receive(&app, &po, &[(0, "2")]).await;
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": received["receipt"]["id"] }),
        "",
    )
    .await;
    receive(&app, &po, &[(0, "3")]).await;
    let done = app
        .ok(
            "finalizePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "createBackorder": true }),
            "backorder { id }",
        )
        .await;
    let data = app
        .gql(
            r#"query($vendor: ID!, $po: ID) {
              vendor: node(id: $vendor) { ... on Vendor { purchaseOrders(first: 10) { totalCount nodes { id } } bills { totalCount nodes { id } } } }
              purchaseOrder(id: $po) {
                vendor { id } shipTo { id } type { id } businessUnit { id }
                backorders { id backorderOf { id } }
                lines(first: 5) { nodes { purchaseOrder { id } product { id inventoryItems { nodes { id } } }
                                          location { id inventoryItems { totalCount } }
                                          inventoryItem { id product { id } location { id } onHand available ledger(first: 5) { totalCount nodes { delta sourceId } } } } }
                receipts { id purchaseOrder { id } canceledAt lines { quantity line { id } }
                           bill { id } bills { id kind creditOf { id } receipt { id } purchaseOrder { id } vendor { id } lines { line { id } } } }
                bills { id }
              }
            }"#,
            json!({ "vendor": fx.vendor, "po": po["id"] }),
        )
        .await;
    let vendor_orders = ids(&data["vendor"]["purchaseOrders"]);
    assert!(vendor_orders.contains(&po["id"]) && vendor_orders.contains(&done["backorder"]["id"]));
    assert_eq!(data["vendor"]["bills"]["totalCount"], 3);
    let po_data = &data["purchaseOrder"];
    assert_eq!(po_data["vendor"]["id"], json!(fx.vendor));
    assert_eq!(po_data["shipTo"]["id"], json!(fx.location));
    assert_eq!(po_data["backorders"][0]["id"], done["backorder"]["id"]);
    assert_eq!(po_data["backorders"][0]["backorderOf"]["id"], po["id"]);
    let first_line = &po_data["lines"]["nodes"][0];
    assert_eq!(first_line["purchaseOrder"]["id"], po["id"]);
    let item = &first_line["inventoryItem"];
    assert_eq!(item["onHand"], "3");
    assert_eq!(item["available"], "3");
    assert_eq!(item["product"]["id"], json!(fx.products[0]));
    assert_eq!(item["ledger"]["totalCount"], 3);
    assert!(item["ledger"]["nodes"][0]["sourceId"]
        .as_str()
        .unwrap()
        .contains("/Receipt/"));
    assert_eq!(
        first_line["product"]["inventoryItems"]["nodes"][0]["id"],
        item["id"]
    );
    assert_eq!(first_line["location"]["inventoryItems"]["totalCount"], 2);
    let receipts = po_data["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 2);
    assert!(receipts[0]["canceledAt"].is_string());
    assert_eq!(
        receipts[0]["lines"][0]["line"]["id"],
        first_line["purchaseOrder"]["id"]
            .clone()
            .as_str()
            .map(|_| line(&po, 0)["id"].clone())
            .unwrap()
    );
    let credit = &receipts[0]["bills"][1];
    assert_eq!(credit["kind"], "CREDIT");
    assert_eq!(credit["creditOf"]["id"], receipts[0]["bills"][0]["id"]);
    assert_eq!(credit["receipt"]["id"], receipts[0]["id"]);
    assert_eq!(credit["vendor"]["id"], json!(fx.vendor));
    assert_eq!(po_data["bills"].as_array().unwrap().len(), 3);
}

/// One object of every node type (type name, global ID), from a submitted order with a receipt
/// and a job material.
async fn one_of_every_type(app: &TestApp, fx: &Fixture) -> Vec<(&'static str, Value)> {
    let po = create_po(app, fx, &[(0, "2", None)]).await;
    let po = transition(app, "submitPurchaseOrder", &po).await;
    let received = receive(app, &po, &[(0, "1")]).await;
    let extra = app
        .gql(
            r#"query($po: ID) { purchaseOrder(id: $po) { lines(first: 1) { nodes { inventoryItem { id ledger { nodes { id } } } } }
                 receipts { lines { id } bill { lines { id } } } } }"#,
            json!({ "po": po["id"] }),
        )
        .await["purchaseOrder"]
        .clone();
    let material = app
        .ok(
            "createJobMaterial",
            json!({ "jobId": fx.job, "productId": fx.products[0], "quantity": "1" }),
            "jobMaterial { id }",
        )
        .await["jobMaterial"]["id"]
        .clone();
    let item = &extra["lines"]["nodes"][0]["inventoryItem"];
    vec![
        ("Vendor", json!(fx.vendor)),
        ("Product", json!(fx.products[0])),
        ("InventoryLocation", json!(fx.location)),
        ("PurchaseOrderType", json!(fx.po_type)),
        ("BusinessUnit", json!(fx.business_unit)),
        ("Job", json!(fx.job)),
        ("Project", json!(fx.project)),
        ("Technician", json!(fx.technician)),
        ("JobMaterial", material),
        ("PurchaseOrder", po["id"].clone()),
        ("PurchaseOrderLine", line(&po, 0)["id"].clone()),
        ("Receipt", received["receipt"]["id"].clone()),
        (
            "ReceiptLine",
            extra["receipts"][0]["lines"][0]["id"].clone(),
        ),
        ("Bill", received["bill"]["id"].clone()),
        (
            "BillLine",
            extra["receipts"][0]["bill"]["lines"][0]["id"].clone(),
        ),
        ("InventoryItem", item["id"].clone()),
        ("StockLedgerEntry", item["ledger"]["nodes"][0]["id"].clone()),
    ]
}

#[tokio::test]
async fn nodes_fetches_one_of_every_type_in_the_order_asked() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let every = one_of_every_type(&app, &fx).await;
    let all: Vec<Value> = every.iter().map(|(_, id)| id.clone()).collect();
    let data = app
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": all }),
        )
        .await;
    for (i, (type_name, id)) in every.iter().enumerate() {
        assert_eq!(data["nodes"][i]["__typename"], *type_name);
        assert_eq!(data["nodes"][i]["id"], *id);
    }
}

#[tokio::test]
async fn node_fetches_one_of_every_type() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    for (type_name, id) in one_of_every_type(&app, &fx).await {
        let one = app
            .gql(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(one["node"]["id"], id, "{type_name}");
    }
}

#[tokio::test]
async fn nodes_answers_null_in_place_for_a_missing_row() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let data = app
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ["gid://stockgraph/Vendor/999", fx.vendor] }),
        )
        .await;
    assert!(data["nodes"][0].is_null());
    assert_eq!(data["nodes"][1]["id"], json!(fx.vendor));
}

#[tokio::test]
async fn a_malformed_or_foreign_id_is_a_bad_request_that_names_it() {
    let app = spawn_app().await;
    for bad in [
        "42",
        "gid://stockgraph/Spaceship/1",
        "gid://other/Vendor/1",
        "gid://stockgraph/Vendor/x",
    ] {
        let (code, message) = app
            .gql_error(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": bad }),
            )
            .await;
        assert_eq!(code, "BAD_REQUEST", "{bad}");
        assert!(message.contains(bad), "{message}");
    }
}

#[tokio::test]
async fn nodes_refuses_more_than_50_ids() {
    let app = spawn_app().await;
    let too_many: Vec<String> = (1..=51)
        .map(|i| format!("gid://stockgraph/Vendor/{i}"))
        .collect();
    let (code, message) = app
        .gql_error(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": too_many }),
        )
        .await;
    assert_eq!(code, "BAD_REQUEST");
    assert!(message.contains("50"), "{message}");
}

#[tokio::test]
async fn node_is_guarded_by_its_types_read_permission() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "2", None)]).await;
    let vendors_only = app.token(&[Permission::VendorsRead]);
    let reply = app
        .post(
            &vendors_only,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": po["id"] }),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

/// Four orders with known dates, statuses, vendors and totals.
async fn orders(app: &TestApp, fx: &Fixture) -> Vec<Value> {
    let address = json!({ "street": "9 Dock Rd", "city": "Portland", "postalCode": "97201", "country": "US" });
    let zenith = app
        .ok(
            "createVendor",
            json!({ "name": "Zenith Pipe", "code": "ZEN", "address": address }),
            "vendor { id }",
        )
        .await["vendor"]["id"]
        .clone();
    let a = create_po(app, fx, &[(0, "1", None)]).await; // 2.50 → 2.70
    let b = create_po(app, fx, &[(1, "5", None)]).await; // 50 → 54.00
    let mut input = crate::purchasing::po_input(fx, &[(2, "3", None)]);
    input["vendorId"] = zenith.clone();
    input["shipToId"] = json!(fx.location2);
    input["expectedDate"] = json!("2026-03-01");
    let c = app
        .ok("createPurchaseOrder", input, crate::purchasing::PO)
        .await["purchaseOrder"]
        .clone();
    let mut input = crate::purchasing::po_input(fx, &[(1, "1", None)]);
    input["lines"][0]["locationId"] = json!(fx.location2);
    input["expectedDate"] = json!("2026-02-01");
    let d = app
        .ok("createPurchaseOrder", input, crate::purchasing::PO)
        .await["purchaseOrder"]
        .clone();
    transition(app, "submitPurchaseOrder", &b).await;
    transition(app, "submitPurchaseOrder", &c).await;
    transition(app, "markPurchaseOrderExported", &c).await;
    transition(app, "cancelPurchaseOrder", &d).await;
    for (po, date) in [
        (&a, "2026-01-10"),
        (&b, "2026-01-15"),
        (&c, "2026-01-20"),
        (&d, "2026-01-25"),
    ] {
        let id = crate::helpers::row_id(&po["id"]);
        // Late in the day (UTC), to prove the date bounds are whole days.
        let stamp = format!("'{date}T23:30:00+00:00'");
        app.db
            .execute_unprepared(&format!(
                "UPDATE purchase_orders SET order_date = {stamp} WHERE id = {id}"
            ))
            .await
            .unwrap();
    }
    vec![a, b, c, d]
}

async fn po_ids(app: &TestApp, args: &str) -> Vec<Value> {
    let data = app
        .gql(
            &format!("{{ purchaseOrders{args} {{ totalCount nodes {{ id }} }} }}"),
            json!({}),
        )
        .await;
    let found = ids(&data["purchaseOrders"]);
    assert_eq!(data["purchaseOrders"]["totalCount"], found.len(), "{args}");
    found
}

#[tokio::test]
async fn purchase_orders_filter_by_every_criterion() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let all = orders(&app, &fx).await;
    let id = |i: usize| all[i]["id"].clone();
    assert_eq!(po_ids(&app, "").await, [id(0), id(1), id(2), id(3)]);
    assert_eq!(
        po_ids(&app, "(filter: { status: [SUBMITTED, CANCELED] })").await,
        [id(1), id(2), id(3)]
    );
    assert_eq!(
        po_ids(&app, "(filter: { status: [PENDING] })").await,
        [id(0)]
    );
    assert_eq!(
        po_ids(
            &app,
            &format!("(filter: {{ vendorId: \"{}\" }})", fx.vendor)
        )
        .await,
        [id(0), id(1), id(3)]
    );
    // Ship-to or a line delivered there.
    assert_eq!(
        po_ids(
            &app,
            &format!("(filter: {{ locationId: \"{}\" }})", fx.location2)
        )
        .await,
        [id(2), id(3)]
    );
    // Inclusive on both ends, whole days in UTC.
    assert_eq!(
        po_ids(
            &app,
            "(filter: { orderedAfter: \"2026-01-15\", orderedBefore: \"2026-01-20\" })"
        )
        .await,
        [id(1), id(2)]
    );
    assert_eq!(
        po_ids(&app, "(filter: { orderedBefore: \"2026-01-09\" })").await,
        Vec::<Value>::new()
    );
    assert_eq!(po_ids(&app, "(filter: { exported: true })").await, [id(2)]);
    assert_eq!(po_ids(&app, "(filter: { exported: false })").await.len(), 3);
    assert_eq!(
        po_ids(&app, "(filter: { search: \"zenith\" })").await,
        [id(2)]
    );
    let number = all[1]["number"].as_str().unwrap().to_lowercase();
    assert_eq!(
        po_ids(&app, &format!("(filter: {{ search: \"{number}\" }})")).await,
        [id(1)]
    );
    assert_eq!(
        po_ids(
            &app,
            &format!(
                "(filter: {{ search: \"acme\", status: [SUBMITTED], vendorId: \"{}\" }})",
                fx.vendor
            )
        )
        .await,
        [id(1)]
    );
    // A search for LIKE wildcards matches them literally.
    assert_eq!(
        po_ids(&app, "(filter: { search: \"%\" })").await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn purchase_orders_sort_by_number_dates_and_total_both_ways() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let all = orders(&app, &fx).await;
    let id = |i: usize| all[i]["id"].clone();
    assert_eq!(
        po_ids(&app, "(sort: { field: NUMBER })").await,
        [id(0), id(1), id(2), id(3)]
    );
    assert_eq!(
        po_ids(&app, "(sort: { field: NUMBER, direction: DESC })").await,
        [id(3), id(2), id(1), id(0)]
    );
    assert_eq!(
        po_ids(&app, "(sort: { field: ORDER_DATE, direction: DESC })").await,
        [id(3), id(2), id(1), id(0)]
    );
    // Orders without an expected date come last.
    assert_eq!(
        po_ids(&app, "(sort: { field: EXPECTED_DATE })").await,
        [id(3), id(2), id(0), id(1)]
    );
    // Totals: a 2.70, b 54.00, c 1.08, d 10.80.
    assert_eq!(
        po_ids(&app, "(sort: { field: TOTAL })").await,
        [id(2), id(0), id(3), id(1)]
    );
    assert_eq!(
        po_ids(&app, "(sort: { field: TOTAL, direction: DESC })").await,
        [id(1), id(3), id(0), id(2)]
    );
    // Sorted pages walk forward and back without gaps.
    let page = app
        .gql(
            "{ purchaseOrders(first: 3, sort: { field: TOTAL, direction: DESC }) { pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id } } }",
            json!({}),
        )
        .await["purchaseOrders"]
        .clone();
    assert_eq!(ids(&page), [id(1), id(3), id(0)]);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let next = app
        .gql(
            "query($after: String) { purchaseOrders(first: 3, after: $after, sort: { field: TOTAL, direction: DESC }) { pageInfo { hasNextPage hasPreviousPage startCursor } nodes { id } } }",
            json!({ "after": page["pageInfo"]["endCursor"] }),
        )
        .await["purchaseOrders"]
        .clone();
    assert_eq!(ids(&next), [id(2)]);
    assert_eq!(next["pageInfo"]["hasNextPage"], false);
    assert_eq!(next["pageInfo"]["hasPreviousPage"], true);
    let back = app
        .gql(
            "query($before: String) { purchaseOrders(last: 2, before: $before, sort: { field: TOTAL, direction: DESC }) { pageInfo { hasPreviousPage } nodes { id } } }",
            json!({ "before": next["pageInfo"]["startCursor"] }),
        )
        .await["purchaseOrders"]
        .clone();
    assert_eq!(ids(&back), [id(3), id(0)]);
    assert_eq!(back["pageInfo"]["hasPreviousPage"], true);
    // Vendors sort too.
    let vendors = app
        .gql(
            "{ vendors(sort: { field: NAME, direction: DESC }) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(vendors["vendors"]["nodes"][0]["name"], "Zenith Pipe");
}

/// Walks a sorted purchase-order list in pages of 2, forward and then backward.
async fn walk(app: &TestApp, sort: &str) -> (Vec<Value>, Vec<Value>) {
    let page = |args: String| async move {
        app.gql(
            &format!("{{ purchaseOrders({args}, sort: {sort}) {{ pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} nodes {{ id }} }} }}"),
            json!({}),
        )
        .await["purchaseOrders"]
        .clone()
    };
    let mut forward = Vec::new();
    let mut args = "first: 2".to_owned();
    loop {
        let p = page(args).await;
        assert_eq!(
            p["pageInfo"]["hasPreviousPage"],
            !forward.is_empty(),
            "{sort}"
        );
        forward.extend(ids(&p));
        if p["pageInfo"]["hasNextPage"] == false {
            break;
        }
        args = format!(
            "first: 2, after: \"{}\"",
            p["pageInfo"]["endCursor"].as_str().unwrap()
        );
    }
    let mut backward = Vec::new();
    let mut args = "last: 2".to_owned();
    loop {
        let p = page(args).await;
        assert_eq!(p["pageInfo"]["hasNextPage"], !backward.is_empty(), "{sort}");
        let mut found = ids(&p);
        found.extend(backward);
        backward = found;
        if p["pageInfo"]["hasPreviousPage"] == false {
            break;
        }
        args = format!(
            "last: 2, before: \"{}\"",
            p["pageInfo"]["startCursor"].as_str().unwrap()
        );
    }
    (forward, backward)
}

/// Seven pending orders with expected dates with ties and gaps, and totals with ties (one or
/// two units of the same product); returns their ids in creation order.
async fn seven_orders_with_ties(app: &TestApp, fx: &Fixture) -> Vec<Value> {
    let mut all = Vec::new();
    for (date, quantity) in [
        (Some("2026-03-01"), "1"),
        (None, "2"),
        (Some("2026-02-01"), "1"),
        (Some("2026-03-01"), "2"),
        (None, "1"),
        (Some("2026-02-01"), "2"),
        (Some("2026-01-01"), "1"),
    ] {
        let mut input = crate::purchasing::po_input(fx, &[(0, quantity, None)]);
        input["expectedDate"] = json!(date);
        all.push(
            app.ok("createPurchaseOrder", input, crate::purchasing::PO)
                .await["purchaseOrder"]["id"]
                .clone(),
        );
    }
    all
}

#[tokio::test]
async fn orders_sort_by_expected_date_with_ties_by_id_and_orders_without_a_date_last() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let all = seven_orders_with_ties(&app, &fx).await;
    let id = |i: usize| all[i].clone();
    assert_eq!(
        po_ids(&app, "(sort: { field: EXPECTED_DATE })").await,
        [id(6), id(2), id(5), id(0), id(3), id(1), id(4)]
    );
}

/// Paging through the seven orders sorted by `field`, both ways, forward and backward, finds
/// the whole sorted list.
async fn assert_sorted_pages_walk_through_ties(field: &str) {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    seven_orders_with_ties(&app, &fx).await;
    for direction in ["ASC", "DESC"] {
        let sort = format!("{{ field: {field}, direction: {direction} }}");
        let whole = po_ids(&app, &format!("(first: 50, sort: {sort})")).await;
        assert_eq!(whole.len(), 7);
        let (forward, backward) = walk(&app, &sort).await;
        assert_eq!(forward, whole, "{sort} forward");
        assert_eq!(backward, whole, "{sort} backward");
    }
}

#[tokio::test]
async fn pages_sorted_by_number_walk_both_ways_through_ties() {
    assert_sorted_pages_walk_through_ties("NUMBER").await;
}

#[tokio::test]
async fn pages_sorted_by_order_date_walk_both_ways_through_ties() {
    assert_sorted_pages_walk_through_ties("ORDER_DATE").await;
}

#[tokio::test]
async fn pages_sorted_by_expected_date_walk_both_ways_through_ties_and_missing_dates() {
    assert_sorted_pages_walk_through_ties("EXPECTED_DATE").await;
}

#[tokio::test]
async fn pages_sorted_by_total_walk_both_ways_through_ties() {
    assert_sorted_pages_walk_through_ties("TOTAL").await;
}

#[tokio::test]
async fn an_order_inserted_before_a_sorted_cursor_does_not_shift_the_next_page_and_one_after_it_appears_in_place(
) {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let all = seven_orders_with_ties(&app, &fx).await;
    let id = |i: usize| all[i].clone();
    // With offsets, the insert before the cursor would shift the next page.
    let sort = "{ field: EXPECTED_DATE }";
    let first = app
        .gql(
            &format!("{{ purchaseOrders(first: 3, sort: {sort}) {{ pageInfo {{ endCursor }} }} }}"),
            json!({}),
        )
        .await["purchaseOrders"]["pageInfo"]["endCursor"]
        .clone();
    let mut input = crate::purchasing::po_input(&fx, &[(0, "1", None)]);
    input["expectedDate"] = json!("2025-12-01");
    app.ok("createPurchaseOrder", input, "").await;
    let mut input = crate::purchasing::po_input(&fx, &[(0, "1", None)]);
    input["expectedDate"] = json!("2026-02-15");
    let between = app
        .ok("createPurchaseOrder", input, crate::purchasing::PO)
        .await["purchaseOrder"]["id"]
        .clone();
    let rest = app
        .gql(
            &format!("query($after: String) {{ purchaseOrders(first: 50, after: $after, sort: {sort}) {{ pageInfo {{ hasPreviousPage hasNextPage }} nodes {{ id }} }} }}"),
            json!({ "after": first }),
        )
        .await["purchaseOrders"]
        .clone();
    assert_eq!(ids(&rest), [between, id(0), id(3), id(1), id(4)]);
    assert_eq!(rest["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn a_sorted_page_cannot_resume_from_a_row_that_is_gone() {
    let app = spawn_app().await;
    app.fixture().await;
    let vendors = app
        .gql(
            "{ vendors(first: 1, sort: { field: NAME }) { nodes { id } pageInfo { endCursor } } }",
            json!({}),
        )
        .await["vendors"]
        .clone();
    let spare = app
        .ok(
            "createVendor",
            json!({ "name": "Aardvark Supply", "code": "AAR",
                    "address": { "street": "1 Main St", "city": "Portland", "postalCode": "97201", "country": "US" } }),
            "vendor { id }",
        )
        .await["vendor"]["id"]
        .clone();
    let cursor = app
        .gql(
            "{ vendors(first: 1, sort: { field: NAME }) { nodes { id } pageInfo { endCursor } } }",
            json!({}),
        )
        .await["vendors"]
        .clone();
    assert_eq!(cursor["nodes"][0]["id"], spare);
    assert_ne!(vendors["nodes"][0]["id"], spare);
    app.db
        .execute_unprepared(&format!(
            "DELETE FROM vendors WHERE id = {}",
            crate::helpers::row_id(&spare)
        ))
        .await
        .unwrap();
    let (code, message) = app
        .gql_error(
            "query($after: String) { vendors(first: 1, after: $after, sort: { field: NAME }) { totalCount } }",
            json!({ "after": cursor["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(code, "BAD_REQUEST");
    assert!(message.contains("no longer exists"), "{message}");
}

/// A page of the purchase-order list under `args`, with its cursors and numbers.
async fn numbered_page(app: &TestApp, args: &str) -> Value {
    let query = format!("{{ purchaseOrders({args}) {{ totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} edges {{ cursor node {{ number }} }} }} }}");
    app.gql(&query, json!({})).await["purchaseOrders"].clone()
}

/// The order numbers of a page from [`numbered_page`].
fn numbers(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["number"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates `n` pending orders of one line.
async fn create_orders(app: &TestApp, fx: &Fixture, n: usize) {
    for _ in 0..n {
        create_po(app, fx, &[(0, "1", None)]).await;
    }
}

#[tokio::test]
async fn the_first_and_last_pages_know_what_lies_beyond_them() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    create_orders(&app, &fx, 5).await;
    let first = numbered_page(&app, "first: 2").await;
    assert_eq!(first["totalCount"], 5);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["endCursor"], first["edges"][1]["cursor"]);
    let last = numbered_page(&app, "last: 2").await;
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(last["pageInfo"]["hasNextPage"], false);
    let all = numbers(&numbered_page(&app, "first: 50").await);
    assert_eq!(numbers(&last), all[3..]);
}

#[tokio::test]
async fn inserts_between_pages_do_not_shift_the_keyset_cursor_either_way() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    create_orders(&app, &fx, 5).await;
    let first = numbered_page(&app, "first: 2").await;
    let all = numbers(&numbered_page(&app, "first: 50").await);
    create_po(&app, &fx, &[(0, "1", None)]).await;
    let cursor = first["pageInfo"]["endCursor"].as_str().unwrap();
    let second = numbered_page(&app, &format!("first: 2, after: \"{cursor}\"")).await;
    assert_eq!(numbers(&second), all[2..4]);
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    let before = numbered_page(
        &app,
        &format!(
            "last: 5, before: \"{}\"",
            second["pageInfo"]["startCursor"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(numbers(&before), all[..2]);
    assert_eq!(before["pageInfo"]["hasPreviousPage"], false);
}

#[tokio::test]
async fn an_empty_page_has_no_next_page_and_no_cursor() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    create_orders(&app, &fx, 5).await;
    let empty = numbered_page(&app, "first: 2, filter: { status: [CLOSED] }").await;
    assert_eq!(empty["totalCount"], 0);
    assert_eq!(empty["edges"], json!([]));
    assert_eq!(empty["pageInfo"]["hasNextPage"], false);
    assert!(empty["pageInfo"]["endCursor"].is_null());
}

#[tokio::test]
async fn over_limit_negative_contradictory_and_bad_cursor_arguments_are_clear_errors() {
    let app = spawn_app().await;
    for (args, needle) in [
        ("first: 51", "page size limit is 50"),
        ("last: 51", "page size limit is 50"),
        ("first: -1", "must not be negative"),
        ("first: 1, last: 1", "either `first` or `last`"),
        ("after: \"nonsense\"", "not a cursor"),
        ("after: \"6f66667365743a76313a32\"", "not a cursor"),
    ] {
        let (code, message) = app
            .gql_error(
                &format!("{{ purchaseOrders({args}) {{ totalCount }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(code, "BAD_REQUEST", "{args}");
        assert!(message.contains(needle), "{args}: {message}");
    }
}

#[tokio::test]
async fn nested_connections_page_too() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // Six orders of one line and one of three: seven for the vendor.
    create_orders(&app, &fx, 6).await;
    let po = create_po(&app, &fx, &[(0, "1", None), (1, "1", None), (2, "1", None)]).await;
    let lines = app
        .gql(
            "query($id: ID) { purchaseOrder(id: $id) { lines(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { lineNumber } } } }",
            json!({ "id": po["id"] }),
        )
        .await["purchaseOrder"]["lines"]
        .clone();
    assert_eq!(lines["totalCount"], 3);
    assert_eq!(lines["pageInfo"]["hasNextPage"], true);
    let vendor_page = app
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Vendor { purchaseOrders(first: 4) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } } } } }",
            json!({ "id": fx.vendor }),
        )
        .await["node"]["purchaseOrders"]
        .clone();
    assert_eq!(vendor_page["totalCount"], 7);
    assert_eq!(vendor_page["pageInfo"]["hasNextPage"], true);
    let rest = app
        .gql(
            "query($id: ID!, $after: String) { node(id: $id) { ... on Vendor { purchaseOrders(first: 4, after: $after) { pageInfo { hasNextPage hasPreviousPage } nodes { id } } } } }",
            json!({ "id": fx.vendor, "after": vendor_page["pageInfo"]["endCursor"] }),
        )
        .await["node"]["purchaseOrders"]
        .clone();
    assert_eq!(rest["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    assert_eq!(rest["pageInfo"]["hasPreviousPage"], true);
}

#[tokio::test]
async fn vendors_products_items_and_bills_filter() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    app.ok("deactivateProduct", json!({ "id": fx.products[2] }), "")
        .await;
    let data = app
        .gql(
            r#"{ active: products(filter: { active: true }) { totalCount }
                 serialized: products(filter: { serialized: true }) { nodes { id } }
                 pipe: products(filter: { search: "pipe" }) { nodes { id } }
                 acme: vendors(filter: { search: "acm", active: true }) { nodes { id } }
                 trucks: inventoryLocations(filter: { search: "truck" }) { nodes { id } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["active"]["totalCount"], 3);
    assert_eq!(ids(&data["serialized"]), [json!(fx.serialized)]);
    assert_eq!(ids(&data["pipe"]), [json!(fx.products[1])]);
    assert_eq!(ids(&data["acme"]), [json!(fx.vendor)]);
    assert_eq!(ids(&data["trucks"]), [json!(fx.location2)]);
    // Items and bills.
    let po = create_po(&app, &fx, &[(0, "10", None), (1, "10", None)]).await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let first = receive(&app, &po, &[(0, "4")]).await;
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": first["receipt"]["id"] }),
        "",
    )
    .await;
    receive(&app, &po, &[(1, "2")]).await;
    app.db
        .execute_unprepared(&format!(
            "UPDATE inventory_items SET minimum = 50000 WHERE product_id = {}",
            crate::helpers::row_id(&json!(fx.products[1]))
        ))
        .await
        .unwrap();
    let data = app
        .gql(
            &format!(
                r#"{{ low: inventoryItems(filter: {{ belowMinimum: true }}) {{ nodes {{ product {{ id }} }} }}
                     due: inventoryItems(filter: {{ needsReorder: true }}) {{ totalCount }}
                     here: inventoryItems(filter: {{ locationId: "{}", productId: "{}" }}) {{ nodes {{ onOrder }} }}
                     credits: bills(filter: {{ kind: CREDIT }}) {{ nodes {{ id }} }}
                     open: bills(filter: {{ status: OPEN, purchaseOrderId: "{}", vendorId: "{}" }}) {{ totalCount }}
                     dated: bills(filter: {{ billedAfter: "2000-01-01", billedBefore: "2000-12-31" }}) {{ totalCount }} }}"#,
                fx.location, fx.products[0], po["id"].as_str().unwrap(), fx.vendor
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        data["low"]["nodes"][0]["product"]["id"],
        json!(fx.products[1])
    );
    // 2 on hand + 8 on order = 10 ≥ 5: low, but not due for reorder.
    assert_eq!(data["due"]["totalCount"], 0);
    assert_eq!(data["here"]["nodes"][0]["onOrder"], "10");
    assert_eq!(data["credits"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(data["open"]["totalCount"], 3);
    assert_eq!(data["dated"]["totalCount"], 0);
}

/// The page of issue 13: orders by number with their vendor, ship-to, lines, products and
/// locations.
const PAGE: &str = r#"query($n: Int) { purchaseOrders(first: $n, sort: { field: NUMBER }) {
    totalCount nodes { number
    vendor { id code name paymentTermsDays } shipTo { code name }
    lines(first: 10) { totalCount nodes { lineNumber quantity quantityReceived unitCost
                                          product { id sku description unitOfMeasure } location { code } } } } } }"#;

/// The relations `PAGE` walks, each one level of loading: the orders, then their vendors,
/// ship-to locations and lines, then the lines' products and locations.
const PAGE_RELATIONS: [&str; 6] = [
    "purchaseOrders",
    "vendor",
    "shipTo",
    "lines",
    "product",
    "location",
];

/// Fifty orders of three lines, every other one received (so it has receipts and a bill).
async fn fifty_orders(app: &TestApp) {
    let fx = app.fixture().await;
    for i in 0..50 {
        let po = create_po(app, &fx, &[(0, "4", None), (1, "2", None), (2, "1", None)]).await;
        if i % 2 == 0 {
            let po = transition(app, "submitPurchaseOrder", &po).await;
            receive(app, &po, &[(0, "1"), (1, "1")]).await;
        }
    }
}

/// Runs `query` for `n` orders and returns the statements it took.
async fn statements_of(
    app: &TestApp,
    log: &std::sync::Mutex<Vec<String>>,
    query: &str,
    n: usize,
) -> Vec<String> {
    log.lock().unwrap().clear();
    let data = app.gql(query, json!({ "n": n })).await;
    assert_eq!(data["purchaseOrders"]["nodes"].as_array().unwrap().len(), n);
    log.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_takes_one_statement_per_relation_plus_the_count_whatever_its_size_and_the_load() {
    let (app, peer, log) = spawn_counting_app_with_peer().await;
    fifty_orders(&app).await;
    let bound = PAGE_RELATIONS.len() + 1;
    let five = statements_of(&app, &log, PAGE, 5).await;
    let fifty = statements_of(&app, &log, PAGE, 50).await;
    assert!(
        fifty.len() <= bound,
        "{} statements for {} relations and the count: {fifty:#?}",
        fifty.len(),
        PAGE_RELATIONS.len()
    );
    assert_eq!(
        five.len(),
        fifty.len(),
        "5 orders took {five:#?}, 50 took {fifty:#?}"
    );
    // The same page while other requests run on the same database (through the uncounted
    // peer, so only this request's statements are counted).
    let peer = std::sync::Arc::new(peer);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|i| {
            let (peer, stop) = (peer.clone(), stop.clone());
            tokio::spawn(async move {
                let mut runs = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || runs == 0 {
                    peer.gql(PAGE, json!({ "n": 10 + 10 * i })).await;
                    runs += 1;
                }
                runs
            })
        })
        .collect();
    for _ in 0..5 {
        let loaded = statements_of(&app, &log, PAGE, 50).await;
        assert_eq!(
            loaded.len(),
            fifty.len(),
            "under load: {loaded:#?}, quiet: {fifty:#?}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        assert!(task.await.unwrap() > 0);
    }
    println!(
        "statements for 5 and 50 orders: {} and {}",
        five.len(),
        fifty.len()
    );
}

const NESTED: &str = r#"query($n: Int) { purchaseOrders(first: $n) { totalCount nodes {
    number total vendor { name purchaseOrders(first: 2) { totalCount nodes { number } } }
    shipTo { code } type { name } businessUnit { name } job { number } backorderOf { number } backorders { number }
    lines(first: 10) { nodes { quantity amount product { sku preferredVendor { code } } location { code }
                               inventoryItem { onHand ledger(first: 5) { nodes { delta } } } } }
    receipts { number lines { quantity serialNumbers line { lineNumber } } bill { total lines { amount } match { state } } }
    bills { number }
} } }"#;

/// The relations `NESTED` walks, each one level of loading.
const NESTED_RELATIONS: [&str; 23] = [
    "purchaseOrders",
    "vendor",
    "vendor.purchaseOrders",
    "shipTo",
    "type",
    "businessUnit",
    "job",
    "backorderOf",
    "backorders",
    "lines",
    "product",
    "preferredVendor",
    "location",
    "inventoryItem",
    "ledger",
    "receipts",
    "receipts.lines",
    "serialNumbers",
    "line",
    "bill",
    "bill.lines",
    "match",
    "bills",
];

#[tokio::test]
async fn a_deep_page_takes_the_same_statements_for_5_and_50_orders() {
    let (app, log) = spawn_counting_app().await;
    fifty_orders(&app).await;
    let five = statements_of(&app, &log, NESTED, 5).await;
    let fifty = statements_of(&app, &log, NESTED, 50).await;
    assert_eq!(
        five.len(),
        fifty.len(),
        "5 orders took {five:#?}, 50 took {fifty:#?}"
    );
    // One per relation; two more for each nested SQL connection (vendor.purchaseOrders and
    // ledger: ids by window, counts, rows); two more for the match (it compares the bill's lines
    // with the receipt's and the order's); and the count.
    let bound = NESTED_RELATIONS.len() + 2 * 2 + 2 + 1;
    assert!(
        fifty.len() <= bound,
        "{} statements: {fifty:#?}",
        fifty.len()
    );
    println!(
        "statements for 5 and 50 orders: {} and {}",
        five.len(),
        fifty.len()
    );
}

#[tokio::test]
async fn jobs_lead_to_their_materials_and_lines_back_to_them() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let material = app
        .ok(
            "createJobMaterial",
            json!({ "jobId": fx.job, "productId": fx.products[1], "quantity": "3" }),
            "jobMaterial { id }",
        )
        .await["jobMaterial"]["id"]
        .clone();
    let mut input = crate::purchasing::po_input(&fx, &[]);
    input["lines"] =
        json!([{ "jobMaterialId": material, "locationId": fx.location, "quantity": "3" }]);
    let po = app
        .ok("createPurchaseOrder", input, crate::purchasing::PO)
        .await["purchaseOrder"]
        .clone();
    let data = app
        .gql(
            "query($job: ID!) { node(id: $job) { ... on Job { materials { totalCount nodes { id status job { id } product { id } purchaseOrderLine { id jobMaterial { id } } } } } } }",
            json!({ "job": fx.job }),
        )
        .await;
    let materials = &data["node"]["materials"];
    assert_eq!(materials["totalCount"], 1);
    let found = &materials["nodes"][0];
    assert_eq!(found["id"], material);
    assert_eq!(found["job"]["id"], json!(fx.job));
    assert_eq!(found["product"]["id"], json!(fx.products[1]));
    assert_eq!(found["purchaseOrderLine"]["id"], line(&po, 0)["id"]);
    assert_eq!(found["purchaseOrderLine"]["jobMaterial"]["id"], material);
}

#[tokio::test]
async fn reorder_suggestions_fill_items_below_their_minimum_up_to_the_maximum() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    app.ok(
        "updateProduct",
        json!({ "id": fx.products[0], "preferredVendorId": fx.vendor }),
        "",
    )
    .await;
    let po = create_po(&app, &fx, &[(0, "5", None), (1, "5", None)]).await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    receive(&app, &po, &[(0, "2"), (1, "5")]).await;
    // Bolts: 2 on hand + 3 on order < 10 → up to 25 is 20. Pipes: 5 ≥ 4 → nothing.
    let (bolt, pipe) = (
        crate::helpers::row_id(&json!(fx.products[0])),
        crate::helpers::row_id(&json!(fx.products[1])),
    );
    app.db
        .execute_unprepared(&format!("UPDATE inventory_items SET minimum = 100000, maximum = 250000 WHERE product_id = {bolt}"))
        .await
        .unwrap();
    app.db
        .execute_unprepared(&format!(
            "UPDATE inventory_items SET minimum = 40000 WHERE product_id = {pipe}"
        ))
        .await
        .unwrap();
    let data = app
        .gql(
            "query($here: ID, $there: ID) { here: reorderSuggestions(locationId: $here) { product { id } location { id } vendor { id } onHand onOrder minimum maximum quantity }
               there: reorderSuggestions(locationId: $there) { quantity } }",
            json!({ "here": fx.location, "there": fx.location2 }),
        )
        .await;
    let here = data["here"].as_array().unwrap();
    assert_eq!(here.len(), 1, "{here:?}");
    assert_eq!(here[0]["product"]["id"], json!(fx.products[0]));
    assert_eq!(here[0]["vendor"]["id"], json!(fx.vendor));
    assert_eq!(here[0]["onHand"], "2");
    assert_eq!(here[0]["onOrder"], "3");
    assert_eq!(here[0]["maximum"], "25");
    assert_eq!(here[0]["quantity"], "20");
    assert_eq!(data["there"], json!([]));
}
