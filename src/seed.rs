//! `stockgraph seed --scale N`: a large, realistic, deterministic data set for benchmarks.
//!
//! Master data and PENDING orders go in with multi-row INSERTs inside one transaction per
//! table (a PENDING order touches no stock, so nothing else has to agree with it). The orders
//! that move on (submitted, some of them received with receipts and bills) go through the real
//! use cases, so on-order, on-hand, the ledger and the bills obey every rule the service keeps;
//! they are a small share, which keeps the whole seed in seconds.

use std::io::Write;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, Statement,
    TransactionTrait, Value,
};

use crate::auth::Actor;
use crate::config::BusinessConfig;
use crate::error::ServiceError;
use crate::events::EventBus;
use crate::services::purchasing;
use crate::services::receiving::{self, NewReceipt, ReceiveLine};
use crate::services::UseCase;

/// How much to seed.
#[derive(Clone, Copy, Debug)]
pub struct SeedPlan {
    pub vendors: usize,
    pub products: usize,
    pub locations: usize,
    pub orders: usize,
    /// Every `submit_every`-th order is submitted through the use case.
    pub submit_every: usize,
    /// Of the submitted ones, every `receive_every`-th is received (partly or fully).
    pub receive_every: usize,
    /// The RNG seed: the same plan and seed give the same data.
    pub seed: u64,
}

impl SeedPlan {
    /// Scale 1 ≈ 200 vendors, 2,000 products, 10 locations, 10,000 orders of 1–10 lines.
    pub fn scale(scale: f64, orders: Option<usize>) -> Self {
        let n = |base: f64, min: usize| ((base * scale).round() as usize).max(min);
        Self {
            vendors: n(200.0, 2),
            products: n(2_000.0, 20),
            locations: 10,
            orders: orders.unwrap_or_else(|| n(10_000.0, 10)),
            submit_every: 10,
            receive_every: 2,
            seed: 13,
        }
    }
}

/// What the seed wrote.
#[derive(Clone, Copy, Debug, Default)]
pub struct SeedReport {
    pub vendors: usize,
    pub products: usize,
    pub locations: usize,
    pub orders: usize,
    pub lines: usize,
    pub submitted: usize,
    pub received: usize,
    pub seconds: f64,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(
        "the database already holds data ({0} vendors); seed needs an empty database \
         (create a new one or point DATABASE_URL elsewhere)"
    )]
    NotEmpty(u64),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A progress line on stderr, rewritten in place.
fn progress(step: &str, done: usize, total: usize) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\rseed: {step:<28} {done:>7}/{total:<7}");
    if done >= total {
        let _ = writeln!(err);
    }
}

/// The first instant of the seeded history; everything else is an offset from it, so two
/// runs write identical rows.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

