//! Stock use cases (DOMAIN.md, Stock): item settings, adjustments, transfers, reservations and
//! picks, and turning reorder suggestions into purchase orders. The rules are in
//! [`crate::domain::inventory`]; quantities move only through
//! [`crate::services::inventory::apply`]'s conditional update, and on-hand changes write the
//! ledger.
//!
//! Refusals name the field of the command at fault (`Field::of("quantity")`). The idempotency
//! operations and request fingerprints keep the names they were first stored under, so a retry
//! of a request made before an upgrade still finds its first result.

use std::collections::{BTreeMap, HashMap};

use entity::enums::SerialMovementKind;
use entity::{inventory_item, Fixed4};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, PrimaryKeyTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::json;

use crate::auth::Actor;
use crate::db::begin_write;
use crate::domain::inventory::{
    check_count, check_reorder_points, check_takes_at_most_on_hand, moved_quantity, reorder_level,
    reorder_quantity, reorder_vendor, Change, PreferredVendor, ReorderCandidate,
};
use crate::domain::receiving::check_serials;
use crate::domain::validate;
use crate::domain::values::Quantity;
use crate::domain::violation::{Violation, ViolationCode};
use crate::error::{Field, Rejection, ServiceError};
use crate::events::Outbox;
use crate::services::commit;
use crate::services::idempotency::Idempotency;
use crate::services::inventory::{apply, ensure_item, Booking, LedgerReason, Movement, Source};
use crate::services::not_found;
use crate::services::purchasing::{self, NewLine, NewPurchaseOrder};
use crate::services::serials;
use crate::services::UseCase;
use crate::services::{now, Violations};

pub use crate::domain::inventory::{AdjustmentReason, SkipReason};

/// A refusal of `field` for breaking the rule `result` reports.
fn refuse<T>(result: Result<T, Violation>, field: Field) -> Result<T, ServiceError> {
    result.map_err(|v| ServiceError::Rejected(vec![Rejection::of(v, field)]))
}

/// A parsed quantity as the columns store it. Exact: a [`Quantity`] has at most four places
/// and is far within the columns' range.
fn stored(quantity: Quantity) -> Result<Fixed4, ServiceError> {
    Fixed4::from_decimal(quantity.get())
        .map_err(|e| ServiceError::Internal(format!("a parsed quantity does not fit: {e}")))
}

async fn active_location(
    txn: &impl ConnectionTrait,
    id: i32,
    field: Field,
) -> Result<(), ServiceError> {
    let location = entity::inventory_location::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| not_found(field.clone(), "inventory location"))?;
    if !location.active {
        return Err(ServiceError::user(
            ViolationCode::LocationInactive,
            field,
            format!("location {} is inactive", location.code),
        ));
    }
    Ok(())
}

