//! Creating a purchase order in PENDING with its lines. Every violation of the header and of
//! all lines is gathered before anything is written.

use chrono::{DateTime, Datelike, Utc};
use entity::enums::PurchaseOrderStatus as Status;
use entity::{
    business_unit, inventory_location, job, project, purchase_order, purchase_order_type,
    technician, vendor, Fixed4, Rate8,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    SqlErr,
};

use super::lines::{check_lines, insert_line};
use super::references::{check_link, gather_active};
use super::{check_order_total, rate_units, record_status_event, refuse, units, NewPurchaseOrder};
use crate::db::begin_write;
use crate::domain::purchasing::{
    chosen_number, exchange_rate, generated_number, line_count, PoStatus, MAX_LINES, MAX_MEMO_CHARS,
};
use crate::domain::validate;
use crate::domain::values::{Money, TaxRate};
use crate::domain::violation::ViolationCode;
use crate::error::{Field, ServiceError};
use crate::events::Outbox;
use crate::services::violations::Checked;
use crate::services::{commit, next_counter, now, UseCase, Violations};

/// Creates a purchase order in PENDING with at least one line.
pub async fn create(
    uc: UseCase<'_>,
    input: NewPurchaseOrder,
) -> Result<purchase_order::Model, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let mut outbox = Outbox::default();
    let po = create_in(uc, &txn, &mut outbox, input).await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(po)
}

/// Creates a purchase order inside the caller's transaction (for use cases that create several
/// all or nothing).
pub(crate) async fn create_in(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    input: NewPurchaseOrder,
) -> Result<purchase_order::Model, ServiceError> {
    if input.lines.len() > MAX_LINES {
        // Checking thousands of lines would only lengthen the answer: refused outright.
        line_count(input.lines.len()).map_err(|v| refuse(v, Field::of("lines")))?;
    }
    let mut v = Violations::new();
    let header = check_header(uc, txn, &mut v, &input).await?;
    v.check(line_count(input.lines.len()), Field::of("lines"));
    let lines = check_lines(uc, txn, &mut v, &input.lines).await?;
    let (header, lines) = v.done((header, lines))?;
    let po = insert_order(uc, txn, &input, header, lines.len()).await?;
    for (i, line) in lines.into_iter().enumerate() {
        let number = i32::try_from(i + 1)
            .map_err(|_| ServiceError::Internal("line number overflow".into()))?;
        insert_line(txn, &po, number, line, &Field::of("lines").at(i)).await?;
    }
    check_order_total(txn, po.id).await?;
    record_status_event(txn, outbox, &po, None, PoStatus::Pending, uc.actor).await?;
    Ok(po)
}

/// A header that passed its checks, ready to be written.
struct CheckedHeader {
    /// The number the client chose, if any.
    number: Option<String>,
    vendor: vendor::Model,
    /// The tax rate the client gave instead of the vendor's default.
    tax_override: Option<Rate8>,
    shipping: Fixed4,
    memo: Option<String>,
    exchange_rate: Rate8,
}

/// Checks the header's number, references, money and memo, recording every violation in `v`;
/// the header when all passed.
async fn check_header(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    v: &mut Violations,
    input: &NewPurchaseOrder,
) -> Result<Option<CheckedHeader>, ServiceError> {
    let number = match input.number.as_deref() {
        Some(n) => v.check(chosen_number(n), Field::of("number")).map(Some),
        None => Some(None),
    };
    if let Some(Some(number)) = &number {
        if number_taken(txn, number).await? {
            v.add(
                ViolationCode::DuplicatePoNumber,
                Field::of("number"),
                format!("purchase order {number} already exists"),
            );
        }
    }
    let vendor = gather_active::<vendor::Entity>(v, txn, input.vendor_id, Field::of("vendor_id"));
    let vendor = vendor.await?;
    let ship_to = Field::of("ship_to_id");
    gather_active::<inventory_location::Entity>(v, txn, input.ship_to_id, ship_to).await?;
    gather_active::<purchase_order_type::Entity>(v, txn, input.type_id, Field::of("type_id"))
        .await?;
    let unit = Field::of("business_unit_id");
    gather_active::<business_unit::Entity>(v, txn, input.business_unit_id, unit).await?;
    check_link::<job::Entity>(v, txn, input.job_id, Field::of("job_id")).await?;
    check_link::<project::Entity>(v, txn, input.project_id, Field::of("project_id")).await?;
    let technician = Field::of("technician_id");
    check_link::<technician::Entity>(v, txn, input.technician_id, technician).await?;
    let tax_override = match input.tax_rate {
        Some(tax) => v.take(tax_rate(tax))?.map(Some),
        None => Some(None),
    };
    let shipping = v.take(shipping(input.shipping.unwrap_or_default()))?;
    let memo = v.check(
        validate::optional_text(input.memo.as_deref(), "a memo", MAX_MEMO_CHARS),
        Field::of("memo"),
    );
    // The rate depends on the vendor's currency: checked only once the vendor is known.
    let exchange_rate = match &vendor {
        Some(vendor) => v.take(order_exchange_rate(
            &vendor.currency,
            uc,
            input.exchange_rate,
        ))?,
        None => None,
    };
    Ok(
        (number, vendor, tax_override, shipping, memo, exchange_rate)
            .all()
            .map(
                |(number, vendor, tax_override, shipping, memo, exchange_rate)| CheckedHeader {
                    number,
                    vendor,
                    tax_override,
                    shipping,
                    memo,
                    exchange_rate,
                },
            ),
    )
}

