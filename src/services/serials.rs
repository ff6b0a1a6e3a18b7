//! The serial registry (DOMAIN.md, Serial numbers): each (product, serial) exists once,
//! compared without regard to case or surrounding spaces, with its status and history. The
//! unique index on (product, normalised serial) is the hard guard; the conditional updates
//! below give the user errors, and every change writes a movement.

use std::collections::HashMap;

use entity::enums::{SerialMovementKind, SerialStatus};
use entity::{serial_movement, serial_number};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, SqlErr,
};

use crate::auth::Actor;
use crate::domain::violation::ViolationCode;
use crate::error::{Field, ServiceError};
use crate::services::now;
use crate::services::Violations;

pub use crate::domain::receiving::normalize_serial as normalize;

/// Why a movement happened, with the document it points at.
#[derive(Clone, Copy, Debug)]
pub struct Cause {
    pub kind: SerialMovementKind,
    pub receipt_id: Option<i32>,
    pub ledger_entry_id: Option<i64>,
}

impl Cause {
    /// A receipt received (or cancelled).
    pub fn receipt(kind: SerialMovementKind, receipt_id: i32) -> Self {
        Cause {
            kind,
            receipt_id: Some(receipt_id),
            ledger_entry_id: None,
        }
    }

    /// A transfer or adjustment, pointing at its stock-ledger entry.
    pub fn ledger(kind: SerialMovementKind, ledger_entry_id: Option<i64>) -> Self {
        Cause {
            kind,
            receipt_id: None,
            ledger_entry_id,
        }
    }
}

