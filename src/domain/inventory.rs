//! Stock rules (DOMAIN.md, Stock): what a movement may take from an item, which way each
//! adjustment may go, and what an item needs to be reordered. Quantities are decimals here:
//! the levels an item holds may sum past the limit of one entered quantity ([`Quantity`]).

use rust_decimal::Decimal;

use crate::domain::validate;
use crate::domain::values::Quantity;
use crate::domain::violation::{Violation, ViolationCode};

/// An inventory item's quantities, or a change to them (each part signed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Levels {
    pub on_hand: Decimal,
    pub on_order: Decimal,
    pub backordered: Decimal,
    pub picked: Decimal,
    pub reserved: Decimal,
}

/// Why a change cannot be applied to an item's levels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shortfall {
    /// Less is picked than the change puts back.
    Picked { picked: Decimal },
    /// Less is reserved than the change releases.
    Reserved { reserved: Decimal },
    /// On hand would fall below picked + reserved: only `available` is free, `needed` is asked.
    Available {
        available: Decimal,
        on_hand: Decimal,
        needed: Decimal,
    },
    /// On order or back-ordered would fall below zero, or a level overflowed: the books
    /// disagree with the documents, which no request can cause.
    Books,
}

impl Shortfall {
    /// The broken rule in the domain's words; `None` for [`Shortfall::Books`], which is a fault
    /// of the service rather than of the request.
    pub fn violation(&self) -> Option<Violation> {
        match self {
            Shortfall::Picked { picked } => Some(Violation::new(
                ViolationCode::InsufficientPicked,
                format!("only {} is picked", picked.normalize()),
            )),
            Shortfall::Reserved { reserved } => Some(Violation::new(
                ViolationCode::InsufficientReserved,
                format!("only {} is reserved", reserved.normalize()),
            )),
            Shortfall::Available {
                available,
                on_hand,
                needed,
            } => Some(Violation::new(
                ViolationCode::InsufficientAvailable,
                format!(
                    "only {} is available (on hand {} less picked and reserved); {} is needed",
                    available.normalize(),
                    on_hand.normalize(),
                    needed.normalize()
                ),
            )),
            Shortfall::Books => None,
        }
    }
}

impl Levels {
    /// The levels after `change`, or why it may not be made: on hand never below picked +
    /// reserved, and no quantity below zero. Checked in that order, so a release or unpick
    /// beyond what is held says so before anything about availability.
    pub fn after(self, change: Levels) -> Result<Levels, Shortfall> {
        let add = |a: Decimal, b: Decimal| a.checked_add(b).ok_or(Shortfall::Books);
        let after = Levels {
            on_hand: add(self.on_hand, change.on_hand)?,
            on_order: add(self.on_order, change.on_order)?,
            backordered: add(self.backordered, change.backordered)?,
            picked: add(self.picked, change.picked)?,
            reserved: add(self.reserved, change.reserved)?,
        };
        if after.picked < Decimal::ZERO {
            return Err(Shortfall::Picked {
                picked: self.picked,
            });
        }
        if after.reserved < Decimal::ZERO {
            return Err(Shortfall::Reserved {
                reserved: self.reserved,
            });
        }
        if after.on_hand < add(after.picked, after.reserved)? {
            let committed = add(self.picked, self.reserved)?;
            let taken = add(change.picked, change.reserved)?;
            return Err(Shortfall::Available {
                available: self
                    .on_hand
                    .checked_sub(committed)
                    .ok_or(Shortfall::Books)?,
                on_hand: self.on_hand,
                needed: taken.checked_sub(change.on_hand).ok_or(Shortfall::Books)?,
            });
        }
        if after.on_order < Decimal::ZERO || after.backordered < Decimal::ZERO {
            return Err(Shortfall::Books);
        }
        Ok(after)
    }
}

