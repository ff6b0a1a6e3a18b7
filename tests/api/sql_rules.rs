//! The SQL twins of domain rules (`services::sql_rules`) agree with the domain functions, on
//! SQLite and on PostgreSQL: an order's total (sorting by total), an item's available quantity
//! (sorting by it) and the below-minimum test (filtering by it).

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    Statement,
};
use serde_json::{json, Value};
use stockgraph::domain::money::Overflow;
use stockgraph::domain::stock;
use stockgraph::domain::totals::{order_totals, PricedLine, Totals};
use stockgraph::services::sql_rules;

use crate::helpers::{row_id, spawn_app, Fixture, TestApp};

/// Creates a PENDING order with these (quantity, unit cost) lines, tax rate and shipping;
/// returns its row id.
async fn order(
    app: &TestApp,
    fx: &Fixture,
    lines: &[(String, String)],
    tax_rate: &str,
    shipping: &str,
) -> i32 {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(quantity, unit_cost)| {
            json!({ "productId": fx.products[0], "locationId": fx.location,
                    "quantity": quantity, "unitCost": unit_cost })
        })
        .collect();
    let input = json!({
        "vendorId": fx.vendor, "shipToId": fx.location, "typeId": fx.po_type,
        "businessUnitId": fx.business_unit, "taxRate": tax_rate, "shipping": shipping,
        "lines": lines
    });
    let po = app
        .ok("createPurchaseOrder", input, "purchaseOrder { id }")
        .await;
    row_id(&po["purchaseOrder"]["id"])
}

fn pairs(lines: &[(&str, &str)]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|(q, c)| (q.to_string(), c.to_string()))
        .collect()
}

/// Every order's total as the sort key computes it, in cents.
async fn sql_totals(app: &TestApp) -> HashMap<i32, i64> {
    let backend = app.db.get_database_backend();
    let key = sql_rules::order_total_key(backend).replace("{t}", "purchase_orders");
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT id, {key} AS total FROM purchase_orders"),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get::<i32>("", "id").unwrap(),
                r.try_get::<i64>("", "total").unwrap(),
            )
        })
        .collect()
}

/// Every order's totals as the domain computes them from the stored rows.
async fn domain_totals(app: &TestApp) -> HashMap<i32, Result<Totals, Overflow>> {
    let orders = entity::purchase_order::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let lines = entity::purchase_order_line::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    orders
        .into_iter()
        .map(|po| {
            let of_order = lines.iter().filter(|l| l.purchase_order_id == po.id);
            let totals = order_totals(
                of_order.map(PricedLine::from),
                po.tax_rate.to_decimal(),
                po.shipping.to_decimal(),
            );
            (po.id, totals)
        })
        .collect()
}

/// A total in cents, as the SQL key holds it.
fn cents(total: Decimal) -> i64 {
    i64::try_from((total * Decimal::ONE_HUNDRED).normalize().mantissa()).unwrap()
}

/// Asserts that the SQL key of every order is the domain's total, and returns the totals.
async fn assert_sql_totals_are_the_domain_totals(app: &TestApp) -> HashMap<i32, Decimal> {
    let sql = sql_totals(app).await;
    let domain = domain_totals(app).await;
    assert_eq!(sql.len(), domain.len());
    domain
        .into_iter()
        .map(|(id, totals)| {
            let totals = totals.unwrap_or_else(|_| panic!("order {id} has no total"));
            assert_eq!(
                sql[&id],
                cents(totals.total),
                "order {id}: SQL total differs from the domain's {totals:?}"
            );
            (id, totals.total)
        })
        .collect()
}

