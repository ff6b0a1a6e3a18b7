//! Stock use cases (DOMAIN.md, Stock): item settings, adjustments, transfers, reservations and
//! picks, and turning reorder suggestions into purchase orders. Quantities move only through
//! [`crate::services::inventory::apply`]'s conditional update; on-hand changes write the
//! ledger.

use std::collections::{BTreeMap, HashMap};

use entity::enums::SerialMovementKind;
use entity::{inventory_item, Fixed4};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::inventory::reorder_quantity;
use crate::domain::validate;
use crate::domain::violation::ViolationCode;
use crate::error::ServiceError;
use crate::events::Outbox;
use crate::services::commit;
use crate::services::idempotency::Idempotency;
use crate::services::inventory::{apply, ensure_item, LedgerReason, Movement, Source};
use crate::services::not_found;
use crate::services::purchasing::{self, NewLine, NewPurchaseOrder};
use crate::services::serials;
use crate::services::UseCase;
use crate::services::{fixed, invalid, now, Violations};

async fn active_location(
    txn: &impl ConnectionTrait,
    id: i32,
    field: &str,
) -> Result<(), ServiceError> {
    let location = entity::inventory_location::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| not_found(field, "inventory location"))?;
    if !location.active {
        return Err(ServiceError::user(
            ViolationCode::LocationInactive,
            field,
            format!("location {} is inactive", location.code),
        ));
    }
    Ok(())
}

async fn existing_product(
    txn: &impl ConnectionTrait,
    id: i32,
) -> Result<entity::product::Model, ServiceError> {
    entity::product::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| not_found("input.productId", "product"))
}

async fn item_at(
    txn: &impl ConnectionTrait,
    product_id: i32,
    location_id: i32,
) -> Result<inventory_item::Model, ServiceError> {
    inventory_item::Entity::find()
        .filter(inventory_item::Column::ProductId.eq(product_id))
        .filter(inventory_item::Column::LocationId.eq(location_id))
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("inventory item vanished".into()))
}

/// The items with these ids, in the order given, in one statement.
async fn items_by_id(
    txn: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<Vec<inventory_item::Model>, ServiceError> {
    let mut found: std::collections::HashMap<i32, inventory_item::Model> =
        inventory_item::Entity::find()
            .filter(inventory_item::Column::Id.is_in(ids.iter().copied()))
            .all(txn)
            .await?
            .into_iter()
            .map(|item| (item.id, item))
            .collect();
    ids.iter()
        .map(|id| {
            found
                .remove(id)
                .ok_or_else(|| ServiceError::Internal(format!("inventory item {id} vanished")))
        })
        .collect()
}

/// Settings of an item; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ItemSettings {
    pub product_id: i32,
    pub location_id: i32,
    pub minimum: Option<Decimal>,
    pub maximum: Option<Option<Decimal>>,
    pub bin: Option<Option<String>>,
    pub reference_number: Option<Option<String>>,
}