/// A tax rate given for an order, refused on `tax_rate`.
pub(super) fn tax_rate(value: rust_decimal::Decimal) -> Result<Rate8, ServiceError> {
    let field = Field::of("tax_rate");
    let rate = TaxRate::parse(value).map_err(|v| refuse(v, field.clone()))?;
    rate_units(rate.get(), field)
}

/// A shipping charge, refused on `shipping`.
pub(super) fn shipping(value: rust_decimal::Decimal) -> Result<Fixed4, ServiceError> {
    let money = Money::parse(value, "shipping").map_err(|v| refuse(v, Field::of("shipping")))?;
    units(money.get())
}

/// The exchange rate of an order with a vendor billing in `currency`, refused on
/// `exchange_rate`.
pub(super) fn order_exchange_rate(
    currency: &str,
    uc: UseCase<'_>,
    given: Option<rust_decimal::Decimal>,
) -> Result<Rate8, ServiceError> {
    let field = Field::of("exchange_rate");
    let rate = exchange_rate(currency, &uc.business.base_currency, given)
        .map_err(|v| refuse(v, field.clone()))?;
    rate_units(rate, field)
}

/// Writes the order's header in PENDING, numbered as the client chose or with the next
/// generated number.
async fn insert_order(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    input: &NewPurchaseOrder,
    header: CheckedHeader,
    line_count: usize,
) -> Result<purchase_order::Model, ServiceError> {
    let at = now();
    let number = match header.number {
        Some(number) => number,
        None => next_generated_number(txn, at).await?,
    };
    let next_line_number = i32::try_from(line_count + 1)
        .map_err(|_| ServiceError::Internal("line number overflow".into()))?;
    let vendor = header.vendor;
    purchase_order::ActiveModel {
        number: Set(number),
        status: Set(Status::Pending),
        version: Set(1),
        vendor_id: Set(vendor.id),
        ship_to_id: Set(input.ship_to_id),
        type_id: Set(input.type_id),
        business_unit_id: Set(input.business_unit_id),
        job_id: Set(input.job_id),
        project_id: Set(input.project_id),
        technician_id: Set(input.technician_id),
        backorder_of_id: Set(None),
        backorder_root_id: Set(None),
        order_date: Set(at),
        expected_date: Set(input.expected_date),
        submitted_at: Set(None),
        exported_at: Set(None),
        closed_at: Set(None),
        canceled_at: Set(None),
        memo: Set(header.memo),
        tax_rate: Set(header.tax_override.unwrap_or(vendor.default_tax_rate)),
        shipping: Set(header.shipping),
        currency: Set(vendor.currency),
        exchange_rate: Set(header.exchange_rate),
        next_line_number: Set(next_line_number),
        created_by: Set(uc.actor.subject.clone()),
        updated_by: Set(uc.actor.subject.clone()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(|e| match e.sql_err() {
        // Two orders given the same number at once: both passed the check above.
        Some(SqlErr::UniqueConstraintViolation(_)) => ServiceError::user(
            ViolationCode::DuplicatePoNumber,
            Field::of("number"),
            "a purchase order with this number already exists",
        ),
        _ => ServiceError::from(e),
    })
}

/// The next `PO-{YYYY}-{NNNN}` of the year of `at`. Numbers chosen by hand may already hold a
/// generated one: the count skips past them.
async fn next_generated_number(
    txn: &DatabaseTransaction,
    at: DateTime<Utc>,
) -> Result<String, ServiceError> {
    loop {
        let sequence = next_counter(txn, &format!("PO-{}", at.year())).await?;
        let candidate = generated_number(at.year(), sequence);
        if !number_taken(txn, &candidate).await? {
            return Ok(candidate);
        }
    }
}

/// True when a purchase order already has this number.
pub(super) async fn number_taken(
    txn: &DatabaseTransaction,
    number: &str,
) -> Result<bool, ServiceError> {
    Ok(purchase_order::Entity::find()
        .filter(purchase_order::Column::Number.eq(number))
        .one(txn)
        .await?
        .is_some())
}
