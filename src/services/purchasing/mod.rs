//! The purchase-order lifecycle: create, edit header and lines, submit, cancel, mark exported.
//! Every use case locks the purchase order, checks the domain rules, writes, bumps the
//! version and records a status event when the status changes, in one transaction.

use chrono::{Datelike, NaiveDate};
use entity::enums::{JobMaterialStatus, PurchaseOrderStatus as Status};
use entity::{purchase_order, purchase_order_line, Fixed4, Rate8};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder,
};

use crate::auth::Actor;
use crate::config::BusinessConfig;
use crate::db::begin_write;
use crate::domain::purchasing::{self as rules, open_quantity, Action};
use crate::domain::violation::ViolationCode;
use crate::domain::{money, validate};
use crate::error::ServiceError;
use crate::events::{EventKind, Outbox};
use crate::services::commit;
use crate::services::inventory::change_on_order;
use crate::services::{
    check, fixed, for_update, invalid, next_counter, not_found, now, rate, violation, UseCase,
    Violations,
};

mod finalize;

pub use finalize::{finalize, find_by_number, Finalized};

/// A line as entered on create or add.
#[derive(Clone, Debug, Default)]
pub struct NewLine {
    pub product_id: Option<i32>,
    pub job_material_id: Option<i32>,
    pub location_id: i32,
    pub quantity: Decimal,
    pub unit_cost: Option<Decimal>,
    pub estimated_arrival: Option<NaiveDate>,
    pub memo: Option<String>,
    pub job_id: Option<i32>,
    pub project_id: Option<i32>,
}

/// A new purchase order.
#[derive(Clone, Debug, Default)]
pub struct NewPurchaseOrder {
    pub number: Option<String>,
    pub vendor_id: i32,
    pub ship_to_id: i32,
    pub type_id: i32,
    pub business_unit_id: i32,
    pub job_id: Option<i32>,
    pub project_id: Option<i32>,
    pub technician_id: Option<i32>,
    pub expected_date: Option<NaiveDate>,
    pub tax_rate: Option<Decimal>,
    pub shipping: Option<Decimal>,
    pub memo: Option<String>,
    pub exchange_rate: Option<Decimal>,
    pub lines: Vec<NewLine>,
}

/// Header changes; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Clone, Debug, Default)]
pub struct HeaderChanges {
    pub expected_version: Option<i32>,
    pub expected_date: Option<Option<NaiveDate>>,
    pub memo: Option<Option<String>>,
    pub job_id: Option<Option<i32>>,
    pub project_id: Option<Option<i32>>,
    pub technician_id: Option<Option<i32>>,
    pub tax_rate: Option<Decimal>,
    pub shipping: Option<Decimal>,
    pub exchange_rate: Option<Decimal>,
}

/// Line changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct LineChanges {
    pub expected_version: Option<i32>,
    pub product_id: Option<i32>,
    pub location_id: Option<i32>,
    pub quantity: Option<Decimal>,
    pub unit_cost: Option<Decimal>,
    pub estimated_arrival: Option<Option<NaiveDate>>,
    pub memo: Option<Option<String>>,
    /// `Some(None)` unlinks the line from its job.
    pub job_id: Option<Option<i32>>,
    /// `Some(None)` unlinks the line from its project.
    pub project_id: Option<Option<i32>>,
}

/// The opposite quantity.
pub(crate) fn negate(quantity: Fixed4) -> Fixed4 {
    Fixed4(-quantity.0)
}

fn reject(code: ViolationCode, field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::user(code, field, message)
}

/// Loads and locks a purchase order for the rest of the transaction.
pub(crate) async fn lock_purchase_order(
    txn: &DatabaseTransaction,
    id: i32,
    field: &str,
) -> Result<purchase_order::Model, ServiceError> {
    for_update(purchase_order::Entity::find_by_id(id), txn)
        .one(txn)
        .await?
        .ok_or_else(|| not_found(field, "purchase order"))
}

fn check_version(po: &purchase_order::Model, expected: Option<i32>) -> Result<(), ServiceError> {
    match expected {
        Some(v) if v != po.version => Err(reject(
            ViolationCode::StaleVersion,
            "input.expectedVersion",
            format!(
                "the purchase order is at version {}, not {v}: reload it and try again",
                po.version
            ),
        )),
        _ => Ok(()),
    }
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

fn anything_received(lines: &[purchase_order_line::Model]) -> bool {
    lines.iter().any(|l| !l.quantity_received.is_zero())
}

pub(crate) fn rule(
    action: Action,
    po: &purchase_order::Model,
    lines: &[purchase_order_line::Model],
) -> Result<(), ServiceError> {
    rules::check(
        action,
        po.status,
        po.exported_at.is_some(),
        anything_received(lines),
    )
    .map_err(|v| violation(v, "input"))
}

/// Bumps the version and stamps who changed the order; the `version = current` condition makes a
/// concurrent writer that slipped past the lock fail instead of overwriting.
pub(crate) async fn touch(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    actor: &Actor,
    status: Option<Status>,
) -> Result<(), ServiceError> {
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
        update = update.col_expr(purchase_order::Column::Status, Expr::value(status));
    }
    let result = update
        .filter(purchase_order::Column::Id.eq(po.id))
        .filter(purchase_order::Column::Version.eq(po.version))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(reject(
            ViolationCode::StaleVersion,
            "input",
            "the purchase order changed meanwhile: reload it and try again",
        ));
    }
    Ok(())
}

