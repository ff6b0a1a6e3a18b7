//! Purchase-order lifecycle mutations. All need `purchase_orders:write`; the status is never
//! written directly, only through these transitions.

use std::future::Future;
use std::sync::Arc;

use async_graphql::{Context, InputObject, MaybeUndefined, Object, ID};

use super::types::{PurchaseOrder, PurchaseOrderLine};
use crate::auth::{Actor, Permission};
use crate::error::ServiceError;
use crate::graphql::ids::{decode_input, gather, gather_opt};
use crate::graphql::loaders::{load_required, PurchaseOrderId};
use crate::graphql::payload::{payload, respond};
use crate::graphql::scalars::{Date, Decimal};
use crate::graphql::{money_input, require, state};
use crate::services::purchasing::{
    self as service, HeaderChanges, LineChanges, NewLine, NewPurchaseOrder,
};
use crate::services::violations::Checked;
use crate::services::{retry_once, UseCase, Violations};

/// A line of a new purchase order.
#[derive(InputObject)]
pub struct PurchaseOrderLineInput {
    /// The product; may be omitted when `jobMaterialId` is given (the material's product is used).
    pub product_id: Option<ID>,
    /// A job material this line fills (it must be NEED_TO_ORDER and on no other order).
    pub job_material_id: Option<ID>,
    /// Where the goods go; must be active.
    pub location_id: ID,
    /// Quantity ordered (> 0).
    pub quantity: Decimal,
    /// Cost of one unit (>= 0); the product's default when omitted. Ignored without `costs:read`.
    pub unit_cost: Option<Decimal>,
    /// When this line is expected.
    pub estimated_arrival: Option<Date>,
    /// Free text.
    pub memo: Option<String>,
    /// Job this line is bought for.
    pub job_id: Option<ID>,
    /// Project this line is bought for.
    pub project_id: Option<ID>,
}

/// A new purchase order, created in PENDING.
#[derive(InputObject)]
pub struct CreatePurchaseOrderInput {
    /// Unique number; the next `PO-{YYYY}-{NNNN}` when omitted.
    pub number: Option<String>,
    /// The vendor; must be active.
    pub vendor_id: ID,
    /// The ship-to location; must be active.
    pub ship_to_id: ID,
    /// The purchase-order type; must be active.
    pub type_id: ID,
    /// The business unit costs are booked against; must be active.
    pub business_unit_id: ID,
    /// Job it is bought for.
    pub job_id: Option<ID>,
    /// Project it is bought for.
    pub project_id: Option<ID>,
    /// Technician it is bought for.
    pub technician_id: Option<ID>,
    /// When the goods are expected.
    pub expected_date: Option<Date>,
    /// Tax rate, a fraction in [0, 1); the vendor's default when omitted.
    /// Ignored without `costs:read`.
    pub tax_rate: Option<Decimal>,
    /// Shipping charge (>= 0); 0 when omitted.
    /// Ignored without `costs:read`.
    pub shipping: Option<Decimal>,
    /// Free text.
    pub memo: Option<String>,
    /// Vendor currency → base currency; 1 when they match (and must be then).
    pub exchange_rate: Option<Decimal>,
    /// At least one line.
    pub lines: Vec<PurchaseOrderLineInput>,
}

/// Header changes; omitted fields stay as they are, `null` clears a clearable one.
#[derive(InputObject)]
pub struct UpdatePurchaseOrderInput {
    /// The purchase order.
    pub purchase_order_id: ID,
    /// The version you read; the edit is refused with STALE_VERSION when it changed since.
    pub expected_version: Option<i32>,
    /// When the goods are expected.
    pub expected_date: MaybeUndefined<Date>,
    /// Free text.
    pub memo: MaybeUndefined<String>,
    /// Job it is bought for.
    pub job_id: MaybeUndefined<ID>,
    /// Project it is bought for.
    pub project_id: MaybeUndefined<ID>,
    /// Technician it is bought for.
    pub technician_id: MaybeUndefined<ID>,
    /// Tax rate, a fraction in [0, 1). A new rate supersedes the order's open bills with
    /// bills taxed at it.
    /// Ignored without `costs:read`.
    pub tax_rate: Option<Decimal>,
    /// Shipping charge (>= 0).
    /// Ignored without `costs:read`.
    pub shipping: Option<Decimal>,
    /// Vendor currency → base currency; only while PENDING.
    pub exchange_rate: Option<Decimal>,
}

