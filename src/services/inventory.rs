//! Stock bookkeeping shared by the use cases. Quantities change only through atomic
//! conditional updates (`x = x + $1 WHERE x + $1 >= 0 …`), never read-modify-write; every
//! change of on-hand writes a ledger entry, every change of an item an outbox event.

use std::collections::{BTreeMap, HashMap};

use entity::inventory_item::{ActiveModel, Column, Entity};
use entity::Fixed4;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::auth::Actor;
use crate::domain::inventory::Levels;
use crate::error::{Field, Rejection, ServiceError};
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

/// One booking of stock: a movement of the item at (product, location), where it came from
/// and which field of the command a refusal for want of stock names.
#[derive(Clone, Debug)]
pub struct Booking<'a> {
    pub product_id: i32,
    pub location_id: i32,
    pub movement: Movement,
    /// Needed when on-hand changes: the ledger entry names it.
    pub source: Option<Source<'a>>,
    /// Where a refusal points (the command as a whole unless set).
    pub field: Field,
}

impl<'a> Booking<'a> {
    /// `movement` of the item at (product, location), without a ledger source (so not of
    /// on-hand), refused on the command as a whole.
    pub fn new(product_id: i32, location_id: i32, movement: Movement) -> Self {
        Booking {
            product_id,
            location_id,
            movement,
            source: None,
            field: Field::whole(),
        }
    }

    /// A change of the open quantity an order line has on order (and back-ordered with it on
    /// a backorder); never a refusal, only books that disagree.
    pub fn on_order(product_id: i32, location_id: i32, delta: Fixed4, backorder: bool) -> Self {
        Self::new(
            product_id,
            location_id,
            Movement::on_order(delta, backorder),
        )
    }

    /// The same booking, written to the ledger as coming from `source`.
    pub fn from_source(self, source: Source<'a>) -> Self {
        Booking {
            source: Some(source),
            ..self
        }
    }

    /// The same booking, refused (for want of stock) on `field`.
    pub fn refused_at(self, field: Field) -> Self {
        Booking { field, ..self }
    }

    fn key(&self) -> (i32, i32) {
        (self.product_id, self.location_id)
    }
}

/// Applies one booking, as [`apply_all`] does: on-hand may not fall below picked + reserved
/// (a refusal on the booking's field), on-order and back-ordered not below zero (the books
/// would disagree: an internal error). A change of on-hand writes a ledger entry naming the
/// booking's source, which it therefore needs.
pub async fn apply(
    txn: &impl ConnectionTrait,
    outbox: &mut Outbox,
    actor: &Actor,
    booking: Booking<'_>,
) -> Result<(), ServiceError> {
    apply_all(txn, outbox, actor, std::slice::from_ref(&booking)).await
}

/// An item's quantities as the stock rules see them.
fn levels(item: &entity::inventory_item::Model) -> Levels {
    Levels {
        on_hand: item.on_hand.to_decimal(),
        on_order: item.on_order.to_decimal(),
        backordered: item.backordered.to_decimal(),
        picked: item.picked.to_decimal(),
        reserved: item.reserved.to_decimal(),
    }
}

impl Movement {
    /// The movement as a change of levels.
    fn levels(&self) -> Levels {
        Levels {
            on_hand: self.on_hand.to_decimal(),
            on_order: self.on_order.to_decimal(),
            backordered: self.backordered.to_decimal(),
            picked: self.picked.to_decimal(),
            reserved: self.reserved.to_decimal(),
        }
    }

    /// Both movements, one after the other; `None` on overflow.
    fn checked_add(self, other: Movement) -> Option<Movement> {
        let add = |a: Fixed4, b: Fixed4| a.0.checked_add(b.0).map(Fixed4);
        Some(Movement {
            on_hand: add(self.on_hand, other.on_hand)?,
            on_order: add(self.on_order, other.on_order)?,
            backordered: add(self.backordered, other.backordered)?,
            picked: add(self.picked, other.picked)?,
            reserved: add(self.reserved, other.reserved)?,
        })
    }
}

