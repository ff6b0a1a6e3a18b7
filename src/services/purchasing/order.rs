//! A purchase order locked for a use case: the one prologue of every change to an existing
//! order (lock it, check the version the client read, check the rule of the action) and its
//! epilogue (commit, publish), with the writes the use cases share: the version bump, the
//! status and edit events, the time stamps and the on-order bookings.

use chrono::{DateTime, Utc};
use entity::enums::PurchaseOrderStatus as Status;
use entity::{purchase_order, purchase_order_line, Fixed4};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};

use super::{negate, open_units, refuse, reload};
use crate::auth::Actor;
use crate::db::begin_write;
use crate::domain::purchasing::{Action, OrderState, PoStatus};
use crate::domain::violation::ViolationCode;
use crate::error::{Field, ServiceError};
use crate::events::{EventKind, Outbox};
use crate::services::inventory::{apply, Booking, Movement};
use crate::services::{commit, for_update, not_found, now, UseCase};

/// The purchase order a use case changes: named directly, or through one of its lines.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OrderRef {
    /// The order with this id (the command's `purchase_order_id`).
    Order(i32),
    /// The order of the line with this id (the command's `line_id`).
    LineOf(i32),
}

/// A purchase order locked until its use case's transaction ends, with its lines as they are
/// under the lock and the events the use case records.
pub(crate) struct LockedOrder<'t> {
    pub txn: &'t DatabaseTransaction,
    pub actor: &'t Actor,
    pub po: purchase_order::Model,
    pub lines: Vec<purchase_order_line::Model>,
    pub outbox: Outbox,
}

