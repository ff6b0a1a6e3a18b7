//! Lines of a purchase order: the checks of a new line (on create and add), writing it with
//! the job material it claims, adding and removing lines, and keeping job materials in step.

use entity::enums::JobMaterialStatus;
use entity::{
    inventory_location, job, job_material, product, project, purchase_order, purchase_order_line,
    Fixed4,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};

use super::references::{active, check_link, gather_active};
use super::{
    change_order, check_order_total, refuse, units, with_locked_order, Edit, NewLine, OrderRef,
};
use crate::domain::purchasing::{
    line_removable, ordered_quantity, room_for_a_line, Action, MaterialNeed, MAX_MEMO_CHARS,
};
use crate::domain::validate;
use crate::domain::values::{Quantity, UnitCost};
use crate::domain::violation::ViolationCode;
use crate::error::{Field, ServiceError};
use crate::services::violations::Checked;
use crate::services::{not_found, now, UseCase, Violations};

/// Adds a line while the order is PENDING.
pub async fn add_line(
    uc: UseCase<'_>,
    po_id: i32,
    line: NewLine,
    expected_version: Option<i32>,
) -> Result<purchase_order_line::Model, ServiceError> {
    let target = OrderRef::Order(po_id);
    with_locked_order(
        uc,
        target,
        expected_version,
        Action::AddLine,
        async |order| {
            room_for_a_line(order.lines.len()).map_err(|v| refuse(v, Field::whole()))?;
            let mut v = Violations::new();
            let checked = check_line(uc, order.txn, &mut v, &line, &Field::whole()).await?;
            let checked = v.done(checked)?;
            let number = order.po.next_line_number;
            let saved = insert_line(order.txn, &order.po, number, checked, &Field::whole()).await?;
            check_order_total(order.txn, order.po.id).await?;
            purchase_order::Entity::update_many()
                .col_expr(
                    purchase_order::Column::NextLineNumber,
                    Expr::col(purchase_order::Column::NextLineNumber).add(1),
                )
                .filter(purchase_order::Column::Id.eq(order.po.id))
                .exec(order.txn)
                .await?;
            order.edited(Edit::LineAdded, Some(saved.id)).await?;
            Ok(saved)
        },
    )
    .await
}

/// Removes a line while the order is PENDING; the last line stays.
pub async fn remove_line(
    uc: UseCase<'_>,
    line_id: i32,
    expected_version: Option<i32>,
) -> Result<purchase_order::Model, ServiceError> {
    let target = OrderRef::LineOf(line_id);
    change_order(
        uc,
        target,
        expected_version,
        Action::RemoveLine,
        async |order| {
            line_removable(order.lines.len()).map_err(|v| refuse(v, Field::of("line_id")))?;
            release_materials(order.txn, &[line_id]).await?;
            purchase_order_line::Entity::delete_by_id(line_id)
                .exec(order.txn)
                .await?;
            order.edited(Edit::LineRemoved, Some(line_id)).await
        },
    )
    .await
}

/// A line that passed its checks, ready to be written.
pub(super) struct CheckedLine {
    product_id: i32,
    location_id: i32,
    quantity: Fixed4,
    unit_cost: Fixed4,
    estimated_arrival: Option<chrono::NaiveDate>,
    memo: Option<String>,
    job_id: Option<i32>,
    project_id: Option<i32>,
    material: Option<job_material::Model>,
}

/// Checks every line of a new order (`lines[i]`), recording every violation in `v`; the lines
/// when all passed.
pub(super) async fn check_lines(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    v: &mut Violations,
    lines: &[NewLine],
) -> Result<Option<Vec<CheckedLine>>, ServiceError> {
    let mut checked = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        checked.push(check_line(uc, txn, v, line, &Field::of("lines").at(i)).await?);
    }
    Ok(checked.into_iter().collect())
}

