//! Stock bookkeeping shared by the use cases. Quantities change only through atomic
//! conditional updates (`x = x + $1 WHERE x + $1 >= 0 …`), never read-modify-write; every
//! change of on-hand writes a ledger entry, every change of an item an outbox event.

use entity::inventory_item::{ActiveModel, Column, Entity};
use entity::Fixed4;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use crate::auth::Actor;
use crate::error::{ServiceError, UserErrorCode};
use crate::events::{EventKind, Outbox};
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

/// Why on-hand changed, as written in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerReason {
    Receipt,
    ReceiptCanceled,
    TransferIn,
    TransferOut,
    /// A count or correction, with its cause (COUNT, DAMAGE, LOSS, FOUND, OTHER).
    Adjustment(&'static str),
}

impl LedgerReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerReason::Receipt => "RECEIPT",
            LedgerReason::ReceiptCanceled => "RECEIPT_CANCELED",
            LedgerReason::TransferIn => "TRANSFER_IN",
            LedgerReason::TransferOut => "TRANSFER_OUT",
            LedgerReason::Adjustment(cause) => cause,
        }
    }
}

/// A change to one inventory item's quantities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Movement {
    pub on_hand: Fixed4,
    pub on_order: Fixed4,
    pub backordered: Fixed4,
    pub picked: Fixed4,
    pub reserved: Fixed4,
}

impl Movement {
    /// Only the on-order quantity changes (and back-ordered with it on a backorder).
    pub fn on_order(delta: Fixed4, backorder: bool) -> Self {
        Movement {
            on_order: delta,
            backordered: if backorder { delta } else { Fixed4::ZERO },
            ..Default::default()
        }
    }

    fn is_zero(&self) -> bool {
        [
            self.on_hand,
            self.on_order,
            self.backordered,
            self.picked,
            self.reserved,
        ]
        .iter()
        .all(|q| q.is_zero())
    }
}

/// Where an on-hand change came from, for the ledger.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub reason: LedgerReason,
    pub document_type: &'a str,
    pub document_id: i32,
    /// Kept on the ledger entry.
    pub memo: Option<&'a str>,
}

