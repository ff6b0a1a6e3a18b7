//! Master data: vendors, products, locations, business units, PO types, jobs, projects,
//! technicians and job materials. Records are deactivated, never deleted.

use entity::enums::{DeliveryMethod, JobMaterialStatus};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, TryIntoModel,
};

use crate::config::BusinessConfig;
use crate::db::begin_write;
use crate::domain::validate;
use crate::domain::violation::ViolationCode;
use crate::error::ServiceError;
use crate::services::commit;
use crate::services::{check, fixed, not_found, now, rate, unique_violation, Violations};

/// A postal address as entered.
#[derive(Clone, Debug, Default)]
pub struct AddressInput {
    pub street: String,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
}

/// A contact as entered.
#[derive(Clone, Debug, Default)]
pub struct ContactInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A new vendor.
#[derive(Clone, Debug, Default)]
pub struct NewVendor {
    pub name: String,
    pub code: String,
    pub address: AddressInput,
    pub contact: Option<ContactInput>,
    pub default_tax_rate: Option<Decimal>,
    pub payment_terms_days: Option<i32>,
    pub delivery_method: Option<DeliveryMethod>,
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

struct CheckedAddress {
    street: String,
    city: String,
    region: Option<String>,
    postal_code: String,
    country: String,
}

/// Checks every field of an address; `None` when one is bad (each bad field is in `v`).
fn check_address(
    v: &mut Violations,
    address: &AddressInput,
    field: &str,
) -> Option<CheckedAddress> {
    let street = v.check(
        validate::text(&address.street, "street", 1, 200),
        format!("{field}.street"),
    );
    let city = v.check(
        validate::text(&address.city, "city", 1, 100),
        format!("{field}.city"),
    );
    let region = v.check(
        validate::optional_text(address.region.as_deref(), "region", 100),
        format!("{field}.region"),
    );
    let postal_code = v.check(
        validate::text(&address.postal_code, "postal code", 1, 20),
        format!("{field}.postalCode"),
    );
    let country = v.check(
        validate::text(&address.country, "country", 2, 60),
        format!("{field}.country"),
    );
    Some(CheckedAddress {
        street: street?,
        city: city?,
        region: region?,
        postal_code: postal_code?,
        country: country?,
    })
}

type CheckedContact = (Option<String>, Option<String>, Option<String>);

/// Checks every field of a contact; `None` when one is bad (each bad field is in `v`).
fn check_contact(v: &mut Violations, contact: Option<&ContactInput>) -> Option<CheckedContact> {
    let Some(contact) = contact else {
        return Some((None, None, None));
    };
    let name = v.check(
        validate::optional_text(contact.name.as_deref(), "contact name", 200),
        "input.contact.name",
    );
    let email = match contact
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(e) => v.check(validate::email(e), "input.contact.email").map(Some),
        None => Some(None),
    };
    let phone = v.check(
        validate::optional_text(contact.phone.as_deref(), "contact phone", 40),
        "input.contact.phone",
    );
    Some((name?, email?, phone?))
}

fn check_terms(days: i32) -> Result<i32, ServiceError> {
    if (0..=3650).contains(&days) {
        Ok(days)
    } else {
        Err(super::invalid(
            "input.paymentTermsDays",
            "payment terms are 0 to 3650 days",
        ))
    }
}

fn check_tax_rate(value: Decimal) -> Result<entity::Rate8, ServiceError> {
    let value = check(validate::tax_rate(value), "input.defaultTaxRate")?;
    rate(value, "input.defaultTaxRate")
}