/// A line added to a PENDING purchase order.
#[derive(InputObject)]
pub struct AddPurchaseOrderLineInput {
    /// The purchase order.
    pub purchase_order_id: ID,
    /// The version you read.
    pub expected_version: Option<i32>,
    /// The product; may be omitted when `jobMaterialId` is given (the material's product is used).
    pub product_id: Option<ID>,
    /// A job material this line fills (it must be NEED_TO_ORDER and on no other order); its
    /// product must be `productId` when both are given.
    pub job_material_id: Option<ID>,
    /// Where the goods go; must be active.
    pub location_id: ID,
    /// Quantity ordered (> 0).
    pub quantity: Decimal,
    /// Cost of one unit (>= 0); the product's default when omitted. Ignored without `costs:read`.
    pub unit_cost: Option<Decimal>,
    /// When this line is expected.
    pub estimated_arrival: Option<Date>,
    /// Free text.
    pub memo: Option<String>,
    /// Job this line is bought for (the job material's job when omitted); must be active.
    pub job_id: Option<ID>,
    /// Project this line is bought for; must be active.
    pub project_id: Option<ID>,
}

/// Changes to a line; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdatePurchaseOrderLineInput {
    /// The line.
    pub line_id: ID,
    /// The version of its purchase order you read.
    pub expected_version: Option<i32>,
    /// Another product (not once the line has receipts).
    pub product_id: Option<ID>,
    /// Another location (not once the line has receipts).
    pub location_id: Option<ID>,
    /// Quantity ordered: never below what was received; not raised once RECEIVED.
    pub quantity: Option<Decimal>,
    /// Cost of one unit; ignored without `costs:read`. On a received line the bills that
    /// priced it are superseded by a replacement.
    pub unit_cost: Option<Decimal>,
    /// When this line is expected.
    pub estimated_arrival: MaybeUndefined<Date>,
    /// Free text.
    pub memo: MaybeUndefined<String>,
    /// Job this line is bought for (must be active); `null` unlinks it.
    pub job_id: MaybeUndefined<ID>,
    /// Project this line is bought for (must be active); `null` unlinks it.
    pub project_id: MaybeUndefined<ID>,
}

/// Removes a line of a PENDING purchase order (never its last one).
#[derive(InputObject)]
pub struct RemovePurchaseOrderLineInput {
    /// The line.
    pub line_id: ID,
    /// The version of its purchase order you read.
    pub expected_version: Option<i32>,
}

/// Declares the input of a transition: the purchase order and the version you read.
macro_rules! transition_input {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(InputObject)]
        pub struct $name {
            /// The purchase order.
            pub purchase_order_id: ID,
            /// The version you read; refused with STALE_VERSION when it changed since.
            pub expected_version: Option<i32>,
        }
    };
}

transition_input!(
    /// Submits a PENDING purchase order.
    SubmitPurchaseOrderInput
);
transition_input!(
    /// Cancels a purchase order with nothing received.
    CancelPurchaseOrderInput
);
transition_input!(
    /// Marks a purchase order exported to accounting.
    MarkExportedInput
);

payload!(
    /// Result of a purchase-order mutation.
    PurchaseOrderPayload {
        /// The purchase order as saved.
        purchase_order: PurchaseOrder
    }
);
payload!(
    /// Result of a line mutation.
    PurchaseOrderLinePayload {
        /// The line as saved.
        line: PurchaseOrderLine,
        /// Its purchase order as saved.
        purchase_order: PurchaseOrder
    }
);

/// The use-case context of the caller.
pub(crate) fn use_case<'a>(ctx: &Context<'a>, actor: &'a Actor) -> UseCase<'a> {
    let state = state(ctx);
    UseCase {
        db: &state.db,
        actor,
        business: &state.settings.business,
        events: &state.events,
        can_set_costs: actor.has(Permission::CostsRead),
    }
}

/// Runs a use case on the command an input converted to (a refused conversion is the answer),
/// once more when the connection dropped before commit.
async fn run<C: Clone, T, Fut>(
    command: Result<C, ServiceError>,
    use_case: impl Fn(C) -> Fut,
) -> Result<T, ServiceError>
where
    Fut: Future<Output = Result<T, ServiceError>>,
{
    let command = command?;
    retry_once(|| use_case(command.clone())).await
}

