//! `cargo bench`: how the graph's cost grows. Reports ratios measured in one run (the machines
//! are shared and noisy, so absolute times mean little and nothing here is asserted):
//! - a deeply nested page of 50 purchase orders against the same page of 5 (batched loading
//!   should keep the ratio far below 10);
//! - receiving on 4 concurrent connections against one at a time. The orders differ but share
//!   their inventory items, whose rows every receipt updates, so on PostgreSQL they queue on
//!   those row locks; SQLite has one writer at a time.
//!
//! Runs on SQLite, or on PostgreSQL when `TEST_DATABASE_URL` names a server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, Database};
use stockgraph::auth::{Actor, Permission};
use stockgraph::config::BusinessConfig;
use stockgraph::events::EventBus;
use stockgraph::services::purchasing::{self, NewLine, NewPurchaseOrder};
use stockgraph::services::receiving::{self, NewReceipt, ReceiveLine};
use stockgraph::services::UseCase;

const NESTED: &str = r#"query($n: Int) { purchaseOrders(first: $n) { nodes {
    number total vendor { name } lines(first: 10) { nodes { quantity amount product { sku }
    inventoryItem { onHand ledger(first: 5) { nodes { delta } } } } }
    receipts { number lines { quantity } bill { total } } } } }"#;

/// A fresh database, and how to remove it afterwards.
async fn database() -> (sea_orm::DatabaseConnection, Cleanup) {
    let name = format!("stockgraph_bench_{:08x}", rand::random::<u32>());
    let (url, cleanup) = match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            let admin = Database::connect(server.as_str()).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
            (
                format!("{base}/{name}"),
                Cleanup::Postgres(server.clone(), name),
            )
        }
        _ => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            (
                format!("sqlite://{}", path.display()),
                Cleanup::Sqlite(path),
            )
        }
    };
    let db = stockgraph::db::connect(&url, 8).await.unwrap();
    stockgraph::db::migrate_up(&db).await.unwrap();
    (db, cleanup)
}

enum Cleanup {
    Postgres(String, String),
    Sqlite(std::path::PathBuf),
}

impl Cleanup {
    async fn run(self) {
        match self {
            Cleanup::Postgres(server, name) => {
                let admin = Database::connect(server.as_str()).await.unwrap();
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .unwrap();
            }
            Cleanup::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    std::fs::remove_file(file).ok();
                }
            }
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let (db, cleanup) = database().await;
    let business = BusinessConfig::default();
    stockgraph::services::demo::seed_if_empty(&db, &business)
        .await
        .unwrap();
    let actor = Actor::new("bench", &[Permission::Admin]);
    let events = EventBus::default();
    let uc = UseCase {
        db: &db,
        actor: &actor,
        business: &business,
        events: &events,
        can_set_costs: true,
    };
    // 60 submitted orders of 4 lines, each partly received.
    let template = purchasing::create(
        uc,
        NewPurchaseOrder {
            vendor_id: 1,
            ship_to_id: 1,
            type_id: 1,
            business_unit_id: 1,
            lines: (0..4)
                .map(|i| NewLine {
                    product_id: Some(1 + i),
                    location_id: 1,
                    quantity: Decimal::new(100, 0),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut orders = vec![template.id];
    for _ in 0..60 {
        let po = purchasing::create(
            uc,
            NewPurchaseOrder {
                vendor_id: 1,
                ship_to_id: 1,
                type_id: 1,
                business_unit_id: 1,
                lines: (0..4)
                    .map(|i| NewLine {
                        product_id: Some(1 + i),
                        location_id: 1,
                        quantity: Decimal::new(100, 0),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        orders.push(po.id);
    }
    for id in &orders {
        purchasing::submit(uc, *id, None).await.unwrap();
    }
    let receive = |po: i32| {
        let db = db.clone();
        let actor = actor.clone();
        let business = business.clone();
        let events = events.clone();
        async move {
            let uc = UseCase {
                db: &db,
                actor: &actor,
                business: &business,
                events: &events,
                can_set_costs: true,
            };
            let lines = purchasing::lines_of(&db, po).await.unwrap();
            receiving::receive(
                uc,
                NewReceipt {
                    purchase_order_id: po,
                    lines: lines
                        .iter()
                        .map(|l| ReceiveLine {
                            line_id: l.id,
                            quantity: Decimal::ONE,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
    };

    // Receiving: one at a time, then 4 at a time, 40 receipts each.
    let start = Instant::now();
    for po in orders.iter().take(40) {
        receive(*po).await;
    }
    let sequential = start.elapsed();
    let start = Instant::now();
    let mut batch = Vec::new();
    for chunk in orders
        .iter()
        .skip(20)
        .take(40)
        .collect::<Vec<_>>()
        .chunks(4)
    {
        batch.clear();
        for po in chunk {
            batch.push(tokio::spawn(receive(**po)));
        }
        for task in batch.drain(..) {
            task.await.unwrap();
        }
    }
    let concurrent = start.elapsed();

    // Nested reads through the real router.
    let state = stockgraph::AppState {
        db: db.clone(),
        settings: Arc::new(stockgraph::Settings::default()),
        keys: stockgraph::auth::TokenKeys::from_secret(b"bench-secret-bench-secret-bench-secret"),
        events: events.clone(),
    };
    let schema = stockgraph::graphql::build_schema(state);
    let run = |n: i32| {
        let schema = schema.clone();
        let actor = actor.clone();
        let db = db.clone();
        async move {
            let request = async_graphql::Request::new(NESTED)
                .variables(async_graphql::Variables::from_json(
                    serde_json::json!({ "n": n }),
                ))
                .data(actor)
                .data(stockgraph::graphql::loaders::DbLoader::data_loader(db));
            let start = Instant::now();
            let response = schema.execute(request).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            start.elapsed()
        }
    };
    let mut small = Vec::new();
    let mut large = Vec::new();
    for _ in 0..15 {
        small.push(run(5).await);
        large.push(run(50).await);
    }
    let (small, large) = (median(small), median(large));
    println!("backend: {:?}", db.get_database_backend());
    println!(
        "nested page, 50 orders vs 5: {:?} vs {:?} = {:.1}x for 10x the rows",
        large,
        small,
        large.as_secs_f64() / small.as_secs_f64()
    );
    println!(
        "40 receipts, 4 concurrent vs one at a time: {:?} vs {:?} = {:.2}x the time",
        concurrent,
        sequential,
        concurrent.as_secs_f64() / sequential.as_secs_f64()
    );
    db.close().await.ok();
    cleanup.run().await;
}
