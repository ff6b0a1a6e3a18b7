//! An order placed with a vendor.

use crate::enums::PurchaseOrderStatus;
use crate::fixed::{Fixed4, Rate8};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchase_orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub number: String,
    pub status: PurchaseOrderStatus,
    pub version: i32,
    pub vendor_id: i32,
    pub ship_to_id: i32,
    pub type_id: i32,
    pub business_unit_id: i32,
    pub job_id: Option<i32>,
    pub project_id: Option<i32>,
    pub technician_id: Option<i32>,
    pub backorder_of_id: Option<i32>,
    pub backorder_root_id: Option<i32>,
    pub order_date: DateTimeUtc,
    pub expected_date: Option<Date>,
    pub submitted_at: Option<DateTimeUtc>,
    pub exported_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub canceled_at: Option<DateTimeUtc>,
    pub memo: Option<String>,
    pub tax_rate: Rate8,
    pub shipping: Fixed4,
    pub currency: String,
    pub exchange_rate: Rate8,
    pub next_line_number: i32,
    pub created_by: String,
    pub updated_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::vendor::Entity",
        from = "Column::VendorId",
        to = "super::vendor::Column::Id"
    )]
    Vendor,
    #[sea_orm(
        belongs_to = "super::inventory_location::Entity",
        from = "Column::ShipToId",
        to = "super::inventory_location::Column::Id"
    )]
    ShipTo,
    #[sea_orm(
        belongs_to = "super::purchase_order_type::Entity",
        from = "Column::TypeId",
        to = "super::purchase_order_type::Column::Id"
    )]
    Type,
    #[sea_orm(
        belongs_to = "super::business_unit::Entity",
        from = "Column::BusinessUnitId",
        to = "super::business_unit::Column::Id"
    )]
    BusinessUnit,
    #[sea_orm(
        belongs_to = "super::job::Entity",
        from = "Column::JobId",
        to = "super::job::Column::Id"
    )]
    Job,
    #[sea_orm(
        belongs_to = "super::project::Entity",
        from = "Column::ProjectId",
        to = "super::project::Column::Id"
    )]
    Project,
    #[sea_orm(
        belongs_to = "super::technician::Entity",
        from = "Column::TechnicianId",
        to = "super::technician::Column::Id"
    )]
    Technician,
    #[sea_orm(
        belongs_to = "super::purchase_order::Entity",
        from = "Column::BackorderOfId",
        to = "super::purchase_order::Column::Id"
    )]
    BackorderOf,
    #[sea_orm(
        belongs_to = "super::purchase_order::Entity",
        from = "Column::BackorderRootId",
        to = "super::purchase_order::Column::Id"
    )]
    BackorderRoot,
}

impl Related<super::vendor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Vendor.def()
    }
}

impl Related<super::inventory_location::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ShipTo.def()
    }
}

impl Related<super::purchase_order_type::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Type.def()
    }
}

impl Related<super::business_unit::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::BusinessUnit.def()
    }
}

impl Related<super::job::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Job.def()
    }
}

impl Related<super::project::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Project.def()
    }
}

impl Related<super::technician::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Technician.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
