//! Input rules shared by the master-data and purchasing use cases.

use rust_decimal::Decimal;

use crate::domain::violation::Violation;
use crate::domain::violation::ViolationCode;

/// The largest quantity anywhere: a line, a receipt, a movement, an inventory item's fields.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// The largest unit cost.
pub const MAX_UNIT_COST: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// The largest amount of money entered as such (shipping, freight).
pub const MAX_MONEY: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A trimmed text of `min..=max` characters, or the reason it is not.
pub fn text(value: &str, what: &str, min: usize, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min {
        Err(format!("{what} must not be blank"))
    } else if len > max {
        Err(format!("{what} must be at most {max} characters"))
    } else {
        Ok(trimmed.to_owned())
    }
}

/// Optional text: blank becomes `None`.
pub fn optional_text(
    value: Option<&str>,
    what: &str,
    max: usize,
) -> Result<Option<String>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(v, what, 1, max).map(Some),
    }
}

/// A business key (vendor code, SKU, location code, PO number): 1–50 visible characters, no
/// spaces, stored upper-case so `acme` and `ACME` cannot both exist.
/// The length is checked on the upper-cased key, the one stored: `ß` becomes `SS`.
pub fn key(value: &str, what: &str, max: usize) -> Result<String, String> {
    let trimmed = text(value, what, 1, max)?;
    if trimmed.chars().any(char::is_whitespace) {
        return Err(format!("{what} must not contain spaces"));
    }
    text(&trimmed.to_uppercase(), what, 1, max)
}

/// The active ISO 4217 currency codes (list one, without funds, precious metals, bond-market
/// units, the testing code and "no currency": no vendor invoices in those).
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP",
    "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY",
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
    "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
    "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG",
    "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
    "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// An active ISO 4217 currency code, stored upper-case (`eur` → `EUR`; `XYZ` is refused).
pub fn currency(value: &str) -> Result<String, String> {
    let code = value.trim().to_uppercase();
    if ISO_4217.contains(&code.as_str()) {
        Ok(code)
    } else {
        Err(format!(
            "`{value}` is not an active ISO 4217 currency code like USD or EUR"
        ))
    }
}

/// Longest email address, in characters (the SMTP path limit of RFC 5321).
pub const MAX_EMAIL_CHARS: usize = 254;

/// A plausible email address of at most [`MAX_EMAIL_CHARS`] characters.
pub fn email(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!(
            "an email address is at most {MAX_EMAIL_CHARS} characters"
        ));
    }
    match trimmed.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !trimmed.contains(' ') =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(format!("`{value}` is not an email address")),
    }
}

/// A tax rate as a fraction: 0 <= rate < 1.
pub fn tax_rate(rate: Decimal) -> Result<Decimal, String> {
    if rate >= Decimal::ZERO && rate < Decimal::ONE {
        Ok(rate)
    } else {
        Err("a tax rate is a fraction from 0 up to (not including) 1, e.g. 0.0825".to_owned())
    }
}

/// A quantity that must be greater than zero.
pub fn positive(value: Decimal, what: &str) -> Result<Decimal, String> {
    if value > Decimal::ZERO {
        Ok(value)
    } else {
        Err(format!("{what} must be greater than zero"))
    }
}

/// An amount that must not be negative.
pub fn non_negative(value: Decimal, what: &str) -> Result<Decimal, String> {
    if value >= Decimal::ZERO {
        Ok(value)
    } else {
        Err(format!("{what} must not be negative"))
    }
}

/// A value within `max` in magnitude, or `VALUE_TOO_LARGE`.
pub fn at_most(value: Decimal, max: Decimal, what: &str) -> Result<Decimal, Violation> {
    if value.abs() > max {
        return Err(Violation::new(
            ViolationCode::ValueTooLarge,
            format!("{what} may be at most {max}"),
        ));
    }
    Ok(value)
}

/// A value with at most `places` decimal places (trailing zeros do not count); more is
/// refused, never rounded.
fn places(value: Decimal, places: u32, what: &str) -> Result<Decimal, Violation> {
    if value.normalize().scale() > places {
        return Err(Violation::from(format!(
            "{what} has at most {places} decimal places"
        )));
    }
    Ok(value)
}

/// A quantity (of a line, receipt, movement or inventory item field) within
/// [`MAX_QUANTITY`] either way.
pub fn quantity(value: Decimal, what: &str) -> Result<Decimal, Violation> {
    at_most(value, MAX_QUANTITY, what)
}

/// A unit cost: zero or more, at most 4 decimal places, at most [`MAX_UNIT_COST`].
pub fn unit_cost(value: Decimal) -> Result<Decimal, Violation> {
    let value = non_negative(value, "a unit cost")?;
    let value = places(value, 4, "a unit cost")?;
    at_most(value, MAX_UNIT_COST, "a unit cost")
}

