//! The rules of a purchase order's header (DOMAIN.md, Purchase order lifecycle; Money and
//! rounding): its number, its memo and its exchange rate.

use rust_decimal::Decimal;

use super::PoStatus;
use crate::domain::validate;
use crate::domain::violation::{Violation, ViolationCode};

/// The longest number a client may choose: the stored number has room for up to 64
/// characters, so a backorder's `-BO{n}` suffix always fits behind it.
pub const MAX_NUMBER_CHARS: usize = 40;

/// The longest memo of an order or a line.
pub const MAX_MEMO_CHARS: usize = 2000;

/// A number the client chose: a business key of at most [`MAX_NUMBER_CHARS`] characters,
/// upper-cased.
pub fn chosen_number(value: &str) -> Result<String, Violation> {
    validate::key(value, "a purchase order number", MAX_NUMBER_CHARS).map_err(Violation::from)
}

/// The exchange rate of an order with a vendor billing in `currency` (vendor currency → base
/// currency): 1 when the vendor bills in the base currency (and then only 1), otherwise given
/// and greater than zero.
pub fn exchange_rate(
    currency: &str,
    base_currency: &str,
    given: Option<Decimal>,
) -> Result<Decimal, Violation> {
    let refused = |message: String| Err(Violation::from(message));
    match given {
        None if currency == base_currency => Ok(Decimal::ONE),
        None => refused(format!(
            "the vendor bills in {currency}: give the exchange rate to {base_currency}"
        )),
        Some(rate) if currency == base_currency && rate != Decimal::ONE => {
            refused("the vendor bills in the base currency: the exchange rate is 1".to_owned())
        }
        Some(rate) if rate <= Decimal::ZERO => {
            refused("the exchange rate must be greater than zero".to_owned())
        }
        Some(rate) => Ok(rate),
    }
}

/// The exchange rate is fixed once the order is submitted: receipts and bills were priced at it.
pub fn exchange_rate_editable(status: PoStatus) -> Result<(), Violation> {
    if status != PoStatus::Pending {
        return Err(Violation::new(
            ViolationCode::PoNotEditable,
            "the exchange rate can only change while the purchase order is PENDING",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn a_chosen_number_is_an_upper_cased_key_of_at_most_forty_characters() {
        assert_eq!(chosen_number(" po-7 ").unwrap(), "PO-7");
        assert!(chosen_number(&"N".repeat(40)).is_ok());
        assert!(chosen_number(&"N".repeat(41)).is_err());
        assert!(chosen_number("PO 7").is_err());
    }

    #[test]
    fn a_vendor_billing_in_the_base_currency_has_the_rate_one() {
        assert_eq!(exchange_rate("USD", "USD", None).unwrap(), Decimal::ONE);
        assert_eq!(exchange_rate("USD", "USD", Some(d("1.0"))).unwrap(), d("1"));
        assert!(exchange_rate("USD", "USD", Some(d("1.1"))).is_err());
    }

    #[test]
    fn a_vendor_billing_in_another_currency_needs_a_positive_rate() {
        assert_eq!(
            exchange_rate("EUR", "USD", Some(d("1.08"))).unwrap(),
            d("1.08")
        );
        let missing = exchange_rate("EUR", "USD", None).unwrap_err();
        assert_eq!(missing.code, ViolationCode::InvalidInput);
        assert!(missing.message.contains("EUR"), "{}", missing.message);
        assert!(exchange_rate("EUR", "USD", Some(Decimal::ZERO)).is_err());
        assert!(exchange_rate("EUR", "USD", Some(d("-1"))).is_err());
    }

    #[test]
    fn the_exchange_rate_changes_only_while_pending() {
        assert!(exchange_rate_editable(PoStatus::Pending).is_ok());
        for status in [PoStatus::Submitted, PoStatus::PartiallyReceived] {
            assert_eq!(
                exchange_rate_editable(status).unwrap_err().code,
                ViolationCode::PoNotEditable
            );
        }
    }
}
