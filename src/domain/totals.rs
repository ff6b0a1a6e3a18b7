//! The totals of a document (DOMAIN.md, Money and rounding): an order's, and a bill's or
//! credit's. This is the one place the formula lives: subtotal = round(Σ exact line amounts),
//! tax = round(subtotal × tax rate), total = subtotal + tax + shipping (or freight).
//!
//! Sorting orders by total needs the same rule inside SQL; `services::sql_rules` holds that
//! expression, and an api test compares it with [`order_totals`] on both databases.

use rust_decimal::Decimal;

use crate::domain::money::{self, add, round_money, Overflow};

/// One priced line of an order: quantity × unit cost is its exact amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PricedLine {
    pub quantity: Decimal,
    pub unit_cost: Decimal,
}

/// A document's printed money: every part rounded to cents, and the parts add up to the total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    /// round(Σ quantity × unit cost), or the carried share of it on a bill.
    pub subtotal: Decimal,
    /// round(subtotal × tax rate), or the carried share of it on a bill.
    pub tax: Decimal,
    /// Shipping (an order) or freight (a bill), entered in whole cents.
    pub shipping: Decimal,
    /// subtotal + tax + shipping.
    pub total: Decimal,
}

impl Totals {
    /// The parts and their sum; shipping is rounded like every printed part (it is entered
    /// in cents, so this only guards rows stored before that rule).
    fn of(subtotal: Decimal, tax: Decimal, shipping: Decimal) -> Result<Self, Overflow> {
        let shipping = round_money(shipping);
        Ok(Totals {
            subtotal,
            tax,
            shipping,
            total: add(add(subtotal, tax)?, shipping)?,
        })
    }
}

/// An order's totals: subtotal = round(Σ exact line amounts); tax = round(subtotal × rate);
/// total = subtotal + tax + shipping.
pub fn order_totals(
    lines: impl IntoIterator<Item = PricedLine>,
    tax_rate: Decimal,
    shipping: Decimal,
) -> Result<Totals, Overflow> {
    let value = money::value(lines.into_iter().map(|l| (l.quantity, l.unit_cost)))?;
    let (subtotal, tax) = money::subtotal_and_tax(value, tax_rate)?;
    Totals::of(subtotal, tax, shipping)
}

/// The totals of the next bill (or credit) of an order, the rounding carried across its bills
/// (see [`money::carried`]): `received` is the order's exact value received once this document
/// counts, `billed` the Σ subtotal and Σ tax of its other open bills, `freight` what this
/// delivery charges (negated on a credit).
pub fn bill_totals(
    received: Decimal,
    tax_rate: Decimal,
    billed: (Decimal, Decimal),
    freight: Decimal,
) -> Result<Totals, Overflow> {
    let (subtotal, tax) = money::carried(received, tax_rate, billed)?;
    Totals::of(subtotal, tax, freight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn lines(pairs: &[(&str, &str)]) -> Vec<PricedLine> {
        pairs
            .iter()
            .map(|(q, c)| PricedLine {
                quantity: d(q),
                unit_cost: d(c),
            })
            .collect()
    }

    fn totals(pairs: &[(&str, &str)], rate: &str, shipping: &str) -> Result<Totals, Overflow> {
        order_totals(lines(pairs), d(rate), d(shipping))
    }

    #[test]
    fn an_order_rounds_its_subtotal_and_tax_once_and_its_parts_add_up_to_its_total() {
        let t = totals(&[("3", "0.335"), ("1.5", "2")], "0.0825", "5").unwrap();
        // 4.005 → 4.01; 4.01 × 0.0825 = 0.330825 → 0.33.
        assert_eq!(t.subtotal, d("4.01"));
        assert_eq!(t.tax, d("0.33"));
        assert_eq!(t.total, d("9.34"));
        assert_eq!(t.subtotal + t.tax + t.shipping, t.total);
    }

    #[test]
    fn printed_parts_add_up_even_when_each_part_is_below_a_cent() {
        // Issue 11, finding 2: 0.004 at 50 % tax showed 0.00 + 0.00 + 0.00 = 0.01.
        let t = totals(&[("1", "0.004")], "0.5", "0").unwrap();
        assert_eq!((t.subtotal, t.tax, t.total), (d("0"), d("0"), d("0")));
    }

    #[test]
    fn line_amounts_are_exact_and_only_the_document_rounds() {
        // Issue 11, finding 1: three lines of 1 × 0.005 are 0.015 → 0.02, not 3 × 0.01.
        let t = totals(&[("1", "0.005"); 3], "0", "0").unwrap();
        assert_eq!(t.subtotal, d("0.02"));
    }

    #[test]
    fn tax_is_rounded_half_away_from_zero_from_the_rounded_subtotal() {
        // 1.00 × 0.125 = 0.125 → 0.13; and the tax is of the rounded subtotal (0.995 → 1.00).
        assert_eq!(totals(&[("1", "1")], "0.125", "0").unwrap().tax, d("0.13"));
        let t = totals(&[("1", "0.995")], "0.125", "0").unwrap();
        assert_eq!((t.subtotal, t.tax), (d("1.00"), d("0.13")));
        assert_eq!(totals(&[("1", "0.1")], "0.05", "0").unwrap().tax, d("0.01"));
    }

    #[test]
    fn decimal_sums_never_pick_up_float_error() {
        let t = totals(&[("1", "0.1"), ("1", "0.2")], "0", "0").unwrap();
        assert_eq!(t.subtotal, d("0.3"));
    }

    #[test]
    fn an_order_without_lines_totals_its_shipping() {
        let t = order_totals([], d("0.2"), d("7.5")).unwrap();
        assert_eq!((t.subtotal, t.tax, t.total), (d("0"), d("0"), d("7.5")));
    }

    #[test]
    fn a_bill_carries_the_rounding_and_adds_its_freight() {
        // A second receipt of 0.005 after a first bill of 0.01: together 0.010 → 0.01, so the
        // second bill charges nothing but its freight.
        let t = bill_totals(d("0.010"), d("0"), (d("0.01"), d("0")), d("2.50")).unwrap();
        assert_eq!((t.subtotal, t.tax, t.total), (d("0"), d("0"), d("2.50")));
        // A credit's freight is negated and its parts still add up.
        let credit = bill_totals(d("0"), d("0.1"), (d("4.01"), d("0.40")), d("-1")).unwrap();
        assert_eq!(
            (credit.subtotal, credit.tax, credit.total),
            (d("-4.01"), d("-0.40"), d("-5.41"))
        );
    }

    #[test]
    fn extreme_stored_values_give_an_overflow_not_a_panic() {
        // Issue 12, finding 4: a line of 9e14 × 9e14 made every order total panic.
        let huge = "900000000000000";
        let max = Decimal::MAX.to_string();
        assert_eq!(totals(&[(huge, huge)], "0", "0"), Err(Overflow));
        assert_eq!(totals(&[(&max, "2")], "0", "0"), Err(Overflow));
        assert_eq!(totals(&[(&max, "1"), (&max, "1")], "0", "0"), Err(Overflow));
        assert_eq!(totals(&[(&max, "1")], "0.9", "0"), Err(Overflow));
        assert_eq!(totals(&[(&max, "1")], "0", "1"), Err(Overflow));
        assert_eq!(
            bill_totals(
                Decimal::MAX,
                Decimal::ZERO,
                (Decimal::ZERO, Decimal::ZERO),
                d("1")
            ),
            Err(Overflow)
        );
    }
}
