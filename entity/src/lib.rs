//! sea-orm entities for stockgraph, one module per table; no GraphQL here.

pub mod bill;
pub mod bill_line;
pub mod business_unit;
pub mod enums;
pub mod event;
pub mod fixed;
pub mod idempotency_key;
pub mod inventory_item;
pub mod inventory_location;
pub mod job;
pub mod job_material;
pub mod prelude;
pub mod product;
pub mod project;
pub mod purchase_order;
pub mod purchase_order_line;
pub mod purchase_order_type;
pub mod receipt;
pub mod receipt_line;
pub mod receipt_serial;
pub mod serial_movement;
pub mod serial_number;
pub mod stock_ledger_entry;
pub mod technician;
pub mod vendor;

pub use fixed::{Fixed4, FixedError, Rate8};
