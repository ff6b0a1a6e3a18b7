//! Rules that were not enforced (issue 11, findings 6–12; issue 12, findings 5 and 9): backorder
//! numbers, reordering, inactive references, money without `costs:read`, job materials closed
//! short, receipt dates, location deactivation, adjustment reasons, reservation codes, no-op
//! edits and caller-scoped idempotency keys.

use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::EntityTrait;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Fixture, TestApp};
use crate::purchasing::{create_po, line, transition};

const RECEIVE: &str = "receipt { id number receivedBy } bill { id } purchaseOrder { id status }";

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