/// Checks `movement` against the locked `item` (DOMAIN.md, Stock: on hand >= picked +
/// reserved, no quantity negative): a refusal on `field` when stock is short, an internal
/// error when the books disagree.
fn check_movement(
    item: &entity::inventory_item::Model,
    movement: Movement,
    field: &Field,
) -> Result<(), ServiceError> {
    match levels(item).after(movement.levels()) {
        Ok(_) => Ok(()),
        Err(shortfall) => Err(match shortfall.violation() {
            Some(v) => ServiceError::Rejected(vec![Rejection::of(v, field.clone())]),
            None => ServiceError::Internal(format!(
                "on-order or back-ordered of product {} at location {} would fall below zero",
                item.product_id, item.location_id
            )),
        }),
    }
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

/// [`lock_items`], creating the items that do not exist yet first.
async fn lock_or_create_items(
    txn: &impl ConnectionTrait,
    keys: &[(i32, i32)],
) -> Result<Vec<entity::inventory_item::Model>, ServiceError> {
    let items = lock_items(txn, keys).await?;
    if items.len() == keys.len() {
        return Ok(items);
    }
    for (product_id, location_id) in keys {
        if !items
            .iter()
            .any(|i| i.product_id == *product_id && i.location_id == *location_id)
        {
            ensure_item(txn, *product_id, *location_id).await?;
        }
    }
    lock_items(txn, keys).await
}

/// The movements summed per item, each with the field of its first booking (the one a
/// refusal names).
type Summed<'b> = BTreeMap<(i32, i32), (Movement, &'b Field)>;

fn sum_per_item<'b>(bookings: &[&'b Booking<'_>]) -> Result<Summed<'b>, ServiceError> {
    let mut summed = Summed::new();
    for b in bookings {
        let entry = summed
            .entry(b.key())
            .or_insert((Movement::default(), &b.field));
        entry.0 = entry
            .0
            .checked_add(b.movement)
            .ok_or_else(|| ServiceError::Internal("a stock movement overflowed".into()))?;
    }
    Ok(summed)
}

/// Applies each item's summed movement in one conditional multi-row update. The conditions
/// repeat those [`check_movement`] checked on the locked rows, so the update never moves
/// stock past them either way.
async fn update_items(
    txn: &impl ConnectionTrait,
    items: &[entity::inventory_item::Model],
    summed: &Summed<'_>,
) -> Result<(), ServiceError> {
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
    Ok(())
}

/// The item ids of the locked items by (product, location).
type ItemIds = HashMap<(i32, i32), i32>;

fn item_of(ids: &ItemIds, booking: &Booking<'_>) -> Result<i32, ServiceError> {
    ids.get(&booking.key())
        .copied()
        .ok_or_else(|| ServiceError::Internal("inventory item vanished".into()))
}

