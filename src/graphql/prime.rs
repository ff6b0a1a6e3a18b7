//! Priming: a resolver that returns a list fetches, for the whole list, every relation the
//! client selected below it — one statement per relation and level — before its items resolve.
//! Their resolvers then find the rows in the request's cache (see [`loaders::prime`]).
//!
//! The statements depend only on the query's shape (and on which relations the rows have at
//! all): each primer issues one statement per selected relation, whether or not an earlier
//! branch already cached some of its keys, and never waits for a scheduler round. Primers
//! descend the selection set, so a relation of a relation is primed from the rows of the first.
//! A relation no primer covers still loads through the stock DataLoader.
//!
//! Priming reads rows; it does not decide what the caller sees: every field keeps its guard.

use async_graphql::{Context, SelectionField, Value};
use futures_util::future::{try_join, try_join3, try_join4, BoxFuture};
use futures_util::FutureExt;

use crate::graphql::connection::{PageArgs, Window};
use crate::graphql::loaders::{self as l, prime};
use crate::graphql::max_page_size;

type Primed = async_graphql::Result<()>;

/// The selections of one object type at one place of the query (several when a field is
/// asked for under aliases or fragments).
#[derive(Clone, Default)]
pub struct Sel<'a>(Vec<SelectionField<'a>>);

impl<'a> Sel<'a> {
    /// The selection of the field being resolved.
    pub fn of(ctx: &'a Context<'a>) -> Self {
        Sel(vec![ctx.field()])
    }

    /// The nodes of the connection being resolved (`nodes` and `edges { node }`).
    pub fn nodes_of(ctx: &'a Context<'a>) -> Self {
        Self::of(ctx).nodes()
    }

    fn children(&self) -> impl Iterator<Item = SelectionField<'a>> + '_ {
        self.0.iter().flat_map(|f| f.selection_set())
    }

    /// The selections of the field `name` below these.
    pub fn field(&self, name: &str) -> Self {
        Sel(self.children().filter(|c| c.name() == name).collect())
    }

    /// True when any of `names` is selected.
    pub fn any(&self, names: &[&str]) -> bool {
        self.children().any(|c| names.contains(&c.name()))
    }

