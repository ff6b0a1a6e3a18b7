//! The skeleton: migrations, schema contract, transport, health, exact decimals, first queries.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use entity::Fixed4;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, Statement};
use serde_json::json;
use stockgraph::auth::Permission;

use crate::helpers::{fresh_database, s, spawn_app, TestApp};

#[tokio::test]
async fn migrations_run_up_down_and_up_again() {
    let (db, _) = fresh_database().await;
    let applied = stockgraph::db::migration_status(&db).await.unwrap();
    assert!(applied.iter().all(|(_, applied)| *applied));
    stockgraph::db::migrate_down(&db, None).await.unwrap();
    let after_down = stockgraph::db::migration_status(&db).await.unwrap();
    assert!(after_down.iter().all(|(_, applied)| !applied));
    assert!(
        entity::vendor::Entity::find().all(&db).await.is_err(),
        "tables are gone after down"
    );
    stockgraph::db::migrate_up(&db).await.unwrap();
    assert!(entity::vendor::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .is_empty());
}

#[test]
fn schema_graphql_matches_the_code() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql at the repository root");
    assert!(
        checked_in == stockgraph::graphql::sdl(),
        "schema.graphql differs from the code: run `cargo run -- export-schema`"
    );
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let reply = app
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn a_request_without_a_token_gets_only_unauthenticated() {
    let app = spawn_app().await;
    let reply = app.post("", "{ vendors { totalCount } }", json!({})).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert!(reply.body.get("data").is_none());
}

/// Asserts a viewer query with `token` is answered 401 UNAUTHENTICATED.
async fn assert_unauthenticated(app: &TestApp, token: &str) {
    let reply = app.post(token, "{ viewer { subject } }", json!({})).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token}");
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn a_malformed_token_is_unauthenticated() {
    let app = spawn_app().await;
    assert_unauthenticated(&app, "garbage").await;
}