/// Creates a vendor; its code is unique and its main address required.
pub async fn create_vendor(
    db: &DatabaseConnection,
    business: &BusinessConfig,
    input: NewVendor,
) -> Result<entity::vendor::Model, ServiceError> {
    // Checked in the input's order, the code against the stored vendors too, so every
    // violation is reported at once.
    let txn = begin_write(db).await?;
    let mut v = Violations::new();
    let name = v.check(validate::text(&input.name, "name", 1, 200), "input.name");
    let code = v.check(validate::key(&input.code, "code", 50), "input.code");
    if let Some(code) = &code {
        if entity::vendor::Entity::find()
            .filter(entity::vendor::Column::Code.eq(code))
            .one(&txn)
            .await?
            .is_some()
        {
            v.add(
                ViolationCode::DuplicateCode,
                "input.code",
                format!("a vendor with code {code} already exists"),
            );
        }
    }
    let address = check_address(&mut v, &input.address, "input.address");
    let contact = check_contact(&mut v, input.contact.as_ref());
    let tax = v.take(check_tax_rate(input.default_tax_rate.unwrap_or_default()))?;
    let terms = v.take(check_terms(input.payment_terms_days.unwrap_or(30)))?;
    let currency = v.check(
        validate::currency(input.currency.as_deref().unwrap_or(&business.base_currency)),
        "input.currency",
    );
    let (code, name, address, (contact_name, contact_email, contact_phone), tax, terms, currency) =
        v.done((code, name, address, contact, tax, terms, currency))?;
    let at = now();
    let vendor = entity::vendor::ActiveModel {
        code: Set(code),
        name: Set(name),
        active: Set(true),
        street: Set(address.street),
        city: Set(address.city),
        region: Set(address.region),
        postal_code: Set(address.postal_code),
        country: Set(address.country),
        contact_name: Set(contact_name),
        contact_email: Set(contact_email),
        contact_phone: Set(contact_phone),
        default_tax_rate: Set(tax),
        payment_terms_days: Set(terms),
        delivery_method: Set(input.delivery_method.unwrap_or(DeliveryMethod::Email)),
        currency: Set(currency),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        unique_violation(
            e,
            ViolationCode::DuplicateCode,
            "input.code",
            "a vendor with this code already exists",
        )
    })?;
    commit(txn).await?;
    Ok(vendor)
}

/// Changes a vendor.
pub async fn update_vendor(
    db: &DatabaseConnection,
    id: i32,
    changes: VendorChanges,
) -> Result<entity::vendor::Model, ServiceError> {
    let txn = begin_write(db).await?;
    let current = entity::vendor::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("input.id", "vendor"))?;
    let mut vendor: entity::vendor::ActiveModel = current.clone().into();
    let mut v = Violations::new();
    if let Some(name) = &changes.name {
        if let Some(name) = v.check(validate::text(name, "name", 1, 200), "input.name") {
            vendor.name = Set(name);
        }
    }
    if let Some(address) = &changes.address {
        if let Some(a) = check_address(&mut v, address, "input.address") {
            vendor.street = Set(a.street);
            vendor.city = Set(a.city);
            vendor.region = Set(a.region);
            vendor.postal_code = Set(a.postal_code);
            vendor.country = Set(a.country);
        }
    }
    if let Some(contact) = &changes.contact {
        if let Some((name, email, phone)) = check_contact(&mut v, contact.as_ref()) {
            vendor.contact_name = Set(name);
            vendor.contact_email = Set(email);
            vendor.contact_phone = Set(phone);
        }
    }
    if let Some(tax) = changes.default_tax_rate {
        if let Some(tax) = v.take(check_tax_rate(tax))? {
            vendor.default_tax_rate = Set(tax);
        }
    }
    if let Some(days) = changes.payment_terms_days {
        if let Some(days) = v.take(check_terms(days))? {
            vendor.payment_terms_days = Set(days);
        }
    }
    if let Some(method) = changes.delivery_method {
        vendor.delivery_method = Set(method);
    }
    if let Some(currency) = &changes.currency {
        if let Some(currency) = v.check(validate::currency(currency), "input.currency") {
            vendor.currency = Set(currency);
        }
    }
    if let Some(active) = changes.active {
        vendor.active = Set(active);
    }
    v.finish()?;
    if vendor.clone().try_into_model()? == current {
        // Nothing differs: nothing is written.
        return Ok(current);
    }
    vendor.updated_at = Set(now());
    let vendor = vendor.update(&txn).await?;
    commit(txn).await?;
    Ok(vendor)
}

