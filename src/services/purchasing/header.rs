//! Editing a purchase order's header while it is not closed, cancelled or exported. Only fields
//! whose value differs are written; an edit that changes nothing writes nothing and keeps the
//! version.

use entity::{job, project, purchase_order, technician};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::create::{order_exchange_rate, shipping, tax_rate};
use super::references::check_link;
use super::{change_order, check_order_total, Edit, HeaderChanges, LockedOrder, OrderRef};
use crate::domain::purchasing::{exchange_rate_editable, Action, MAX_MEMO_CHARS};
use crate::domain::validate;
use crate::error::{Field, ServiceError};
use crate::services::bills;
use crate::services::{UseCase, Violations};

/// Edits header fields while the order is not closed, cancelled or exported. A new tax rate
/// replaces the bills taxed at the old one.
pub async fn update_header(
    uc: UseCase<'_>,
    id: i32,
    changes: HeaderChanges,
) -> Result<purchase_order::Model, ServiceError> {
    let target = OrderRef::Order(id);
    change_order(
        uc,
        target,
        changes.expected_version,
        Action::EditHeader,
        async |order| {
            let model = header_changes(uc, order, &changes).await?;
            if !model.is_changed() {
                return Ok(());
            }
            let updated = model.update(order.txn).await?;
            if changes.tax_rate.is_some() || changes.shipping.is_some() {
                check_order_total(order.txn, order.po.id).await?;
            }
            if updated.tax_rate != order.po.tax_rate {
                // Bills are never edited: those taxed at the old rate are replaced.
                bills::supersede_for_tax_rate(order.txn, &mut order.outbox, uc.actor, &updated)
                    .await?;
            }
            order.edited(Edit::Header, None).await
        },
    )
    .await
}

/// The header with every change that differs from the order set, once all passed their
/// checks (every violation is reported at once).
async fn header_changes(
    uc: UseCase<'_>,
    order: &LockedOrder<'_>,
    changes: &HeaderChanges,
) -> Result<purchase_order::ActiveModel, ServiceError> {
    let po = &order.po;
    let mut model: purchase_order::ActiveModel = po.clone().into();
    let mut v = Violations::new();
    if let Some(date) = changes.expected_date.filter(|d| *d != po.expected_date) {
        model.expected_date = Set(date);
    }
    if let Some(memo) = &changes.memo {
        let memo = validate::optional_text(memo.as_deref(), "a memo", MAX_MEMO_CHARS);
        if let Some(memo) = v.check(memo, Field::of("memo")).filter(|m| *m != po.memo) {
            model.memo = Set(memo);
        }
    }
    link_changes(order, &mut v, &mut model, changes).await?;
    if let Some(tax) = changes.tax_rate {
        if let Some(tax) = v.take(tax_rate(tax))?.filter(|t| *t != po.tax_rate) {
            model.tax_rate = Set(tax);
        }
    }
    if let Some(charge) = changes.shipping {
        if let Some(charge) = v.take(shipping(charge))?.filter(|s| *s != po.shipping) {
            model.shipping = Set(charge);
        }
    }
    if let Some(rate) = changes.exchange_rate {
        let rate = v.take(order_exchange_rate(&po.currency, uc, Some(rate)))?;
        if let Some(rate) = rate.filter(|r| *r != po.exchange_rate) {
            let editable = exchange_rate_editable(order.status());
            v.check(editable, Field::of("exchange_rate"));
            model.exchange_rate = Set(rate);
        }
    }
    v.finish()?;
    Ok(model)
}

/// The job, project and technician the order is bought for. A link is checked only when it
/// changes: keeping a record that was deactivated since is fine.
async fn link_changes(
    order: &LockedOrder<'_>,
    v: &mut Violations,
    model: &mut purchase_order::ActiveModel,
    changes: &HeaderChanges,
) -> Result<(), ServiceError> {
    let (po, txn) = (&order.po, order.txn);
    if let Some(job) = changes.job_id.filter(|j| *j != po.job_id) {
        check_link::<job::Entity>(v, txn, job, Field::of("job_id")).await?;
        model.job_id = Set(job);
    }
    if let Some(project) = changes.project_id.filter(|p| *p != po.project_id) {
        check_link::<project::Entity>(v, txn, project, Field::of("project_id")).await?;
        model.project_id = Set(project);
    }
    if let Some(technician) = changes.technician_id.filter(|t| *t != po.technician_id) {
        let field = Field::of("technician_id");
        check_link::<technician::Entity>(v, txn, technician, field).await?;
        model.technician_id = Set(technician);
    }
    Ok(())
}