/// How much to reorder: an item whose on hand + on order + pending (open quantity on PENDING
/// orders) is below its minimum needs maximum − on hand − on order − pending (its minimum when
/// it has no maximum); `None` when it needs nothing. Counting pending orders makes asking
/// twice order nothing twice. Levels beyond the decimal range (no stored level comes near)
/// suggest nothing rather than a wrong quantity.
pub fn reorder_quantity(
    on_hand: Decimal,
    on_order: Decimal,
    pending: Decimal,
    minimum: Decimal,
    maximum: Option<Decimal>,
) -> Option<Decimal> {
    let projected = on_hand.checked_add(on_order)?.checked_add(pending)?;
    if projected >= minimum {
        return None;
    }
    let target = maximum.unwrap_or(minimum).max(minimum);
    target.checked_sub(projected)
}

/// An item's reorder point or maximum: zero or more, within the quantity limits.
pub fn reorder_level(value: Decimal, what: &str) -> Result<Quantity, Violation> {
    validate::non_negative(value, what)?;
    Quantity::parse(value, what)
}

/// An item's maximum, when it has one, is at least its minimum.
pub fn check_reorder_points(minimum: Decimal, maximum: Option<Decimal>) -> Result<(), Violation> {
    if maximum.is_some_and(|max| max < minimum) {
        return Err(Violation::from(
            "the maximum must not be below the minimum".to_owned(),
        ));
    }
    Ok(())
}

/// The quantity a transfer, reservation or pick moves: more than zero, within the limits.
/// Its sign is checked first, so a negative quantity is refused as such however large.
pub fn moved_quantity(value: Decimal) -> Result<Quantity, Violation> {
    validate::positive(value, "the quantity")?;
    Quantity::parse(value, "the quantity")
}

/// Why on-hand is adjusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjustmentReason {
    Count,
    Damage,
    Loss,
    Found,
    Other,
}

impl AdjustmentReason {
    /// The reason as the ledger stores it.
    pub fn ledger_name(self) -> &'static str {
        match self {
            AdjustmentReason::Count => "ADJUSTMENT_COUNT",
            AdjustmentReason::Damage => "ADJUSTMENT_DAMAGE",
            AdjustmentReason::Loss => "ADJUSTMENT_LOSS",
            AdjustmentReason::Found => "ADJUSTMENT_FOUND",
            AdjustmentReason::Other => "ADJUSTMENT_OTHER",
        }
    }

    /// DAMAGE and LOSS only take stock away, FOUND only adds it; COUNT and OTHER go either way.
    pub fn check_direction(self, delta: Decimal) -> Result<(), Violation> {
        let refused = match self {
            AdjustmentReason::Damage | AdjustmentReason::Loss => delta > Decimal::ZERO,
            AdjustmentReason::Found => delta < Decimal::ZERO,
            AdjustmentReason::Count | AdjustmentReason::Other => false,
        };
        if refused {
            let way = if delta > Decimal::ZERO {
                "raise"
            } else {
                "lower"
            };
            let name = self.ledger_name().trim_start_matches("ADJUSTMENT_");
            return Err(Violation::from(format!(
                "a {name} adjustment cannot {way} on hand"
            )));
        }
        Ok(())
    }

    /// An adjustment for another reason says why in its memo.
    pub fn check_memo(self, memo: Option<&str>) -> Result<(), Violation> {
        if self == AdjustmentReason::Other && memo.is_none() {
            return Err(Violation::from(
                "an adjustment for another reason needs a memo saying why".to_owned(),
            ));
        }
        Ok(())
    }
}

/// What an adjustment does to on hand: change it by a quantity, or set it to a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    By(Quantity),
    To(Quantity),
}

impl Change {
    /// A change by `delta`: not zero (an adjustment changes something), within the limits.
    pub fn by(delta: Decimal) -> Result<Self, Violation> {
        if delta.is_zero() {
            return Err(Violation::from(
                "an adjustment changes something".to_owned(),
            ));
        }
        Quantity::parse(delta, "the change").map(Change::By)
    }

    /// A count of `counted`: zero or more, within the limits.
    pub fn to(counted: Decimal) -> Result<Self, Violation> {
        reorder_level(counted, "the counted quantity").map(Change::To)
    }

    /// The change of on hand when it is `on_hand` now; `None` if it overflows.
    pub fn delta(self, on_hand: Decimal) -> Option<Decimal> {
        match self {
            Change::By(delta) => Some(delta.get()),
            Change::To(counted) => counted.get().checked_sub(on_hand),
        }
    }
}

