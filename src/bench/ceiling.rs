//! The two ceilings every figure is divided by, measured in the same run:
//! - raw SQL: the six statements the nested page needs at minimum, run directly with sea-orm
//!   (one per relation level, batched over the page, only the columns the page shows), at the
//!   same concurrency and pool size as the service;
//! - in memory: the same response built by a bare async-graphql `Schema` of `SimpleObject`s
//!   (same field names, no extensions) from rows read once, serialized to JSON, in-process.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_graphql::{
    ComplexObject, EmptyMutation, EmptySubscription, Object, Schema, SimpleObject,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde::Deserialize;

use super::load::Run;
use super::server::sample;

fn ids(set: &BTreeSet<i32>) -> String {
    if set.is_empty() {
        return "NULL".to_owned();
    }
    set.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the nested page's minimal statements once; returns how many rows came back.
pub async fn page_by_sql(db: &DatabaseConnection, first: usize) -> Result<usize, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let query = |sql: String| db.query_all_raw(Statement::from_string(backend, sql));
    let mut rows = 0;
    let orders = query(format!(
        "SELECT id, number, vendor_id, ship_to_id FROM purchase_orders ORDER BY id LIMIT {first}"
    ))
    .await?;
    let count = query("SELECT COUNT(*) FROM purchase_orders".to_owned()).await?;
    let total: i64 = count
        .first()
        .map(|r| r.try_get_by_index(0))
        .transpose()?
        .unwrap_or_default();
    rows += usize::from(total >= 0);
    let (mut order_ids, mut vendor_ids, mut location_ids) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for row in &orders {
        let id: i32 = row.try_get("", "id")?;
        let _number: String = row.try_get("", "number")?;
        order_ids.insert(id);
        vendor_ids.insert(row.try_get::<i32>("", "vendor_id")?);
        location_ids.insert(row.try_get::<i32>("", "ship_to_id")?);
        rows += 1;
    }
    for row in query(format!(
        "SELECT id, code, name, payment_terms_days FROM vendors WHERE id IN ({})",
        ids(&vendor_ids)
    ))
    .await?
    {
        let _: (i32, String, String, i32) = (
            row.try_get("", "id")?,
            row.try_get("", "code")?,
            row.try_get("", "name")?,
            row.try_get("", "payment_terms_days")?,
        );
        rows += 1;
    }
    let mut product_ids = BTreeSet::new();
    for row in query(format!(
        "SELECT purchase_order_id, line_number, quantity, quantity_received, unit_cost, \
         product_id, location_id, total FROM (SELECT purchase_order_id, line_number, quantity, \
         quantity_received, unit_cost, product_id, location_id, ROW_NUMBER() OVER (PARTITION BY \
         purchase_order_id ORDER BY line_number) AS rn, COUNT(*) OVER (PARTITION BY \
         purchase_order_id) AS total FROM purchase_order_lines WHERE purchase_order_id IN ({})) \
         page WHERE rn <= 10",
        ids(&order_ids)
    ))
    .await?
    {
        let _: (i32, i32, i64, i64, i64, i64) = (
            row.try_get("", "purchase_order_id")?,
            row.try_get("", "line_number")?,
            row.try_get("", "quantity")?,
            row.try_get("", "quantity_received")?,
            row.try_get("", "unit_cost")?,
            row.try_get("", "total")?,
        );
        product_ids.insert(row.try_get::<i32>("", "product_id")?);
        location_ids.insert(row.try_get::<i32>("", "location_id")?);
        rows += 1;
    }
    for row in query(format!(
        "SELECT id, sku, description, unit_of_measure FROM products WHERE id IN ({})",
        ids(&product_ids)
    ))
    .await?
    {
        let _: (i32, String, String, String) = (
            row.try_get("", "id")?,
            row.try_get("", "sku")?,
            row.try_get("", "description")?,
            row.try_get("", "unit_of_measure")?,
        );
        rows += 1;
    }
    for row in query(format!(
        "SELECT id, code, name FROM inventory_locations WHERE id IN ({})",
        ids(&location_ids)
    ))
    .await?
    {
        let _: (i32, String, String) = (
            row.try_get("", "id")?,
            row.try_get("", "code")?,
            row.try_get("", "name")?,
        );
        rows += 1;
    }
    Ok(rows)
}

/// The statements of [`page_by_sql`].
pub const PAGE_STATEMENTS: usize = 6;