/// Applies `movement` to the item at (product, location), creating it if needed, in one
/// conditional statement: on-hand may not fall below picked + reserved (a user error,
/// INSUFFICIENT_AVAILABLE on `field`), on-order and back-ordered not below zero (the books
/// would disagree: an internal error). A change of on-hand writes a ledger entry naming
/// `source`, which it therefore needs.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    txn: &impl ConnectionTrait,
    outbox: &mut Outbox,
    actor: &Actor,
    product_id: i32,
    location_id: i32,
    movement: Movement,
    source: Option<Source<'_>>,
    field: &str,
) -> Result<(), ServiceError> {
    if movement.is_zero() {
        return Ok(());
    }
    let ledger_source = match source {
        Some(source) => Some(source),
        None if movement.on_hand.is_zero() => None,
        None => {
            return Err(ServiceError::Internal(
                "an on-hand change without a ledger source".into(),
            ))
        }
    };
    ensure_item(txn, product_id, location_id).await?;
    let result = Entity::update_many()
        .col_expr(
            Column::OnHand,
            Expr::col(Column::OnHand).add(movement.on_hand.0),
        )
        .col_expr(
            Column::OnOrder,
            Expr::col(Column::OnOrder).add(movement.on_order.0),
        )
        .col_expr(
            Column::Backordered,
            Expr::col(Column::Backordered).add(movement.backordered.0),
        )
        .col_expr(
            Column::Picked,
            Expr::col(Column::Picked).add(movement.picked.0),
        )
        .col_expr(
            Column::Reserved,
            Expr::col(Column::Reserved).add(movement.reserved.0),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now()))
        .filter(Column::ProductId.eq(product_id))
        .filter(Column::LocationId.eq(location_id))
        .filter(
            Expr::col(Column::OnHand).add(movement.on_hand.0).gte(
                Expr::col(Column::Picked)
                    .add(movement.picked.0)
                    .add(Expr::col(Column::Reserved))
                    .add(movement.reserved.0),
            ),
        )
        .filter(Expr::col(Column::Picked).add(movement.picked.0).gte(0))
        .filter(Expr::col(Column::Reserved).add(movement.reserved.0).gte(0))
        .filter(Expr::col(Column::OnOrder).add(movement.on_order.0).gte(0))
        .filter(
            Expr::col(Column::Backordered)
                .add(movement.backordered.0)
                .gte(0),
        )
        .exec(txn)
        .await?;
    let item = Entity::find()
        .filter(Column::ProductId.eq(product_id))
        .filter(Column::LocationId.eq(location_id))
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("inventory item vanished".into()))?;
    if result.rows_affected != 1 {
        return Err(refusal(&item, movement, product_id, location_id, field));
    }
    if let Some(source) = ledger_source.filter(|_| !movement.on_hand.is_zero()) {
        let entry = entity::stock_ledger_entry::ActiveModel {
            inventory_item_id: Set(item.id),
            delta: Set(movement.on_hand),
            reason: Set(source.reason.as_str().to_owned()),
            source_type: Set(Some(source.document_type.to_owned())),
            source_id: Set(Some(source.document_id)),
            actor: Set(actor.subject.clone()),
            memo: Set(source.memo.map(str::to_owned)),
            occurred_at: Set(now()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let payload = serde_json::json!({
            "inventoryItemId": item.id,
            "productId": product_id,
            "locationId": location_id,
            "ledgerEntryId": entry.id,
            "reason": entry.reason,
        });
        outbox
            .record(
                txn,
                EventKind::StockMoved,
                "StockLedgerEntry",
                i32::try_from(entry.id).map_err(|_| {
                    ServiceError::Internal("a ledger entry id beyond the event range".into())
                })?,
                payload,
                &actor.subject,
            )
            .await?;
    }
    outbox
        .record(
            txn,
            EventKind::InventoryItemChanged,
            "InventoryItem",
            item.id,
            serde_json::json!({ "productId": product_id, "locationId": location_id }),
            &actor.subject,
        )
        .await
}

/// Why a movement could not be applied to `item`: a user error when stock is short, an internal
/// one when the books disagree.
fn refusal(
    item: &entity::inventory_item::Model,
    movement: Movement,
    product_id: i32,
    location_id: i32,
    field: &str,
) -> ServiceError {
    let show = |q: i64| Fixed4(q).to_decimal();
    if item.picked.0 + movement.picked.0 < 0 {
        return ServiceError::user(
            UserErrorCode::InsufficientPicked,
            field,
            format!("only {} is picked", item.picked.to_decimal()),
        );
    }
    if item.reserved.0 + movement.reserved.0 < 0 {
        return ServiceError::user(
            UserErrorCode::InsufficientReserved,
            field,
            format!("only {} is reserved", item.reserved.to_decimal()),
        );
    }
    let available = item.on_hand.0 - item.picked.0 - item.reserved.0;
    let needed = movement.picked.0 + movement.reserved.0 - movement.on_hand.0;
    if needed > 0 && available < needed {
        return ServiceError::user(
            UserErrorCode::InsufficientAvailable,
            field,
            format!(
                "only {} is available (on hand {} less picked and reserved); {} is needed",
                show(available),
                item.on_hand.to_decimal(),
                show(needed)
            ),
        );
    }
    ServiceError::Internal(format!(
        "on-order or back-ordered of product {product_id} at location {location_id} would fall below zero"
    ))
}

/// Adds `delta` (which may be negative) to the on-order quantity at (product, location), and to
/// back-ordered when the line is on a backorder.
pub async fn change_on_order(
    txn: &impl ConnectionTrait,
    outbox: &mut Outbox,
    actor: &Actor,
    product_id: i32,
    location_id: i32,
    delta: Fixed4,
    backorder: bool,
) -> Result<(), ServiceError> {
    apply(
        txn,
        outbox,
        actor,
        product_id,
        location_id,
        Movement::on_order(delta, backorder),
        None,
        "input",
    )
    .await
}