/// A new inventory location.
#[derive(Clone, Debug, Default)]
pub struct NewLocation {
    pub code: String,
    pub name: String,
    pub address: Option<AddressInput>,
}

/// Changes to a location; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct LocationChanges {
    pub name: Option<String>,
    /// `Some(None)` removes the address.
    pub address: Option<Option<AddressInput>>,
    pub active: Option<bool>,
}

fn location_address(
    v: &mut Violations,
    address: Option<&AddressInput>,
) -> Option<[Option<String>; 5]> {
    Some(match address {
        Some(a) => {
            let a = check_address(v, a, "input.address")?;
            [
                Some(a.street),
                Some(a.city),
                a.region,
                Some(a.postal_code),
                Some(a.country),
            ]
        }
        None => Default::default(),
    })
}

/// Creates a location (warehouse or truck); its code is unique.
pub async fn create_location(
    db: &DatabaseConnection,
    input: NewLocation,
) -> Result<entity::inventory_location::Model, ServiceError> {
    use entity::inventory_location::{ActiveModel, Column, Entity};
    let txn = begin_write(db).await?;
    let mut v = Violations::new();
    let code = v.check(validate::key(&input.code, "code", 50), "input.code");
    if let Some(code) = &code {
        if Entity::find()
            .filter(Column::Code.eq(code))
            .one(&txn)
            .await?
            .is_some()
        {
            v.add(
                ViolationCode::DuplicateCode,
                "input.code",
                format!("a location with code {code} already exists"),
            );
        }
    }
    let name = v.check(validate::text(&input.name, "name", 1, 200), "input.name");
    let address = location_address(&mut v, input.address.as_ref());
    let (code, name, [street, city, region, postal_code, country]) =
        v.done((code, name, address))?;
    let at = now();
    let location = ActiveModel {
        code: Set(code),
        name: Set(name),
        active: Set(true),
        street: Set(street),
        city: Set(city),
        region: Set(region),
        postal_code: Set(postal_code),
        country: Set(country),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        unique_violation(
            e,
            ViolationCode::DuplicateCode,
            "input.code",
            "a location with this code already exists",
        )
    })?;
    commit(txn).await?;
    Ok(location)
}

/// Changes a location.
pub async fn update_location(
    db: &DatabaseConnection,
    id: i32,
    changes: LocationChanges,
) -> Result<entity::inventory_location::Model, ServiceError> {
    use entity::inventory_location::{ActiveModel, Entity};
    let txn = begin_write(db).await?;
    let current = Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("input.id", "inventory location"))?;
    let current_active = current.active;
    let mut location: ActiveModel = current.clone().into();
    let mut v = Violations::new();
    if let Some(name) = &changes.name {
        if let Some(name) = v.check(validate::text(name, "name", 1, 200), "input.name") {
            location.name = Set(name);
        }
    }
    if let Some(address) = &changes.address {
        if let Some([street, city, region, postal_code, country]) =
            location_address(&mut v, address.as_ref())
        {
            location.street = Set(street);
            location.city = Set(city);
            location.region = Set(region);
            location.postal_code = Set(postal_code);
            location.country = Set(country);
        }
    }
    if let Some(active) = changes.active {
        if !active && current_active {
            v.take(refuse_if_location_in_use(&txn, id).await)?;
        }
        location.active = Set(active);
    }
    v.finish()?;
    if location.clone().try_into_model()? == current {
        // Nothing differs: nothing is written.
        return Ok(current);
    }
    location.updated_at = Set(now());
    let location = location.update(&txn).await?;
    commit(txn).await?;
    Ok(location)
}

