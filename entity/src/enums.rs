//! String-backed enums stored in TEXT columns (with CHECK constraints in the schema).

use sea_orm::entity::prelude::*;

/// Where a purchase order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum PurchaseOrderStatus {
    /// Being prepared.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Sent to the vendor.
    #[sea_orm(string_value = "SUBMITTED")]
    Submitted,
    /// Some quantity received.
    #[sea_orm(string_value = "PARTIALLY_RECEIVED")]
    PartiallyReceived,
    /// Every line fully received.
    #[sea_orm(string_value = "RECEIVED")]
    Received,
    /// Finalized.
    #[sea_orm(string_value = "CLOSED")]
    Closed,
    /// Cancelled.
    #[sea_orm(string_value = "CANCELED")]
    Canceled,
}

/// Where a job material stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum JobMaterialStatus {
    /// Not yet on a submitted purchase order.
    #[sea_orm(string_value = "NEED_TO_ORDER")]
    NeedToOrder,
    /// On a submitted purchase order.
    #[sea_orm(string_value = "ORDERED")]
    Ordered,
    /// Its line is fully received.
    #[sea_orm(string_value = "FULFILLED")]
    Fulfilled,
}

/// A charge or a credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum BillKind {
    /// A charge for received goods.
    #[sea_orm(string_value = "BILL")]
    Bill,
    /// A credit for a cancelled receipt.
    #[sea_orm(string_value = "CREDIT")]
    Credit,
}

/// Whether a bill still counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum BillStatus {
    /// Counts towards what is owed.
    #[sea_orm(string_value = "OPEN")]
    Open,
    /// Replaced after a unit-cost change.
    #[sea_orm(string_value = "SUPERSEDED")]
    Superseded,
}

/// How purchase orders reach a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum DeliveryMethod {
    /// By email.
    #[sea_orm(string_value = "EMAIL")]
    Email,
    /// By fax.
    #[sea_orm(string_value = "FAX")]
    Fax,
    /// Through the vendor's portal.
    #[sea_orm(string_value = "PORTAL")]
    Portal,
    /// By hand or phone.
    #[sea_orm(string_value = "MANUAL")]
    Manual,
}

/// Where a serialized unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum SerialStatus {
    /// In stock at its location.
    #[sea_orm(string_value = "IN_STOCK")]
    InStock,
    /// Gone: the receipt that brought it in was cancelled.
    #[sea_orm(string_value = "RECEIPT_CANCELED")]
    ReceiptCanceled,
    /// Gone: written off by an adjustment.
    #[sea_orm(string_value = "ADJUSTED_OUT")]
    AdjustedOut,
}

/// How a serialized unit moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum SerialMovementKind {
    /// Came in with a receipt.
    #[sea_orm(string_value = "RECEIVED")]
    Received,
    /// Moved between locations.
    #[sea_orm(string_value = "TRANSFERRED")]
    Transferred,
    /// Went out because its receipt was cancelled.
    #[sea_orm(string_value = "RECEIPT_CANCELED")]
    ReceiptCanceled,
    /// Came in with an adjustment up.
    #[sea_orm(string_value = "ADJUSTED_IN")]
    AdjustedIn,
    /// Went out with an adjustment down.
    #[sea_orm(string_value = "ADJUSTED_OUT")]
    AdjustedOut,
}