/// An ID that may be left out (`None`), cleared (`Some(None)`) or set; a malformed one is
/// recorded in `v` (the outer `Option` is then `None`).
fn optional_id(
    v: &mut Violations,
    value: MaybeUndefined<ID>,
    type_name: &str,
    field: &str,
) -> Option<Option<Option<i32>>> {
    match Option::<Option<ID>>::from(value) {
        None => Some(None),
        Some(None) => Some(Some(None)),
        Some(Some(id)) => gather(v, &id, type_name, field).map(|id| Some(Some(id))),
    }
}

/// A value that may be left out (`None`), cleared (`Some(None)`) or set.
fn optional<T, U>(value: MaybeUndefined<T>, convert: impl FnOnce(T) -> U) -> Option<Option<U>> {
    Option::<Option<T>>::from(value).map(|value| value.map(convert))
}

/// The purchase order a transition names, and the version the client read.
fn transition(id: &ID, expected_version: Option<i32>) -> Result<(i32, Option<i32>), ServiceError> {
    let id = decode_input(id, "PurchaseOrder", "input.purchaseOrderId")?;
    Ok((id, expected_version))
}

impl PurchaseOrderLineInput {
    /// The line as the service takes it; its malformed IDs are recorded in `v`, all of them,
    /// on the input path `at`.
    fn line(self, v: &mut Violations, at: &str) -> Option<NewLine> {
        let path = |name: &str| format!("{at}.{name}");
        let product_id = gather_opt(v, self.product_id.as_ref(), "Product", &path("productId"));
        let job_material_id = gather_opt(
            v,
            self.job_material_id.as_ref(),
            "JobMaterial",
            &path("jobMaterialId"),
        );
        let location_id = gather(
            v,
            &self.location_id,
            "InventoryLocation",
            &path("locationId"),
        );
        let job_id = gather_opt(v, self.job_id.as_ref(), "Job", &path("jobId"));
        let project_id = gather_opt(v, self.project_id.as_ref(), "Project", &path("projectId"));
        Some(NewLine {
            product_id: product_id?,
            job_material_id: job_material_id?,
            location_id: location_id?,
            quantity: self.quantity.0,
            unit_cost: self.unit_cost.map(|d| d.0),
            estimated_arrival: self.estimated_arrival.map(|d| d.0),
            memo: self.memo,
            job_id: job_id?,
            project_id: project_id?,
        })
    }
}

impl CreatePurchaseOrderInput {
    /// The new order; all malformed IDs of the header and lines are refused together.
    fn command(self, ctx: &Context<'_>) -> Result<NewPurchaseOrder, ServiceError> {
        let mut v = Violations::new();
        let vendor_id = gather(&mut v, &self.vendor_id, "Vendor", "input.vendorId");
        let ship_to = &self.ship_to_id;
        let ship_to_id = gather(&mut v, ship_to, "InventoryLocation", "input.shipToId");
        let type_id = gather(&mut v, &self.type_id, "PurchaseOrderType", "input.typeId");
        let unit = &self.business_unit_id;
        let business_unit_id = gather(&mut v, unit, "BusinessUnit", "input.businessUnitId");
        let job_id = gather_opt(&mut v, self.job_id.as_ref(), "Job", "input.jobId");
        let project = self.project_id.as_ref();
        let project_id = gather_opt(&mut v, project, "Project", "input.projectId");
        let technician = self.technician_id.as_ref();
        let technician_id = gather_opt(&mut v, technician, "Technician", "input.technicianId");
        // Every line is converted, so that the malformed IDs of all of them are reported.
        let lines: Vec<Option<NewLine>> = (self.lines.into_iter().enumerate())
            .map(|(i, line)| line.line(&mut v, &format!("input.lines.{i}")))
            .collect();
        let lines: Option<Vec<NewLine>> = lines.into_iter().collect();
        let ids = (vendor_id, ship_to_id, type_id, business_unit_id);
        let links = (job_id, project_id, technician_id);
        let (ids, links, lines) = v.done((ids.all(), links.all(), lines))?;
        let (vendor_id, ship_to_id, type_id, business_unit_id) = ids;
        let (job_id, project_id, technician_id) = links;
        Ok(NewPurchaseOrder {
            number: self.number,
            vendor_id,
            ship_to_id,
            type_id,
            business_unit_id,
            job_id,
            project_id,
            technician_id,
            expected_date: self.expected_date.map(|d| d.0),
            tax_rate: money_input(ctx, self.tax_rate),
            shipping: money_input(ctx, self.shipping),
            memo: self.memo,
            exchange_rate: self.exchange_rate.map(|d| d.0),
            lines,
        })
    }
}

