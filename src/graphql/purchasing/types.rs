//! Purchase orders and their lines.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, SimpleObject, ID};
use rust_decimal::Decimal as Exact;

use crate::auth::Permission;
use crate::domain::money;
use crate::domain::purchasing::open_quantity;
use crate::domain::receiving::{over_receipt_percent, receivable_quantity};
use crate::domain::totals::{order_totals, PricedLine, Totals};
use crate::error::ApiError;
use crate::graphql::connection::{encode_cursor, ConnectionTotals, Page, PageArgs, Window};
use crate::graphql::enums::PurchaseOrderStatus;
use crate::graphql::guard::{Guarded, Identity, Reads};
use crate::graphql::ids::to_gid;
use crate::graphql::inventory::types::InventoryItem;
use crate::graphql::loaders::{
    load_one, load_required, BackordersOf, BillsOfPurchaseOrder, BusinessUnitId, ItemAt, JobId,
    LinesOfPurchaseOrder, LocationId, MaterialOfLine, ProductId, ProjectId, PurchaseOrderId,
    PurchaseOrderTypeId, ReceiptsOfPurchaseOrder, TechnicianId, VendorId,
};
use crate::graphql::master_data::types::{
    BusinessUnit, InventoryLocation, Job, JobMaterial, Product, Project, PurchaseOrderType,
    Technician, Vendor,
};
use crate::graphql::receiving::types::{Bill, Receipt};
use crate::graphql::scalars::{Date, DateTime, Decimal};
use crate::graphql::{can_see_costs, max_page_size, require, state};

/// An order placed with a vendor for products delivered to inventory locations. Its id, number
/// and status show wherever it is reached; every other field needs `purchase_orders:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct PurchaseOrder {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    /// Unique number, e.g. `PO-2026-0042` or `PO-2026-0042-BO1` for a backorder.
    #[graphql(guard = "Identity")]
    pub number: String,
    /// Lifecycle status; only transitions change it.
    #[graphql(guard = "Identity")]
    pub status: PurchaseOrderStatus,
    /// Incremented by every change; pass it as `expectedVersion` to edit safely.
    pub version: i32,
    #[graphql(skip)]
    pub vendor_id: i32,
    #[graphql(skip)]
    pub ship_to_id: i32,
    #[graphql(skip)]
    pub type_id: i32,
    #[graphql(skip)]
    pub business_unit_id: i32,
    #[graphql(skip)]
    pub job_id: Option<i32>,
    #[graphql(skip)]
    pub project_id: Option<i32>,
    #[graphql(skip)]
    pub technician_id: Option<i32>,
    #[graphql(skip)]
    pub backorder_of_id: Option<i32>,
    /// When it was created.
    pub order_date: DateTime,
    /// When the goods are expected.
    pub expected_date: Option<Date>,
    /// When it was submitted to the vendor.
    pub submitted_at: Option<DateTime>,
    /// When it was marked exported to accounting; header and lines are locked from then on.
    pub exported_at: Option<DateTime>,
    /// When it was finalized.
    pub closed_at: Option<DateTime>,
    /// When it was cancelled.
    pub canceled_at: Option<DateTime>,
    /// Free text.
    pub memo: Option<String>,
    /// ISO 4217 code of the vendor's currency; every amount of the order is in it.
    pub currency: String,
    /// Vendor currency → base currency.
    pub exchange_rate: Decimal,
    #[graphql(skip)]
    pub tax_rate_value: Exact,
    #[graphql(skip)]
    pub shipping_value: Exact,
    /// Who created it (token subject).
    pub created_by: String,
    /// Who changed it last (token subject).
    pub updated_by: String,
}

impl From<entity::purchase_order::Model> for PurchaseOrder {
    fn from(m: entity::purchase_order::Model) -> Self {
        PurchaseOrder {
            id: to_gid("PurchaseOrder", m.id),
            db_id: m.id,
            number: m.number,
            status: m.status.into(),
            version: m.version,
            vendor_id: m.vendor_id,
            ship_to_id: m.ship_to_id,
            type_id: m.type_id,
            business_unit_id: m.business_unit_id,
            job_id: m.job_id,
            project_id: m.project_id,
            technician_id: m.technician_id,
            backorder_of_id: m.backorder_of_id,
            order_date: DateTime(m.order_date),
            expected_date: m.expected_date.map(Date),
            submitted_at: m.submitted_at.map(DateTime),
            exported_at: m.exported_at.map(DateTime),
            closed_at: m.closed_at.map(DateTime),
            canceled_at: m.canceled_at.map(DateTime),
            memo: m.memo,
            currency: m.currency,
            exchange_rate: m.exchange_rate.into(),
            tax_rate_value: m.tax_rate.to_decimal(),
            shipping_value: m.shipping.to_decimal(),
            created_by: m.created_by,
            updated_by: m.updated_by,
        }
    }
}

