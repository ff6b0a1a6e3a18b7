//! The master-data records a purchase order or line refers to: each must exist and, when the
//! reference is made, be active ([`Reference`] says which code refuses an inactive one).

use sea_orm::{ConnectionTrait, EntityTrait, PrimaryKeyTrait};

use super::refuse;
use crate::domain::purchasing::Reference;
use crate::error::{Field, ServiceError};
use crate::services::{not_found, Violations};

/// A table of records that orders refer to and that can be deactivated.
pub(crate) trait Referenced: EntityTrait {
    /// The kind of record, for its refusals.
    const KIND: Reference;
    /// Whether the record may be referred to anew.
    fn is_active(model: &Self::Model) -> bool;
}

/// Implements [`Referenced`] for entity modules whose model has an `active` flag.
macro_rules! referenced {
    ($($module:ident => $kind:ident),+ $(,)?) => {
        $(
            impl Referenced for entity::$module::Entity {
                const KIND: Reference = Reference::$kind;
                fn is_active(model: &Self::Model) -> bool {
                    model.active
                }
            }
        )+
    };
}

referenced!(
    vendor => Vendor,
    inventory_location => Location,
    purchase_order_type => OrderType,
    business_unit => BusinessUnit,
    job => Job,
    project => Project,
    technician => Technician,
    product => Product,
);

/// The record `id` of table `E`: it exists and is active; refused on `field` otherwise.
pub(crate) async fn active<E>(
    db: &impl ConnectionTrait,
    id: i32,
    field: Field,
) -> Result<E::Model, ServiceError>
where
    E: Referenced,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = i32>,
{
    let Some(row) = E::find_by_id(id).one(db).await? else {
        return Err(not_found(field, E::KIND.what()));
    };
    if !E::is_active(&row) {
        return Err(refuse(E::KIND.inactive(), field));
    }
    Ok(row)
}

/// Like [`active`], but a missing or inactive record is recorded in `v` and the checks go on:
/// the record, or `None`.
pub(crate) async fn gather_active<E>(
    v: &mut Violations,
    db: &impl ConnectionTrait,
    id: i32,
    field: Field,
) -> Result<Option<E::Model>, ServiceError>
where
    E: Referenced,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = i32>,
{
    v.take(active::<E>(db, id, field).await)
}

/// An optional link (a job, project or technician an order or line is bought for) names an
/// existing, active record; a violation is recorded in `v`.
pub(crate) async fn check_link<E>(
    v: &mut Violations,
    db: &impl ConnectionTrait,
    id: Option<i32>,
    field: Field,
) -> Result<(), ServiceError>
where
    E: Referenced,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = i32>,
{
    if let Some(id) = id {
        gather_active::<E>(v, db, id, field).await?;
    }
    Ok(())
}
