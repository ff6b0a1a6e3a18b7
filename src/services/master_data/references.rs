//! The thin reference records (DOMAIN.md, Master data): business units and purchase-order types
//! known by a unique name, jobs, projects and technicians by a unique number. Their five tables
//! share one shape, so one generic create and one generic update serve them all.

use sea_orm::sea_query::{Value, ValueType};
use sea_orm::{DatabaseConnection, ModelTrait, PrimaryKeyTrait};

use super::{Draft, MasterTable, Stamps, UniqueKey};
use crate::domain::master_data::{self, ReferenceKind};
use crate::error::{Field, ServiceError};

/// A reference record as stored, whatever its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceRecord {
    pub id: i32,
    /// Jobs', projects' and technicians' number.
    pub number: Option<String>,
    pub name: String,
    pub active: bool,
}

/// The columns of a reference table.
#[derive(Clone, Copy, Debug)]
struct Columns<C> {
    id: C,
    /// The number column of the kinds known by number.
    number: Option<C>,
    name: C,
    stamps: Stamps<C>,
}

impl<C> Columns<C> {
    /// A table of records known by their unique number.
    const fn numbered(id: C, number: C, name: C, stamps: Stamps<C>) -> Self {
        Self {
            id,
            number: Some(number),
            name,
            stamps,
        }
    }

    /// A table of records known by their unique name.
    const fn named(id: C, name: C, stamps: Stamps<C>) -> Self {
        Self {
            id,
            number: None,
            name,
            stamps,
        }
    }
}

/// A table of reference records of one kind.
trait ReferenceTable: sea_orm::EntityTrait {
    /// The kind of record it holds.
    const KIND: ReferenceKind;
    /// Its columns, named once so that generic code can read and write them.
    const COLUMNS: Columns<Self::Column>;
}

/// A reference table is a master-data table: its records are called what their kind is, and
/// known by their number or, for the kinds without one, their name. (The bounds are
/// [`MasterTable`]'s own, which every sea-orm entity with an `i32` id meets.)
impl<T: ReferenceTable> MasterTable for T
where
    T::Model: sea_orm::IntoActiveModel<T::ActiveModel> + PartialEq,
    T::ActiveModel: sea_orm::TryIntoModel<T::Model> + Send,
    T::PrimaryKey: PrimaryKeyTrait<ValueType = i32>,
{
    const WHAT: &'static str = T::KIND.describe();
    const KEY: UniqueKey<T::Column> = match T::COLUMNS.number {
        Some(number) => UniqueKey::new(number, "number", "number"),
        None => UniqueKey::new(T::COLUMNS.name, "name", "name"),
    };
    const STAMPS: Stamps<T::Column> = T::COLUMNS.stamps;
}

impl ReferenceTable for entity::business_unit::Entity {
    const KIND: ReferenceKind = ReferenceKind::BusinessUnit;
    const COLUMNS: Columns<Self::Column> = {
        use entity::business_unit::Column::*;
        Columns::named(Id, Name, Stamps::new(Active, CreatedAt, UpdatedAt))
    };
}

impl ReferenceTable for entity::purchase_order_type::Entity {
    const KIND: ReferenceKind = ReferenceKind::PurchaseOrderType;
    const COLUMNS: Columns<Self::Column> = {
        use entity::purchase_order_type::Column::*;
        Columns::named(Id, Name, Stamps::new(Active, CreatedAt, UpdatedAt))
    };
}

impl ReferenceTable for entity::job::Entity {
    const KIND: ReferenceKind = ReferenceKind::Job;
    const COLUMNS: Columns<Self::Column> = {
        use entity::job::Column::*;
        Columns::numbered(Id, Number, Name, Stamps::new(Active, CreatedAt, UpdatedAt))
    };
}

impl ReferenceTable for entity::project::Entity {
    const KIND: ReferenceKind = ReferenceKind::Project;
    const COLUMNS: Columns<Self::Column> = {
        use entity::project::Column::*;
        Columns::numbered(Id, Number, Name, Stamps::new(Active, CreatedAt, UpdatedAt))
    };
}

impl ReferenceTable for entity::technician::Entity {
    const KIND: ReferenceKind = ReferenceKind::Technician;
    const COLUMNS: Columns<Self::Column> = {
        use entity::technician::Column::*;
        Columns::numbered(Id, Number, Name, Stamps::new(Active, CreatedAt, UpdatedAt))
    };
}