/// Creates the item of (product, location) if needed and sets its minimum, maximum, bin and
/// reference number (maximum ≥ minimum ≥ 0; bin and reference at most 50 characters).
pub async fn upsert_item(
    uc: UseCase<'_>,
    input: ItemSettings,
) -> Result<inventory_item::Model, ServiceError> {
    let mut v = Violations::new();
    // `Some(None)`: not given (the item's value stays).
    let minimum = match input.minimum {
        Some(m) => match v.check(validate::non_negative(m, "minimum"), "input.minimum") {
            Some(m) => v.take(fixed(m, "input.minimum"))?.map(Some),
            None => None,
        },
        None => Some(None),
    };
    // `Some(None)`: not given; `Some(Some(None))`: cleared.
    let maximum = match input.maximum {
        Some(Some(m)) => match v.check(validate::non_negative(m, "maximum"), "input.maximum") {
            Some(m) => v.take(fixed(m, "input.maximum"))?.map(|m| Some(Some(m))),
            None => None,
        },
        Some(None) => Some(Some(None)),
        None => Some(None),
    };
    let mut text = |value: Option<Option<String>>, what: &str, field: &str| match value {
        Some(value) => v
            .check(validate::optional_text(value.as_deref(), what, 50), field)
            .map(Some),
        None => Some(None),
    };
    let bin = text(input.bin, "bin", "input.bin");
    let reference = text(
        input.reference_number,
        "reference number",
        "input.referenceNumber",
    );
    let txn = begin_write(uc.db).await?;
    // In the input's order: product, location, then the settings.
    let mut found = Violations::new();
    found.take(existing_product(&txn, input.product_id).await)?;
    found.take(active_location(&txn, input.location_id, "input.locationId").await)?;
    found.append(v);
    let (minimum, maximum, bin, reference) = found.done((minimum, maximum, bin, reference))?;
    ensure_item(&txn, input.product_id, input.location_id).await?;
    let item = item_at(&txn, input.product_id, input.location_id).await?;
    let new_minimum = minimum.unwrap_or(item.minimum);
    let new_maximum = maximum.unwrap_or(item.maximum);
    if new_maximum.is_some_and(|max| max < new_minimum) {
        return Err(invalid(
            "input.maximum",
            "the maximum must not be below the minimum",
        ));
    }
    let mut model: inventory_item::ActiveModel = item.into();
    model.minimum = Set(new_minimum);
    model.maximum = Set(new_maximum);
    if let Some(bin) = bin {
        model.bin = Set(bin);
    }
    if let Some(reference) = reference {
        model.reference_number = Set(reference);
    }
    model.updated_at = Set(now());
    let saved = model.update(&txn).await?;
    commit(txn).await?;
    Ok(saved)
}

/// Why on-hand is adjusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjustmentReason {
    Count,
    Damage,
    Loss,
    Found,
    Other,
}

impl AdjustmentReason {
    /// DAMAGE and LOSS only take stock away, FOUND only adds it; COUNT and OTHER go either way.
    fn check_direction(self, delta: Fixed4) -> Result<(), ServiceError> {
        let refused = match self {
            AdjustmentReason::Damage | AdjustmentReason::Loss => delta.0 > 0,
            AdjustmentReason::Found => delta.0 < 0,
            AdjustmentReason::Count | AdjustmentReason::Other => false,
        };
        if refused {
            let way = if delta.0 > 0 { "raise" } else { "lower" };
            return Err(invalid(
                "input.reason",
                format!(
                    "a {} adjustment cannot {way} on hand",
                    self.ledger_name().trim_start_matches("ADJUSTMENT_")
                ),
            ));
        }
        Ok(())
    }

    fn ledger_name(self) -> &'static str {
        match self {
            AdjustmentReason::Count => "ADJUSTMENT_COUNT",
            AdjustmentReason::Damage => "ADJUSTMENT_DAMAGE",
            AdjustmentReason::Loss => "ADJUSTMENT_LOSS",
            AdjustmentReason::Found => "ADJUSTMENT_FOUND",
            AdjustmentReason::Other => "ADJUSTMENT_OTHER",
        }
    }
}

/// A change of on-hand: by `delta`, or to `counted_quantity` (exactly one of the two).
#[derive(Clone, Debug)]
pub struct Adjustment {
    pub product_id: i32,
    pub location_id: i32,
    pub delta: Option<Decimal>,
    pub counted_quantity: Option<Decimal>,
    pub reason: AdjustmentReason,
    /// When given, the adjustment applies only if on hand still is this (a stale count is refused).
    pub expected_on_hand: Option<Decimal>,
    pub memo: Option<String>,
    /// For a serialized product, one serial per unit: in stock here for a decrease, new (or
    /// gone) for an increase.
    pub serial_numbers: Option<Vec<String>>,
    pub idempotency_key: Option<String>,
}

