//! The whole data model of DOMAIN.md.
//!
//! Written as plain DDL so every CHECK constraint, unique key and index is visible in one
//! place and identical on both backends. Quantities and money are fixed-point integers with
//! four decimal places (`BIGINT`, 1.5 is stored as 15000); rates use eight places. SQLite has
//! no exact decimal type, and integers keep `SUM` and `x = x + $1` exact on both databases.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order; `down` drops them in reverse.
const TABLES: &[&str] = &[
    "document_counters",
    "vendors",
    "inventory_locations",
    "products",
    "business_units",
    "purchase_order_types",
    "jobs",
    "projects",
    "technicians",
    "purchase_orders",
    "purchase_order_lines",
    "job_materials",
    "receipts",
    "receipt_lines",
    "receipt_serials",
    "bills",
    "bill_lines",
    "inventory_items",
    "stock_ledger_entries",
    "events",
    "idempotency_keys",
];

const DDL: &str = r#"
CREATE TABLE document_counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL CHECK (value >= 0)
);

CREATE TABLE vendors (
    id {ID},
    code TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 50),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    active BOOLEAN NOT NULL,
    street TEXT NOT NULL,
    city TEXT NOT NULL,
    region TEXT,
    postal_code TEXT NOT NULL,
    country TEXT NOT NULL,
    contact_name TEXT,
    contact_email TEXT,
    contact_phone TEXT,
    default_tax_rate BIGINT NOT NULL CHECK (default_tax_rate >= 0 AND default_tax_rate < 100000000),
    payment_terms_days INTEGER NOT NULL CHECK (payment_terms_days >= 0),
    delivery_method TEXT NOT NULL CHECK (delivery_method IN ('EMAIL', 'FAX', 'PORTAL', 'MANUAL')),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
);
CREATE INDEX vendors_name_idx ON vendors (name);

CREATE TABLE inventory_locations (
    id {ID},
    code TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 50),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    active BOOLEAN NOT NULL,
    street TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
);

CREATE TABLE products (
    id {ID},
    sku TEXT NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 50),
    description TEXT NOT NULL,
    unit_of_measure TEXT NOT NULL,
    default_unit_cost BIGINT NOT NULL CHECK (default_unit_cost >= 0),
    preferred_vendor_id INTEGER REFERENCES vendors (id),
    serialized BOOLEAN NOT NULL,
    over_receipt_allowance_percent BIGINT CHECK (over_receipt_allowance_percent >= 0),
    active BOOLEAN NOT NULL,
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
);
CREATE INDEX products_preferred_vendor_idx ON products (preferred_vendor_id);

CREATE TABLE business_units (
    id {ID},
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    active BOOLEAN NOT NULL,
    created_at {TS} NOT NULL
);

CREATE TABLE purchase_order_types (
    id {ID},
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    active BOOLEAN NOT NULL,
    created_at {TS} NOT NULL
);

CREATE TABLE jobs (
    id {ID},
    number TEXT NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 50),
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at {TS} NOT NULL
);

CREATE TABLE projects (
    id {ID},
    number TEXT NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 50),
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at {TS} NOT NULL
);

CREATE TABLE technicians (
    id {ID},
    number TEXT NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 50),
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at {TS} NOT NULL
);

CREATE TABLE purchase_orders (
    id {ID},
    number TEXT NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 64),
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'SUBMITTED', 'PARTIALLY_RECEIVED', 'RECEIVED', 'CLOSED', 'CANCELED')),
    version INTEGER NOT NULL CHECK (version >= 1),
    vendor_id INTEGER NOT NULL REFERENCES vendors (id),
    ship_to_id INTEGER NOT NULL REFERENCES inventory_locations (id),
    type_id INTEGER NOT NULL REFERENCES purchase_order_types (id),
    business_unit_id INTEGER NOT NULL REFERENCES business_units (id),
    job_id INTEGER REFERENCES jobs (id),
    project_id INTEGER REFERENCES projects (id),
    technician_id INTEGER REFERENCES technicians (id),
    backorder_of_id INTEGER REFERENCES purchase_orders (id),
    backorder_root_id INTEGER REFERENCES purchase_orders (id),
    order_date {TS} NOT NULL,
    expected_date {DATE},
    submitted_at {TS},
    exported_at {TS},
    closed_at {TS},
    canceled_at {TS},
    memo TEXT,
    tax_rate BIGINT NOT NULL CHECK (tax_rate >= 0 AND tax_rate < 100000000),
    shipping BIGINT NOT NULL CHECK (shipping >= 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    exchange_rate BIGINT NOT NULL CHECK (exchange_rate > 0),
    next_line_number INTEGER NOT NULL CHECK (next_line_number >= 1),
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
);
CREATE INDEX purchase_orders_status_idx ON purchase_orders (status);
CREATE INDEX purchase_orders_vendor_idx ON purchase_orders (vendor_id);
CREATE INDEX purchase_orders_ship_to_idx ON purchase_orders (ship_to_id);
CREATE INDEX purchase_orders_order_date_idx ON purchase_orders (order_date, id);
CREATE INDEX purchase_orders_expected_date_idx ON purchase_orders (expected_date, id);
CREATE INDEX purchase_orders_backorder_of_idx ON purchase_orders (backorder_of_id);
CREATE INDEX purchase_orders_job_idx ON purchase_orders (job_id);
CREATE INDEX purchase_orders_project_idx ON purchase_orders (project_id);
CREATE INDEX purchase_orders_technician_idx ON purchase_orders (technician_id);
CREATE INDEX purchase_orders_type_idx ON purchase_orders (type_id);
CREATE INDEX purchase_orders_business_unit_idx ON purchase_orders (business_unit_id);

