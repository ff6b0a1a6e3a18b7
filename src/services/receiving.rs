//! Receiving and cancelling receipts (DOMAIN.md, Receiving), and finalizing with backorders.
//! Each use case locks the purchase order first; what a delivery writes is planned by the
//! domain ([`crate::domain::receiving::plan`]) from what is read under that lock, then written
//! here: quantities move by conditional updates; the bill, ledger entries and events are
//! written in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::enums::{JobMaterialStatus, SerialMovementKind, SerialStatus};
use entity::{bill, purchase_order, purchase_order_line, receipt, receipt_line, Fixed4};
use rust_decimal::Decimal;
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::auth::Actor;
use crate::db::begin_write;
use crate::domain::purchasing::{self as rules, Action, PoStatus};
use crate::domain::receiving::{
    check_line_count, normalize_serial, over_receipt_percent, plan, Delivery, LinePart, Order,
    OrderLine, Place, PlannedLine, ReceiptPlan, Refusal, StockedSerials,
};
use crate::domain::violation::ViolationCode;
use crate::error::{Field, ServiceError};
use crate::events::{EventKind, Outbox};
use crate::services::bills;
use crate::services::commit;
use crate::services::feed;
use crate::services::idempotency::Idempotency;
use crate::services::inventory::{
    apply, apply_all, Booking, LedgerReason, Movement, Source, ROWS_PER_INSERT,
};
use crate::services::not_found;
use crate::services::purchasing::{
    lines_of, lock_by_touching, negate, open_units, record_status_event, rule, set_status,
};
use crate::services::serials;
use crate::services::{next_counter, next_counters, now, UseCase, Violations};

pub use crate::domain::receiving::ReceiveLine;

/// A delivery against a purchase order.
#[derive(Clone, Debug, Default)]
pub struct NewReceipt {
    pub purchase_order_id: i32,
    pub lines: Vec<ReceiveLine>,
    pub packing_slip: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub freight: Option<Decimal>,
    pub idempotency_key: Option<String>,
}