/// Inserts `rows` in multi-row statements, as many rows per statement as the bind-variable
/// limits of both databases allow (SQLite 32,766, PostgreSQL 65,535).
async fn insert_rows(
    db: &impl ConnectionTrait,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let per_statement = (30_000 / columns.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut values = Vec::with_capacity(chunk.len() * columns.len());
        for (r, row) in chunk.into_iter().enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (c, value) in row.into_iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                values.push(value);
                match backend {
                    DbBackend::Postgres => {
                        sql.push('$');
                        sql.push_str(&values.len().to_string());
                    }
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

fn ts(at: DateTime<Utc>) -> Value {
    Value::ChronoDateTimeUtc(Some(at))
}

fn text(s: impl Into<String>) -> Value {
    Value::String(Some(s.into()))
}

fn int(i: i64) -> Value {
    Value::BigInt(Some(i))
}

fn id(i: usize) -> Value {
    Value::Int(Some(i as i32))
}

fn null_text() -> Value {
    Value::String(None)
}

const CITIES: &[(&str, &str)] = &[
    ("Dayton", "OH"),
    ("Portland", "ME"),
    ("Austin", "TX"),
    ("Denver", "CO"),
    ("Tacoma", "WA"),
    ("Raleigh", "NC"),
    ("Madison", "WI"),
    ("Tucson", "AZ"),
];

const FAMILIES: &[(&str, &str, &str)] = &[
    ("BOLT", "Hex bolt M{n}, zinc plated", "each"),
    ("PIPE", "Copper pipe type L, {n} ft length", "ft"),
    ("FILTER", "Pleated HVAC filter MERV {n}", "each"),
    ("WIRE", "THHN wire, {n} AWG, black", "m"),
    ("BREAKER", "Circuit breaker single pole {n} A", "each"),
    ("VALVE", "Ball valve, brass, size {n}", "each"),
    ("TAPE", "Duct tape roll, {n} yd", "roll"),
];

/// Seeds an empty, migrated database. Refuses one that holds vendors.
pub async fn seed(db: &DatabaseConnection, plan: SeedPlan) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    let existing = entity::vendor::Entity::find().count(db).await?;
    if existing > 0 {
        return Err(SeedError::NotEmpty(existing));
    }
    let backend = db.get_database_backend();
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let start = epoch();
    let mut report = SeedReport {
        vendors: plan.vendors,
        products: plan.products,
        locations: plan.locations,
        orders: plan.orders,
        ..Default::default()
    };

    // Master data, with explicit ids (the database is empty) so the orders can refer to them
    // without reading anything back.
    let txn = db.begin().await?;
    insert_rows(
        &txn,
        "business_units",
        &["id", "name", "active", "created_at", "updated_at"],
        vec![
            vec![
                id(1),
                text("Residential service"),
                true.into(),
                ts(start),
                ts(start),
            ],
            vec![
                id(2),
                text("Commercial installs"),
                true.into(),
                ts(start),
                ts(start),
            ],
        ],
    )
    .await?;
    insert_rows(
        &txn,
        "purchase_order_types",
        &["id", "name", "active", "created_at", "updated_at"],
        vec![
            vec![id(1), text("Stock"), true.into(), ts(start), ts(start)],
            vec![id(2), text("Job"), true.into(), ts(start), ts(start)],
        ],
    )
    .await?;
    let mut vendor_tax = Vec::with_capacity(plan.vendors);
    let vendors: Vec<Vec<Value>> = (1..=plan.vendors)
        .map(|v| {
            let (city, region) = CITIES[v % CITIES.len()];
            // 0 % to 9.75 % in quarter points, as eight-place integers.
            let tax = rng.random_range(0..40i64) * 250_000;
            vendor_tax.push(tax);
            vec![
                id(v),
                text(format!("V{v:05}")),
                text(format!("Vendor {v} Supply Co.")),
                true.into(),
                text(format!("{} Commerce Way", 100 + v)),
                text(city),
                text(region),
                text(format!("{:05}", 10_000 + v)),
                text("US"),
                text(format!("Orders desk {v}")),
                text(format!("orders@v{v}.example.com")),
                text("+1 555 0100"),
                int(tax),
                Value::Int(Some([15, 30, 45, 60][v % 4])),
                text("EMAIL"),
                text("USD"),
                ts(start),
                ts(start),
            ]
        })
        .collect();
    insert_rows(
        &txn,
        "vendors",
        &[
            "id",
            "code",
            "name",
            "active",
            "street",
            "city",
            "region",
            "postal_code",
            "country",
            "contact_name",
            "contact_email",
            "contact_phone",
            "default_tax_rate",
            "payment_terms_days",
            "delivery_method",
            "currency",
            "created_at",
            "updated_at",
        ],
        vendors,
    )
    .await?;
    progress("vendors", plan.vendors, plan.vendors);
    let locations: Vec<Vec<Value>> = (1..=plan.locations)
        .map(|l| {
            let (city, region) = CITIES[l % CITIES.len()];
            let truck = l % 4 == 0;
            vec![
                id(l),
                text(if truck {
                    format!("TRUCK-{l:02}")
                } else {
                    format!("WH-{l:02}")
                }),
                text(if truck {
                    format!("Service truck {l}")
                } else {
                    format!("Warehouse {l}, {city}")
                }),
                true.into(),
                if truck {
                    null_text()
                } else {
                    text(format!("{l} Depot Way"))
                },
                if truck { null_text() } else { text(city) },
                if truck { null_text() } else { text(region) },
                if truck {
                    null_text()
                } else {
                    text(format!("{:05}", 40_000 + l))
                },
                if truck { null_text() } else { text("US") },
                ts(start),
                ts(start),
            ]
        })
        .collect();
    insert_rows(
        &txn,
        "inventory_locations",
        &[
            "id",
            "code",
            "name",
            "active",
            "street",
            "city",
            "region",
            "postal_code",
            "country",
            "created_at",
            "updated_at",
        ],
        locations,
    )
    .await?;
    progress("locations", plan.locations, plan.locations);
    let mut product_cost = Vec::with_capacity(plan.products);
    let products: Vec<Vec<Value>> = (1..=plan.products)
        .map(|p| {
            let (prefix, description, unit) = FAMILIES[p % FAMILIES.len()];
            let size = 1 + p / FAMILIES.len();
            // $0.25 to $250.00, whole cents, as four-place integers.
            let cost = rng.random_range(25..25_000i64) * 100;
            product_cost.push(cost);
            vec![
                id(p),
                text(format!("{prefix}-{size:05}")),
                text(description.replace("{n}", &size.to_string())),
                text(unit),
                int(cost),
                id(1 + p % plan.vendors),
                false.into(),
                Value::BigInt(None),
                true.into(),
                ts(start),
                ts(start),
            ]
        })
        .collect();
    insert_rows(
        &txn,
        "products",
        &[
            "id",
            "sku",
            "description",
            "unit_of_measure",
            "default_unit_cost",
            "preferred_vendor_id",
            "serialized",
            "over_receipt_allowance_percent",
            "active",
            "created_at",
            "updated_at",
        ],
        products,
    )
    .await?;
    progress("products", plan.products, plan.products);
    crate::services::commit(txn).await?;

    // PENDING orders and their lines, in transactions of 1,000 orders.
    const ORDERS_PER_TXN: usize = 1_000;
    let mut first = 1;
    while first <= plan.orders {
        let last = (first + ORDERS_PER_TXN - 1).min(plan.orders);
        let mut orders = Vec::new();
        let mut lines = Vec::new();
        for o in first..=last {
            let vendor = rng.random_range(1..=plan.vendors);
            let ship_to = rng.random_range(1..=plan.locations);
            let count = rng.random_range(1..=10usize);
            let at = start + Duration::minutes(o as i64 * 7);
            orders.push(vec![
                id(o),
                text(format!("PO-S-{o:07}")),
                text("PENDING"),
                Value::Int(Some(1)),
                id(vendor),
                id(ship_to),
                id(1 + o % 2),
                id(1 + (ship_to % 2)),
                ts(at),
                int(vendor_tax[vendor - 1]),
                int(if o % 3 == 0 { 250_000 } else { 0 }),
                text("USD"),
                int(100_000_000),
                Value::Int(Some(count as i32 + 1)),
                text("seed"),
                text("seed"),
                ts(at),
                ts(at),
            ]);
            // Distinct products on one order: a random start and a stride.
            let base = rng.random_range(0..plan.products);
            let stride = 1 + rng.random_range(0..7usize);
            for n in 0..count {
                let product = (base + n * stride) % plan.products;
                let quantity = rng.random_range(1..=50i64) * 10_000;
                lines.push(vec![
                    id(o),
                    Value::Int(Some(n as i32 + 1)),
                    id(product + 1),
                    id(ship_to),
                    int(quantity),
                    int(0),
                    int(product_cost[product]),
                    ts(at),
                    ts(at),
                ]);
            }
            report.lines += count;
        }
        let txn = db.begin().await?;
        insert_rows(
            &txn,
            "purchase_orders",
            &[
                "id",
                "number",
                "status",
                "version",
                "vendor_id",
                "ship_to_id",
                "type_id",
                "business_unit_id",
                "order_date",
                "tax_rate",
                "shipping",
                "currency",
                "exchange_rate",
                "next_line_number",
                "created_by",
                "updated_by",
                "created_at",
                "updated_at",
            ],
            orders,
        )
        .await?;
        insert_rows(
            &txn,
            "purchase_order_lines",
            &[
                "purchase_order_id",
                "line_number",
                "product_id",
                "location_id",
                "quantity",
                "quantity_received",
                "unit_cost",
                "created_at",
                "updated_at",
            ],
            lines,
        )
        .await?;
        crate::services::commit(txn).await?;
        progress("purchase orders", last, plan.orders);
        first = last + 1;
    }

    // PostgreSQL's sequences do not see explicit ids; SQLite's AUTOINCREMENT does.
    if backend == DbBackend::Postgres {
        for table in [
            "business_units",
            "purchase_order_types",
            "vendors",
            "inventory_locations",
            "products",
            "purchase_orders",
        ] {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            ))
            .await?;
        }
    }

    // The orders that moved on, through the use cases (which keep the books).
    let business = BusinessConfig::default();
    let actor = Actor::new("seed", &[crate::auth::Permission::Admin]);
    let events = EventBus::default();
    let uc = UseCase {
        db,
        actor: &actor,
        business: &business,
        events: &events,
        can_set_costs: true,
    };
    let moving: Vec<usize> = (1..=plan.orders)
        .filter(|o| o % plan.submit_every.max(1) == 0)
        .collect();
    let total = moving.len();
    for (n, order) in moving.into_iter().enumerate() {
        let po_id = order as i32;
        purchasing::submit(uc, po_id, None).await?;
        report.submitted += 1;
        if (n + 1) % plan.receive_every.max(1) == 0 {
            let lines = purchasing::lines_of(db, po_id).await?;
            // Alternately all of every line, or about half of each.
            let full = (n / plan.receive_every.max(1)).is_multiple_of(2);
            let receive: Vec<ReceiveLine> = lines
                .iter()
                .map(|l| {
                    let quantity = l.quantity.to_decimal();
                    ReceiveLine {
                        line_id: l.id,
                        quantity: if full {
                            quantity
                        } else {
                            (quantity / Decimal::TWO).floor()
                        },
                        ..Default::default()
                    }
                })
                .filter(|l| !l.quantity.is_zero())
                .collect();
            if !receive.is_empty() {
                receiving::receive(
                    uc,
                    NewReceipt {
                        purchase_order_id: po_id,
                        lines: receive,
                        packing_slip: Some(format!("PS-{order}")),
                        ..Default::default()
                    },
                )
                .await?;
                report.received += 1;
            }
        }
        if (n + 1) % 50 == 0 || n + 1 == total {
            progress("submitted / received", n + 1, total);
        }
    }
    // A bulk load leaves the planner without statistics (autovacuum gathers them only later),
    // and without them PostgreSQL hash-joins whole tables to read one order's lines.
    db.execute_unprepared("ANALYZE").await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
