//! Priming beyond the root lists of orders (issue 13): `node`/`nodes`, the `bills` and
//! `jobMaterials` lists, the event feed and mutation payloads fetch each selected relation for
//! all their rows at once, so their statement count is fixed by the query's shape, and a
//! mutation field's payload shows what the fields before it wrote.

use serde_json::{json, Value};

use crate::helpers::{spawn_counting_app, Fixture, TestApp};
use crate::purchasing::{create_po, line, transition};

type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// The statements `query` with `variables` ran (its data must have no errors).
async fn statements(app: &TestApp, log: &Log, query: &str, variables: Value) -> Vec<String> {
    log.lock().unwrap().clear();
    app.gql(query, variables).await;
    log.lock().unwrap().clone()
}

/// Asserts that the small and the large run took the same statements, at most `bound`.
fn assert_fixed(what: &str, small: &[String], large: &[String], bound: usize) {
    assert_eq!(
        small.len(),
        large.len(),
        "{what}: the small run took {small:#?}, the large one {large:#?}"
    );
    assert!(
        large.len() <= bound,
        "{what}: {} statements, at most {bound} expected: {large:#?}",
        large.len()
    );
}

/// `n` submitted orders of three lines, each received once (a receipt and a bill each).
async fn received_orders(app: &TestApp, fx: &Fixture, n: usize) -> Vec<Value> {
    let mut orders = Vec::new();
    for _ in 0..n {
        let po = create_po(app, fx, &[(0, "4", None), (1, "2", None), (2, "1", None)]).await;
        let po = transition(app, "submitPurchaseOrder", &po).await;
        let lines = json!([{ "lineId": line(&po, 0)["id"], "quantity": "1" },
                           { "lineId": line(&po, 1)["id"], "quantity": "1" }]);
        app.ok(
            "receivePurchaseOrder",
            json!({ "purchaseOrderId": po["id"], "lines": lines }),
            "receipt { id }",
        )
        .await;
        orders.push(po);
    }
    orders
}

const NODES: &str = r#"query($ids: [ID!]!) { nodes(ids: $ids) {
    ... on PurchaseOrder { number vendor { name } lines(first: 5) { nodes { product { sku } location { code } } } }
    ... on Vendor { code } } }"#;

#[tokio::test]
async fn nodes_take_one_statement_per_type_and_relation_whatever_their_count() {
    let (app, log) = spawn_counting_app().await;
    let fx = app.fixture().await;
    let orders = received_orders(&app, &fx, 12).await;
    let ids = |n: usize| -> Value {
        let mut ids: Vec<Value> = orders[..n].iter().map(|o| o["id"].clone()).collect();
        ids.push(json!(fx.vendor));
        json!(ids)
    };
    let small = statements(&app, &log, NODES, json!({ "ids": ids(2) })).await;
    let large = statements(&app, &log, NODES, json!({ "ids": ids(12) })).await;
    // The orders, the vendor node, then the orders' vendors, lines, products and locations.
    assert_fixed("nodes", &small, &large, 6);
    let data = app.gql(NODES, json!({ "ids": ids(12) })).await;
    let nodes = data["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 13);
    assert_eq!(nodes[0]["number"], orders[0]["number"]);
    assert_eq!(nodes[0]["lines"]["nodes"].as_array().unwrap().len(), 3);
    assert!(nodes[12]["code"].is_string(), "{nodes:?}");
    // One node: the same shape, the same statements.
    let one = r#"query($id: ID!) { node(id: $id) { ... on PurchaseOrder { number vendor { name }
        lines(first: 5) { nodes { product { sku } location { code } } } } } }"#;
    let single = statements(&app, &log, one, json!({ "id": orders[0]["id"] })).await;
    assert!(single.len() <= 5, "{single:#?}");
}

const BILLS: &str = r#"query($n: Int) { bills(first: $n) { nodes { number vendor { name }
    purchaseOrder { number } receipt { number } lines { quantity product { sku } } } } }"#;

#[tokio::test]
async fn the_bills_list_takes_one_statement_per_relation_whatever_its_size() {
    let (app, log) = spawn_counting_app().await;
    let fx = app.fixture().await;
    received_orders(&app, &fx, 10).await;
    let small = statements(&app, &log, BILLS, json!({ "n": 2 })).await;
    let large = statements(&app, &log, BILLS, json!({ "n": 10 })).await;
    // The bills, then their vendors, orders, receipts, lines and the lines' products.
    assert_fixed("bills", &small, &large, 6);
    let data = app.gql(BILLS, json!({ "n": 10 })).await;
    let bills = data["bills"]["nodes"].as_array().unwrap();
    assert_eq!(bills.len(), 10);
    assert!(bills
        .iter()
        .all(|b| b["lines"].as_array().unwrap().len() == 2 && b["vendor"]["name"].is_string()));
}

const MATERIALS: &str = r#"query($n: Int) { jobMaterials(first: $n) { nodes { quantity
    job { name materials(first: 3) { totalCount } } product { sku } purchaseOrderLine { lineNumber } } } }"#;

#[tokio::test]
async fn the_job_materials_list_takes_one_statement_per_relation_whatever_its_size() {
    let (app, log) = spawn_counting_app().await;
    let fx = app.fixture().await;
    for i in 0..8 {
        app.ok(
            "createJobMaterial",
            json!({ "jobId": fx.job, "productId": fx.products[i % 3], "quantity": "2" }),
            "jobMaterial { id }",
        )
        .await;
    }
    let small = statements(&app, &log, MATERIALS, json!({ "n": 2 })).await;
    let large = statements(&app, &log, MATERIALS, json!({ "n": 8 })).await;
    // The materials, their jobs, the jobs' material windows (ids, counts, rows), products;
    // no material is on an order line yet, so that relation asks for nothing.
    assert_fixed("jobMaterials", &small, &large, 6);
    let data = app.gql(MATERIALS, json!({ "n": 8 })).await;
    let materials = data["jobMaterials"]["nodes"].as_array().unwrap();
    assert_eq!(materials.len(), 8);
    assert_eq!(materials[7]["job"]["materials"]["totalCount"], 8);
    assert!(materials[0]["purchaseOrderLine"].is_null());
}