/// An adjustment made against a count must find on hand still as counted: otherwise someone
/// moved stock since and the count is stale.
pub fn check_count(expected: Option<Quantity>, on_hand: Decimal) -> Result<(), Violation> {
    match expected {
        Some(expected) if expected.get() != on_hand => Err(Violation::new(
            ViolationCode::StaleVersion,
            format!(
                "on hand is {} now, not {}: count again",
                on_hand.normalize(),
                expected.get().normalize()
            ),
        )),
        _ => Ok(()),
    }
}

/// An adjustment may take away at most what is on hand.
pub fn check_takes_at_most_on_hand(on_hand: Decimal, delta: Decimal) -> Result<(), Violation> {
    if on_hand
        .checked_add(delta)
        .is_none_or(|left| left < Decimal::ZERO)
    {
        return Err(Violation::new(
            ViolationCode::InsufficientAvailable,
            format!("only {} is on hand", on_hand.normalize()),
        ));
    }
    Ok(())
}

/// Why a due item was left out of the reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    NoPreferredVendor,
    VendorInactive,
    ProductInactive,
    LocationInactive,
    /// The order for its vendor and location was refused (the message says why).
    OrderRefused,
}

/// What the reorder knows of a due item: its product, its location and the product's
/// preferred vendor.
#[derive(Clone, Copy, Debug)]
pub struct ReorderCandidate<'a> {
    pub sku: &'a str,
    pub product_active: bool,
    pub location_code: &'a str,
    pub location_active: bool,
    pub vendor: Option<PreferredVendor<'a>>,
}

/// A product's preferred vendor, as the reorder needs it.
#[derive(Clone, Copy, Debug)]
pub struct PreferredVendor<'a> {
    pub id: i32,
    pub code: &'a str,
    pub active: bool,
}