CREATE TABLE purchase_order_lines (
    id {ID},
    purchase_order_id INTEGER NOT NULL REFERENCES purchase_orders (id),
    line_number INTEGER NOT NULL CHECK (line_number >= 1),
    product_id INTEGER NOT NULL REFERENCES products (id),
    location_id INTEGER NOT NULL REFERENCES inventory_locations (id),
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    quantity_received BIGINT NOT NULL CHECK (quantity_received >= 0),
    unit_cost BIGINT NOT NULL CHECK (unit_cost >= 0),
    estimated_arrival {DATE},
    memo TEXT,
    job_id INTEGER REFERENCES jobs (id),
    project_id INTEGER REFERENCES projects (id),
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL,
    UNIQUE (purchase_order_id, line_number)
);
CREATE INDEX purchase_order_lines_product_idx ON purchase_order_lines (product_id);
CREATE INDEX purchase_order_lines_location_idx ON purchase_order_lines (location_id);

CREATE TABLE job_materials (
    id {ID},
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    status TEXT NOT NULL CHECK (status IN ('NEED_TO_ORDER', 'ORDERED', 'FULFILLED')),
    purchase_order_line_id INTEGER UNIQUE REFERENCES purchase_order_lines (id),
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
);
CREATE INDEX job_materials_job_idx ON job_materials (job_id);
CREATE INDEX job_materials_product_idx ON job_materials (product_id);

CREATE TABLE receipts (
    id {ID},
    number TEXT NOT NULL UNIQUE,
    purchase_order_id INTEGER NOT NULL REFERENCES purchase_orders (id),
    packing_slip TEXT,
    received_at {TS} NOT NULL,
    received_by TEXT NOT NULL,
    freight BIGINT NOT NULL CHECK (freight >= 0),
    canceled_at {TS},
    canceled_by TEXT,
    created_at {TS} NOT NULL
);
CREATE INDEX receipts_purchase_order_idx ON receipts (purchase_order_id);

CREATE TABLE receipt_lines (
    id {ID},
    receipt_id INTEGER NOT NULL REFERENCES receipts (id),
    purchase_order_line_id INTEGER NOT NULL REFERENCES purchase_order_lines (id),
    quantity BIGINT NOT NULL CHECK (quantity >= 0),
    rejected_quantity BIGINT NOT NULL CHECK (rejected_quantity >= 0),
    rejection_reason TEXT,
    unit_cost BIGINT NOT NULL CHECK (unit_cost >= 0),
    CHECK (quantity + rejected_quantity > 0)
);
CREATE INDEX receipt_lines_receipt_idx ON receipt_lines (receipt_id);
CREATE INDEX receipt_lines_line_idx ON receipt_lines (purchase_order_line_id);

CREATE TABLE receipt_serials (
    id {ID},
    receipt_line_id INTEGER NOT NULL REFERENCES receipt_lines (id),
    serial_number TEXT NOT NULL CHECK (length(serial_number) BETWEEN 1 AND 100),
    UNIQUE (receipt_line_id, serial_number)
);

