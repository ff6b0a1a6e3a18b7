//! The change feed (issue 15): `updatedAfter` on every root list, the `events` feed in commit
//! order with stable cursors, its filters, permissions and retention, and subscriptions that
//! resume from a cursor with no gap and no duplicate.

use std::time::Duration;

use sea_orm::EntityTrait;
use serde_json::{json, Value};
use stockgraph::auth::Permission;

use crate::helpers::{row_id, spawn_app, Fixture, TestApp};
use crate::purchasing::{create_po, line, transition};
use crate::subscriptions::wait_subscribed;
use crate::ws::client;

const EVENTS: &str = "query($first: Int, $after: String, $filter: EventFilter) { events(first: $first, after: $after, filter: $filter) { pageInfo { hasNextPage hasPreviousPage } edges { cursor node { cursor type actor occurredAt entityId previousStatus status change purchaseOrder { id } receipt { id } bill { id } inventoryItem { id } ledgerEntry { id } } } } }";

/// A PO with every kind of event: created, edited (header and a line), submitted, received
/// (receipt, bill, stock movement, item change, status), and that receipt cancelled (credit).
async fn busy_history(app: &TestApp, fx: &Fixture) -> Value {
    let po = create_po(app, fx, &[(0, "4", Some("2.50"))]).await;
    app.ok(
        "updatePurchaseOrder",
        json!({ "purchaseOrderId": po["id"], "memo": "rush" }),
        "purchaseOrder { id }",
    )
    .await;
    app.ok(
        "addPurchaseOrderLine",
        json!({ "purchaseOrderId": po["id"], "productId": fx.products[1], "locationId": fx.location, "quantity": "1", "unitCost": "1.00" }),
        "line { id }",
    )
    .await;
    transition(app, "submitPurchaseOrder", &po).await;
    let receipt = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "2" }] }),
            "receipt { id }",
        )
        .await["receipt"]["id"]
        .clone();
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": receipt }),
        "receipt { id }",
    )
    .await;
    po
}

/// Every event the admin sees, in feed order, paged `page` at a time.
async fn all_events(app: &TestApp, page: i64, filter: Value) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .gql(
                EVENTS,
                json!({ "first": page, "after": after, "filter": filter }),
            )
            .await;
        let edges = data["events"]["edges"].as_array().unwrap().clone();
        for edge in &edges {
            assert_eq!(edge["cursor"], edge["node"]["cursor"]);
            seen.push(edge["node"].clone());
        }
        if data["events"]["pageInfo"]["hasNextPage"] != json!(true) {
            return seen;
        }
        after = edges.last().unwrap()["cursor"].clone();
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_feed_lists_every_kind_of_event_in_commit_order_with_stable_cursors() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = busy_history(&app, &fx).await;
    let everything = all_events(&app, 50, json!({})).await;
    for kind in [
        "PURCHASE_ORDER_STATUS_CHANGED",
        "PURCHASE_ORDER_EDITED",
        "RECEIPT_CREATED",
        "RECEIPT_CANCELED",
        "BILL_ISSUED",
        "STOCK_MOVED",
        "INVENTORY_ITEM_CHANGED",
    ] {
        assert!(types(&everything).contains(&kind), "no {kind}");
    }
    // Commit order: the order's own story reads in the order it happened.
    let story: Vec<(String, Value)> = everything
        .iter()
        .filter(|e| e["entityId"] == po["id"])
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["status"].clone()))
        .collect();
    assert_eq!(
        story[..4],
        [
            ("PURCHASE_ORDER_STATUS_CHANGED".to_owned(), json!("PENDING")),
            ("PURCHASE_ORDER_EDITED".to_owned(), Value::Null),
            ("PURCHASE_ORDER_EDITED".to_owned(), Value::Null),
            (
                "PURCHASE_ORDER_STATUS_CHANGED".to_owned(),
                json!("SUBMITTED")
            ),
        ]
    );
    let created = everything
        .iter()
        .position(|e| e["type"] == "RECEIPT_CREATED")
        .unwrap();
    let canceled = everything
        .iter()
        .position(|e| e["type"] == "RECEIPT_CANCELED")
        .unwrap();
    assert!(created < canceled);
    let bills: Vec<&Value> = everything
        .iter()
        .filter(|e| e["type"] == "BILL_ISSUED")
        .collect();
    assert_eq!(bills.len(), 2, "the bill and its credit");
    assert!(bills.iter().all(|e| e["bill"]["id"] == e["entityId"]));
    let moved = everything
        .iter()
        .find(|e| e["type"] == "STOCK_MOVED")
        .unwrap();
    assert_eq!(moved["ledgerEntry"]["id"], moved["entityId"]);
    assert!(moved["inventoryItem"]["id"].is_string());
    assert!(everything.iter().all(|e| e["actor"] == "admin"));
    // Small pages give the same events, and a cursor always continues at the same place.
    let paged = all_events(&app, 3, json!({})).await;
    assert_eq!(paged, everything);
    let middle = everything[4]["cursor"].clone();
    let again = app
        .gql(EVENTS, json!({ "first": 2, "after": middle }))
        .await;
    assert_eq!(again["events"]["edges"][0]["node"], everything[5]);
    assert_eq!(again["events"]["pageInfo"]["hasPreviousPage"], true);
    // Later events come after every cursor already handed out.
    let last = everything.last().unwrap()["cursor"].clone();
    transition(
        &app,
        "cancelPurchaseOrder",
        &create_po(&app, &fx, &[(0, "1", None)]).await,
    )
    .await;
    let newer = app.gql(EVENTS, json!({ "first": 50, "after": last })).await;
    assert_eq!(
        types(
            &newer["events"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone())
                .collect::<Vec<_>>()
        ),
        [
            "PURCHASE_ORDER_STATUS_CHANGED",
            "PURCHASE_ORDER_STATUS_CHANGED"
        ]
    );
}

