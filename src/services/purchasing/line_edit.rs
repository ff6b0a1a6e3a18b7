//! Editing a line while the order is PENDING, SUBMITTED or PARTIALLY_RECEIVED (DOMAIN.md,
//! Lines): the domain plans what may change ([`plan_line_edit`]); this applies it, keeping
//! on-order quantities, bills and the derived status right.

use entity::{inventory_location, job_material, product, purchase_order_line, receipt_line};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::lines::{check_line_links, fulfil_materials, unit_cost};
use super::references::gather_active;
use super::{
    check_order_total, negate, open_units, refuse, units, with_locked_order, Edit, LineChanges,
    LockedOrder, OrderRef,
};
use crate::domain::purchasing::{
    check_line_quantity, derive_receiving_status, plan_line_edit, Action, Change, LineFacts,
    MaterialNeed, PoStatus, MAX_MEMO_CHARS,
};
use crate::domain::validate;
use crate::error::{Field, ServiceError};
use crate::services::bills;
use crate::services::{now, UseCase, Violations};

/// Updates a line while the order is PENDING, SUBMITTED or PARTIALLY_RECEIVED, keeping on-order
/// quantities and the derived status right. An edit that changes nothing writes nothing and
/// keeps the version.
pub async fn update_line(
    uc: UseCase<'_>,
    line_id: i32,
    changes: LineChanges,
) -> Result<purchase_order_line::Model, ServiceError> {
    let gate = |order: &LockedOrder<'_>| {
        if let Some(quantity) = changes.quantity {
            // Raising a fully received order's quantity has its own code: checked before the
            // status rule, which would refuse any edit of a RECEIVED order.
            let line = order.line(line_id)?;
            let (current, received) = (line.quantity.to_decimal(), line.quantity_received);
            check_line_quantity(order.status(), current, quantity, received.to_decimal())
                .map_err(|v| refuse(v, Field::of("quantity")))?;
        }
        order.allow(Action::UpdateLine)
    };
    let target = OrderRef::LineOf(line_id);
    with_locked_order(uc, target, changes.expected_version, gate, async |order| {
        let line = order.line(line_id)?.clone();
        match plan(uc, order, &line, &changes).await? {
            Some(update) => apply(uc, order, &line, update).await,
            // Nothing differs: nothing is written and the order keeps its version.
            None => Ok(line),
        }
    })
    .await
}

/// A line edit that passed its checks.
struct LineUpdate {
    model: purchase_order_line::ActiveModel,
    /// The unit cost changed.
    repriced: bool,
    /// The line was ever received, so bills price it.
    has_receipts: bool,
}

/// What the rules say of the line's history: ever received, and the job material it fills.
async fn line_facts(
    order: &LockedOrder<'_>,
    line: &purchase_order_line::Model,
) -> Result<LineFacts, ServiceError> {
    // Ever received, even if every receipt was cancelled or rejected everything since.
    let has_receipts = !line.quantity_received.is_zero()
        || receipt_line::Entity::find()
            .filter(receipt_line::Column::PurchaseOrderLineId.eq(line.id))
            .one(order.txn)
            .await?
            .is_some();
    let material = job_material::Entity::find()
        .filter(job_material::Column::PurchaseOrderLineId.eq(line.id))
        .one(order.txn)
        .await?;
    Ok(LineFacts {
        product_id: line.product_id,
        location_id: line.location_id,
        quantity: line.quantity.to_decimal(),
        has_receipts,
        material: material.map(|m| MaterialNeed {
            product_id: m.product_id,
            quantity: m.quantity.to_decimal(),
        }),
    })
}