/// What must hold of a locked order before its use case changes it: the rule of an
/// [`Action`], or a check of the use case's own that ends with one.
pub(crate) trait Gate {
    fn check(self, order: &LockedOrder<'_>) -> Result<(), ServiceError>;
}

impl Gate for Action {
    fn check(self, order: &LockedOrder<'_>) -> Result<(), ServiceError> {
        order.allow(self)
    }
}

impl<F: FnOnce(&LockedOrder<'_>) -> Result<(), ServiceError>> Gate for F {
    fn check(self, order: &LockedOrder<'_>) -> Result<(), ServiceError> {
        self(order)
    }
}

/// Runs `apply` on the order `target` names, locked in a new transaction, once the version
/// the client read (when it sent one) and `gate` passed; then commits and publishes the events
/// `apply` recorded. A refusal or failure anywhere rolls everything back.
pub(crate) async fn with_locked_order<T>(
    uc: UseCase<'_>,
    target: OrderRef,
    expected_version: Option<i32>,
    gate: impl Gate,
    apply: impl AsyncFnOnce(&mut LockedOrder<'_>) -> Result<T, ServiceError>,
) -> Result<T, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let mut order = LockedOrder::lock(&txn, uc.actor, target).await?;
    order.check_version(expected_version)?;
    gate.check(&order)?;
    let result = apply(&mut order).await?;
    let outbox = order.outbox;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(result)
}

/// [`with_locked_order`] for a use case that answers with the order as committed.
pub(crate) async fn change_order(
    uc: UseCase<'_>,
    target: OrderRef,
    expected_version: Option<i32>,
    gate: impl Gate,
    apply: impl AsyncFnOnce(&mut LockedOrder<'_>) -> Result<(), ServiceError>,
) -> Result<purchase_order::Model, ServiceError> {
    let id = with_locked_order(uc, target, expected_version, gate, async |order| {
        apply(order).await?;
        Ok(order.po.id)
    })
    .await?;
    reload(uc.db, id).await
}

impl<'t> LockedOrder<'t> {
    async fn lock(
        txn: &'t DatabaseTransaction,
        actor: &'t Actor,
        target: OrderRef,
    ) -> Result<Self, ServiceError> {
        let po = match target {
            OrderRef::Order(id) => lock_purchase_order(txn, id, Field::of("purchase_order_id")),
            OrderRef::LineOf(line_id) => {
                let line = purchase_order_line::Entity::find_by_id(line_id)
                    .one(txn)
                    .await?
                    .ok_or_else(|| not_found(Field::of("line_id"), "purchase order line"))?;
                lock_purchase_order(txn, line.purchase_order_id, Field::of("line_id"))
            }
        }
        .await?;
        let lines = lines_of(txn, po.id).await?;
        let order = LockedOrder {
            txn,
            actor,
            po,
            lines,
            outbox: Outbox::default(),
        };
        if let OrderRef::LineOf(line_id) = target {
            // Read again under the lock: the line may have gone before the lock was taken.
            order.line(line_id)?;
        }
        Ok(order)
    }

    fn check_version(&self, expected: Option<i32>) -> Result<(), ServiceError> {
        match expected {
            Some(v) if v != self.po.version => Err(ServiceError::user(
                ViolationCode::StaleVersion,
                Field::of("expected_version"),
                format!(
                    "the purchase order is at version {}, not {v}: reload it and try again",
                    self.po.version
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The order's status.
    pub(crate) fn status(&self) -> PoStatus {
        self.po.status.into()
    }

    /// Refuses `action` unless the order's state allows it.
    pub(crate) fn allow(&self, action: Action) -> Result<(), ServiceError> {
        rule(action, &self.po, &self.lines)
    }

    /// The order's line `id` (the command's `line_id`).
    pub(crate) fn line(&self, id: i32) -> Result<&purchase_order_line::Model, ServiceError> {
        self.lines
            .iter()
            .find(|l| l.id == id)
            .ok_or_else(|| not_found(Field::of("line_id"), "purchase order line"))
    }

    /// True for a backorder, whose open quantities also count as back-ordered.
    pub(crate) fn is_backorder(&self) -> bool {
        self.po.backorder_of_id.is_some()
    }

    /// Bumps the version, setting the status when given (see [`touch`]).
    pub(crate) async fn touch(&self, status: Option<PoStatus>) -> Result<(), ServiceError> {
        touch(self.txn, &self.po, self.actor, status).await?;
        Ok(())
    }

    /// Moves the order to `status`: the version bump with the status, and its event.
    pub(crate) async fn enter(&mut self, status: PoStatus) -> Result<(), ServiceError> {
        let previous = self.status();
        self.touch(Some(status)).await?;
        record_status_event(
            self.txn,
            &mut self.outbox,
            &self.po,
            Some(previous),
            status,
            self.actor,
        )
        .await
    }

    /// Records an edit (the version bump is the caller's: it may change the status too).
    pub(crate) async fn record_edit(
        &mut self,
        change: Edit,
        line_id: Option<i32>,
    ) -> Result<(), ServiceError> {
        let payload = serde_json::json!({
            "change": change.as_str(),
            "lineId": line_id,
            "vendorId": self.po.vendor_id,
        });
        self.outbox
            .record(
                self.txn,
                EventKind::PurchaseOrderEdited,
                "PurchaseOrder",
                self.po.id,
                payload,
                &self.actor.subject,
            )
            .await
    }

    /// Bumps the version and records the edit.
    pub(crate) async fn edited(
        &mut self,
        change: Edit,
        line_id: Option<i32>,
    ) -> Result<(), ServiceError> {
        self.touch(None).await?;
        self.record_edit(change, line_id).await
    }

    /// Sets one of the order's time stamps (`submitted_at`, `closed_at`…) to `at`.
    pub(crate) async fn stamp(
        &self,
        column: purchase_order::Column,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        purchase_order::Entity::update_many()
            .col_expr(column, Expr::value(at))
            .filter(purchase_order::Column::Id.eq(self.po.id))
            .exec(self.txn)
            .await?;
        Ok(())
    }

    /// Books `movement` of the on-order quantities at a product and location. On-order and
    /// back-ordered have no floor a client could break, so nothing here is a refusal.
    pub(crate) async fn book(
        &mut self,
        product_id: i32,
        location_id: i32,
        movement: Movement,
    ) -> Result<(), ServiceError> {
        let booking = Booking::new(product_id, location_id, movement);
        apply(self.txn, &mut self.outbox, self.actor, booking).await
    }

    /// Adds `delta` to the on-order quantity at a product and location (and to back-ordered
    /// on a backorder).
    pub(crate) async fn on_order(
        &mut self,
        product_id: i32,
        location_id: i32,
        delta: Fixed4,
    ) -> Result<(), ServiceError> {
        let movement = Movement::on_order(delta, self.is_backorder());
        self.book(product_id, location_id, movement).await
    }

    /// Books every line's open quantity as on order (submit), or releases it (cancel).
    pub(crate) async fn book_open_quantities(&mut self, release: bool) -> Result<(), ServiceError> {
        let mut moves = Vec::with_capacity(self.lines.len());
        for line in &self.lines {
            let open = open_units(line.quantity, line.quantity_received);
            let delta = if release { negate(open) } else { open };
            moves.push((line.product_id, line.location_id, delta));
        }
        for (product_id, location_id, delta) in moves {
            self.on_order(product_id, location_id, delta).await?;
        }
        Ok(())
    }
}

/// What an edit changed, as the `PurchaseOrderEdited` event names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Edit {
    Header,
    LineAdded,
    LineUpdated,
    LineRemoved,
}

impl Edit {
    fn as_str(self) -> &'static str {
        match self {
            Edit::Header => "HEADER",
            Edit::LineAdded => "LINE_ADDED",
            Edit::LineUpdated => "LINE_UPDATED",
            Edit::LineRemoved => "LINE_REMOVED",
        }
    }
}

/// Loads and locks a purchase order for the rest of the transaction; `field` names the
/// command's reference to it.
pub(crate) async fn lock_purchase_order(
    txn: &DatabaseTransaction,
    id: i32,
    field: impl Into<Field>,
) -> Result<purchase_order::Model, ServiceError> {
    for_update(purchase_order::Entity::find_by_id(id), txn)
        .one(txn)
        .await?
        .ok_or_else(|| not_found(field, "purchase order"))
}

/// Locks purchase order `id` for a receiving use case by bumping its version and stamping who
/// changed it, in one statement: the lock every receipt of the order queues on is taken by
/// the write that use case makes anyway, so it is held for one statement less than a
/// `FOR UPDATE` read followed by a later bump. A refusal later rolls the bump back with the
/// rest. Returns the order as written (its new version); `NOT_FOUND` on `field` when there
/// is none.
pub(crate) async fn lock_by_touching(
    txn: &DatabaseTransaction,
    id: i32,
    actor: &Actor,
    field: impl Into<Field>,
) -> Result<purchase_order::Model, ServiceError> {
    purchase_order::Entity::update_many()
        .col_expr(
            purchase_order::Column::Version,
            Expr::col(purchase_order::Column::Version).add(1),
        )
        .col_expr(
            purchase_order::Column::UpdatedBy,
            Expr::value(actor.subject.clone()),
        )
        .col_expr(purchase_order::Column::UpdatedAt, Expr::value(now()))
        .filter(purchase_order::Column::Id.eq(id))
        .exec_with_returning(txn)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| not_found(field, "purchase order"))
}

/// Sets the status of an order this transaction locked with [`lock_by_touching`] (its version
/// is bumped already); returns the order as written.
pub(crate) async fn set_status(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    status: PoStatus,
) -> Result<purchase_order::Model, ServiceError> {
    purchase_order::Entity::update_many()
        .col_expr(
            purchase_order::Column::Status,
            Expr::value(Status::from(status)),
        )
        .filter(purchase_order::Column::Id.eq(po.id))
        .exec_with_returning(txn)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ServiceError::Internal("a locked purchase order vanished".into()))
}

/// The lines of a purchase order in line-number order.
pub async fn lines_of(
    txn: &impl ConnectionTrait,
    po_id: i32,
) -> Result<Vec<purchase_order_line::Model>, ServiceError> {
    Ok(purchase_order_line::Entity::find()
        .filter(purchase_order_line::Column::PurchaseOrderId.eq(po_id))
        .order_by_asc(purchase_order_line::Column::LineNumber)
        .all(txn)
        .await?)
}

/// Refuses `action` (on the command as a whole) unless the order's state allows it.
pub(crate) fn rule(
    action: Action,
    po: &purchase_order::Model,
    lines: &[purchase_order_line::Model],
) -> Result<(), ServiceError> {
    let state = OrderState {
        status: po.status.into(),
        exported: po.exported_at.is_some(),
        anything_received: lines.iter().any(|l| !l.quantity_received.is_zero()),
    };
    state.check(action).map_err(|v| refuse(v, Field::whole()))
}

/// Bumps the version and stamps who changed the order; the `version = current` condition makes a
/// concurrent writer that slipped past the lock fail instead of overwriting. Returns the order
/// as written (`RETURNING`), so a use case can answer with it without reading it again.
pub(crate) async fn touch(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    actor: &Actor,
    status: Option<PoStatus>,
) -> Result<purchase_order::Model, ServiceError> {
    let mut update = purchase_order::Entity::update_many()
        .col_expr(
            purchase_order::Column::Version,
            Expr::col(purchase_order::Column::Version).add(1),
        )
        .col_expr(
            purchase_order::Column::UpdatedBy,
            Expr::value(actor.subject.clone()),
        )
        .col_expr(purchase_order::Column::UpdatedAt, Expr::value(now()));
    if let Some(status) = status {
        update = update.col_expr(
            purchase_order::Column::Status,
            Expr::value(Status::from(status)),
        );
    }
    update
        .filter(purchase_order::Column::Id.eq(po.id))
        .filter(purchase_order::Column::Version.eq(po.version))
        .exec_with_returning(txn)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            ServiceError::user(
                ViolationCode::StaleVersion,
                Field::whole(),
                "the purchase order changed meanwhile: reload it and try again",
            )
        })
}

/// Records that a purchase order entered `status` (from `previous`, none when just created).
pub(crate) async fn record_status_event(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    po: &purchase_order::Model,
    previous: Option<PoStatus>,
    status: PoStatus,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let payload = serde_json::json!({
        "previousStatus": previous.map(PoStatus::name),
        "status": status.name(),
        "vendorId": po.vendor_id,
    });
    outbox
        .record(
            txn,
            EventKind::PurchaseOrderStatusChanged,
            "PurchaseOrder",
            po.id,
            payload,
            &actor.subject,
        )
        .await
}