/// Checks a line's product, material, location, quantity, cost, memo and links, recording
/// every violation in `v` on the line's fields (`at`); the line when all passed.
async fn check_line(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    v: &mut Violations,
    line: &NewLine,
    at: &Field,
) -> Result<Option<CheckedLine>, ServiceError> {
    let f = |name: &'static str| at.clone().then(name);
    // The quantity is checked first, since the job material's check needs it, but its
    // violations are reported in the input's order, after the product and location.
    let mut quantity_violations = Violations::new();
    let quantity = quantity_violations.check(ordered_quantity(line.quantity), f("quantity"));
    // A job material decides the product; a product given too must match it.
    let material = match line.job_material_id {
        Some(id) => v
            .take(check_job_material(txn, id, line, quantity, at).await)?
            .map(Some),
        None => Some(None),
    };
    let product_id = match (&material, line.product_id) {
        (Some(Some(m)), _) => Some(m.product_id),
        (_, Some(p)) => Some(p),
        // The material was refused: it alone would have named the product.
        (None, None) => None,
        (Some(None), None) => {
            let message = "a line names a product or a job material";
            v.add(ViolationCode::InvalidInput, f("product_id"), message);
            None
        }
    };
    let product = match product_id {
        Some(id) => gather_active::<product::Entity>(v, txn, id, f("product_id")).await?,
        None => None,
    };
    let location_id = line.location_id;
    let location =
        gather_active::<inventory_location::Entity>(v, txn, location_id, f("location_id")).await?;
    v.append(quantity_violations);
    let unit_cost = match line.unit_cost.filter(|_| uc.can_set_costs) {
        Some(cost) => v.take(unit_cost(cost, f("unit_cost")))?,
        None => product.as_ref().map(|p| p.default_unit_cost),
    };
    let memo = v.check(
        validate::optional_text(line.memo.as_deref(), "a memo", MAX_MEMO_CHARS),
        f("memo"),
    );
    check_line_links(txn, v, line.job_id, line.project_id, at).await?;
    let Some((quantity, memo, material, product, location, unit_cost)) =
        (quantity, memo, material, product, location, unit_cost).all()
    else {
        return Ok(None);
    };
    Ok(Some(CheckedLine {
        product_id: product.id,
        location_id: location.id,
        quantity: units(quantity.get())?,
        unit_cost,
        estimated_arrival: line.estimated_arrival,
        memo,
        job_id: line.job_id.or(material.as_ref().map(|m| m.job_id)),
        project_id: line.project_id,
        material,
    }))
}

/// A unit cost a line is given, refused on `field`.
pub(super) fn unit_cost(
    value: rust_decimal::Decimal,
    field: Field,
) -> Result<Fixed4, ServiceError> {
    let cost = UnitCost::parse(value).map_err(|v| refuse(v, field))?;
    units(cost.get())
}

/// The job material a line fills: it exists, is still to be ordered, its job is active, and
/// the line's product and quantity (`None` when the quantity itself was refused) fit it.
async fn check_job_material(
    txn: &DatabaseTransaction,
    id: i32,
    line: &NewLine,
    quantity: Option<Quantity>,
    at: &Field,
) -> Result<job_material::Model, ServiceError> {
    let field = at.clone().then("job_material_id");
    let material = job_material::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| not_found(field.clone(), "job material"))?;
    MaterialNeed::claimable(
        material.status == JobMaterialStatus::NeedToOrder,
        material.purchase_order_line_id.is_some(),
    )
    .map_err(|v| refuse(v, field.clone()))?;
    active::<job::Entity>(txn, material.job_id, field).await?;
    let need = MaterialNeed {
        product_id: material.product_id,
        quantity: material.quantity.to_decimal(),
    };
    let mut v = Violations::new();
    if let Some(product_id) = line.product_id {
        v.check(
            need.check_product(product_id),
            at.clone().then("product_id"),
        );
    }
    if let Some(quantity) = quantity {
        v.check(
            need.check_quantity(quantity.get()),
            at.clone().then("quantity"),
        );
    }
    v.finish()?;
    Ok(material)
}