/// Checks the product and the locations a command names (each must be active), in the
/// command's order, and puts the command's own violations after theirs. The product comes
/// back when it exists.
async fn check_named(
    txn: &impl ConnectionTrait,
    product_id: i32,
    locations: &[(i32, &'static str)],
    own: Violations,
) -> Result<(Option<entity::product::Model>, Violations), ServiceError> {
    let mut found = Violations::new();
    let product = entity::product::Entity::find_by_id(product_id)
        .one(txn)
        .await?;
    if product.is_none() {
        found.add(
            ViolationCode::NotFound,
            Field::of("product_id"),
            "no such product",
        );
    }
    for (id, field) in locations {
        found.take(active_location(txn, *id, Field::of(field)).await)?;
    }
    found.append(own);
    Ok((product, found))
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
    let mut found: HashMap<i32, inventory_item::Model> = inventory_item::Entity::find()
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

/// Checks an optional setting: `Some(None)` when it was not given, `None` when it broke its
/// rule (recorded in `v` on `field`).
fn setting<T, U>(
    v: &mut Violations,
    value: Option<T>,
    field: &'static str,
    check: impl FnOnce(T) -> Result<U, Violation>,
) -> Option<Option<U>> {
    match value {
        None => Some(None),
        Some(value) => v.check(check(value), Field::of(field)).map(Some),
    }
}

/// The settings to change, each `None` when it stays as it is.
struct SettingsChange {
    minimum: Option<Quantity>,
    maximum: Option<Option<Quantity>>,
    bin: Option<Option<String>>,
    reference_number: Option<Option<String>>,
}

impl ItemSettings {
    /// Every setting's rule (minimum and maximum ≥ 0; bin and reference at most 50
    /// characters), all of their violations recorded in `v`: the change when they all hold.
    fn check(&self, v: &mut Violations) -> Option<SettingsChange> {
        let text = |what: &'static str| {
            move |value: Option<String>| {
                validate::optional_text(value.as_deref(), what, 50).map_err(Violation::from)
            }
        };
        let minimum = setting(v, self.minimum, "minimum", |m| {
            reorder_level(m, "the minimum")
        });
        let maximum = setting(v, self.maximum, "maximum", |m| {
            m.map(|m| reorder_level(m, "the maximum")).transpose()
        });
        let bin = setting(v, self.bin.clone(), "bin", text("the bin"));
        let reference_number = setting(
            v,
            self.reference_number.clone(),
            "reference_number",
            text("the reference number"),
        );
        Some(SettingsChange {
            minimum: minimum?,
            maximum: maximum?,
            bin: bin?,
            reference_number: reference_number?,
        })
    }
}

/// Creates the item of (product, location) if needed and sets its minimum, maximum, bin and
/// reference number (maximum ≥ minimum ≥ 0; bin and reference at most 50 characters).
pub async fn upsert_item(
    uc: UseCase<'_>,
    input: ItemSettings,
) -> Result<inventory_item::Model, ServiceError> {
    let mut v = Violations::new();
    let settings = input.check(&mut v);
    let txn = begin_write(uc.db).await?;
    let (product_id, location_id) = (input.product_id, input.location_id);
    let (_, found) = check_named(&txn, product_id, &[(location_id, "location_id")], v).await?;
    let change = found.done(settings)?;
    ensure_item(&txn, product_id, location_id).await?;
    let item = item_at(&txn, product_id, location_id).await?;
    let minimum = change
        .minimum
        .map(stored)
        .transpose()?
        .unwrap_or(item.minimum);
    let maximum = match change.maximum {
        Some(maximum) => maximum.map(stored).transpose()?,
        None => item.maximum,
    };
    refuse(
        check_reorder_points(minimum.to_decimal(), maximum.map(Fixed4::to_decimal)),
        Field::of("maximum"),
    )?;
    let mut model: inventory_item::ActiveModel = item.into();
    model.minimum = Set(minimum);
    model.maximum = Set(maximum);
    if let Some(bin) = change.bin {
        model.bin = Set(bin);
    }
    if let Some(reference) = change.reference_number {
        model.reference_number = Set(reference);
    }
    model.updated_at = Set(now());
    let saved = model.update(&txn).await?;
    commit(txn).await?;
    Ok(saved)
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

/// [`once`] for a use case that changes one item.
async fn once_one<F>(
    uc: UseCase<'_>,
    idempotency: Option<Idempotency>,
    body: F,
) -> Result<inventory_item::Model, ServiceError>
where
    F: for<'t> FnOnce(
        &'t DatabaseTransaction,
        &'t mut Outbox,
    ) -> futures_util::future::BoxFuture<'t, Result<Vec<i32>, ServiceError>>,
{
    once(uc, idempotency, body)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ServiceError::Internal("the changed item is missing".into()))
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

/// A decimal as a request fingerprint spells it.
fn d(value: Option<Decimal>) -> Option<String> {
    value.map(|v| v.normalize().to_string())
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

/// An adjustment whose own fields passed their rules.
struct CheckedAdjustment {
    product_id: i32,
    location_id: i32,
    change: Change,
    reason: AdjustmentReason,
    expected: Option<Quantity>,
    memo: Option<String>,
    serial_numbers: Vec<String>,
}

impl Adjustment {
    /// The request as its idempotency key remembers it.
    fn fingerprint(&self) -> serde_json::Value {
        json!({
            "productId": self.product_id, "locationId": self.location_id,
            "delta": d(self.delta), "countedQuantity": d(self.counted_quantity),
            "reason": self.reason.ledger_name(), "expectedOnHand": d(self.expected_on_hand),
            "memo": self.memo, "serialNumbers": self.serial_numbers,
        })
    }

    /// The change asked for: a delta (not zero, in the reason's direction) or a count.
    fn change(&self, v: &mut Violations) -> Option<Change> {
        match (self.delta, self.counted_quantity) {
            (Some(delta), None) => {
                let change = v.check(Change::by(delta), Field::of("delta"))?;
                v.check(self.reason.check_direction(delta), Field::of("reason"))?;
                Some(change)
            }
            (None, Some(counted)) => v.check(Change::to(counted), Field::of("counted_quantity")),
            _ => {
                v.add(
                    ViolationCode::InvalidInput,
                    Field::whole(),
                    "an adjustment either changes on hand by an amount or sets it to a counted \
                     quantity: one of the two",
                );
                None
            }
        }
    }

    /// Every rule of the adjustment's own fields, in their order, all violations recorded in
    /// `v`: the adjustment when they all hold.
    fn check(self, v: &mut Violations) -> Option<CheckedAdjustment> {
        let change = self.change(v);
        let expected = match self.expected_on_hand {
            Some(e) => v
                .check(
                    Quantity::parse(e, "the expected on hand"),
                    Field::of("expected_on_hand"),
                )
                .map(Some),
            None => Some(None),
        };
        let memo = v.check(
            validate::optional_text(self.memo.as_deref(), "the memo", 500),
            Field::of("memo"),
        );
        if let Some(memo) = &memo {
            v.check(self.reason.check_memo(memo.as_deref()), Field::of("memo"));
        }
        Some(CheckedAdjustment {
            product_id: self.product_id,
            location_id: self.location_id,
            change: change?,
            reason: self.reason,
            expected: expected?,
            memo: memo?,
            serial_numbers: self.serial_numbers.unwrap_or_default(),
        })
    }
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
        input.fingerprint(),
    )?;
    let (product_id, location_id) = (input.product_id, input.location_id);
    // The input's violations are reported after the product's and location's, as in the input.
    let mut v = Violations::new();
    let checked = input.check(&mut v);
    let actor = uc.actor.clone();
    once_one(uc, idempotency, move |txn, outbox| {
        Box::pin(async move {
            let location = [(location_id, "location_id")];
            let (product, found) = check_named(txn, product_id, &location, v).await?;
            let (product, adjustment) = found.done((product, checked))?;
            adjust_item(txn, outbox, &actor, product.serialized, adjustment).await
        })
    })
    .await
}

/// Applies a checked adjustment to its item (created if needed): against a count still true,
/// in the reason's direction, never taking more than is on hand, and moving the named units of
/// a serialized product with it.
async fn adjust_item(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    actor: &Actor,
    serialized: bool,
    adjustment: CheckedAdjustment,
) -> Result<Vec<i32>, ServiceError> {
    let (product_id, location_id) = (adjustment.product_id, adjustment.location_id);
    ensure_item(txn, product_id, location_id).await?;
    let item = item_at(txn, product_id, location_id).await?;
    let on_hand = item.on_hand.to_decimal();
    refuse(
        check_count(adjustment.expected, on_hand),
        Field::of("expected_on_hand"),
    )?;
    let delta = adjustment
        .change
        .delta(on_hand)
        .and_then(|delta| Fixed4::from_decimal(delta).ok())
        .ok_or_else(|| ServiceError::Internal("an adjustment overflowed".into()))?;
    // A serialized product moves in whole units, each named (DOMAIN.md, Serial numbers).
    let units = refuse(
        check_serials(
            serialized,
            delta.to_decimal().abs(),
            &adjustment.serial_numbers,
        ),
        Field::of("serial_numbers"),
    )?;
    if delta.is_zero() {
        return Ok(vec![item.id]);
    }
    let reason = adjustment.reason;
    refuse(
        reason.check_direction(delta.to_decimal()),
        Field::of("reason"),
    )?;
    let units = AdjustedUnits {
        product_id,
        location_id,
        units: &units,
        raises: delta.0 > 0,
    };
    units.check_movable(txn).await?;
    refuse(
        check_takes_at_most_on_hand(on_hand, delta.to_decimal()),
        Field::of("delta"),
    )?;
    let movement = Movement {
        on_hand: delta,
        ..Default::default()
    };
    let source = Source {
        reason: LedgerReason::Adjustment(reason.ledger_name()),
        document_type: "InventoryItem",
        document_id: item.id,
        memo: adjustment.memo.as_deref(),
    };
    let booking = Booking::new(product_id, location_id, movement).from_source(source);
    apply(txn, outbox, actor, booking).await?;
    units.move_units(txn, actor).await?;
    Ok(vec![item.id])
}

/// The named units of a serialized product an adjustment brings in (`raises`) or writes off.
struct AdjustedUnits<'a> {
    product_id: i32,
    location_id: i32,
    units: &'a [String],
    raises: bool,
}

impl AdjustedUnits<'_> {
    /// Checks, before any quantity moves, that each unit may come in (not in stock anywhere)
    /// or leave (in stock here), so the refusal names the serial.
    async fn check_movable(&self, txn: &DatabaseTransaction) -> Result<(), ServiceError> {
        let field = Field::of("serial_numbers");
        if self.raises {
            serials::check_in(txn, self.product_id, self.units, field).await
        } else {
            let leaving = serials::Leaving::AdjustedOut;
            serials::check_out(
                txn,
                self.product_id,
                self.location_id,
                self.units,
                leaving,
                field,
            )
            .await
        }
    }

    /// Moves the units with the adjustment's ledger entry, once on hand has changed.
    async fn move_units(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor,
    ) -> Result<(), ServiceError> {
        if self.units.is_empty() {
            return Ok(());
        }
        let (product_id, location_id) = (self.product_id, self.location_id);
        let entry = serials::last_ledger_entry(txn, product_id, location_id).await?;
        let field = Field::of("serial_numbers");
        if self.raises {
            let cause = serials::Cause::ledger(SerialMovementKind::AdjustedIn, entry);
            serials::bring_in(
                txn,
                actor,
                product_id,
                location_id,
                self.units,
                cause,
                field,
            )
            .await
        } else {
            let cause = serials::Cause::ledger(SerialMovementKind::AdjustedOut, entry);
            let leaving = serials::Leaving::AdjustedOut;
            serials::move_out(
                txn,
                actor,
                product_id,
                location_id,
                self.units,
                leaving,
                cause,
                field,
            )
            .await
        }
    }
}

