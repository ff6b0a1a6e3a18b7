//! Vendor bills: issued by receipts, credited by cancelled receipts, superseded by unit-cost and
//! tax-rate changes. Bills are never edited or deleted; the open bills of a purchase order always
//! sum to the value of what is received, rounded once (DOMAIN.md, Money and rounding): each new
//! bill, credit or replacement charges the order's rounded received value minus what its other
//! open bills already charge.

use chrono::{Days, NaiveDate};
use entity::enums::{BillKind, BillStatus};
use entity::{
    bill, bill_line, purchase_order, purchase_order_line, receipt, receipt_line, vendor, Fixed4,
};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::auth::Actor;
use crate::domain::money::{self, round_money, Overflow};
use crate::domain::totals::{bill_totals, Totals};
use crate::domain::violation::Violation;
use crate::error::{Field, ServiceError};
use crate::events::{EventKind, Outbox};
use crate::services::inventory::ROWS_PER_INSERT;
use crate::services::next_counter;
use crate::services::now;
use crate::services::sql_rules::integer_sum;

/// One line of a bill about to be written.
struct Charge {
    purchase_order_line_id: i32,
    receipt_line_id: i32,
    /// Product and location as received, kept on the bill line.
    product_id: i32,
    location_id: i32,
    quantity: Fixed4,
    unit_cost: Fixed4,
}

impl Charge {
    /// quantity × unit cost, exact.
    fn amount(&self) -> Result<Decimal, Overflow> {
        money::line_amount(self.quantity.to_decimal(), self.unit_cost.to_decimal())
    }
}

/// Σ exact amounts of `charges`.
fn value_of(charges: &[Charge]) -> Result<Decimal, Overflow> {
    charges
        .iter()
        .try_fold(Decimal::ZERO, |sum, c| money::add(sum, c.amount()?))
}

/// A bill that breaks a money rule refuses the use case that would issue it as a whole: no one
/// field of its command is at fault.
fn refused(violation: Violation) -> ServiceError {
    ServiceError::user(violation.code, Field::whole(), violation.message)
}

/// Amounts too large to compute refuse the use case that would bill them.
fn too_large(overflow: Overflow) -> ServiceError {
    refused(overflow.into())
}

/// `quantity` negated, for a credit.
fn negated(quantity: Fixed4) -> Result<Fixed4, ServiceError> {
    quantity
        .0
        .checked_neg()
        .map(Fixed4)
        .ok_or_else(|| too_large(Overflow))
}

/// A bill amount in its column; the document limit keeps it far inside the column's range.
fn stored(value: Decimal) -> Result<Fixed4, ServiceError> {
    Fixed4::from_decimal(value).map_err(|_| too_large(Overflow))
}

/// What a bill for `receipt` charges today: its accepted quantities at the lines' current costs.
async fn current_charges(
    txn: &DatabaseTransaction,
    receipt_id: i32,
) -> Result<Vec<Charge>, ServiceError> {
    let lines = receipt_line::Entity::find()
        .filter(receipt_line::Column::ReceiptId.eq(receipt_id))
        .filter(receipt_line::Column::Quantity.gt(Fixed4::ZERO))
        .order_by_asc(receipt_line::Column::Id)
        .find_also_related(purchase_order_line::Entity)
        .all(txn)
        .await?;
    lines
        .into_iter()
        .map(|(received, line)| {
            let line = line.ok_or_else(|| {
                ServiceError::Internal(format!("receipt line {} has no PO line", received.id))
            })?;
            Ok(Charge {
                purchase_order_line_id: line.id,
                receipt_line_id: received.id,
                product_id: received.product_id,
                location_id: received.location_id,
                quantity: received.quantity,
                unit_cost: line.unit_cost,
            })
        })
        .collect()
}

/// The exact value of everything received on the order and not cancelled, at the lines'
/// current costs (Σ quantity received × unit cost).
async fn received_value(txn: &DatabaseTransaction, po_id: i32) -> Result<Decimal, ServiceError> {
    let lines = purchase_order_line::Entity::find()
        .filter(purchase_order_line::Column::PurchaseOrderId.eq(po_id))
        .all(txn)
        .await?;
    value_received(&lines)
}