/// Records that a purchase order entered `status` (from `previous`, none when just created).
pub(crate) async fn record_status_event(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    po: &purchase_order::Model,
    previous: Option<Status>,
    status: Status,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let payload = serde_json::json!({
        "previousStatus": previous.map(rules::status_name),
        "status": rules::status_name(status),
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

/// Records that a purchase order was edited: `change` is HEADER, LINE_ADDED, LINE_UPDATED or
/// LINE_REMOVED, `line_id` the line concerned.
async fn record_edit_event(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    po: &purchase_order::Model,
    change: &str,
    line_id: Option<i32>,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let payload = serde_json::json!({
        "change": change,
        "lineId": line_id,
        "vendorId": po.vendor_id,
    });
    outbox
        .record(
            txn,
            EventKind::PurchaseOrderEdited,
            "PurchaseOrder",
            po.id,
            payload,
            &actor.subject,
        )
        .await
}

async fn reload(db: &impl ConnectionTrait, id: i32) -> Result<purchase_order::Model, ServiceError> {
    purchase_order::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::Internal(format!("purchase order {id} vanished")))
}

async fn number_taken(txn: &DatabaseTransaction, number: &str) -> Result<bool, ServiceError> {
    Ok(purchase_order::Entity::find()
        .filter(purchase_order::Column::Number.eq(number))
        .one(txn)
        .await?
        .is_some())
}

macro_rules! require_active {
    ($txn:expr, $module:ident, $id:expr, $field:expr, $what:expr, $code:expr) => {{
        let row = entity::$module::Entity::find_by_id($id)
            .one($txn)
            .await?
            .ok_or_else(|| not_found($field, $what))?;
        if !row.active {
            return Err(reject($code, $field, format!("the {} is inactive", $what)));
        }
        row
    }};
}

/// Like `require_active!`, but a missing or inactive record is recorded in the
/// [`Violations`] `$v` and the checks go on: the row, or `None`.
macro_rules! gather_active {
    ($v:expr, $txn:expr, $module:ident, $id:expr, $field:expr, $what:expr, $code:expr) => {
        $v.take(
            async {
                Ok::<_, ServiceError>(require_active!($txn, $module, $id, $field, $what, $code))
            }
            .await,
        )?
    };
}

/// An optional job, project or technician link must name an existing, active record; a
/// violation is recorded in `$v`.
macro_rules! require_active_link {
    ($v:expr, $txn:expr, $module:ident, $id:expr, $field:expr, $what:expr) => {
        if let Some(id) = $id {
            gather_active!(
                $v,
                $txn,
                $module,
                id,
                $field,
                $what,
                ViolationCode::ReferenceInactive
            );
        }
    };
}

fn check_exchange_rate(
    currency: &str,
    business: &BusinessConfig,
    given: Option<Decimal>,
) -> Result<Rate8, ServiceError> {
    let field = "input.exchangeRate";
    let value = match given {
        None if currency == business.base_currency => Decimal::ONE,
        None => {
            return Err(invalid(
                field,
                format!(
                    "the vendor bills in {currency}: give the exchange rate to {}",
                    business.base_currency
                ),
            ))
        }
        Some(r) if currency == business.base_currency && r != Decimal::ONE => {
            return Err(invalid(
                field,
                "the vendor bills in the base currency: the exchange rate is 1",
            ))
        }
        Some(r) if r <= Decimal::ZERO => {
            return Err(invalid(
                field,
                "the exchange rate must be greater than zero",
            ))
        }
        Some(r) => r,
    };
    rate(value, field)
}

fn check_shipping(value: Decimal) -> Result<Fixed4, ServiceError> {
    let value = check(validate::money(value, "shipping"), "input.shipping")?;
    fixed(value, "input.shipping")
}

fn check_po_tax(value: Decimal) -> Result<Rate8, ServiceError> {
    let value = check(validate::tax_rate(value), "input.taxRate")?;
    rate(value, "input.taxRate")
}

/// Refuses (`VALUE_TOO_LARGE`) an order whose total, as it now stands in the transaction,
/// would exceed the document limit.
async fn check_order_total(txn: &DatabaseTransaction, po_id: i32) -> Result<(), ServiceError> {
    let po = purchase_order::Entity::find_by_id(po_id)
        .one(txn)
        .await?
        .ok_or_else(|| not_found("input.purchaseOrderId", "purchase order"))?;
    let lines = lines_of(txn, po_id).await?;
    let totals = money::totals(
        lines
            .iter()
            .map(|l| (l.quantity.to_decimal(), l.unit_cost.to_decimal())),
        po.tax_rate.to_decimal(),
        po.shipping.to_decimal(),
    )
    .map_err(|overflow| violation(overflow.into(), "input"))?;
    money::check_document_total(totals.total).map_err(|v| violation(v, "input"))?;
    Ok(())
}

/// Checks the job and project a line is linked to: they exist and are active (a new link to an
/// inactive record is REFERENCE_INACTIVE), on create, add and update alike. Both are checked.
async fn check_line_links(
    txn: &DatabaseTransaction,
    v: &mut Violations,
    job: Option<i32>,
    project: Option<i32>,
    field: &str,
) -> Result<(), ServiceError> {
    if let Some(job) = job {
        gather_active!(
            v,
            txn,
            job,
            job,
            &format!("{field}.jobId"),
            "job",
            ViolationCode::ReferenceInactive
        );
    }
    if let Some(project) = project {
        gather_active!(
            v,
            txn,
            project,
            project,
            &format!("{field}.projectId"),
            "project",
            ViolationCode::ReferenceInactive
        );
    }
    Ok(())
}

/// A line that passed its checks, ready to be written.
struct CheckedLine {
    product_id: i32,
    location_id: i32,
    quantity: Fixed4,
    unit_cost: Fixed4,
    estimated_arrival: Option<NaiveDate>,
    memo: Option<String>,
    job_id: Option<i32>,
    project_id: Option<i32>,
    material: Option<entity::job_material::Model>,
}

/// The job material a line fills: it exists, is still to be ordered, its job is active, and
/// the line's product and quantity (`None` when the quantity itself was refused) fit it.
async fn check_job_material(
    txn: &DatabaseTransaction,
    id: i32,
    line: &NewLine,
    quantity: Option<Fixed4>,
    field: &str,
) -> Result<entity::job_material::Model, ServiceError> {
    let f = |name: &str| format!("{field}.{name}");
    let material = entity::job_material::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| not_found(f("jobMaterialId"), "job material"))?;
    if material.status != JobMaterialStatus::NeedToOrder
        || material.purchase_order_line_id.is_some()
    {
        return Err(reject(
            ViolationCode::JobMaterialUnavailable,
            &f("jobMaterialId"),
            "the job material is already ordered or on another purchase order",
        ));
    }
    require_active!(
        txn,
        job,
        material.job_id,
        &f("jobMaterialId"),
        "job",
        ViolationCode::ReferenceInactive
    );
    let mut v = Violations::new();
    if line.product_id.is_some_and(|p| p != material.product_id) {
        v.add(
            ViolationCode::JobMaterialUnavailable,
            f("productId"),
            "the product differs from the job material's product",
        );
    }
    if quantity.is_some_and(|q| q > material.quantity) {
        v.add(
            ViolationCode::JobMaterialUnavailable,
            f("quantity"),
            format!(
                "the job material needs only {}",
                material.quantity.to_decimal()
            ),
        );
    }
    v.finish()?;
    Ok(material)
}

/// Checks a line's product, material, location, links, quantity, memo and cost, recording
/// every violation in `v`; the line when all passed.
async fn check_line(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    v: &mut Violations,
    line: &NewLine,
    field: &str,
) -> Result<Option<CheckedLine>, ServiceError> {
    let f = |name: &str| format!("{field}.{name}");
    // The quantity is checked first, since the job material's check needs it, but its
    // violations are reported in the input's order, after the product and location.
    let mut quantity_violations = Violations::new();
    let quantity = match quantity_violations
        .check(validate::positive(line.quantity, "quantity"), f("quantity"))
    {
        Some(quantity) => quantity_violations.take(fixed(quantity, &f("quantity")))?,
        None => None,
    };
    // A job material decides the product; a product given too must match it.
    let material = match line.job_material_id {
        Some(id) => v
            .take(check_job_material(txn, id, line, quantity, field).await)?
            .map(Some),
        None => Some(None),
    };
    let product_id = match (&material, line.product_id) {
        (Some(Some(m)), _) => Some(m.product_id),
        (_, Some(p)) => Some(p),
        // The material was refused: it alone would have named the product.
        (None, None) => None,
        (Some(None), None) => {
            v.add(
                ViolationCode::InvalidInput,
                f("productId"),
                "give a productId or a jobMaterialId",
            );
            None
        }
    };
    let product = match product_id {
        Some(product_id) => gather_active!(
            v,
            txn,
            product,
            product_id,
            &f("productId"),
            "product",
            ViolationCode::ProductInactive
        ),
        None => None,
    };
    let location = gather_active!(
        v,
        txn,
        inventory_location,
        line.location_id,
        &f("locationId"),
        "inventory location",
        ViolationCode::LocationInactive
    );
    v.append(quantity_violations);
    let unit_cost = match line.unit_cost.filter(|_| uc.can_set_costs) {
        Some(cost) => match v.check(validate::unit_cost(cost), f("unitCost")) {
            Some(cost) => v.take(fixed(cost, &f("unitCost")))?,
            None => None,
        },
        None => product.as_ref().map(|p| p.default_unit_cost),
    };
    let memo = v.check(
        validate::optional_text(line.memo.as_deref(), "memo", 2000),
        f("memo"),
    );
    check_line_links(txn, v, line.job_id, line.project_id, field).await?;
    let (
        Some(quantity),
        Some(memo),
        Some(material),
        Some(product),
        Some(location),
        Some(unit_cost),
    ) = (quantity, memo, material, product, location, unit_cost)
    else {
        return Ok(None);
    };
    Ok(Some(CheckedLine {
        product_id: product.id,
        location_id: location.id,
        quantity,
        unit_cost,
        estimated_arrival: line.estimated_arrival,
        memo,
        job_id: line.job_id.or(material.as_ref().map(|m| m.job_id)),
        project_id: line.project_id,
        material,
    }))
}

/// Writes a checked line and claims its job material.
async fn insert_line(
    txn: &DatabaseTransaction,
    po: &purchase_order::Model,
    line_number: i32,
    line: CheckedLine,
    field: &str,
) -> Result<purchase_order_line::Model, ServiceError> {
    let f = |name: &str| format!("{field}.{name}");
    let at = now();
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
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    if let Some(material) = line.material {
        // Claim the material atomically: only if nobody else has meanwhile.
        let claimed = entity::job_material::Entity::update_many()
            .col_expr(
                entity::job_material::Column::PurchaseOrderLineId,
                Expr::value(saved.id),
            )
            .col_expr(entity::job_material::Column::UpdatedAt, Expr::value(at))
            .filter(entity::job_material::Column::Id.eq(material.id))
            .filter(entity::job_material::Column::PurchaseOrderLineId.is_null())
            .filter(entity::job_material::Column::Status.eq(JobMaterialStatus::NeedToOrder))
            .exec(txn)
            .await?;
        if claimed.rows_affected != 1 {
            return Err(reject(
                ViolationCode::JobMaterialUnavailable,
                &f("jobMaterialId"),
                "the job material was just put on another purchase order",
            ));
        }
    }
    Ok(saved)
}

/// Creates a purchase order in PENDING with at least one line.
pub async fn create(
    uc: UseCase<'_>,
    input: NewPurchaseOrder,
) -> Result<purchase_order::Model, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let mut outbox = Outbox::default();
    let po = create_in(uc, &txn, &mut outbox, input).await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(po)
}