/// Runs `body` once per idempotency key: a retry with the same input gets the stored item ids;
/// a concurrent twin that lost the race on the key reads the winner's result.
async fn once<F>(
    uc: UseCase<'_>,
    idempotency: Option<Idempotency>,
    body: F,
) -> Result<Vec<inventory_item::Model>, ServiceError>
where
    F: for<'t> FnOnce(
        &'t DatabaseTransaction,
        &'t mut Outbox,
    ) -> futures_util::future::BoxFuture<'t, Result<Vec<i32>, ServiceError>>,
{
    let txn = begin_write(uc.db).await?;
    if let Some(idempotency) = &idempotency {
        if let Some(stored) = idempotency.replay(&txn).await? {
            return items_by_id(&txn, &stored_ids(&stored)).await;
        }
    }
    let mut outbox = Outbox::default();
    let ids = body(&txn, &mut outbox).await?;
    if let Some(idempotency) = &idempotency {
        if let Err(err) = idempotency.remember(&txn, json!({ "itemIds": ids })).await {
            drop(txn);
            // The same request may have committed first with this key: answer with its result.
            if let Some(stored) = idempotency.replay(uc.db).await? {
                return items_by_id(uc.db, &stored_ids(&stored)).await;
            }
            return Err(err);
        }
    }
    let items = items_by_id(&txn, &ids).await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(items)
}

fn stored_ids(stored: &serde_json::Value) -> Vec<i32> {
    stored["itemIds"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_i64().and_then(|id| i32::try_from(id).ok()))
                .collect()
        })
        .unwrap_or_default()
}

fn d(value: Option<Decimal>) -> Option<String> {
    value.map(|v| v.normalize().to_string())
}

