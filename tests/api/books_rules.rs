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

async fn stock(app: &TestApp, product: &str, location: &str, quantity: &str) {
    app.ok(
        "adjustInventory",
        json!({ "productId": product, "locationId": location, "delta": quantity, "reason": "FOUND" }),
        "",
    )
    .await;
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