/// A location that holds stock (any non-zero quantity) or is the destination of an open order
/// line cannot be deactivated: its stock could never be moved or written off, and the order
/// never received.
async fn refuse_if_location_in_use(txn: &DatabaseTransaction, id: i32) -> Result<(), ServiceError> {
    use entity::enums::PurchaseOrderStatus as Status;
    use entity::inventory_item::Column as I;
    use sea_orm::sea_query::{Expr, ExprTrait};
    let stocked = entity::inventory_item::Entity::find()
        .filter(I::LocationId.eq(id))
        .filter(
            sea_orm::Condition::any()
                .add(I::OnHand.ne(0))
                .add(I::OnOrder.ne(0))
                .add(I::Picked.ne(0))
                .add(I::Reserved.ne(0))
                .add(I::Backordered.ne(0)),
        )
        .one(txn)
        .await?;
    if stocked.is_some() {
        return Err(ServiceError::user(
            ViolationCode::LocationInUse,
            "input.id",
            "the location still holds stock (on hand, picked, reserved or on order): move or write it off first",
        ));
    }
    use entity::purchase_order_line::Column as L;
    let open_line = entity::purchase_order_line::Entity::find()
        .filter(L::LocationId.eq(id))
        .filter(Expr::col(L::QuantityReceived).lt(Expr::col(L::Quantity)))
        .filter(
            L::PurchaseOrderId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(entity::purchase_order::Column::Id)
                    .from(entity::purchase_order::Entity)
                    .and_where(entity::purchase_order::Column::Status.is_in([
                        Status::Pending,
                        Status::Submitted,
                        Status::PartiallyReceived,
                    ]))
                    .to_owned(),
            ),
        )
        .one(txn)
        .await?;
    if open_line.is_some() {
        return Err(ServiceError::user(
            ViolationCode::LocationInUse,
            "input.id",
            "an open purchase order line is still to be delivered here: receive, finalize or cancel it first",
        ));
    }
    Ok(())
}

/// A new product.
#[derive(Clone, Debug, Default)]
pub struct NewProduct {
    pub sku: String,
    pub description: String,
    pub unit_of_measure: Option<String>,
    pub default_unit_cost: Option<Decimal>,
    pub preferred_vendor_id: Option<i32>,
    pub serialized: Option<bool>,
    pub over_receipt_allowance_percent: Option<Decimal>,
}

/// Changes to a product; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ProductChanges {
    pub description: Option<String>,
    pub unit_of_measure: Option<String>,
    pub default_unit_cost: Option<Decimal>,
    /// `Some(None)` clears the preferred vendor.
    pub preferred_vendor_id: Option<Option<i32>>,
    pub serialized: Option<bool>,
    /// `Some(None)` falls back to the service default.
    pub over_receipt_allowance_percent: Option<Option<Decimal>>,
    pub active: Option<bool>,
}

async fn check_preferred_vendor(
    txn: &impl sea_orm::ConnectionTrait,
    id: Option<i32>,
) -> Result<Option<i32>, ServiceError> {
    if let Some(id) = id {
        entity::vendor::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| not_found("input.preferredVendorId", "vendor"))?;
    }
    Ok(id)
}

fn check_allowance(percent: Option<Decimal>) -> Result<Option<entity::Fixed4>, ServiceError> {
    percent
        .map(|p| {
            let p = check(
                validate::non_negative(p, "the over-receipt allowance"),
                "input.overReceiptAllowancePercent",
            )?;
            fixed(p, "input.overReceiptAllowancePercent")
        })
        .transpose()
}

fn check_cost(cost: Decimal) -> Result<entity::Fixed4, ServiceError> {
    let cost = check(validate::unit_cost(cost), "input.defaultUnitCost")?;
    fixed(cost, "input.defaultUnitCost")
}

