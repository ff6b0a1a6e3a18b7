//! One serialized unit of a product: the registry entry that makes a serial unique per product.

use crate::enums::SerialStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "serial_numbers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub product_id: i32,
    /// As first given (trimmed).
    pub serial_number: String,
    /// Trimmed and upper-cased: the unique key with the product.
    pub normalized: String,
    pub status: SerialStatus,
    /// Where it is while IN_STOCK; null when gone.
    pub location_id: Option<i32>,
    /// The receipt that last brought it into stock (null when an adjustment did).
    pub receipt_id: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::serial_movement::Entity")]
    SerialMovement,
}

impl Related<super::serial_movement::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SerialMovement.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