/// Creates a purchase order inside the caller's transaction (for use cases that create several
/// all or nothing).
pub(crate) async fn create_in(
    uc: UseCase<'_>,
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    input: NewPurchaseOrder,
) -> Result<purchase_order::Model, ServiceError> {
    // Every violation of the header and of all lines is gathered before anything is written.
    if input.lines.len() > 500 {
        // Checking thousands of lines would only lengthen the answer: refused outright.
        return Err(invalid(
            "input.lines",
            "a purchase order holds at most 500 lines",
        ));
    }
    let mut v = Violations::new();
    let number = match input.number.as_deref() {
        Some(n) => v
            .check(validate::key(n, "number", 40), "input.number")
            .map(Some),
        None => Some(None),
    };
    if let Some(Some(number)) = &number {
        if number_taken(txn, number).await? {
            v.add(
                ViolationCode::DuplicatePoNumber,
                "input.number",
                format!("purchase order {number} already exists"),
            );
        }
    }
    let vendor = gather_active!(
        v,
        txn,
        vendor,
        input.vendor_id,
        "input.vendorId",
        "vendor",
        ViolationCode::VendorInactive
    );
    gather_active!(
        v,
        txn,
        inventory_location,
        input.ship_to_id,
        "input.shipToId",
        "inventory location",
        ViolationCode::LocationInactive
    );
    gather_active!(
        v,
        txn,
        purchase_order_type,
        input.type_id,
        "input.typeId",
        "purchase order type",
        ViolationCode::ReferenceInactive
    );
    gather_active!(
        v,
        txn,
        business_unit,
        input.business_unit_id,
        "input.businessUnitId",
        "business unit",
        ViolationCode::ReferenceInactive
    );
    require_active_link!(v, txn, job, input.job_id, "input.jobId", "job");
    require_active_link!(
        v,
        txn,
        project,
        input.project_id,
        "input.projectId",
        "project"
    );
    require_active_link!(
        v,
        txn,
        technician,
        input.technician_id,
        "input.technicianId",
        "technician"
    );
    let tax_override = match input.tax_rate {
        Some(tax) => v.take(check_po_tax(tax))?.map(Some),
        None => Some(None),
    };
    let shipping = v.take(check_shipping(input.shipping.unwrap_or_default()))?;
    let memo = v.check(
        validate::optional_text(input.memo.as_deref(), "memo", 2000),
        "input.memo",
    );
    // The rate depends on the vendor's currency: checked only once the vendor is known.
    let exchange_rate = match &vendor {
        Some(vendor) => v.take(check_exchange_rate(
            &vendor.currency,
            uc.business,
            input.exchange_rate,
        ))?,
        None => None,
    };
    if input.lines.is_empty() {
        v.add(
            ViolationCode::InvalidInput,
            "input.lines",
            "a purchase order needs at least one line",
        );
    }
    let mut lines = Vec::with_capacity(input.lines.len());
    for (i, line) in input.lines.iter().enumerate() {
        lines.push(check_line(uc, txn, &mut v, line, &format!("input.lines.{i}")).await?);
    }
    let lines: Option<Vec<CheckedLine>> = lines.into_iter().collect();
    let (number, memo, shipping, tax_override, vendor, exchange_rate, lines) = v.done((
        number,
        memo,
        shipping,
        tax_override,
        vendor,
        exchange_rate,
        lines,
    ))?;

    let at = now();
    let number = match number {
        Some(number) => number,
        None => loop {
            // Numbers given by hand may already hold a generated one: skip past them.
            let candidate = rules::generated_number(
                at.year(),
                next_counter(txn, &format!("PO-{}", at.year())).await?,
            );
            if !number_taken(txn, &candidate).await? {
                break candidate;
            }
        },
    };
    let line_count = i32::try_from(input.lines.len()).unwrap_or(i32::MAX);
    let po = purchase_order::ActiveModel {
        number: Set(number),
        status: Set(Status::Pending),
        version: Set(1),
        vendor_id: Set(vendor.id),
        ship_to_id: Set(input.ship_to_id),
        type_id: Set(input.type_id),
        business_unit_id: Set(input.business_unit_id),
        job_id: Set(input.job_id),
        project_id: Set(input.project_id),
        technician_id: Set(input.technician_id),
        backorder_of_id: Set(None),
        backorder_root_id: Set(None),
        order_date: Set(at),
        expected_date: Set(input.expected_date),
        submitted_at: Set(None),
        exported_at: Set(None),
        closed_at: Set(None),
        canceled_at: Set(None),
        memo: Set(memo),
        tax_rate: Set(tax_override.unwrap_or(vendor.default_tax_rate)),
        shipping: Set(shipping),
        currency: Set(vendor.currency.clone()),
        exchange_rate: Set(exchange_rate),
        next_line_number: Set(line_count + 1),
        created_by: Set(uc.actor.subject.clone()),
        updated_by: Set(uc.actor.subject.clone()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(|e| {
        super::unique_violation(
            e,
            ViolationCode::DuplicatePoNumber,
            "input.number",
            "a purchase order with this number already exists",
        )
    })?;
    for (i, line) in lines.into_iter().enumerate() {
        insert_line(txn, &po, i as i32 + 1, line, &format!("input.lines.{i}")).await?;
    }
    check_order_total(txn, po.id).await?;
    record_status_event(txn, outbox, &po, None, Status::Pending, uc.actor).await?;
    Ok(po)
}

/// Edits header fields while the order is not closed, cancelled or exported. Only fields whose
/// value differs are written; an edit that changes nothing writes nothing and keeps the version.
pub async fn update_header(
    uc: UseCase<'_>,
    id: i32,
    changes: HeaderChanges,
) -> Result<purchase_order::Model, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let po = lock_purchase_order(&txn, id, "input.purchaseOrderId").await?;
    check_version(&po, changes.expected_version)?;
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::EditHeader, &po, &lines)?;
    let mut model: purchase_order::ActiveModel = po.clone().into();
    let mut changed = false;
    let mut v = Violations::new();
    if let Some(date) = changes.expected_date.filter(|d| *d != po.expected_date) {
        model.expected_date = Set(date);
        changed = true;
    }
    if let Some(memo) = &changes.memo {
        let memo = v.check(
            validate::optional_text(memo.as_deref(), "memo", 2000),
            "input.memo",
        );
        if let Some(memo) = memo.filter(|m| *m != po.memo) {
            model.memo = Set(memo);
            changed = true;
        }
    }
    // A link is checked only when it changes: keeping a record that was deactivated since is fine.
    if let Some(job) = changes.job_id.filter(|j| *j != po.job_id) {
        require_active_link!(v, &txn, job, job, "input.jobId", "job");
        model.job_id = Set(job);
        changed = true;
    }
    if let Some(project) = changes.project_id.filter(|p| *p != po.project_id) {
        require_active_link!(v, &txn, project, project, "input.projectId", "project");
        model.project_id = Set(project);
        changed = true;
    }
    if let Some(technician) = changes.technician_id.filter(|t| *t != po.technician_id) {
        require_active_link!(
            v,
            &txn,
            technician,
            technician,
            "input.technicianId",
            "technician"
        );
        model.technician_id = Set(technician);
        changed = true;
    }
    if let Some(tax) = changes.tax_rate {
        if let Some(tax) = v.take(check_po_tax(tax))?.filter(|t| *t != po.tax_rate) {
            model.tax_rate = Set(tax);
            changed = true;
        }
    }
    if let Some(shipping) = changes.shipping {
        if let Some(shipping) = v
            .take(check_shipping(shipping))?
            .filter(|s| *s != po.shipping)
        {
            model.shipping = Set(shipping);
            changed = true;
        }
    }
    if let Some(exchange_rate) = changes.exchange_rate {
        let exchange_rate = v.take(check_exchange_rate(
            &po.currency,
            uc.business,
            Some(exchange_rate),
        ))?;
        if let Some(exchange_rate) = exchange_rate.filter(|r| *r != po.exchange_rate) {
            if po.status != Status::Pending {
                v.add(
                    ViolationCode::PoNotEditable,
                    "input.exchangeRate",
                    "the exchange rate can only change while the purchase order is PENDING",
                );
            }
            model.exchange_rate = Set(exchange_rate);
            changed = true;
        }
    }
    v.finish()?;
    if !changed {
        return Ok(po);
    }
    let updated = model.update(&txn).await?;
    if changes.tax_rate.is_some() || changes.shipping.is_some() {
        check_order_total(&txn, po.id).await?;
    }
    let mut outbox = Outbox::default();
    if updated.tax_rate != po.tax_rate {
        // Bills are never edited: those taxed at the old rate are replaced.
        crate::services::bills::supersede_for_tax_rate(&txn, &mut outbox, uc.actor, &updated)
            .await?;
    }
    touch(&txn, &po, uc.actor, None).await?;
    record_edit_event(&txn, &mut outbox, &po, "HEADER", None, uc.actor).await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    reload(uc.db, id).await
}