/// The exact value of these lines' received quantities at their unit costs.
fn value_received(lines: &[purchase_order_line::Model]) -> Result<Decimal, ServiceError> {
    money::value(
        lines
            .iter()
            .map(|l| (l.quantity_received.to_decimal(), l.unit_cost.to_decimal())),
    )
    .map_err(too_large)
}

/// Σ subtotal and Σ tax of the order's open bills and credits, summed by the database: an
/// order may carry thousands of bills, and each new one must not read them all. The stored
/// amounts are integers, so the sums are exact (and an overflow is an error, never a wrong sum).
async fn open_billed(
    txn: &DatabaseTransaction,
    po_id: i32,
) -> Result<(Decimal, Decimal), ServiceError> {
    let sums: Option<(i64, i64)> = bill::Entity::find()
        .select_only()
        .expr(integer_sum(Expr::col(bill::Column::Subtotal)))
        .expr(integer_sum(Expr::col(bill::Column::Tax)))
        .filter(bill::Column::PurchaseOrderId.eq(po_id))
        .filter(bill::Column::Status.eq(BillStatus::Open))
        .into_tuple()
        .one(txn)
        .await?;
    let (subtotal, tax) = sums.unwrap_or_default();
    Ok((Fixed4(subtotal).to_decimal(), Fixed4(tax).to_decimal()))
}

/// Where a bill's dates and remit-to come from.
#[derive(Clone, Copy)]
enum Issue<'a> {
    /// A new invoice dated `bill_date`: due after the vendor's payment terms of today, payable
    /// at the vendor's main address of today (the vendor as read by this transaction).
    Dated(NaiveDate, &'a vendor::Model),
    /// A replacement: the same invoice re-priced, so it keeps the dates and remit-to of the
    /// bill it replaces (DOMAIN.md, Bills).
    Replacing(&'a bill::Model),
}

/// The dates and remit-to of a bill about to be written.
struct Heading {
    bill_date: NaiveDate,
    due_date: NaiveDate,
    street: String,
    city: String,
    region: Option<String>,
    postal_code: String,
    country: String,
}

/// Where a bill's dates and remit-to come from: the bill it replaces, or its date and vendor.
fn heading(issue: Issue<'_>) -> Heading {
    match issue {
        Issue::Replacing(old) => Heading {
            bill_date: old.bill_date,
            due_date: old.due_date,
            street: old.remit_street.clone(),
            city: old.remit_city.clone(),
            region: old.remit_region.clone(),
            postal_code: old.remit_postal_code.clone(),
            country: old.remit_country.clone(),
        },
        Issue::Dated(bill_date, vendor) => Heading {
            bill_date,
            due_date: bill_date
                .checked_add_days(Days::new(
                    u64::try_from(vendor.payment_terms_days).unwrap_or(0),
                ))
                .unwrap_or(bill_date),
            street: vendor.street.clone(),
            city: vendor.city.clone(),
            region: vendor.region.clone(),
            postal_code: vendor.postal_code.clone(),
            country: vendor.country.clone(),
        },
    }
}

/// The vendor of order `po_id`, whose terms and address a new bill takes. A receipt reads it
/// before it locks the order: the vendor is not locked either way, and the read then costs
/// the order's other writers no time.
pub(crate) async fn vendor_of_order(
    txn: &DatabaseTransaction,
    po_id: i32,
) -> Result<Option<vendor::Model>, ServiceError> {
    Ok(vendor::Entity::find()
        .filter(
            vendor::Column::Id.in_subquery(
                Query::select()
                    .column(purchase_order::Column::VendorId)
                    .from(purchase_order::Entity)
                    .and_where(Expr::col(purchase_order::Column::Id).eq(po_id))
                    .to_owned(),
            ),
        )
        .one(txn)
        .await?)
}

/// The vendor of `po`, which exists (a foreign key).
pub(crate) async fn vendor_of(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
) -> Result<vendor::Model, ServiceError> {
    vendor::Entity::find_by_id(po.vendor_id)
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("the PO's vendor vanished".into()))
}