/// Creates a product; its SKU is unique.
pub async fn create_product(
    db: &DatabaseConnection,
    input: NewProduct,
) -> Result<entity::product::Model, ServiceError> {
    use entity::product::{ActiveModel, Column, Entity};
    let txn = begin_write(db).await?;
    let mut v = Violations::new();
    let sku = v.check(validate::key(&input.sku, "SKU", 50), "input.sku");
    if let Some(sku) = &sku {
        if Entity::find()
            .filter(Column::Sku.eq(sku))
            .one(&txn)
            .await?
            .is_some()
        {
            v.add(
                ViolationCode::DuplicateCode,
                "input.sku",
                format!("a product with SKU {sku} already exists"),
            );
        }
    }
    let description = v.check(
        validate::text(&input.description, "description", 1, 500),
        "input.description",
    );
    let unit = v.check(
        validate::text(
            input.unit_of_measure.as_deref().unwrap_or("each"),
            "unit of measure",
            1,
            20,
        ),
        "input.unitOfMeasure",
    );
    let cost = v.take(check_cost(input.default_unit_cost.unwrap_or_default()))?;
    let preferred_vendor_id =
        v.take(check_preferred_vendor(&txn, input.preferred_vendor_id).await)?;
    let allowance = v.take(check_allowance(input.over_receipt_allowance_percent))?;
    let (sku, description, unit, cost, allowance, preferred_vendor_id) =
        v.done((sku, description, unit, cost, allowance, preferred_vendor_id))?;
    let at = now();
    let product = ActiveModel {
        sku: Set(sku),
        description: Set(description),
        unit_of_measure: Set(unit),
        default_unit_cost: Set(cost),
        preferred_vendor_id: Set(preferred_vendor_id),
        serialized: Set(input.serialized.unwrap_or(false)),
        over_receipt_allowance_percent: Set(allowance),
        active: Set(true),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        unique_violation(
            e,
            ViolationCode::DuplicateCode,
            "input.sku",
            "a product with this SKU already exists",
        )
    })?;
    commit(txn).await?;
    Ok(product)
}

/// Changes a product.
pub async fn update_product(
    db: &DatabaseConnection,
    id: i32,
    changes: ProductChanges,
) -> Result<entity::product::Model, ServiceError> {
    use entity::product::{ActiveModel, Entity};
    let txn = begin_write(db).await?;
    let current = Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("input.id", "product"))?;
    let current_serialized = current.serialized;
    let mut product: ActiveModel = current.clone().into();
    let mut v = Violations::new();
    if let Some(description) = &changes.description {
        if let Some(description) = v.check(
            validate::text(description, "description", 1, 500),
            "input.description",
        ) {
            product.description = Set(description);
        }
    }
    if let Some(unit) = &changes.unit_of_measure {
        if let Some(unit) = v.check(
            validate::text(unit, "unit of measure", 1, 20),
            "input.unitOfMeasure",
        ) {
            product.unit_of_measure = Set(unit);
        }
    }
    if let Some(cost) = changes.default_unit_cost {
        if let Some(cost) = v.take(check_cost(cost))? {
            product.default_unit_cost = Set(cost);
        }
    }
    if let Some(vendor) = changes.preferred_vendor_id {
        if let Some(vendor) = v.take(check_preferred_vendor(&txn, vendor).await)? {
            product.preferred_vendor_id = Set(vendor);
        }
    }
    if let Some(serialized) = changes.serialized {
        // Units in stock keep their serials: they would lose their identity (and the
        // registry its meaning) if the product stopped being serialized.
        if current_serialized
            && !serialized
            && crate::services::serials::has_serialized_stock(&txn, id).await?
        {
            v.add(
                ViolationCode::ProductHasSerializedStock,
                "input.serialized",
                "the product has serialized stock; write it off or use it up first",
            );
        }
        product.serialized = Set(serialized);
    }
    if let Some(allowance) = changes.over_receipt_allowance_percent {
        if let Some(allowance) = v.take(check_allowance(allowance))? {
            product.over_receipt_allowance_percent = Set(allowance);
        }
    }
    if let Some(active) = changes.active {
        product.active = Set(active);
    }
    v.finish()?;
    if product.clone().try_into_model()? == current {
        // Nothing differs: nothing is written.
        return Ok(current);
    }
    product.updated_at = Set(now());
    let product = product.update(&txn).await?;
    commit(txn).await?;
    Ok(product)
}

