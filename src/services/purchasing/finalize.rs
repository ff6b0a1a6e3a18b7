//! Finalizing a purchase order (DOMAIN.md, Purchase order lifecycle): it closes, and what is
//! short either moves to a backorder `{number}-BO{n}` with its on-order, or is released from
//! on-order.

use chrono::{DateTime, Utc};
use entity::enums::{JobMaterialStatus, PurchaseOrderStatus as Status};
use entity::{job_material, purchase_order, purchase_order_line, Fixed4};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DatabaseTransaction,
    EntityTrait, QueryFilter,
};

use super::create::number_taken;
use super::{
    negate, open_units, record_status_event, reload, with_locked_order, LockedOrder, OrderRef,
};
use crate::domain::purchasing::{backorder_number, Action, PoStatus};
use crate::error::{Field, ServiceError};
use crate::services::inventory::Movement;
use crate::services::{next_counter, not_found, now, UseCase};

/// What finalizing produced.
#[derive(Clone, Debug)]
pub struct Finalized {
    pub purchase_order: purchase_order::Model,
    pub backorder: Option<purchase_order::Model>,
}

/// A line closed short, with its open quantity.
type Short = (purchase_order_line::Model, Fixed4);

/// Closes a SUBMITTED, PARTIALLY_RECEIVED or RECEIVED order. With `create_backorder` and any
/// line short, the short quantities move to a new SUBMITTED backorder (numbered on from the
/// original order) together with their on-order; otherwise they are released from on-order.
pub async fn finalize(
    uc: UseCase<'_>,
    id: i32,
    create_backorder: bool,
) -> Result<Finalized, ServiceError> {
    with_locked_order(
        uc,
        OrderRef::Order(id),
        None,
        Action::Finalize,
        async |order| {
            let mut short: Vec<Short> = Vec::new();
            for line in &order.lines {
                let open = open_units(line.quantity, line.quantity_received);
                if !open.is_zero() {
                    short.push((line.clone(), open));
                }
            }
            let at = now();
            order.stamp(purchase_order::Column::ClosedAt, at).await?;
            order.enter(PoStatus::Closed).await?;
            let backorder = if create_backorder && !short.is_empty() {
                Some(open_backorder(uc, order, &short, at).await?)
            } else {
                release_short(order, &short).await?;
                None
            };
            Ok(Finalized {
                purchase_order: reload(order.txn, order.po.id).await?,
                backorder,
            })
        },
    )
    .await
}

/// The purchase order with this number, for finalizing by number.
pub async fn find_by_number(uc: UseCase<'_>, number: &str) -> Result<i32, ServiceError> {
    purchase_order::Entity::find()
        .filter(purchase_order::Column::Number.eq(number.trim().to_uppercase()))
        .one(uc.db)
        .await?
        .map(|po| po.id)
        .ok_or_else(|| not_found(Field::of("number"), "purchase order"))
}

/// Releases what is short from on-order; the job materials are needed again.
async fn release_short(order: &mut LockedOrder<'_>, short: &[Short]) -> Result<(), ServiceError> {
    for (line, open) in short {
        settle_short_material(order.txn, line, None).await?;
        order
            .on_order(line.product_id, line.location_id, negate(*open))
            .await?;
    }
    Ok(())
}

/// Moves what is short to a new SUBMITTED backorder of the order: its lines carry the open
/// quantities, whose on-order stays and now counts as back-ordered.
async fn open_backorder(
    uc: UseCase<'_>,
    order: &mut LockedOrder<'_>,
    short: &[Short],
    at: DateTime<Utc>,
) -> Result<purchase_order::Model, ServiceError> {
    let backorder = insert_backorder(uc, order, short.len(), at).await?;
    for (i, (line, open)) in short.iter().enumerate() {
        let mut copy: purchase_order_line::ActiveModel = line.clone().into();
        copy.id = NotSet;
        copy.purchase_order_id = Set(backorder.id);
        copy.line_number = Set(line_number(i)?);
        copy.quantity = Set(*open);
        copy.quantity_received = Set(Fixed4::ZERO);
        copy.created_at = Set(at);
        copy.updated_at = Set(at);
        let copy = copy.insert(order.txn).await?;
        // The job material's open quantity follows the line to the backorder.
        settle_short_material(order.txn, line, Some(copy.id)).await?;
        // On-order stays; it is now back-ordered (and no longer so on a closed backorder).
        let backordered = if order.is_backorder() {
            Fixed4::ZERO
        } else {
            *open
        };
        let movement = Movement {
            backordered,
            ..Default::default()
        };
        order
            .book(line.product_id, line.location_id, movement)
            .await?;
    }
    let (txn, outbox) = (order.txn, &mut order.outbox);
    let submitted = PoStatus::Submitted;
    record_status_event(txn, outbox, &backorder, None, submitted, uc.actor).await?;
    Ok(backorder)
}

