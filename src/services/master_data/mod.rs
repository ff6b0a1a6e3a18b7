//! Master data (DOMAIN.md, Master data): vendors, products, inventory locations, the reference
//! records (business units, purchase-order types, jobs, projects, technicians) and job
//! materials. Records are deactivated, never deleted.
//!
//! Every kind of record is created and changed the same way, written once here as a
//! [`Draft`]: a write transaction, the row the command's fields are checked into one by one in
//! the command's order, and every violation found on the way, so a form learns all its bad
//! fields at once (a new record's taken key among them). [`Draft::save`] then refuses them all,
//! or writes the row: a new record with its timestamps, a changed one only when a field
//! differs (API.md: a change that changes nothing writes nothing).

mod job_materials;
mod locations;
mod products;
mod references;
mod vendors;

use std::fmt::Display;

use sea_orm::sea_query::Value;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, PrimaryKeyTrait, QueryFilter, SqlErr, TryIntoModel,
};

pub use crate::domain::master_data::ReferenceKind;
pub use job_materials::{create_job_material, NewJobMaterial};
pub use locations::{create_location, update_location, LocationChanges, NewLocation};
pub use products::{create_product, update_product, NewProduct, ProductChanges};
pub use references::{create_reference, update_reference, ReferenceRecord};
pub use vendors::{create_vendor, update_vendor, NewVendor, VendorChanges};

use crate::db::begin_write;
use crate::domain::master_data::{Address, PartViolations};
use crate::domain::violation::{Violation, ViolationCode};
use crate::error::{Field, ServiceError};
use crate::services::{commit, not_found, now, Violations};

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

/// The unique business key of a kind of record (a vendor's code, a product's SKU, a job's
/// number, a business unit's name).
#[derive(Clone, Copy, Debug)]
pub(super) struct UniqueKey<C> {
    /// The column that holds it.
    pub column: C,
    /// The command field that gives it.
    pub field: &'static str,
    /// What people call it ("code", "SKU").
    pub noun: &'static str,
}

impl<C> UniqueKey<C> {
    /// The key held in `column`, given by the command's `field`, called `noun`.
    pub const fn new(column: C, field: &'static str, noun: &'static str) -> Self {
        Self {
            column,
            field,
            noun,
        }
    }
}

/// The columns every master-data table has.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stamps<C> {
    /// Whether the record may be used on new documents.
    pub active: C,
    pub created_at: C,
    /// When the record last changed: what `updatedAfter` filters on.
    pub updated_at: C,
}

impl<C> Stamps<C> {
    /// The `active`, `created_at` and `updated_at` columns.
    pub const fn new(active: C, created_at: C, updated_at: C) -> Self {
        Self {
            active,
            created_at,
            updated_at,
        }
    }
}

/// A master-data table: what people call its records, their unique key and their stamps, so
/// that one [`Draft`] creates and changes the records of every table. (The bounds let generic
/// code load, insert, update and compare its rows; every sea-orm entity with an `i32` id meets
/// them.)
pub(super) trait MasterTable:
    EntityTrait<
    Model: IntoActiveModel<<Self as EntityTrait>::ActiveModel> + PartialEq,
    ActiveModel: TryIntoModel<<Self as EntityTrait>::Model> + Send,
    PrimaryKey: PrimaryKeyTrait<ValueType = i32>,
>
{
    /// How people call one of its records ("vendor").
    const WHAT: &'static str;
    /// The unique business key of its records.
    const KEY: UniqueKey<Self::Column>;
    /// Its active flag and timestamps.
    const STAMPS: Stamps<Self::Column>;
}

/// A record being created or changed in one write transaction: the row the command's fields
/// are checked into and every violation found on the way.
pub(super) struct Draft<E: MasterTable> {
    pub txn: DatabaseTransaction,
    /// The record as it will be written.
    pub row: E::ActiveModel,
    /// What the command breaks so far.
    pub v: Violations,
    /// The record as stored; `None` for a new one.
    pub current: Option<E::Model>,
}

impl<E: MasterTable> Draft<E> {
    /// A new, active record.
    pub async fn create(db: &DatabaseConnection) -> Result<Self, ServiceError> {
        let mut row = <E::ActiveModel as ActiveModelTrait>::default();
        row.try_set(E::STAMPS.active, true.into())?;
        Ok(Self {
            txn: begin_write(db).await?,
            row,
            v: Violations::new(),
            current: None,
        })
    }