/// Adds a line while the order is PENDING.
pub async fn add_line(
    uc: UseCase<'_>,
    po_id: i32,
    line: NewLine,
    expected_version: Option<i32>,
) -> Result<purchase_order_line::Model, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let po = lock_purchase_order(&txn, po_id, "input.purchaseOrderId").await?;
    check_version(&po, expected_version)?;
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::AddLine, &po, &lines)?;
    if lines.len() >= 500 {
        return Err(invalid("input", "a purchase order holds at most 500 lines"));
    }
    let mut v = Violations::new();
    let checked = check_line(uc, &txn, &mut v, &line, "input").await?;
    let checked = v.done(checked)?;
    let saved = insert_line(&txn, &po, po.next_line_number, checked, "input").await?;
    check_order_total(&txn, po.id).await?;
    purchase_order::Entity::update_many()
        .col_expr(
            purchase_order::Column::NextLineNumber,
            Expr::col(purchase_order::Column::NextLineNumber).add(1),
        )
        .filter(purchase_order::Column::Id.eq(po.id))
        .exec(&txn)
        .await?;
    touch(&txn, &po, uc.actor, None).await?;
    let mut outbox = Outbox::default();
    record_edit_event(
        &txn,
        &mut outbox,
        &po,
        "LINE_ADDED",
        Some(saved.id),
        uc.actor,
    )
    .await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(saved)
}