/// A bill or credit about to be written.
struct Document<'a> {
    receipt_id: i32,
    kind: BillKind,
    credit_of_id: Option<i32>,
    charges: &'a [Charge],
    freight: Fixed4,
    /// The order's exact received value once this document counts.
    received: Decimal,
    issue: Issue<'a>,
    /// The order's bill counter as the caller drew it already (a receipt draws its own number
    /// and its bill's in one statement); drawn here when `None`.
    sequence: Option<i64>,
}

/// The name of an order's bill counter (`BILL-{po number}-{n}` numbers its bills).
pub(crate) fn counter(po_id: i32) -> String {
    format!("BILL-{po_id}")
}

/// A document's subtotal, tax and total: `received` rounded once, minus what the order's
/// other open bills (`billed`) already charge, plus the freight; within the document limit.
fn amounts(
    po: &purchase_order::Model,
    doc: &Document<'_>,
    billed: (Decimal, Decimal),
) -> Result<(Fixed4, Fixed4, Fixed4), ServiceError> {
    let Totals {
        subtotal,
        tax,
        total,
        ..
    } = bill_totals(
        doc.received,
        po.tax_rate.to_decimal(),
        billed,
        doc.freight.to_decimal(),
    )
    .map_err(too_large)?;
    money::check_document_total(total).map_err(refused)?;
    Ok((stored(subtotal)?, stored(tax)?, stored(total)?))
}