    /// True when `name` is selected.
    pub fn has(&self, name: &str) -> bool {
        self.any(&[name])
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The nodes of a connection selection.
    pub fn nodes(&self) -> Self {
        let mut nodes = self.field("nodes");
        nodes.0.extend(self.field("edges").field("node").0);
        nodes
    }

    /// Both selections at once (one relation reached by two fields).
    fn and(mut self, other: Sel<'a>) -> Self {
        self.0.extend(other.0);
        self
    }

    /// The windows (`after`, `limit`) of a forward-paged nested connection, as its resolver
    /// computes them; arguments it would refuse are left to it.
    fn windows(&self, ctx: &Context<'_>) -> Vec<(Option<i64>, u64)> {
        let mut windows = Vec::new();
        for field in &self.0 {
            let Ok(arguments) = field.arguments() else {
                continue;
            };
            let mut args = PageArgs::default();
            for (name, value) in arguments {
                match (name.as_str(), value) {
                    ("first", Value::Number(n)) => {
                        args.first = n.as_i64().and_then(|n| i32::try_from(n).ok());
                    }
                    ("after", Value::String(s)) => args.after = Some(s),
                    _ => {}
                }
            }
            if let Ok(window) = Window::from_args(&args, max_page_size(ctx)) {
                if !windows.contains(&(window.after, window.limit)) {
                    windows.push((window.after, window.limit));
                }
            }
        }
        windows
    }
}

/// `prime` when `wanted`, else nothing.
async fn prime_if<K>(
    ctx: &Context<'_>,
    wanted: bool,
    keys: impl IntoIterator<Item = K>,
) -> async_graphql::Result<Vec<<l::DbLoader as async_graphql::dataloader::Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    l::DbLoader: async_graphql::dataloader::Loader<K, Error = async_graphql::Error>,
{
    if wanted {
        prime(ctx, keys).await
    } else {
        Ok(Vec::new())
    }
}

/// What the primers need of a purchase order.
#[derive(Clone, Copy, Debug)]
pub struct PoRef {
    id: i32,
    vendor_id: i32,
    ship_to_id: i32,
    type_id: i32,
    business_unit_id: i32,
    job_id: Option<i32>,
    project_id: Option<i32>,
    technician_id: Option<i32>,
    backorder_of_id: Option<i32>,
}

impl From<&crate::graphql::purchasing::types::PurchaseOrder> for PoRef {
    fn from(o: &crate::graphql::purchasing::types::PurchaseOrder) -> Self {
        PoRef {
            id: o.db_id,
            vendor_id: o.vendor_id,
            ship_to_id: o.ship_to_id,
            type_id: o.type_id,
            business_unit_id: o.business_unit_id,
            job_id: o.job_id,
            project_id: o.project_id,
            technician_id: o.technician_id,
            backorder_of_id: o.backorder_of_id,
        }
    }
}

impl From<&entity::purchase_order::Model> for PoRef {
    fn from(o: &entity::purchase_order::Model) -> Self {
        PoRef {
            id: o.id,
            vendor_id: o.vendor_id,
            ship_to_id: o.ship_to_id,
            type_id: o.type_id,
            business_unit_id: o.business_unit_id,
            job_id: o.job_id,
            project_id: o.project_id,
            technician_id: o.technician_id,
            backorder_of_id: o.backorder_of_id,
        }
    }
}

/// What the primers need of a purchase-order line.
#[derive(Clone, Copy, Debug)]
pub struct LineRef {
    id: i32,
    purchase_order_id: i32,
    product_id: i32,
    location_id: i32,
    job_id: Option<i32>,
    project_id: Option<i32>,
}

impl From<&entity::purchase_order_line::Model> for LineRef {
    fn from(m: &entity::purchase_order_line::Model) -> Self {
        LineRef {
            id: m.id,
            purchase_order_id: m.purchase_order_id,
            product_id: m.product_id,
            location_id: m.location_id,
            job_id: m.job_id,
            project_id: m.project_id,
        }
    }
}

impl From<&crate::graphql::purchasing::types::PurchaseOrderLine> for LineRef {
    fn from(m: &crate::graphql::purchasing::types::PurchaseOrderLine) -> Self {
        LineRef {
            id: m.db_id,
            purchase_order_id: m.purchase_order_id,
            product_id: m.product_id,
            location_id: m.location_id,
            job_id: m.job_id,
            project_id: m.project_id,
        }
    }
}

/// Primes what `sel` asks of `orders`.
pub fn purchase_orders<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    orders: Vec<PoRef>,
) -> BoxFuture<'a, Primed> {
    async move {
        if orders.is_empty() || sel.is_empty() {
            return Ok(());
        }
        let line_sel = sel.field("lines").nodes();
        let ship_to = sel.field("shipTo");
        // The ship-to locations join the lines' locations in one statement when both are asked.
        let merge_locations = !ship_to.is_empty() && line_sel.has("location");
        let vendor = async {
            let vendors = prime_if(
                ctx,
                sel.has("vendor"),
                orders.iter().map(|o| l::VendorId(o.vendor_id)),
            )
            .await?;
            self::vendors(
                ctx,
                sel.field("vendor"),
                vendors.iter().map(|v| v.db_id).collect(),
            )
            .await
        };
        let ship = async {
            if merge_locations {
                return Ok(());
            }
            let found = prime_if(
                ctx,
                !ship_to.is_empty(),
                orders.iter().map(|o| l::LocationId(o.ship_to_id)),
            )
            .await?;
            locations(
                ctx,
                ship_to.clone(),
                found.iter().map(|l| l.db_id).collect(),
            )
            .await
        };
        let header = async {
            try_join4(
                prime_if(
                    ctx,
                    sel.has("type"),
                    orders.iter().map(|o| l::PurchaseOrderTypeId(o.type_id)),
                ),
                prime_if(
                    ctx,
                    sel.has("businessUnit"),
                    orders.iter().map(|o| l::BusinessUnitId(o.business_unit_id)),
                ),
                prime_if(
                    ctx,
                    sel.has("job"),
                    orders.iter().filter_map(|o| o.job_id.map(l::JobId)),
                ),
                prime_if(
                    ctx,
                    sel.has("project"),
                    orders.iter().filter_map(|o| o.project_id.map(l::ProjectId)),
                ),
            )
            .await?;
            prime_if(
                ctx,
                sel.has("technician"),
                orders
                    .iter()
                    .filter_map(|o| o.technician_id.map(l::TechnicianId)),
            )
            .await?;
            Ok::<_, async_graphql::Error>(())
        };
        let family = async {
            let parents = prime_if(
                ctx,
                sel.has("backorderOf"),
                orders
                    .iter()
                    .filter_map(|o| o.backorder_of_id.map(l::PurchaseOrderId)),
            )
            .await?;
            purchase_orders(
                ctx,
                sel.field("backorderOf"),
                parents.iter().map(PoRef::from).collect(),
            )
            .await?;
            let children = prime_if(
                ctx,
                sel.has("backorders"),
                orders.iter().map(|o| l::BackordersOf(o.id)),
            )
            .await?;
            purchase_orders(
                ctx,
                sel.field("backorders"),
                children.iter().flatten().map(PoRef::from).collect(),
            )
            .await
        };
        let documents = async {
            let receipts = prime_if(
                ctx,
                sel.has("receipts"),
                orders.iter().map(|o| l::ReceiptsOfPurchaseOrder(o.id)),
            )
            .await?;
            self::receipts(
                ctx,
                sel.field("receipts"),
                receipts
                    .iter()
                    .flatten()
                    .map(|r| (r.id, r.purchase_order_id))
                    .collect(),
            )
            .await?;
            let bills = prime_if(
                ctx,
                sel.has("bills"),
                orders.iter().map(|o| l::BillsOfPurchaseOrder(o.id)),
            )
            .await?;
            self::bills(
                ctx,
                sel.field("bills"),
                bills.into_iter().flatten().collect(),
            )
            .await
        };
        let lines = async {
            let wanted = sel.any(&[
                "lines",
                "totalLines",
                "subtotal",
                "tax",
                "total",
                "baseTotal",
            ]);
            let lines = prime_if(
                ctx,
                wanted,
                orders.iter().map(|o| l::LinesOfPurchaseOrder(o.id)),
            )
            .await?;
            let (extra, extra_sel) = if merge_locations {
                (
                    orders.iter().map(|o| o.ship_to_id).collect(),
                    ship_to.clone(),
                )
            } else {
                (Vec::new(), Sel::default())
            };
            self::lines(
                ctx,
                line_sel.clone(),
                lines.iter().flatten().map(LineRef::from).collect(),
                extra,
                extra_sel,
            )
            .await
        };
        try_join3(
            try_join(vendor, ship),
            try_join(header, family),
            try_join(documents, lines),
        )
        .await?;
        Ok(())
    }
    .boxed()
}