/// Updates a line while the order is PENDING, SUBMITTED or PARTIALLY_RECEIVED, keeping on-order
/// quantities and the derived status right.
pub async fn update_line(
    uc: UseCase<'_>,
    line_id: i32,
    changes: LineChanges,
) -> Result<purchase_order_line::Model, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let line = purchase_order_line::Entity::find_by_id(line_id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("input.lineId", "purchase order line"))?;
    let po = lock_purchase_order(&txn, line.purchase_order_id, "input.lineId").await?;
    check_version(&po, changes.expected_version)?;
    let lines = lines_of(&txn, po.id).await?;
    // Re-read under the lock: the line may have changed before the lock was taken.
    let line = lines
        .iter()
        .find(|l| l.id == line_id)
        .cloned()
        .ok_or_else(|| not_found("input.lineId", "purchase order line"))?;
    if let Some(new_quantity) = changes.quantity {
        // Raising a fully received order's quantity has its own code: check it before the status rule.
        rules::check_line_quantity(
            po.status,
            line.quantity.to_decimal(),
            new_quantity,
            line.quantity_received.to_decimal(),
        )
        .map_err(|v| violation(v, "input.quantity"))?;
    }
    rule(Action::UpdateLine, &po, &lines)?;
    // Ever received, even if every receipt was cancelled or rejected everything: those
    // receipts and their bills keep this product and location (DOMAIN.md, History).
    let has_receipts = !line.quantity_received.is_zero()
        || entity::receipt_line::Entity::find()
            .filter(entity::receipt_line::Column::PurchaseOrderLineId.eq(line.id))
            .one(&txn)
            .await?
            .is_some();
    let material = entity::job_material::Entity::find()
        .filter(entity::job_material::Column::PurchaseOrderLineId.eq(line.id))
        .one(&txn)
        .await?;
    let mut model: purchase_order_line::ActiveModel = line.clone().into();
    let mut product_id = line.product_id;
    let mut location_id = line.location_id;
    let mut v = Violations::new();
    if let Some(new_product) = changes.product_id.filter(|p| *p != line.product_id) {
        if has_receipts {
            v.add(
                ViolationCode::LineHasReceipts,
                "input.productId",
                "the product of a line with receipts cannot change",
            );
        } else if material.is_some() {
            v.add(
                ViolationCode::JobMaterialUnavailable,
                "input.productId",
                "the line fills a job material; its product is the material's",
            );
        } else {
            gather_active!(
                v,
                &txn,
                product,
                new_product,
                "input.productId",
                "product",
                ViolationCode::ProductInactive
            );
        }
        product_id = new_product;
        model.product_id = Set(new_product);
    }
    if let Some(new_location) = changes.location_id.filter(|l| *l != line.location_id) {
        if has_receipts {
            v.add(
                ViolationCode::LineHasReceipts,
                "input.locationId",
                "the location of a line with receipts cannot change",
            );
        } else {
            gather_active!(
                v,
                &txn,
                inventory_location,
                new_location,
                "input.locationId",
                "inventory location",
                ViolationCode::LocationInactive
            );
        }
        location_id = new_location;
        model.location_id = Set(new_location);
    }
    let mut quantity = line.quantity;
    if let Some(new_quantity) = changes.quantity {
        if let Some(new_quantity) = v.take(fixed(new_quantity, "input.quantity"))? {
            quantity = new_quantity;
            if let Some(material) = &material {
                if quantity > material.quantity {
                    v.add(
                        ViolationCode::JobMaterialUnavailable,
                        "input.quantity",
                        format!(
                            "the job material needs only {}",
                            material.quantity.to_decimal()
                        ),
                    );
                }
            }
            if quantity != line.quantity {
                model.quantity = Set(quantity);
            }
        }
    }
    let mut repriced = false;
    if let Some(cost) = changes.unit_cost.filter(|_| uc.can_set_costs) {
        let cost = match v.check(validate::unit_cost(cost), "input.unitCost") {
            Some(cost) => v.take(fixed(cost, "input.unitCost"))?,
            None => None,
        };
        if let Some(cost) = cost {
            repriced = cost != line.unit_cost;
            if repriced {
                model.unit_cost = Set(cost);
            }
        }
    }
    if let Some(arrival) = changes
        .estimated_arrival
        .filter(|a| *a != line.estimated_arrival)
    {
        model.estimated_arrival = Set(arrival);
    }
    if let Some(memo) = &changes.memo {
        let memo = v.check(
            validate::optional_text(memo.as_deref(), "memo", 2000),
            "input.memo",
        );
        if let Some(memo) = memo.filter(|m| *m != line.memo) {
            model.memo = Set(memo);
        }
    }
    let new_job = changes.job_id.flatten().filter(|j| Some(*j) != line.job_id);
    let new_project = changes
        .project_id
        .flatten()
        .filter(|p| Some(*p) != line.project_id);
    check_line_links(&txn, &mut v, new_job, new_project, "input").await?;
    v.finish()?;
    if let Some(job) = changes.job_id.filter(|j| *j != line.job_id) {
        model.job_id = Set(job);
    }
    if let Some(project) = changes.project_id.filter(|p| *p != line.project_id) {
        model.project_id = Set(project);
    }
    if !model.is_changed() {
        // Nothing differs: nothing is written and the order keeps its version.
        return Ok(line);
    }
    model.updated_at = Set(now());
    let saved = model.update(&txn).await?;
    if saved.quantity != line.quantity || saved.unit_cost != line.unit_cost {
        check_order_total(&txn, po.id).await?;
    }
    let mut outbox = Outbox::default();
    if repriced && has_receipts {
        // Bills are never edited: the ones that priced this line are replaced.
        crate::services::bills::supersede_for_line(&txn, &mut outbox, uc.actor, &po, saved.id)
            .await?;
    }
    if rules::counts_on_order(po.status) {
        // Move the open quantity: off the old (product, location), onto the new one.
        let received = line.quantity_received;
        change_on_order(
            &txn,
            &mut outbox,
            uc.actor,
            line.product_id,
            line.location_id,
            negate(open_quantity(line.quantity, received)),
            po.backorder_of_id.is_some(),
        )
        .await?;
        change_on_order(
            &txn,
            &mut outbox,
            uc.actor,
            product_id,
            location_id,
            open_quantity(quantity, received),
            po.backorder_of_id.is_some(),
        )
        .await?;
    }
    if po.status != Status::Pending {
        let all: Vec<_> = lines
            .iter()
            .map(|l| if l.id == saved.id { &saved } else { l })
            .map(|l| (l.quantity.to_decimal(), l.quantity_received.to_decimal()))
            .collect();
        let derived = rules::derive_receiving_status(&all);
        if derived != po.status {
            touch(&txn, &po, uc.actor, Some(derived)).await?;
            record_status_event(&txn, &mut outbox, &po, Some(po.status), derived, uc.actor).await?;
            if derived == Status::Received {
                fulfil_materials(&txn, po.id).await?;
            }
        } else {
            touch(&txn, &po, uc.actor, None).await?;
        }
    } else {
        touch(&txn, &po, uc.actor, None).await?;
    }
    record_edit_event(
        &txn,
        &mut outbox,
        &po,
        "LINE_UPDATED",
        Some(saved.id),
        uc.actor,
    )
    .await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    Ok(saved)
}