/// Moves `quantity` of a product from one location to another.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub product_id: i32,
    pub from_location_id: i32,
    pub to_location_id: i32,
    pub quantity: Decimal,
    /// One distinct serial per unit of a serialized product, each in stock at the source.
    pub serial_numbers: Option<Vec<String>>,
    pub idempotency_key: Option<String>,
}

impl Transfer {
    /// The request as its idempotency key remembers it.
    fn fingerprint(&self) -> serde_json::Value {
        json!({ "productId": self.product_id, "from": self.from_location_id,
                "to": self.to_location_id, "quantity": d(Some(self.quantity)),
                "serialNumbers": self.serial_numbers })
    }

    /// The locations it names, each checked once.
    fn locations(&self) -> Vec<(i32, &'static str)> {
        let mut named = vec![(self.from_location_id, "from_location_id")];
        if self.to_location_id != self.from_location_id {
            named.push((self.to_location_id, "to_location_id"));
        }
        named
    }
}

/// Moves `quantity` of a product between two active locations atomically; the source must have
/// that much available.
pub async fn transfer(
    uc: UseCase<'_>,
    input: Transfer,
) -> Result<(inventory_item::Model, inventory_item::Model), ServiceError> {
    let idempotency = Idempotency::new(
        uc,
        "transferInventory",
        input.idempotency_key.as_deref(),
        input.fingerprint(),
    )?;
    // Every violation of the input and of the product and locations is gathered first.
    let mut v = Violations::new();
    let quantity = v.check(moved_quantity(input.quantity), Field::of("quantity"));
    if input.from_location_id == input.to_location_id {
        v.add(
            ViolationCode::InvalidInput,
            Field::of("to_location_id"),
            "a transfer needs two different locations",
        );
    }
    let actor = uc.actor.clone();
    let items = once(uc, idempotency, move |txn, outbox| {
        Box::pin(async move {
            let (product, mut found) =
                check_named(txn, input.product_id, &input.locations(), v).await?;
            // The serials expected follow from the product and the quantity.
            let units = match (&product, quantity) {
                (Some(product), Some(quantity)) => found.check(
                    check_serials(
                        product.serialized,
                        quantity.get(),
                        input.serial_numbers.as_deref().unwrap_or_default(),
                    ),
                    Field::of("serial_numbers"),
                ),
                _ => None,
            };
            let (quantity, units) = found.done((quantity, units))?;
            move_stock(txn, outbox, &actor, &input, stored(quantity)?, &units).await
        })
    })
    .await?;
    let mut items = items.into_iter();
    match (items.next(), items.next()) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(ServiceError::Internal("transferred items missing".into())),
    }
}

