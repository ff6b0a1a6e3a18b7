//! The quantity of one purchase-order line in a receipt.

use crate::fixed::Fixed4;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "receipt_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub receipt_id: i32,
    pub purchase_order_line_id: i32,
    /// The product as received: kept even if the order line changes later.
    pub product_id: i32,
    /// The location as received.
    pub location_id: i32,
    pub quantity: Fixed4,
    pub rejected_quantity: Fixed4,
    pub rejection_reason: Option<String>,
    pub unit_cost: Fixed4,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::receipt::Entity",
        from = "Column::ReceiptId",
        to = "super::receipt::Column::Id"
    )]
    Receipt,
    #[sea_orm(
        belongs_to = "super::purchase_order_line::Entity",
        from = "Column::PurchaseOrderLineId",
        to = "super::purchase_order_line::Column::Id"
    )]
    PurchaseOrderLine,
}

impl Related<super::receipt::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Receipt.def()
    }
}

impl Related<super::purchase_order_line::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PurchaseOrderLine.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