/// An amount of money entered as such (shipping, freight): zero or more, in whole cents, at
/// most [`MAX_MONEY`].
pub fn money(value: Decimal, what: &str) -> Result<Decimal, Violation> {
    let value = non_negative(value, what)?;
    let value = places(value, 2, what)
        .map_err(|_| Violation::from(format!("{what} is money: at most 2 decimal places")))?;
    at_most(value, MAX_MONEY, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn keys_are_trimmed_upper_cased_and_free_of_spaces() {
        assert_eq!(key(" acme ", "code", 50).unwrap(), "ACME");
        assert!(key("a b", "code", 50).is_err());
        assert!(key("", "code", 50).is_err());
        assert!(key(&"x".repeat(51), "code", 50).is_err());
    }

    #[test]
    fn a_key_that_upper_cases_past_its_length_limit_is_refused() {
        // 50 `ß` are 50 characters, but stored upper-case they are 100.
        assert!(key(&"ß".repeat(50), "code", 50).is_err());
        assert_eq!(key(&"ß".repeat(25), "code", 50).unwrap(), "SS".repeat(25));
    }

    #[test]
    fn an_email_address_is_at_most_254_characters() {
        let at_limit = format!("{}@example.com", "a".repeat(254 - 12));
        assert!(email(&at_limit).is_ok());
        assert!(email(&format!("a{at_limit}")).is_err());
    }

    #[test]
    fn a_tax_rate_is_at_least_zero_and_below_one() {
        assert!(tax_rate(Decimal::ZERO).is_ok());
        assert!(tax_rate(Decimal::from_str("0.0825").unwrap()).is_ok());
        assert!(tax_rate(Decimal::ONE).is_err());
        assert!(tax_rate(Decimal::from_str("-0.01").unwrap()).is_err());
    }

    #[test]
    fn currencies_and_emails_are_checked() {
        assert_eq!(currency("eur").unwrap(), "EUR");
        assert!(currency("EURO").is_err());
        assert!(currency("XYZ").is_err(), "three letters are not enough");
        assert!(currency("usd ").is_ok());
        assert!(email("ann@example.com").is_ok());
        assert!(email("ann@localhost").is_err());
        assert!(email("not an email").is_err());
    }

    #[test]
    fn blank_optional_text_becomes_none() {
        assert_eq!(optional_text(Some("  "), "memo", 10).unwrap(), None);
        assert_eq!(
            optional_text(Some(" hi "), "memo", 10).unwrap(),
            Some("hi".to_owned())
        );
        assert!(optional_text(Some("too long text"), "memo", 5).is_err());
    }

    #[test]
    fn money_is_non_negative_whole_cents() {
        assert!(money(Decimal::new(1250, 2), "freight").is_ok());
        assert!(
            money(Decimal::new(12500, 4), "freight").is_ok(),
            "1.2500 is 1.25"
        );
        assert!(money(Decimal::new(1255, 3), "freight").is_err());
        assert!(money(Decimal::new(-1, 0), "freight").is_err());
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn shipping_with_a_third_decimal_is_refused_not_rounded() {
        let refused = money(d("1.004"), "shipping").unwrap_err();
        assert_eq!(refused.code, ViolationCode::InvalidInput);
        assert!(refused.message.contains("2 decimal places"), "{refused:?}");
    }

    #[test]
    fn a_unit_cost_has_at_most_four_decimals_and_is_at_most_a_million() {
        assert_eq!(unit_cost(d("0.0001")).unwrap(), d("0.0001"));
        assert_eq!(unit_cost(d("1000000")).unwrap(), d("1000000"));
        assert_eq!(
            unit_cost(d("0.00001")).unwrap_err().code,
            ViolationCode::InvalidInput
        );
        assert_eq!(
            unit_cost(d("1000000.0001")).unwrap_err().code,
            ViolationCode::ValueTooLarge
        );
        assert_eq!(
            unit_cost(d("-1")).unwrap_err().code,
            ViolationCode::InvalidInput
        );
    }

    #[test]
    fn quantities_and_money_inputs_are_at_most_one_billion_either_way() {
        assert!(quantity(d("1000000000"), "quantity").is_ok());
        assert!(quantity(d("-1000000000"), "delta").is_ok());
        for too_large in [
            "1000000000.0001",
            "-1000000000.0001",
            "922337203685477.5807",
        ] {
            assert_eq!(
                quantity(d(too_large), "quantity").unwrap_err().code,
                ViolationCode::ValueTooLarge,
                "{too_large}"
            );
        }
        assert!(money(d("1000000000"), "freight").is_ok());
        assert_eq!(
            money(d("1000000000.01"), "freight").unwrap_err().code,
            ViolationCode::ValueTooLarge
        );
    }
}
