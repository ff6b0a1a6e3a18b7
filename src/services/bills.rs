//! Vendor bills: issued by receipts, credited by cancelled receipts, superseded by unit-cost and
//! tax-rate changes. Bills are never edited or deleted; the open bills of a purchase order always
//! sum to the value of what is received.

use chrono::{Days, NaiveDate};
use entity::enums::{BillKind, BillStatus};
use entity::{bill, bill_line, purchase_order, purchase_order_line, receipt, receipt_line, Fixed4};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::domain::money::round_money;
use crate::error::ServiceError;
use crate::services::now;
use crate::services::purchasing::next_counter;

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

fn money(value: Decimal) -> Result<Fixed4, ServiceError> {
    Fixed4::from_decimal(round_money(value))
        .map_err(|e| ServiceError::Internal(format!("bill amount out of range: {e}")))
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

/// Writes a bill with its lines: amounts rounded to cents per line, tax at the order's rate,
/// remit-to the vendor's main address of today, due after the vendor's payment terms.
#[allow(clippy::too_many_arguments)]
async fn write_bill(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    receipt_id: i32,
    kind: BillKind,
    credit_of_id: Option<i32>,
    charges: &[Charge],
    freight: Fixed4,
    bill_date: NaiveDate,
) -> Result<bill::Model, ServiceError> {
    let vendor = entity::vendor::Entity::find_by_id(po.vendor_id)
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("the PO's vendor vanished".into()))?;
    let amounts: Vec<Fixed4> = charges
        .iter()
        .map(|c| money(c.quantity.to_decimal() * c.unit_cost.to_decimal()))
        .collect::<Result<_, _>>()?;
    let subtotal: Decimal = amounts.iter().map(|a| a.to_decimal()).sum();
    let tax = round_money(subtotal * po.tax_rate.to_decimal());
    let total = subtotal + tax + freight.to_decimal();
    let n = next_counter(txn, &format!("BILL-{}", po.id)).await?;
    let due_date = bill_date
        .checked_add_days(Days::new(
            u64::try_from(vendor.payment_terms_days).unwrap_or(0),
        ))
        .unwrap_or(bill_date);
    let saved = bill::ActiveModel {
        number: Set(format!("BILL-{}-{n}", po.number)),
        kind: Set(kind),
        status: Set(BillStatus::Open),
        vendor_id: Set(vendor.id),
        purchase_order_id: Set(po.id),
        receipt_id: Set(receipt_id),
        credit_of_id: Set(credit_of_id),
        superseded_by_id: Set(None),
        remit_street: Set(vendor.street),
        remit_city: Set(vendor.city),
        remit_region: Set(vendor.region),
        remit_postal_code: Set(vendor.postal_code),
        remit_country: Set(vendor.country),
        bill_date: Set(bill_date),
        due_date: Set(due_date),
        currency: Set(po.currency.clone()),
        exchange_rate: Set(po.exchange_rate),
        tax_rate: Set(po.tax_rate),
        subtotal: Set(money(subtotal)?),
        tax: Set(money(tax)?),
        freight: Set(freight),
        total: Set(money(total)?),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    for (charge, amount) in charges.iter().zip(amounts) {
        bill_line::ActiveModel {
            bill_id: Set(saved.id),
            purchase_order_line_id: Set(charge.purchase_order_line_id),
            receipt_line_id: Set(charge.receipt_line_id),
            product_id: Set(charge.product_id),
            location_id: Set(charge.location_id),
            quantity: Set(charge.quantity),
            unit_cost: Set(charge.unit_cost),
            amount: Set(amount),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(saved)
}

/// Issues the bill of a new receipt.
pub(crate) async fn issue_for_receipt(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    receipt: &receipt::Model,
) -> Result<bill::Model, ServiceError> {
    let charges = current_charges(txn, receipt.id).await?;
    write_bill(
        txn,
        po,
        receipt.id,
        BillKind::Bill,
        None,
        &charges,
        receipt.freight,
        receipt.received_at.date_naive(),
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

/// Issues the credit that cancels `original` whole: every line and the freight negated.
pub(crate) async fn credit(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    original: &bill::Model,
) -> Result<bill::Model, ServiceError> {
    let lines = bill_line::Entity::find()
        .filter(bill_line::Column::BillId.eq(original.id))
        .order_by_asc(bill_line::Column::Id)
        .all(txn)
        .await?;
    let charges: Vec<Charge> = lines
        .iter()
        .map(|l| Charge {
            purchase_order_line_id: l.purchase_order_line_id,
            receipt_line_id: l.receipt_line_id,
            product_id: l.product_id,
            location_id: l.location_id,
            quantity: Fixed4(-l.quantity.0),
            unit_cost: l.unit_cost,
        })
        .collect();
    write_bill(
        txn,
        po,
        original.receipt_id,
        BillKind::Credit,
        Some(original.id),
        &charges,
        Fixed4(-original.freight.0),
        now().date_naive(),
    )
    .await
}

/// After a unit-cost change of a received line: every open bill that priced it (of receipts
/// not cancelled) is marked SUPERSEDED and replaced by a bill at the current costs.
pub(crate) async fn supersede_for_line(
    txn: &DatabaseTransaction,
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
    supersede(txn, po, bill::Column::Id.is_in(billed)).await
}

/// After a tax-rate change of the order (`po` as it is now): every open bill of it (of
/// receipts not cancelled) is marked SUPERSEDED and replaced by a bill taxed at the new rate.
pub(crate) async fn supersede_for_tax_rate(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
) -> Result<(), ServiceError> {
    supersede(txn, po, bill::Column::PurchaseOrderId.eq(po.id)).await
}

/// Replaces the open bills (not credits) among `which` by bills at `po`'s current costs and
/// tax rate.
async fn supersede(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<(), ServiceError> {
    let bills = bill::Entity::find()
        .filter(which)
        .filter(bill::Column::Kind.eq(BillKind::Bill))
        .filter(bill::Column::Status.eq(BillStatus::Open))
        .order_by_asc(bill::Column::Id)
        .find_also_related(receipt::Entity)
        .all(txn)
        .await?;
    for (old, receipt) in bills {
        let receipt = receipt
            .ok_or_else(|| ServiceError::Internal(format!("bill {} has no receipt", old.id)))?;
        if receipt.canceled_at.is_some() {
            // Its credit already nets it to zero; repricing it would break that.
            continue;
        }
        let charges = current_charges(txn, receipt.id).await?;
        let replacement = write_bill(
            txn,
            po,
            receipt.id,
            BillKind::Bill,
            None,
            &charges,
            receipt.freight,
            old.bill_date,
        )
        .await?;
        let marked = bill::Entity::update_many()
            .col_expr(bill::Column::Status, Expr::value(BillStatus::Superseded))
            .col_expr(bill::Column::SupersededById, Expr::value(replacement.id))
            .filter(bill::Column::Id.eq(old.id))
            .filter(bill::Column::Status.eq(BillStatus::Open))
            .exec(txn)
            .await?;
        if marked.rows_affected != 1 {
            return Err(ServiceError::Internal(format!(
                "bill {} changed while being superseded",
                old.id
            )));
        }
    }
    Ok(())
}
