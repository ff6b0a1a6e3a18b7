//! Receiving, cancelling receipts and finalizing with backorders (DOMAIN.md, Receiving and
//! Purchase order lifecycle). Each use case locks the purchase order first; quantities move by
//! conditional updates; the bill, ledger entries and events are written in the same transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::enums::{JobMaterialStatus, PurchaseOrderStatus as Status, SerialMovementKind};
use entity::{bill, purchase_order, purchase_order_line, receipt, receipt_line, Fixed4};
use rust_decimal::Decimal;
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::purchasing::{self as rules, open_quantity, Action};
use crate::domain::receiving::{allowance_limit, check_serials, over_receipt_percent};
use crate::domain::validate;
use crate::error::{ServiceError, UserErrorCode};
use crate::events::{EventKind, Outbox};
use crate::services::bills;
use crate::services::commit;
use crate::services::feed;
use crate::services::idempotency::Idempotency;
use crate::services::inventory::{
    apply, apply_all, LedgerReason, Move, Movement, Source, ROWS_PER_INSERT,
};
use crate::services::master_data::not_found;
use crate::services::purchasing::{
    lines_of, lock_purchase_order, negate, next_backorder_number, next_counter,
    record_status_event, rule, settle_short_material, touch, UseCase,
};
use crate::services::serials;
use crate::services::{fixed, invalid, now, Violations};

/// One line of a delivery.
#[derive(Clone, Debug, Default)]
pub struct ReceiveLine {
    pub line_id: i32,
    /// Accepted quantity: enters stock and the bill.
    pub quantity: Decimal,
    /// Delivered but refused; recorded with a reason.
    pub rejected_quantity: Option<Decimal>,
    pub rejection_reason: Option<String>,
    /// One per accepted unit of a serialized product.
    pub serial_numbers: Option<Vec<String>>,
}

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

/// What a receive or cancel produced: the receipt, the bill (or credit) and the order.
#[derive(Clone, Debug)]
pub struct ReceiptOutcome {
    pub receipt: receipt::Model,
    pub bill: Option<bill::Model>,
    pub purchase_order: purchase_order::Model,
}

/// A line checked and ready to write.
struct Checked<'a> {
    line: &'a purchase_order_line::Model,
    accepted: Fixed4,
    rejected: Fixed4,
    reason: Option<String>,
    serials: Vec<String>,
    limit: Fixed4,
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

fn replayed(stored: &serde_json::Value) -> Result<(i32, Option<i32>), ServiceError> {
    let receipt = stored["receiptId"]
        .as_i64()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| ServiceError::Internal("stored response without receipt".into()))?;
    let bill = stored["billId"]
        .as_i64()
        .and_then(|id| i32::try_from(id).ok());
    Ok((receipt, bill))
}

/// Re-derives the status from the lines after quantities moved (`lines`, as this transaction
/// left them: nothing is read back), bumps the version, records a status event when it
/// changed, and keeps job materials in step (FULFILLED exactly while their line is fully
/// received). Returns the order as written.
async fn settle(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    po: &purchase_order::Model,
    lines: &[purchase_order_line::Model],
) -> Result<purchase_order::Model, ServiceError> {
    let quantities: Vec<_> = lines
        .iter()
        .map(|l| (l.quantity.to_decimal(), l.quantity_received.to_decimal()))
        .collect();
    let derived = rules::derive_receiving_status(&quantities);
    let written = if derived == po.status {
        touch_returning(txn, po, uc.actor, None).await?
    } else {
        let written = touch_returning(txn, po, uc.actor, Some(derived)).await?;
        record_status_event(txn, outbox, po, Some(po.status), derived, uc.actor).await?;
        written
    };
    use entity::job_material::Column as M;
    let (complete, open): (Vec<_>, Vec<_>) = lines
        .iter()
        .partition(|l| l.quantity_received >= l.quantity);
    let complete: Vec<i32> = complete.iter().map(|l| l.id).collect();
    let open: Vec<i32> = open.iter().map(|l| l.id).collect();
    // Both directions in one statement: ORDERED materials of complete lines become FULFILLED,
    // FULFILLED ones of open lines ORDERED again.
    entity::job_material::Entity::update_many()
        .col_expr(
            M::Status,
            CaseStatement::new()
                .case(
                    M::PurchaseOrderLineId.is_in(complete.clone()),
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
                        .add(M::PurchaseOrderLineId.is_in(complete)),
                )
                .add(
                    Condition::all()
                        .add(M::Status.eq(JobMaterialStatus::Fulfilled))
                        .add(M::PurchaseOrderLineId.is_in(open)),
                ),
        )
        .exec(txn)
        .await?;
    Ok(written)
}