CREATE TABLE bills (
    id {ID},
    number TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('BILL', 'CREDIT')),
    status TEXT NOT NULL CHECK (status IN ('OPEN', 'SUPERSEDED')),
    vendor_id INTEGER NOT NULL REFERENCES vendors (id),
    purchase_order_id INTEGER NOT NULL REFERENCES purchase_orders (id),
    receipt_id INTEGER NOT NULL REFERENCES receipts (id),
    credit_of_id INTEGER REFERENCES bills (id),
    superseded_by_id INTEGER REFERENCES bills (id),
    remit_street TEXT NOT NULL,
    remit_city TEXT NOT NULL,
    remit_region TEXT,
    remit_postal_code TEXT NOT NULL,
    remit_country TEXT NOT NULL,
    bill_date {DATE} NOT NULL,
    due_date {DATE} NOT NULL,
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    exchange_rate BIGINT NOT NULL CHECK (exchange_rate > 0),
    tax_rate BIGINT NOT NULL CHECK (tax_rate >= 0),
    subtotal BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    freight BIGINT NOT NULL,
    total BIGINT NOT NULL,
    created_at {TS} NOT NULL,
    CHECK (due_date >= bill_date)
);
CREATE INDEX bills_vendor_idx ON bills (vendor_id);
CREATE INDEX bills_purchase_order_idx ON bills (purchase_order_id);
CREATE INDEX bills_receipt_idx ON bills (receipt_id);
CREATE INDEX bills_credit_of_idx ON bills (credit_of_id);
CREATE INDEX bills_bill_date_idx ON bills (bill_date, id);

CREATE TABLE bill_lines (
    id {ID},
    bill_id INTEGER NOT NULL REFERENCES bills (id),
    purchase_order_line_id INTEGER NOT NULL REFERENCES purchase_order_lines (id),
    receipt_line_id INTEGER NOT NULL REFERENCES receipt_lines (id),
    quantity BIGINT NOT NULL,
    unit_cost BIGINT NOT NULL CHECK (unit_cost >= 0),
    amount BIGINT NOT NULL
);
CREATE INDEX bill_lines_bill_idx ON bill_lines (bill_id);
CREATE INDEX bill_lines_line_idx ON bill_lines (purchase_order_line_id);

CREATE TABLE inventory_items (
    id {ID},
    product_id INTEGER NOT NULL REFERENCES products (id),
    location_id INTEGER NOT NULL REFERENCES inventory_locations (id),
    bin TEXT CHECK (length(bin) <= 50),
    reference_number TEXT CHECK (length(reference_number) <= 50),
    on_hand BIGINT NOT NULL CHECK (on_hand >= 0),
    on_order BIGINT NOT NULL CHECK (on_order >= 0),
    picked BIGINT NOT NULL CHECK (picked >= 0),
    reserved BIGINT NOT NULL CHECK (reserved >= 0),
    backordered BIGINT NOT NULL CHECK (backordered >= 0),
    minimum BIGINT NOT NULL CHECK (minimum >= 0),
    maximum BIGINT CHECK (maximum >= minimum),
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL,
    UNIQUE (product_id, location_id),
    CHECK (on_hand >= picked + reserved)
);
CREATE INDEX inventory_items_location_idx ON inventory_items (location_id);

CREATE TABLE stock_ledger_entries (
    id {BIGID},
    inventory_item_id INTEGER NOT NULL REFERENCES inventory_items (id),
    delta BIGINT NOT NULL CHECK (delta <> 0),
    reason TEXT NOT NULL,
    source_type TEXT,
    source_id INTEGER,
    actor TEXT NOT NULL,
    memo TEXT,
    occurred_at {TS} NOT NULL
);
CREATE INDEX stock_ledger_entries_item_idx ON stock_ledger_entries (inventory_item_id, id);

CREATE TABLE events (
    id {BIGID},
    kind TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    payload TEXT NOT NULL,
    actor TEXT NOT NULL,
    occurred_at {TS} NOT NULL
);
CREATE INDEX events_occurred_at_idx ON events (occurred_at);

CREATE TABLE idempotency_keys (
    id {ID},
    operation TEXT NOT NULL,
    idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at {TS} NOT NULL,
    UNIQUE (operation, idempotency_key)
);
"#;

/// Substitutes the backend's spelling of the few types that differ.
fn ddl_for(backend: DbBackend) -> String {
    let (id, big_id, ts, date) = match backend {
        DbBackend::Postgres => (
            "SERIAL PRIMARY KEY",
            "BIGSERIAL PRIMARY KEY",
            "TIMESTAMPTZ",
            "DATE",
        ),
        // INTEGER PRIMARY KEY is SQLite's 64-bit rowid; AUTOINCREMENT never reuses an id.
        _ => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "TEXT",
            "TEXT",
        ),
    };
    DDL.replace("{BIGID}", big_id)
        .replace("{ID}", id)
        .replace("{TS}", ts)
        .replace("{DATE}", date)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in ddl_for(db.get_database_backend()).split(';') {
            if !statement.trim().is_empty() {
                db.execute_unprepared(statement).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in TABLES.iter().rev() {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_created_table_is_dropped_by_down() {
        let ddl = ddl_for(DbBackend::Sqlite);
        let created: Vec<&str> = ddl
            .split("CREATE TABLE ")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next())
            .collect();
        assert_eq!(created, TABLES);
    }
}