/// Marks the job materials of fully received lines of a purchase order FULFILLED.
pub(crate) async fn fulfil_materials(
    txn: &DatabaseTransaction,
    po_id: i32,
) -> Result<(), ServiceError> {
    use entity::job_material::Column as M;
    use purchase_order_line::Column as L;
    let complete_lines = purchase_order_line::Entity::find()
        .filter(L::PurchaseOrderId.eq(po_id))
        .filter(Expr::col(L::QuantityReceived).gte(Expr::col(L::Quantity)))
        .all(txn)
        .await?;
    if complete_lines.is_empty() {
        return Ok(());
    }
    entity::job_material::Entity::update_many()
        .col_expr(M::Status, Expr::value(JobMaterialStatus::Fulfilled))
        .col_expr(M::UpdatedAt, Expr::value(now()))
        .filter(M::PurchaseOrderLineId.is_in(complete_lines.iter().map(|l| l.id)))
        .exec(txn)
        .await?;
    Ok(())
}

/// Removes a line while the order is PENDING; the last line stays.
pub async fn remove_line(
    uc: UseCase<'_>,
    line_id: i32,
    expected_version: Option<i32>,
) -> Result<purchase_order::Model, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let line = purchase_order_line::Entity::find_by_id(line_id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("input.lineId", "purchase order line"))?;
    let po = lock_purchase_order(&txn, line.purchase_order_id, "input.lineId").await?;
    check_version(&po, expected_version)?;
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::RemoveLine, &po, &lines)?;
    if lines.len() <= 1 {
        return Err(reject(
            ViolationCode::LastLine,
            "input.lineId",
            "the last line of a purchase order cannot be removed",
        ));
    }
    release_materials(&txn, &[line.id]).await?;
    purchase_order_line::Entity::delete_by_id(line.id)
        .exec(&txn)
        .await?;
    touch(&txn, &po, uc.actor, None).await?;
    let mut outbox = Outbox::default();
    record_edit_event(
        &txn,
        &mut outbox,
        &po,
        "LINE_REMOVED",
        Some(line.id),
        uc.actor,
    )
    .await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    reload(uc.db, po.id).await
}

