//! Stock bookkeeping shared by the use cases. Quantities change only through atomic
//! conditional updates (`x = x + $1 WHERE x + $1 >= 0 …`), never read-modify-write; every
//! change of on-hand writes a ledger entry, every change of an item an outbox event.

use entity::inventory_item::{ActiveModel, Column, Entity};
use entity::Fixed4;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::auth::Actor;
use crate::domain::violation::ViolationCode;
use crate::error::ServiceError;
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
            ViolationCode::InsufficientPicked,
            field,
            format!("only {} is picked", item.picked.to_decimal()),
        );
    }
    if item.reserved.0 + movement.reserved.0 < 0 {
        return ServiceError::user(
            ViolationCode::InsufficientReserved,
            field,
            format!("only {} is reserved", item.reserved.to_decimal()),
        );
    }
    let available = item.on_hand.0 - item.picked.0 - item.reserved.0;
    let needed = movement.picked.0 + movement.reserved.0 - movement.on_hand.0;
    if needed > 0 && available < needed {
        return ServiceError::user(
            ViolationCode::InsufficientAvailable,
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

/// One movement of [`apply_all`].
#[derive(Clone, Debug)]
pub struct Move<'a> {
    pub product_id: i32,
    pub location_id: i32,
    pub movement: Movement,
    /// Needed when on-hand changes, as for [`apply`].
    pub source: Option<Source<'a>>,
    /// Where a refusal is reported.
    pub field: String,
}

/// `base + delta` per item as `col + CASE id WHEN … END`, or the bare column when no item's
/// delta is non-zero (most movements touch only some quantities).
fn plus(column: Column, deltas: &[(i32, i64)]) -> Expr {
    if deltas.iter().all(|(_, d)| *d == 0) {
        return Expr::col(column);
    }
    let mut case = sea_orm::sea_query::CaseStatement::new();
    for (id, delta) in deltas.iter().filter(|(_, d)| *d != 0) {
        case = case.case(Column::Id.eq(*id), Expr::val(*delta));
    }
    Expr::col(column).add(case.finally(Expr::val(0i64)))
}

/// The items of these (product, location) pairs in id order, locked on PostgreSQL in that
/// order (SQLite's write transaction already excludes other writers), so use cases that touch
/// the same items never lock them in opposite orders.
async fn lock_items(
    txn: &impl ConnectionTrait,
    keys: &[(i32, i32)],
) -> Result<Vec<entity::inventory_item::Model>, ServiceError> {
    let mut any = sea_orm::Condition::any();
    for (product_id, location_id) in keys {
        any = any.add(
            sea_orm::Condition::all()
                .add(Column::ProductId.eq(*product_id))
                .add(Column::LocationId.eq(*location_id)),
        );
    }
    let select = Entity::find().filter(any).order_by_asc(Column::Id);
    Ok(crate::services::for_update(select, txn).all(txn).await?)
}

/// Applies several movements as [`apply`] would one after the other, in a fixed number of
/// statements: the items are locked in id order (and created when missing), each item's summed
/// movement is checked against its locked row and applied by one conditional multi-row update,
/// then every on-hand change writes its ledger entry and every movement its event, in the
/// order given. The movements of one call must move each quantity in one direction (as a
/// receipt or its cancellation does), so that checking the sum checks every step.
pub async fn apply_all(
    txn: &impl ConnectionTrait,
    outbox: &mut Outbox,
    actor: &Actor,
    moves: &[Move<'_>],
) -> Result<(), ServiceError> {
    let moves: Vec<&Move<'_>> = moves.iter().filter(|m| !m.movement.is_zero()).collect();
    if moves.is_empty() {
        return Ok(());
    }
    if moves
        .iter()
        .any(|m| m.source.is_none() && !m.movement.on_hand.is_zero())
    {
        return Err(ServiceError::Internal(
            "an on-hand change without a ledger source".into(),
        ));
    }
    // Summed per item, keeping the field of the first movement for a refusal.
    let overflow = || ServiceError::Internal("a stock movement overflowed".into());
    let mut summed: std::collections::BTreeMap<(i32, i32), (Movement, &str)> =
        std::collections::BTreeMap::new();
    for m in &moves {
        let entry = summed
            .entry((m.product_id, m.location_id))
            .or_insert((Movement::default(), m.field.as_str()));
        let add = |a: Fixed4, b: Fixed4| a.0.checked_add(b.0).map(Fixed4).ok_or_else(overflow);
        entry.0 = Movement {
            on_hand: add(entry.0.on_hand, m.movement.on_hand)?,
            on_order: add(entry.0.on_order, m.movement.on_order)?,
            backordered: add(entry.0.backordered, m.movement.backordered)?,
            picked: add(entry.0.picked, m.movement.picked)?,
            reserved: add(entry.0.reserved, m.movement.reserved)?,
        };
    }
    let keys: Vec<(i32, i32)> = summed.keys().copied().collect();
    let mut items = lock_items(txn, &keys).await?;
    if items.len() < keys.len() {
        for (product_id, location_id) in &keys {
            if !items
                .iter()
                .any(|i| i.product_id == *product_id && i.location_id == *location_id)
            {
                ensure_item(txn, *product_id, *location_id).await?;
            }
        }
        items = lock_items(txn, &keys).await?;
    }
    let mut ids = std::collections::HashMap::new();
    for item in &items {
        ids.insert((item.product_id, item.location_id), item.id);
    }
    // Checked against the locked rows first, so a refusal names the right field; the update
    // below carries the same conditions and so never moves stock past them either way.
    for item in &items {
        let Some((movement, field)) = summed.get(&(item.product_id, item.location_id)) else {
            continue;
        };
        let after = |q: Fixed4, d: Fixed4| q.0.checked_add(d.0).ok_or_else(overflow);
        let on_hand = after(item.on_hand, movement.on_hand)?;
        let picked = after(item.picked, movement.picked)?;
        let reserved = after(item.reserved, movement.reserved)?;
        let committed = picked.checked_add(reserved).ok_or_else(overflow)?;
        if on_hand < committed
            || picked < 0
            || reserved < 0
            || after(item.on_order, movement.on_order)? < 0
            || after(item.backordered, movement.backordered)? < 0
        {
            return Err(refusal(
                item,
                *movement,
                item.product_id,
                item.location_id,
                field,
            ));
        }
    }
    let delta = |pick: fn(&Movement) -> Fixed4| -> Vec<(i32, i64)> {
        items
            .iter()
            .filter_map(|i| {
                summed
                    .get(&(i.product_id, i.location_id))
                    .map(|(m, _)| (i.id, pick(m).0))
            })
            .collect()
    };
    let on_hand = plus(Column::OnHand, &delta(|m| m.on_hand));
    let on_order = plus(Column::OnOrder, &delta(|m| m.on_order));
    let backordered = plus(Column::Backordered, &delta(|m| m.backordered));
    let picked = plus(Column::Picked, &delta(|m| m.picked));
    let reserved = plus(Column::Reserved, &delta(|m| m.reserved));
    let updated = Entity::update_many()
        .col_expr(Column::OnHand, on_hand.clone())
        .col_expr(Column::OnOrder, on_order.clone())
        .col_expr(Column::Backordered, backordered.clone())
        .col_expr(Column::Picked, picked.clone())
        .col_expr(Column::Reserved, reserved.clone())
        .col_expr(Column::UpdatedAt, Expr::value(now()))
        .filter(Column::Id.is_in(items.iter().map(|i| i.id)))
        .filter(on_hand.gte(picked.clone().add(reserved.clone())))
        .filter(picked.gte(0))
        .filter(reserved.gte(0))
        .filter(on_order.gte(0))
        .filter(backordered.gte(0))
        .exec(txn)
        .await?;
    if updated.rows_affected != items.len() as u64 {
        return Err(ServiceError::Internal(
            "inventory items changed while locked".into(),
        ));
    }
    let at = now();
    let item_of = |m: &Move<'_>| {
        ids.get(&(m.product_id, m.location_id))
            .copied()
            .ok_or_else(|| ServiceError::Internal("inventory item vanished".into()))
    };
    let mut entries = Vec::new();
    for m in moves.iter().filter(|m| !m.movement.on_hand.is_zero()) {
        let Some(source) = m.source else { continue };
        entries.push(entity::stock_ledger_entry::ActiveModel {
            inventory_item_id: Set(item_of(m)?),
            delta: Set(m.movement.on_hand),
            reason: Set(source.reason.as_str().to_owned()),
            source_type: Set(Some(source.document_type.to_owned())),
            source_id: Set(Some(source.document_id)),
            actor: Set(actor.subject.clone()),
            memo: Set(source.memo.map(str::to_owned)),
            occurred_at: Set(at),
            ..Default::default()
        });
    }
    // The entries come back with their ids, which their STOCK_MOVED events name.
    let mut written = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(ROWS_PER_INSERT) {
        written.extend(
            entity::stock_ledger_entry::Entity::insert_many(chunk.to_vec())
                .exec_with_returning(txn)
                .await?,
        );
    }
    let mut moved = Vec::with_capacity(written.len());
    for entry in &written {
        let (product_id, location_id) = ids
            .iter()
            .find(|(_, id)| **id == entry.inventory_item_id)
            .map(|(key, _)| *key)
            .ok_or_else(|| ServiceError::Internal("a ledger entry of no locked item".into()))?;
        let entity_id = i32::try_from(entry.id).map_err(|_| {
            ServiceError::Internal("a ledger entry id beyond the event range".into())
        })?;
        moved.push((
            entity_id,
            serde_json::json!({
                "inventoryItemId": entry.inventory_item_id,
                "productId": product_id,
                "locationId": location_id,
                "ledgerEntryId": entry.id,
                "reason": entry.reason,
            }),
        ));
    }
    outbox
        .record_all(
            txn,
            EventKind::StockMoved,
            "StockLedgerEntry",
            moved,
            &actor.subject,
        )
        .await?;
    let mut events = Vec::with_capacity(moves.len());
    for m in &moves {
        events.push((
            item_of(m)?,
            serde_json::json!({ "productId": m.product_id, "locationId": m.location_id }),
        ));
    }
    outbox
        .record_all(
            txn,
            EventKind::InventoryItemChanged,
            "InventoryItem",
            events,
            &actor.subject,
        )
        .await
}

/// Rows per multi-row INSERT: far below both backends' limits on bound parameters.
pub const ROWS_PER_INSERT: usize = 500;
