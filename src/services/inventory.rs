//! Stock bookkeeping shared by the use cases. Quantities change only through atomic
//! conditional updates (`x = x + $1 WHERE x + $1 >= 0 …`), never read-modify-write.

use entity::inventory_item::{ActiveModel, Column, Entity};
use entity::Fixed4;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::ServiceError;
use crate::services::now;

/// Makes sure the inventory item for (product, location) exists, without touching it if it does.
pub async fn ensure_item(
    txn: &impl ConnectionTrait,
    product_id: i32,
    location_id: i32,
) -> Result<(), ServiceError> {
    let at = now();
    let item = ActiveModel {
        product_id: Set(product_id),
        location_id: Set(location_id),
        bin: Set(None),
        reference_number: Set(None),
        on_hand: Set(Fixed4::ZERO),
        on_order: Set(Fixed4::ZERO),
        picked: Set(Fixed4::ZERO),
        reserved: Set(Fixed4::ZERO),
        backordered: Set(Fixed4::ZERO),
        minimum: Set(Fixed4::ZERO),
        maximum: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    Entity::insert(item)
        .on_conflict(
            OnConflict::columns([Column::ProductId, Column::LocationId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Adds `delta` (which may be negative) to the on-order quantity at (product, location),
/// creating the item if needed. A result below zero means the books disagree: an internal error.
pub async fn change_on_order(
    txn: &impl ConnectionTrait,
    product_id: i32,
    location_id: i32,
    delta: Fixed4,
) -> Result<(), ServiceError> {
    if delta.is_zero() {
        return Ok(());
    }
    ensure_item(txn, product_id, location_id).await?;
    let result = Entity::update_many()
        .col_expr(Column::OnOrder, Expr::col(Column::OnOrder).add(delta.0))
        .col_expr(Column::UpdatedAt, Expr::value(now()))
        .filter(Column::ProductId.eq(product_id))
        .filter(Column::LocationId.eq(location_id))
        .filter(Expr::col(Column::OnOrder).add(delta.0).gte(0))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(ServiceError::Internal(format!(
            "on-order of product {product_id} at location {location_id} would fall below zero"
        )));
    }
    Ok(())
}