#[tokio::test]
async fn the_feed_filters_by_type_and_by_entity() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let po = busy_history(&app, &fx).await;
    let other = create_po(&app, &fx, &[(1, "1", None)]).await;
    let receipts = all_events(
        &app,
        50,
        json!({ "types": ["RECEIPT_CREATED", "RECEIPT_CANCELED"] }),
    )
    .await;
    assert_eq!(types(&receipts), ["RECEIPT_CREATED", "RECEIPT_CANCELED"]);
    assert_eq!(receipts[0]["entityId"], receipts[1]["entityId"]);
    assert_eq!(receipts[0]["purchaseOrder"]["id"], po["id"]);
    let of_order = all_events(&app, 50, json!({ "entityId": po["id"] })).await;
    assert!(!of_order.is_empty());
    assert!(of_order.iter().all(|e| e["entityId"] == po["id"]));
    let of_other = all_events(&app, 50, json!({ "entityId": other["id"] })).await;
    assert_eq!(types(&of_other), ["PURCHASE_ORDER_STATUS_CHANGED"]);
    let edits = all_events(
        &app,
        50,
        json!({ "types": ["PURCHASE_ORDER_EDITED"], "entityId": po["id"] }),
    )
    .await;
    let changes: Vec<&Value> = edits.iter().map(|e| &e["change"]).collect();
    assert_eq!(changes, [&json!("HEADER"), &json!("LINE_ADDED")]);
    // The spelling, as top-level arguments, gives the same page.
    let top = app
        .gql(
            "query($po: ID) { events(first: 50, types: [PURCHASE_ORDER_EDITED], entityId: $po) { edges { node { change } } } }",
            json!({ "po": po["id"] }),
        )
        .await;
    assert_eq!(top["events"]["edges"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_caller_sees_only_the_event_types_whose_entity_it_may_read() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    busy_history(&app, &fx).await;
    let query = "query($filter: EventFilter) { events(first: 50, filter: $filter) { edges { node { type } } } }";
    let seen = |data: Value| -> Vec<String> {
        let mut kinds: Vec<String> = data["events"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["type"].as_str().unwrap().to_owned())
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    };
    let stock = app.token(&[Permission::InventoryRead]);
    assert_eq!(
        seen(app.gql_as(&stock, query, json!({})).await),
        ["INVENTORY_ITEM_CHANGED", "STOCK_MOVED"]
    );
    let bills = app.token(&[Permission::BillsRead]);
    assert_eq!(
        seen(app.gql_as(&bills, query, json!({})).await),
        ["BILL_ISSUED"]
    );
    let orders = app.token(&[Permission::PurchaseOrdersRead]);
    assert_eq!(
        seen(app.gql_as(&orders, query, json!({})).await),
        [
            "PURCHASE_ORDER_EDITED",
            "PURCHASE_ORDER_STATUS_CHANGED",
            "RECEIPT_CANCELED",
            "RECEIPT_CREATED"
        ]
    );
    // Asking for a type one may not read is refused, not silently empty.
    let reply = app
        .post(
            &stock,
            query,
            json!({ "filter": { "types": ["BILL_ISSUED"] } }),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    // No token, no feed.
    let reply = app.post("", query, json!({})).await;
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn a_cursor_whose_events_were_pruned_is_refused_with_cursor_expired() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    create_po(&app, &fx, &[(0, "1", None)]).await;
    let po = create_po(&app, &fx, &[(0, "1", None)]).await;
    transition(&app, "submitPurchaseOrder", &po).await;
    let before = all_events(&app, 50, json!({})).await;
    assert!(before.len() >= 3);
    let first = before[0]["cursor"].clone();
    let newest = before.last().unwrap()["cursor"].clone();
    // Everything older than now goes, except the newest event, which numbering continues from.
    stockgraph::events::prune(&app.db, Duration::ZERO)
        .await
        .unwrap();
    let reply = app
        .post(&app.admin, EVENTS, json!({ "first": 10, "after": first }))
        .await;
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"], "CURSOR_EXPIRED",
        "{}",
        reply.body
    );
    assert!(reply.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("retention"));
    // The newest cursor still works, and so does starting over.
    app.gql(EVENTS, json!({ "first": 10, "after": newest }))
        .await;
    let restart = all_events(&app, 50, json!({})).await;
    assert_eq!(restart.len(), 1);
    // A resuming subscription gets the same answer.
    let address = app.serve().await;
    let mut ws = client(address, &app.admin).await;
    ws.subscribe(
        "subscription($after: String) { purchaseOrderStatusChanged(after: $after) { status } }",
        json!({ "after": first }),
    )
    .await;
    let message = ws.message(Duration::from_secs(20)).await.unwrap();
    let errors = if message["type"] == "error" {
        message["payload"].clone()
    } else {
        message["payload"]["errors"].clone()
    };
    assert_eq!(
        errors[0]["extensions"]["code"], "CURSOR_EXPIRED",
        "{message}"
    );
}

const RESUMING: &str = "subscription($after: String) { purchaseOrderStatusChanged(after: $after) { cursor status purchaseOrder { id } } }";

#[tokio::test]
async fn a_subscription_with_after_replays_what_it_missed_then_goes_live_without_gap_or_duplicate()
{
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let a = create_po(&app, &fx, &[(0, "1", None)]).await;
    let seen = all_events(
        &app,
        50,
        json!({ "types": ["PURCHASE_ORDER_STATUS_CHANGED"] }),
    )
    .await;
    let cursor = seen.last().unwrap()["cursor"].clone();
    // Missed while offline.
    transition(&app, "submitPurchaseOrder", &a).await;
    let b = create_po(&app, &fx, &[(1, "1", None)]).await;
    let address = app.serve().await;
    let mut ws = client(address, &app.admin).await;
    ws.subscribe(RESUMING, json!({ "after": cursor })).await;
    let mut received = Vec::new();
    for _ in 0..2 {
        received.push(ws.next_data().await["purchaseOrderStatusChanged"].clone());
    }
    wait_subscribed(&app, 1).await;
    // Live from here on.
    transition(&app, "cancelPurchaseOrder", &b).await;
    received.push(ws.next_data().await["purchaseOrderStatusChanged"].clone());
    let story: Vec<(&Value, &Value)> = received
        .iter()
        .map(|e| (&e["purchaseOrder"]["id"], &e["status"]))
        .collect();
    assert_eq!(
        story,
        [
            (&a["id"], &json!("SUBMITTED")),
            (&b["id"], &json!("PENDING")),
            (&b["id"], &json!("CANCELED")),
        ]
    );
    // Each event once: the cursors are those of the feed, in its order, none repeated.
    let feed = all_events(
        &app,
        50,
        json!({ "types": ["PURCHASE_ORDER_STATUS_CHANGED"] }),
    )
    .await;
    let feed_cursors: Vec<&Value> = feed[seen.len()..].iter().map(|e| &e["cursor"]).collect();
    let live_cursors: Vec<&Value> = received.iter().map(|e| &e["cursor"]).collect();
    assert_eq!(live_cursors, feed_cursors);
    ws.quiet(Duration::from_secs(2)).await;
    // Resuming from the last cursor received delivers nothing old.
    let mut again = client(address, &app.admin).await;
    again
        .subscribe(RESUMING, json!({ "after": received[2]["cursor"] }))
        .await;
    wait_subscribed(&app, 2).await;
    transition(
        &app,
        "submitPurchaseOrder",
        &create_po(&app, &fx, &[(0, "1", None)]).await,
    )
    .await;
    let next = again.next_data().await["purchaseOrderStatusChanged"].clone();
    assert_eq!(next["status"], "PENDING");
}

#[tokio::test]
async fn an_inventory_subscription_resumes_from_a_cursor_too() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    create_po(&app, &fx, &[(0, "3", None)]).await;
    transition(
        &app,
        "submitPurchaseOrder",
        &create_po(&app, &fx, &[(0, "3", None)]).await,
    )
    .await;
    let seen = all_events(&app, 50, json!({ "types": ["INVENTORY_ITEM_CHANGED"] })).await;
    let cursor = seen.last().unwrap()["cursor"].clone();
    // Missed: the on-order quantity of product 1 goes up.
    transition(
        &app,
        "submitPurchaseOrder",
        &create_po(&app, &fx, &[(1, "2", None)]).await,
    )
    .await;
    let address = app.serve().await;
    let mut ws = client(address, &app.admin).await;
    ws.subscribe(
        "subscription($after: String) { inventoryItemChanged(after: $after) { cursor inventoryItem { onOrder product { id } } } }",
        json!({ "after": cursor }),
    )
    .await;
    let replayed = ws.next_data().await["inventoryItemChanged"].clone();
    assert_eq!(
        replayed["inventoryItem"]["product"]["id"],
        json!(fx.products[1])
    );
    wait_subscribed(&app, 1).await;
    transition(
        &app,
        "submitPurchaseOrder",
        &create_po(&app, &fx, &[(2, "2", None)]).await,
    )
    .await;
    let live = ws.next_data().await["inventoryItemChanged"].clone();
    assert_eq!(
        live["inventoryItem"]["product"]["id"],
        json!(fx.products[2])
    );
    assert_ne!(live["cursor"], replayed["cursor"]);
    ws.quiet(Duration::from_secs(1)).await;
}