/// The kinds of thin reference record (DOMAIN.md, Master data).
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
    pub fn describe(self) -> &'static str {
        match self {
            ReferenceKind::BusinessUnit => "business unit",
            ReferenceKind::PurchaseOrderType => "purchase order type",
            ReferenceKind::Job => "job",
            ReferenceKind::Project => "project",
            ReferenceKind::Technician => "technician",
        }
    }

    fn has_number(self) -> bool {
        matches!(
            self,
            ReferenceKind::Job | ReferenceKind::Project | ReferenceKind::Technician
        )
    }
}

/// A reference record as stored, whatever its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceRecord {
    pub id: i32,
    pub number: Option<String>,
    pub name: String,
    pub active: bool,
}

fn duplicate(kind: ReferenceKind, key: &str) -> ServiceError {
    let field = if kind.has_number() {
        "input.number"
    } else {
        "input.name"
    };
    ServiceError::user(
        ViolationCode::DuplicateCode,
        field,
        format!("a {} {key} already exists", kind.describe()),
    )
}

/// Generates the create and update functions of one reference table. `$key` is the unique
/// column (`Number` or `Name`); `$number` is present for tables with a number.
macro_rules! reference_table {
    ($create:ident, $update:ident, $module:ident, $kind:expr, $key:ident $(, $number:ident)?) => {
        async fn $create(
            txn: &sea_orm::DatabaseTransaction,
            number: Option<String>,
            name: String,
        ) -> Result<ReferenceRecord, ServiceError> {
            use entity::$module::{ActiveModel, Column, Entity};
            let key = number.clone().unwrap_or_else(|| name.clone());
            if Entity::find().filter(Column::$key.eq(&key)).one(txn).await?.is_some() {
                return Err(duplicate($kind, &key));
            }
            let saved = ActiveModel {
                name: Set(name),
                active: Set(true),
                created_at: Set(now()),
                updated_at: Set(now()),
                $($number: Set(number.unwrap_or_default()),)?
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => duplicate($kind, &key),
                _ => ServiceError::from(e),
            })?;
            Ok(ReferenceRecord {
                id: saved.id,
                number: None $(.or(Some(saved.$number)))?,
                name: saved.name,
                active: saved.active,
            })
        }

        async fn $update(
            txn: &sea_orm::DatabaseTransaction,
            id: i32,
            name: Option<String>,
            active: Option<bool>,
        ) -> Result<ReferenceRecord, ServiceError> {
            use entity::$module::{ActiveModel, Entity};
            let current = Entity::find_by_id(id)
                .one(txn)
                .await?
                .ok_or_else(|| not_found("input.id", $kind.describe()))?;
            let mut model: ActiveModel = current.into();
            if let Some(name) = name {
                model.name = Set(name);
            }
            if let Some(active) = active {
                model.active = Set(active);
            }
            if model.is_changed() {
                // What `updatedAfter` filters on.
                model.updated_at = Set(now());
            }
            let saved = model.update(txn).await.map_err(|e| {
                unique_violation(e, ViolationCode::DuplicateCode, "input.name", "another record already has this name")
            })?;
            Ok(ReferenceRecord {
                id: saved.id,
                number: None $(.or(Some(saved.$number)))?,
                name: saved.name,
                active: saved.active,
            })
        }
    };
}

reference_table!(
    create_business_unit,
    update_business_unit,
    business_unit,
    ReferenceKind::BusinessUnit,
    Name
);
reference_table!(
    create_po_type,
    update_po_type,
    purchase_order_type,
    ReferenceKind::PurchaseOrderType,
    Name
);
reference_table!(
    create_job,
    update_job,
    job,
    ReferenceKind::Job,
    Number,
    number
);
reference_table!(
    create_project,
    update_project,
    project,
    ReferenceKind::Project,
    Number,
    number
);
reference_table!(
    create_technician,
    update_technician,
    technician,
    ReferenceKind::Technician,
    Number,
    number
);