/// Books a checked transfer: the named units must be in stock at the source, the quantity
/// leaves it and reaches the target (each with its ledger entry), and the units move with it.
/// The items' ids, source first.
async fn move_stock(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    actor: &Actor,
    transfer: &Transfer,
    quantity: Fixed4,
    units: &[String],
) -> Result<Vec<i32>, ServiceError> {
    let (product_id, from, to) = (
        transfer.product_id,
        transfer.from_location_id,
        transfer.to_location_id,
    );
    let leaving = serials::Leaving::TransferTo(to);
    let field = Field::of("serial_numbers");
    serials::check_out(txn, product_id, from, units, leaving, field.clone()).await?;
    ensure_item(txn, product_id, from).await?;
    let source_item = item_at(txn, product_id, from).await?;
    for (location, delta, reason) in [
        (from, Fixed4(-quantity.0), LedgerReason::TransferOut),
        (to, quantity, LedgerReason::TransferIn),
    ] {
        let movement = Movement {
            on_hand: delta,
            ..Default::default()
        };
        let source = Source {
            reason,
            document_type: "InventoryItem",
            document_id: source_item.id,
            memo: None,
        };
        let booking = Booking::new(product_id, location, movement)
            .from_source(source)
            .refused_at(Field::of("quantity"));
        apply(txn, outbox, actor, booking).await?;
    }
    let entry = serials::last_ledger_entry(txn, product_id, from).await?;
    let cause = serials::Cause::ledger(SerialMovementKind::Transferred, entry);
    serials::move_out(txn, actor, product_id, from, units, leaving, cause, field).await?;
    let target = item_at(txn, product_id, to).await?;
    Ok(vec![source_item.id, target.id])
}