/// [`touch`] that returns the order as written (`RETURNING`), so the use case answers with it
/// without reading it again.
async fn touch_returning(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    actor: &crate::auth::Actor,
    status: Option<Status>,
) -> Result<purchase_order::Model, ServiceError> {
    let mut update = purchase_order::Entity::update_many()
        .col_expr(
            purchase_order::Column::Version,
            Expr::col(purchase_order::Column::Version).add(1),
        )
        .col_expr(
            purchase_order::Column::UpdatedBy,
            Expr::value(actor.subject.clone()),
        )
        .col_expr(purchase_order::Column::UpdatedAt, Expr::value(now()));
    if let Some(status) = status {
        update = update.col_expr(purchase_order::Column::Status, Expr::value(status));
    }
    update
        .filter(purchase_order::Column::Id.eq(po.id))
        .filter(purchase_order::Column::Version.eq(po.version))
        .exec_with_returning(txn)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            ServiceError::user(
                UserErrorCode::StaleVersion,
                "input",
                "the purchase order changed meanwhile: reload it and try again",
            )
        })
}

/// What a change of `received` (accepted units, negative when a receipt is cancelled) on a
/// line read before the change does to its item: on hand moves by it, on order (and
/// back-ordered, on a backorder) by the change of the line's open quantity.
fn receipt_movement(
    po: &purchase_order::Model,
    line: &purchase_order_line::Model,
    received: Fixed4,
) -> Movement {
    let before = open_quantity(line.quantity, line.quantity_received);
    let after = open_quantity(line.quantity, Fixed4(line.quantity_received.0 + received.0));
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

/// Every line of the order with its product and location, in line-number order: all that
/// receiving validates, in one statement.
async fn lines_with_products(
    txn: &DatabaseTransaction,
    po_id: i32,
) -> Result<
    Vec<(
        purchase_order_line::Model,
        entity::product::Model,
        entity::inventory_location::Model,
    )>,
    ServiceError,
> {
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

/// Raises the received quantity of every line the receipt accepts something on, in one
/// conditional statement: each by its accepted quantity, and only while it stays within its
/// allowance. Returns the lines as written.
async fn raise_received(
    txn: &DatabaseTransaction,
    checked: &[Checked<'_>],
) -> Result<Vec<purchase_order_line::Model>, ServiceError> {
    use purchase_order_line::Column as L;
    let moving: Vec<(usize, &Checked<'_>)> = checked
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.accepted.is_zero())
        .collect();
    if moving.is_empty() {
        return Ok(Vec::new());
    }
    let mut by = CaseStatement::new();
    let mut limit = CaseStatement::new();
    for (_, c) in &moving {
        by = by.case(L::Id.eq(c.line.id), Expr::val(c.accepted.0));
        limit = limit.case(L::Id.eq(c.line.id), Expr::val(c.limit.0));
    }
    let raised = Expr::col(L::QuantityReceived).add(by.finally(Expr::val(0i64)));
    let written = purchase_order_line::Entity::update_many()
        .col_expr(L::QuantityReceived, raised.clone())
        .col_expr(L::UpdatedAt, Expr::value(now()))
        .filter(L::Id.is_in(moving.iter().map(|(_, c)| c.line.id)))
        .filter(raised.lte(limit.finally(Expr::val(0i64))))
        .exec_with_returning(txn)
        .await?;
    // A line missing from the rows written is one a writer that bypassed the order's lock
    // received meanwhile.
    if let Some((i, _)) = moving
        .iter()
        .find(|(_, c)| !written.iter().any(|w| w.id == c.line.id))
    {
        return Err(ServiceError::user(
            UserErrorCode::OverReceipt,
            &format!("input.lines.{i}.quantity"),
            "the line was received meanwhile; this would exceed its allowance",
        ));
    }
    Ok(written)
}

/// Books a change of `received` (accepted units, negative when a receipt is cancelled) on a
/// line read before the change: on hand moves by it, on order (and back-ordered, on a
/// backorder) by the change of the line's open quantity.
#[allow(clippy::too_many_arguments)]
async fn book_receipt_line(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    po: &purchase_order::Model,
    line: &purchase_order_line::Model,
    received: Fixed4,
    source: Source<'_>,
    field: &str,
) -> Result<(), ServiceError> {
    let movement = receipt_movement(po, line, received);
    apply(
        txn,
        outbox,
        uc.actor,
        line.product_id,
        line.location_id,
        movement,
        Some(source),
        field,
    )
    .await
}

/// Receives one delivery: raises the lines' received quantities and on-hand, lowers on-order,
/// writes the ledger, re-derives the status and issues the bill, all in one transaction.
pub async fn receive(uc: UseCase<'_>, input: NewReceipt) -> Result<ReceiptOutcome, ServiceError> {
    let idempotency = Idempotency::new(
        uc,
        "receivePurchaseOrder",
        input.idempotency_key.as_deref(),
        input.fingerprint(),
    )?;
    if input.lines.len() > 500 {
        // Checking thousands of lines would only lengthen the answer: refused outright.
        return Err(invalid("input.lines", "a receipt holds at most 500 lines"));
    }
    // Every violation of the header and of all lines is gathered before anything is written.
    let mut v = Violations::new();
    if input.lines.is_empty() {
        v.add(
            UserErrorCode::InvalidInput,
            "input.lines",
            "a receipt needs at least one line",
        );
    }
    let received_at = input.received_at.unwrap_or_else(now);

    let txn = begin_write(uc.db).await?;
    let po = lock_purchase_order(&txn, input.purchase_order_id, "input.purchaseOrderId").await?;
    if let Some(idempotency) = &idempotency {
        if let Some(stored) = idempotency.replay(&txn).await? {
            let (receipt, bill) = replayed(&stored)?;
            return outcome(&txn, receipt, bill).await;
        }
    }
    let rows = lines_with_products(&txn, po.id).await?;
    let lines: Vec<purchase_order_line::Model> = rows.iter().map(|(l, _, _)| l.clone()).collect();
    rule(Action::Receive, &po, &lines)?;
    let by_id: HashMap<i32, &purchase_order_line::Model> =
        lines.iter().map(|l| (l.id, l)).collect();
    let related: HashMap<i32, (&entity::product::Model, &entity::inventory_location::Model)> =
        rows.iter().map(|(l, p, loc)| (l.id, (p, loc))).collect();
    let mut seen = HashSet::new();
    let mut checked = Vec::with_capacity(input.lines.len());
    for (i, entry) in input.lines.iter().enumerate() {
        let f = |name: &str| format!("input.lines.{i}.{name}");
        // The line must be one of this order's, named once; the checks of what depends on it
        // wait for that.
        let line = match by_id.get(&entry.line_id).copied() {
            None => {
                v.add(
                    UserErrorCode::NotFound,
                    &f("lineId"),
                    "no such line of this purchase order",
                );
                None
            }
            Some(line) if !seen.insert(line.id) => {
                v.add(
                    UserErrorCode::InvalidInput,
                    &f("lineId"),
                    "a line may appear only once in a receipt",
                );
                None
            }
            Some(line) => Some(line),
        };
        let accepted = match v.check(
            validate::non_negative(entry.quantity, "quantity"),
            &f("quantity"),
        ) {
            Some(accepted) => v.take(fixed(accepted, &f("quantity")))?,
            None => None,
        };
        let rejected = match v.check(
            validate::non_negative(
                entry.rejected_quantity.unwrap_or_default(),
                "rejected quantity",
            ),
            &f("rejectedQuantity"),
        ) {
            Some(rejected) => v.take(fixed(rejected, &f("rejectedQuantity")))?,
            None => None,
        };
        if accepted.is_some_and(|a| a.is_zero()) && rejected.is_some_and(|r| r.is_zero()) {
            v.add(
                UserErrorCode::InvalidInput,
                &f("quantity"),
                "receive a quantity greater than zero",
            );
        }
        let reason = v.check(
            validate::optional_text(entry.rejection_reason.as_deref(), "rejection reason", 500),
            &f("rejectionReason"),
        );
        if rejected.is_some_and(|r| !r.is_zero()) && reason.as_ref().is_some_and(Option::is_none) {
            v.add(
                UserErrorCode::InvalidInput,
                &f("rejectionReason"),
                "say why the quantity was rejected",
            );
        }
        let Some(line) = line else {
            continue;
        };
        let (product, location) = related
            .get(&line.id)
            .copied()
            .ok_or_else(|| ServiceError::Internal("line product vanished".into()))?;
        if !location.active {
            v.add(
                UserErrorCode::LocationInactive,
                &f("lineId"),
                format!(
                    "location {} is inactive: nothing can be received there",
                    location.code
                ),
            );
        }
        // The accepted quantity decides the serials expected and the allowance left.
        let Some(accepted) = accepted else {
            continue;
        };
        let serials = v.check(
            check_serials(
                product.serialized,
                accepted.to_decimal(),
                entry.serial_numbers.as_deref().unwrap_or_default(),
            ),
            &f("serialNumbers"),
        );
        if let Some(serials) = &serials {
            v.take(serials::check_in(&txn, product.id, serials, &f("serialNumbers")).await)?;
        }
        let percent = over_receipt_percent(
            product
                .over_receipt_allowance_percent
                .map(|p| p.to_decimal()),
            uc.business.over_receipt_percent,
        );
        let limit = allowance_limit(line.quantity, percent);
        if line.quantity_received.0 + accepted.0 > limit.0 {
            v.add(
                UserErrorCode::OverReceipt,
                &f("quantity"),
                format!(
                    "line {} ordered {}, received {} so far; at most {} may be received in all",
                    line.line_number,
                    line.quantity.to_decimal(),
                    line.quantity_received.to_decimal(),
                    limit.to_decimal()
                ),
            );
        }
        let (Some(rejected), Some(reason), Some(serials)) = (rejected, reason, serials) else {
            continue;
        };
        checked.push(Checked {
            line,
            accepted,
            rejected,
            reason,
            serials,
            limit,
        });
    }
    // The header after the lines, as in the input.
    let packing_slip = v.check(
        validate::optional_text(input.packing_slip.as_deref(), "packing slip", 100),
        "input.packingSlip",
    );
    if received_at > now() + chrono::Duration::minutes(5) {
        v.add(
            UserErrorCode::InvalidInput,
            "input.receivedAt",
            "a receipt cannot be in the future",
        );
    } else if po
        .submitted_at
        .is_some_and(|submitted| received_at < submitted)
    {
        v.add(
            UserErrorCode::InvalidInput,
            "input.receivedAt",
            "a receipt cannot be dated before the purchase order was submitted",
        );
    }
    let freight = match v.check(
        validate::money(input.freight.unwrap_or_default(), "freight"),
        "input.freight",
    ) {
        Some(freight) => v.take(fixed(freight, "input.freight"))?,
        None => None,
    };
    let (packing_slip, freight) = v.done((packing_slip, freight))?;

    // DOMAIN.md: only accepted quantity is billed, and a receipt that accepts nothing issues no
    // bill (not a 0.00 one).
    let accepts_anything = checked.iter().any(|c| !c.accepted.is_zero());
    let n = next_counter(&txn, &format!("RCV-{}", po.id)).await?;
    let receipt = receipt::ActiveModel {
        number: Set(format!("{}-R{n}", po.number)),
        purchase_order_id: Set(po.id),
        packing_slip: Set(packing_slip),
        received_at: Set(received_at),
        received_by: Set(uc.actor.subject.clone()),
        freight: Set(freight),
        canceled_at: Set(None),
        canceled_by: Set(None),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut outbox = Outbox::deferred();
    // The receipt's lines in one multi-row statement; each order line appears once, so the
    // rows returned are matched back by it.
    let rows: Vec<receipt_line::ActiveModel> = checked
        .iter()
        .map(|c| receipt_line::ActiveModel {
            receipt_id: Set(receipt.id),
            purchase_order_line_id: Set(c.line.id),
            // Kept with the receipt: the history never reads them through the order line.
            product_id: Set(c.line.product_id),
            location_id: Set(c.line.location_id),
            quantity: Set(c.accepted),
            rejected_quantity: Set(c.rejected),
            rejection_reason: Set(c.reason.clone()),
            unit_cost: Set(c.line.unit_cost),
            ..Default::default()
        })
        .collect();
    let mut saved: Vec<receipt_line::Model> = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        saved.extend(
            receipt_line::Entity::insert_many(chunk.to_vec())
                .exec_with_returning(&txn)
                .await?,
        );
    }
    let saved_id: HashMap<i32, i32> = saved
        .iter()
        .map(|r| (r.purchase_order_line_id, r.id))
        .collect();
    let mut units = Vec::new();
    for c in &checked {
        let receipt_line_id = saved_id
            .get(&c.line.id)
            .copied()
            .ok_or_else(|| ServiceError::Internal("receipt line not written".into()))?;
        units.extend(
            c.serials
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
            .exec_without_returning(&txn)
            .await?;
    }
    let raised = raise_received(&txn, &checked).await?;
    let source = Source {
        reason: LedgerReason::Receipt,
        document_type: "Receipt",
        document_id: receipt.id,
        memo: None,
    };
    let moves: Vec<Move<'_>> = checked
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.accepted.is_zero())
        .map(|(i, c)| Move {
            product_id: c.line.product_id,
            location_id: c.line.location_id,
            movement: receipt_movement(&po, c.line, c.accepted),
            source: Some(source),
            field: format!("input.lines.{i}.quantity"),
        })
        .collect();
    apply_all(&txn, &mut outbox, uc.actor, &moves).await?;
    // After the items' update, as every use case does: rows are locked item before serial.
    for (i, c) in checked.iter().enumerate() {
        if c.accepted.is_zero() {
            continue;
        }
        serials::bring_in(
            &txn,
            uc.actor,
            c.line.product_id,
            c.line.location_id,
            &c.serials,
            serials::Cause::receipt(SerialMovementKind::Received, receipt.id),
            &format!("input.lines.{i}.serialNumbers"),
        )
        .await?;
    }
    // The lines as this receipt leaves them, without reading them back.
    let lines_after: Vec<purchase_order_line::Model> = lines
        .iter()
        .map(|l| raised.iter().find(|r| r.id == l.id).unwrap_or(l).clone())
        .collect();
    let purchase_order = settle(uc, &txn, &mut outbox, &po, &lines_after).await?;
    let bill = if accepts_anything {
        let bill = bills::issue_for_new_receipt(&txn, &po, &receipt, &saved, &lines_after).await?;
        bills::record_issued(&txn, &mut outbox, &bill, None, uc.actor).await?;
        Some(bill)
    } else {
        None
    };
    let created = EventKind::ReceiptCreated;
    let vendor = po.vendor_id;
    feed::record_receipt(
        &txn,
        &mut outbox,
        created,
        &receipt,
        vendor,
        bill.as_ref().map(|b| b.id),
        uc.actor,
    )
    .await?;
    if let Some(idempotency) = &idempotency {
        idempotency
            .remember(
                &txn,
                json!({ "receiptId": receipt.id, "billId": bill.as_ref().map(|b| b.id) }),
            )
            .await?;
    }
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(ReceiptOutcome {
        receipt,
        bill,
        purchase_order,
    })
}

/// Reverses a receipt whole: received quantities and on-hand go down, on-order back up,
/// reversing ledger entries, the status re-derived, and a credit against the receipt's bill.
pub async fn cancel_receipt(
    uc: UseCase<'_>,
    receipt_id: i32,
    idempotency_key: Option<&str>,
) -> Result<ReceiptOutcome, ServiceError> {
    let idempotency = Idempotency::new(
        uc,
        "cancelReceipt",
        idempotency_key,
        json!({ "receiptId": receipt_id }),
    )?;
    let txn = begin_write(uc.db).await?;
    let found = receipt::Entity::find_by_id(receipt_id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("input.receiptId", "receipt"))?;
    let po = lock_purchase_order(&txn, found.purchase_order_id, "input.receiptId").await?;
    if let Some(idempotency) = &idempotency {
        if let Some(stored) = idempotency.replay(&txn).await? {
            let (receipt, bill) = replayed(&stored)?;
            return outcome(&txn, receipt, bill).await;
        }
    }
    // Re-read under the order's lock.
    let receipt = receipt::Entity::find_by_id(receipt_id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("input.receiptId", "receipt"))?;
    if receipt.canceled_at.is_some() {
        return Err(ServiceError::user(
            UserErrorCode::ReceiptAlreadyCanceled,
            "input.receiptId",
            format!("receipt {} was already cancelled", receipt.number),
        ));
    }
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::CancelReceipt, &po, &lines)?;
    let marked = receipt::Entity::update_many()
        .col_expr(receipt::Column::CanceledAt, Expr::value(now()))
        .col_expr(
            receipt::Column::CanceledBy,
            Expr::value(uc.actor.subject.clone()),
        )
        .filter(receipt::Column::Id.eq(receipt.id))
        .filter(receipt::Column::CanceledAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        return Err(ServiceError::user(
            UserErrorCode::ReceiptAlreadyCanceled,
            "input.receiptId",
            "the receipt was cancelled meanwhile",
        ));
    }
    let by_id: HashMap<i32, &purchase_order_line::Model> =
        lines.iter().map(|l| (l.id, l)).collect();
    let received = receipt_line::Entity::find()
        .filter(receipt_line::Column::ReceiptId.eq(receipt.id))
        .all(&txn)
        .await?;
    // Its units leave stock with it; one moved or written off since must come back first.
    let mut units: HashMap<i32, Vec<String>> = HashMap::new();
    for unit in entity::receipt_serial::Entity::find()
        .filter(entity::receipt_serial::Column::ReceiptLineId.is_in(received.iter().map(|r| r.id)))
        .order_by_asc(entity::receipt_serial::Column::Id)
        .all(&txn)
        .await?
    {
        units
            .entry(unit.receipt_line_id)
            .or_default()
            .push(unit.serial_number);
    }
    // Every line's missing units are reported at once.
    let mut v = Violations::new();
    for entry in &received {
        let named = units.get(&entry.id).map(Vec::as_slice).unwrap_or_default();
        v.take(
            serials::check_out(
                &txn,
                entry.product_id,
                entry.location_id,
                named,
                serials::Leaving::Receipt(receipt.id),
                "input.receiptId",
            )
            .await,
        )?;
    }
    v.finish()?;
    let mut outbox = Outbox::default();
    // The lines as the cancellation leaves them, for the status without reading them back.
    let mut lines_after = lines.clone();
    for entry in received.iter().filter(|r| !r.quantity.is_zero()) {
        if let Some(after) = lines_after
            .iter_mut()
            .find(|l| l.id == entry.purchase_order_line_id)
        {
            after.quantity_received = after
                .quantity_received
                .0
                .checked_sub(entry.quantity.0)
                .map(Fixed4)
                .ok_or_else(|| ServiceError::Internal("received quantity overflowed".into()))?;
        }
    }
    for entry in received.iter().filter(|r| !r.quantity.is_zero()) {
        let line = by_id
            .get(&entry.purchase_order_line_id)
            .copied()
            .ok_or_else(|| {
                ServiceError::Internal(format!("receipt line {} lost its PO line", entry.id))
            })?;
        let lowered = purchase_order_line::Entity::update_many()
            .col_expr(
                purchase_order_line::Column::QuantityReceived,
                Expr::col(purchase_order_line::Column::QuantityReceived).sub(entry.quantity.0),
            )
            .col_expr(purchase_order_line::Column::UpdatedAt, Expr::value(now()))
            .filter(purchase_order_line::Column::Id.eq(line.id))
            .filter(purchase_order_line::Column::QuantityReceived.gte(entry.quantity))
            .exec(&txn)
            .await?;
        if lowered.rows_affected != 1 {
            return Err(ServiceError::Internal(format!(
                "line {} has less received than receipt {} holds",
                line.id, receipt.id
            )));
        }
        book_receipt_line(
            uc,
            &txn,
            &mut outbox,
            &po,
            line,
            negate(entry.quantity),
            Source {
                reason: LedgerReason::ReceiptCanceled,
                document_type: "Receipt",
                document_id: receipt.id,
                memo: None,
            },
            "input.receiptId",
        )
        .await?;
        serials::move_out(
            &txn,
            uc.actor,
            entry.product_id,
            entry.location_id,
            units.get(&entry.id).map(Vec::as_slice).unwrap_or_default(),
            serials::Leaving::Receipt(receipt.id),
            serials::Cause::receipt(SerialMovementKind::ReceiptCanceled, receipt.id),
            "input.receiptId",
        )
        .await?;
    }
    settle(uc, &txn, &mut outbox, &po, &lines_after).await?;
    // A receipt that accepted nothing was never billed, so there is nothing to credit.
    let credit_id = if received.iter().any(|r| !r.quantity.is_zero()) {
        let original = bills::open_bill_of(&txn, receipt.id)
            .await?
            .ok_or_else(|| {
                ServiceError::Internal(format!("receipt {} has no open bill", receipt.id))
            })?;
        let credit = bills::credit(&txn, &po, &original).await?;
        bills::record_issued(&txn, &mut outbox, &credit, None, uc.actor).await?;
        Some(credit.id)
    } else {
        None
    };
    let canceled = EventKind::ReceiptCanceled;
    let vendor = po.vendor_id;
    feed::record_receipt(
        &txn,
        &mut outbox,
        canceled,
        &receipt,
        vendor,
        credit_id,
        uc.actor,
    )
    .await?;
    if let Some(idempotency) = &idempotency {
        idempotency
            .remember(
                &txn,
                json!({ "receiptId": receipt.id, "billId": credit_id }),
            )
            .await?;
    }
    let result = outcome(&txn, receipt.id, credit_id).await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(result)
}

/// What finalizing produced.
#[derive(Clone, Debug)]
pub struct Finalized {
    pub purchase_order: purchase_order::Model,
    pub backorder: Option<purchase_order::Model>,
}

/// Closes a SUBMITTED, PARTIALLY_RECEIVED or RECEIVED order. With `create_backorder` and any
/// line short, the short quantities move to a new SUBMITTED backorder (numbered on from the
/// original order) together with their on-order; otherwise they are released from on-order.
pub async fn finalize(
    uc: UseCase<'_>,
    id: i32,
    create_backorder: bool,
) -> Result<Finalized, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let po = lock_purchase_order(&txn, id, "input.purchaseOrderId").await?;
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::Finalize, &po, &lines)?;
    let short: Vec<(&purchase_order_line::Model, Fixed4)> = lines
        .iter()
        .map(|l| (l, open_quantity(l.quantity, l.quantity_received)))
        .filter(|(_, open)| !open.is_zero())
        .collect();
    let at = now();
    let mut outbox = Outbox::default();
    purchase_order::Entity::update_many()
        .col_expr(purchase_order::Column::ClosedAt, Expr::value(at))
        .filter(purchase_order::Column::Id.eq(po.id))
        .exec(&txn)
        .await?;
    touch(&txn, &po, uc.actor, Some(Status::Closed)).await?;
    record_status_event(
        &txn,
        &mut outbox,
        &po,
        Some(po.status),
        Status::Closed,
        uc.actor,
    )
    .await?;

    let backorder = if create_backorder && !short.is_empty() {
        let root_id = po.backorder_root_id.unwrap_or(po.id);
        let root = purchase_order::Entity::find_by_id(root_id)
            .one(&txn)
            .await?
            .ok_or_else(|| ServiceError::Internal("backorder root vanished".into()))?;
        let number = next_backorder_number(&txn, &root).await?;
        let line_count = i32::try_from(short.len()).unwrap_or(i32::MAX);
        let mut model: purchase_order::ActiveModel = po.clone().into();
        model.id = sea_orm::ActiveValue::NotSet;
        model.number = Set(number);
        model.status = Set(Status::Submitted);
        model.version = Set(1);
        model.backorder_of_id = Set(Some(po.id));
        model.backorder_root_id = Set(Some(root_id));
        model.order_date = Set(at);
        model.submitted_at = Set(Some(at));
        model.exported_at = Set(None);
        model.closed_at = Set(None);
        model.canceled_at = Set(None);
        // The original's shipping was charged with it.
        model.shipping = Set(Fixed4::ZERO);
        model.next_line_number = Set(line_count + 1);
        model.created_by = Set(uc.actor.subject.clone());
        model.updated_by = Set(uc.actor.subject.clone());
        model.created_at = Set(at);
        model.updated_at = Set(at);
        let backorder = model.insert(&txn).await?;
        for (i, (line, open)) in short.iter().enumerate() {
            let mut copy: purchase_order_line::ActiveModel = (*line).clone().into();
            copy.id = sea_orm::ActiveValue::NotSet;
            copy.purchase_order_id = Set(backorder.id);
            copy.line_number = Set(i32::try_from(i).unwrap_or(i32::MAX) + 1);
            copy.quantity = Set(*open);
            copy.quantity_received = Set(Fixed4::ZERO);
            copy.created_at = Set(at);
            copy.updated_at = Set(at);
            let copy = copy.insert(&txn).await?;
            // The job material's open quantity follows the line to the backorder.
            settle_short_material(&txn, line, Some(copy.id)).await?;
            // On-order stays; it is now back-ordered (and no longer so on a closed backorder).
            let backordered = if po.backorder_of_id.is_some() {
                Fixed4::ZERO
            } else {
                *open
            };
            apply(
                &txn,
                &mut outbox,
                uc.actor,
                line.product_id,
                line.location_id,
                Movement {
                    backordered,
                    ..Default::default()
                },
                None,
                "input",
            )
            .await?;
        }
        record_status_event(
            &txn,
            &mut outbox,
            &backorder,
            None,
            Status::Submitted,
            uc.actor,
        )
        .await?;
        Some(backorder)
    } else {
        for (line, open) in &short {
            settle_short_material(&txn, line, None).await?;
            apply(
                &txn,
                &mut outbox,
                uc.actor,
                line.product_id,
                line.location_id,
                Movement::on_order(negate(*open), po.backorder_of_id.is_some()),
                None,
                "input",
            )
            .await?;
        }
        None
    };
    let purchase_order = purchase_order::Entity::find_by_id(po.id)
        .one(&txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("purchase order vanished".into()))?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(Finalized {
        purchase_order,
        backorder,
    })
}

/// The purchase order with this number, for finalizing by number.
pub async fn find_by_number(uc: UseCase<'_>, number: &str) -> Result<i32, ServiceError> {
    purchase_order::Entity::find()
        .filter(purchase_order::Column::Number.eq(number.trim().to_uppercase()))
        .one(uc.db)
        .await?
        .map(|po| po.id)
        .ok_or_else(|| not_found("input.number", "purchase order"))
}
