//! The transitions of a purchase order other than finalizing (DOMAIN.md, Purchase order
//! lifecycle): submit, cancel, mark exported.

use std::collections::HashMap;

use entity::enums::JobMaterialStatus;
use entity::{inventory_location, product, purchase_order, vendor};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::lines::{release_materials, set_material_status};
use super::references::gather_active;
use super::{change_order, LockedOrder, OrderRef};
use crate::domain::purchasing::{Action, PoStatus};
use crate::domain::violation::ViolationCode;
use crate::error::{Field, ServiceError};
use crate::services::{now, UseCase, Violations};

/// PENDING → SUBMITTED: records the send time; open quantities now count as on order and the
/// job materials on the order as ordered.
pub async fn submit(
    uc: UseCase<'_>,
    id: i32,
    expected_version: Option<i32>,
) -> Result<purchase_order::Model, ServiceError> {
    let target = OrderRef::Order(id);
    change_order(
        uc,
        target,
        expected_version,
        Action::Submit,
        async |order| {
            check_still_active(order).await?;
            order.book_open_quantities(false).await?;
            let line_ids = order.lines.iter().map(|l| l.id);
            set_material_status(order.txn, line_ids, JobMaterialStatus::Ordered).await?;
            order
                .stamp(purchase_order::Column::SubmittedAt, now())
                .await?;
            order.enter(PoStatus::Submitted).await
        },
    )
    .await
}

/// An order sent to an inactive vendor, or for stock that could never be received at an
/// inactive location, would be stuck: refused until the master data is active again. Every
/// inactive record is reported at once, on the order. The lines' products and locations are
/// read in one statement each, whatever the number of lines.
async fn check_still_active(order: &LockedOrder<'_>) -> Result<(), ServiceError> {
    let field = || Field::of("purchase_order_id");
    let mut v = Violations::new();
    gather_active::<vendor::Entity>(&mut v, order.txn, order.po.vendor_id, field()).await?;
    let products: HashMap<i32, product::Model> = product::Entity::find()
        .filter(product::Column::Id.is_in(order.lines.iter().map(|l| l.product_id)))
        .all(order.txn)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let locations: HashMap<i32, inventory_location::Model> = inventory_location::Entity::find()
        .filter(inventory_location::Column::Id.is_in(order.lines.iter().map(|l| l.location_id)))
        .all(order.txn)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    for line in &order.lines {
        let (Some(product), Some(location)) = (
            products.get(&line.product_id),
            locations.get(&line.location_id),
        ) else {
            return Err(ServiceError::Internal(
                "a line's product or location vanished".into(),
            ));
        };
        if !product.active {
            let message = format!(
                "line {}: product {} is inactive",
                line.line_number, product.sku
            );
            v.add(ViolationCode::ProductInactive, field(), message);
        }
        if !location.active {
            let message = format!(
                "line {}: location {} is inactive and could never receive it",
                line.line_number, location.code
            );
            v.add(ViolationCode::LocationInactive, field(), message);
        }
    }
    v.finish()
}

/// PENDING or SUBMITTED with nothing received → CANCELED; on-order quantities and job
/// materials are released.
pub async fn cancel(
    uc: UseCase<'_>,
    id: i32,
    expected_version: Option<i32>,
) -> Result<purchase_order::Model, ServiceError> {
    let target = OrderRef::Order(id);
    change_order(
        uc,
        target,
        expected_version,
        Action::Cancel,
        async |order| {
            if order.status().counts_on_order() {
                order.book_open_quantities(true).await?;
            }
            let line_ids: Vec<i32> = order.lines.iter().map(|l| l.id).collect();
            release_materials(order.txn, &line_ids).await?;
            order
                .stamp(purchase_order::Column::CanceledAt, now())
                .await?;
            order.enter(PoStatus::Canceled).await
        },
    )
    .await
}

/// Marks the order exported to accounting; its header and lines are locked from then on.
pub async fn mark_exported(
    uc: UseCase<'_>,
    id: i32,
    expected_version: Option<i32>,
) -> Result<purchase_order::Model, ServiceError> {
    let target = OrderRef::Order(id);
    change_order(
        uc,
        target,
        expected_version,
        Action::MarkExported,
        async |order| {
            order
                .stamp(purchase_order::Column::ExportedAt, now())
                .await?;
            order.touch(None).await
        },
    )
    .await
}