/// Sets or changes on-hand with a reason, writing the ledger.
pub async fn adjust(
    uc: UseCase<'_>,
    input: Adjustment,
) -> Result<inventory_item::Model, ServiceError> {
    let idempotency = Idempotency::new(
        uc,
        "adjustInventory",
        input.idempotency_key.as_deref(),
        json!({
            "productId": input.product_id, "locationId": input.location_id,
            "delta": d(input.delta), "countedQuantity": d(input.counted_quantity),
            "reason": input.reason.ledger_name(), "expectedOnHand": d(input.expected_on_hand),
            "memo": input.memo, "serialNumbers": input.serial_numbers,
        }),
    )?;
    let reason = input.reason;
    // Every violation of the input and of the product and location is gathered first; those
    // of the quantities and memo are reported after the product's and location's, as in the
    // input.
    let mut v = Violations::new();
    // `Ok(counted)` or `Err(delta)`.
    let counted = match (input.delta, input.counted_quantity) {
        (Some(delta), None) => {
            if delta.is_zero() {
                v.add(
                    ViolationCode::InvalidInput,
                    "input.delta",
                    "an adjustment changes something",
                );
                None
            } else {
                match v.take(fixed(delta, "input.delta"))? {
                    Some(delta) => v.take(reason.check_direction(delta))?.map(|()| Err(delta)),
                    None => None,
                }
            }
        }
        (None, Some(counted)) => match v.check(
            validate::non_negative(counted, "counted quantity"),
            "input.countedQuantity",
        ) {
            Some(counted) => v.take(fixed(counted, "input.countedQuantity"))?.map(Ok),
            None => None,
        },
        _ => {
            v.add(
                ViolationCode::InvalidInput,
                "input",
                "give exactly one of delta and countedQuantity",
            );
            None
        }
    };
    let expected = match input.expected_on_hand {
        Some(e) => v.take(fixed(e, "input.expectedOnHand"))?.map(Some),
        None => Some(None),
    };
    let memo = v.check(
        validate::optional_text(input.memo.as_deref(), "memo", 500),
        "input.memo",
    );
    if reason == AdjustmentReason::Other && memo.as_ref().is_some_and(Option::is_none) {
        v.add(
            ViolationCode::InvalidInput,
            "input.memo",
            "an adjustment for another reason needs a memo saying why",
        );
    }
    let (product_id, location_id) = (input.product_id, input.location_id);
    let named = input.serial_numbers.unwrap_or_default();
    let actor = uc.actor.clone();
    let items = once(uc, idempotency, move |txn, outbox| {
        Box::pin(async move {
            let mut found = Violations::new();
            let product = found.take(existing_product(txn, product_id).await)?;
            found.take(active_location(txn, location_id, "input.locationId").await)?;
            found.append(v);
            let (counted, expected, memo, product) =
                found.done((counted, expected, memo, product))?;
            ensure_item(txn, product_id, location_id).await?;
            let item = item_at(txn, product_id, location_id).await?;
            if expected.is_some_and(|e| e != item.on_hand) {
                return Err(ServiceError::user(
                    ViolationCode::StaleVersion,
                    "input.expectedOnHand",
                    format!(
                        "on hand is {} now, not {}: count again",
                        item.on_hand.to_decimal(),
                        expected.map(|e| e.to_decimal()).unwrap_or_default()
                    ),
                ));
            }
            let delta = match counted {
                Ok(counted) => Fixed4(counted.0 - item.on_hand.0),
                Err(delta) => delta,
            };
            // A serialized product moves in whole units, each named (DOMAIN.md, Serial numbers).
            let units = crate::domain::receiving::check_serials(
                product.serialized,
                delta.to_decimal().abs(),
                &named,
            )
            .map_err(|v| ServiceError::user(v.code, "input.serialNumbers", v.message))?;
            if delta.is_zero() {
                return Ok(vec![item.id]);
            }
            reason.check_direction(delta)?;
            if delta.0 > 0 {
                serials::check_in(txn, product_id, &units, "input.serialNumbers").await?;
            } else {
                let leaving = serials::Leaving::AdjustedOut;
                serials::check_out(
                    txn,
                    product_id,
                    location_id,
                    &units,
                    leaving,
                    "input.serialNumbers",
                )
                .await?;
            }
            if item.on_hand.0 + delta.0 < 0 {
                return Err(ServiceError::user(
                    ViolationCode::InsufficientAvailable,
                    "input.delta",
                    format!("only {} is on hand", item.on_hand.to_decimal()),
                ));
            }
            let movement = Movement {
                on_hand: delta,
                ..Default::default()
            };
            let source = Source {
                reason: LedgerReason::Adjustment(reason.ledger_name()),
                document_type: "InventoryItem",
                document_id: item.id,
                memo: memo.as_deref(),
            };
            apply(
                txn,
                outbox,
                &actor,
                product_id,
                location_id,
                movement,
                Some(source),
                "input",
            )
            .await?;
            if !units.is_empty() {
                let entry = serials::last_ledger_entry(txn, product_id, location_id).await?;
                if delta.0 > 0 {
                    let cause = serials::Cause::ledger(SerialMovementKind::AdjustedIn, entry);
                    serials::bring_in(
                        txn,
                        &actor,
                        product_id,
                        location_id,
                        &units,
                        cause,
                        "input.serialNumbers",
                    )
                    .await?;
                } else {
                    let cause = serials::Cause::ledger(SerialMovementKind::AdjustedOut, entry);
                    serials::move_out(
                        txn,
                        &actor,
                        product_id,
                        location_id,
                        &units,
                        serials::Leaving::AdjustedOut,
                        cause,
                        "input.serialNumbers",
                    )
                    .await?;
                }
            }
            Ok(vec![item.id])
        })
    })
    .await?;
    items
        .into_iter()
        .next()
        .ok_or_else(|| ServiceError::Internal("adjusted item missing".into()))
}

