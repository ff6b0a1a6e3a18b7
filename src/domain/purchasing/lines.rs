//! The rules of purchase-order lines (DOMAIN.md, Lines): how many, what they order, what a job
//! material allows, and what an edit may change once a line has history.

use rust_decimal::Decimal;

use super::PoStatus;
use crate::domain::validate;
use crate::domain::values::Quantity;
use crate::domain::violation::{Violation, ViolationCode};

/// The most lines a purchase order holds: checking thousands would only lengthen the answer.
pub const MAX_LINES: usize = 500;

/// The number of lines a new purchase order comes with: at least one, at most [`MAX_LINES`].
pub fn line_count(lines: usize) -> Result<(), Violation> {
    if lines == 0 {
        return Err(Violation::from(
            "a purchase order needs at least one line".to_owned(),
        ));
    }
    room_for_lines(lines)
}

/// An order of `lines` lines may take one more.
pub fn room_for_a_line(lines: usize) -> Result<(), Violation> {
    room_for_lines(lines.saturating_add(1))
}

/// A line of an order of `lines` lines may be removed: never the last one.
pub fn line_removable(lines: usize) -> Result<(), Violation> {
    if lines <= 1 {
        return Err(Violation::new(
            ViolationCode::LastLine,
            "the last line of a purchase order cannot be removed",
        ));
    }
    Ok(())
}

fn room_for_lines(lines: usize) -> Result<(), Violation> {
    if lines > MAX_LINES {
        return Err(Violation::from(format!(
            "a purchase order holds at most {MAX_LINES} lines"
        )));
    }
    Ok(())
}

/// The quantity a line orders: more than zero, exact to four places, within the quantity limit.
pub fn ordered_quantity(value: Decimal) -> Result<Quantity, Violation> {
    validate::positive(value, "the quantity ordered")?;
    Quantity::parse(value, "the quantity ordered")
}

/// The quantity of a line still expected: ordered − received, never negative.
pub fn open_quantity(ordered: Decimal, received: Decimal) -> Decimal {
    (ordered - received).max(Decimal::ZERO)
}

/// A new quantity for a line: positive, never below what was received, and not raised once the
/// purchase order is fully received.
pub fn check_line_quantity(
    status: PoStatus,
    current: Decimal,
    new: Decimal,
    received: Decimal,
) -> Result<(), Violation> {
    if new <= Decimal::ZERO {
        return Err(Violation::new(
            ViolationCode::InvalidInput,
            "the quantity ordered must be greater than zero",
        ));
    }
    if new < received {
        return Err(Violation::new(
            ViolationCode::LineQuantityBelowReceived,
            format!("quantity {new} is below the {received} already received"),
        ));
    }
    if new > current && status == PoStatus::Received {
        return Err(Violation::new(
            ViolationCode::LineQuantityLocked,
            "the purchase order is fully received; its quantities can no longer be raised",
        ));
    }
    Ok(())
}

/// What a job material needs of the line that fills it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaterialNeed {
    pub product_id: i32,
    pub quantity: Decimal,
}

impl MaterialNeed {
    /// A material can be put on a line while it is still to be ordered and on no other line.
    pub fn claimable(to_order: bool, on_a_line: bool) -> Result<(), Violation> {
        if !to_order || on_a_line {
            return Err(Violation::new(
                ViolationCode::JobMaterialUnavailable,
                "the job material is already ordered or on another purchase order",
            ));
        }
        Ok(())
    }

    /// The line's product, when it names one, is the material's.
    pub fn check_product(&self, product_id: i32) -> Result<(), Violation> {
        if product_id != self.product_id {
            return Err(Violation::new(
                ViolationCode::JobMaterialUnavailable,
                "the product differs from the job material's product",
            ));
        }
        Ok(())
    }

    /// The line orders no more than the material needs.
    pub fn check_quantity(&self, quantity: Decimal) -> Result<(), Violation> {
        if quantity > self.quantity {
            return Err(Violation::new(
                ViolationCode::JobMaterialUnavailable,
                format!("the job material needs only {}", self.quantity),
            ));
        }
        Ok(())
    }
}

