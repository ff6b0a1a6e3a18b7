//! Master-data rules (DOMAIN.md, Master data): what a vendor's address, contact and terms, a
//! product's over-receipt allowance and a reference record's key may be. Each `parse` names the
//! part of the record it refuses in the domain's words; the use cases attach where in their
//! command it came from.

use rust_decimal::Decimal;

use crate::domain::validate;
use crate::domain::values::Quantity;
use crate::domain::violation::{Violation, ViolationCode};

/// The longest display name of a record (vendor, location, reference record).
pub const MAX_NAME_CHARS: usize = 200;

/// A record's display name: trimmed, 1–200 characters.
pub fn name(value: &str) -> Result<String, Violation> {
    validate::text(value, "the name", 1, MAX_NAME_CHARS).map_err(Violation::from)
}

/// The violations of a record's parts, each with the part it concerns (`"postal_code"`), in the
/// order of the parts.
pub type PartViolations = Vec<(&'static str, Violation)>;

/// Gathers the violations of a record's parts.
#[derive(Default)]
struct Parts(PartViolations);

impl Parts {
    fn check<T>(&mut self, part: &'static str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.0.push((part, Violation::from(message))))
            .ok()
    }
}

/// A postal address (a vendor's main address, a location's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
}

impl Address {
    /// The address as entered, trimmed; every part checked (street, city, postal code and
    /// country required), each refused part named.
    pub fn parse(
        street: &str,
        city: &str,
        region: Option<&str>,
        postal_code: &str,
        country: &str,
    ) -> Result<Self, PartViolations> {
        let mut parts = Parts::default();
        let street = parts.check("street", validate::text(street, "the street", 1, 200));
        let city = parts.check("city", validate::text(city, "the city", 1, 100));
        let region = parts.check("region", validate::optional_text(region, "the region", 100));
        let postal_code = parts.check(
            "postal_code",
            validate::text(postal_code, "the postal code", 1, 20),
        );
        let country = parts.check("country", validate::text(country, "the country", 2, 60));
        match (street, city, region, postal_code, country) {
            (Some(street), Some(city), Some(region), Some(postal_code), Some(country)) => {
                Ok(Self {
                    street,
                    city,
                    region,
                    postal_code,
                    country,
                })
            }
            _ => Err(parts.0),
        }
    }
}

/// A person to talk to at a vendor; every part optional (blank is none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl Contact {
    /// The contact as entered, trimmed; every part checked, each refused part named.
    pub fn parse(
        name: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Self, PartViolations> {
        let mut parts = Parts::default();
        let name = parts.check(
            "name",
            validate::optional_text(name, "the contact's name", 200),
        );
        let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
            Some(email) => parts.check("email", validate::email(email)).map(Some),
            None => Some(None),
        };
        let phone = parts.check(
            "phone",
            validate::optional_text(phone, "the contact's phone", 40),
        );
        match (name, email, phone) {
            (Some(name), Some(email), Some(phone)) => Ok(Self { name, email, phone }),
            _ => Err(parts.0),
        }
    }
}

/// The longest payment terms, in days (ten years).
pub const MAX_PAYMENT_TERMS_DAYS: i32 = 3650;

/// A vendor's payment terms: net days, 0 to [`MAX_PAYMENT_TERMS_DAYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentTerms(i32);

impl PaymentTerms {
    /// Net 30, when a new vendor names no terms.
    pub const DEFAULT: PaymentTerms = PaymentTerms(30);

    /// `days` as payment terms.
    pub fn parse(days: i32) -> Result<Self, Violation> {
        if (0..=MAX_PAYMENT_TERMS_DAYS).contains(&days) {
            Ok(Self(days))
        } else {
            Err(Violation::from(format!(
                "payment terms are 0 to {MAX_PAYMENT_TERMS_DAYS} days"
            )))
        }
    }

    /// The net days.
    pub fn days(self) -> i32 {
        self.0
    }
}

/// How much more than ordered may be received of a product, in percent of the line's
/// quantity: zero or more, kept exactly like a quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowancePercent(Quantity);

impl AllowancePercent {
    /// `percent` as an over-receipt allowance.
    pub fn parse(percent: Decimal) -> Result<Self, Violation> {
        let what = "the over-receipt allowance";
        validate::non_negative(percent, what)?;
        Quantity::parse(percent, what).map(Self)
    }

    /// The percentage.
    pub fn get(self) -> Decimal {
        self.0.get()
    }
}

/// A record a new document names (a job material's job and product) must exist and be active.
/// `record` is whether it is active and its key (`"J-1001"`), `None` when it does not exist;
/// `inactive` is the code of an inactive one.
pub fn usable(
    what: &str,
    record: Option<(bool, &str)>,
    inactive: ViolationCode,
) -> Result<(), Violation> {
    match record {
        None => Err(Violation::new(
            ViolationCode::NotFound,
            format!("no such {what}"),
        )),
        Some((false, key)) => Err(Violation::new(
            inactive,
            format!("{what} {key} is inactive"),
        )),
        Some((true, _)) => Ok(()),
    }
}

/// The kinds of thin reference record (DOMAIN.md, Master data): business units and purchase
/// order types are known by a unique name, jobs, projects and technicians by a unique number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceKind {
    BusinessUnit,
    PurchaseOrderType,
    Job,
    Project,
    Technician,
}