/// Primes what `sel` asks of `lines`; `extra_locations` (selected by `extra_sel`) join the
/// lines' locations in one statement.
pub fn lines<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    lines: Vec<LineRef>,
    extra_locations: Vec<i32>,
    extra_sel: Sel<'a>,
) -> BoxFuture<'a, Primed> {
    async move {
        let location_sel = sel.field("location").and(extra_sel);
        let location_ids: Vec<i32> = if sel.has("location") {
            lines
                .iter()
                .map(|l| l.location_id)
                .chain(extra_locations)
                .collect()
        } else {
            extra_locations
        };
        let product = async {
            let wanted = sel.any(&[
                "product",
                "overReceiptAllowancePercent",
                "receivableQuantity",
            ]);
            let found = prime_if(
                ctx,
                wanted,
                lines.iter().map(|l| l::ProductId(l.product_id)),
            )
            .await?;
            products(
                ctx,
                sel.field("product"),
                found
                    .iter()
                    .map(|p| (p.db_id, p.preferred_vendor_id))
                    .collect(),
            )
            .await
        };
        let location = async {
            let found = prime_if(
                ctx,
                !location_ids.is_empty(),
                location_ids.iter().map(|id| l::LocationId(*id)),
            )
            .await?;
            locations(
                ctx,
                location_sel.clone(),
                found.iter().map(|l| l.db_id).collect(),
            )
            .await
        };
        let item = async {
            let found = prime_if(
                ctx,
                sel.has("inventoryItem"),
                lines.iter().map(|l| l::ItemAt {
                    product_id: l.product_id,
                    location_id: l.location_id,
                }),
            )
            .await?;
            items(
                ctx,
                sel.field("inventoryItem"),
                found
                    .iter()
                    .map(|i| (i.db_id, i.product_id, i.location_id))
                    .collect(),
            )
            .await
        };
        let others = async {
            let orders = prime_if(
                ctx,
                sel.any(&["purchaseOrder", "baseUnitCost"]),
                lines
                    .iter()
                    .map(|l| l::PurchaseOrderId(l.purchase_order_id)),
            )
            .await?;
            try_join4(
                prime_if(
                    ctx,
                    sel.has("job"),
                    lines.iter().filter_map(|l| l.job_id.map(l::JobId)),
                ),
                prime_if(
                    ctx,
                    sel.has("project"),
                    lines.iter().filter_map(|l| l.project_id.map(l::ProjectId)),
                ),
                prime_if(
                    ctx,
                    sel.has("jobMaterial"),
                    lines.iter().map(|l| l::MaterialOfLine(l.id)),
                ),
                purchase_orders(
                    ctx,
                    sel.field("purchaseOrder"),
                    orders.iter().map(PoRef::from).collect(),
                ),
            )
            .await?;
            Ok::<_, async_graphql::Error>(())
        };
        try_join4(product, location, item, others).await?;
        Ok(())
    }
    .boxed()
}