async fn record(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    serial_id: i32,
    cause: Cause,
    from: Option<i32>,
    to: Option<i32>,
) -> Result<(), ServiceError> {
    serial_movement::ActiveModel {
        serial_number_id: Set(serial_id),
        kind: Set(cause.kind),
        receipt_id: Set(cause.receipt_id),
        ledger_entry_id: Set(cause.ledger_entry_id),
        from_location_id: Set(from),
        to_location_id: Set(to),
        actor: Set(actor.subject.clone()),
        occurred_at: Set(now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The registry entries of these (normalised) serials of a product.
async fn entries(
    txn: &impl ConnectionTrait,
    product_id: i32,
    normalized: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, serial_number::Model>, ServiceError> {
    Ok(serial_number::Entity::find()
        .filter(serial_number::Column::ProductId.eq(product_id))
        .filter(serial_number::Column::Normalized.is_in(normalized))
        .all(txn)
        .await?
        .into_iter()
        .map(|s| (s.normalized.clone(), s))
        .collect())
}

async fn location_code(txn: &impl ConnectionTrait, id: Option<i32>) -> String {
    let Some(id) = id else {
        return "nowhere".to_owned();
    };
    entity::inventory_location::Entity::find_by_id(id)
        .one(txn)
        .await
        .ok()
        .flatten()
        .map(|l| l.code)
        .unwrap_or_else(|| format!("location {id}"))
}

fn in_stock_already(serial: &str, location: &str, field: &Field) -> ServiceError {
    ServiceError::user(
        ViolationCode::SerialInStock,
        field.clone(),
        format!("serial number {serial} of this product is already in stock at {location}"),
    )
}

/// Brings new units into stock at `location_id`: serials never seen are registered, serials
/// that are gone (receipt cancelled, adjusted out) come back; one already in stock anywhere is
/// refused with SERIAL_IN_STOCK. `serials` are checked already (distinct, trimmed).
pub async fn bring_in(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    product_id: i32,
    location_id: i32,
    serials: &[String],
    cause: Cause,
    field: impl Into<Field>,
) -> Result<(), ServiceError> {
    if serials.is_empty() {
        return Ok(());
    }
    let field = field.into();
    let known = entries(txn, product_id, serials.iter().map(|s| normalize(s))).await?;
    let at = now();
    for serial in serials {
        let key = normalize(serial);
        let id = match known.get(&key) {
            Some(entry) if entry.status == SerialStatus::InStock => {
                let at_location = location_code(txn, entry.location_id).await;
                return Err(in_stock_already(&entry.serial_number, &at_location, &field));
            }
            Some(entry) => {
                // Conditional, so a concurrent request that brought it back first wins cleanly.
                let revived = serial_number::Entity::update_many()
                    .col_expr(
                        serial_number::Column::Status,
                        Expr::value(SerialStatus::InStock),
                    )
                    .col_expr(serial_number::Column::LocationId, Expr::value(location_id))
                    .col_expr(
                        serial_number::Column::ReceiptId,
                        Expr::value(cause.receipt_id),
                    )
                    .col_expr(serial_number::Column::UpdatedAt, Expr::value(at))
                    .filter(serial_number::Column::Id.eq(entry.id))
                    .filter(serial_number::Column::Status.ne(SerialStatus::InStock))
                    .exec(txn)
                    .await?;
                if revived.rows_affected != 1 {
                    return Err(in_stock_already(serial, "another location", &field));
                }
                entry.id
            }
            None => {
                let saved = serial_number::ActiveModel {
                    product_id: Set(product_id),
                    serial_number: Set(serial.clone()),
                    normalized: Set(key),
                    status: Set(SerialStatus::InStock),
                    location_id: Set(Some(location_id)),
                    receipt_id: Set(cause.receipt_id),
                    created_at: Set(at),
                    updated_at: Set(at),
                    ..Default::default()
                }
                .insert(txn)
                .await
                .map_err(|e| match e.sql_err() {
                    // Another request registered it since `entries` read the registry.
                    Some(SqlErr::UniqueConstraintViolation(_)) => ServiceError::user(
                        ViolationCode::SerialInStock,
                        field.clone(),
                        format!("serial number {serial} of this product was just received"),
                    ),
                    _ => ServiceError::from(e),
                })?;
                saved.id
            }
        };
        record(txn, actor, id, cause, None, Some(location_id)).await?;
    }
    Ok(())
}

/// Where the named units must be for a movement out of `location_id`.
#[derive(Clone, Copy, Debug)]
pub enum Leaving {
    /// Cancelling this receipt: each must still be the unit it brought in, at its location.
    Receipt(i32),
    /// A transfer to this location.
    TransferTo(i32),
    /// An adjustment down.
    AdjustedOut,
}

/// Moves named units that must be in stock at `location_id`: to another location (transfer)
/// or out of stock (receipt cancelled, adjusted out). A serial that is unknown, gone or
/// elsewhere is refused with SERIAL_NOT_IN_STOCK.
#[allow(clippy::too_many_arguments)]
pub async fn move_out(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    product_id: i32,
    location_id: i32,
    serials: &[String],
    leaving: Leaving,
    cause: Cause,
    field: impl Into<Field>,
) -> Result<(), ServiceError> {
    if serials.is_empty() {
        return Ok(());
    }
    let field = field.into();
    let known = entries(txn, product_id, serials.iter().map(|s| normalize(s))).await?;
    let at = now();
    for serial in serials {
        let entry = known.get(&normalize(serial));
        let mut update = serial_number::Entity::update_many()
            .col_expr(serial_number::Column::UpdatedAt, Expr::value(at))
            .filter(serial_number::Column::Id.eq(entry.map(|e| e.id).unwrap_or(0)))
            .filter(serial_number::Column::Status.eq(SerialStatus::InStock))
            .filter(serial_number::Column::LocationId.eq(location_id));
        let to = match leaving {
            Leaving::TransferTo(to) => {
                update = update.col_expr(serial_number::Column::LocationId, Expr::value(to));
                Some(to)
            }
            Leaving::Receipt(receipt_id) => {
                update = update
                    .filter(serial_number::Column::ReceiptId.eq(receipt_id))
                    .col_expr(
                        serial_number::Column::Status,
                        Expr::value(SerialStatus::ReceiptCanceled),
                    )
                    .col_expr(
                        serial_number::Column::LocationId,
                        Expr::value(Option::<i32>::None),
                    );
                None
            }
            Leaving::AdjustedOut => {
                update = update
                    .col_expr(
                        serial_number::Column::Status,
                        Expr::value(SerialStatus::AdjustedOut),
                    )
                    .col_expr(
                        serial_number::Column::LocationId,
                        Expr::value(Option::<i32>::None),
                    );
                None
            }
        };
        let moved = update.exec(txn).await?;
        let Some(entry) = entry.filter(|_| moved.rows_affected == 1) else {
            return Err(not_in_stock(txn, entry, serial, location_id, leaving, &field).await);
        };
        record(txn, actor, entry.id, cause, Some(location_id), to).await?;
    }
    Ok(())
}

/// Why a named unit cannot leave `location_id`.
async fn not_in_stock(
    txn: &impl ConnectionTrait,
    entry: Option<&serial_number::Model>,
    serial: &str,
    location_id: i32,
    leaving: Leaving,
    field: &Field,
) -> ServiceError {
    let here = location_code(txn, Some(location_id)).await;
    let message = match (entry, leaving) {
        (None, _) => format!("serial number {serial} of this product was never received"),
        (Some(e), _) if e.status != SerialStatus::InStock => {
            format!("serial number {serial} is no longer in stock")
        }
        (Some(e), _) if e.location_id != Some(location_id) => {
            let there = location_code(txn, e.location_id).await;
            format!("serial number {serial} is at {there}, not at {here}")
        }
        (Some(_), Leaving::Receipt(_)) => format!(
            "serial number {serial} came in again with a later receipt; this receipt's unit is gone"
        ),
        (Some(_), _) => format!("serial number {serial} is not in stock at {here}"),
    };
    ServiceError::user(ViolationCode::SerialNotInStock, field.clone(), message)
}

/// Checks, without changing anything, that [`move_out`] would find every named unit where it
/// must be. Use cases call it before they move quantities, so the refusal names the serial
/// (rather than, say, the quantity it made short); `move_out` still re-checks atomically.
pub async fn check_out(
    txn: &impl ConnectionTrait,
    product_id: i32,
    location_id: i32,
    serials: &[String],
    leaving: Leaving,
    field: impl Into<Field>,
) -> Result<(), ServiceError> {
    if serials.is_empty() {
        return Ok(());
    }
    let field = field.into();
    let known = entries(txn, product_id, serials.iter().map(|s| normalize(s))).await?;
    // Every missing unit is reported, in the order named.
    let mut v = Violations::new();
    for serial in serials {
        let entry = known.get(&normalize(serial));
        let here = entry.is_some_and(|e| {
            e.status == SerialStatus::InStock
                && e.location_id == Some(location_id)
                && match leaving {
                    Leaving::Receipt(receipt_id) => e.receipt_id == Some(receipt_id),
                    _ => true,
                }
        });
        if !here {
            v.take(Err::<(), _>(
                not_in_stock(txn, entry, serial, location_id, leaving, &field).await,
            ))?;
        }
    }
    v.finish()
}

/// Checks, without changing anything, that no named unit is in stock already.
pub async fn check_in(
    txn: &impl ConnectionTrait,
    product_id: i32,
    serials: &[String],
    field: impl Into<Field>,
) -> Result<(), ServiceError> {
    if serials.is_empty() {
        return Ok(());
    }
    let field = field.into();
    let known = entries(txn, product_id, serials.iter().map(|s| normalize(s))).await?;
    // Every unit already in stock is reported, in the order named.
    let mut v = Violations::new();
    for serial in serials {
        let Some(entry) = known.get(&normalize(serial)) else {
            continue;
        };
        if entry.status == SerialStatus::InStock {
            let at_location = location_code(txn, entry.location_id).await;
            v.take(Err::<(), _>(in_stock_already(
                &entry.serial_number,
                &at_location,
                &field,
            )))?;
        }
    }
    v.finish()
}

/// The newest stock-ledger entry of (product, location): the one the movement just wrote.
pub async fn last_ledger_entry(
    txn: &impl ConnectionTrait,
    product_id: i32,
    location_id: i32,
) -> Result<Option<i64>, ServiceError> {
    let Some(item) = entity::inventory_item::Entity::find()
        .filter(entity::inventory_item::Column::ProductId.eq(product_id))
        .filter(entity::inventory_item::Column::LocationId.eq(location_id))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    Ok(entity::stock_ledger_entry::Entity::find()
        .filter(entity::stock_ledger_entry::Column::InventoryItemId.eq(item.id))
        .order_by_desc(entity::stock_ledger_entry::Column::Id)
        .limit(1)
        .one(txn)
        .await?
        .map(|e| e.id))
}

/// True when any unit of the product is in stock, or any of it is on hand.
pub async fn has_serialized_stock(
    txn: &impl ConnectionTrait,
    product_id: i32,
) -> Result<bool, ServiceError> {
    let in_stock = serial_number::Entity::find()
        .filter(serial_number::Column::ProductId.eq(product_id))
        .filter(serial_number::Column::Status.eq(SerialStatus::InStock))
        .one(txn)
        .await?
        .is_some();
    let on_hand = entity::inventory_item::Entity::find()
        .filter(entity::inventory_item::Column::ProductId.eq(product_id))
        .filter(entity::inventory_item::Column::OnHand.gt(entity::Fixed4::ZERO))
        .one(txn)
        .await?
        .is_some();
    Ok(in_stock || on_hand)
}

/// A serial of a product, found by its number as anyone may write it.
pub async fn find(
    db: &impl ConnectionTrait,
    product_id: i32,
    number: &str,
) -> Result<Option<serial_number::Model>, ServiceError> {
    Ok(serial_number::Entity::find()
        .filter(serial_number::Column::ProductId.eq(product_id))
        .filter(serial_number::Column::Normalized.eq(normalize(number)))
        .one(db)
        .await?)
}
