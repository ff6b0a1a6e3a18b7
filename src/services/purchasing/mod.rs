//! The purchase-order lifecycle (DOMAIN.md, Purchase order lifecycle and Lines): create, edit
//! the header and lines, submit, cancel, mark exported, finalize. Every change to an existing
//! order runs through [`with_locked_order`]: lock the order, check the version the client read
//! and the status rule of the action, apply, bump the version, commit, publish the events.
//!
//! The commands name fields in their own terms; a refusal points at them with a [`Field`]
//! (`lines[2].quantity`), never at a client's input path.

mod create;
mod finalize;
mod header;
mod lifecycle;
mod line_edit;
mod lines;
mod order;
mod references;

pub use create::create;
pub(crate) use create::create_in;
pub use finalize::{finalize, find_by_number, Finalized};
pub use header::update_header;
pub use lifecycle::{cancel, mark_exported, submit};
pub use line_edit::update_line;
pub use lines::{add_line, remove_line};
pub use order::lines_of;
pub(crate) use order::{
    change_order, lock_by_touching, record_status_event, rule, set_status, with_locked_order, Edit,
    LockedOrder, OrderRef,
};

use chrono::NaiveDate;
use entity::enums::PurchaseOrderStatus as Status;
use entity::{purchase_order, Fixed4, Rate8};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait};

use crate::domain::money;
use crate::domain::purchasing::PoStatus;
use crate::domain::totals::{order_totals, PricedLine};
use crate::domain::violation::{Violation, ViolationCode};
use crate::error::{Field, Rejection, ServiceError};

/// A line as entered on create or add.
#[derive(Clone, Debug, Default)]
pub struct NewLine {
    pub product_id: Option<i32>,
    pub job_material_id: Option<i32>,
    pub location_id: i32,
    pub quantity: Decimal,
    pub unit_cost: Option<Decimal>,
    pub estimated_arrival: Option<NaiveDate>,
    pub memo: Option<String>,
    pub job_id: Option<i32>,
    pub project_id: Option<i32>,
}

/// A new purchase order.
#[derive(Clone, Debug, Default)]
pub struct NewPurchaseOrder {
    pub number: Option<String>,
    pub vendor_id: i32,
    pub ship_to_id: i32,
    pub type_id: i32,
    pub business_unit_id: i32,
    pub job_id: Option<i32>,
    pub project_id: Option<i32>,
    pub technician_id: Option<i32>,
    pub expected_date: Option<NaiveDate>,
    pub tax_rate: Option<Decimal>,
    pub shipping: Option<Decimal>,
    pub memo: Option<String>,
    pub exchange_rate: Option<Decimal>,
    pub lines: Vec<NewLine>,
}

/// Header changes; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Clone, Debug, Default)]
pub struct HeaderChanges {
    pub expected_version: Option<i32>,
    pub expected_date: Option<Option<NaiveDate>>,
    pub memo: Option<Option<String>>,
    pub job_id: Option<Option<i32>>,
    pub project_id: Option<Option<i32>>,
    pub technician_id: Option<Option<i32>>,
    pub tax_rate: Option<Decimal>,
    pub shipping: Option<Decimal>,
    pub exchange_rate: Option<Decimal>,
}

/// Line changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct LineChanges {
    pub expected_version: Option<i32>,
    pub product_id: Option<i32>,
    pub location_id: Option<i32>,
    pub quantity: Option<Decimal>,
    pub unit_cost: Option<Decimal>,
    pub estimated_arrival: Option<Option<NaiveDate>>,
    pub memo: Option<Option<String>>,
    /// `Some(None)` unlinks the line from its job.
    pub job_id: Option<Option<i32>>,
    /// `Some(None)` unlinks the line from its project.
    pub project_id: Option<Option<i32>>,
}