/// Primes what `sel` asks of the vendors `ids`.
pub fn vendors<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, ids: Vec<i32>) -> BoxFuture<'a, Primed> {
    async move {
        if ids.is_empty() || sel.is_empty() {
            return Ok(());
        }
        let orders_sel = sel.field("purchaseOrders");
        let mut orders = Vec::new();
        for (after, limit) in orders_sel.windows(ctx) {
            let found = prime(
                ctx,
                ids.iter().map(|&parent| l::PurchaseOrdersOfVendor {
                    parent,
                    after,
                    limit,
                }),
            )
            .await?;
            orders.extend(found.iter().flat_map(|w| w.rows.iter().map(PoRef::from)));
        }
        purchase_orders(ctx, orders_sel.nodes(), orders).await?;
        let bills_sel = sel.field("bills");
        let mut bills = Vec::new();
        for (after, limit) in bills_sel.windows(ctx) {
            let found = prime(
                ctx,
                ids.iter().map(|&parent| l::BillsOfVendor {
                    parent,
                    after,
                    limit,
                }),
            )
            .await?;
            bills.extend(found.into_iter().flat_map(|w| w.rows));
        }
        self::bills(ctx, bills_sel.nodes(), bills).await
    }
    .boxed()
}

/// Primes what `sel` asks of the products `(id, preferred vendor)`.
pub fn products<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    products: Vec<(i32, Option<i32>)>,
) -> BoxFuture<'a, Primed> {
    async move {
        if products.is_empty() || sel.is_empty() {
            return Ok(());
        }
        let vendors = prime_if(
            ctx,
            sel.has("preferredVendor"),
            products.iter().filter_map(|(_, v)| v.map(l::VendorId)),
        )
        .await?;
        self::vendors(
            ctx,
            sel.field("preferredVendor"),
            vendors.iter().map(|v| v.db_id).collect(),
        )
        .await?;
        let items_sel = sel.field("inventoryItems");
        let mut found = Vec::new();
        for (after, limit) in items_sel.windows(ctx) {
            let windows = prime(
                ctx,
                products.iter().map(|&(parent, _)| l::ItemsOfProduct {
                    parent,
                    after,
                    limit,
                }),
            )
            .await?;
            found.extend(
                windows
                    .iter()
                    .flat_map(|w| w.rows.iter().map(|i| (i.id, i.product_id, i.location_id))),
            );
        }
        items(ctx, items_sel.nodes(), found).await
    }
    .boxed()
}