/// Puts the job materials of the given lines back to NEED_TO_ORDER, off any purchase order.
async fn release_materials(
    txn: &DatabaseTransaction,
    line_ids: &[i32],
) -> Result<(), ServiceError> {
    use entity::job_material::Column as M;
    entity::job_material::Entity::update_many()
        .col_expr(M::Status, Expr::value(JobMaterialStatus::NeedToOrder))
        .col_expr(M::PurchaseOrderLineId, Expr::value(Option::<i32>::None))
        .col_expr(M::UpdatedAt, Expr::value(now()))
        .filter(M::PurchaseOrderLineId.is_in(line_ids.iter().copied()))
        .exec(txn)
        .await?;
    Ok(())
}

/// PENDING → SUBMITTED: records the send time; open quantities now count as on order.
pub async fn submit(
    uc: UseCase<'_>,
    id: i32,
    expected_version: Option<i32>,
) -> Result<purchase_order::Model, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let po = lock_purchase_order(&txn, id, "input.purchaseOrderId").await?;
    check_version(&po, expected_version)?;
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::Submit, &po, &lines)?;
    // An order sent to an inactive vendor, or for stock that could never be received at an
    // inactive location, would be stuck: refuse it until the master data is active again.
    // Every inactive record is reported at once.
    let mut v = Violations::new();
    gather_active!(
        v,
        &txn,
        vendor,
        po.vendor_id,
        "input.purchaseOrderId",
        "vendor",
        ViolationCode::VendorInactive
    );
    for line in &lines {
        let product = entity::product::Entity::find_by_id(line.product_id)
            .one(&txn)
            .await?
            .ok_or_else(|| ServiceError::Internal("line product vanished".into()))?;
        if !product.active {
            v.add(
                ViolationCode::ProductInactive,
                "input.purchaseOrderId",
                format!(
                    "line {}: product {} is inactive",
                    line.line_number, product.sku
                ),
            );
        }
        let location = entity::inventory_location::Entity::find_by_id(line.location_id)
            .one(&txn)
            .await?
            .ok_or_else(|| ServiceError::Internal("line location vanished".into()))?;
        if !location.active {
            v.add(
                ViolationCode::LocationInactive,
                "input.purchaseOrderId",
                format!(
                    "line {}: location {} is inactive and could never receive it",
                    line.line_number, location.code
                ),
            );
        }
    }
    v.finish()?;
    let mut outbox = Outbox::default();
    for line in &lines {
        change_on_order(
            &txn,
            &mut outbox,
            uc.actor,
            line.product_id,
            line.location_id,
            open_quantity(line.quantity, line.quantity_received),
            po.backorder_of_id.is_some(),
        )
        .await?;
    }
    use entity::job_material::Column as M;
    entity::job_material::Entity::update_many()
        .col_expr(M::Status, Expr::value(JobMaterialStatus::Ordered))
        .col_expr(M::UpdatedAt, Expr::value(now()))
        .filter(M::PurchaseOrderLineId.is_in(lines.iter().map(|l| l.id)))
        .exec(&txn)
        .await?;
    purchase_order::Entity::update_many()
        .col_expr(purchase_order::Column::SubmittedAt, Expr::value(now()))
        .filter(purchase_order::Column::Id.eq(po.id))
        .exec(&txn)
        .await?;
    touch(&txn, &po, uc.actor, Some(Status::Submitted)).await?;
    record_status_event(
        &txn,
        &mut outbox,
        &po,
        Some(po.status),
        Status::Submitted,
        uc.actor,
    )
    .await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    reload(uc.db, id).await
}