const EVENTS: &str = r#"query($n: Int) { events(first: $n) { nodes { type
    purchaseOrder { number vendor { name } } receipt { number } bill { number }
    inventoryItem { onHand } ledgerEntry { delta } } } }"#;

#[tokio::test]
async fn the_event_feed_takes_one_statement_per_relation_whatever_its_size() {
    let (app, log) = spawn_counting_app().await;
    let fx = app.fixture().await;
    received_orders(&app, &fx, 6).await;
    stockgraph::events::sequence(&app.db).await.unwrap();
    let all = app.gql(EVENTS, json!({ "n": 50 })).await;
    let all = all["events"]["nodes"].as_array().unwrap().clone();
    assert!(all.len() >= 40, "{} events", all.len());
    // The first 20 events already hold every kind whose entity is selected (the first order's
    // history), so both pages ask for every relation.
    let first: Vec<&str> = all[..20]
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for kind in [
        "PURCHASE_ORDER_STATUS_CHANGED",
        "RECEIPT_CREATED",
        "BILL_ISSUED",
        "STOCK_MOVED",
    ] {
        assert!(first.contains(&kind), "{kind} not among {first:?}");
    }
    let small = statements(&app, &log, EVENTS, json!({ "n": 20 })).await;
    let large = statements(&app, &log, EVENTS, json!({ "n": 40 })).await;
    // Whatever the feed reads itself, then one statement per entity field and the orders'
    // vendors: the same for 20 events and 40.
    assert_eq!(
        small.len(),
        large.len(),
        "20 events took {small:#?}, 40 took {large:#?}"
    );
    for event in &all {
        match event["type"].as_str().unwrap() {
            "RECEIPT_CREATED" => {
                assert!(event["receipt"]["number"].is_string(), "{event}");
                assert!(event["purchaseOrder"]["vendor"]["name"].is_string());
            }
            "BILL_ISSUED" => assert!(event["bill"]["number"].is_string(), "{event}"),
            "STOCK_MOVED" => {
                assert!(event["ledgerEntry"]["delta"].is_string(), "{event}");
                assert!(event["inventoryItem"]["onHand"].is_string(), "{event}");
            }
            _ => {}
        }
    }
}

const RECEIVED: &str = "receipt { number } purchaseOrder { number vendor { name } \
    lines(first: 10) { nodes { quantityReceived product { sku } location { code } } } }";

#[tokio::test]
async fn a_mutation_payload_takes_the_same_statements_for_one_line_and_three() {
    let (app, log) = spawn_counting_app().await;
    let fx = app.fixture().await;
    let po = create_po(
        &app,
        &fx,
        &[(0, "10", None), (1, "10", None), (2, "10", None)],
    )
    .await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let receive = |n: usize| {
        let lines: Vec<Value> = (0..n)
            .map(|i| json!({ "lineId": line(&po, i)["id"], "quantity": "1" }))
            .collect();
        json!({ "purchaseOrderId": po["id"], "lines": lines })
    };
    // The first receipt changes the order's status; the two measured do not.
    app.ok("receivePurchaseOrder", receive(3), "receipt { id }")
        .await;
    log.lock().unwrap().clear();
    app.ok("receivePurchaseOrder", receive(1), RECEIVED).await;
    let one = log.lock().unwrap().clone();
    log.lock().unwrap().clear();
    let three = app.ok("receivePurchaseOrder", receive(3), RECEIVED).await;
    let all = log.lock().unwrap().clone();
    assert_eq!(
        one.len(),
        all.len(),
        "1 line took {one:#?}, 3 took {all:#?}"
    );
    let nodes = three["purchaseOrder"]["lines"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    // Three receipts: 1 + 1 + 1 on the first line.
    assert_eq!(nodes[0]["quantityReceived"], "3");
    assert!(nodes.iter().all(|l| l["product"]["sku"].is_string()));
}

/// Mutation fields run one after another, each priming its own payload: the second receipt's
/// payload shows both receipts, never the rows read for the first one's.
#[tokio::test]
async fn a_later_mutation_field_sees_what_an_earlier_one_wrote() {
    let (app, _log) = spawn_counting_app().await;
    let fx = app.fixture().await;
    let po = create_po(&app, &fx, &[(0, "10", None)]).await;
    let po = transition(&app, "submitPurchaseOrder", &po).await;
    let input = json!({ "purchaseOrderId": po["id"],
                        "lines": [{ "lineId": line(&po, 0)["id"], "quantity": "1" }] });
    let selection = "{ purchaseOrder { status lines(first: 5) { nodes { quantityReceived } } } userErrors { code } }";
    let data = app
        .gql(
            &format!(
                "mutation($input: ReceivePurchaseOrderInput!) {{
                    first: receivePurchaseOrder(input: $input) {selection}
                    second: receivePurchaseOrder(input: $input) {selection} }}"
            ),
            json!({ "input": input }),
        )
        .await;
    let received =
        |field: &str| data[field]["purchaseOrder"]["lines"]["nodes"][0]["quantityReceived"].clone();
    assert_eq!(received("first"), "1", "{data}");
    assert_eq!(received("second"), "2", "{data}");
}
