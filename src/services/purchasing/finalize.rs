//! Finalizing a purchase order (DOMAIN.md, Purchase order lifecycle): it closes, and what is
//! short either moves to a backorder or is released from on-order.

use entity::enums::PurchaseOrderStatus as Status;
use entity::{purchase_order, purchase_order_line, Fixed4};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::{
    lines_of, lock_purchase_order, negate, next_backorder_number, record_status_event, rule,
    settle_short_material, touch,
};
use crate::db::begin_write;
use crate::domain::purchasing::{open_quantity, Action};
use crate::error::ServiceError;
use crate::events::Outbox;
use crate::services::inventory::{apply, Movement};
use crate::services::{commit, not_found, now, UseCase};

/// What finalizing produced.
#[derive(Clone, Debug)]
pub struct Finalized {
    pub purchase_order: purchase_order::Model,
    pub backorder: Option<purchase_order::Model>,
}

/// Closes a SUBMITTED, PARTIALLY_RECEIVED or RECEIVED order. With `create_backorder` and any
/// line short, the short quantities move to a new SUBMITTED backorder (numbered on from the
/// original order) together with their on-order; otherwise they are released from on-order.
pub async fn finalize(
    uc: UseCase<'_>,
    id: i32,
    create_backorder: bool,
) -> Result<Finalized, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let po = lock_purchase_order(&txn, id, "input.purchaseOrderId").await?;
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::Finalize, &po, &lines)?;
    let short: Vec<(&purchase_order_line::Model, Fixed4)> = lines
        .iter()
        .map(|l| (l, open_quantity(l.quantity, l.quantity_received)))
        .filter(|(_, open)| !open.is_zero())
        .collect();
    let at = now();
    let mut outbox = Outbox::default();
    purchase_order::Entity::update_many()
        .col_expr(purchase_order::Column::ClosedAt, Expr::value(at))
        .filter(purchase_order::Column::Id.eq(po.id))
        .exec(&txn)
        .await?;
    touch(&txn, &po, uc.actor, Some(Status::Closed)).await?;
    record_status_event(
        &txn,
        &mut outbox,
        &po,
        Some(po.status),
        Status::Closed,
        uc.actor,
    )
    .await?;

    let backorder = if create_backorder && !short.is_empty() {
        let root_id = po.backorder_root_id.unwrap_or(po.id);
        let root = purchase_order::Entity::find_by_id(root_id)
            .one(&txn)
            .await?
            .ok_or_else(|| ServiceError::Internal("backorder root vanished".into()))?;
        let number = next_backorder_number(&txn, &root).await?;
        let line_count = i32::try_from(short.len()).unwrap_or(i32::MAX);
        let mut model: purchase_order::ActiveModel = po.clone().into();
        model.id = sea_orm::ActiveValue::NotSet;
        model.number = Set(number);
        model.status = Set(Status::Submitted);
        model.version = Set(1);
        model.backorder_of_id = Set(Some(po.id));
        model.backorder_root_id = Set(Some(root_id));
        model.order_date = Set(at);
        model.submitted_at = Set(Some(at));
        model.exported_at = Set(None);
        model.closed_at = Set(None);
        model.canceled_at = Set(None);
        // The original's shipping was charged with it.
        model.shipping = Set(Fixed4::ZERO);
        model.next_line_number = Set(line_count + 1);
        model.created_by = Set(uc.actor.subject.clone());
        model.updated_by = Set(uc.actor.subject.clone());
        model.created_at = Set(at);
        model.updated_at = Set(at);
        let backorder = model.insert(&txn).await?;
        for (i, (line, open)) in short.iter().enumerate() {
            let mut copy: purchase_order_line::ActiveModel = (*line).clone().into();
            copy.id = sea_orm::ActiveValue::NotSet;
            copy.purchase_order_id = Set(backorder.id);
            copy.line_number = Set(i32::try_from(i).unwrap_or(i32::MAX) + 1);
            copy.quantity = Set(*open);
            copy.quantity_received = Set(Fixed4::ZERO);
            copy.created_at = Set(at);
            copy.updated_at = Set(at);
            let copy = copy.insert(&txn).await?;
            // The job material's open quantity follows the line to the backorder.
            settle_short_material(&txn, line, Some(copy.id)).await?;
            // On-order stays; it is now back-ordered (and no longer so on a closed backorder).
            let backordered = if po.backorder_of_id.is_some() {
                Fixed4::ZERO
            } else {
                *open
            };
            apply(
                &txn,
                &mut outbox,
                uc.actor,
                line.product_id,
                line.location_id,
                Movement {
                    backordered,
                    ..Default::default()
                },
                None,
                "input",
            )
            .await?;
        }
        record_status_event(
            &txn,
            &mut outbox,
            &backorder,
            None,
            Status::Submitted,
            uc.actor,
        )
        .await?;
        Some(backorder)
    } else {
        for (line, open) in &short {
            settle_short_material(&txn, line, None).await?;
            apply(
                &txn,
                &mut outbox,
                uc.actor,
                line.product_id,
                line.location_id,
                Movement::on_order(negate(*open), po.backorder_of_id.is_some()),
                None,
                "input",
            )
            .await?;
        }
        None
    };
    let purchase_order = purchase_order::Entity::find_by_id(po.id)
        .one(&txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("purchase order vanished".into()))?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(Finalized {
        purchase_order,
        backorder,
    })
}

/// The purchase order with this number, for finalizing by number.
pub async fn find_by_number(uc: UseCase<'_>, number: &str) -> Result<i32, ServiceError> {
    purchase_order::Entity::find()
        .filter(purchase_order::Column::Number.eq(number.trim().to_uppercase()))
        .one(uc.db)
        .await?
        .map(|po| po.id)
        .ok_or_else(|| not_found("input.number", "purchase order"))
}