/// Checks every change, recording all violations; the row to write, or `None` when nothing
/// differs.
async fn plan(
    uc: UseCase<'_>,
    order: &LockedOrder<'_>,
    line: &purchase_order_line::Model,
    changes: &LineChanges,
) -> Result<Option<LineUpdate>, ServiceError> {
    let (txn, facts) = (order.txn, line_facts(order, line).await?);
    let edit = plan_line_edit(
        &facts,
        changes.product_id,
        changes.location_id,
        changes.quantity,
    );
    let mut model: purchase_order_line::ActiveModel = line.clone().into();
    let mut v = Violations::new();
    if let Some(product) = decided(&mut v, edit.product, Field::of("product_id")) {
        gather_active::<product::Entity>(&mut v, txn, product, Field::of("product_id")).await?;
        model.product_id = Set(product);
    }
    if let Some(location) = decided(&mut v, edit.location, Field::of("location_id")) {
        let field = Field::of("location_id");
        gather_active::<inventory_location::Entity>(&mut v, txn, location, field).await?;
        model.location_id = Set(location);
    }
    if let Some(quantity) = decided(&mut v, edit.quantity, Field::of("quantity")) {
        model.quantity = Set(units(quantity.get())?);
    }
    let cost = changes.unit_cost.filter(|_| uc.can_set_costs);
    let cost = match cost {
        Some(cost) => v.take(unit_cost(cost, Field::of("unit_cost")))?,
        None => None,
    };
    let repriced = cost.is_some_and(|c| c != line.unit_cost);
    if let Some(cost) = cost.filter(|_| repriced) {
        model.unit_cost = Set(cost);
    }
    if let Some(arrival) = changes
        .estimated_arrival
        .filter(|a| *a != line.estimated_arrival)
    {
        model.estimated_arrival = Set(arrival);
    }
    if let Some(memo) = &changes.memo {
        let memo = validate::optional_text(memo.as_deref(), "a memo", MAX_MEMO_CHARS);
        if let Some(memo) = v.check(memo, Field::of("memo")).filter(|m| *m != line.memo) {
            model.memo = Set(memo);
        }
    }
    // A link is checked only when it is made: keeping one deactivated since is fine.
    let new_job = changes.job_id.flatten().filter(|j| Some(*j) != line.job_id);
    let new_project = changes
        .project_id
        .flatten()
        .filter(|p| Some(*p) != line.project_id);
    check_line_links(txn, &mut v, new_job, new_project, &Field::whole()).await?;
    v.finish()?;
    if let Some(job) = changes.job_id.filter(|j| *j != line.job_id) {
        model.job_id = Set(job);
    }
    if let Some(project) = changes.project_id.filter(|p| *p != line.project_id) {
        model.project_id = Set(project);
    }
    Ok(model.is_changed().then_some(LineUpdate {
        model,
        repriced,
        has_receipts: facts.has_receipts,
    }))
}

/// The value a planned change sets; a refused change is recorded in `v` on `field`.
fn decided<T>(v: &mut Violations, change: Change<T>, field: Field) -> Option<T> {
    match change {
        Change::Keep => None,
        Change::Refused(violation) => v.check(Err::<T, _>(violation), field),
        Change::To(value) => Some(value),
    }
}

/// Writes the line, then keeps what depends on it right: the order total, the bills that
/// priced it, on-order quantities, the status and the job materials.
async fn apply(
    uc: UseCase<'_>,
    order: &mut LockedOrder<'_>,
    line: &purchase_order_line::Model,
    update: LineUpdate,
) -> Result<purchase_order_line::Model, ServiceError> {
    let mut model = update.model;
    model.updated_at = Set(now());
    let saved = model.update(order.txn).await?;
    if saved.quantity != line.quantity || saved.unit_cost != line.unit_cost {
        check_order_total(order.txn, order.po.id).await?;
    }
    if update.repriced && update.has_receipts {
        // Bills are never edited: the ones that priced this line are replaced.
        bills::supersede_for_line(order.txn, &mut order.outbox, uc.actor, &order.po, saved.id)
            .await?;
    }
    if order.status().counts_on_order() {
        // Move the open quantity: off the old (product, location), onto the new one.
        let before = open_units(line.quantity, line.quantity_received);
        let after = open_units(saved.quantity, saved.quantity_received);
        order
            .on_order(line.product_id, line.location_id, negate(before))
            .await?;
        order
            .on_order(saved.product_id, saved.location_id, after)
            .await?;
    }
    follow_quantities(order, &saved).await?;
    order.record_edit(Edit::LineUpdated, Some(saved.id)).await?;
    Ok(saved)
}

/// Bumps the version; past PENDING the status follows the lines' quantities again (raising a
/// quantity reopens a RECEIVED order, lowering it to what arrived completes one).
async fn follow_quantities(
    order: &mut LockedOrder<'_>,
    saved: &purchase_order_line::Model,
) -> Result<(), ServiceError> {
    let status = order.status();
    if status == PoStatus::Pending {
        return order.touch(None).await;
    }
    let quantities: Vec<_> = order
        .lines
        .iter()
        .map(|l| if l.id == saved.id { saved } else { l })
        .map(|l| (l.quantity.to_decimal(), l.quantity_received.to_decimal()))
        .collect();
    let derived = derive_receiving_status(&quantities);
    if derived == status {
        return order.touch(None).await;
    }
    order.enter(derived).await?;
    if derived == PoStatus::Received {
        fulfil_materials(order.txn, order.po.id).await?;
    }
    Ok(())
}