/// Creates a business unit, PO type, job, project or technician.
pub async fn create_reference(
    db: &DatabaseConnection,
    kind: ReferenceKind,
    number: Option<&str>,
    name: &str,
) -> Result<ReferenceRecord, ServiceError> {
    let mut v = Violations::new();
    let number = if kind.has_number() {
        match number {
            Some(number) => v
                .check(validate::key(number, "number", 50), "input.number")
                .map(Some),
            None => {
                v.add(
                    ViolationCode::InvalidInput,
                    "input.number",
                    format!("a {} needs a number", kind.describe()),
                );
                None
            }
        }
    } else {
        Some(None)
    };
    let name = v.check(validate::text(name, "name", 1, 200), "input.name");
    let (name, number) = v.done((name, number))?;
    let txn = begin_write(db).await?;
    let record = match kind {
        ReferenceKind::BusinessUnit => create_business_unit(&txn, number, name).await?,
        ReferenceKind::PurchaseOrderType => create_po_type(&txn, number, name).await?,
        ReferenceKind::Job => create_job(&txn, number, name).await?,
        ReferenceKind::Project => create_project(&txn, number, name).await?,
        ReferenceKind::Technician => create_technician(&txn, number, name).await?,
    };
    commit(txn).await?;
    Ok(record)
}

/// Renames, deactivates or reactivates a reference record.
pub async fn update_reference(
    db: &DatabaseConnection,
    kind: ReferenceKind,
    id: i32,
    name: Option<&str>,
    active: Option<bool>,
) -> Result<ReferenceRecord, ServiceError> {
    let name = name
        .map(|n| check(validate::text(n, "name", 1, 200), "input.name"))
        .transpose()?;
    let txn = begin_write(db).await?;
    let record = match kind {
        ReferenceKind::BusinessUnit => update_business_unit(&txn, id, name, active).await?,
        ReferenceKind::PurchaseOrderType => update_po_type(&txn, id, name, active).await?,
        ReferenceKind::Job => update_job(&txn, id, name, active).await?,
        ReferenceKind::Project => update_project(&txn, id, name, active).await?,
        ReferenceKind::Technician => update_technician(&txn, id, name, active).await?,
    };
    commit(txn).await?;
    Ok(record)
}

/// Records a job's need for a quantity of a product (NEED_TO_ORDER).
pub async fn create_job_material(
    db: &DatabaseConnection,
    job_id: i32,
    product_id: i32,
    quantity: Decimal,
) -> Result<entity::job_material::Model, ServiceError> {
    let txn = begin_write(db).await?;
    let mut v = Violations::new();
    match entity::job::Entity::find_by_id(job_id).one(&txn).await? {
        None => v.add(ViolationCode::NotFound, "input.jobId", "no such job"),
        Some(job) if !job.active => v.add(
            ViolationCode::ReferenceInactive,
            "input.jobId",
            format!("job {} is inactive", job.number),
        ),
        Some(_) => {}
    }
    match entity::product::Entity::find_by_id(product_id)
        .one(&txn)
        .await?
    {
        None => v.add(
            ViolationCode::NotFound,
            "input.productId",
            "no such product",
        ),
        Some(product) if !product.active => v.add(
            ViolationCode::ProductInactive,
            "input.productId",
            format!("product {} is inactive", product.sku),
        ),
        Some(_) => {}
    }
    let quantity = match v.check(validate::positive(quantity, "quantity"), "input.quantity") {
        Some(quantity) => v.take(fixed(quantity, "input.quantity"))?,
        None => None,
    };
    let quantity = v.done(quantity)?;
    let at = now();
    let material = entity::job_material::ActiveModel {
        job_id: Set(job_id),
        product_id: Set(product_id),
        quantity: Set(quantity),
        status: Set(JobMaterialStatus::NeedToOrder),
        purchase_order_line_id: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    commit(txn).await?;
    Ok(material)
}