impl From<Status> for PoStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Pending => PoStatus::Pending,
            Status::Submitted => PoStatus::Submitted,
            Status::PartiallyReceived => PoStatus::PartiallyReceived,
            Status::Received => PoStatus::Received,
            Status::Closed => PoStatus::Closed,
            Status::Canceled => PoStatus::Canceled,
        }
    }
}

impl From<PoStatus> for Status {
    fn from(status: PoStatus) -> Self {
        match status {
            PoStatus::Pending => Status::Pending,
            PoStatus::Submitted => Status::Submitted,
            PoStatus::PartiallyReceived => Status::PartiallyReceived,
            PoStatus::Received => Status::Received,
            PoStatus::Closed => Status::Closed,
            PoStatus::Canceled => Status::Canceled,
        }
    }
}

/// The opposite quantity.
pub(crate) fn negate(quantity: Fixed4) -> Fixed4 {
    Fixed4(-quantity.0)
}

/// A line's open quantity in storage units: the domain's
/// [`open_quantity`](crate::domain::purchasing::open_quantity) on the stored
/// values, computed on them directly (a test keeps the two in step) because stored quantities
/// are far from the limits of their units, so no conversion can fail here.
pub(crate) fn open_units(ordered: Fixed4, received: Fixed4) -> Fixed4 {
    Fixed4(ordered.0.saturating_sub(received.0).max(0))
}

/// Storage units of a value a domain rule has already let through (at most four places,
/// within the quantity limits), so the column can always hold it.
pub(crate) fn units(value: Decimal) -> Result<Fixed4, ServiceError> {
    Fixed4::from_decimal(value)
        .map_err(|e| ServiceError::Internal(format!("a checked value {value} does not fit: {e}")))
}

/// A rate stored with eight places; more places are refused on `field`.
fn rate_units(value: Decimal, field: Field) -> Result<Rate8, ServiceError> {
    Rate8::from_decimal(value)
        .map_err(|e| ServiceError::user(ViolationCode::InvalidInput, field, e.to_string()))
}

/// The refusal of `field` for a domain violation.
fn refuse(violation: Violation, field: Field) -> ServiceError {
    ServiceError::Rejected(vec![Rejection::of(violation, field)])
}

/// The order as committed, for the answer.
async fn reload(db: &impl ConnectionTrait, id: i32) -> Result<purchase_order::Model, ServiceError> {
    purchase_order::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::Internal(format!("purchase order {id} vanished")))
}

/// Refuses (`VALUE_TOO_LARGE`, on the command as a whole) an order whose total, as it now
/// stands in the transaction, would exceed the document limit.
async fn check_order_total(txn: &DatabaseTransaction, po_id: i32) -> Result<(), ServiceError> {
    let po = reload(txn, po_id).await?;
    let lines = lines_of(txn, po_id).await?;
    let totals = order_totals(
        lines.iter().map(PricedLine::from),
        po.tax_rate.to_decimal(),
        po.shipping.to_decimal(),
    )
    .map_err(|overflow| refuse(overflow.into(), Field::whole()))?;
    money::check_document_total(totals.total).map_err(|v| refuse(v, Field::whole()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveEnum;

    use super::*;
    use crate::domain::purchasing::open_quantity;

    #[test]
    fn each_stored_status_is_the_domain_status_of_the_same_name() {
        for status in PoStatus::ALL {
            let stored = Status::from(status);
            assert_eq!(stored.to_value(), status.name());
            assert_eq!(PoStatus::from(stored), status);
        }
    }

    #[test]
    fn open_units_are_the_domain_open_quantity_in_storage_units() {
        let samples = [0, 1, 9_999, 20_000, 50_000, 70_000, 10_000_000_000_000];
        for ordered in samples {
            for received in samples {
                let (ordered, received) = (Fixed4(ordered), Fixed4(received));
                let expected = open_quantity(ordered.to_decimal(), received.to_decimal());
                assert_eq!(open_units(ordered, received).to_decimal(), expected);
            }
        }
    }
}