/// Moving quantity into or out of reserved and picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitmentKind {
    Reserve,
    Release,
    Pick,
    Unpick,
}

impl CommitmentKind {
    /// The idempotency operation (named as first stored).
    fn operation(self) -> &'static str {
        match self {
            CommitmentKind::Reserve => "reserveInventory",
            CommitmentKind::Release => "releaseReservation",
            CommitmentKind::Pick => "pickInventory",
            CommitmentKind::Unpick => "unpickInventory",
        }
    }

    /// What it does to the item: `quantity` into or out of reserved or picked.
    fn movement(self, quantity: Fixed4) -> Movement {
        let back = Fixed4(-quantity.0);
        match self {
            CommitmentKind::Reserve => Movement {
                reserved: quantity,
                ..Default::default()
            },
            CommitmentKind::Release => Movement {
                reserved: back,
                ..Default::default()
            },
            CommitmentKind::Pick => Movement {
                picked: quantity,
                ..Default::default()
            },
            CommitmentKind::Unpick => Movement {
                picked: back,
                ..Default::default()
            },
        }
    }
}

/// Reserves, releases, picks or unpicks `quantity` of the item at (product, location), for a
/// job when one is named.
#[derive(Clone, Debug)]
pub struct Commitment {
    pub kind: CommitmentKind,
    pub product_id: i32,
    pub location_id: i32,
    pub quantity: Decimal,
    pub job_id: Option<i32>,
    pub idempotency_key: Option<String>,
}