impl NewReceipt {
    /// The request as its idempotency key remembers it. The names are those of keys stored
    /// already, so a retry across an upgrade still matches.
    fn fingerprint(&self) -> serde_json::Value {
        let d = |v: Decimal| v.normalize().to_string();
        json!({
            "purchaseOrderId": self.purchase_order_id,
            "packingSlip": self.packing_slip,
            "receivedAt": self.received_at.map(|t| t.to_rfc3339()),
            "freight": self.freight.map(d),
            "lines": self.lines.iter().map(|l| json!({
                "lineId": l.line_id,
                "quantity": d(l.quantity),
                "rejectedQuantity": l.rejected_quantity.map(d),
                "rejectionReason": l.rejection_reason,
                "serialNumbers": l.serial_numbers,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The idempotency scopes of the use cases here, as stored with their keys (the API's
/// operation names when keys were first kept): renaming one would turn a retry into a conflict.
const RECEIVE_SCOPE: &str = "receivePurchaseOrder";
const CANCEL_SCOPE: &str = "cancelReceipt";

/// What a receive or cancel produced: the receipt, the bill (or credit) and the order.
#[derive(Clone, Debug)]
pub struct ReceiptOutcome {
    pub receipt: receipt::Model,
    pub bill: Option<bill::Model>,
    pub purchase_order: purchase_order::Model,
}

/// Where a place in a delivery is in [`NewReceipt`].
fn field(place: Place) -> Field {
    let line = |i: usize, name| Field::of("lines").at(i).then(name);
    match place {
        Place::Lines => Field::of("lines"),
        Place::Line(i, LinePart::LineId) => line(i, "line_id"),
        Place::Line(i, LinePart::Quantity) => line(i, "quantity"),
        Place::Line(i, LinePart::RejectedQuantity) => line(i, "rejected_quantity"),
        Place::Line(i, LinePart::RejectionReason) => line(i, "rejection_reason"),
        Place::Line(i, LinePart::SerialNumbers) => line(i, "serial_numbers"),
        Place::PackingSlip => Field::of("packing_slip"),
        Place::ReceivedAt => Field::of("received_at"),
        Place::Freight => Field::of("freight"),
    }
}

/// The refusal of a delivery breaking `refusals`, each on its field, once.
fn refused(refusals: Vec<Refusal>) -> ServiceError {
    let mut v = Violations::new();
    for r in refusals {
        v.add(r.violation.code, field(r.place), r.violation.message);
    }
    match v.finish() {
        Err(err) => err,
        Ok(()) => ServiceError::Internal("a delivery refused without a reason".into()),
    }
}

/// The field of a cancellation's receipt.
fn receipt_field() -> Field {
    Field::of("receipt_id")
}

/// A quantity the domain checked, in its column. Parsed quantities and money always fit.
fn stored(value: Decimal) -> Result<Fixed4, ServiceError> {
    Fixed4::from_decimal(value).map_err(|e| {
        ServiceError::Internal(format!("a checked quantity {value} does not fit: {e}"))
    })
}

/// A line's allowance limit in its column, for the write's re-check. A limit past the
/// column's range limits nothing a line can hold, so it is the largest the column stores.
fn stored_limit(limit: Decimal) -> Fixed4 {
    Fixed4::from_decimal(limit).unwrap_or(Fixed4(i64::MAX))
}

async fn outcome(
    txn: &impl sea_orm::ConnectionTrait,
    receipt_id: i32,
    bill_id: Option<i32>,
) -> Result<ReceiptOutcome, ServiceError> {
    let receipt = receipt::Entity::find_by_id(receipt_id)
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::Internal(format!("receipt {receipt_id} vanished")))?;
    let bill = match bill_id {
        Some(id) => bill::Entity::find_by_id(id).one(txn).await?,
        None => None,
    };
    let purchase_order = purchase_order::Entity::find_by_id(receipt.purchase_order_id)
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("purchase order vanished".into()))?;
    Ok(ReceiptOutcome {
        receipt,
        bill,
        purchase_order,
    })
}

/// The receipt and bill (or credit) of this request's first run, when its idempotency key
/// says it was done already.
async fn replayed(
    txn: &DatabaseTransaction,
    idempotency: Option<&Idempotency>,
) -> Result<Option<(i32, Option<i32>)>, ServiceError> {
    let Some(idempotency) = idempotency else {
        return Ok(None);
    };
    let Some(stored) = idempotency.replay(txn).await? else {
        return Ok(None);
    };
    let receipt = stored["receiptId"]
        .as_i64()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| ServiceError::Internal("stored response without receipt".into()))?;
    let bill = stored["billId"]
        .as_i64()
        .and_then(|id| i32::try_from(id).ok());
    Ok(Some((receipt, bill)))
}

/// Answers a replayed request with its first outcome, the records as they are now. Taking the
/// order's lock bumped its version ([`lock_by_touching`]), so the transaction is rolled back
/// first: a replay writes nothing and shows the order as committed.
async fn answer_again(
    uc: UseCase<'_>,
    txn: DatabaseTransaction,
    (receipt, bill): (i32, Option<i32>),
) -> Result<ReceiptOutcome, ServiceError> {
    txn.rollback().await?;
    outcome(uc.db, receipt, bill).await
}

/// Remembers the outcome under the request's idempotency key, if it has one.
async fn remember(
    txn: &DatabaseTransaction,
    idempotency: Option<&Idempotency>,
    receipt_id: i32,
    bill_id: Option<i32>,
) -> Result<(), ServiceError> {
    match idempotency {
        Some(idempotency) => {
            let response = json!({ "receiptId": receipt_id, "billId": bill_id });
            idempotency.remember(txn, response).await
        }
        None => Ok(()),
    }
}

/// Re-derives the status of `po` (locked, its version bumped, by [`lock_by_touching`]) from the
/// lines after quantities moved (`after`, as this transaction left them: nothing is read
/// back), records a status event when it changed, and keeps job materials in step. Returns the
/// order as written.
async fn settle(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    po: &purchase_order::Model,
    before: &[purchase_order_line::Model],
    after: &[purchase_order_line::Model],
) -> Result<purchase_order::Model, ServiceError> {
    let quantities: Vec<_> = after
        .iter()
        .map(|l| (l.quantity.to_decimal(), l.quantity_received.to_decimal()))
        .collect();
    let derived = rules::derive_receiving_status(&quantities);
    let current = PoStatus::from(po.status);
    // The version was bumped when the order was locked ([`lock_by_touching`]).
    let written = if derived == current {
        po.clone()
    } else {
        let written = set_status(txn, po, derived).await?;
        record_status_event(txn, outbox, po, Some(current), derived, uc.actor).await?;
        written
    };
    follow_completion(txn, before, after).await?;
    Ok(written)
}

/// Keeps job materials FULFILLED exactly while their line is fully received: the materials of
/// the lines this change completed become FULFILLED, those of the lines it reopened ORDERED
/// again, in one statement; none when no line crossed (the usual partial receipt), since the
/// others' materials are in step already.
async fn follow_completion(
    txn: &DatabaseTransaction,
    before: &[purchase_order_line::Model],
    after: &[purchase_order_line::Model],
) -> Result<(), ServiceError> {
    use entity::job_material::Column as M;
    let complete = |l: &purchase_order_line::Model| l.quantity_received >= l.quantity;
    let was_complete =
        |line: &purchase_order_line::Model| before.iter().any(|b| b.id == line.id && complete(b));
    let (completed, reopened): (Vec<_>, Vec<_>) = after
        .iter()
        .filter(|l| complete(l) != was_complete(l))
        .partition(|l| complete(l));
    let ids = |lines: Vec<&purchase_order_line::Model>| -> Vec<i32> {
        lines.iter().map(|l| l.id).collect()
    };
    let (completed, reopened) = (ids(completed), ids(reopened));
    if completed.is_empty() && reopened.is_empty() {
        return Ok(());
    }
    entity::job_material::Entity::update_many()
        .col_expr(
            M::Status,
            CaseStatement::new()
                .case(
                    M::PurchaseOrderLineId.is_in(completed.clone()),
                    Expr::value(JobMaterialStatus::Fulfilled),
                )
                .finally(Expr::value(JobMaterialStatus::Ordered))
                .into(),
        )
        .col_expr(M::UpdatedAt, Expr::value(now()))
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(M::Status.eq(JobMaterialStatus::Ordered))
                        .add(M::PurchaseOrderLineId.is_in(completed)),
                )
                .add(
                    Condition::all()
                        .add(M::Status.eq(JobMaterialStatus::Fulfilled))
                        .add(M::PurchaseOrderLineId.is_in(reopened)),
                ),
        )
        .exec(txn)
        .await?;
    Ok(())
}

/// What a change of `received` (accepted units, negative when a receipt is cancelled) on a
/// line read before the change does to its item: on hand moves by it, on order (and
/// back-ordered, on a backorder) by the change of the line's open quantity.
fn receipt_movement(
    po: &purchase_order::Model,
    line: &purchase_order_line::Model,
    received: Fixed4,
) -> Movement {
    let before = open_units(line.quantity, line.quantity_received);
    let after = open_units(line.quantity, Fixed4(line.quantity_received.0 + received.0));
    let on_order = Fixed4(after.0 - before.0);
    let backordered = if po.backorder_of_id.is_some() {
        on_order
    } else {
        Fixed4::ZERO
    };
    Movement {
        on_hand: received,
        on_order,
        backordered,
        ..Default::default()
    }
}

/// An order line with its product and location.
type LineRow = (
    purchase_order_line::Model,
    entity::product::Model,
    entity::inventory_location::Model,
);

/// Every line of the order with its product and location, in line-number order: all that
/// receiving validates, in one statement.
async fn lines_with_products(
    txn: &DatabaseTransaction,
    po_id: i32,
) -> Result<Vec<LineRow>, ServiceError> {
    purchase_order_line::Entity::find()
        .filter(purchase_order_line::Column::PurchaseOrderId.eq(po_id))
        .order_by_asc(purchase_order_line::Column::LineNumber)
        .find_also_related(entity::product::Entity)
        .find_also_related(entity::inventory_location::Entity)
        .all(txn)
        .await?
        .into_iter()
        .map(|(line, product, location)| {
            let product =
                product.ok_or_else(|| ServiceError::Internal("line product vanished".into()))?;
            let location =
                location.ok_or_else(|| ServiceError::Internal("line location vanished".into()))?;
            Ok((line, product, location))
        })
        .collect()
}

/// A line of the order as the domain checks a delivery against it.
fn order_line(
    uc: UseCase<'_>,
    line: &purchase_order_line::Model,
    product: &entity::product::Model,
    location: &entity::inventory_location::Model,
) -> OrderLine {
    OrderLine {
        id: line.id,
        line_number: line.line_number,
        product_id: line.product_id,
        serialized: product.serialized,
        ordered: line.quantity.to_decimal(),
        received: line.quantity_received.to_decimal(),
        allowance_percent: over_receipt_percent(
            product
                .over_receipt_allowance_percent
                .map(|p| p.to_decimal()),
            uc.business.over_receipt_percent,
        ),
        location_code: location.code.clone(),
        location_active: location.active,
    }
}

/// The units a delivery names for serialized products that are in stock already, in one read
/// per [`ROWS_PER_INSERT`] serials (none for a delivery without serials).
async fn stocked_serials(
    txn: &DatabaseTransaction,
    order_lines: &[OrderLine],
    delivery: &[ReceiveLine],
) -> Result<StockedSerials, ServiceError> {
    use entity::serial_number::Column as S;
    let mut products = Vec::new();
    let mut named = Vec::new();
    for entry in delivery {
        if let Some(line) = order_lines
            .iter()
            .find(|l| l.id == entry.line_id && l.serialized)
        {
            products.push(line.product_id);
            named.extend(
                entry
                    .serial_numbers
                    .iter()
                    .flatten()
                    .map(|s| normalize_serial(s)),
            );
        }
    }
    let mut stocked = StockedSerials::default();
    named.sort_unstable();
    named.dedup();
    for chunk in named.chunks(ROWS_PER_INSERT) {
        let units = entity::serial_number::Entity::find()
            .filter(S::ProductId.is_in(products.clone()))
            .filter(S::Normalized.is_in(chunk.to_vec()))
            .filter(S::Status.eq(SerialStatus::InStock))
            .all(txn)
            .await?;
        if units.is_empty() {
            // The usual case: none of the named units is in stock, so there is nowhere to name.
            continue;
        }
        let codes: HashMap<i32, String> = entity::inventory_location::Entity::find()
            .filter(
                entity::inventory_location::Column::Id
                    .is_in(units.iter().filter_map(|u| u.location_id)),
            )
            .all(txn)
            .await?
            .into_iter()
            .map(|l| (l.id, l.code))
            .collect();
        for unit in units {
            let location = unit.location_id.and_then(|id| codes.get(&id));
            let location = location.map_or("nowhere", String::as_str);
            stocked.add(unit.product_id, &unit.serial_number, location);
        }
    }
    Ok(stocked)
}

/// What every write of one receipt (received or cancelled) works on.
#[derive(Clone, Copy)]
struct ReceiptWrite<'a> {
    uc: UseCase<'a>,
    txn: &'a DatabaseTransaction,
    po: &'a purchase_order::Model,
    receipt: &'a receipt::Model,
}

impl ReceiptWrite<'_> {
    /// The receipt as the ledger's source of a stock change for `reason`.
    fn source(&self, reason: LedgerReason) -> Source<'static> {
        Source {
            reason,
            document_type: "Receipt",
            document_id: self.receipt.id,
            memo: None,
        }
    }
}

