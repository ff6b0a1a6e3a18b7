//! A part that is bought and stocked.

use crate::fixed::Fixed4;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub sku: String,
    pub description: String,
    pub unit_of_measure: String,
    pub default_unit_cost: Fixed4,
    pub preferred_vendor_id: Option<i32>,
    pub serialized: bool,
    pub over_receipt_allowance_percent: Option<Fixed4>,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::vendor::Entity",
        from = "Column::PreferredVendorId",
        to = "super::vendor::Column::Id"
    )]
    PreferredVendor,
}

impl Related<super::vendor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PreferredVendor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