/// The `i`-th line's number (from 1).
fn line_number(i: usize) -> Result<i32, ServiceError> {
    i32::try_from(i + 1).map_err(|_| ServiceError::Internal("line number overflow".into()))
}

/// Writes the backorder's header: the order's, SUBMITTED at `at`, without shipping (the
/// original's was charged with it), numbered on from the original order.
async fn insert_backorder(
    uc: UseCase<'_>,
    order: &LockedOrder<'_>,
    line_count: usize,
    at: DateTime<Utc>,
) -> Result<purchase_order::Model, ServiceError> {
    let po = &order.po;
    let root_id = po.backorder_root_id.unwrap_or(po.id);
    let root = purchase_order::Entity::find_by_id(root_id)
        .one(order.txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("backorder root vanished".into()))?;
    let mut model: purchase_order::ActiveModel = po.clone().into();
    model.id = NotSet;
    model.number = Set(next_backorder_number(order.txn, &root).await?);
    model.status = Set(Status::from(PoStatus::Submitted));
    model.version = Set(1);
    model.backorder_of_id = Set(Some(po.id));
    model.backorder_root_id = Set(Some(root_id));
    model.order_date = Set(at);
    model.submitted_at = Set(Some(at));
    model.exported_at = Set(None);
    model.closed_at = Set(None);
    model.canceled_at = Set(None);
    model.shipping = Set(Fixed4::ZERO);
    model.next_line_number = Set(line_number(line_count)?);
    model.created_by = Set(uc.actor.subject.clone());
    model.updated_by = Set(uc.actor.subject.clone());
    model.created_at = Set(at);
    model.updated_at = Set(at);
    Ok(model.insert(order.txn).await?)
}

/// The next free backorder number of the original order `root`: `{number}-BO{n}` with `n`
/// counting up per original order. A number of that form may already be taken (a client may
/// have chosen it); the count then skips to the next free one instead of failing on the
/// unique key.
async fn next_backorder_number(
    txn: &DatabaseTransaction,
    root: &purchase_order::Model,
) -> Result<String, ServiceError> {
    loop {
        let n = next_counter(txn, &format!("BO-{}", root.id)).await?;
        let n = i32::try_from(n)
            .map_err(|_| ServiceError::Internal("backorder counter overflow".into()))?;
        let candidate = backorder_number(&root.number, n);
        if !number_taken(txn, &candidate).await? {
            return Ok(candidate);
        }
    }
}

/// Settles the job material of a line that is closed short (DOMAIN.md, Lines). What the line
/// received stays on it (FULFILLED); the short quantity follows the backorder line when there
/// is one (ORDERED there), and otherwise is needed again (NEED_TO_ORDER, off any order). A
/// material whose line received nothing moves whole.
async fn settle_short_material(
    txn: &DatabaseTransaction,
    line: &purchase_order_line::Model,
    backorder_line_id: Option<i32>,
) -> Result<(), ServiceError> {
    use job_material::{ActiveModel, Column as M, Entity};
    let Some(material) = Entity::find()
        .filter(M::PurchaseOrderLineId.eq(line.id))
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let at = now();
    let short_status = match backorder_line_id {
        Some(_) => JobMaterialStatus::Ordered,
        None => JobMaterialStatus::NeedToOrder,
    };
    let received = line.quantity_received;
    if received.is_zero() || received >= material.quantity {
        // Nothing to split: the whole material follows the open quantity.
        let mut whole: ActiveModel = material.into();
        whole.status = Set(short_status);
        whole.purchase_order_line_id = Set(backorder_line_id);
        whole.updated_at = Set(at);
        whole.update(txn).await?;
        return Ok(());
    }
    let short = material
        .quantity
        .0
        .checked_sub(received.0)
        .ok_or_else(|| ServiceError::Internal("job material quantity overflow".into()))?;
    let (job_id, product_id) = (material.job_id, material.product_id);
    let mut kept: ActiveModel = material.into();
    kept.quantity = Set(received);
    kept.status = Set(JobMaterialStatus::Fulfilled);
    kept.updated_at = Set(at);
    kept.update(txn).await?;
    ActiveModel {
        job_id: Set(job_id),
        product_id: Set(product_id),
        quantity: Set(Fixed4(short)),
        status: Set(short_status),
        purchase_order_line_id: Set(backorder_line_id),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}