#[tokio::test]
async fn an_expired_token_is_unauthenticated() {
    let app = spawn_app().await;
    let expired = app.expired_token("old", &[Permission::Admin]);
    assert_unauthenticated(&app, &expired).await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_unauthenticated() {
    let app = spawn_app().await;
    let foreign = stockgraph::auth::TokenKeys::from_secret(b"another-secret-another-secret-!!")
        .mint(
            "x",
            &[Permission::Admin],
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    assert_unauthenticated(&app, &foreign).await;
}

#[tokio::test]
async fn viewer_names_the_caller_and_its_permissions() {
    let app = spawn_app().await;
    let token = app.token(&[Permission::VendorsRead, Permission::CostsRead]);
    let data = app
        .gql_as(&token, "{ viewer { subject permissions } }", json!({}))
        .await;
    assert_eq!(data["viewer"]["subject"], "tester");
    assert_eq!(
        data["viewer"]["permissions"],
        json!(["vendors:read", "costs:read"])
    );
}

#[tokio::test]
async fn queries_work_over_get_and_browsers_get_graphiql() {
    let app = spawn_app().await;
    let reply = app
        .send(
            Request::get("/graphql?query=%7Bviewer%7Bsubject%7D%7D")
                .header("authorization", format!("Bearer {}", app.admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["data"]["viewer"]["subject"], "admin");

    let page = app
        .send(
            Request::get("/graphql")
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap_or_default();
    assert!(html.contains("GraphiQL") && html.contains("/graphiql/assets/graphiql.min.js"));
    let asset = app
        .send(
            Request::get("/graphiql/assets/graphiql.min.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(asset.status, StatusCode::OK);
    // A browser following a shared link gets GraphiQL too; an API client asking for JSON does not.
    let browser = app
        .send(
            Request::get("/graphql?query=%7Bviewer%7Bsubject%7D%7D")
                .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(browser
        .body
        .as_str()
        .unwrap_or_default()
        .contains("GraphiQL"));
    let client = app
        .send(
            Request::get("/graphql?query=%7Bviewer%7Bsubject%7D%7D")
                .header("accept", "application/json, text/html")
                .header("authorization", format!("Bearer {}", app.admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(client.body["data"]["viewer"]["subject"], "admin");
}

#[tokio::test]
async fn the_graphql_response_media_type_is_honoured() {
    let app = spawn_app().await;
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .header("authorization", format!("Bearer {}", app.admin))
            .body(Body::from(
                json!({"query": "{ viewer { subject } }"}).to_string(),
            ))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json"
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_graphql_request_is_a_clear_400() {
    let app = spawn_app().await;
    let reply = app
        .send(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {}", app.admin))
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
}

async fn item_for_ledger(db: &sea_orm::DatabaseConnection) -> i32 {
    let vendor = stockgraph::services::master_data::create_vendor(
        db,
        &Default::default(),
        stockgraph::services::master_data::NewVendor {
            name: "V".into(),
            code: "V".into(),
            address: stockgraph::services::master_data::AddressInput {
                street: "1 St".into(),
                city: "C".into(),
                region: None,
                postal_code: "1".into(),
                country: "US".into(),
            },
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let product = stockgraph::services::master_data::create_product(
        db,
        stockgraph::services::master_data::NewProduct {
            sku: "P".into(),
            description: "P".into(),
            preferred_vendor_id: Some(vendor.id),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let location = stockgraph::services::master_data::create_location(
        db,
        stockgraph::services::master_data::NewLocation {
            code: "L".into(),
            name: "L".into(),
            address: None,
        },
    )
    .await
    .unwrap();
    stockgraph::services::inventory::ensure_item(db, product.id, location.id)
        .await
        .unwrap();
    entity::inventory_item::Entity::find()
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn ledger_sum(db: &sea_orm::DatabaseConnection) -> Fixed4 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(SUM(delta) AS BIGINT) AS total FROM stock_ledger_entries",
        ))
        .await
        .unwrap()
        .unwrap();
    Fixed4(row.try_get::<i64>("", "total").unwrap())
}

async fn ledger_entry(db: &sea_orm::DatabaseConnection, item: i32, delta: Fixed4) {
    entity::stock_ledger_entry::ActiveModel {
        inventory_item_id: Set(item),
        delta: Set(delta),
        reason: Set("TEST".into()),
        source_type: Set(None),
        source_id: Set(None),
        actor: Set("test".into()),
        memo: Set(None),
        occurred_at: Set(stockgraph::services::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}

#[tokio::test]
async fn tenths_add_up_exactly_in_the_database() {
    let app = spawn_app().await;
    let item = item_for_ledger(&app.db).await;
    for value in ["0.1", "0.2"] {
        ledger_entry(
            &app.db,
            item,
            Fixed4::from_decimal(value.parse().unwrap()).unwrap(),
        )
        .await;
    }
    assert_eq!(ledger_sum(&app.db).await.to_decimal().to_string(), "0.3");
}

#[tokio::test]
async fn a_large_amount_with_four_places_round_trips_through_the_api() {
    let app = spawn_app().await;
    item_for_ledger(&app.db).await;
    entity::product::Entity::update_many()
        .col_expr(
            entity::product::Column::DefaultUnitCost,
            sea_orm::sea_query::Expr::value(Fixed4(1_234_567_890_123_456)),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let data = app
        .gql("{ products { nodes { defaultUnitCost } } }", json!({}))
        .await;
    assert_eq!(
        s(&data["products"]["nodes"][0]["defaultUnitCost"]),
        "123456789012.3456"
    );
}

#[tokio::test]
async fn a_sql_sum_over_ten_thousand_rows_is_exact() {
    let app = spawn_app().await;
    let item = item_for_ledger(&app.db).await;
    // 10,000 × 0.0001 + 10,000 × 0.1 = 1001, with no rounding anywhere.
    let mut values = Vec::new();
    for i in 0..10_000 {
        let delta = if i % 2 == 0 { 2 } else { 2_000 };
        values.push(format!(
            "({item}, {delta}, 'TEST', 'test', '{}')",
            stockgraph::services::now().format("%Y-%m-%d %H:%M:%S%.6f+00:00")
        ));
    }
    for chunk in values.chunks(1000) {
        app.db
            .execute_unprepared(&format!(
                "INSERT INTO stock_ledger_entries (inventory_item_id, delta, reason, actor, occurred_at) VALUES {}",
                chunk.join(",")
            ))
            .await
            .unwrap();
    }
    assert_eq!(ledger_sum(&app.db).await, Fixed4(10_010_000));
    assert_eq!(ledger_sum(&app.db).await.to_decimal().to_string(), "1001");
}

#[tokio::test]
async fn purchase_order_by_number_reads_the_database() {
    let app = spawn_app().await;
    stockgraph::services::demo::seed_if_empty(&app.db, &Default::default())
        .await
        .unwrap();
    let data = app
        .gql(
            r#"{ purchaseOrder(number: "PO-2026-0001") { number status vendor { code } lines { totalCount } }
                 missing: purchaseOrder(number: "NOPE") { number } }"#,
            json!({}),
        )
        .await;
    let po = &data["purchaseOrder"];
    assert_eq!(po["status"], "PENDING");
    assert_eq!(po["vendor"]["code"], "ACME");
    assert_eq!(po["lines"]["totalCount"], 3);
    assert!(data["missing"].is_null());
}

#[tokio::test]
async fn the_demo_data_set_loads_once_with_orders_in_every_status() {
    let app = spawn_app().await;
    assert!(
        stockgraph::services::demo::seed_if_empty(&app.db, &Default::default())
            .await
            .unwrap()
    );
    assert!(
        !stockgraph::services::demo::seed_if_empty(&app.db, &Default::default())
            .await
            .unwrap()
    );
    let data = app
        .gql(
            "{ vendors { totalCount } products { totalCount } inventoryLocations { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data["vendors"]["totalCount"], 4);
    assert_eq!(data["products"]["totalCount"], 50);
    assert_eq!(data["inventoryLocations"]["totalCount"], 3);
    let statuses = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT DISTINCT status FROM purchase_orders ORDER BY status",
        ))
        .await
        .unwrap();
    let statuses: Vec<String> = statuses
        .iter()
        .map(|r| r.try_get::<String>("", "status").unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "CANCELED",
            "CLOSED",
            "PARTIALLY_RECEIVED",
            "PENDING",
            "RECEIVED",
            "SUBMITTED"
        ]
    );
    app.assert_books_balance(rust_decimal::Decimal::ONE_HUNDRED)
        .await;
}
