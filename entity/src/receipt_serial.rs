//! A serial number received on a receipt line.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "receipt_serials")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub receipt_line_id: i32,
    pub serial_number: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::receipt_line::Entity",
        from = "Column::ReceiptLineId",
        to = "super::receipt_line::Column::Id"
    )]
    ReceiptLine,
}

impl Related<super::receipt_line::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReceiptLine.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
