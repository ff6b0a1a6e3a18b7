//! Vendors: created with a unique code and a main address, changed field by field, deactivated.

use entity::enums::DeliveryMethod;
use entity::vendor::{Column, Entity, Model};
use entity::Rate8;
use rust_decimal::Decimal;
use sea_orm::{ActiveValue::Set, DatabaseConnection};

use super::{check_address, check_parts, stored, AddressInput, ContactInput, Draft};
use super::{MasterTable, Stamps, UniqueKey};
use crate::config::BusinessConfig;
use crate::domain::master_data::{self, Contact, PaymentTerms};
use crate::domain::validate;
use crate::domain::values::{Code, TaxRate};
use crate::domain::violation::Violation;
use crate::error::{Field, ServiceError};

impl MasterTable for Entity {
    const WHAT: &'static str = "vendor";
    const KEY: UniqueKey<Column> = UniqueKey::new(Column::Code, "code", "code");
    const STAMPS: Stamps<Column> =
        Stamps::new(Column::Active, Column::CreatedAt, Column::UpdatedAt);
}

/// A new vendor.
#[derive(Clone, Debug, Default)]
pub struct NewVendor {
    pub name: String,
    pub code: String,
    pub address: AddressInput,
    pub contact: Option<ContactInput>,
    /// 0 when not given.
    pub default_tax_rate: Option<Decimal>,
    /// Net 30 when not given.
    pub payment_terms_days: Option<i32>,
    /// EMAIL when not given.
    pub delivery_method: Option<DeliveryMethod>,
    /// The base currency when not given.
    pub currency: Option<String>,
}

/// Changes to a vendor; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct VendorChanges {
    pub name: Option<String>,
    pub address: Option<AddressInput>,
    /// `Some(None)` removes the contact.
    pub contact: Option<Option<ContactInput>>,
    pub default_tax_rate: Option<Decimal>,
    pub payment_terms_days: Option<i32>,
    pub delivery_method: Option<DeliveryMethod>,
    pub currency: Option<String>,
    pub active: Option<bool>,
}

impl NewVendor {
    /// The new vendor's code, and its other fields as changes to a blank vendor, the defaults
    /// filled in.
    fn split(self, business: &BusinessConfig) -> (String, VendorChanges) {
        let changes = VendorChanges {
            name: Some(self.name),
            address: Some(self.address),
            contact: Some(self.contact),
            default_tax_rate: Some(self.default_tax_rate.unwrap_or_default()),
            payment_terms_days: Some(
                self.payment_terms_days
                    .unwrap_or(PaymentTerms::DEFAULT.days()),
            ),
            delivery_method: Some(self.delivery_method.unwrap_or(DeliveryMethod::Email)),
            currency: Some(
                self.currency
                    .unwrap_or_else(|| business.base_currency.clone()),
            ),
            active: None,
        };
        (self.code, changes)
    }
}

/// Creates a vendor; its code is unique and its main address required.
pub async fn create_vendor(
    db: &DatabaseConnection,
    business: &BusinessConfig,
    input: NewVendor,
) -> Result<Model, ServiceError> {
    let (code, changes) = input.split(business);
    let mut draft = Draft::create(db).await?;
    apply(&mut draft, changes, Some(&code)).await?;
    draft.save().await
}

/// Changes a vendor.
pub async fn update_vendor(
    db: &DatabaseConnection,
    id: i32,
    changes: VendorChanges,
) -> Result<Model, ServiceError> {
    let mut draft = Draft::change(db, id).await?;
    apply(&mut draft, changes, None).await?;
    draft.save().await
}

/// Checks each given field into the draft, in the command's order: a new vendor's `code`
/// right after its name (checked against the stored vendors too).
async fn apply(
    draft: &mut Draft<Entity>,
    mut changes: VendorChanges,
    code: Option<&str>,
) -> Result<(), ServiceError> {
    if let Some(name) = draft.check(changes.name.take(), Field::of("name"), |n| {
        master_data::name(&n)
    }) {
        draft.row.name = Set(name);
    }
    if let Some(code) = code {
        let code = draft
            .v
            .check(Code::parse(code, "the vendor code"), Field::of("code"));
        draft.check_key(code.map(Code::into_string)).await?;
    }
    if let Some(address) = changes.address.take() {
        if let Some(a) = check_address(&mut draft.v, &address, Field::of("address")) {
            draft.row.street = Set(a.street);
            draft.row.city = Set(a.city);
            draft.row.region = Set(a.region);
            draft.row.postal_code = Set(a.postal_code);
            draft.row.country = Set(a.country);
        }
    }
    if let Some(contact) = changes.contact.take() {
        if let Some(c) = check_contact(draft, contact) {
            draft.row.contact_name = Set(c.name);
            draft.row.contact_email = Set(c.email);
            draft.row.contact_phone = Set(c.phone);
        }
    }
    apply_terms(draft, changes);
    Ok(())
}

/// Checks the contact (`None` removes it: no name, email or phone).
fn check_contact(draft: &mut Draft<Entity>, contact: Option<ContactInput>) -> Option<Contact> {
    let Some(c) = contact else {
        return Some(Contact::default());
    };
    let parsed = Contact::parse(c.name.as_deref(), c.email.as_deref(), c.phone.as_deref());
    check_parts(&mut draft.v, parsed, &Field::of("contact"))
}

/// Checks the terms the vendor is bought from on, and its active flag, into the draft.
fn apply_terms(draft: &mut Draft<Entity>, changes: VendorChanges) {
    let field = Field::of("default_tax_rate");
    if let Some(rate) = draft.check(changes.default_tax_rate, field, tax_rate) {
        draft.row.default_tax_rate = Set(rate);
    }
    let field = Field::of("payment_terms_days");
    if let Some(terms) = draft.check(changes.payment_terms_days, field, PaymentTerms::parse) {
        draft.row.payment_terms_days = Set(terms.days());
    }
    if let Some(method) = changes.delivery_method {
        draft.row.delivery_method = Set(method);
    }
    let field = Field::of("currency");
    if let Some(currency) = draft.check(changes.currency, field, |c| validate::currency(&c)) {
        draft.row.currency = Set(currency);
    }
    if let Some(active) = changes.active {
        draft.row.active = Set(active);
    }
}

/// A tax rate as its column stores it.
fn tax_rate(value: Decimal) -> Result<Rate8, Violation> {
    stored(Rate8::from_decimal(TaxRate::parse(value)?.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_vendor_is_a_change_of_every_field_with_the_defaults_filled_in() {
        let business = BusinessConfig {
            base_currency: "EUR".into(),
            ..Default::default()
        };
        let new = NewVendor {
            code: "ACME".into(),
            ..Default::default()
        };
        let (code, changes) = new.split(&business);
        assert_eq!(code, "ACME");
        assert_eq!(changes.default_tax_rate, Some(Decimal::ZERO));
        assert_eq!(changes.payment_terms_days, Some(30));
        assert_eq!(changes.delivery_method, Some(DeliveryMethod::Email));
        assert_eq!(changes.currency.as_deref(), Some("EUR"));
        assert!(matches!(changes.contact, Some(None)), "no contact");
        assert_eq!(changes.active, None, "a new vendor is active anyway");
    }
}
