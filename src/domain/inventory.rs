//! Stock rules (DOMAIN.md, Stock): what an item needs to be reordered.

use entity::Fixed4;

/// How much to reorder: an item whose on hand + on order is below its minimum needs enough to
/// reach its maximum (its minimum when it has no maximum); `None` when it needs nothing.
pub fn reorder_quantity(
    on_hand: Fixed4,
    on_order: Fixed4,
    minimum: Fixed4,
    maximum: Option<Fixed4>,
) -> Option<Fixed4> {
    let projected = on_hand.0 + on_order.0;
    if projected >= minimum.0 {
        return None;
    }
    let target = maximum.unwrap_or(minimum).0.max(minimum.0);
    Some(Fixed4(target - projected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(units: i64) -> Fixed4 {
        Fixed4(units * 10_000)
    }

    #[test]
    fn below_minimum_reorders_up_to_the_maximum() {
        assert_eq!(reorder_quantity(f(2), f(1), f(5), Some(f(10))), Some(f(7)));
        assert_eq!(reorder_quantity(f(2), f(1), f(5), None), Some(f(2)));
        assert_eq!(
            reorder_quantity(f(4), f(1), f(5), Some(f(10))),
            None,
            "at the minimum"
        );
        assert_eq!(reorder_quantity(f(0), f(0), f(0), None), None);
    }
}