/// Reserves, releases, picks or unpicks `quantity` of the item: never beyond what is available
/// (reserve, pick) or what is reserved or picked (release, unpick).
pub async fn commit_stock(
    uc: UseCase<'_>,
    input: Commitment,
) -> Result<inventory_item::Model, ServiceError> {
    let Commitment {
        kind,
        product_id,
        location_id,
        quantity,
        job_id,
        ..
    } = input;
    let idempotency = Idempotency::new(
        uc,
        kind.operation(),
        input.idempotency_key.as_deref(),
        json!({ "productId": product_id, "locationId": location_id,
                "quantity": d(Some(quantity)), "jobId": job_id }),
    )?;
    // Every violation of the input and of the product, location and job is gathered first.
    let mut v = Violations::new();
    let quantity = v.check(moved_quantity(quantity), Field::of("quantity"));
    let actor = uc.actor.clone();
    once_one(uc, idempotency, move |txn, outbox| {
        Box::pin(async move {
            // In the input's order: product, location, quantity, job.
            let location = [(location_id, "location_id")];
            let (_, mut v) = check_named(txn, product_id, &location, v).await?;
            if let Some(job) = job_id {
                if entity::job::Entity::find_by_id(job)
                    .one(txn)
                    .await?
                    .is_none()
                {
                    v.add(ViolationCode::NotFound, Field::of("job_id"), "no such job");
                }
            }
            let quantity = stored(v.done(quantity)?)?;
            let booking = Booking::new(product_id, location_id, kind.movement(quantity))
                .refused_at(Field::of("quantity"));
            apply(txn, outbox, &actor, booking).await?;
            Ok(vec![item_at(txn, product_id, location_id).await?.id])
        })
    })
    .await
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
    let mut due = Vec::new();
    for item in items {
        let pending = Fixed4(
            pending
                .get(&(item.product_id, item.location_id))
                .copied()
                .unwrap_or_default(),
        );
        if let Some(quantity) = reorder_quantity(
            item.on_hand.to_decimal(),
            item.on_order.to_decimal(),
            pending.to_decimal(),
            item.minimum.to_decimal(),
            item.maximum.map(Fixed4::to_decimal),
        ) {
            let quantity = Fixed4::from_decimal(quantity).map_err(|e| {
                ServiceError::Internal(format!("a reorder quantity does not fit: {e}"))
            })?;
            due.push(Suggestion {
                item,
                pending,
                quantity,
            });
        }
    }
    Ok(due)
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

/// A reference table whose row types or books the reorder's orders (purchase-order types,
/// business units).
trait Reference: EntityTrait {
    /// Its `active` column.
    fn active() -> Self::Column;
    /// Its `id` column.
    fn id() -> Self::Column;
    /// The row's id and whether it is active.
    fn state(row: &Self::Model) -> (i32, bool);
}

impl Reference for entity::purchase_order_type::Entity {
    fn active() -> Self::Column {
        entity::purchase_order_type::Column::Active
    }
    fn id() -> Self::Column {
        entity::purchase_order_type::Column::Id
    }
    fn state(row: &Self::Model) -> (i32, bool) {
        (row.id, row.active)
    }
}

impl Reference for entity::business_unit::Entity {
    fn active() -> Self::Column {
        entity::business_unit::Column::Active
    }
    fn id() -> Self::Column {
        entity::business_unit::Column::Id
    }
    fn state(row: &Self::Model) -> (i32, bool) {
        (row.id, row.active)
    }
}

/// The given row of `E`, which must exist and be active; when none is given, the first active
/// one (refused on `field` when there is none).
async fn active_or_first<E>(
    txn: &impl ConnectionTrait,
    given: Option<i32>,
    field: Field,
    what: &str,
) -> Result<i32, ServiceError>
where
    E: Reference,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i32>,
{
    let Some(id) = given else {
        let first = E::find()
            .filter(E::active().eq(true))
            .order_by_asc(E::id())
            .one(txn)
            .await?;
        return first.map(|row| E::state(&row).0).ok_or_else(|| {
            ServiceError::user(
                ViolationCode::InvalidInput,
                field,
                format!("there is no active {what} to use"),
            )
        });
    };
    let row = E::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| not_found(field.clone(), what))?;
    if !E::state(&row).1 {
        return Err(ServiceError::user(
            ViolationCode::ReferenceInactive,
            field,
            format!("the {what} is inactive"),
        ));
    }
    Ok(id)
}