/// Moves `quantity` of a product between two active locations atomically; the source must have
/// that much available.
pub async fn transfer(
    uc: UseCase<'_>,
    product_id: i32,
    from: i32,
    to: i32,
    quantity: Decimal,
    serial_numbers: Option<Vec<String>>,
    idempotency_key: Option<&str>,
) -> Result<(inventory_item::Model, inventory_item::Model), ServiceError> {
    let idempotency = Idempotency::new(
        uc,
        "transferInventory",
        idempotency_key,
        json!({ "productId": product_id, "from": from, "to": to,
                "quantity": d(Some(quantity)), "serialNumbers": serial_numbers }),
    )?;
    // Every violation of the input and of the product and locations is gathered first.
    let mut v = Violations::new();
    let quantity = match v.check(validate::positive(quantity, "quantity"), "input.quantity") {
        Some(quantity) => v.take(fixed(quantity, "input.quantity"))?,
        None => None,
    };
    if from == to {
        v.add(
            ViolationCode::InvalidInput,
            "input.toLocationId",
            "a transfer needs two different locations",
        );
    }
    let actor = uc.actor.clone();
    let items = once(uc, idempotency, move |txn, outbox| {
        Box::pin(async move {
            // In the input's order: product, locations, quantity, serials.
            let mut found = Violations::new();
            let product = found.take(existing_product(txn, product_id).await)?;
            found.take(active_location(txn, from, "input.fromLocationId").await)?;
            if to != from {
                found.take(active_location(txn, to, "input.toLocationId").await)?;
            }
            found.append(v);
            // The serials expected follow from the product and the quantity.
            let units = match (&product, quantity) {
                (Some(product), Some(quantity)) => found.check(
                    crate::domain::receiving::check_serials(
                        product.serialized,
                        quantity.to_decimal(),
                        serial_numbers.as_deref().unwrap_or_default(),
                    ),
                    "input.serialNumbers",
                ),
                _ => None,
            };
            let (quantity, units) = found.done((quantity, units))?;
            let leaving = serials::Leaving::TransferTo(to);
            serials::check_out(
                txn,
                product_id,
                from,
                &units,
                leaving,
                "input.serialNumbers",
            )
            .await?;
            ensure_item(txn, product_id, from).await?;
            let source_item = item_at(txn, product_id, from).await?;
            for (location, delta, reason) in [
                (from, Fixed4(-quantity.0), LedgerReason::TransferOut),
                (to, quantity, LedgerReason::TransferIn),
            ] {
                apply(
                    txn,
                    outbox,
                    &actor,
                    product_id,
                    location,
                    Movement {
                        on_hand: delta,
                        ..Default::default()
                    },
                    Some(Source {
                        reason,
                        document_type: "InventoryItem",
                        document_id: source_item.id,
                        memo: None,
                    }),
                    "input.quantity",
                )
                .await?;
            }
            // The named units must be in stock at the source; they move with the quantity.
            let entry = serials::last_ledger_entry(txn, product_id, from).await?;
            serials::move_out(
                txn,
                &actor,
                product_id,
                from,
                &units,
                serials::Leaving::TransferTo(to),
                serials::Cause::ledger(SerialMovementKind::Transferred, entry),
                "input.serialNumbers",
            )
            .await?;
            let target = item_at(txn, product_id, to).await?;
            Ok(vec![source_item.id, target.id])
        })
    })
    .await?;
    let mut items = items.into_iter();
    match (items.next(), items.next()) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(ServiceError::Internal("transferred items missing".into())),
    }
}

/// Moving quantity into or out of reserved and picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commitment {
    Reserve,
    Release,
    Pick,
    Unpick,
}

impl Commitment {
    fn operation(self) -> &'static str {
        match self {
            Commitment::Reserve => "reserveInventory",
            Commitment::Release => "releaseReservation",
            Commitment::Pick => "pickInventory",
            Commitment::Unpick => "unpickInventory",
        }
    }
}

