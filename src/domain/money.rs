//! Money arithmetic: exact decimals, rounded half away from zero to cents only at the total.

use rust_decimal::prelude::RoundingStrategy;
use rust_decimal::Decimal;

/// Rounds an amount to cents, half away from zero (`0.125` → `0.13`, `-0.125` → `-0.13`).
pub fn round_money(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The value of a line: quantity × unit cost, exact.
pub fn line_amount(quantity: Decimal, unit_cost: Decimal) -> Decimal {
    quantity * unit_cost
}

/// A purchase order's (or bill's) money, exact until the total is rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Σ quantity × unit cost.
    pub subtotal: Decimal,
    /// subtotal × tax rate.
    pub tax: Decimal,
    /// Shipping or freight.
    pub shipping: Decimal,
    /// subtotal + tax + shipping, rounded to cents.
    pub total: Decimal,
}

/// subtotal = Σ quantity × unit cost; tax = subtotal × rate; total = subtotal + tax + shipping,
/// rounded half away from zero to cents (DOMAIN.md, Totals).
pub fn totals(
    lines: impl IntoIterator<Item = (Decimal, Decimal)>,
    tax_rate: Decimal,
    shipping: Decimal,
) -> Totals {
    let subtotal: Decimal = lines
        .into_iter()
        .map(|(quantity, unit_cost)| line_amount(quantity, unit_cost))
        .sum();
    let tax = subtotal * tax_rate;
    Totals {
        subtotal,
        tax,
        shipping,
        total: round_money(subtotal + tax + shipping),
    }
}

/// An amount in the vendor's currency expressed in the base currency.
pub fn to_base(amount: Decimal, exchange_rate: Decimal) -> Decimal {
    amount * exchange_rate
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn total_is_subtotal_plus_tax_plus_shipping_rounded_at_the_total() {
        let t = totals(
            [(d("3"), d("0.335")), (d("1.5"), d("2"))],
            d("0.0825"),
            d("5"),
        );
        assert_eq!(t.subtotal, d("4.005"));
        assert_eq!(t.tax, d("0.3304125"));
        // 4.005 + 0.3304125 + 5 = 9.3354125 → 9.34
        assert_eq!(t.total, d("9.34"));
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round_money(d("2.675")), d("2.68"));
        assert_eq!(round_money(d("-2.675")), d("-2.68"));
        assert_eq!(round_money(d("2.674999")), d("2.67"));
    }

    #[test]
    fn decimal_sums_never_pick_up_float_error() {
        let t = totals(
            [(d("1"), d("0.1")), (d("1"), d("0.2"))],
            Decimal::ZERO,
            Decimal::ZERO,
        );
        assert_eq!(t.subtotal, d("0.3"));
    }
}
