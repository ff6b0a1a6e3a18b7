//! Money arithmetic (DOMAIN.md, Money and rounding): line amounts are exact, each document
//! rounds once, half away from zero to cents, and the rounding is carried across an order's
//! bills. Every operation is checked: an amount too large to compute is an [`Overflow`], never
//! a panic.

use rust_decimal::prelude::RoundingStrategy;
use rust_decimal::Decimal;

use crate::domain::violation::Violation;
use crate::domain::violation::ViolationCode;

/// The largest total a document (order, bill, credit) may have, in either direction.
pub const MAX_DOCUMENT_TOTAL: Decimal = Decimal::from_parts(1_215_752_192, 23, 0, false, 0);

/// An amount too large to compute exactly (beyond `Decimal`'s 96-bit mantissa).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the amount is too large to compute")
    }
}

impl std::error::Error for Overflow {}

impl From<Overflow> for Violation {
    fn from(_: Overflow) -> Self {
        Violation::new(
            ViolationCode::ValueTooLarge,
            "the amounts are too large to compute",
        )
    }
}

/// Rounds an amount to cents, half away from zero (`0.125` → `0.13`, `-0.125` → `-0.13`).
pub fn round_money(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The value of a line: quantity × unit cost, exact.
pub fn line_amount(quantity: Decimal, unit_cost: Decimal) -> Result<Decimal, Overflow> {
    quantity.checked_mul(unit_cost).ok_or(Overflow)
}

/// `a + b`, checked.
pub fn add(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    a.checked_add(b).ok_or(Overflow)
}

/// `a - b`, checked.
pub fn sub(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    a.checked_sub(b).ok_or(Overflow)
}

/// Σ quantity × unit cost, exact.
pub fn value(lines: impl IntoIterator<Item = (Decimal, Decimal)>) -> Result<Decimal, Overflow> {
    lines
        .into_iter()
        .try_fold(Decimal::ZERO, |sum, (quantity, unit_cost)| {
            add(sum, line_amount(quantity, unit_cost)?)
        })
}

/// The rounded subtotal and tax of an exact value: subtotal = round(value), tax =
/// round(subtotal × rate). A single document rounds exactly once per part.
pub fn subtotal_and_tax(value: Decimal, tax_rate: Decimal) -> Result<(Decimal, Decimal), Overflow> {
    let subtotal = round_money(value);
    let tax = round_money(subtotal.checked_mul(tax_rate).ok_or(Overflow)?);
    Ok((subtotal, tax))
}

/// What the next bill (or credit) of an order charges, with the rounding carried across the
/// order's bills: the order's received value rounded once, minus what its other open bills
/// already charge. `received` is the exact value received so far (this document included);
/// `billed` the Σ subtotal and Σ tax of the order's other open bills. So the open bills of an
/// order always sum to its received value rounded once, however many there are.
pub fn carried(
    received: Decimal,
    tax_rate: Decimal,
    billed: (Decimal, Decimal),
) -> Result<(Decimal, Decimal), Overflow> {
    let (subtotal, tax) = subtotal_and_tax(received, tax_rate)?;
    Ok((sub(subtotal, billed.0)?, sub(tax, billed.1)?))
}

/// A document total within [`MAX_DOCUMENT_TOTAL`], or `VALUE_TOO_LARGE`.
pub fn check_document_total(total: Decimal) -> Result<Decimal, Violation> {
    if total.abs() > MAX_DOCUMENT_TOTAL {
        return Err(Violation::new(
            ViolationCode::ValueTooLarge,
            format!(
                "a document total may be at most {MAX_DOCUMENT_TOTAL}, this one would be {total}"
            ),
        ));
    }
    Ok(total)
}

/// An amount in the vendor's currency expressed in the base currency, exact (a unit cost).
pub fn to_base(amount: Decimal, exchange_rate: Decimal) -> Result<Decimal, Overflow> {
    amount.checked_mul(exchange_rate).ok_or(Overflow)
}

/// A document amount (a total) in the base currency: converted, then rounded to cents like
/// every printed total.
pub fn to_base_money(amount: Decimal, exchange_rate: Decimal) -> Result<Decimal, Overflow> {
    to_base(amount, exchange_rate).map(round_money)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn the_document_limit_is_one_hundred_billion() {
        assert_eq!(MAX_DOCUMENT_TOTAL, d("100000000000"));
        assert!(check_document_total(d("100000000000")).is_ok());
        assert_eq!(
            check_document_total(d("100000000000.01")).unwrap_err().code,
            ViolationCode::ValueTooLarge
        );
        assert!(check_document_total(d("-100000000000.01")).is_err());
    }

    #[test]
    fn line_amounts_are_exact() {
        assert_eq!(line_amount(d("12.5"), d("3.4567")).unwrap(), d("43.20875"));
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round_money(d("2.675")), d("2.68"));
        assert_eq!(round_money(d("-2.675")), d("-2.68"));
        assert_eq!(round_money(d("2.674999")), d("2.67"));
    }

    #[test]
    fn bills_carry_the_rounding_so_they_sum_to_the_received_value_rounded_once() {
        // 25 receipts of 0.0001 × 1234.5678: each is worth 0.12345678.
        let each = line_amount(d("0.0001"), d("1234.5678")).unwrap();
        let (mut received, mut billed) = (Decimal::ZERO, (Decimal::ZERO, Decimal::ZERO));
        for _ in 0..25 {
            received += each;
            let (subtotal, tax) = carried(received, d("0.0825"), billed).unwrap();
            billed = (billed.0 + subtotal, billed.1 + tax);
        }
        assert_eq!(billed.0, d("3.09"));
        assert_eq!(billed, subtotal_and_tax(received, d("0.0825")).unwrap());
    }

    #[test]
    fn a_base_currency_total_is_rounded_to_cents_half_away_from_zero() {
        assert_eq!(to_base_money(d("10.01"), d("0.5")).unwrap(), d("5.01"));
        assert_eq!(to_base_money(d("-10.01"), d("0.5")).unwrap(), d("-5.01"));
        assert_eq!(to_base_money(d("3"), d("1.23456789")).unwrap(), d("3.70"));
        // A unit cost converts exactly: only documents round.
        assert_eq!(to_base(d("0.0001"), d("1.5")).unwrap(), d("0.00015"));
    }

    #[test]
    fn extreme_stored_values_give_an_overflow_not_a_panic() {
        // Order totals: see `domain::totals`.
        assert_eq!(to_base(Decimal::MAX, d("2")), Err(Overflow));
        assert_eq!(to_base_money(Decimal::MAX, d("2")), Err(Overflow));
        assert_eq!(
            carried(Decimal::MAX, Decimal::ZERO, (Decimal::MIN, Decimal::ZERO)),
            Err(Overflow)
        );
    }
}