/// PENDING or SUBMITTED with nothing received → CANCELED; on-order quantities and job
/// materials are released.
pub async fn cancel(
    uc: UseCase<'_>,
    id: i32,
    expected_version: Option<i32>,
) -> Result<purchase_order::Model, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let po = lock_purchase_order(&txn, id, "input.purchaseOrderId").await?;
    check_version(&po, expected_version)?;
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::Cancel, &po, &lines)?;
    let mut outbox = Outbox::default();
    if rules::counts_on_order(po.status) {
        for line in &lines {
            change_on_order(
                &txn,
                &mut outbox,
                uc.actor,
                line.product_id,
                line.location_id,
                negate(open_quantity(line.quantity, line.quantity_received)),
                po.backorder_of_id.is_some(),
            )
            .await?;
        }
    }
    release_materials(&txn, &lines.iter().map(|l| l.id).collect::<Vec<_>>()).await?;
    purchase_order::Entity::update_many()
        .col_expr(purchase_order::Column::CanceledAt, Expr::value(now()))
        .filter(purchase_order::Column::Id.eq(po.id))
        .exec(&txn)
        .await?;
    touch(&txn, &po, uc.actor, Some(Status::Canceled)).await?;
    record_status_event(
        &txn,
        &mut outbox,
        &po,
        Some(po.status),
        Status::Canceled,
        uc.actor,
    )
    .await?;
    commit(txn).await?;
    uc.events.publish(outbox);
    reload(uc.db, id).await
}

/// Marks the order exported to accounting; its header and lines are locked from then on.
pub async fn mark_exported(
    uc: UseCase<'_>,
    id: i32,
    expected_version: Option<i32>,
) -> Result<purchase_order::Model, ServiceError> {
    let txn = begin_write(uc.db).await?;
    let po = lock_purchase_order(&txn, id, "input.purchaseOrderId").await?;
    check_version(&po, expected_version)?;
    let lines = lines_of(&txn, po.id).await?;
    rule(Action::MarkExported, &po, &lines)?;
    purchase_order::Entity::update_many()
        .col_expr(purchase_order::Column::ExportedAt, Expr::value(now()))
        .filter(purchase_order::Column::Id.eq(po.id))
        .exec(&txn)
        .await?;
    touch(&txn, &po, uc.actor, None).await?;
    commit(txn).await?;
    reload(uc.db, id).await
}

/// The next free backorder number of the original order `root`: `{number}-BO{n}` with `n`
/// counting up per original order. A number of that form may already be taken (a client may
/// have chosen it); the count then skips to the next free one instead of failing on the
/// unique key.
pub(crate) async fn next_backorder_number(
    txn: &DatabaseTransaction,
    root: &purchase_order::Model,
) -> Result<String, ServiceError> {
    loop {
        let n = next_counter(txn, &format!("BO-{}", root.id)).await?;
        let n = i32::try_from(n)
            .map_err(|_| ServiceError::Internal("backorder counter overflow".into()))?;
        let candidate = rules::backorder_number(&root.number, n);
        if !number_taken(txn, &candidate).await? {
            return Ok(candidate);
        }
    }
}

/// Settles the job material of a line that is closed short (DOMAIN.md, Lines). What the line
/// received stays on it (FULFILLED); the short quantity follows the backorder line when there
/// is one (ORDERED there), and otherwise is needed again (NEED_TO_ORDER, off any order). A
/// material whose line received nothing moves whole.
pub(crate) async fn settle_short_material(
    txn: &DatabaseTransaction,
    line: &purchase_order_line::Model,
    backorder_line_id: Option<i32>,
) -> Result<(), ServiceError> {
    use entity::job_material::{ActiveModel, Column as M, Entity};
    let Some(material) = Entity::find()
        .filter(M::PurchaseOrderLineId.eq(line.id))
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let at = now();
    let (short_status, short_line) = match backorder_line_id {
        Some(id) => (JobMaterialStatus::Ordered, Some(id)),
        None => (JobMaterialStatus::NeedToOrder, None),
    };
    let received = line.quantity_received;
    if received.is_zero() || received >= material.quantity {
        // Nothing to split: the whole material follows the open quantity.
        let mut whole: ActiveModel = material.into();
        whole.status = Set(short_status);
        whole.purchase_order_line_id = Set(short_line);
        whole.updated_at = Set(at);
        whole.update(txn).await?;
        return Ok(());
    }
    let short = Fixed4(
        material
            .quantity
            .0
            .checked_sub(received.0)
            .ok_or_else(|| ServiceError::Internal("job material quantity overflow".into()))?,
    );
    let (job_id, product_id) = (material.job_id, material.product_id);
    let mut kept: ActiveModel = material.into();
    kept.quantity = Set(received);
    kept.status = Set(JobMaterialStatus::Fulfilled);
    kept.updated_at = Set(at);
    kept.update(txn).await?;
    ActiveModel {
        job_id: Set(job_id),
        product_id: Set(product_id),
        quantity: Set(short),
        status: Set(short_status),
        purchase_order_line_id: Set(short_line),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}