/// Checks the job and project a line is linked to: they exist and are active (a new link to an
/// inactive record is REFERENCE_INACTIVE), on create, add and update alike. Both are checked.
pub(super) async fn check_line_links(
    txn: &DatabaseTransaction,
    v: &mut Violations,
    job: Option<i32>,
    project: Option<i32>,
    at: &Field,
) -> Result<(), ServiceError> {
    check_link::<job::Entity>(v, txn, job, at.clone().then("job_id")).await?;
    check_link::<project::Entity>(v, txn, project, at.clone().then("project_id")).await
}

/// Writes a checked line and claims its job material.
pub(super) async fn insert_line(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    line_number: i32,
    line: CheckedLine,
    at: &Field,
) -> Result<purchase_order_line::Model, ServiceError> {
    let now = now();
    let saved = purchase_order_line::ActiveModel {
        purchase_order_id: Set(po.id),
        line_number: Set(line_number),
        product_id: Set(line.product_id),
        location_id: Set(line.location_id),
        quantity: Set(line.quantity),
        quantity_received: Set(Fixed4::ZERO),
        unit_cost: Set(line.unit_cost),
        estimated_arrival: Set(line.estimated_arrival),
        memo: Set(line.memo),
        job_id: Set(line.job_id),
        project_id: Set(line.project_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    if let Some(material) = line.material {
        claim_material(txn, &material, saved.id, at).await?;
    }
    Ok(saved)
}

/// Puts a job material on the line `line_id`, atomically: only if nobody else has meanwhile.
async fn claim_material(
    txn: &DatabaseTransaction,
    material: &job_material::Model,
    line_id: i32,
    at: &Field,
) -> Result<(), ServiceError> {
    use job_material::Column as M;
    let claimed = job_material::Entity::update_many()
        .col_expr(M::PurchaseOrderLineId, Expr::value(line_id))
        .col_expr(M::UpdatedAt, Expr::value(now()))
        .filter(M::Id.eq(material.id))
        .filter(M::PurchaseOrderLineId.is_null())
        .filter(M::Status.eq(JobMaterialStatus::NeedToOrder))
        .exec(txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(ServiceError::user(
            ViolationCode::JobMaterialUnavailable,
            at.clone().then("job_material_id"),
            "the job material was just put on another purchase order",
        ));
    }
    Ok(())
}

/// Moves the job materials of the given lines to `status`.
pub(super) async fn set_material_status(
    txn: &DatabaseTransaction,
    line_ids: impl IntoIterator<Item = i32>,
    status: JobMaterialStatus,
) -> Result<(), ServiceError> {
    use job_material::Column as M;
    job_material::Entity::update_many()
        .col_expr(M::Status, Expr::value(status))
        .col_expr(M::UpdatedAt, Expr::value(now()))
        .filter(M::PurchaseOrderLineId.is_in(line_ids))
        .exec(txn)
        .await?;
    Ok(())
}

/// Marks the job materials of fully received lines of a purchase order FULFILLED.
pub(super) async fn fulfil_materials(
    txn: &DatabaseTransaction,
    po_id: i32,
) -> Result<(), ServiceError> {
    use purchase_order_line::Column as L;
    let complete_lines = purchase_order_line::Entity::find()
        .filter(L::PurchaseOrderId.eq(po_id))
        .filter(Expr::col(L::QuantityReceived).gte(Expr::col(L::Quantity)))
        .all(txn)
        .await?;
    if complete_lines.is_empty() {
        return Ok(());
    }
    let complete = complete_lines.iter().map(|l| l.id);
    set_material_status(txn, complete, JobMaterialStatus::Fulfilled).await
}

/// Puts the job materials of the given lines back to NEED_TO_ORDER, off any purchase order.
pub(super) async fn release_materials(
    txn: &DatabaseTransaction,
    line_ids: &[i32],
) -> Result<(), ServiceError> {
    use job_material::Column as M;
    job_material::Entity::update_many()
        .col_expr(M::Status, Expr::value(JobMaterialStatus::NeedToOrder))
        .col_expr(M::PurchaseOrderLineId, Expr::value(Option::<i32>::None))
        .col_expr(M::UpdatedAt, Expr::value(now()))
        .filter(M::PurchaseOrderLineId.is_in(line_ids.iter().copied()))
        .exec(txn)
        .await?;
    Ok(())
}