/// Writes a bill (or credit) with its lines. Its subtotal and tax carry the order's rounding
/// ([`amounts`], DOMAIN.md, Money and rounding). The lines keep their exact amounts; the
/// stored line amount is that amount to cents.
async fn write_bill(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    doc: Document<'_>,
) -> Result<bill::Model, ServiceError> {
    let heading = heading(doc.issue);
    let billed = open_billed(txn, po.id).await?;
    let (subtotal, tax, total) = amounts(po, &doc, billed)?;
    let n = match doc.sequence {
        Some(n) => n,
        None => next_counter(txn, &counter(po.id)).await?,
    };
    let saved = bill::ActiveModel {
        number: Set(format!("BILL-{}-{n}", po.number)),
        kind: Set(doc.kind),
        status: Set(BillStatus::Open),
        vendor_id: Set(po.vendor_id),
        purchase_order_id: Set(po.id),
        receipt_id: Set(doc.receipt_id),
        credit_of_id: Set(doc.credit_of_id),
        superseded_by_id: Set(None),
        remit_street: Set(heading.street),
        remit_city: Set(heading.city),
        remit_region: Set(heading.region),
        remit_postal_code: Set(heading.postal_code),
        remit_country: Set(heading.country),
        bill_date: Set(heading.bill_date),
        due_date: Set(heading.due_date),
        currency: Set(po.currency.clone()),
        exchange_rate: Set(po.exchange_rate),
        tax_rate: Set(po.tax_rate),
        subtotal: Set(subtotal),
        tax: Set(tax),
        freight: Set(doc.freight),
        total: Set(total),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    write_bill_lines(txn, saved.id, doc.charges).await?;
    Ok(saved)
}

/// Writes a bill's lines in multi-row statements: a bill's lines cost one statement, not one
/// each.
async fn write_bill_lines(
    txn: &DatabaseTransaction,
    bill_id: i32,
    charges: &[Charge],
) -> Result<(), ServiceError> {
    let mut rows = Vec::with_capacity(charges.len());
    for charge in charges {
        rows.push(bill_line::ActiveModel {
            bill_id: Set(bill_id),
            purchase_order_line_id: Set(charge.purchase_order_line_id),
            receipt_line_id: Set(charge.receipt_line_id),
            product_id: Set(charge.product_id),
            location_id: Set(charge.location_id),
            quantity: Set(charge.quantity),
            unit_cost: Set(charge.unit_cost),
            amount: Set(stored(round_money(charge.amount().map_err(too_large)?))?),
            ..Default::default()
        });
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        bill_line::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Issues the bill of a receipt this transaction just wrote, from what the use case holds
/// rather than by reading it back: the receipt's lines as inserted (priced at the order lines'
/// costs) and the order's lines with the receipt's quantities already counted.
pub(crate) async fn issue_for_new_receipt(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    receipt: &receipt::Model,
    received: &[receipt_line::Model],
    lines_after: &[purchase_order_line::Model],
    vendor: &vendor::Model,
    sequence: i64,
) -> Result<bill::Model, ServiceError> {
    let mut charges: Vec<Charge> = received
        .iter()
        .filter(|r| r.quantity > Fixed4::ZERO)
        .map(|r| Charge {
            purchase_order_line_id: r.purchase_order_line_id,
            receipt_line_id: r.id,
            product_id: r.product_id,
            location_id: r.location_id,
            quantity: r.quantity,
            unit_cost: r.unit_cost,
        })
        .collect();
    charges.sort_by_key(|c| c.receipt_line_id);
    let doc = Document {
        receipt_id: receipt.id,
        kind: BillKind::Bill,
        credit_of_id: None,
        charges: &charges,
        freight: receipt.freight,
        received: value_received(lines_after)?,
        issue: Issue::Dated(receipt.received_at.date_naive(), vendor),
        sequence: Some(sequence),
    };
    write_bill(txn, po, doc).await
}

/// Records that `bill` was issued (a bill, a credit of `creditOfId`, or the replacement of
/// `replacesId`), in the transaction that issued it.
pub(crate) async fn record_issued(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    bill: &bill::Model,
    replaces: Option<i32>,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let kind = match bill.kind {
        BillKind::Bill => "BILL",
        BillKind::Credit => "CREDIT",
    };
    let payload = serde_json::json!({
        "kind": kind,
        "purchaseOrderId": bill.purchase_order_id,
        "receiptId": bill.receipt_id,
        "vendorId": bill.vendor_id,
        "creditOfId": bill.credit_of_id,
        "replacesId": replaces,
    });
    outbox
        .record(
            txn,
            EventKind::BillIssued,
            "Bill",
            bill.id,
            payload,
            &actor.subject,
        )
        .await
}

/// The open bill (not credit) of a receipt.
pub(crate) async fn open_bill_of(
    txn: &DatabaseTransaction,
    receipt_id: i32,
) -> Result<Option<bill::Model>, ServiceError> {
    Ok(bill::Entity::find()
        .filter(bill::Column::ReceiptId.eq(receipt_id))
        .filter(bill::Column::Kind.eq(BillKind::Bill))
        .filter(bill::Column::Status.eq(BillStatus::Open))
        .one(txn)
        .await?)
}

/// Issues the credit that cancels `original` whole (the receipt's quantities no longer count
/// as received): every line and the freight negated, the subtotal and tax carried so the
/// order's open bills still sum to its received value rounded once.
pub(crate) async fn credit(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    original: &bill::Model,
) -> Result<bill::Model, ServiceError> {
    let vendor = vendor_of(txn, po).await?;
    let lines = bill_line::Entity::find()
        .filter(bill_line::Column::BillId.eq(original.id))
        .order_by_asc(bill_line::Column::Id)
        .all(txn)
        .await?;
    let charges: Vec<Charge> = lines
        .iter()
        .map(|l| {
            Ok(Charge {
                purchase_order_line_id: l.purchase_order_line_id,
                receipt_line_id: l.receipt_line_id,
                product_id: l.product_id,
                location_id: l.location_id,
                quantity: negated(l.quantity)?,
                unit_cost: l.unit_cost,
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    let doc = Document {
        receipt_id: original.receipt_id,
        kind: BillKind::Credit,
        credit_of_id: Some(original.id),
        charges: &charges,
        freight: negated(original.freight)?,
        received: received_value(txn, po.id).await?,
        issue: Issue::Dated(now().date_naive(), &vendor),
        sequence: None,
    };
    write_bill(txn, po, doc).await
}

/// After a unit-cost change of a received line: every open bill that priced it (of receipts
/// not cancelled) is marked SUPERSEDED and replaced by a bill at the current costs.
pub(crate) async fn supersede_for_line(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    actor: &Actor,
    po: &purchase_order::Model,
    line_id: i32,
) -> Result<(), ServiceError> {
    let billed: Vec<i32> = bill_line::Entity::find()
        .filter(bill_line::Column::PurchaseOrderLineId.eq(line_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| l.bill_id)
        .collect();
    supersede(txn, outbox, actor, po, bill::Column::Id.is_in(billed)).await
}

/// After a tax-rate change of the order (`po` as it is now): every open bill of it (of
/// receipts not cancelled) is marked SUPERSEDED and replaced by a bill taxed at the new rate.
pub(crate) async fn supersede_for_tax_rate(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    actor: &Actor,
    po: &purchase_order::Model,
) -> Result<(), ServiceError> {
    supersede(
        txn,
        outbox,
        actor,
        po,
        bill::Column::PurchaseOrderId.eq(po.id),
    )
    .await
}

/// Replaces the open bills (not credits) among `which` by bills at `po`'s current costs and
/// tax rate, in receipt order. All of them are marked SUPERSEDED first; each replacement then
/// carries the rounding over the value received without the receipts still waiting for
/// theirs, so after the last one the open bills sum to the received value rounded once.
async fn supersede(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    actor: &Actor,
    po: &purchase_order::Model,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<(), ServiceError> {
    let bills = bill::Entity::find()
        .filter(which)
        .filter(bill::Column::Kind.eq(BillKind::Bill))
        .filter(bill::Column::Status.eq(BillStatus::Open))
        .order_by_asc(bill::Column::ReceiptId)
        .order_by_asc(bill::Column::Id)
        .find_also_related(receipt::Entity)
        .all(txn)
        .await?;
    let mut replacing = Vec::with_capacity(bills.len());
    for (old, receipt) in bills {
        let receipt = receipt
            .ok_or_else(|| ServiceError::Internal(format!("bill {} has no receipt", old.id)))?;
        if receipt.canceled_at.is_some() {
            // Its credit already offsets it; repricing it would break that.
            continue;
        }
        let charges = current_charges(txn, receipt.id).await?;
        replacing.push((old, receipt, charges));
    }
    if replacing.is_empty() {
        return Ok(());
    }
    let ids: Vec<i32> = replacing.iter().map(|(old, _, _)| old.id).collect();
    let marked = bill::Entity::update_many()
        .col_expr(bill::Column::Status, Expr::value(BillStatus::Superseded))
        .filter(bill::Column::Id.is_in(ids.clone()))
        .filter(bill::Column::Status.eq(BillStatus::Open))
        .exec(txn)
        .await?;
    if marked.rows_affected != ids.len() as u64 {
        return Err(ServiceError::Internal(format!(
            "bills {ids:?} changed while being superseded"
        )));
    }
    let mut waiting = Decimal::ZERO;
    for (_, _, charges) in &replacing {
        waiting = money::add(waiting, value_of(charges).map_err(too_large)?).map_err(too_large)?;
    }
    let received = received_value(txn, po.id).await?;
    for (old, receipt, charges) in &replacing {
        waiting = money::sub(waiting, value_of(charges).map_err(too_large)?).map_err(too_large)?;
        let doc = Document {
            receipt_id: receipt.id,
            kind: BillKind::Bill,
            credit_of_id: None,
            charges,
            freight: receipt.freight,
            received: money::sub(received, waiting).map_err(too_large)?,
            issue: Issue::Replacing(old),
            sequence: None,
        };
        let replacement = write_bill(txn, po, doc).await?;
        bill::Entity::update_many()
            .col_expr(bill::Column::SupersededById, Expr::value(replacement.id))
            .filter(bill::Column::Id.eq(old.id))
            .exec(txn)
            .await?;
        record_issued(txn, outbox, &replacement, Some(old.id), actor).await?;
    }
    Ok(())
}
