//! GraphQL enums of the storage enums. Each is its own type, so the schema never depends on
//! sea-orm; async-graphql's `remote` derives the conversions both ways, so adding a storage
//! variant without its GraphQL twin fails to compile.

use async_graphql::Enum;

/// Where a purchase order is in its life (DOMAIN.md, Purchase order lifecycle).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::enums::PurchaseOrderStatus")]
pub enum PurchaseOrderStatus {
    /// Being prepared; lines can be added and removed.
    Pending,
    /// Sent to the vendor; open quantities count as on order.
    Submitted,
    /// Some quantity has been received.
    PartiallyReceived,
    /// Every line is fully received.
    Received,
    /// Finalized; nothing more is expected.
    Closed,
    /// Cancelled before anything was received.
    Canceled,
}

/// How purchase orders reach the vendor.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::enums::DeliveryMethod")]
pub enum DeliveryMethod {
    /// By email.
    Email,
    /// By fax.
    Fax,
    /// Through the vendor's portal.
    Portal,
    /// By hand or phone.
    Manual,
}

/// Where a job's need for a product stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::enums::JobMaterialStatus")]
pub enum JobMaterialStatus {
    /// Not yet on a submitted purchase order.
    NeedToOrder,
    /// On a submitted purchase order.
    Ordered,
    /// Its purchase-order line is fully received.
    Fulfilled,
}

/// Whether a bill charges or credits.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::enums::BillKind")]
pub enum BillKind {
    /// A charge for received goods.
    Bill,
    /// A credit for a cancelled receipt.
    Credit,
}

/// Whether a bill still counts.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::enums::BillStatus")]
pub enum BillStatus {
    /// Counts towards what is owed.
    Open,
    /// Replaced by another bill after a unit-cost change.
    Superseded,
}