/// Turns the reorder suggestions (of one location, or all) into PENDING purchase orders of
/// the given type and business unit (the first active ones when not given).
#[derive(Clone, Copy, Debug, Default)]
pub struct Reorder {
    pub location_id: Option<i32>,
    pub type_id: Option<i32>,
    pub business_unit_id: Option<i32>,
}

/// Turns reorder suggestions (optionally of one location) into PENDING purchase orders, one per
/// preferred vendor and location, typed and booked as given (the first active type and business
/// unit when not). Items whose product or location is inactive, whose product has no active
/// preferred vendor, or whose order is refused are reported in `skipped`; the other orders are
/// still created.
pub async fn create_reorder_orders(
    uc: UseCase<'_>,
    input: Reorder,
) -> Result<Reordered, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let type_id = active_or_first::<entity::purchase_order_type::Entity>(
        &txn,
        input.type_id,
        Field::of("type_id"),
        "purchase order type",
    )
    .await?;
    let business_unit_id = active_or_first::<entity::business_unit::Entity>(
        &txn,
        input.business_unit_id,
        Field::of("business_unit_id"),
        "business unit",
    )
    .await?;
    // Read inside the write transaction, so a concurrent reorder cannot count the same need.
    let due = due_items(&txn, input.location_id, false).await?;
    let (groups, mut skipped) = route(&txn, due).await?;
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
        match place_order(uc, &txn, &mut outbox, order).await? {
            Ok(po) => purchase_orders.push(po),
            Err(why) => skipped.extend(suggestions.into_iter().map(|suggestion| Skipped {
                suggestion,
                reason: SkipReason::OrderRefused,
                message: format!("the order could not be made: {why}"),
            })),
        }
    }
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(Reordered {
        purchase_orders,
        skipped,
    })
}

/// Creates one reorder purchase order in its own savepoint, so that one refused (say, its
/// vendor bills in another currency and needs an exchange rate) is reported and the others
/// still stand: the order, or why it was refused.
async fn place_order(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    order: NewPurchaseOrder,
) -> Result<Result<entity::purchase_order::Model, String>, ServiceError> {
    let savepoint = txn.begin().await?;
    match purchasing::create_in(uc, &savepoint, outbox, order).await {
        Ok(po) => {
            commit(savepoint).await?;
            Ok(Ok(po))
        }
        Err(ServiceError::Rejected(errors)) => {
            savepoint.rollback().await?;
            let why = errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            Ok(Err(why))
        }
        Err(other) => Err(other),
    }
}