/// `ids` of a root list filtered by `updatedAfter`.
async fn listed(app: &TestApp, list: &str, after: &str) -> Vec<String> {
    let query = format!(
        "query($after: DateTime) {{ {list}(first: 50, filter: {{ updatedAfter: $after }}) {{ edges {{ node {{ id }} }} }} }}"
    );
    app.gql(&query, json!({ "after": after })).await[list]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[tokio::test]
async fn every_root_list_takes_updated_after() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    app.ok(
        "createJobMaterial",
        json!({ "jobId": fx.job, "productId": fx.products[0], "quantity": "1" }),
        "jobMaterial { id }",
    )
    .await;
    busy_history(&app, &fx).await;
    for list in [
        "purchaseOrders",
        "vendors",
        "products",
        "inventoryLocations",
        "inventoryItems",
        "bills",
        "receipts",
        "jobMaterials",
        "stockLedger",
        "businessUnits",
        "purchaseOrderTypes",
        "jobs",
        "projects",
        "technicians",
    ] {
        assert!(
            !listed(&app, list, "2000-01-01T00:00:00Z").await.is_empty(),
            "{list} lists nothing changed since 2000"
        );
        assert!(
            listed(&app, list, "2999-01-01T00:00:00Z").await.is_empty(),
            "{list} lists something changed after 2999"
        );
    }
}

