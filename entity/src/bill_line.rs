//! One received line priced on a bill.

use crate::fixed::Fixed4;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bill_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub bill_id: i32,
    pub purchase_order_line_id: i32,
    /// The product as received: kept even if the order line changes later.
    pub product_id: i32,
    /// The location as received.
    pub location_id: i32,
    pub receipt_line_id: i32,
    pub quantity: Fixed4,
    pub unit_cost: Fixed4,
    pub amount: Fixed4,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::bill::Entity",
        from = "Column::BillId",
        to = "super::bill::Column::Id"
    )]
    Bill,
    #[sea_orm(
        belongs_to = "super::purchase_order_line::Entity",
        from = "Column::PurchaseOrderLineId",
        to = "super::purchase_order_line::Column::Id"
    )]
    PurchaseOrderLine,
    #[sea_orm(
        belongs_to = "super::receipt_line::Entity",
        from = "Column::ReceiptLineId",
        to = "super::receipt_line::Column::Id"
    )]
    ReceiptLine,
}

impl Related<super::bill::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Bill.def()
    }
}

impl Related<super::purchase_order_line::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PurchaseOrderLine.def()
    }
}

impl Related<super::receipt_line::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReceiptLine.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