/// The due items grouped by the (preferred vendor, location) whose order they join, and
/// those skipped with the reason ([`reorder_vendor`]).
async fn route(
    txn: &impl ConnectionTrait,
    due: Vec<Suggestion>,
) -> Result<(BTreeMap<(i32, i32), Vec<Suggestion>>, Vec<Skipped>), ServiceError> {
    let products: HashMap<i32, entity::product::Model> = entity::product::Entity::find()
        .filter(entity::product::Column::Id.is_in(due.iter().map(|s| s.item.product_id)))
        .all(txn)
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
            .all(txn)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
    let vendors: HashMap<i32, entity::vendor::Model> = entity::vendor::Entity::find()
        .filter(
            entity::vendor::Column::Id
                .is_in(products.values().filter_map(|p| p.preferred_vendor_id)),
        )
        .all(txn)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let mut groups: BTreeMap<(i32, i32), Vec<Suggestion>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for suggestion in due {
        let product = products.get(&suggestion.item.product_id);
        let location = locations.get(&suggestion.item.location_id);
        // A product or location that is gone (never, with the foreign keys) blocks nothing
        // itself: the missing preferred vendor says why the item is skipped.
        let candidate = ReorderCandidate {
            sku: product.map(|p| p.sku.as_str()).unwrap_or_default(),
            product_active: product.is_none_or(|p| p.active),
            location_code: location.map(|l| l.code.as_str()).unwrap_or_default(),
            location_active: location.is_none_or(|l| l.active),
            vendor: product
                .and_then(|p| p.preferred_vendor_id)
                .and_then(|v| vendors.get(&v))
                .map(|v| PreferredVendor {
                    id: v.id,
                    code: &v.code,
                    active: v.active,
                }),
        };
        match reorder_vendor(&candidate) {
            Ok(vendor_id) => {
                let key = (vendor_id, suggestion.item.location_id);
                groups.entry(key).or_default().push(suggestion);
            }
            Err((reason, message)) => skipped.push(Skipped {
                suggestion,
                reason,
                message,
            }),
        }
    }
    Ok((groups, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_and_pick_take_stock_that_release_and_unpick_give_back() {
        let q = Fixed4(20_000);
        let back = Fixed4(-20_000);
        assert_eq!(CommitmentKind::Reserve.movement(q).reserved, q);
        assert_eq!(CommitmentKind::Release.movement(q).reserved, back);
        assert_eq!(CommitmentKind::Pick.movement(q).picked, q);
        assert_eq!(CommitmentKind::Unpick.movement(q).picked, back);
        assert!(CommitmentKind::Pick.movement(q).reserved.is_zero());
    }

    #[test]
    fn an_adjustment_is_either_a_change_or_a_count_and_every_bad_field_is_reported() {
        let adjustment = Adjustment {
            product_id: 1,
            location_id: 1,
            delta: Some(Decimal::ONE),
            counted_quantity: Some(Decimal::ONE),
            reason: AdjustmentReason::Other,
            expected_on_hand: None,
            memo: None,
            serial_numbers: None,
            idempotency_key: None,
        };
        let mut v = Violations::new();
        assert!(adjustment.check(&mut v).is_none());
        let Err(ServiceError::Rejected(rejections)) = v.finish() else {
            panic!("refused");
        };
        let fields: Vec<Field> = rejections.into_iter().map(|r| r.field).collect();
        assert_eq!(fields, [Field::whole(), Field::of("memo")]);
    }

    #[test]
    fn item_settings_left_out_stay_and_bad_ones_are_each_reported() {
        let mut v = Violations::new();
        let keep = ItemSettings::default().check(&mut v).unwrap();
        assert!(keep.minimum.is_none() && keep.maximum.is_none() && keep.bin.is_none());
        let bad = ItemSettings {
            minimum: Some(-Decimal::ONE),
            maximum: Some(Some(-Decimal::ONE)),
            ..ItemSettings::default()
        };
        let mut v = Violations::new();
        assert!(bad.check(&mut v).is_none());
        let Err(ServiceError::Rejected(rejections)) = v.finish() else {
            panic!("refused");
        };
        assert_eq!(rejections.len(), 2);
    }
}