/// Creates a business unit, PO type, job, project or technician.
pub async fn create_reference(
    db: &DatabaseConnection,
    kind: ReferenceKind,
    number: Option<&str>,
    name: &str,
) -> Result<ReferenceRecord, ServiceError> {
    use entity::{business_unit, job, project, purchase_order_type, technician};
    match kind {
        ReferenceKind::BusinessUnit => create::<business_unit::Entity>(db, number, name).await,
        ReferenceKind::PurchaseOrderType => {
            create::<purchase_order_type::Entity>(db, number, name).await
        }
        ReferenceKind::Job => create::<job::Entity>(db, number, name).await,
        ReferenceKind::Project => create::<project::Entity>(db, number, name).await,
        ReferenceKind::Technician => create::<technician::Entity>(db, number, name).await,
    }
}

/// Renames, deactivates or reactivates a reference record.
pub async fn update_reference(
    db: &DatabaseConnection,
    kind: ReferenceKind,
    id: i32,
    name: Option<&str>,
    active: Option<bool>,
) -> Result<ReferenceRecord, ServiceError> {
    use entity::{business_unit, job, project, purchase_order_type, technician};
    let change = (id, name, active);
    match kind {
        ReferenceKind::BusinessUnit => update::<business_unit::Entity>(db, change).await,
        ReferenceKind::PurchaseOrderType => update::<purchase_order_type::Entity>(db, change).await,
        ReferenceKind::Job => update::<job::Entity>(db, change).await,
        ReferenceKind::Project => update::<project::Entity>(db, change).await,
        ReferenceKind::Technician => update::<technician::Entity>(db, change).await,
    }
}

/// Creates a record of `E`'s kind: its number (for the kinds known by number), then its name.
async fn create<E: ReferenceTable + MasterTable>(
    db: &DatabaseConnection,
    number: Option<&str>,
    name: &str,
) -> Result<ReferenceRecord, ServiceError> {
    let mut draft = Draft::<E>::create(db).await?;
    let number = draft.v.check(E::KIND.number(number), Field::of("number"));
    let name = draft.v.check(master_data::name(name), Field::of("name"));
    // The key is the number where the kind has one, else the name.
    let key = match E::COLUMNS.number {
        Some(_) => number.flatten(),
        None => name.clone(),
    };
    draft.set(E::COLUMNS.name, name)?;
    draft.check_key(key).await?;
    record::<E>(draft.save().await?)
}

/// Renames, deactivates or reactivates a record of `E`'s kind.
async fn update<E: ReferenceTable + MasterTable>(
    db: &DatabaseConnection,
    (id, name, active): (i32, Option<&str>, Option<bool>),
) -> Result<ReferenceRecord, ServiceError> {
    let mut draft = Draft::<E>::change(db, id).await?;
    let name = draft.check(name, Field::of("name"), master_data::name);
    draft.set(E::COLUMNS.name, name)?;
    draft.set(E::COLUMNS.stamps.active, active)?;
    record::<E>(draft.save().await?)
}

/// A stored reference record, whatever its table.
fn record<E: ReferenceTable>(model: E::Model) -> Result<ReferenceRecord, ServiceError> {
    let columns = E::COLUMNS;
    Ok(ReferenceRecord {
        id: read(model.get(columns.id))?,
        number: columns.number.map(|n| read(model.get(n))).transpose()?,
        name: read(model.get(columns.name))?,
        active: read(model.get(columns.stamps.active))?,
    })
}

/// A column's value read back from a stored row.
fn read<T: ValueType>(value: Value) -> Result<T, ServiceError> {
    T::try_from(value).map_err(|e| ServiceError::Internal(format!("unexpected column value: {e}")))
}

#[cfg(test)]
mod tests {
    use entity::{business_unit, job, purchase_order_type, technician};

    use super::*;

    #[test]
    fn a_record_reads_the_same_from_a_numbered_and_a_named_table() {
        let at = crate::services::now();
        let job = job::Model {
            id: 7,
            number: "J-7".into(),
            name: "Boiler".into(),
            active: true,
            created_at: at,
            updated_at: at,
        };
        assert_eq!(
            record::<job::Entity>(job).unwrap(),
            ReferenceRecord {
                id: 7,
                number: Some("J-7".into()),
                name: "Boiler".into(),
                active: true
            }
        );
        let unit = business_unit::Model {
            id: 3,
            name: "HVAC".into(),
            active: false,
            created_at: at,
            updated_at: at,
        };
        assert_eq!(
            record::<business_unit::Entity>(unit).unwrap(),
            ReferenceRecord {
                id: 3,
                number: None,
                name: "HVAC".into(),
                active: false
            }
        );
    }

    #[test]
    fn numbered_kinds_are_keyed_by_number_and_named_kinds_by_name() {
        assert_eq!(<technician::Entity as MasterTable>::KEY.field, "number");
        assert_eq!(
            <purchase_order_type::Entity as MasterTable>::KEY.field,
            "name"
        );
        assert_eq!(
            <purchase_order_type::Entity as MasterTable>::WHAT,
            "purchase order type"
        );
    }
}