/// Totals of stored rows too large to compute (written before the input limits existed) are a
/// typed error, never a panic.
fn too_large(number: &str, overflow: money::Overflow) -> ApiError {
    ApiError::ValueTooLarge(format!("the totals of purchase order {number}: {overflow}"))
}

impl PurchaseOrder {
    /// Its totals (`domain::totals`), or None without `costs:read`.
    async fn totals(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Totals>> {
        if !can_see_costs(ctx) {
            return Ok(None);
        }
        let lines = load_one(ctx, LinesOfPurchaseOrder(self.db_id))
            .await?
            .unwrap_or_default();
        let priced = lines.iter().map(PricedLine::from);
        order_totals(priced, self.tax_rate_value, self.shipping_value)
            .map(Some)
            .map_err(|overflow| too_large(&self.number, overflow).into())
    }
}

/// One page of an order's lines (all of them, in line order). A purchase order holds few
/// lines: they arrive in one batched statement per page of orders, and are paged here by the
/// same keyset rule the SQL connections use.
fn page_of_lines(
    lines: &[crate::graphql::loaders::columns::LineColumns],
    window: Window,
) -> Page<PurchaseOrderLine> {
    let total = lines.len() as u64;
    let has_previous_page = window
        .after
        .is_some_and(|after| lines.iter().any(|l| i64::from(l.id) <= after));
    let mut rest = lines
        .iter()
        .filter(|l| window.after.is_none_or(|after| i64::from(l.id) > after))
        .peekable();
    let page_rows: Vec<_> = rest.by_ref().take(window.limit as usize).collect();
    let has_next_page = rest.peek().is_some();
    let mut page = Page::with_additional_fields(
        has_previous_page,
        has_next_page,
        ConnectionTotals { total_count: total },
    );
    page.edges.extend(page_rows.into_iter().map(|l| {
        async_graphql::connection::Edge::new(
            encode_cursor(l.id),
            PurchaseOrderLine::from(l.clone()),
        )
    }));
    page
}

impl Guarded for PurchaseOrder {
    const READ: Permission = Permission::PurchaseOrdersRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl PurchaseOrder {
    /// The vendor it is placed with.
    async fn vendor(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Vendor>> {
        load_required(ctx, VendorId(self.vendor_id)).await
    }

    /// Where the goods are delivered.
    async fn ship_to(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<InventoryLocation>> {
        load_required(ctx, LocationId(self.ship_to_id)).await
    }

    /// Its category.
    #[graphql(name = "type")]
    async fn purchase_order_type(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Arc<PurchaseOrderType>> {
        load_required(ctx, PurchaseOrderTypeId(self.type_id)).await
    }

    /// The business unit its costs are booked against.
    async fn business_unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<BusinessUnit>> {
        load_required(ctx, BusinessUnitId(self.business_unit_id)).await
    }

    /// The job it buys for, if any.
    async fn job(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Job>>> {
        match self.job_id {
            Some(id) => load_one(ctx, JobId(id)).await,
            None => Ok(None),
        }
    }

    /// The project it buys for, if any.
    async fn project(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Project>>> {
        match self.project_id {
            Some(id) => load_one(ctx, ProjectId(id)).await,
            None => Ok(None),
        }
    }

    /// The technician it buys for, if any.
    async fn technician(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<Technician>>> {
        match self.technician_id {
            Some(id) => load_one(ctx, TechnicianId(id)).await,
            None => Ok(None),
        }
    }

    /// The purchase order this one is a backorder of.
    async fn backorder_of(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<PurchaseOrder>>> {
        match self.backorder_of_id {
            Some(id) => load_one(ctx, PurchaseOrderId(id)).await,
            None => Ok(None),
        }
    }

    /// Its backorders, oldest first.
    async fn backorders(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PurchaseOrder>> {
        Ok(load_one(ctx, BackordersOf(self.db_id))
            .await?
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(PurchaseOrder::from)
            .collect())
    }

    /// Deliveries received against it, oldest first (cancelled ones included).
    async fn receipts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Receipt>> {
        Ok(load_one(ctx, ReceiptsOfPurchaseOrder(self.db_id))
            .await?
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(Receipt::from)
            .collect())
    }

    /// Its bills and credits, oldest first (superseded ones included). Needs `bills:read`.
    async fn bills(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Bill>> {
        require(ctx, Permission::BillsRead)?;
        Ok(load_one(ctx, BillsOfPurchaseOrder(self.db_id))
            .await?
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(Bill::from)
            .collect())
    }

    /// Its lines, in line-number order.
    async fn lines(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the line to continue after.")] after: Option<String>,
    ) -> async_graphql::Result<Page<PurchaseOrderLine>> {
        let window = Window::from_args(&PageArgs::first(first, after), max_page_size(ctx))?;
        let lines = load_one(ctx, LinesOfPurchaseOrder(self.db_id))
            .await?
            .unwrap_or_default();
        Ok(page_of_lines(&lines, window))
    }

    /// Number of lines.
    async fn total_lines(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let lines = load_one(ctx, LinesOfPurchaseOrder(self.db_id))
            .await?
            .unwrap_or_default();
        i32::try_from(lines.len())
            .map_err(|_| ApiError::ValueTooLarge("the line count exceeds an Int".to_owned()).into())
    }

    /// Tax rate applied, a fraction; null without `costs:read`.
    async fn tax_rate(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::quantity(self.tax_rate_value))
    }

    /// Σ quantity × unit cost, rounded once to cents; null without `costs:read`.
    async fn subtotal(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Decimal>> {
        Ok(self.totals(ctx).await?.map(|t| Decimal::money(t.subtotal)))
    }

    /// subtotal × tax rate, rounded to cents; null without `costs:read`.
    async fn tax(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Decimal>> {
        Ok(self.totals(ctx).await?.map(|t| Decimal::money(t.tax)))
    }

    /// Shipping charged by the vendor; null without `costs:read`.
    async fn shipping(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::money(self.shipping_value))
    }

    /// subtotal + tax + shipping: the printed parts always add up to it; null without
    /// `costs:read`.
    async fn total(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Decimal>> {
        Ok(self.totals(ctx).await?.map(|t| Decimal::money(t.total)))
    }

    /// The total in the base currency; null without `costs:read`.
    async fn base_total(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Decimal>> {
        match self.totals(ctx).await? {
            Some(t) => money::to_base_money(t.total, self.exchange_rate.0)
                .map(|base| Some(Decimal::money(base)))
                .map_err(|overflow| too_large(&self.number, overflow).into()),
            None => Ok(None),
        }
    }
}

/// One product ordered for one location. Its id and line number show wherever it is reached;
/// every other field needs `purchase_orders:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct PurchaseOrderLine {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    /// 1, 2, 3 … within the order; never reused.
    #[graphql(guard = "Identity")]
    pub line_number: i32,
    #[graphql(skip)]
    pub purchase_order_id: i32,
    #[graphql(skip)]
    pub product_id: i32,
    #[graphql(skip)]
    pub location_id: i32,
    /// Quantity ordered.
    pub quantity: Decimal,
    /// Quantity received so far (accepted only).
    pub quantity_received: Decimal,
    #[graphql(skip)]
    pub unit_cost_value: Exact,
    #[graphql(skip)]
    pub quantity_units: entity::Fixed4,
    #[graphql(skip)]
    pub quantity_received_units: entity::Fixed4,
    /// When this line is expected.
    pub estimated_arrival: Option<Date>,
    /// Free text.
    pub memo: Option<String>,
    #[graphql(skip)]
    pub job_id: Option<i32>,
    #[graphql(skip)]
    pub project_id: Option<i32>,
}

impl From<entity::purchase_order_line::Model> for PurchaseOrderLine {
    fn from(m: entity::purchase_order_line::Model) -> Self {
        crate::graphql::loaders::columns::LineColumns::from(m).into()
    }
}

impl From<crate::graphql::loaders::columns::LineColumns> for PurchaseOrderLine {
    fn from(m: crate::graphql::loaders::columns::LineColumns) -> Self {
        PurchaseOrderLine {
            id: to_gid("PurchaseOrderLine", m.id),
            db_id: m.id,
            line_number: m.line_number,
            purchase_order_id: m.purchase_order_id,
            product_id: m.product_id,
            location_id: m.location_id,
            quantity: m.quantity.into(),
            quantity_received: m.quantity_received.into(),
            unit_cost_value: m.unit_cost.to_decimal(),
            quantity_units: m.quantity,
            quantity_received_units: m.quantity_received,
            estimated_arrival: m.estimated_arrival.map(Date),
            memo: m.memo,
            job_id: m.job_id,
            project_id: m.project_id,
        }
    }
}

impl PurchaseOrderLine {
    /// The allowance (percent) receiving applies to this line.
    async fn allowance_percent(&self, ctx: &Context<'_>) -> async_graphql::Result<Exact> {
        let product: Arc<Product> = load_required(ctx, ProductId(self.product_id)).await?;
        Ok(over_receipt_percent(
            product.over_receipt_allowance_percent.map(|p| p.0),
            state(ctx).settings.business.over_receipt_percent,
        ))
    }
}

impl Guarded for PurchaseOrderLine {
    const READ: Permission = Permission::PurchaseOrdersRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl PurchaseOrderLine {
    /// The order it belongs to.
    async fn purchase_order(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<PurchaseOrder>> {
        load_required(ctx, PurchaseOrderId(self.purchase_order_id)).await
    }

    /// What is ordered.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Product>> {
        load_required(ctx, ProductId(self.product_id)).await
    }

    /// Where it is delivered and stocked.
    async fn location(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<InventoryLocation>> {
        load_required(ctx, LocationId(self.location_id)).await
    }

    /// Quantity still expected: ordered − received, never negative.
    async fn quantity_open(&self) -> Decimal {
        let (ordered, received) = (self.quantity_units, self.quantity_received_units);
        Decimal::quantity(open_quantity(ordered.to_decimal(), received.to_decimal()))
    }

    /// The over-receipt allowance that applies to this line, in percent of the ordered
    /// quantity: the product's own, or the server default when the product has none.
    async fn over_receipt_allowance_percent(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Decimal> {
        Ok(Decimal::quantity(self.allowance_percent(ctx).await?))
    }

    /// The most a receipt may still accept on this line under its over-receipt allowance:
    /// (ordered × (1 + allowance)) − received, never negative — the limit receiving checks.
    /// The order must also be in a status that receives (SUBMITTED or PARTIALLY_RECEIVED).
    async fn receivable_quantity(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        let percent = self.allowance_percent(ctx).await?;
        let (ordered, received) = (self.quantity_units, self.quantity_received_units);
        let left = receivable_quantity(ordered.to_decimal(), received.to_decimal(), percent);
        Ok(Decimal::quantity(left))
    }

    /// The job this line is bought for, if any.
    async fn job(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Job>>> {
        match self.job_id {
            Some(id) => load_one(ctx, JobId(id)).await,
            None => Ok(None),
        }
    }

    /// The project this line is bought for, if any.
    async fn project(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Project>>> {
        match self.project_id {
            Some(id) => load_one(ctx, ProjectId(id)).await,
            None => Ok(None),
        }
    }

    /// Cost of one unit in the order's currency; null without `costs:read`.
    async fn unit_cost(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::quantity(self.unit_cost_value))
    }

    /// Unit cost in the base currency; null without `costs:read`.
    async fn base_unit_cost(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Decimal>> {
        if !can_see_costs(ctx) {
            return Ok(None);
        }
        let po = load_required(ctx, PurchaseOrderId(self.purchase_order_id)).await?;
        money::to_base(self.unit_cost_value, po.exchange_rate.0)
            .map(|base| Some(Decimal::quantity(base)))
            .map_err(|overflow| ApiError::ValueTooLarge(overflow.to_string()).into())
    }

    /// The job material this line fills, if any.
    async fn job_material(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<JobMaterial>> {
        Ok(load_one(ctx, MaterialOfLine(self.db_id))
            .await?
            .unwrap_or_default()
            .first()
            .cloned()
            .map(JobMaterial::from))
    }

    /// Stock of this line's product at its location, once it exists.
    async fn inventory_item(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<InventoryItem>>> {
        load_one(
            ctx,
            ItemAt {
                product_id: self.product_id,
                location_id: self.location_id,
            },
        )
        .await
    }

    /// quantity × unit cost, exact (only documents round); null without `costs:read`.
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Decimal>> {
        if !can_see_costs(ctx) {
            return Ok(None);
        }
        money::line_amount(self.quantity.0, self.unit_cost_value)
            .map(|amount| Some(Decimal::quantity(amount)))
            .map_err(|overflow| ApiError::ValueTooLarge(overflow.to_string()).into())
    }
}
