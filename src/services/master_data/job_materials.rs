//! Job materials: a job's need for a quantity of a product, waiting (NEED_TO_ORDER) for a
//! purchase-order line to fill it.

use entity::enums::JobMaterialStatus;
use entity::Fixed4;
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};

use super::stored;
use crate::db::begin_write;
use crate::domain::master_data;
use crate::domain::values::Quantity;
use crate::domain::violation::{Violation, ViolationCode};
use crate::error::{Field, ServiceError};
use crate::services::{commit, now, Violations};

/// A job's need for a product.
#[derive(Clone, Debug)]
pub struct NewJobMaterial {
    pub job_id: i32,
    pub product_id: i32,
    pub quantity: Decimal,
}

/// Records a job's need for a quantity of a product (NEED_TO_ORDER). The job and the product
/// exist and are active; the quantity is positive.
pub async fn create_job_material(
    db: &DatabaseConnection,
    input: NewJobMaterial,
) -> Result<entity::job_material::Model, ServiceError> {
    let txn = begin_write(db).await?;
    let mut v = Violations::new();
    let job = entity::job::Entity::find_by_id(input.job_id)
        .one(&txn)
        .await?;
    let job = job.as_ref().map(|j| (j.active, j.number.as_str()));
    let inactive = ViolationCode::ReferenceInactive;
    v.check(
        master_data::usable("job", job, inactive),
        Field::of("job_id"),
    );
    let product = entity::product::Entity::find_by_id(input.product_id);
    let product = product.one(&txn).await?;
    let product = product.as_ref().map(|p| (p.active, p.sku.as_str()));
    let inactive = ViolationCode::ProductInactive;
    v.check(
        master_data::usable("product", product, inactive),
        Field::of("product_id"),
    );
    let quantity = v.check(quantity(input.quantity), Field::of("quantity"));
    let quantity = v.done(quantity)?;
    let at = now();
    let material = entity::job_material::ActiveModel {
        job_id: Set(input.job_id),
        product_id: Set(input.product_id),
        quantity: Set(quantity),
        status: Set(JobMaterialStatus::NeedToOrder),
        purchase_order_line_id: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    commit(txn).await?;
    Ok(material)
}

/// A needed quantity as its column stores it.
fn quantity(value: Decimal) -> Result<Fixed4, Violation> {
    stored(Fixed4::from_decimal(
        Quantity::parse_positive(value, "the quantity")?.get(),
    ))
}
