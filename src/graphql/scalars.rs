//! Scalars: exact decimals as strings, UTC timestamps and calendar dates.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, SecondsFormat, Utc};

/// An exact decimal number written as a string, e.g. `"0.45"`. JSON numbers are refused: they
/// pass through binary floating point on their way here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal(pub rust_decimal::Decimal);

impl Decimal {
    /// A quantity or unit cost, printed without trailing zeros (`"1000"`, `"0.45"`).
    pub fn quantity(value: rust_decimal::Decimal) -> Self {
        Decimal(value.normalize())
    }

    /// An amount of money, printed with exactly two places (`"910.00"`). The domain rounds
    /// (`domain::money`, `domain::totals`); this only formats what it rounded. (Should a value
    /// with more places reach it, `rescale` rounds it half away from zero, the domain's rule.)
    pub fn money(cents: rust_decimal::Decimal) -> Self {
        let mut printed = cents;
        printed.rescale(2);
        Decimal(printed)
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

/// True for a plain decimal: an optional `-`, digits, and optionally a point followed by
/// digits (`"12.5"`, `"-3"`, `"0.0001"`). No exponent, no `+`, no blanks, no bare point.
fn is_plain_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

/// A refused decimal input: a GraphQL error with `extensions.code` `BAD_REQUEST`.
fn bad_decimal(message: impl std::fmt::Display) -> InputValueError<Decimal> {
    InputValueError::custom(message).with_extension("code", "BAD_REQUEST")
}

/// An exact decimal number written as a plain string: an optional `-`, digits, and optionally
/// a point followed by digits (`"12.5"`, `"-3"`, `"0.0001"`). Exponents (`"1e3"`), a leading
/// `+`, a bare point (`".5"`, `"5."`) and JSON numbers (which may already have lost digits in
/// binary floating point) are refused with `extensions.code` `BAD_REQUEST`.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) if is_plain_decimal(text) => {
                // `from_str_exact` refuses digits beyond what a decimal holds instead of
                // rounding them away.
                rust_decimal::Decimal::from_str_exact(text)
                    .map(Decimal)
                    .map_err(|_| bad_decimal(format!("`{text}` has too many digits")))
            }
            Value::String(text) => Err(bad_decimal(format!(
                "`{text}` is not a plain decimal number like \"12.5\", \"-3\" or \"0.0001\""
            ))),
            Value::Number(_) => Err(bad_decimal(
                "decimals are written as strings, e.g. \"12.50\": a JSON number may already have lost digits",
            )),
            _ => Err(InputValueError::expected_type(value).with_extension("code", "BAD_REQUEST")),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// The `DateTime` scalar; its GraphQL description sits on the `#[Scalar]` impl, where
/// async-graphql reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// A moment in time, RFC 3339 in UTC (`2026-11-24T09:30:00Z`). Inputs with another offset are
/// converted to UTC; output is always UTC.
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

/// The `Date` scalar; its GraphQL description sits on the `#[Scalar]` impl.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date, ISO 8601 (`2026-11-24`), with no time of day or zone.
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
    use std::str::FromStr;

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

    fn refusal_code(text: &str) -> Option<Value> {
        let err = <Decimal as ScalarType>::parse(Value::String(text.into())).err()?;
        let server = err.into_server_error(async_graphql::Pos::default());
        server.extensions.and_then(|e| e.get("code").cloned())
    }

    #[test]
    fn only_plain_decimal_strings_are_decimals() {
        for plain in ["12.5", "-3", "0.0001", "0", "-0.5", "1000000000"] {
            assert_eq!(
                <Decimal as ScalarType>::parse(Value::String(plain.into()))
                    .unwrap()
                    .0,
                dec(plain),
                "{plain}"
            );
        }
        for refused in [
            "1e3", "1E3", "+5", ".5", "5.", "-.5", "-", "", " 5", "5 ", "1_000", "1,5", "0x10",
            "--1", "1.2.3", "NaN", "Infinity", "١٢",
        ] {
            assert_eq!(
                refusal_code(refused),
                Some(Value::from("BAD_REQUEST")),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn digits_a_decimal_cannot_hold_are_refused_not_rounded() {
        assert_eq!(
            refusal_code("1.00000000000000000000000000001"),
            Some(Value::from("BAD_REQUEST"))
        );
        assert_eq!(
            refusal_code("99999999999999999999999999999999"),
            Some(Value::from("BAD_REQUEST"))
        );
    }

    #[test]
    fn a_json_number_is_refused_for_a_decimal() {
        assert!(<Decimal as ScalarType>::parse(Value::from(0.1)).is_err());
        assert!(<Decimal as ScalarType>::parse(Value::String("0.1".into())).is_ok());
        assert!(<Decimal as ScalarType>::parse(Value::String("abc".into())).is_err());
    }
}
