//! The entities under their table names, as sea-orm-cli generates them.

pub use crate::bill::Entity as Bill;
pub use crate::bill_line::Entity as BillLine;
pub use crate::business_unit::Entity as BusinessUnit;
pub use crate::enums::*;
pub use crate::event::Entity as Event;
pub use crate::fixed::{Fixed4, Rate8};
pub use crate::idempotency_key::Entity as IdempotencyKey;
pub use crate::inventory_item::Entity as InventoryItem;
pub use crate::inventory_location::Entity as InventoryLocation;
pub use crate::job::Entity as Job;
pub use crate::job_material::Entity as JobMaterial;
pub use crate::product::Entity as Product;
pub use crate::project::Entity as Project;
pub use crate::purchase_order::Entity as PurchaseOrder;
pub use crate::purchase_order_line::Entity as PurchaseOrderLine;
pub use crate::purchase_order_type::Entity as PurchaseOrderType;
pub use crate::receipt::Entity as Receipt;
pub use crate::receipt_line::Entity as ReceiptLine;
pub use crate::receipt_serial::Entity as ReceiptSerial;
pub use crate::serial_movement::Entity as SerialMovement;
pub use crate::serial_number::Entity as SerialNumber;
pub use crate::stock_ledger_entry::Entity as StockLedgerEntry;
pub use crate::technician::Entity as Technician;
pub use crate::vendor::Entity as Vendor;