impl ReferenceKind {
    /// How people call it.
    pub const fn describe(self) -> &'static str {
        match self {
            ReferenceKind::BusinessUnit => "business unit",
            ReferenceKind::PurchaseOrderType => "purchase order type",
            ReferenceKind::Job => "job",
            ReferenceKind::Project => "project",
            ReferenceKind::Technician => "technician",
        }
    }

    /// True when its records are known by a number (else by their name).
    pub const fn has_number(self) -> bool {
        matches!(
            self,
            ReferenceKind::Job | ReferenceKind::Project | ReferenceKind::Technician
        )
    }

    /// The number a new record of this kind is known by: required for jobs, projects and
    /// technicians (a business key, stored upper-case), none for the kinds known by name.
    pub fn number(self, number: Option<&str>) -> Result<Option<String>, Violation> {
        let what = format!("the {} number", self.describe());
        match (self.has_number(), number) {
            (false, _) => Ok(None),
            (true, Some(number)) => validate::key(number, &what, super::values::MAX_CODE_CHARS)
                .map(Some)
                .map_err(Violation::from),
            (true, None) => Err(Violation::from(format!(
                "a {} needs a number",
                self.describe()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn parts(result: Result<impl std::fmt::Debug, PartViolations>) -> Vec<&'static str> {
        result
            .unwrap_err()
            .into_iter()
            .map(|(part, _)| part)
            .collect()
    }

    #[test]
    fn names_are_trimmed_and_neither_blank_nor_longer_than_200() {
        assert_eq!(name("  Acme ").unwrap(), "Acme");
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(200)).is_ok());
        assert!(name(&"x".repeat(201)).is_err());
    }

    #[test]
    fn an_address_is_trimmed_and_a_blank_region_is_none() {
        let address = Address::parse(" 1 Main St ", "Springfield", Some(" "), "62701", "US");
        assert_eq!(
            address.unwrap(),
            Address {
                street: "1 Main St".into(),
                city: "Springfield".into(),
                region: None,
                postal_code: "62701".into(),
                country: "US".into(),
            }
        );
    }

    #[test]
    fn every_bad_part_of_an_address_is_named_in_order() {
        let long = "1".repeat(21);
        assert_eq!(
            parts(Address::parse("", "", None, &long, "U")),
            ["street", "city", "postal_code", "country"]
        );
        assert_eq!(
            parts(Address::parse(
                "1 Main St",
                "B",
                Some(&"r".repeat(101)),
                "1",
                "US"
            )),
            ["region"]
        );
    }

    #[test]
    fn a_contact_needs_nothing_but_a_given_email_must_be_one() {
        assert_eq!(
            Contact::parse(None, Some("  "), None).unwrap(),
            Contact::default()
        );
        let contact = Contact::parse(Some(" Ann "), Some("ann@example.com"), None).unwrap();
        assert_eq!(contact.name.as_deref(), Some("Ann"));
        assert_eq!(contact.email.as_deref(), Some("ann@example.com"));
        assert_eq!(
            parts(Contact::parse(
                None,
                Some("not an email"),
                Some(&"5".repeat(41))
            )),
            ["email", "phone"]
        );
    }

    #[test]
    fn payment_terms_are_zero_to_ten_years_of_days() {
        assert_eq!(PaymentTerms::parse(0).unwrap().days(), 0);
        assert_eq!(PaymentTerms::parse(3650).unwrap().days(), 3650);
        assert!(PaymentTerms::parse(-1).is_err());
        assert!(PaymentTerms::parse(3651).is_err());
        assert_eq!(PaymentTerms::DEFAULT.days(), 30);
    }

    #[test]
    fn an_allowance_is_not_negative_and_kept_like_a_quantity() {
        let d = |s| Decimal::from_str(s).unwrap();
        assert_eq!(AllowancePercent::parse(d("10")).unwrap().get(), d("10"));
        assert!(AllowancePercent::parse(Decimal::ZERO).is_ok());
        assert!(AllowancePercent::parse(d("-5")).is_err());
        assert!(AllowancePercent::parse(d("0.00001")).is_err());
        let large = AllowancePercent::parse(d("2000000000")).unwrap_err();
        assert_eq!(large.code, ViolationCode::ValueTooLarge);
    }

    #[test]
    fn a_named_record_must_exist_and_be_active() {
        assert!(usable("job", Some((true, "J-1")), ViolationCode::ReferenceInactive).is_ok());
        let missing = usable("job", None, ViolationCode::ReferenceInactive).unwrap_err();
        assert_eq!(missing.code, ViolationCode::NotFound);
        assert_eq!(missing.message, "no such job");
        let off = usable(
            "product",
            Some((false, "BOLT")),
            ViolationCode::ProductInactive,
        );
        let off = off.unwrap_err();
        assert_eq!(off.code, ViolationCode::ProductInactive);
        assert_eq!(off.message, "product BOLT is inactive");
    }

    #[test]
    fn numbered_kinds_need_a_number_and_named_kinds_ignore_one() {
        assert_eq!(
            ReferenceKind::Job.number(Some(" j-7 ")).unwrap().as_deref(),
            Some("J-7")
        );
        assert!(ReferenceKind::Project.number(None).is_err());
        assert!(ReferenceKind::Technician.number(Some("a b")).is_err());
        assert!(ReferenceKind::Job.number(Some(&"n".repeat(51))).is_err());
        assert_eq!(ReferenceKind::BusinessUnit.number(Some("X")).unwrap(), None);
        assert_eq!(ReferenceKind::PurchaseOrderType.number(None).unwrap(), None);
    }
}