/// Primes what `sel` asks of the locations `ids`.
pub fn locations<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, ids: Vec<i32>) -> BoxFuture<'a, Primed> {
    async move {
        if ids.is_empty() || sel.is_empty() {
            return Ok(());
        }
        let items_sel = sel.field("inventoryItems");
        let mut found = Vec::new();
        for (after, limit) in items_sel.windows(ctx) {
            let windows = prime(
                ctx,
                ids.iter().map(|&parent| l::ItemsOfLocation {
                    parent,
                    after,
                    limit,
                }),
            )
            .await?;
            found.extend(
                windows
                    .iter()
                    .flat_map(|w| w.rows.iter().map(|i| (i.id, i.product_id, i.location_id))),
            );
        }
        items(ctx, items_sel.nodes(), found).await
    }
    .boxed()
}

/// Primes what `sel` asks of the inventory items `(id, product, location)`.
pub fn items<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    items: Vec<(i32, i32, i32)>,
) -> BoxFuture<'a, Primed> {
    async move {
        if items.is_empty() || sel.is_empty() {
            return Ok(());
        }
        let product = async {
            let found = prime_if(
                ctx,
                sel.has("product"),
                items.iter().map(|i| l::ProductId(i.1)),
            )
            .await?;
            products(
                ctx,
                sel.field("product"),
                found
                    .iter()
                    .map(|p| (p.db_id, p.preferred_vendor_id))
                    .collect(),
            )
            .await
        };
        let location = async {
            let found = prime_if(
                ctx,
                sel.has("location"),
                items.iter().map(|i| l::LocationId(i.2)),
            )
            .await?;
            locations(
                ctx,
                sel.field("location"),
                found.iter().map(|l| l.db_id).collect(),
            )
            .await
        };
        let ledger = async {
            for (after, limit) in sel.field("ledger").windows(ctx) {
                prime(
                    ctx,
                    items.iter().map(|i| l::LedgerOfItem {
                        parent: i.0,
                        after,
                        limit,
                    }),
                )
                .await?;
            }
            Ok::<_, async_graphql::Error>(())
        };
        try_join3(product, location, ledger).await?;
        Ok(())
    }
    .boxed()
}

/// Primes what `sel` asks of the receipts `(id, purchase order)`.
pub fn receipts<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    receipts: Vec<(i32, i32)>,
) -> BoxFuture<'a, Primed> {
    async move {
        if receipts.is_empty() || sel.is_empty() {
            return Ok(());
        }
        let order = async {
            let found = prime_if(
                ctx,
                sel.has("purchaseOrder"),
                receipts.iter().map(|r| l::PurchaseOrderId(r.1)),
            )
            .await?;
            purchase_orders(
                ctx,
                sel.field("purchaseOrder"),
                found.iter().map(PoRef::from).collect(),
            )
            .await
        };
        let lines = async {
            let found = prime_if(
                ctx,
                sel.has("lines"),
                receipts.iter().map(|r| l::LinesOfReceipt(r.0)),
            )
            .await?;
            receipt_lines(
                ctx,
                sel.field("lines"),
                found.into_iter().flatten().collect(),
            )
            .await
        };
        let bills = async {
            let bill_sel = sel.field("bill").and(sel.field("bills"));
            let found = prime_if(
                ctx,
                !bill_sel.is_empty(),
                receipts.iter().map(|r| l::BillsOfReceipt(r.0)),
            )
            .await?;
            self::bills(ctx, bill_sel, found.into_iter().flatten().collect()).await
        };
        try_join3(order, lines, bills).await?;
        Ok(())
    }
    .boxed()
}

