//! Products: created with a unique SKU, changed field by field, deactivated.

use entity::product::{Column, Entity, Model};
use entity::Fixed4;
use rust_decimal::Decimal;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

use super::{stored, Draft, MasterTable, Stamps, UniqueKey};
use crate::domain::validate;
use crate::domain::values::{Code, UnitCost};
use crate::domain::violation::ViolationCode;
use crate::domain::{master_data::AllowancePercent, violation::Violation};
use crate::error::{Field, ServiceError};
use crate::services::{not_found, serials};

impl MasterTable for Entity {
    const WHAT: &'static str = "product";
    const KEY: UniqueKey<Column> = UniqueKey::new(Column::Sku, "sku", "SKU");
    const STAMPS: Stamps<Column> =
        Stamps::new(Column::Active, Column::CreatedAt, Column::UpdatedAt);
}

/// A new product.
#[derive(Clone, Debug, Default)]
pub struct NewProduct {
    pub sku: String,
    pub description: String,
    /// `each` when not given.
    pub unit_of_measure: Option<String>,
    /// 0 when not given.
    pub default_unit_cost: Option<Decimal>,
    pub preferred_vendor_id: Option<i32>,
    /// Not serialized when not given.
    pub serialized: Option<bool>,
    /// The service default when not given.
    pub over_receipt_allowance_percent: Option<Decimal>,
}

/// Changes to a product; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ProductChanges {
    pub description: Option<String>,
    pub unit_of_measure: Option<String>,
    pub default_unit_cost: Option<Decimal>,
    /// `Some(None)` clears the preferred vendor.
    pub preferred_vendor_id: Option<Option<i32>>,
    pub serialized: Option<bool>,
    /// `Some(None)` falls back to the service default.
    pub over_receipt_allowance_percent: Option<Option<Decimal>>,
    pub active: Option<bool>,
}

impl NewProduct {
    /// The new product's SKU, and its other fields as changes to a blank product, the
    /// defaults filled in.
    fn split(self) -> (String, ProductChanges) {
        let changes = ProductChanges {
            description: Some(self.description),
            unit_of_measure: Some(self.unit_of_measure.unwrap_or_else(|| "each".to_owned())),
            default_unit_cost: Some(self.default_unit_cost.unwrap_or_default()),
            preferred_vendor_id: Some(self.preferred_vendor_id),
            serialized: Some(self.serialized.unwrap_or(false)),
            over_receipt_allowance_percent: Some(self.over_receipt_allowance_percent),
            active: None,
        };
        (self.sku, changes)
    }
}

/// Creates a product; its SKU is unique.
pub async fn create_product(
    db: &DatabaseConnection,
    input: NewProduct,
) -> Result<Model, ServiceError> {
    let (sku, changes) = input.split();
    let mut draft = Draft::create(db).await?;
    let sku = draft
        .v
        .check(Code::parse(&sku, "the SKU"), Field::of("sku"));
    draft.check_key(sku.map(Code::into_string)).await?;
    apply(&mut draft, changes).await?;
    draft.save().await
}

/// Changes a product.
pub async fn update_product(
    db: &DatabaseConnection,
    id: i32,
    changes: ProductChanges,
) -> Result<Model, ServiceError> {
    let mut draft = Draft::change(db, id).await?;
    apply(&mut draft, changes).await?;
    draft.save().await
}

/// Checks each given field into the draft, in the command's order.
async fn apply(draft: &mut Draft<Entity>, changes: ProductChanges) -> Result<(), ServiceError> {
    let field = Field::of("description");
    if let Some(description) = draft.check(changes.description, field, |d| {
        validate::text(&d, "the description", 1, 500)
    }) {
        draft.row.description = Set(description);
    }
    let field = Field::of("unit_of_measure");
    if let Some(unit) = draft.check(changes.unit_of_measure, field, |u| {
        validate::text(&u, "the unit of measure", 1, 20)
    }) {
        draft.row.unit_of_measure = Set(unit);
    }
    let field = Field::of("default_unit_cost");
    if let Some(cost) = draft.check(changes.default_unit_cost, field, unit_cost) {
        draft.row.default_unit_cost = Set(cost);
    }
    if let Some(vendor) = changes.preferred_vendor_id {
        if draft.v.take(check_vendor(draft, vendor).await)?.is_some() {
            draft.row.preferred_vendor_id = Set(vendor);
        }
    }
    if let Some(serialized) = changes.serialized {
        check_serialized(draft, serialized).await?;
        draft.row.serialized = Set(serialized);
    }
    let field = Field::of("over_receipt_allowance_percent");
    if let Some(allowance) = draft.check(changes.over_receipt_allowance_percent, field, |a| {
        a.map(allowance).transpose()
    }) {
        draft.row.over_receipt_allowance_percent = Set(allowance);
    }
    if let Some(active) = changes.active {
        draft.row.active = Set(active);
    }
    Ok(())
}

/// The preferred vendor, when one is named, exists.
async fn check_vendor(draft: &Draft<Entity>, vendor: Option<i32>) -> Result<(), ServiceError> {
    let Some(id) = vendor else {
        return Ok(());
    };
    entity::vendor::Entity::find_by_id(id)
        .one(&draft.txn)
        .await?
        .map(|_| ())
        .ok_or_else(|| not_found(Field::of("preferred_vendor_id"), "vendor"))
}

/// Units in stock keep their serials: they would lose their identity (and the registry its
/// meaning) if the product stopped being serialized.
async fn check_serialized(draft: &mut Draft<Entity>, serialized: bool) -> Result<(), ServiceError> {
    let Some(current) = &draft.current else {
        return Ok(());
    };
    if current.serialized
        && !serialized
        && serials::has_serialized_stock(&draft.txn, current.id).await?
    {
        draft.v.add(
            ViolationCode::ProductHasSerializedStock,
            Field::of("serialized"),
            "the product has serialized stock; write it off or use it up first",
        );
    }
    Ok(())
}

/// A unit cost as its column stores it.
fn unit_cost(value: Decimal) -> Result<Fixed4, Violation> {
    stored(Fixed4::from_decimal(UnitCost::parse(value)?.get()))
}

/// An over-receipt allowance as its column stores it.
fn allowance(percent: Decimal) -> Result<Fixed4, Violation> {
    stored(Fixed4::from_decimal(
        AllowancePercent::parse(percent)?.get(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_product_is_a_change_of_every_field_with_the_defaults_filled_in() {
        let new = NewProduct {
            sku: "BOLT".into(),
            ..Default::default()
        };
        let (sku, changes) = new.split();
        assert_eq!(sku, "BOLT");
        assert_eq!(changes.unit_of_measure.as_deref(), Some("each"));
        assert_eq!(changes.default_unit_cost, Some(Decimal::ZERO));
        assert_eq!(changes.serialized, Some(false));
        assert_eq!(changes.preferred_vendor_id, Some(None));
        assert_eq!(changes.over_receipt_allowance_percent, Some(None));
    }

    #[test]
    fn costs_and_allowances_are_stored_with_four_places_or_refused() {
        assert_eq!(unit_cost(Decimal::new(45, 2)).unwrap(), Fixed4(4500));
        assert!(unit_cost(Decimal::new(-1, 0)).is_err());
        assert!(unit_cost(Decimal::new(1, 5)).is_err());
        assert_eq!(allowance(Decimal::new(10, 0)).unwrap(), Fixed4(100_000));
        assert!(allowance(Decimal::new(-5, 0)).is_err());
    }
}