/// A planned line with the order line it receives on, in stored units.
struct Receiving<'a> {
    planned: &'a PlannedLine,
    line: &'a purchase_order_line::Model,
    accepted: Fixed4,
    rejected: Fixed4,
    limit: Fixed4,
}

impl Receiving<'_> {
    /// Where a refusal of this line's accepted quantity points.
    fn quantity_field(&self) -> Field {
        field(Place::Line(self.planned.index, LinePart::Quantity))
    }
}

/// The plan's lines with their order lines.
fn receiving<'a>(
    plan: &'a ReceiptPlan,
    lines: &'a [purchase_order_line::Model],
) -> Result<Vec<Receiving<'a>>, ServiceError> {
    plan.lines
        .iter()
        .map(|planned| {
            let line = lines
                .iter()
                .find(|l| l.id == planned.line_id)
                .ok_or_else(|| ServiceError::Internal("a planned line vanished".into()))?;
            Ok(Receiving {
                planned,
                line,
                accepted: stored(planned.accepted.get())?,
                rejected: stored(planned.rejected.get())?,
                limit: stored_limit(planned.limit),
            })
        })
        .collect()
}

/// Writes the receipt, numbered on from the order's earlier ones. A receipt that accepts
/// something also draws its bill's number, in the same statement; returns it with the receipt.
async fn write_receipt(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    plan: &ReceiptPlan,
) -> Result<(receipt::Model, Option<i64>), ServiceError> {
    let receipts = format!("RCV-{}", po.id);
    let bills = bills::counter(po.id);
    let (n, bill_sequence) = if plan.accepts_anything() {
        match next_counters(txn, &[&receipts, &bills]).await?[..] {
            [n, bill] => (n, Some(bill)),
            _ => {
                return Err(ServiceError::Internal(
                    "two counters, not two values".into(),
                ))
            }
        }
    } else {
        (next_counter(txn, &receipts).await?, None)
    };
    let receipt = receipt::ActiveModel {
        number: Set(format!("{}-R{n}", po.number)),
        purchase_order_id: Set(po.id),
        packing_slip: Set(plan.packing_slip.clone()),
        received_at: Set(plan.received_at),
        received_by: Set(uc.actor.subject.clone()),
        freight: Set(stored(plan.freight.get())?),
        canceled_at: Set(None),
        canceled_by: Set(None),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok((receipt, bill_sequence))
}

/// Writes the receipt's lines and their units' serials, each kind in multi-row statements;
/// returns the lines as written.
async fn write_receipt_lines(
    txn: &DatabaseTransaction,
    receipt: &receipt::Model,
    receiving: &[Receiving<'_>],
) -> Result<Vec<receipt_line::Model>, ServiceError> {
    let rows: Vec<receipt_line::ActiveModel> = receiving
        .iter()
        .map(|r| receipt_line::ActiveModel {
            receipt_id: Set(receipt.id),
            purchase_order_line_id: Set(r.line.id),
            // Kept with the receipt: the history never reads them through the order line.
            product_id: Set(r.line.product_id),
            location_id: Set(r.line.location_id),
            quantity: Set(r.accepted),
            rejected_quantity: Set(r.rejected),
            rejection_reason: Set(r.planned.reason.clone()),
            unit_cost: Set(r.line.unit_cost),
            ..Default::default()
        })
        .collect();
    let mut saved: Vec<receipt_line::Model> = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        saved.extend(
            receipt_line::Entity::insert_many(chunk.to_vec())
                .exec_with_returning(txn)
                .await?,
        );
    }
    // Each order line appears once, so the rows returned are matched back by it.
    let mut units = Vec::new();
    for r in receiving {
        let receipt_line_id = saved
            .iter()
            .find(|s| s.purchase_order_line_id == r.line.id)
            .map(|s| s.id)
            .ok_or_else(|| ServiceError::Internal("receipt line not written".into()))?;
        units.extend(
            r.planned
                .serials
                .iter()
                .map(|serial| entity::receipt_serial::ActiveModel {
                    receipt_line_id: Set(receipt_line_id),
                    serial_number: Set(serial.clone()),
                    ..Default::default()
                }),
        );
    }
    for chunk in units.chunks(ROWS_PER_INSERT) {
        entity::receipt_serial::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(saved)
}

/// Raises the received quantity of every line the receipt accepts something on, in one
/// conditional statement: each by its accepted quantity, and only while it stays within its
/// allowance. Returns the lines as written.
async fn raise_received(
    txn: &DatabaseTransaction,
    receiving: &[Receiving<'_>],
) -> Result<Vec<purchase_order_line::Model>, ServiceError> {
    use purchase_order_line::Column as L;
    let moving: Vec<&Receiving<'_>> = receiving.iter().filter(|r| !r.accepted.is_zero()).collect();
    if moving.is_empty() {
        return Ok(Vec::new());
    }
    let mut by = CaseStatement::new();
    let mut limit = CaseStatement::new();
    for r in &moving {
        by = by.case(L::Id.eq(r.line.id), Expr::val(r.accepted.0));
        limit = limit.case(L::Id.eq(r.line.id), Expr::val(r.limit.0));
    }
    let raised = Expr::col(L::QuantityReceived).add(by.finally(Expr::val(0i64)));
    let written = purchase_order_line::Entity::update_many()
        .col_expr(L::QuantityReceived, raised.clone())
        .col_expr(L::UpdatedAt, Expr::value(now()))
        .filter(L::Id.is_in(moving.iter().map(|r| r.line.id)))
        .filter(raised.lte(limit.finally(Expr::val(0i64))))
        .exec_with_returning(txn)
        .await?;
    // A line missing from the rows written is one a writer that bypassed the order's lock
    // received meanwhile.
    if let Some(r) = moving
        .iter()
        .find(|r| !written.iter().any(|w| w.id == r.line.id))
    {
        return Err(ServiceError::user(
            ViolationCode::OverReceipt,
            r.quantity_field(),
            "the line was received meanwhile; this would exceed its allowance",
        ));
    }
    Ok(written)
}

/// Books what the receipt accepts: received quantities, stock and the ledger, and the units'
/// serials. Returns the order's lines as the receipt leaves them, without reading them back.
async fn book_receipt(
    w: &ReceiptWrite<'_>,
    outbox: &mut Outbox,
    receiving: &[Receiving<'_>],
    lines: &[purchase_order_line::Model],
) -> Result<Vec<purchase_order_line::Model>, ServiceError> {
    let raised = raise_received(w.txn, receiving).await?;
    let source = w.source(LedgerReason::Receipt);
    let accepting = || receiving.iter().filter(|r| !r.accepted.is_zero());
    // Receiving only adds stock, so nothing here is refused: there is no one field to name.
    let moves: Vec<Booking<'_>> = accepting()
        .map(|r| {
            let movement = receipt_movement(w.po, r.line, r.accepted);
            Booking::new(r.line.product_id, r.line.location_id, movement).from_source(source)
        })
        .collect();
    apply_all(w.txn, outbox, w.uc.actor, &moves).await?;
    // After the items' update, as every use case does: rows are locked item before serial.
    for r in accepting() {
        let at = field(Place::Line(r.planned.index, LinePart::SerialNumbers));
        let cause = serials::Cause::receipt(SerialMovementKind::Received, w.receipt.id);
        let (product, location) = (r.line.product_id, r.line.location_id);
        let units = &r.planned.serials;
        serials::bring_in(w.txn, w.uc.actor, product, location, units, cause, at).await?;
    }
    Ok(lines
        .iter()
        .map(|l| raised.iter().find(|r| r.id == l.id).unwrap_or(l).clone())
        .collect())
}

/// Checks the delivery against the order's lines as locked (`rows`): what the receipt writes,
/// or every rule it breaks.
async fn plan_delivery(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    rows: &[LineRow],
    input: &NewReceipt,
) -> Result<ReceiptPlan, ServiceError> {
    let order_lines: Vec<OrderLine> = rows
        .iter()
        .map(|(line, product, location)| order_line(uc, line, product, location))
        .collect();
    let stocked = stocked_serials(txn, &order_lines, &input.lines).await?;
    let delivery = Delivery {
        lines: &input.lines,
        packing_slip: input.packing_slip.as_deref(),
        received_at: input.received_at.unwrap_or_else(now),
        freight: input.freight,
    };
    let order = Order {
        lines: &order_lines,
        submitted_at: po.submitted_at,
        stocked: &stocked,
        now: now(),
    };
    plan(&delivery, &order).map_err(refused)
}

/// Issues the bill of the receipt just written (`saved`, its lines) as bill number `sequence`
/// of the order, from `vendor`, with the order's lines as it leaves them.
async fn bill_receipt(
    w: &ReceiptWrite<'_>,
    outbox: &mut Outbox,
    saved: &[receipt_line::Model],
    lines_after: &[purchase_order_line::Model],
    vendor: &entity::vendor::Model,
    sequence: i64,
) -> Result<bill::Model, ServiceError> {
    let bill =
        bills::issue_for_new_receipt(w.txn, w.po, w.receipt, saved, lines_after, vendor, sequence)
            .await?;
    bills::record_issued(w.txn, outbox, &bill, None, w.uc.actor).await?;
    Ok(bill)
}

/// Receives one delivery: raises the lines' received quantities and on-hand, lowers on-order,
/// writes the ledger, re-derives the status and issues the bill, all in one transaction. Every
/// rule the delivery breaks is reported at once, before anything is written.
pub async fn receive(uc: UseCase<'_>, input: NewReceipt) -> Result<ReceiptOutcome, ServiceError> {
    let key = input.idempotency_key.as_deref();
    let idempotency = Idempotency::new(uc, RECEIVE_SCOPE, key, input.fingerprint())?;
    check_line_count(input.lines.len()).map_err(|r| refused(vec![r]))?;
    let txn = begin_write(uc.db).await?;
    // Read before the order's lock, so the receipts queued on it do not wait for this read.
    let vendor = bills::vendor_of_order(&txn, input.purchase_order_id).await?;
    let po = lock_by_touching(
        &txn,
        input.purchase_order_id,
        uc.actor,
        Field::of("purchase_order_id"),
    )
    .await?;
    if let Some(first) = replayed(&txn, idempotency.as_ref()).await? {
        return answer_again(uc, txn, first).await;
    }
    let vendor = match vendor {
        Some(vendor) if vendor.id == po.vendor_id => vendor,
        // The order changed vendor before its lock was taken.
        _ => bills::vendor_of(&txn, &po).await?,
    };
    let rows = lines_with_products(&txn, po.id).await?;
    let lines: Vec<purchase_order_line::Model> = rows.iter().map(|(l, _, _)| l.clone()).collect();
    rule(Action::Receive, &po, &lines)?;
    let plan = plan_delivery(uc, &txn, &po, &rows, &input).await?;
    // Every event of the receipt is written in one statement, with the receipt's own.
    let mut outbox = Outbox::deferred();
    let (receipt, bill_sequence) = write_receipt(uc, &txn, &po, &plan).await?;
    let receiving = receiving(&plan, &lines)?;
    let saved = write_receipt_lines(&txn, &receipt, &receiving).await?;
    let write = ReceiptWrite {
        uc,
        txn: &txn,
        po: &po,
        receipt: &receipt,
    };
    let lines_after = book_receipt(&write, &mut outbox, &receiving, &lines).await?;
    let purchase_order = settle(uc, &txn, &mut outbox, &po, &lines, &lines_after).await?;
    let bill = match bill_sequence {
        Some(sequence) => {
            Some(bill_receipt(&write, &mut outbox, &saved, &lines_after, &vendor, sequence).await?)
        }
        None => None,
    };
    let bill_id = bill.as_ref().map(|b| b.id);
    let created = EventKind::ReceiptCreated;
    feed::record_receipt(
        &txn,
        &mut outbox,
        created,
        &receipt,
        po.vendor_id,
        bill_id,
        uc.actor,
    )
    .await?;
    remember(&txn, idempotency.as_ref(), receipt.id, bill_id).await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(ReceiptOutcome {
        receipt,
        bill,
        purchase_order,
    })
}

/// Locks the order of receipt `receipt_id`, which must exist.
async fn lock_order_of(
    txn: &DatabaseTransaction,
    receipt_id: i32,
    actor: &Actor,
) -> Result<purchase_order::Model, ServiceError> {
    let found = receipt::Entity::find_by_id(receipt_id)
        .one(txn)
        .await?
        .ok_or_else(|| not_found(receipt_field(), "receipt"))?;
    lock_by_touching(txn, found.purchase_order_id, actor, receipt_field()).await
}

/// Receipt `receipt_id` as it is under its order's lock, when it is not cancelled yet.
async fn cancellable(
    txn: &DatabaseTransaction,
    receipt_id: i32,
) -> Result<receipt::Model, ServiceError> {
    let receipt = receipt::Entity::find_by_id(receipt_id)
        .one(txn)
        .await?
        .ok_or_else(|| not_found(receipt_field(), "receipt"))?;
    if receipt.canceled_at.is_some() {
        return Err(ServiceError::user(
            ViolationCode::ReceiptAlreadyCanceled,
            receipt_field(),
            format!("receipt {} was already cancelled", receipt.number),
        ));
    }
    Ok(receipt)
}

/// Marks the receipt cancelled, unless a concurrent cancellation did first.
async fn mark_canceled(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    receipt: &receipt::Model,
) -> Result<(), ServiceError> {
    let marked = receipt::Entity::update_many()
        .col_expr(receipt::Column::CanceledAt, Expr::value(now()))
        .col_expr(
            receipt::Column::CanceledBy,
            Expr::value(uc.actor.subject.clone()),
        )
        .filter(receipt::Column::Id.eq(receipt.id))
        .filter(receipt::Column::CanceledAt.is_null())
        .exec(txn)
        .await?;
    if marked.rows_affected != 1 {
        return Err(ServiceError::user(
            ViolationCode::ReceiptAlreadyCanceled,
            receipt_field(),
            "the receipt was cancelled meanwhile",
        ));
    }
    Ok(())
}

/// The serials each of these receipt lines brought in, by receipt line, in the order received.
async fn units_of(
    txn: &DatabaseTransaction,
    received: &[receipt_line::Model],
) -> Result<HashMap<i32, Vec<String>>, ServiceError> {
    use entity::receipt_serial::{Column, Entity};
    let mut units: HashMap<i32, Vec<String>> = HashMap::new();
    for unit in Entity::find()
        .filter(Column::ReceiptLineId.is_in(received.iter().map(|r| r.id)))
        .order_by_asc(Column::Id)
        .all(txn)
        .await?
    {
        units
            .entry(unit.receipt_line_id)
            .or_default()
            .push(unit.serial_number);
    }
    Ok(units)
}

/// The units a receipt line brought in.
fn units_in<'a>(units: &'a HashMap<i32, Vec<String>>, entry: &receipt_line::Model) -> &'a [String] {
    units.get(&entry.id).map(Vec::as_slice).unwrap_or_default()
}

/// Its units leave stock with the receipt, so each must still be where it brought it: every
/// line's missing units are reported at once.
async fn check_units_present(
    txn: &DatabaseTransaction,
    receipt: &receipt::Model,
    received: &[receipt_line::Model],
    units: &HashMap<i32, Vec<String>>,
) -> Result<(), ServiceError> {
    let mut v = Violations::new();
    for entry in received {
        let leaving = serials::Leaving::Receipt(receipt.id);
        let (product, location) = (entry.product_id, entry.location_id);
        let named = units_in(units, entry);
        let present = serials::check_out(txn, product, location, named, leaving, receipt_field());
        v.take(present.await)?;
    }
    v.finish()
}

/// The order's lines as cancelling `received` leaves them.
fn lowered(
    lines: &[purchase_order_line::Model],
    received: &[receipt_line::Model],
) -> Result<Vec<purchase_order_line::Model>, ServiceError> {
    let mut after = lines.to_vec();
    for entry in received {
        if let Some(line) = after
            .iter_mut()
            .find(|l| l.id == entry.purchase_order_line_id)
        {
            line.quantity_received = line
                .quantity_received
                .0
                .checked_sub(entry.quantity.0)
                .map(Fixed4)
                .ok_or_else(|| ServiceError::Internal("received quantity overflowed".into()))?;
        }
    }
    Ok(after)
}

/// Takes back what one receipt line accepted: the order line's received quantity, the stock
/// with a reversing ledger entry, and the units.
async fn reverse_line(
    w: &ReceiptWrite<'_>,
    outbox: &mut Outbox,
    line: &purchase_order_line::Model,
    entry: &receipt_line::Model,
    units: &[String],
) -> Result<(), ServiceError> {
    use purchase_order_line::Column as L;
    let lowered = purchase_order_line::Entity::update_many()
        .col_expr(
            L::QuantityReceived,
            Expr::col(L::QuantityReceived).sub(entry.quantity.0),
        )
        .col_expr(L::UpdatedAt, Expr::value(now()))
        .filter(L::Id.eq(line.id))
        .filter(L::QuantityReceived.gte(entry.quantity))
        .exec(w.txn)
        .await?;
    if lowered.rows_affected != 1 {
        return Err(ServiceError::Internal(format!(
            "line {} has less received than receipt {} holds",
            line.id, w.receipt.id
        )));
    }
    let movement = receipt_movement(w.po, line, negate(entry.quantity));
    let source = w.source(LedgerReason::ReceiptCanceled);
    let (product, location) = (line.product_id, line.location_id);
    let booking = Booking::new(product, location, movement)
        .from_source(source)
        .refused_at(receipt_field());
    apply(w.txn, outbox, w.uc.actor, booking).await?;
    let leaving = serials::Leaving::Receipt(w.receipt.id);
    let cause = serials::Cause::receipt(SerialMovementKind::ReceiptCanceled, w.receipt.id);
    let (product, location) = (entry.product_id, entry.location_id);
    serials::move_out(
        w.txn,
        w.uc.actor,
        product,
        location,
        units,
        leaving,
        cause,
        receipt_field(),
    )
    .await
}

/// Issues the credit against the receipt's bill. A receipt that accepted nothing was never
/// billed, so there is nothing to credit.
async fn credit_receipt(
    w: &ReceiptWrite<'_>,
    outbox: &mut Outbox,
    received: &[receipt_line::Model],
) -> Result<Option<i32>, ServiceError> {
    if received.iter().all(|r| r.quantity.is_zero()) {
        return Ok(None);
    }
    let original = bills::open_bill_of(w.txn, w.receipt.id)
        .await?
        .ok_or_else(|| {
            ServiceError::Internal(format!("receipt {} has no open bill", w.receipt.id))
        })?;
    let credit = bills::credit(w.txn, w.po, &original).await?;
    bills::record_issued(w.txn, outbox, &credit, None, w.uc.actor).await?;
    Ok(Some(credit.id))
}

/// Reverses a receipt whole: received quantities and on-hand go down, on-order back up,
/// reversing ledger entries, the status re-derived, and a credit against the receipt's bill.
pub async fn cancel_receipt(
    uc: UseCase<'_>,
    receipt_id: i32,
    idempotency_key: Option<&str>,
) -> Result<ReceiptOutcome, ServiceError> {
    let fingerprint = json!({ "receiptId": receipt_id });
    let idempotency = Idempotency::new(uc, CANCEL_SCOPE, idempotency_key, fingerprint)?;
    let txn = begin_write(uc.db).await?;
    let po = lock_order_of(&txn, receipt_id, uc.actor).await?;
    if let Some(first) = replayed(&txn, idempotency.as_ref()).await? {
        return answer_again(uc, txn, first).await;
    }
    let receipt = cancellable(&txn, receipt_id).await?;
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::CancelReceipt, &po, &lines)?;
    mark_canceled(uc, &txn, &receipt).await?;
    let received = receipt_line::Entity::find()
        .filter(receipt_line::Column::ReceiptId.eq(receipt.id))
        .all(&txn)
        .await?;
    let units = units_of(&txn, &received).await?;
    check_units_present(&txn, &receipt, &received, &units).await?;
    // Every event of the cancellation is written in one statement, with the receipt's own.
    let mut outbox = Outbox::deferred();
    let write = ReceiptWrite {
        uc,
        txn: &txn,
        po: &po,
        receipt: &receipt,
    };
    let accepted: Vec<receipt_line::Model> = received
        .into_iter()
        .filter(|r| !r.quantity.is_zero())
        .collect();
    for entry in &accepted {
        let line = lines
            .iter()
            .find(|l| l.id == entry.purchase_order_line_id)
            .ok_or_else(|| {
                ServiceError::Internal(format!("receipt line {} lost its PO line", entry.id))
            })?;
        let units = units_in(&units, entry);
        reverse_line(&write, &mut outbox, line, entry, units).await?;
    }
    settle(
        uc,
        &txn,
        &mut outbox,
        &po,
        &lines,
        &lowered(&lines, &accepted)?,
    )
    .await?;
    let credit_id = credit_receipt(&write, &mut outbox, &accepted).await?;
    let canceled = EventKind::ReceiptCanceled;
    feed::record_receipt(
        &txn,
        &mut outbox,
        canceled,
        &receipt,
        po.vendor_id,
        credit_id,
        uc.actor,
    )
    .await?;
    remember(&txn, idempotency.as_ref(), receipt.id, credit_id).await?;
    let result = outcome(&txn, receipt.id, credit_id).await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(result)
}