/// Reserves, releases, picks or unpicks `quantity` of the item: never beyond what is available
/// (reserve, pick) or what is reserved or picked (release, unpick).
pub async fn commit_stock(
    uc: UseCase<'_>,
    kind: Commitment,
    product_id: i32,
    location_id: i32,
    quantity: Decimal,
    job_id: Option<i32>,
    idempotency_key: Option<&str>,
) -> Result<inventory_item::Model, ServiceError> {
    let idempotency = Idempotency::new(
        uc,
        kind.operation(),
        idempotency_key,
        json!({ "productId": product_id, "locationId": location_id,
                "quantity": d(Some(quantity)), "jobId": job_id }),
    )?;
    // Every violation of the input and of the product, location and job is gathered first.
    let mut v = Violations::new();
    let quantity = match v.check(validate::positive(quantity, "quantity"), "input.quantity") {
        Some(quantity) => v.take(fixed(quantity, "input.quantity"))?,
        None => None,
    };
    let actor = uc.actor.clone();
    let items = once(uc, idempotency, move |txn, outbox| {
        Box::pin(async move {
            // In the input's order: product, location, quantity, job.
            let mut found = Violations::new();
            found.take(existing_product(txn, product_id).await)?;
            found.take(active_location(txn, location_id, "input.locationId").await)?;
            found.append(v);
            let mut v = found;
            if let Some(job) = job_id {
                if entity::job::Entity::find_by_id(job)
                    .one(txn)
                    .await?
                    .is_none()
                {
                    v.add(ViolationCode::NotFound, "input.jobId", "no such job");
                }
            }
            let quantity = v.done(quantity)?;
            let movement = match kind {
                Commitment::Reserve => Movement {
                    reserved: quantity,
                    ..Default::default()
                },
                Commitment::Release => Movement {
                    reserved: Fixed4(-quantity.0),
                    ..Default::default()
                },
                Commitment::Pick => Movement {
                    picked: quantity,
                    ..Default::default()
                },
                Commitment::Unpick => Movement {
                    picked: Fixed4(-quantity.0),
                    ..Default::default()
                },
            };
            apply(
                txn,
                outbox,
                &actor,
                product_id,
                location_id,
                movement,
                None,
                "input.quantity",
            )
            .await?;
            Ok(vec![item_at(txn, product_id, location_id).await?.id])
        })
    })
    .await?;
    items
        .into_iter()
        .next()
        .ok_or_else(|| ServiceError::Internal("item missing".into()))
}

/// Open quantity on PENDING orders of the item's product and location, as SQL over
/// `inventory_items`. PENDING orders are not on order yet, but reordering must count them or
/// asking twice would order everything twice.
const PENDING_SQL: &str = "COALESCE((SELECT SUM(l.quantity - l.quantity_received) \
    FROM purchase_order_lines l JOIN purchase_orders o ON o.id = l.purchase_order_id \
    WHERE o.status = 'PENDING' AND l.product_id = inventory_items.product_id \
    AND l.location_id = inventory_items.location_id), 0)";

/// The condition "on hand + on order + pending is below the minimum", for queries over items.
pub fn due_for_reorder() -> sea_orm::sea_query::SimpleExpr {
    sea_orm::sea_query::Expr::cust(format!(
        "inventory_items.on_hand + inventory_items.on_order + {PENDING_SQL} < inventory_items.minimum"
    ))
}

/// An item due for reordering and what it needs.
#[derive(Clone, Debug)]
pub struct Suggestion {
    pub item: inventory_item::Model,
    /// Open quantity on PENDING orders of the same product and location.
    pub pending: Fixed4,
    /// What to order: maximum − on hand − on order − pending.
    pub quantity: Fixed4,
}

/// The open quantities on PENDING orders per (product, location) of these items.
async fn pending_quantities(
    db: &impl ConnectionTrait,
    items: &[inventory_item::Model],
) -> Result<HashMap<(i32, i32), i64>, ServiceError> {
    use entity::purchase_order_line::{Column, Entity};
    let mut pending: HashMap<(i32, i32), i64> = HashMap::new();
    if items.is_empty() {
        return Ok(pending);
    }
    let lines = Entity::find()
        .filter(sea_orm::sea_query::Expr::cust(
            "purchase_order_lines.purchase_order_id IN \
             (SELECT id FROM purchase_orders WHERE status = 'PENDING')",
        ))
        .filter(Column::ProductId.is_in(items.iter().map(|i| i.product_id)))
        .filter(Column::LocationId.is_in(items.iter().map(|i| i.location_id)))
        .all(db)
        .await?;
    for line in lines {
        let open = crate::services::purchasing::open_units(line.quantity, line.quantity_received);
        let sum = pending
            .entry((line.product_id, line.location_id))
            .or_default();
        *sum = sum
            .checked_add(open.0)
            .ok_or_else(|| ServiceError::Internal("pending quantity overflow".into()))?;
    }
    Ok(pending)
}

