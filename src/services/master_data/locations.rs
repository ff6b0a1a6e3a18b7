//! Inventory locations (warehouses and trucks): created with a unique code, changed field by
//! field, deactivated only when nothing is kept or expected there.

use entity::enums::PurchaseOrderStatus;
use entity::inventory_location::{ActiveModel, Column, Entity, Model};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter,
};

use super::{check_address, AddressInput, Draft, MasterTable, Stamps, UniqueKey};
use crate::domain::master_data::{self, Address};
use crate::domain::values::Code;
use crate::domain::violation::ViolationCode;
use crate::error::{Field, ServiceError};

impl MasterTable for Entity {
    const WHAT: &'static str = "inventory location";
    const KEY: UniqueKey<Column> = UniqueKey::new(Column::Code, "code", "code");
    const STAMPS: Stamps<Column> =
        Stamps::new(Column::Active, Column::CreatedAt, Column::UpdatedAt);
}

/// A new inventory location.
#[derive(Clone, Debug, Default)]
pub struct NewLocation {
    pub code: String,
    pub name: String,
    /// Where it is, if it has a fixed address.
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

/// Creates a location (warehouse or truck); its code is unique.
pub async fn create_location(
    db: &DatabaseConnection,
    input: NewLocation,
) -> Result<Model, ServiceError> {
    let mut draft = Draft::create(db).await?;
    let code = draft.v.check(
        Code::parse(&input.code, "the location code"),
        Field::of("code"),
    );
    draft.check_key(code.map(Code::into_string)).await?;
    let changes = LocationChanges {
        name: Some(input.name),
        address: Some(input.address),
        active: None,
    };
    apply(&mut draft, changes).await?;
    draft.save().await
}

/// Changes a location.
pub async fn update_location(
    db: &DatabaseConnection,
    id: i32,
    changes: LocationChanges,
) -> Result<Model, ServiceError> {
    let mut draft = Draft::change(db, id).await?;
    apply(&mut draft, changes).await?;
    draft.save().await
}

/// Checks each given field into the draft, in the command's order.
async fn apply(draft: &mut Draft<Entity>, changes: LocationChanges) -> Result<(), ServiceError> {
    if let Some(name) = draft.check(changes.name, Field::of("name"), |n| master_data::name(&n)) {
        draft.row.name = Set(name);
    }
    match changes.address {
        Some(Some(address)) => {
            if let Some(a) = check_address(&mut draft.v, &address, Field::of("address")) {
                set_address(&mut draft.row, Some(a));
            }
        }
        Some(None) => set_address(&mut draft.row, None),
        None => {}
    }
    if let Some(active) = changes.active {
        if let Some(current) = draft.current.as_ref().filter(|c| c.active && !active) {
            let id = current.id;
            let in_use = refuse_if_in_use(&draft.txn, id).await;
            draft.v.take(in_use)?;
        }
        draft.row.active = Set(active);
    }
    Ok(())
}

/// Sets the address columns (all empty without an address).
fn set_address(row: &mut ActiveModel, address: Option<Address>) {
    let (street, city, region, postal_code, country) = match address {
        Some(a) => (
            Some(a.street),
            Some(a.city),
            a.region,
            Some(a.postal_code),
            Some(a.country),
        ),
        None => Default::default(),
    };
    row.street = Set(street);
    row.city = Set(city);
    row.region = Set(region);
    row.postal_code = Set(postal_code);
    row.country = Set(country);
}

/// A location that holds stock (any non-zero quantity) or is the destination of an open order
/// line cannot be deactivated: its stock could never be moved or written off, and the order
/// never received.
async fn refuse_if_in_use(txn: &DatabaseTransaction, id: i32) -> Result<(), ServiceError> {
    let in_use = |message: &str| {
        Err(ServiceError::user(
            ViolationCode::LocationInUse,
            Field::of("id"),
            message,
        ))
    };
    if holds_stock(txn, id).await? {
        return in_use("the location still holds stock (on hand, picked, reserved or on order): move or write it off first");
    }
    if awaits_an_open_line(txn, id).await? {
        return in_use("an open purchase order line is still to be delivered here: receive, finalize or cancel it first");
    }
    Ok(())
}

/// True when an inventory item at the location has any non-zero quantity.
async fn holds_stock(txn: &DatabaseTransaction, id: i32) -> Result<bool, ServiceError> {
    use entity::inventory_item::Column as I;
    let stocked = entity::inventory_item::Entity::find()
        .filter(I::LocationId.eq(id))
        .filter(
            Condition::any()
                .add(I::OnHand.ne(0))
                .add(I::OnOrder.ne(0))
                .add(I::Picked.ne(0))
                .add(I::Reserved.ne(0))
                .add(I::Backordered.ne(0)),
        )
        .one(txn)
        .await?;
    Ok(stocked.is_some())
}

/// True when a line of an order still open (PENDING, SUBMITTED or PARTIALLY_RECEIVED) is to
/// deliver more to the location.
async fn awaits_an_open_line(txn: &DatabaseTransaction, id: i32) -> Result<bool, ServiceError> {
    use entity::purchase_order::Column as Po;
    use entity::purchase_order_line::Column as L;
    let open_orders = Query::select()
        .column(Po::Id)
        .from(entity::purchase_order::Entity)
        .and_where(Po::Status.is_in([
            PurchaseOrderStatus::Pending,
            PurchaseOrderStatus::Submitted,
            PurchaseOrderStatus::PartiallyReceived,
        ]))
        .to_owned();
    let open_line = entity::purchase_order_line::Entity::find()
        .filter(L::LocationId.eq(id))
        .filter(Expr::col(L::QuantityReceived).lt(Expr::col(L::Quantity)))
        .filter(L::PurchaseOrderId.in_subquery(open_orders))
        .one(txn)
        .await?;
    Ok(open_line.is_some())
}