/// The vendor whose order a due item joins, or why it is left out: its product and location
/// must be active and the product must have an active preferred vendor (checked in that order).
pub fn reorder_vendor(item: &ReorderCandidate<'_>) -> Result<i32, (SkipReason, String)> {
    let sku = item.sku;
    if !item.product_active {
        return Err((
            SkipReason::ProductInactive,
            format!("product {sku} is inactive"),
        ));
    }
    if !item.location_active {
        return Err((
            SkipReason::LocationInactive,
            format!("location {} is inactive", item.location_code),
        ));
    }
    match item.vendor {
        None => Err((
            SkipReason::NoPreferredVendor,
            format!("product {sku} has no preferred vendor"),
        )),
        Some(v) if !v.active => Err((
            SkipReason::VendorInactive,
            format!(
                "the preferred vendor {} of product {sku} is inactive",
                v.code
            ),
        )),
        Some(v) => Ok(v.id),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn n(units: i64) -> Decimal {
        Decimal::from(units)
    }

    fn q(s: &str) -> Quantity {
        Quantity::parse(d(s), "q").unwrap()
    }

    #[test]
    fn below_minimum_reorders_up_to_the_maximum() {
        assert_eq!(
            reorder_quantity(n(2), n(1), n(0), n(5), Some(n(10))),
            Some(n(7))
        );
        assert_eq!(reorder_quantity(n(2), n(1), n(0), n(5), None), Some(n(2)));
        assert_eq!(
            reorder_quantity(n(4), n(1), n(0), n(5), Some(n(10))),
            None,
            "at the minimum"
        );
        assert_eq!(reorder_quantity(n(0), n(0), n(0), n(0), None), None);
    }

    #[test]
    fn pending_orders_count_toward_the_reorder_need() {
        // 2 on hand + 1 on order + 3 pending = 6 of a 10 maximum: 4 more.
        assert_eq!(
            reorder_quantity(n(2), n(1), n(3), n(7), Some(n(10))),
            Some(n(4))
        );
        assert_eq!(
            reorder_quantity(n(2), n(1), n(2), n(5), Some(n(10))),
            None,
            "pending brings it to the minimum"
        );
    }

    #[test]
    fn a_reorder_of_fractional_levels_is_exact() {
        assert_eq!(
            reorder_quantity(d("0.0001"), d("1.5"), n(0), n(2), Some(d("2.25"))),
            Some(d("0.7499"))
        );
    }

    #[test]
    fn levels_beyond_the_decimal_range_suggest_no_reorder() {
        assert_eq!(
            reorder_quantity(Decimal::MAX, Decimal::MAX, n(0), n(5), None),
            None
        );
    }

    fn item(on_hand: i64, picked: i64, reserved: i64) -> Levels {
        Levels {
            on_hand: n(on_hand),
            picked: n(picked),
            reserved: n(reserved),
            ..Levels::default()
        }
    }

    #[test]
    fn on_hand_may_not_fall_below_picked_plus_reserved() {
        let change = Levels {
            on_hand: n(-3),
            ..Levels::default()
        };
        assert_eq!(
            item(5, 1, 1).after(change),
            Ok(item(2, 1, 1)),
            "exactly the available quantity may leave"
        );
        let err = item(5, 1, 1)
            .after(Levels {
                on_hand: n(-4),
                ..Levels::default()
            })
            .unwrap_err();
        assert_eq!(
            err,
            Shortfall::Available {
                available: n(3),
                on_hand: n(5),
                needed: n(4)
            }
        );
        let violation = err.violation().unwrap();
        assert_eq!(violation.code, ViolationCode::InsufficientAvailable);
        assert!(violation.message.contains("only 3 is available"));
    }

    #[test]
    fn a_reservation_or_pick_takes_only_what_is_available() {
        let reserve = |r: i64| Levels {
            reserved: n(r),
            ..Levels::default()
        };
        assert_eq!(item(5, 2, 0).after(reserve(3)), Ok(item(5, 2, 3)));
        assert!(matches!(
            item(5, 2, 0).after(reserve(4)),
            Err(Shortfall::Available { needed, .. }) if needed == n(4)
        ));
    }

    #[test]
    fn a_release_or_unpick_gives_back_at_most_what_is_held() {
        let release = Levels {
            reserved: n(-2),
            ..Levels::default()
        };
        let unpick = Levels {
            picked: n(-2),
            ..Levels::default()
        };
        assert_eq!(
            item(5, 0, 1).after(release),
            Err(Shortfall::Reserved { reserved: n(1) })
        );
        assert_eq!(
            item(5, 1, 0).after(unpick),
            Err(Shortfall::Picked { picked: n(1) })
        );
        assert_eq!(
            Shortfall::Picked { picked: n(1) }.violation().unwrap().code,
            ViolationCode::InsufficientPicked
        );
        assert_eq!(
            Shortfall::Reserved { reserved: n(1) }
                .violation()
                .unwrap()
                .code,
            ViolationCode::InsufficientReserved
        );
    }

    #[test]
    fn on_order_below_zero_is_a_fault_of_the_books_not_of_the_request() {
        let change = Levels {
            on_order: n(-1),
            ..Levels::default()
        };
        assert_eq!(item(5, 0, 0).after(change), Err(Shortfall::Books));
        assert_eq!(Shortfall::Books.violation(), None);
    }

    #[test]
    fn damage_and_loss_only_lower_on_hand_and_found_only_raises_it() {
        use AdjustmentReason::*;
        assert!(Damage.check_direction(n(-1)).is_ok());
        assert!(Loss.check_direction(n(1)).is_err());
        assert!(Damage.check_direction(n(1)).is_err());
        assert!(Found.check_direction(n(1)).is_ok());
        assert!(Found.check_direction(n(-1)).is_err());
        for either in [Count, Other] {
            assert!(either.check_direction(n(1)).is_ok());
            assert!(either.check_direction(n(-1)).is_ok());
        }
        assert_eq!(
            Damage.check_direction(n(2)).unwrap_err().message,
            "a DAMAGE adjustment cannot raise on hand"
        );
    }

    #[test]
    fn an_adjustment_for_another_reason_needs_a_memo() {
        assert!(AdjustmentReason::Other.check_memo(None).is_err());
        assert!(AdjustmentReason::Other.check_memo(Some("why")).is_ok());
        assert!(AdjustmentReason::Count.check_memo(None).is_ok());
    }

    #[test]
    fn a_count_sets_on_hand_and_a_delta_changes_it() {
        assert_eq!(Change::to(n(3)).unwrap().delta(n(5)), Some(n(-2)));
        assert_eq!(Change::by(n(-2)).unwrap().delta(n(5)), Some(n(-2)));
        assert!(Change::by(Decimal::ZERO).is_err(), "a change changes");
        assert!(Change::to(n(-1)).is_err(), "a count is never negative");
        assert_eq!(
            Change::to(d("1000000001")).unwrap_err().code,
            ViolationCode::ValueTooLarge
        );
    }

    #[test]
    fn an_adjustment_against_a_stale_count_is_refused() {
        assert!(check_count(None, n(4)).is_ok());
        assert!(check_count(Some(q("4")), n(4)).is_ok());
        let stale = check_count(Some(q("5")), n(4)).unwrap_err();
        assert_eq!(stale.code, ViolationCode::StaleVersion);
        assert_eq!(stale.message, "on hand is 4 now, not 5: count again");
    }

    #[test]
    fn an_adjustment_takes_at_most_what_is_on_hand() {
        assert!(check_takes_at_most_on_hand(n(3), n(-3)).is_ok());
        let short = check_takes_at_most_on_hand(n(3), n(-4)).unwrap_err();
        assert_eq!(short.code, ViolationCode::InsufficientAvailable);
    }

    #[test]
    fn moved_quantities_are_positive_and_levels_not_negative() {
        assert!(moved_quantity(d("0.0001")).is_ok());
        assert_eq!(
            moved_quantity(d("-2000000000")).unwrap_err().code,
            ViolationCode::InvalidInput,
            "negative before too large"
        );
        assert_eq!(
            moved_quantity(d("2000000000")).unwrap_err().code,
            ViolationCode::ValueTooLarge
        );
        assert!(moved_quantity(d("0.00001")).is_err());
        assert!(reorder_level(Decimal::ZERO, "minimum").is_ok());
        assert!(reorder_level(n(-1), "minimum").is_err());
    }

    #[test]
    fn an_items_maximum_is_at_least_its_minimum() {
        assert!(check_reorder_points(n(2), Some(n(2))).is_ok());
        assert!(check_reorder_points(n(2), None).is_ok());
        let below = check_reorder_points(n(2), Some(n(1))).unwrap_err();
        assert_eq!(below.code, ViolationCode::InvalidInput);
    }

    fn candidate(vendor: Option<PreferredVendor<'static>>) -> ReorderCandidate<'static> {
        ReorderCandidate {
            sku: "BOLT",
            product_active: true,
            location_code: "MAIN",
            location_active: true,
            vendor,
        }
    }

    const ACME: PreferredVendor<'static> = PreferredVendor {
        id: 7,
        code: "ACME",
        active: true,
    };

    #[test]
    fn a_due_item_joins_the_order_of_its_active_preferred_vendor() {
        assert_eq!(reorder_vendor(&candidate(Some(ACME))), Ok(7));
    }

    #[test]
    fn a_due_item_without_an_active_product_location_or_vendor_is_skipped_with_why() {
        let reason = |c: ReorderCandidate<'_>| reorder_vendor(&c).unwrap_err().0;
        assert_eq!(reason(candidate(None)), SkipReason::NoPreferredVendor);
        let inactive = PreferredVendor {
            active: false,
            ..ACME
        };
        assert_eq!(
            reason(candidate(Some(inactive))),
            SkipReason::VendorInactive
        );
        let product = ReorderCandidate {
            product_active: false,
            ..candidate(None)
        };
        assert_eq!(
            reason(product),
            SkipReason::ProductInactive,
            "product first"
        );
        let location = ReorderCandidate {
            location_active: false,
            ..candidate(None)
        };
        assert_eq!(reason(location), SkipReason::LocationInactive);
        assert_eq!(
            reorder_vendor(&candidate(None)).unwrap_err().1,
            "product BOLT has no preferred vendor"
        );
    }
}