/// Every item due for reordering (optionally at one location), oldest first, whatever the
/// state of its product and location.
async fn due_items(
    db: &impl ConnectionTrait,
    location_id: Option<i32>,
    only_active: bool,
) -> Result<Vec<Suggestion>, ServiceError> {
    let mut select = inventory_item::Entity::find().filter(due_for_reorder());
    if let Some(location) = location_id {
        select = select.filter(inventory_item::Column::LocationId.eq(location));
    }
    if only_active {
        select = select.filter(sea_orm::sea_query::Expr::cust(
            "inventory_items.product_id IN (SELECT id FROM products WHERE active) \
             AND inventory_items.location_id IN (SELECT id FROM inventory_locations WHERE active)",
        ));
    }
    let items = select
        .order_by_asc(inventory_item::Column::Id)
        .all(db)
        .await?;
    let pending = pending_quantities(db, &items).await?;
    Ok(items
        .into_iter()
        .filter_map(|item| {
            let pending = Fixed4(
                pending
                    .get(&(item.product_id, item.location_id))
                    .copied()
                    .unwrap_or_default(),
            );
            let quantity = reorder_quantity(
                item.on_hand,
                item.on_order,
                pending,
                item.minimum,
                item.maximum,
            )?;
            Some(Suggestion {
                item,
                pending,
                quantity,
            })
        })
        .collect())
}

/// The items due for reordering (optionally at one location), oldest first, each with the
/// quantity that brings it up to its maximum. Inactive products and locations are never
/// suggested.
pub async fn reorder_suggestions(
    db: &impl ConnectionTrait,
    location_id: Option<i32>,
) -> Result<Vec<Suggestion>, ServiceError> {
    due_items(db, location_id, true).await
}

/// Why a due item was left out of the reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    NoPreferredVendor,
    VendorInactive,
    ProductInactive,
    LocationInactive,
    /// The order for its vendor and location was refused (the message says why).
    OrderRefused,
}

/// A due item that was not ordered, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub suggestion: Suggestion,
    pub reason: SkipReason,
    pub message: String,
}

/// What reordering produced.
#[derive(Clone, Debug, Default)]
pub struct Reordered {
    pub purchase_orders: Vec<entity::purchase_order::Model>,
    /// Items due for reordering that no order was made for, with the reason.
    pub skipped: Vec<Skipped>,
}

/// The given type or business unit must exist and be active; when none is given, the first
/// active one is used.
macro_rules! active_or_first {
    ($db:expr, $module:ident, $given:expr, $field:expr, $what:expr) => {
        match $given {
            Some(id) => {
                let row = entity::$module::Entity::find_by_id(id)
                    .one($db)
                    .await?
                    .ok_or_else(|| not_found($field, $what))?;
                if !row.active {
                    return Err(ServiceError::user(
                        ViolationCode::ReferenceInactive,
                        $field,
                        format!("the {} is inactive", $what),
                    ));
                }
                row.id
            }
            None => entity::$module::Entity::find()
                .filter(entity::$module::Column::Active.eq(true))
                .order_by_asc(entity::$module::Column::Id)
                .one($db)
                .await?
                .map(|r| r.id)
                .ok_or_else(|| invalid($field, format!("there is no active {} to use", $what)))?,
        }
    };
}

