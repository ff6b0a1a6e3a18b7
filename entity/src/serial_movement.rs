//! One step in the history of a serialized unit; append-only.

use crate::enums::SerialMovementKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "serial_movements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub serial_number_id: i32,
    pub kind: SerialMovementKind,
    /// The receipt received or cancelled.
    pub receipt_id: Option<i32>,
    /// The stock-ledger entry of a transfer or adjustment.
    pub ledger_entry_id: Option<i64>,
    pub from_location_id: Option<i32>,
    pub to_location_id: Option<i32>,
    pub actor: String,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::serial_number::Entity",
        from = "Column::SerialNumberId",
        to = "super::serial_number::Column::Id"
    )]
    SerialNumber,
}

impl Related<super::serial_number::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SerialNumber.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
