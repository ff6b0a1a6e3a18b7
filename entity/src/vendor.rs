//! A supplier purchase orders are placed with.

use crate::enums::DeliveryMethod;
use crate::fixed::Rate8;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vendors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub code: String,
    pub name: String,
    pub active: bool,
    pub street: String,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub default_tax_rate: Rate8,
    pub payment_terms_days: i32,
    pub delivery_method: DeliveryMethod,
    pub currency: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
