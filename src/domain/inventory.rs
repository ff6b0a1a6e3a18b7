//! Stock rules (DOMAIN.md, Stock): what an item needs to be reordered.

use entity::Fixed4;

/// How much to reorder: an item whose on hand + on order + pending (open quantity on PENDING
/// orders) is below its minimum needs maximum − on hand − on order − pending (its minimum when
/// it has no maximum); `None` when it needs nothing. Counting pending orders makes asking
/// twice order nothing twice.
pub fn reorder_quantity(
    on_hand: Fixed4,
    on_order: Fixed4,
    pending: Fixed4,
    minimum: Fixed4,
    maximum: Option<Fixed4>,
) -> Option<Fixed4> {
    // In i128 the sum of three i64 cannot overflow.
    let projected = i128::from(on_hand.0) + i128::from(on_order.0) + i128::from(pending.0);
    if projected >= i128::from(minimum.0) {
        return None;
    }
    let target = i128::from(maximum.unwrap_or(minimum).0.max(minimum.0));
    i64::try_from(target - projected).ok().map(Fixed4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(units: i64) -> Fixed4 {
        Fixed4(units * 10_000)
    }

    #[test]
    fn below_minimum_reorders_up_to_the_maximum() {
        assert_eq!(
            reorder_quantity(f(2), f(1), f(0), f(5), Some(f(10))),
            Some(f(7))
        );
        assert_eq!(reorder_quantity(f(2), f(1), f(0), f(5), None), Some(f(2)));
        assert_eq!(
            reorder_quantity(f(4), f(1), f(0), f(5), Some(f(10))),
            None,
            "at the minimum"
        );
        assert_eq!(reorder_quantity(f(0), f(0), f(0), f(0), None), None);
    }

    #[test]
    fn pending_orders_count_toward_the_reorder_need() {
        // 2 on hand + 1 on order + 3 pending = 6 of a 10 maximum: 4 more.
        assert_eq!(
            reorder_quantity(f(2), f(1), f(3), f(7), Some(f(10))),
            Some(f(4))
        );
        assert_eq!(
            reorder_quantity(f(2), f(1), f(2), f(5), Some(f(10))),
            None,
            "pending brings it to the minimum"
        );
    }
}
