//! Input rules shared by the master-data and purchasing use cases.

use rust_decimal::Decimal;

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

/// An ISO 4217 code: three letters, stored upper-case.
pub fn currency(value: &str) -> Result<String, String> {
    let code = value.trim().to_uppercase();
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(format!(
            "`{value}` is not an ISO 4217 currency code like USD"
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

/// A money amount: zero or more, in whole cents.
pub fn money(value: Decimal, what: &str) -> Result<Decimal, String> {
    let value = non_negative(value, what)?;
    if value.normalize().scale() > 2 {
        return Err(format!("{what} is money: at most 2 decimal places"));
    }
    Ok(value)
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
}