/// A line as the rules for editing it see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineFacts {
    pub product_id: i32,
    pub location_id: i32,
    pub quantity: Decimal,
    /// Ever received, even if every receipt was cancelled or rejected everything since: those
    /// receipts and their bills keep the line's product and location (DOMAIN.md, History).
    pub has_receipts: bool,
    /// What the job material the line fills needs, when it fills one.
    pub material: Option<MaterialNeed>,
}

/// What an edit does to one part of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change<T> {
    /// Nothing asked, or the value the line already has.
    Keep,
    /// A rule refuses the change.
    Refused(Violation),
    /// The new value; a product or location only if that record is active.
    To(T),
}

/// A line edit's product, location and quantity, each decided by the line rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineEdit {
    pub product: Change<i32>,
    pub location: Change<i32>,
    pub quantity: Change<Quantity>,
}

/// Decides what an edit asking for `product`, `location` and `quantity` may change on `line`.
/// The quantity's own limits against the order's status are [`check_line_quantity`]'s.
pub fn plan_line_edit(
    line: &LineFacts,
    product: Option<i32>,
    location: Option<i32>,
    quantity: Option<Decimal>,
) -> LineEdit {
    let product = match product.filter(|p| *p != line.product_id) {
        None => Change::Keep,
        Some(_) if line.has_receipts => Change::Refused(Violation::new(
            ViolationCode::LineHasReceipts,
            "the product of a line with receipts cannot change",
        )),
        Some(_) if line.material.is_some() => Change::Refused(Violation::new(
            ViolationCode::JobMaterialUnavailable,
            "the line fills a job material; its product is the material's",
        )),
        Some(product) => Change::To(product),
    };
    let location = match location.filter(|l| *l != line.location_id) {
        None => Change::Keep,
        Some(_) if line.has_receipts => Change::Refused(Violation::new(
            ViolationCode::LineHasReceipts,
            "the location of a line with receipts cannot change",
        )),
        Some(location) => Change::To(location),
    };
    let quantity = match quantity.map(|q| new_quantity(line, q)) {
        None => Change::Keep,
        Some(Err(refused)) => Change::Refused(refused),
        Some(Ok(q)) if q.get() == line.quantity => Change::Keep,
        Some(Ok(q)) => Change::To(q),
    };
    LineEdit {
        product,
        location,
        quantity,
    }
}