impl UpdatePurchaseOrderInput {
    /// The order and the changes to its header; all malformed IDs are refused together.
    fn command(self, ctx: &Context<'_>) -> Result<(i32, HeaderChanges), ServiceError> {
        let mut v = Violations::new();
        let order = &self.purchase_order_id;
        let id = gather(&mut v, order, "PurchaseOrder", "input.purchaseOrderId");
        let job_id = optional_id(&mut v, self.job_id, "Job", "input.jobId");
        let project_id = optional_id(&mut v, self.project_id, "Project", "input.projectId");
        let technician = self.technician_id;
        let technician_id = optional_id(&mut v, technician, "Technician", "input.technicianId");
        let (id, job_id, project_id, technician_id) =
            v.done((id, job_id, project_id, technician_id))?;
        let changes = HeaderChanges {
            expected_version: self.expected_version,
            expected_date: optional(self.expected_date, |d| d.0),
            memo: self.memo.into(),
            job_id,
            project_id,
            technician_id,
            tax_rate: money_input(ctx, self.tax_rate),
            shipping: money_input(ctx, self.shipping),
            exchange_rate: self.exchange_rate.map(|d| d.0),
        };
        Ok((id, changes))
    }
}

impl AddPurchaseOrderLineInput {
    /// The order, the new line and the version read; all malformed IDs are refused together.
    fn command(self) -> Result<(i32, NewLine, Option<i32>), ServiceError> {
        let mut v = Violations::new();
        let order = &self.purchase_order_id;
        let po_id = gather(&mut v, order, "PurchaseOrder", "input.purchaseOrderId");
        let line = PurchaseOrderLineInput {
            product_id: self.product_id,
            job_material_id: self.job_material_id,
            location_id: self.location_id,
            quantity: self.quantity,
            unit_cost: self.unit_cost,
            estimated_arrival: self.estimated_arrival,
            memo: self.memo,
            job_id: self.job_id,
            project_id: self.project_id,
        }
        .line(&mut v, "input");
        let (po_id, line) = v.done((po_id, line))?;
        Ok((po_id, line, self.expected_version))
    }
}

impl UpdatePurchaseOrderLineInput {
    /// The line and the changes to it; all malformed IDs are refused together.
    fn command(self) -> Result<(i32, LineChanges), ServiceError> {
        let mut v = Violations::new();
        let line_id = gather(&mut v, &self.line_id, "PurchaseOrderLine", "input.lineId");
        let product = self.product_id.as_ref();
        let product_id = gather_opt(&mut v, product, "Product", "input.productId");
        let location = self.location_id.as_ref();
        let location_id = gather_opt(&mut v, location, "InventoryLocation", "input.locationId");
        let job_id = optional_id(&mut v, self.job_id, "Job", "input.jobId");
        let project_id = optional_id(&mut v, self.project_id, "Project", "input.projectId");
        let (line_id, product_id, location_id, job_id, project_id) =
            v.done((line_id, product_id, location_id, job_id, project_id))?;
        let changes = LineChanges {
            expected_version: self.expected_version,
            product_id,
            location_id,
            quantity: self.quantity.map(|d| d.0),
            unit_cost: self.unit_cost.map(|d| d.0),
            estimated_arrival: optional(self.estimated_arrival, |d| d.0),
            memo: self.memo.into(),
            job_id,
            project_id,
        };
        Ok((line_id, changes))
    }
}

fn po_payload(po: entity::purchase_order::Model) -> PurchaseOrderPayload {
    PurchaseOrderPayload {
        purchase_order: Some(po.into()),
        ..Default::default()
    }
}

