//! Exact decimal storage for quantities, money and rates.
//!
//! SQLite has no exact decimal type (sea-orm maps `Decimal` to REAL there), so every quantity
//! and amount is stored as a 64-bit integer count of ten-thousandths ([`Fixed4`]) and every
//! rate as a count of hundred-millionths ([`Rate8`]). Integers stay exact in `SUM` and in
//! atomic `x = x + $1` updates on both backends.

use rust_decimal::Decimal;
use sea_orm::entity::prelude::*;

/// Why a decimal does not fit a fixed-point column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixedError {
    /// More decimal places than the column keeps.
    TooPrecise { max_places: u32 },
    /// Larger in magnitude than a 64-bit count of the smallest unit.
    OutOfRange,
}

impl std::fmt::Display for FixedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FixedError::TooPrecise { max_places } => {
                write!(f, "at most {max_places} decimal places are allowed")
            }
            FixedError::OutOfRange => f.write_str("the value is too large"),
        }
    }
}

impl std::error::Error for FixedError {}

fn to_units(value: Decimal, places: u32) -> Result<i64, FixedError> {
    let normalized = value.normalize();
    if normalized.scale() > places {
        return Err(FixedError::TooPrecise { max_places: places });
    }
    let mut scaled = normalized;
    scaled.rescale(places);
    // `rescale` silently rounds when the mantissa would overflow; check it is still equal.
    if scaled != normalized || scaled.scale() != places {
        return Err(FixedError::OutOfRange);
    }
    i64::try_from(scaled.mantissa()).map_err(|_| FixedError::OutOfRange)
}

macro_rules! fixed_point {
    ($(#[$doc:meta])* $name:ident, $places:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, DeriveValueType)]
        pub struct $name(pub i64);

        impl $name {
            /// Decimal places kept.
            pub const PLACES: u32 = $places;
            /// Zero.
            pub const ZERO: Self = Self(0);

            /// The exact decimal value, normalised (no trailing zeros).
            pub fn to_decimal(self) -> Decimal {
                Decimal::new(self.0, Self::PLACES).normalize()
            }

            /// Converts a decimal exactly, refusing extra places or overflow (never rounds).
            pub fn from_decimal(value: Decimal) -> Result<Self, FixedError> {
                to_units(value, Self::PLACES).map(Self)
            }

            /// True when the value is zero.
            pub fn is_zero(self) -> bool {
                self.0 == 0
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Decimal {
                value.to_decimal()
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = FixedError;
            fn try_from(value: Decimal) -> Result<Self, FixedError> {
                Self::from_decimal(value)
            }
        }
    };
}

fixed_point!(
    /// A quantity or an amount of money with exactly four decimal places.
    Fixed4,
    4
);

fixed_point!(
    /// A rate (tax rate, exchange rate) with exactly eight decimal places.
    Rate8,
    8
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn values_with_four_places_round_trip_exactly() {
        for s in [
            "0",
            "0.1",
            "0.0001",
            "123456789012.3456",
            "-42.5",
            "922337203685477.5807",
        ] {
            let fixed = Fixed4::from_decimal(dec(s)).unwrap();
            assert_eq!(fixed.to_decimal(), dec(s).normalize(), "{s}");
        }
    }

    #[test]
    fn adding_tenths_in_units_is_exact() {
        let a = Fixed4::from_decimal(dec("0.1")).unwrap();
        let b = Fixed4::from_decimal(dec("0.2")).unwrap();
        assert_eq!(Fixed4(a.0 + b.0).to_decimal(), dec("0.3"));
    }

    #[test]
    fn a_fifth_decimal_place_is_refused_not_rounded() {
        assert_eq!(
            Fixed4::from_decimal(dec("1.00001")),
            Err(FixedError::TooPrecise { max_places: 4 })
        );
        // Trailing zeros beyond the scale are not precision.
        assert_eq!(Fixed4::from_decimal(dec("1.50000")).unwrap(), Fixed4(15000));
    }

    #[test]
    fn values_beyond_64_bits_are_refused() {
        assert_eq!(
            Fixed4::from_decimal(dec("922337203685477.5808")),
            Err(FixedError::OutOfRange)
        );
        assert_eq!(
            Fixed4::from_decimal(dec("79228162514264337593543950335")),
            Err(FixedError::OutOfRange)
        );
    }

    #[test]
    fn rates_keep_eight_places() {
        assert_eq!(
            Rate8::from_decimal(dec("0.08875")).unwrap(),
            Rate8(8_875_000)
        );
        assert!(Rate8::from_decimal(dec("0.000000001")).is_err());
    }
}