    /// A change to the stored record `id` (NOT_FOUND on the command's `id` when there is none).
    pub async fn change(db: &DatabaseConnection, id: i32) -> Result<Self, ServiceError> {
        let txn = begin_write(db).await?;
        let current = E::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found(Field::of("id"), E::WHAT))?;
        Ok(Self {
            txn,
            row: current.clone().into_active_model(),
            v: Violations::new(),
            current: Some(current),
        })
    }

    /// Checks a field the command gives (`None`: not given, left as it is): its parsed value,
    /// or `None` with the violation recorded on `field`.
    pub fn check<T, U, V: Into<Violation>>(
        &mut self,
        given: Option<T>,
        field: Field,
        parse: impl FnOnce(T) -> Result<U, V>,
    ) -> Option<U> {
        given.and_then(|value| self.v.check(parse(value), field))
    }

    /// Checks a new record's key (`None`: the key itself was refused) against the stored
    /// records, so a taken key is reported with the command's other violations, and sets it on
    /// the row ([`Draft::save`] refuses a taken one with the rest).
    pub async fn check_key(&mut self, key: Option<String>) -> Result<(), ServiceError> {
        let Some(key) = key else {
            return Ok(());
        };
        let taken = E::find()
            .filter(E::KEY.column.eq(key.as_str()))
            .one(&self.txn)
            .await?
            .is_some();
        if taken {
            self.v.add(
                ViolationCode::DuplicateCode,
                Field::of(E::KEY.field),
                format!(
                    "{} {} with {} {key} already exists",
                    article(E::WHAT),
                    E::WHAT,
                    E::KEY.noun
                ),
            );
        }
        Ok(self.row.try_set(E::KEY.column, key.into())?)
    }

    /// Sets `column` to a checked value (`None`: its check failed or it was not given).
    pub fn set(&mut self, column: E::Column, value: Option<impl Into<Value>>) -> Result<(), DbErr> {
        match value {
            Some(value) => self.row.try_set(column, value.into()),
            None => Ok(()),
        }
    }

    /// Refuses the command with every violation found, or writes the record and commits: a
    /// new one with its timestamps, a changed one with a new `updated_at` when a field differs
    /// (nothing is written when none does). A key taken by a concurrent request since
    /// [`Draft::check_key`] is refused like one taken before.
    pub async fn save(self) -> Result<E::Model, ServiceError> {
        let Draft {
            txn,
            mut row,
            v,
            current,
        } = self;
        v.finish()?;
        let at = now();
        let saved = match current {
            None => {
                row.try_set(E::STAMPS.created_at, at.into())?;
                row.try_set(E::STAMPS.updated_at, at.into())?;
                row.insert(&txn).await
            }
            Some(current) if row.clone().try_into_model()? == current => return Ok(current),
            Some(_) => {
                row.try_set(E::STAMPS.updated_at, at.into())?;
                row.update(&txn).await
            }
        }
        .map_err(taken_meanwhile::<E>)?;
        commit(txn).await?;
        Ok(saved)
    }
}

/// The refusal of a write that found its key taken (the unique index held where the check
/// before it passed: two requests raced); any other database error stays one.
fn taken_meanwhile<E: MasterTable>(err: DbErr) -> ServiceError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => ServiceError::user(
            ViolationCode::DuplicateCode,
            Field::of(E::KEY.field),
            format!("another {} already has this {}", E::WHAT, E::KEY.noun),
        ),
        _ => ServiceError::from(err),
    }
}

/// "a" or "an", as `noun` begins.
fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Records each refused part of a record given at `field` (an address's street at
/// `address.street`); the parsed value when every part passed.
fn check_parts<T>(
    v: &mut Violations,
    parsed: Result<T, PartViolations>,
    field: &Field,
) -> Option<T> {
    match parsed {
        Ok(value) => Some(value),
        Err(parts) => {
            for (part, violation) in parts {
                v.add(violation.code, field.clone().then(part), violation.message);
            }
            None
        }
    }
}

/// Checks an address given at `field`, every part of it.
fn check_address(v: &mut Violations, address: &AddressInput, field: Field) -> Option<Address> {
    let parsed = Address::parse(
        &address.street,
        &address.city,
        address.region.as_deref(),
        &address.postal_code,
        &address.country,
    );
    check_parts(v, parsed, &field)
}

/// A checked value as its column stores it (a rate with eight places, a quantity with four);
/// one the column cannot hold is refused.
fn stored<T, E: Display>(converted: Result<T, E>) -> Result<T, Violation> {
    converted.map_err(|e| Violation::from(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_part_is_reported_on_its_own_path_below_the_field() {
        let mut v = Violations::new();
        let address = AddressInput {
            street: " ".into(),
            city: "Springfield".into(),
            postal_code: "1".repeat(21),
            country: "US".into(),
            ..Default::default()
        };
        assert!(check_address(&mut v, &address, Field::of("address")).is_none());
        let ServiceError::Rejected(rejections) = v.finish().unwrap_err() else {
            panic!("a refusal");
        };
        let fields: Vec<_> = rejections.into_iter().map(|r| r.field).collect();
        assert_eq!(
            fields,
            [
                Field::of("address").then("street"),
                Field::of("address").then("postal_code")
            ]
        );
    }

    #[test]
    fn articles_follow_the_noun() {
        assert_eq!(article("inventory location"), "an");
        assert_eq!(article("vendor"), "a");
    }
}