/// `clients` tasks run [`page_by_sql`] back to back for `duration` over `db`.
pub async fn drive_sql(
    db: &DatabaseConnection,
    clients: usize,
    first: usize,
    duration: Duration,
) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut run = Run::default();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match page_by_sql(&db, first).await {
                        Ok(rows) if rows > first => {
                            run.ok += 1;
                            run.latencies.push(sent.elapsed());
                        }
                        Ok(rows) => {
                            run.failed += 1;
                            run.failures.push(format!("only {rows} rows"));
                        }
                        Err(e) => {
                            run.failed += 1;
                            if run.failures.len() < 5 {
                                run.failures.push(e.to_string());
                            }
                        }
                    }
                }
                run
            })
        })
        .collect();
    collect(tasks, started).await
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<Run>>, started: Instant) -> Run {
    let mut total = Run::default();
    for task in tasks {
        if let Ok(run) = task.await {
            total.ok += run.ok;
            total.failed += run.failed;
            total.latencies.extend(run.latencies);
            total.failures.extend(run.failures.into_iter().take(2));
        }
    }
    total.elapsed = started.elapsed();
    total
}

// The mirror schema: the page's types, with the field names of the real schema.

#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Vendor {
    id: String,
    code: String,
    name: String,
    payment_terms_days: i32,
}

#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Location {
    code: String,
    #[serde(default)]
    name: String,
}

#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Product {
    id: String,
    sku: String,
    description: String,
    unit_of_measure: String,
}

#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Line {
    line_number: i32,
    quantity: String,
    quantity_received: String,
    unit_cost: Option<String>,
    product: Product,
    location: Location,
}

#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct LineConnection {
    total_count: i32,
    nodes: Vec<Line>,
}

#[derive(SimpleObject, Deserialize, Clone)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
struct Order {
    number: String,
    vendor: Vendor,
    ship_to: Location,
    #[graphql(skip)]
    #[serde(rename = "lines")]
    line_page: LineConnection,
}

#[ComplexObject]
impl Order {
    /// Its lines (the page already holds the first ten).
    async fn lines(&self, first: Option<i32>) -> &LineConnection {
        let _ = first;
        &self.line_page
    }
}

/// The page as the service answered it (`data.purchaseOrders`).
#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OrderConnection {
    total_count: i32,
    nodes: Vec<Order>,
}

struct Query {
    pages: Vec<OrderConnection>,
}

#[Object]
impl Query {
    /// The page whose size is `first`.
    async fn purchase_orders(&self, first: Option<i32>) -> Option<&OrderConnection> {
        let first = first.unwrap_or(25).max(0) as usize;
        self.pages.iter().find(|p| p.nodes.len() == first)
    }
}

/// The in-memory ceiling: what a bare async-graphql schema costs for the same response.
pub struct InMemory {
    schema: Schema<Query, EmptyMutation, EmptySubscription>,
}

/// What the in-memory run measured.
pub struct InMemoryRun {
    pub run: Run,
    /// CPU of this process per request, in ms.
    pub cpu_ms: f64,
}

impl InMemory {
    /// A schema answering from `pages` (the `data.purchaseOrders` of the service's answers).
    pub fn new(pages: Vec<serde_json::Value>) -> Result<Self, String> {
        let pages = pages
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<OrderConnection>, _>>()
            .map_err(|e| format!("page does not fit the mirror schema: {e}"))?;
        Ok(Self {
            schema: Schema::build(Query { pages }, EmptyMutation, EmptySubscription).finish(),
        })
    }

    /// `clients` tasks execute `query` with `first` and serialize the answer, for `duration`.
    pub async fn drive(
        &self,
        query: &'static str,
        first: usize,
        clients: usize,
        duration: Duration,
    ) -> InMemoryRun {
        let before = sample("self");
        let started = Instant::now();
        let deadline = started + duration;
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let schema = self.schema.clone();
                tokio::spawn(async move {
                    let mut run = Run::default();
                    while Instant::now() < deadline {
                        let sent = Instant::now();
                        let request = async_graphql::Request::new(query).variables(
                            async_graphql::Variables::from_json(serde_json::json!({ "n": first })),
                        );
                        let response = schema.execute(request).await;
                        let ok = response.errors.is_empty();
                        match serde_json::to_vec(&response) {
                            Ok(body) if ok && !body.is_empty() => {
                                run.ok += 1;
                                run.latencies.push(sent.elapsed());
                            }
                            _ => {
                                run.failed += 1;
                                if run.failures.len() < 2 {
                                    run.failures.push(format!("{:?}", response.errors));
                                }
                            }
                        }
                        // Let the other clients in, as a server's connections would.
                        tokio::task::yield_now().await;
                    }
                    run
                })
            })
            .collect();
        let run = collect(tasks, started).await;
        let after = sample("self");
        InMemoryRun {
            cpu_ms: (after.cpu_seconds - before.cpu_seconds) * 1000.0 / run.ok.max(1) as f64,
            run,
        }
    }
}
