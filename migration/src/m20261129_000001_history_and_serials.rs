//! History and serial numbers (DOMAIN.md, *History* and *Serial numbers*).
//!
//! Receipt and bill lines keep the product and location they were issued with, so a later edit
//! of the order line never shows through them; existing rows are filled from their order lines.
//! The serial registry holds each (product, serial) once, compared without regard to case or
//! surrounding spaces, with where it is and how it moved; existing receipt serials are entered
//! from their receipts (the most recent receipt of a serial decides its status).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Snapshot columns, added to both line tables.
const SNAPSHOT_TABLES: &[&str] = &["receipt_lines", "bill_lines"];

const REGISTRY: &str = r#"
CREATE TABLE serial_numbers (
    id {ID},
    product_id INTEGER NOT NULL REFERENCES products (id),
    serial_number TEXT NOT NULL CHECK (length(serial_number) BETWEEN 1 AND 100),
    normalized TEXT NOT NULL CHECK (length(normalized) BETWEEN 1 AND 400),
    status TEXT NOT NULL CHECK (status IN ('IN_STOCK', 'RECEIPT_CANCELED', 'ADJUSTED_OUT')),
    location_id INTEGER REFERENCES inventory_locations (id),
    receipt_id INTEGER REFERENCES receipts (id),
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL,
    UNIQUE (product_id, normalized),
    CHECK ((status = 'IN_STOCK' AND location_id IS NOT NULL)
        OR (status <> 'IN_STOCK' AND location_id IS NULL))
);
CREATE INDEX serial_numbers_location_idx ON serial_numbers (location_id);
CREATE INDEX serial_numbers_receipt_idx ON serial_numbers (receipt_id);

CREATE TABLE serial_movements (
    id {BIGID},
    serial_number_id INTEGER NOT NULL REFERENCES serial_numbers (id),
    kind TEXT NOT NULL CHECK (kind IN ('RECEIVED', 'TRANSFERRED', 'RECEIPT_CANCELED', 'ADJUSTED_IN', 'ADJUSTED_OUT')),
    receipt_id INTEGER REFERENCES receipts (id),
    ledger_entry_id BIGINT REFERENCES stock_ledger_entries (id),
    from_location_id INTEGER REFERENCES inventory_locations (id),
    to_location_id INTEGER REFERENCES inventory_locations (id),
    actor TEXT NOT NULL,
    occurred_at {TS} NOT NULL
);
CREATE INDEX serial_movements_serial_idx ON serial_movements (serial_number_id, id);

INSERT INTO serial_numbers
    (product_id, serial_number, normalized, status, location_id, receipt_id, created_at, updated_at)
SELECT rl.product_id, rs.serial_number, UPPER(TRIM(rs.serial_number)),
       CASE WHEN r.canceled_at IS NULL THEN 'IN_STOCK' ELSE 'RECEIPT_CANCELED' END,
       CASE WHEN r.canceled_at IS NULL THEN rl.location_id END,
       r.id, r.received_at, COALESCE(r.canceled_at, r.received_at)
FROM receipt_serials rs
JOIN receipt_lines rl ON rl.id = rs.receipt_line_id
JOIN receipts r ON r.id = rl.receipt_id
WHERE rs.id = (
    SELECT MAX(rs2.id) FROM receipt_serials rs2
    JOIN receipt_lines rl2 ON rl2.id = rs2.receipt_line_id
    WHERE rl2.product_id = rl.product_id
      AND UPPER(TRIM(rs2.serial_number)) = UPPER(TRIM(rs.serial_number))
);

INSERT INTO serial_movements
    (serial_number_id, kind, receipt_id, to_location_id, actor, occurred_at)
SELECT sn.id, 'RECEIVED', r.id, rl.location_id, r.received_by, r.received_at
FROM receipt_serials rs
JOIN receipt_lines rl ON rl.id = rs.receipt_line_id
JOIN receipts r ON r.id = rl.receipt_id
JOIN serial_numbers sn
  ON sn.product_id = rl.product_id AND sn.normalized = UPPER(TRIM(rs.serial_number))
ORDER BY r.received_at, rs.id;

INSERT INTO serial_movements
    (serial_number_id, kind, receipt_id, from_location_id, actor, occurred_at)
SELECT sn.id, 'RECEIPT_CANCELED', r.id, rl.location_id, COALESCE(r.canceled_by, r.received_by), r.canceled_at
FROM receipt_serials rs
JOIN receipt_lines rl ON rl.id = rs.receipt_line_id
JOIN receipts r ON r.id = rl.receipt_id
JOIN serial_numbers sn
  ON sn.product_id = rl.product_id AND sn.normalized = UPPER(TRIM(rs.serial_number))
WHERE r.canceled_at IS NOT NULL
ORDER BY r.canceled_at, rs.id
"#;

fn spell(sql: &str, backend: DbBackend) -> String {
    let (id, big_id, ts) = match backend {
        DbBackend::Postgres => ("SERIAL PRIMARY KEY", "BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ"),
        _ => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "TEXT",
        ),
    };
    sql.replace("{BIGID}", big_id)
        .replace("{ID}", id)
        .replace("{TS}", ts)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        for table in SNAPSHOT_TABLES {
            // SQLite adds a referencing column only when it may be NULL; PostgreSQL gets the
            // NOT NULL after the backfill, and the services always write both columns.
            for statement in [
                format!("ALTER TABLE {table} ADD COLUMN product_id INTEGER REFERENCES products (id)"),
                format!(
                    "ALTER TABLE {table} ADD COLUMN location_id INTEGER REFERENCES inventory_locations (id)"
                ),
                format!(
                    "UPDATE {table} SET \
                     product_id = (SELECT l.product_id FROM purchase_order_lines l WHERE l.id = {table}.purchase_order_line_id), \
                     location_id = (SELECT l.location_id FROM purchase_order_lines l WHERE l.id = {table}.purchase_order_line_id)"
                ),
                format!("CREATE INDEX {table}_product_idx ON {table} (product_id)"),
            ] {
                db.execute_unprepared(&statement).await?;
            }
            if backend == DbBackend::Postgres {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} ALTER COLUMN product_id SET NOT NULL, \
                     ALTER COLUMN location_id SET NOT NULL"
                ))
                .await?;
            }
        }
        for statement in spell(REGISTRY, backend).split(';') {
            if !statement.trim().is_empty() {
                db.execute_unprepared(statement).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in ["serial_movements", "serial_numbers"] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        for table in SNAPSHOT_TABLES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {table}_product_idx"))
                .await?;
            for column in ["product_id", "location_id"] {
                db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}"))
                    .await?;
            }
        }
        Ok(())
    }
}
