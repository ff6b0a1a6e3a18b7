//! Scalars: exact decimals as strings, UTC timestamps and calendar dates.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, SecondsFormat, Utc};
use rust_decimal::prelude::RoundingStrategy;
use std::str::FromStr;

/// An exact decimal number written as a string, e.g. `"0.45"`. JSON numbers are refused: they
/// pass through binary floating point on their way here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal(pub rust_decimal::Decimal);

impl Decimal {
    /// A quantity or unit cost, printed without trailing zeros (`"1000"`, `"0.45"`).
    pub fn quantity(value: rust_decimal::Decimal) -> Self {
        Decimal(value.normalize())
    }

    /// A money total, rounded half away from zero and printed with exactly two places (`"910.00"`).
    pub fn money(value: rust_decimal::Decimal) -> Self {
        let mut rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        rounded.rescale(2);
        Decimal(rounded)
    }
}

impl From<entity::Fixed4> for Decimal {
    fn from(value: entity::Fixed4) -> Self {
        Decimal::quantity(value.to_decimal())
    }
}

impl From<entity::Rate8> for Decimal {
    fn from(value: entity::Rate8) -> Self {
        Decimal::quantity(value.to_decimal())
    }
}

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => rust_decimal::Decimal::from_str(text.trim())
                .map(Decimal)
                .map_err(|_| InputValueError::custom(format!("`{text}` is not a decimal number"))),
            Value::Number(_) => Err(InputValueError::custom(
                "decimals are written as strings, e.g. \"12.50\": a JSON number may already have lost digits",
            )),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// A moment in time, RFC 3339 in UTC (`2026-11-24T09:30:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| {
                    InputValueError::custom(format!("`{text}` is not an RFC 3339 timestamp"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// A calendar date, ISO 8601 (`2026-11-24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| {
                    InputValueError::custom(format!("`{text}` is not a date like 2026-11-24"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> rust_decimal::Decimal {
        rust_decimal::Decimal::from_str(s).unwrap()
    }

    #[test]
    fn quantities_print_without_trailing_zeros() {
        assert_eq!(
            Decimal::quantity(dec("1000.0000")).to_value(),
            Value::String("1000".into())
        );
        assert_eq!(
            Decimal::quantity(dec("0.4500")).to_value(),
            Value::String("0.45".into())
        );
    }

    #[test]
    fn money_prints_two_places_rounding_half_away_from_zero() {
        assert_eq!(
            Decimal::money(dec("910")).to_value(),
            Value::String("910.00".into())
        );
        assert_eq!(
            Decimal::money(dec("0.125")).to_value(),
            Value::String("0.13".into())
        );
        assert_eq!(
            Decimal::money(dec("-0.125")).to_value(),
            Value::String("-0.13".into())
        );
    }

    #[test]
    fn a_json_number_is_refused_for_a_decimal() {
        assert!(<Decimal as ScalarType>::parse(Value::from(0.1)).is_err());
        assert!(<Decimal as ScalarType>::parse(Value::String("0.1".into())).is_ok());
        assert!(<Decimal as ScalarType>::parse(Value::String("abc".into())).is_err());
    }
}
