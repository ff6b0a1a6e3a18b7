//! Receiving rules (DOMAIN.md, Receiving): the over-receipt allowance and serial numbers.

use entity::Fixed4;
use rust_decimal::prelude::RoundingStrategy;
use rust_decimal::Decimal;

use crate::domain::violation::Violation;
use crate::domain::violation::ViolationCode;

/// The most a line ordering `ordered` may have received in all, with an allowance of `percent`
/// (exact; rounded down to the stored four places so the allowance is never exceeded).
pub fn allowance_limit(ordered: Fixed4, percent: Decimal) -> Fixed4 {
    let limit = ordered.to_decimal() * (Decimal::ONE + percent / Decimal::ONE_HUNDRED);
    let limit = limit.round_dp_with_strategy(4, RoundingStrategy::ToZero);
    Fixed4::from_decimal(limit).unwrap_or(ordered)
}

/// The over-receipt allowance (percent) of a product: its own `override_percent`, or the
/// server's `default_percent` when it has none.
pub fn over_receipt_percent(
    override_percent: Option<Decimal>,
    default_percent: Decimal,
) -> Decimal {
    override_percent.unwrap_or(default_percent)
}

/// The most a line ordering `ordered`, of which `received` is in, may still receive with an
/// allowance of `percent`: what [`allowance_limit`] leaves, never negative.
pub fn receivable_quantity(ordered: Fixed4, received: Fixed4, percent: Decimal) -> Fixed4 {
    let limit = allowance_limit(ordered, percent);
    Fixed4(limit.0.saturating_sub(received.0).max(0))
}

/// The serial numbers of `accepted` units: exactly one distinct, non-blank serial per unit of a
/// serialized product (so a whole number of units), none for other products.
pub fn check_serials(
    serialized: bool,
    accepted: Decimal,
    serials: &[String],
) -> Result<Vec<String>, Violation> {
    let mismatch = |message: String| Violation::new(ViolationCode::SerialNumbersMismatch, message);
    if !serialized {
        if serials.is_empty() {
            return Ok(Vec::new());
        }
        return Err(mismatch(
            "the product is not serialized: send no serial numbers".to_owned(),
        ));
    }
    if accepted.fract() != Decimal::ZERO {
        return Err(mismatch(format!(
            "a serialized product is received in whole units, not {accepted}"
        )));
    }
    let trimmed: Vec<String> = serials.iter().map(|s| s.trim().to_owned()).collect();
    if trimmed
        .iter()
        .any(|s| s.is_empty() || s.chars().count() > 100)
    {
        return Err(mismatch(
            "serial numbers are 1 to 100 characters".to_owned(),
        ));
    }
    if Decimal::from(trimmed.len()) != accepted {
        return Err(mismatch(format!(
            "{accepted} units need {accepted} serial numbers, got {}",
            trimmed.len()
        )));
    }
    // "S1" and " s1" name the same unit.
    let mut distinct: Vec<String> = trimmed.iter().map(|s| normalize_serial(s)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != trimmed.len() {
        return Err(mismatch("serial numbers repeat".to_owned()));
    }
    Ok(trimmed)
}

/// A serial number as the registry compares it: without surrounding spaces or case.
pub fn normalize_serial(serial: &str) -> String {
    serial.trim().to_uppercase()
}

/// One bill line next to what was received and ordered, for the 3-way match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatchLine {
    pub line_id: i32,
    pub billed_quantity: Decimal,
    pub billed_unit_cost: Decimal,
    /// What the receipt accepted (negated for a credit).
    pub received_quantity: Decimal,
    /// The purchase-order line's unit cost now.
    pub ordered_unit_cost: Decimal,
}

/// Which figure of a bill line disagrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchField {
    Quantity,
    UnitCost,
}

/// A figure of a bill line that differs from the receipt or the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Difference {
    pub line_id: i32,
    pub field: MatchField,
    pub billed: Decimal,
    pub expected: Decimal,
}

/// The 3-way match of a bill: no differences means MATCHED.
pub fn differences(lines: &[MatchLine]) -> Vec<Difference> {
    let mut found = Vec::new();
    for l in lines {
        if l.billed_quantity != l.received_quantity {
            found.push(Difference {
                line_id: l.line_id,
                field: MatchField::Quantity,
                billed: l.billed_quantity,
                expected: l.received_quantity,
            });
        }
        if l.billed_unit_cost != l.ordered_unit_cost {
            found.push(Difference {
                line_id: l.line_id,
                field: MatchField::UnitCost,
                billed: l.billed_unit_cost,
                expected: l.ordered_unit_cost,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn f(s: &str) -> Fixed4 {
        Fixed4::from_decimal(d(s)).unwrap()
    }

    #[test]
    fn a_products_own_allowance_wins_over_the_default() {
        assert_eq!(over_receipt_percent(Some(d("5")), d("10")), d("5"));
        assert_eq!(over_receipt_percent(Some(d("0")), d("10")), d("0"));
        assert_eq!(over_receipt_percent(None, d("10")), d("10"));
    }

    #[test]
    fn the_receivable_quantity_is_what_the_allowance_leaves_and_never_negative() {
        assert_eq!(receivable_quantity(f("10"), f("4"), d("10")), f("7"));
        assert_eq!(receivable_quantity(f("10"), f("11"), d("10")), f("0"));
        assert_eq!(receivable_quantity(f("10"), f("12"), d("10")), f("0"));
        assert_eq!(
            receivable_quantity(f("3"), f("0"), d("33.33333")),
            f("3.9999")
        );
    }

    #[test]
    fn the_allowance_is_exact_and_never_rounded_up() {
        assert_eq!(allowance_limit(f("10"), d("0")), f("10"));
        assert_eq!(allowance_limit(f("10"), d("10")), f("11"));
        assert_eq!(allowance_limit(f("3"), d("33.33333")), f("3.9999"));
        assert_eq!(allowance_limit(f("0.5"), d("5")), f("0.525"));
    }

    #[test]
    fn serialized_products_need_one_distinct_serial_per_unit() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_serials(true, d("2"), &s(&["A", " B "])).unwrap(),
            s(&["A", "B"])
        );
        assert!(check_serials(true, d("2"), &s(&["A"])).is_err());
        assert!(check_serials(true, d("2"), &s(&["A", "A"])).is_err());
        assert!(check_serials(true, d("1.5"), &s(&["A"])).is_err());
        assert!(check_serials(true, d("1"), &s(&[" "])).is_err());
        assert!(check_serials(false, d("2"), &s(&["A", "B"])).is_err());
        assert!(check_serials(false, d("2"), &[]).unwrap().is_empty());
        assert!(check_serials(true, d("0"), &[]).unwrap().is_empty());
    }

    #[test]
    fn serials_differing_only_in_case_or_spaces_are_the_same_unit() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(normalize_serial(" s1 "), normalize_serial("S1"));
        assert_ne!(normalize_serial("S1"), normalize_serial("S 1"));
        assert!(check_serials(true, d("2"), &s(&["S1", " s1"])).is_err());
    }

    #[test]
    fn a_bill_matches_when_quantities_and_costs_agree() {
        let line = MatchLine {
            line_id: 1,
            billed_quantity: d("2"),
            billed_unit_cost: d("1.5"),
            received_quantity: d("2"),
            ordered_unit_cost: d("1.50"),
        };
        assert!(differences(&[line]).is_empty());
        let repriced = MatchLine {
            ordered_unit_cost: d("1.75"),
            ..line
        };
        let found = differences(&[repriced]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, MatchField::UnitCost);
        assert_eq!(found[0].expected, d("1.75"));
    }
}