/// Primes what `sel` asks of receipt lines.
fn receipt_lines<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    lines: Vec<entity::receipt_line::Model>,
) -> BoxFuture<'a, Primed> {
    async move {
        if lines.is_empty() || sel.is_empty() {
            return Ok(());
        }
        let order_lines = async {
            let found = prime_if(
                ctx,
                sel.has("line"),
                lines.iter().map(|r| l::LineId(r.purchase_order_line_id)),
            )
            .await?;
            self::lines(
                ctx,
                sel.field("line"),
                found.iter().map(LineRef::from).collect(),
                Vec::new(),
                Sel::default(),
            )
            .await
        };
        try_join4(
            order_lines,
            prime_if(
                ctx,
                sel.has("product"),
                lines.iter().map(|r| l::ProductId(r.product_id)),
            ),
            prime_if(
                ctx,
                sel.has("location"),
                lines.iter().map(|r| l::LocationId(r.location_id)),
            ),
            prime_if(
                ctx,
                sel.has("serialNumbers"),
                lines.iter().map(|r| l::SerialsOfReceiptLine(r.id)),
            ),
        )
        .await?;
        Ok(())
    }
    .boxed()
}

/// Primes what `sel` asks of bills.
pub fn bills<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    bills: Vec<entity::bill::Model>,
) -> BoxFuture<'a, Primed> {
    async move {
        if bills.is_empty() || sel.is_empty() {
            return Ok(());
        }
        let related: Vec<l::BillId> = bills
            .iter()
            .flat_map(|b| [b.credit_of_id, b.superseded_by_id])
            .flatten()
            .map(l::BillId)
            .collect();
        let heads = async {
            try_join4(
                prime_if(
                    ctx,
                    sel.has("vendor"),
                    bills.iter().map(|b| l::VendorId(b.vendor_id)),
                ),
                prime_if(
                    ctx,
                    sel.has("purchaseOrder"),
                    bills
                        .iter()
                        .map(|b| l::PurchaseOrderId(b.purchase_order_id)),
                ),
                prime_if(
                    ctx,
                    sel.has("receipt"),
                    bills.iter().map(|b| l::ReceiptId(b.receipt_id)),
                ),
                prime_if(ctx, sel.any(&["creditOf", "supersededBy"]), related),
            )
            .await?;
            Ok::<_, async_graphql::Error>(())
        };
        let lines = async {
            let matching = sel.has("match");
            let found = prime_if(
                ctx,
                matching || sel.has("lines"),
                bills.iter().map(|b| l::LinesOfBill(b.id)),
            )
            .await?;
            let lines_sel = sel.field("lines");
            let line_ids = found.iter().flatten().filter_map(|b| {
                (matching || lines_sel.has("line")).then_some(l::LineId(b.purchase_order_line_id))
            });
            try_join4(
                prime_if(
                    ctx,
                    matching,
                    bills.iter().map(|b| l::LinesOfReceipt(b.receipt_id)),
                ),
                prime(ctx, line_ids),
                prime_if(
                    ctx,
                    lines_sel.has("product"),
                    found.iter().flatten().map(|b| l::ProductId(b.product_id)),
                ),
                prime_if(
                    ctx,
                    lines_sel.has("location"),
                    found.iter().flatten().map(|b| l::LocationId(b.location_id)),
                ),
            )
            .await?;
            Ok::<_, async_graphql::Error>(())
        };
        try_join(heads, lines).await?;
        Ok(())
    }
    .boxed()
}