/// Turns reorder suggestions (optionally of one location) into PENDING purchase orders, one per
/// preferred vendor and location, typed and booked as given (the first active type and business
/// unit when not). Items whose product or location is inactive, whose product has no active
/// preferred vendor, or whose order is refused are reported in `skipped`; the other orders are
/// still created.
pub async fn create_reorder_orders(
    uc: UseCase<'_>,
    location_id: Option<i32>,
    type_id: Option<i32>,
    business_unit_id: Option<i32>,
) -> Result<Reordered, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let type_id = active_or_first!(
        &txn,
        purchase_order_type,
        type_id,
        "input.typeId",
        "purchase order type"
    );
    let business_unit_id = active_or_first!(
        &txn,
        business_unit,
        business_unit_id,
        "input.businessUnitId",
        "business unit"
    );
    // Read inside the write transaction, so a concurrent reorder cannot count the same need.
    let due = due_items(&txn, location_id, false).await?;
    let products: HashMap<i32, entity::product::Model> = entity::product::Entity::find()
        .filter(entity::product::Column::Id.is_in(due.iter().map(|s| s.item.product_id)))
        .all(&txn)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let locations: HashMap<i32, entity::inventory_location::Model> =
        entity::inventory_location::Entity::find()
            .filter(
                entity::inventory_location::Column::Id
                    .is_in(due.iter().map(|s| s.item.location_id)),
            )
            .all(&txn)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
    let vendors: HashMap<i32, entity::vendor::Model> = entity::vendor::Entity::find()
        .filter(
            entity::vendor::Column::Id
                .is_in(products.values().filter_map(|p| p.preferred_vendor_id)),
        )
        .all(&txn)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let mut groups: BTreeMap<(i32, i32), Vec<Suggestion>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for suggestion in due {
        let product = products.get(&suggestion.item.product_id);
        let location = locations.get(&suggestion.item.location_id);
        let vendor = product
            .and_then(|p| p.preferred_vendor_id)
            .and_then(|v| vendors.get(&v));
        let sku = product.map(|p| p.sku.as_str()).unwrap_or_default();
        let refusal = match (product, location, vendor) {
            (Some(p), _, _) if !p.active => Some((
                SkipReason::ProductInactive,
                format!("product {sku} is inactive"),
            )),
            (_, Some(l), _) if !l.active => Some((
                SkipReason::LocationInactive,
                format!("location {} is inactive", l.code),
            )),
            (_, _, None) => Some((
                SkipReason::NoPreferredVendor,
                format!("product {sku} has no preferred vendor"),
            )),
            (_, _, Some(v)) if !v.active => Some((
                SkipReason::VendorInactive,
                format!(
                    "the preferred vendor {} of product {sku} is inactive",
                    v.code
                ),
            )),
            (_, _, Some(v)) => {
                groups
                    .entry((v.id, suggestion.item.location_id))
                    .or_default()
                    .push(suggestion.clone());
                None
            }
        };
        if let Some((reason, message)) = refusal {
            skipped.push(Skipped {
                suggestion,
                reason,
                message,
            });
        }
    }
    let mut outbox = Outbox::default();
    let mut purchase_orders = Vec::new();
    for ((vendor_id, ship_to_id), suggestions) in groups {
        let order = NewPurchaseOrder {
            vendor_id,
            ship_to_id,
            type_id,
            business_unit_id,
            memo: Some("Reorder".to_owned()),
            lines: suggestions
                .iter()
                .map(|s| NewLine {
                    product_id: Some(s.item.product_id),
                    location_id: s.item.location_id,
                    quantity: s.quantity.to_decimal(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        // Each order in its own savepoint: one that is refused (say, its vendor bills in
        // another currency and needs an exchange rate) is reported and the others still stand.
        let savepoint = txn.begin().await?;
        match purchasing::create_in(uc, &savepoint, &mut outbox, order).await {
            Ok(po) => {
                commit(savepoint).await?;
                purchase_orders.push(po);
            }
            Err(ServiceError::Rejected(errors)) => {
                savepoint.rollback().await?;
                let why = errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
                skipped.extend(suggestions.into_iter().map(|suggestion| Skipped {
                    suggestion,
                    reason: SkipReason::OrderRefused,
                    message: format!("the order could not be made: {why}"),
                }));
            }
            Err(other) => return Err(other),
        }
    }
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(Reordered {
        purchase_orders,
        skipped,
    })
}