async fn line_payload(
    ctx: &Context<'_>,
    result: Result<entity::purchase_order_line::Model, ServiceError>,
) -> async_graphql::Result<PurchaseOrderLinePayload> {
    let po_id = result.as_ref().ok().map(|line| line.purchase_order_id);
    let mut payload = respond(result, |line| PurchaseOrderLinePayload {
        line: Some(line.into()),
        ..Default::default()
    })?;
    if let Some(po_id) = po_id {
        let po = load_required(ctx, PurchaseOrderId(po_id)).await?;
        payload.purchase_order = Some(Arc::unwrap_or_clone(po));
    }
    Ok(payload)
}

#[derive(Default)]
pub struct PurchasingMutation;

#[Object]
impl PurchasingMutation {
    /// Creates a purchase order in PENDING with at least one line.
    async fn create_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: CreatePurchaseOrderInput,
    ) -> async_graphql::Result<PurchaseOrderPayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let uc = use_case(ctx, actor);
        let result = run(input.command(ctx), |new| service::create(uc, new)).await;
        respond(result, po_payload)
    }

    /// Edits header fields while the order is not CLOSED, CANCELED or exported.
    async fn update_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: UpdatePurchaseOrderInput,
    ) -> async_graphql::Result<PurchaseOrderPayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let uc = use_case(ctx, actor);
        let result = run(input.command(ctx), |(id, changes)| {
            service::update_header(uc, id, changes)
        })
        .await;
        respond(result, po_payload)
    }

    /// Adds a line to a PENDING purchase order.
    async fn add_purchase_order_line(
        &self,
        ctx: &Context<'_>,
        input: AddPurchaseOrderLineInput,
    ) -> async_graphql::Result<PurchaseOrderLinePayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let uc = use_case(ctx, actor);
        let result = run(input.command(), |(po_id, line, version)| {
            service::add_line(uc, po_id, line, version)
        })
        .await;
        line_payload(ctx, result).await
    }

    /// Changes a line while the order is PENDING, SUBMITTED or PARTIALLY_RECEIVED.
    async fn update_purchase_order_line(
        &self,
        ctx: &Context<'_>,
        input: UpdatePurchaseOrderLineInput,
    ) -> async_graphql::Result<PurchaseOrderLinePayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let uc = use_case(ctx, actor);
        let result = run(input.command(), |(line_id, changes)| {
            service::update_line(uc, line_id, changes)
        })
        .await;
        line_payload(ctx, result).await
    }

    /// Removes a line of a PENDING purchase order; the last line stays.
    async fn remove_purchase_order_line(
        &self,
        ctx: &Context<'_>,
        input: RemovePurchaseOrderLineInput,
    ) -> async_graphql::Result<PurchaseOrderPayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let uc = use_case(ctx, actor);
        let line = decode_input(&input.line_id, "PurchaseOrderLine", "input.lineId");
        let command = line.map(|line_id| (line_id, input.expected_version));
        let result = run(command, |(line_id, version)| {
            service::remove_line(uc, line_id, version)
        })
        .await;
        respond(result, po_payload)
    }

    /// PENDING → SUBMITTED: records the send time; open quantities count as on order.
    async fn submit_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: SubmitPurchaseOrderInput,
    ) -> async_graphql::Result<PurchaseOrderPayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let uc = use_case(ctx, actor);
        let command = transition(&input.purchase_order_id, input.expected_version);
        let result = run(command, |(id, version)| service::submit(uc, id, version)).await;
        respond(result, po_payload)
    }

    /// PENDING or SUBMITTED with nothing received → CANCELED; on-order quantities are released.
    async fn cancel_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: CancelPurchaseOrderInput,
    ) -> async_graphql::Result<PurchaseOrderPayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let uc = use_case(ctx, actor);
        let command = transition(&input.purchase_order_id, input.expected_version);
        let result = run(command, |(id, version)| service::cancel(uc, id, version)).await;
        respond(result, po_payload)
    }

    /// Marks the order exported to accounting: header and lines are locked from then on;
    /// receiving and finalizing still work.
    async fn mark_purchase_order_exported(
        &self,
        ctx: &Context<'_>,
        input: MarkExportedInput,
    ) -> async_graphql::Result<PurchaseOrderPayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let uc = use_case(ctx, actor);
        let command = transition(&input.purchase_order_id, input.expected_version);
        let result = run(command, |(id, version)| {
            service::mark_exported(uc, id, version)
        })
        .await;
        respond(result, po_payload)
    }
}