/// Walks the order list sorted by total in pages of `size`; returns the ids.
async fn ids_sorted_by_total(app: &TestApp, direction: &str, size: usize) -> Vec<i32> {
    let query = format!(
        "query($after: String) {{ purchaseOrders(first: {size}, after: $after, \
         sort: {{ field: TOTAL, direction: {direction} }}) \
         {{ pageInfo {{ hasNextPage endCursor }} nodes {{ id }} }} }}"
    );
    let (mut ids, mut after) = (Vec::new(), Value::Null);
    loop {
        let page = app.gql(&query, json!({ "after": after })).await["purchaseOrders"].clone();
        ids.extend(
            page["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| row_id(&n["id"])),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// A random decimal below `max_whole` with up to `places` decimal places.
fn random_decimal(rng: &mut StdRng, max_whole: i64, places: u32) -> String {
    let places = rng.random_range(0..=places);
    let units = rng.random_range(1..max_whole * 10i64.pow(places));
    Decimal::new(units, places).to_string()
}

/// An order of (quantity, unit cost) lines, a tax rate and shipping.
type Edge<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[tokio::test]
async fn an_orders_total_in_sql_is_the_domain_total_at_every_rounding_edge() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let edges: &[Edge] = &[
        // Subtotal at, just below and summed to half a cent.
        (&[("1", "0.005")], "0", "0"),
        (&[("1", "0.0049")], "0", "0"),
        (&[("1", "0.005"), ("1", "0.005"), ("1", "0.005")], "0", "0"),
        (&[("0.0001", "0.0001")], "0", "0"),
        // Tax at and just below half a cent, of the rounded subtotal.
        (&[("1", "1")], "0.125", "0"),
        (&[("1", "1")], "0.12499999", "0"),
        (&[("1", "0.995")], "0.125", "0"),
        (&[("3", "0.3333"), ("0.5", "0.0001")], "0.08250001", "12.34"),
        (&[("12.3456", "7.8901")], "0.99999999", "0.01"),
        // Near the document limit, with every digit of both factors set.
        (&[("999999999.9999", "99.9999")], "0", "0"),
        (&[("1000000", "49000.9999")], "0.99999999", "1000000"),
        (&[("1", "0")], "0.5", "0"),
    ];
    for (lines, rate, shipping) in edges {
        order(&app, &fx, &pairs(lines), rate, shipping).await;
    }
    // Many lines, whose fractions of a cent carry into whole cents.
    let many = vec![("0.0099".to_owned(), "999.9999".to_owned()); 400];
    order(&app, &fx, &many, "0.0825", "0").await;
    let mut rng = StdRng::seed_from_u64(14);
    for _ in 0..40 {
        let lines: Vec<(String, String)> = (0..rng.random_range(1..=8))
            .map(|_| {
                let quantity = random_decimal(&mut rng, 10_000, 4);
                (quantity, random_decimal(&mut rng, 10_000, 4))
            })
            .collect();
        let rate = Decimal::new(rng.random_range(0..100_000_000), 8).to_string();
        let shipping = random_decimal(&mut rng, 1_000, 2);
        order(&app, &fx, &lines, &rate, &shipping).await;
    }

    let totals = assert_sql_totals_are_the_domain_totals(&app).await;
    // The list sorted by total, paged through its cursors, is the domain's order (ties by age).
    let mut expected: Vec<i32> = totals.keys().copied().collect();
    expected.sort_by_key(|id| (totals[id], *id));
    assert_eq!(ids_sorted_by_total(&app, "ASC", 7).await, expected);
    expected.sort_by_key(|id| (std::cmp::Reverse(totals[id]), std::cmp::Reverse(*id)));
    assert_eq!(ids_sorted_by_total(&app, "DESC", 50).await, expected);
}

#[tokio::test]
async fn an_order_stored_beyond_the_input_limits_sorts_after_every_total() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    let small = order(&app, &fx, &pairs(&[("1", "1")]), "0", "0").await;
    let large = order(&app, &fx, &pairs(&[("1000", "1000")]), "0", "0").await;
    let huge = order(&app, &fx, &pairs(&[("1", "1")]), "0", "0").await;
    let costly = order(&app, &fx, &pairs(&[("1", "1")]), "0", "0").await;
    // Rows written before the limits existed: one the domain cannot total at all, one it can
    // (a unit cost beyond the input limit) but SQL does not try to.
    for (po, quantity, unit_cost) in [(huge, i64::MAX, i64::MAX), (costly, 10_000, 20_000_000_000)]
    {
        let line = entity::purchase_order_line::Entity::find()
            .filter(entity::purchase_order_line::Column::PurchaseOrderId.eq(po))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut line: entity::purchase_order_line::ActiveModel = line.into();
        line.quantity = Set(entity::Fixed4(quantity));
        line.unit_cost = Set(entity::Fixed4(unit_cost));
        line.update(&app.db).await.unwrap();
    }
    let sql = sql_totals(&app).await;
    let domain = domain_totals(&app).await;
    assert_eq!(domain[&huge], Err(Overflow));
    assert!(domain[&costly].is_ok());
    assert_eq!((sql[&huge], sql[&costly]), (i64::MAX, i64::MAX));
    assert_eq!(sql[&large], cents(domain[&large].unwrap().total));
    let ascending = ids_sorted_by_total(&app, "ASC", 3).await;
    assert_eq!(ascending, [small, large, huge, costly]);
}

#[tokio::test]
async fn available_and_below_minimum_in_sql_are_the_domain_rules() {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // (on hand, picked, reserved, minimum), in ten-thousandths.
    let cases: [(i64, i64, i64, i64); 8] = [
        (100_000, 25_000, 30_000, 50_000),
        (49_999, 0, 0, 50_000),
        (50_000, 0, 0, 50_000),
        (0, 0, 0, 0),
        (3, 1, 1, 10_000),
        (10_000_000_000_000, 9_999_999_990_000, 5_000, 0),
        (70_000, 0, 70_000, 70_001),
        (20_000, 20_000, 0, 1),
    ];
    let places = fx
        .products
        .iter()
        .chain([&fx.serialized])
        .flat_map(|p| [(p, &fx.location), (p, &fx.location2)]);
    for ((on_hand, picked, reserved, minimum), (product, location)) in cases.into_iter().zip(places)
    {
        let now = chrono::Utc::now();
        entity::inventory_item::ActiveModel {
            product_id: Set(row_id(&json!(product))),
            location_id: Set(row_id(&json!(location))),
            on_hand: Set(entity::Fixed4(on_hand)),
            on_order: Set(entity::Fixed4(0)),
            picked: Set(entity::Fixed4(picked)),
            reserved: Set(entity::Fixed4(reserved)),
            backordered: Set(entity::Fixed4(0)),
            minimum: Set(entity::Fixed4(minimum)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    let backend = app.db.get_database_backend();
    let available = sql_rules::available_key(backend).replace("{t}", "inventory_items");
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT id, {available} AS available FROM inventory_items"),
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), cases.len());
    let below: Vec<i32> = entity::inventory_item::Entity::find()
        .filter(sql_rules::below_minimum())
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|item| item.id)
        .collect();
    let items = entity::inventory_item::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let mut expected_below = Vec::new();
    let mut by_available = Vec::new();
    for item in &items {
        let row = rows
            .iter()
            .find(|r| r.try_get::<i32>("", "id").unwrap() == item.id)
            .unwrap();
        let domain_available = stock::available(
            item.on_hand.to_decimal(),
            item.picked.to_decimal(),
            item.reserved.to_decimal(),
        );
        let domain_below =
            stock::below_minimum(item.on_hand.to_decimal(), item.minimum.to_decimal());
        let sql_available = entity::Fixed4(row.try_get::<i64>("", "available").unwrap());
        assert_eq!(
            sql_available.to_decimal(),
            domain_available,
            "item {}",
            item.id
        );
        assert_eq!(below.contains(&item.id), domain_below, "item {}", item.id);
        if domain_below {
            expected_below.push(item.id);
        }
        by_available.push((domain_available, item.id));
    }
    // The list filters and sorts by the same rules.
    let ids = |data: Value| -> Vec<i32> {
        data["inventoryItems"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| row_id(&n["id"]))
            .collect()
    };
    let below_listed = app
        .gql(
            "{ inventoryItems(filter: { belowMinimum: true }) { nodes { id } } }",
            json!({}),
        )
        .await;
    expected_below.sort_unstable();
    assert_eq!(ids(below_listed), expected_below);
    let sorted = app
        .gql(
            "{ inventoryItems(sort: { field: AVAILABLE }) { nodes { id } } }",
            json!({}),
        )
        .await;
    by_available.sort_unstable();
    let expected: Vec<i32> = by_available.into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids(sorted), expected);
}