#[tokio::test]
async fn updated_after_is_strictly_after_and_a_record_written_again_is_listed() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // A record written at exactly that instant is not listed; written again, it is.
    let unit = entity::business_unit::Entity::find_by_id(row_id(&json!(fx.business_unit)))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mark = rfc3339(unit.updated_at);
    assert!(!listed(&app, "businessUnits", &mark)
        .await
        .contains(&fx.business_unit));
    app.ok(
        "updateBusinessUnit",
        json!({ "id": fx.business_unit, "name": "Renamed unit" }),
        "businessUnit { id }",
    )
    .await;
    assert_eq!(
        listed(&app, "businessUnits", &mark).await,
        vec![fx.business_unit.as_str()]
    );
}

/// A submitted order of 2 × product 0 at 3.00 with a receipt of 1; returns the order and the
/// receive payload (`receipt { id } bill { id }`).
async fn order_with_a_receipt(app: &TestApp, fx: &Fixture) -> (Value, Value) {
    let po = create_po(app, fx, &[(0, "2", Some("3.00"))]).await;
    transition(app, "submitPurchaseOrder", &po).await;
    let receipt = app
        .ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "1" }] }),
            "receipt { id } bill { id }",
        )
        .await;
    (po, receipt)
}

#[tokio::test]
async fn a_bill_counts_as_updated_when_a_cost_change_supersedes_it() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (po, receipt) = order_with_a_receipt(&app, &fx).await;
    let bill = entity::bill::Entity::find_by_id(row_id(&receipt["bill"]["id"]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let bill_mark = rfc3339(bill.created_at);
    let bill_id = receipt["bill"]["id"].as_str().unwrap().to_owned();
    assert!(!listed(&app, "bills", &bill_mark).await.contains(&bill_id));
    app.ok(
        "updatePurchaseOrderLine",
        json!({ "lineId": line(&po, 0)["id"], "unitCost": "4.00" }),
        "line { id }",
    )
    .await;
    assert!(listed(&app, "bills", &bill_mark).await.contains(&bill_id));
}

#[tokio::test]
async fn a_receipt_and_its_order_count_as_updated_when_the_receipt_is_cancelled() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let (po, receipt) = order_with_a_receipt(&app, &fx).await;
    let stored = entity::receipt::Entity::find_by_id(row_id(&receipt["receipt"]["id"]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mark = rfc3339(stored.created_at);
    let receipt_id = receipt["receipt"]["id"].as_str().unwrap().to_owned();
    assert!(!listed(&app, "receipts", &mark).await.contains(&receipt_id));
    app.ok(
        "cancelReceipt",
        json!({ "receiptId": receipt_id }),
        "receipt { id }",
    )
    .await;
    assert!(listed(&app, "receipts", &mark).await.contains(&receipt_id));
    assert!(listed(&app, "purchaseOrders", &mark)
        .await
        .contains(&po["id"].as_str().unwrap().to_owned()));
}

// SQLite commits one writer at a time: ids cannot commit out of order there.
#[tokio::test]
#[cfg_attr(
    not(test_postgres),
    ignore = "PostgreSQL only (ids committing out of order): set TEST_DATABASE_URL"
)]
async fn an_event_that_commits_late_with_a_lower_id_still_comes_after_the_cursors_handed_out() {
    let app = crate::helpers::spawn_postgres_app().await;
    let fx = app.fixture().await;
    let early = create_po(&app, &fx, &[(0, "1", None)]).await;
    use sea_orm::TransactionTrait;
    let txn = app.db.begin().await.unwrap();
    let mut outbox = stockgraph::events::Outbox::default();
    outbox
        .record(
            &txn,
            stockgraph::events::EventKind::PurchaseOrderStatusChanged,
            "PurchaseOrder",
            row_id(&early["id"]),
            json!({ "previousStatus": null, "status": "PENDING", "vendorId": 1 }),
            "slow-writer",
        )
        .await
        .unwrap();
    create_po(&app, &fx, &[(0, "1", None)]).await;
    let before = all_events(&app, 50, json!({})).await;
    let cursor = before.last().unwrap()["cursor"].clone();
    assert!(before.iter().all(|e| e["actor"] == "admin"));
    txn.commit().await.unwrap();
    app.events.publish(outbox);
    let after = app
        .gql(EVENTS, json!({ "first": 50, "after": cursor }))
        .await;
    assert_eq!(after["events"]["edges"][0]["node"]["actor"], "slow-writer");
}