/// Writes the ledger entry of every on-hand change, in the order booked, and its STOCK_MOVED
/// event (which names the entry's id, so the entries come back with theirs).
async fn write_ledger(
    txn: &impl ConnectionTrait,
    outbox: &mut Outbox,
    actor: &Actor,
    bookings: &[&Booking<'_>],
    ids: &ItemIds,
) -> Result<(), ServiceError> {
    let at = now();
    let mut entries = Vec::new();
    for b in bookings.iter().filter(|b| !b.movement.on_hand.is_zero()) {
        let Some(source) = b.source else { continue };
        entries.push(entity::stock_ledger_entry::ActiveModel {
            inventory_item_id: Set(item_of(ids, b)?),
            delta: Set(b.movement.on_hand),
            reason: Set(source.reason.as_str().to_owned()),
            source_type: Set(Some(source.document_type.to_owned())),
            source_id: Set(Some(source.document_id)),
            actor: Set(actor.subject.clone()),
            memo: Set(source.memo.map(str::to_owned)),
            occurred_at: Set(at),
            ..Default::default()
        });
    }
    let mut moved = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(ROWS_PER_INSERT) {
        let written = entity::stock_ledger_entry::Entity::insert_many(chunk.to_vec())
            .exec_with_returning(txn)
            .await?;
        for entry in written {
            moved.push(stock_moved(&entry, ids)?);
        }
    }
    outbox
        .record_all(
            txn,
            EventKind::StockMoved,
            "StockLedgerEntry",
            moved,
            &actor.subject,
        )
        .await
}

/// The STOCK_MOVED event of a ledger entry: its id and payload.
fn stock_moved(
    entry: &entity::stock_ledger_entry::Model,
    ids: &ItemIds,
) -> Result<(i32, serde_json::Value), ServiceError> {
    let (product_id, location_id) = ids
        .iter()
        .find(|(_, id)| **id == entry.inventory_item_id)
        .map(|(key, _)| *key)
        .ok_or_else(|| ServiceError::Internal("a ledger entry of no locked item".into()))?;
    let entity_id = i32::try_from(entry.id)
        .map_err(|_| ServiceError::Internal("a ledger entry id beyond the event range".into()))?;
    Ok((
        entity_id,
        serde_json::json!({
            "inventoryItemId": entry.inventory_item_id,
            "productId": product_id,
            "locationId": location_id,
            "ledgerEntryId": entry.id,
            "reason": entry.reason,
        }),
    ))
}

/// Applies several bookings as [`apply`] would one after the other, in a fixed number of
/// statements: the items are locked in id order (and created when missing), each item's summed
/// movement is checked against its locked row and applied by one conditional multi-row update,
/// then every on-hand change writes its ledger entry and every booking its event, in the
/// order given. The bookings of one call must move each quantity in one direction (as a
/// receipt or its cancellation does), so that checking the sum checks every step.
pub async fn apply_all(
    txn: &impl ConnectionTrait,
    outbox: &mut Outbox,
    actor: &Actor,
    bookings: &[Booking<'_>],
) -> Result<(), ServiceError> {
    let bookings: Vec<&Booking<'_>> = bookings.iter().filter(|b| !b.movement.is_zero()).collect();
    if bookings.is_empty() {
        return Ok(());
    }
    if bookings
        .iter()
        .any(|b| b.source.is_none() && !b.movement.on_hand.is_zero())
    {
        return Err(ServiceError::Internal(
            "an on-hand change without a ledger source".into(),
        ));
    }
    let summed = sum_per_item(&bookings)?;
    let keys: Vec<(i32, i32)> = summed.keys().copied().collect();
    let items = lock_or_create_items(txn, &keys).await?;
    // Checked against the locked rows first, so a refusal names the right field.
    for item in &items {
        if let Some((movement, field)) = summed.get(&(item.product_id, item.location_id)) {
            check_movement(item, *movement, field)?;
        }
    }
    update_items(txn, &items, &summed).await?;
    let ids: ItemIds = items
        .iter()
        .map(|i| ((i.product_id, i.location_id), i.id))
        .collect();
    write_ledger(txn, outbox, actor, &bookings, &ids).await?;
    let mut events = Vec::with_capacity(bookings.len());
    for b in &bookings {
        events.push((
            item_of(&ids, b)?,
            serde_json::json!({ "productId": b.product_id, "locationId": b.location_id }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::violation::ViolationCode;

    fn units(n: i64) -> Fixed4 {
        Fixed4(n * 10_000)
    }

    fn taking(product_id: i32, on_hand: i64, field: Field) -> Booking<'static> {
        let movement = Movement {
            on_hand: units(-on_hand),
            ..Default::default()
        };
        Booking::new(product_id, 1, movement).refused_at(field)
    }

    fn item(on_hand: i64, reserved: i64) -> entity::inventory_item::Model {
        entity::inventory_item::Model {
            id: 1,
            product_id: 1,
            location_id: 1,
            bin: None,
            reference_number: None,
            on_hand: units(on_hand),
            on_order: Fixed4::ZERO,
            picked: Fixed4::ZERO,
            reserved: units(reserved),
            backordered: Fixed4::ZERO,
            minimum: Fixed4::ZERO,
            maximum: None,
            created_at: now(),
            updated_at: now(),
        }
    }

    #[test]
    fn bookings_of_one_item_are_summed_and_refused_on_the_first_ones_field() {
        let first = Field::of("lines").at(0).then("quantity");
        let bookings = [
            taking(1, 2, first.clone()),
            taking(2, 1, Field::of("other")),
            taking(1, 3, Field::of("lines").at(2).then("quantity")),
        ];
        let refs: Vec<&Booking<'_>> = bookings.iter().collect();
        let summed = sum_per_item(&refs).unwrap();
        assert_eq!(summed.len(), 2);
        let (movement, field) = summed[&(1, 1)];
        assert_eq!(movement.on_hand, units(-5));
        assert_eq!(field, &first);
    }

    #[test]
    fn an_on_order_booking_moves_back_ordered_only_on_a_backorder() {
        let plain = Booking::on_order(1, 2, units(3), false);
        assert_eq!(plain.movement.on_order, units(3));
        assert!(plain.movement.backordered.is_zero());
        assert!(plain.source.is_none(), "on order writes no ledger entry");
        let backorder = Booking::on_order(1, 2, units(3), true);
        assert_eq!(backorder.movement.backordered, units(3));
    }

    #[test]
    fn a_shortage_is_refused_on_the_bookings_field_and_disagreeing_books_are_internal() {
        let field = Field::of("quantity");
        let take = Movement {
            on_hand: units(-3),
            ..Default::default()
        };
        assert!(check_movement(&item(5, 2), take, &field).is_ok());
        match check_movement(&item(5, 3), take, &field) {
            Err(ServiceError::Rejected(rejections)) => {
                assert_eq!(rejections[0].code, ViolationCode::InsufficientAvailable);
                assert_eq!(rejections[0].field, field);
            }
            other => panic!("not a refusal: {other:?}"),
        }
        let off_order = Movement::on_order(units(-1), false);
        assert!(matches!(
            check_movement(&item(5, 0), off_order, &field),
            Err(ServiceError::Internal(_))
        ));
    }
}