fn new_quantity(line: &LineFacts, value: Decimal) -> Result<Quantity, Violation> {
    let quantity = Quantity::parse(value, "the quantity ordered")?;
    if let Some(material) = &line.material {
        material.check_quantity(quantity.get())?;
    }
    Ok(quantity)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use PoStatus::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn line() -> LineFacts {
        LineFacts {
            product_id: 1,
            location_id: 10,
            quantity: d("5"),
            has_receipts: false,
            material: None,
        }
    }

    fn code<T: std::fmt::Debug>(change: Change<T>) -> ViolationCode {
        match change {
            Change::Refused(v) => v.code,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn an_order_has_one_to_five_hundred_lines() {
        assert!(line_count(0).is_err());
        assert!(line_count(1).is_ok());
        assert!(line_count(500).is_ok());
        assert!(line_count(501).is_err());
        assert!(room_for_a_line(499).is_ok());
        assert!(room_for_a_line(500).is_err());
    }

    #[test]
    fn the_last_line_stays() {
        assert_eq!(line_removable(1).unwrap_err().code, ViolationCode::LastLine);
        assert!(line_removable(2).is_ok());
    }

    #[test]
    fn a_line_orders_a_positive_quantity_exact_to_four_places() {
        assert_eq!(ordered_quantity(d("2.5")).unwrap().get(), d("2.5"));
        assert_eq!(
            ordered_quantity(d("0")).unwrap_err().code,
            ViolationCode::InvalidInput
        );
        assert_eq!(
            ordered_quantity(d("-1")).unwrap_err().code,
            ViolationCode::InvalidInput
        );
        assert_eq!(
            ordered_quantity(d("0.00001")).unwrap_err().code,
            ViolationCode::InvalidInput
        );
        assert_eq!(
            ordered_quantity(d("1000000000.0001")).unwrap_err().code,
            ViolationCode::ValueTooLarge
        );
    }

    #[test]
    fn open_quantity_is_never_negative() {
        assert_eq!(open_quantity(d("5"), d("2")), d("3"));
        assert_eq!(open_quantity(d("5"), d("7")), Decimal::ZERO);
    }

    #[test]
    fn a_line_quantity_never_drops_below_received_and_is_not_raised_once_received() {
        assert!(check_line_quantity(PartiallyReceived, d("10"), d("12"), d("4")).is_ok());
        assert!(check_line_quantity(PartiallyReceived, d("10"), d("4"), d("4")).is_ok());
        assert_eq!(
            check_line_quantity(PartiallyReceived, d("10"), d("3"), d("4"))
                .unwrap_err()
                .code,
            ViolationCode::LineQuantityBelowReceived
        );
        assert_eq!(
            check_line_quantity(Received, d("10"), d("11"), d("10"))
                .unwrap_err()
                .code,
            ViolationCode::LineQuantityLocked
        );
        assert!(check_line_quantity(Received, d("10"), d("10"), d("10")).is_ok());
        assert_eq!(
            check_line_quantity(Pending, d("10"), d("0"), d("0"))
                .unwrap_err()
                .code,
            ViolationCode::InvalidInput
        );
    }

    #[test]
    fn a_job_material_is_claimed_once_for_its_product_and_at_most_its_quantity() {
        assert!(MaterialNeed::claimable(true, false).is_ok());
        assert!(MaterialNeed::claimable(false, false).is_err());
        assert!(MaterialNeed::claimable(true, true).is_err());
        let need = MaterialNeed {
            product_id: 1,
            quantity: d("4"),
        };
        assert!(need.check_product(1).is_ok());
        assert_eq!(
            need.check_product(2).unwrap_err().code,
            ViolationCode::JobMaterialUnavailable
        );
        assert!(need.check_quantity(d("4")).is_ok());
        assert!(need
            .check_quantity(d("4.5"))
            .unwrap_err()
            .message
            .contains("needs only 4"));
    }

    #[test]
    fn an_edit_that_asks_for_what_the_line_has_changes_nothing() {
        let edit = plan_line_edit(&line(), Some(1), Some(10), Some(d("5.000")));
        assert_eq!(
            edit,
            LineEdit {
                product: Change::Keep,
                location: Change::Keep,
                quantity: Change::Keep,
            }
        );
        let edit = plan_line_edit(&line(), None, None, None);
        assert_eq!(edit.product, Change::Keep);
    }

    #[test]
    fn a_line_without_history_may_move_to_another_product_location_and_quantity() {
        let edit = plan_line_edit(&line(), Some(2), Some(20), Some(d("7")));
        assert_eq!(edit.product, Change::To(2));
        assert_eq!(edit.location, Change::To(20));
        assert_eq!(
            edit.quantity,
            Change::To(Quantity::parse(d("7"), "q").unwrap())
        );
    }

    #[test]
    fn a_line_with_receipts_keeps_its_product_and_location() {
        let received = LineFacts {
            has_receipts: true,
            ..line()
        };
        let edit = plan_line_edit(&received, Some(2), Some(20), Some(d("6")));
        assert_eq!(code(edit.product), ViolationCode::LineHasReceipts);
        assert_eq!(code(edit.location), ViolationCode::LineHasReceipts);
        assert!(matches!(edit.quantity, Change::To(_)));
    }

    #[test]
    fn a_line_filling_a_job_material_keeps_its_product_and_orders_at_most_the_need() {
        let filling = LineFacts {
            material: Some(MaterialNeed {
                product_id: 1,
                quantity: d("6"),
            }),
            ..line()
        };
        let edit = plan_line_edit(&filling, Some(2), Some(20), Some(d("7")));
        assert_eq!(code(edit.product), ViolationCode::JobMaterialUnavailable);
        assert_eq!(edit.location, Change::To(20));
        assert_eq!(code(edit.quantity), ViolationCode::JobMaterialUnavailable);
        let within = plan_line_edit(&filling, None, None, Some(d("6")));
        assert!(matches!(within.quantity, Change::To(_)));
    }

    #[test]
    fn a_new_quantity_is_exact_to_four_places_and_within_the_limit() {
        let edit = plan_line_edit(&line(), None, None, Some(d("1.00001")));
        assert_eq!(code(edit.quantity), ViolationCode::InvalidInput);
        let edit = plan_line_edit(&line(), None, None, Some(d("1000000001")));
        assert_eq!(code(edit.quantity), ViolationCode::ValueTooLarge);
    }
}
