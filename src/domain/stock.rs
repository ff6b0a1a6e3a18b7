//! What an inventory item's quantities mean (DOMAIN.md, Stock). The list of items filters and
//! sorts by the same rules inside SQL (`services::sql_rules`); an api test compares the two.

use rust_decimal::Decimal;

/// What can still be reserved, picked or moved: on hand − picked − reserved.
///
/// Stored quantities are 64-bit counts of ten-thousandths, far inside `Decimal`'s 96 bits, so
/// the difference of three of them is always exact; saturating only keeps that a non-panic
/// for any input.
pub fn available(on_hand: Decimal, picked: Decimal, reserved: Decimal) -> Decimal {
    on_hand.saturating_sub(picked).saturating_sub(reserved)
}

/// Whether an item is below its reorder point: on hand strictly below the minimum. (Due for
/// reordering is wider: it also counts what is on order and pending.)
pub fn below_minimum(on_hand: Decimal, minimum: Decimal) -> bool {
    on_hand < minimum
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn available_is_on_hand_less_picked_and_reserved() {
        assert_eq!(available(d("10"), d("2.5"), d("3")), d("4.5"));
        assert_eq!(available(d("5"), d("0"), d("5")), d("0"));
        assert_eq!(
            available(d("0.0003"), d("0.0001"), d("0.0001")),
            d("0.0001")
        );
    }

    #[test]
    fn available_of_extreme_values_never_panics() {
        assert_eq!(available(Decimal::MIN, d("1"), d("1")), Decimal::MIN);
    }

    #[test]
    fn an_item_is_below_its_minimum_only_when_on_hand_is_strictly_less() {
        assert!(below_minimum(d("4.9999"), d("5")));
        assert!(!below_minimum(d("5"), d("5")));
        assert!(!below_minimum(d("6"), d("5")));
        assert!(!below_minimum(d("0"), d("0")));
    }
}
