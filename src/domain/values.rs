//! Parsed values (DOMAIN.md, Money and rounding; Vendors, products and locations): a value of
//! one of these types has passed its rules, so a use case that holds one need not check it
//! again. Each `parse` says why a raw value is refused in the domain's words; the caller
//! attaches where in its command the value came from.

use rust_decimal::Decimal;

use crate::domain::validate;
use crate::domain::violation::Violation;

/// Places a stored quantity or unit cost keeps (more is refused, never rounded).
pub const QUANTITY_PLACES: u32 = 4;

/// A value with at most `max_places` decimal places (trailing zeros do not count).
fn exact(value: Decimal, max_places: u32) -> Result<Decimal, Violation> {
    if value.normalize().scale() > max_places {
        return Err(Violation::from(format!(
            "at most {max_places} decimal places are allowed"
        )));
    }
    Ok(value)
}

/// A quantity of stock (a line, a receipt, a movement, an inventory item's level): within
/// [`validate::MAX_QUANTITY`] either way and exact to [`QUANTITY_PLACES`] places. Signed: a
/// movement's delta may be negative; rules that need a positive quantity check it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(Decimal);

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity(Decimal::ZERO);

    /// `value` as a quantity; `what` names it in the refusal ("the quantity").
    pub fn parse(value: Decimal, what: &str) -> Result<Self, Violation> {
        let value = validate::quantity(value, what)?;
        exact(value, QUANTITY_PLACES).map(Self)
    }

    /// A positive quantity (a line's ordered quantity, a receipt's accepted one).
    pub fn parse_positive(value: Decimal, what: &str) -> Result<Self, Violation> {
        let parsed = Self::parse(value, what)?;
        validate::positive(parsed.0, what)?;
        Ok(parsed)
    }

    /// The value.
    pub fn get(self) -> Decimal {
        self.0
    }
}

/// A unit cost: zero or more, at most 4 decimal places, at most [`validate::MAX_UNIT_COST`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitCost(Decimal);

impl UnitCost {
    /// `value` as a unit cost.
    pub fn parse(value: Decimal) -> Result<Self, Violation> {
        validate::unit_cost(value).map(Self)
    }

    /// The value.
    pub fn get(self) -> Decimal {
        self.0
    }
}

/// An amount of money entered as such (shipping, freight): zero or more, whole cents, at most
/// [`validate::MAX_MONEY`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

impl Money {
    /// `value` as money; `what` names it in the refusal ("freight").
    pub fn parse(value: Decimal, what: &str) -> Result<Self, Violation> {
        validate::money(value, what).map(Self)
    }

    /// The value.
    pub fn get(self) -> Decimal {
        self.0
    }
}

/// A tax rate as a fraction: 0 ≤ rate < 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaxRate(Decimal);

impl TaxRate {
    /// `value` as a tax rate.
    pub fn parse(value: Decimal) -> Result<Self, Violation> {
        validate::tax_rate(value).map(Self).map_err(Violation::from)
    }

    /// The value.
    pub fn get(self) -> Decimal {
        self.0
    }
}

/// The longest business key (vendor code, SKU, location code, job number…).
pub const MAX_CODE_CHARS: usize = 50;

/// A business key: 1–50 visible characters without spaces, upper-cased (so `acme` and `ACME`
/// are the same key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(String);

impl Code {
    /// `value` as a key; `what` names it in the refusal ("a vendor code").
    pub fn parse(value: &str, what: &str) -> Result<Self, Violation> {
        validate::key(value, what, MAX_CODE_CHARS)
            .map(Self)
            .map_err(Violation::from)
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as stored.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A purchase-order number: a business key like any other (`PO-2026-00042`, or one a client
/// chose).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoNumber(Code);

impl PoNumber {
    /// `value` as a purchase-order number.
    pub fn parse(value: &str) -> Result<Self, Violation> {
        Code::parse(value, "a purchase order number").map(Self)
    }

    /// The number as stored.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The number as stored.
    pub fn into_string(self) -> String {
        self.0.into_string()
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::domain::violation::ViolationCode;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn a_quantity_is_exact_to_four_places_and_within_a_billion() {
        assert_eq!(Quantity::parse(d("1.2500"), "q").unwrap().get(), d("1.25"));
        assert_eq!(Quantity::parse(d("-3"), "q").unwrap().get(), d("-3"));
        let precise = Quantity::parse(d("0.00001"), "q").unwrap_err();
        assert_eq!(precise.code, ViolationCode::InvalidInput);
        let large = Quantity::parse(d("1000000000.0001"), "q").unwrap_err();
        assert_eq!(large.code, ViolationCode::ValueTooLarge);
    }

    #[test]
    fn a_positive_quantity_refuses_zero_and_less() {
        assert!(Quantity::parse_positive(d("0.0001"), "q").is_ok());
        assert!(Quantity::parse_positive(Decimal::ZERO, "q").is_err());
        assert!(Quantity::parse_positive(d("-1"), "q").is_err());
    }

    #[test]
    fn unit_costs_money_and_tax_rates_keep_their_rules() {
        assert!(UnitCost::parse(d("0.0001")).is_ok());
        assert!(UnitCost::parse(d("-0.01")).is_err());
        assert!(Money::parse(d("12.50"), "freight").is_ok());
        assert!(Money::parse(d("12.505"), "freight").is_err());
        assert!(TaxRate::parse(d("0.0825")).is_ok());
        assert!(TaxRate::parse(Decimal::ONE).is_err());
    }

    #[test]
    fn codes_and_po_numbers_are_upper_cased_keys_without_spaces() {
        assert_eq!(Code::parse(" acme ", "a code").unwrap().as_str(), "ACME");
        assert!(Code::parse("a b", "a code").is_err());
        assert!(Code::parse(&"x".repeat(51), "a code").is_err());
        assert_eq!(PoNumber::parse("po-1").unwrap().as_str(), "PO-1");
    }
}
