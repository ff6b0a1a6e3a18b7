//! A job's need for a quantity of a product.

use crate::enums::JobMaterialStatus;
use crate::fixed::Fixed4;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_materials")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub job_id: i32,
    pub product_id: i32,
    pub quantity: Fixed4,
    pub status: JobMaterialStatus,
    pub purchase_order_line_id: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::job::Entity",
        from = "Column::JobId",
        to = "super::job::Column::Id"
    )]
    Job,
    #[sea_orm(
        belongs_to = "super::product::Entity",
        from = "Column::ProductId",
        to = "super::product::Column::Id"
    )]
    Product,
    #[sea_orm(
        belongs_to = "super::purchase_order_line::Entity",
        from = "Column::PurchaseOrderLineId",
        to = "super::purchase_order_line::Column::Id"
    )]
    PurchaseOrderLine,
}

impl Related<super::job::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Job.def()
    }
}

impl Related<super::product::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Product.def()
    }
}

impl Related<super::purchase_order_line::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PurchaseOrderLine.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
