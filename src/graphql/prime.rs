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

use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, SelectionField, Value};
use futures_util::future::{try_join_all, BoxFuture};
use futures_util::FutureExt;

use crate::graphql::connection::{NamedPage, PageArgs, Window};
use crate::graphql::inventory::types::InventoryItem;
use crate::graphql::loaders::{self as l, prime, DbLoader};
use crate::graphql::master_data::types::{
    BusinessUnit, InventoryLocation, Job, JobMaterial, Product, Project, PurchaseOrderType,
    Technician, Vendor,
};
use crate::graphql::max_page_size;
use crate::graphql::purchasing::types::{PurchaseOrder, PurchaseOrderLine};
use crate::graphql::receiving::types::{Bill, Receipt};
use crate::graphql::window::ChildWindow;

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

    /// The relation `name`: whether it is selected, and what is selected below it.
    fn rel(&self, name: &str) -> (bool, Self) {
        (self.has(name), self.field(name))
    }

    /// The relation `name`, also wanted when a field computed from it (`also`) is selected.
    fn rel_or(&self, name: &str, also: &[&str]) -> (bool, Self) {
        (self.has(name) || self.any(also), self.field(name))
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
async fn prime_if<K, I>(
    ctx: &Context<'_>,
    wanted: bool,
    keys: I,
) -> async_graphql::Result<Vec<<DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    I: IntoIterator<Item = K>,
    DbLoader: Loader<K, Error = async_graphql::Error>,
{
    if wanted {
        prime(ctx, keys).await
    } else {
        Ok(Vec::new())
    }
}

/// The rows of one GraphQL type, reduced to what priming the relations below them needs.
pub trait Level: Sized + Send + Sync + 'static {
    /// Primes what `sel` asks of `rows` (never empty): one statement per selected relation,
    /// then the relations of those relations.
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, rows: Vec<Self>) -> BoxFuture<'a, Primed>;
}

/// A GraphQL object type that priming can start from (a root list's nodes, `node`, a mutation
/// payload's object).
pub trait Primable {
    /// What priming keeps of it.
    type Row: Level + for<'x> From<&'x Self>;
}

/// Primes what `sel` asks of `rows`, when it asks anything of any.
pub fn descend<'a, R: Level>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    rows: Vec<R>,
) -> BoxFuture<'a, Primed> {
    if rows.is_empty() || sel.is_empty() {
        return futures_util::future::ready(Ok(())).boxed();
    }
    R::prime(ctx, sel, rows)
}

/// A relation below which nothing is primed.
async fn leaf<K, I>(ctx: &Context<'_>, wanted: bool, keys: I) -> Primed
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    I: IntoIterator<Item = K>,
    DbLoader: Loader<K, Error = async_graphql::Error>,
{
    prime_if(ctx, wanted, keys).await.map(drop)
}

/// A relation to one row per key: primes `keys` (one statement) when `wanted`, then what
/// `sel` asks of the rows found.
async fn follow<'a, R, T, K, I>(
    ctx: &'a Context<'a>,
    (wanted, sel): (bool, Sel<'a>),
    keys: I,
) -> Primed
where
    R: Level + for<'x> From<&'x T>,
    T: Send + Sync + 'static,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    I: IntoIterator<Item = K>,
    DbLoader: Loader<K, Value = Arc<T>, Error = async_graphql::Error>,
{
    let found = prime_if(ctx, wanted, keys).await?;
    descend(ctx, sel, found.iter().map(|v| R::from(&**v)).collect()).await
}

/// A relation to a list of rows per key: primes `keys` (one statement) when `wanted`, then
/// what `sel` asks of every row of every list.
async fn follow_lists<'a, R, M, K, I>(
    ctx: &'a Context<'a>,
    (wanted, sel): (bool, Sel<'a>),
    keys: I,
) -> Primed
where
    R: Level + for<'x> From<&'x M>,
    M: Send + Sync + 'static,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    I: IntoIterator<Item = K>,
    DbLoader: Loader<K, Value = Arc<Vec<M>>, Error = async_graphql::Error>,
{
    let found = prime_if(ctx, wanted, keys).await?;
    let rows = found
        .iter()
        .flat_map(|list| list.iter().map(R::from))
        .collect();
    descend(ctx, sel, rows).await
}

/// A forward-paged nested connection of `parents`: each window the selection `sel` of the
/// connection asks for (one loader key per parent and window, see [`crate::graphql::window`]),
/// then what it asks of the nodes.
async fn follow_windows<'a, R, M, K>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    parents: &[i32],
    key: fn(i32, Option<i64>, u64) -> K,
) -> Primed
where
    R: Level + for<'x> From<&'x M>,
    M: Send + Sync + 'static,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Value = Arc<ChildWindow<M>>, Error = async_graphql::Error>,
{
    let mut rows = Vec::new();
    for (after, limit) in sel.windows(ctx) {
        let found = prime(ctx, parents.iter().map(|&p| key(p, after, limit))).await?;
        rows.extend(found.iter().flat_map(|w| w.rows.iter().map(R::from)));
    }
    descend(ctx, sel.nodes(), rows).await
}

/// Runs the primers of one level side by side.
async fn all(primers: Vec<BoxFuture<'_, Primed>>) -> Primed {
    try_join_all(primers).await.map(drop)
}

/// [`all`] of the primers given.
macro_rules! primers {
    ($($primer:expr),* $(,)?) => {
        all(vec![$(FutureExt::boxed($primer)),*])
    };
}

/// Primes what the caller's selection asks of a root connection's nodes.
pub async fn page<T, N, E>(ctx: &Context<'_>, page: &NamedPage<T, N, E>) -> Primed
where
    T: Primable + async_graphql::OutputType,
    N: async_graphql::connection::ConnectionNameType,
    E: async_graphql::connection::EdgeNameType,
{
    nodes(ctx, page.edges.iter().map(|e| &e.node)).await
}

/// Primes what the caller's selection asks of the nodes of the connection being resolved.
pub async fn nodes<'n, T: Primable + 'n>(
    ctx: &Context<'_>,
    nodes: impl IntoIterator<Item = &'n T>,
) -> Primed {
    let rows = nodes.into_iter().map(T::Row::from).collect();
    descend(ctx, Sel::nodes_of(ctx), rows).await
}

/// Primes what the caller's selection asks of the object the field being resolved returns
/// (`node`, a mutation payload's object).
pub async fn one<T: Primable>(ctx: &Context<'_>, object: &T) -> Primed {
    descend(ctx, Sel::of(ctx), vec![T::Row::from(object)]).await
}

/// Rows with no relation that priming covers.
pub struct Leaf;

impl<T: ?Sized> From<&T> for Leaf {
    fn from(_: &T) -> Self {
        Leaf
    }
}

impl Level for Leaf {
    fn prime<'a>(_: &'a Context<'a>, _: Sel<'a>, _: Vec<Self>) -> BoxFuture<'a, Primed> {
        futures_util::future::ready(Ok(())).boxed()
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

/// `From<&$source> for $row`, copying the named fields (`row field: source field`).
macro_rules! row_from {
    ($source:ty => $row:ident { $($field:ident: $from:ident),* $(,)? }) => {
        impl From<&$source> for $row {
            fn from(o: &$source) -> Self {
                $row { $($field: o.$from),* }
            }
        }
    };
}

row_from!(PurchaseOrder => PoRef {
    id: db_id, vendor_id: vendor_id, ship_to_id: ship_to_id, type_id: type_id,
    business_unit_id: business_unit_id, job_id: job_id, project_id: project_id,
    technician_id: technician_id, backorder_of_id: backorder_of_id,
});
row_from!(entity::purchase_order::Model => PoRef {
    id: id, vendor_id: vendor_id, ship_to_id: ship_to_id, type_id: type_id,
    business_unit_id: business_unit_id, job_id: job_id, project_id: project_id,
    technician_id: technician_id, backorder_of_id: backorder_of_id,
});

impl Level for PoRef {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, orders: Vec<Self>) -> BoxFuture<'a, Primed> {
        async move {
            let line_sel = sel.field("lines").nodes();
            let ship_to = sel.field("shipTo");
            // The ship-to locations join the lines' locations in one statement when both are
            // asked.
            let merge_locations = !ship_to.is_empty() && line_sel.has("location");
            let o = &orders;
            let lines = async {
                let wanted = sel.any(&[
                    "lines",
                    "totalLines",
                    "subtotal",
                    "tax",
                    "total",
                    "baseTotal",
                ]);
                let lines =
                    prime_if(ctx, wanted, o.iter().map(|o| l::LinesOfPurchaseOrder(o.id))).await?;
                let (extra, extra_sel) = if merge_locations {
                    (o.iter().map(|o| o.ship_to_id).collect(), ship_to.clone())
                } else {
                    (Vec::new(), Sel::default())
                };
                let rows = lines
                    .iter()
                    .flat_map(|list| list.iter().map(LineRef::from))
                    .collect();
                LineRef::prime_with(ctx, line_sel.clone(), rows, extra, extra_sel).await
            };
            primers![
                follow::<VendorRow, _, _, _>(
                    ctx,
                    sel.rel("vendor"),
                    o.iter().map(|o| l::VendorId(o.vendor_id)),
                ),
                follow::<LocationRow, _, _, _>(
                    ctx,
                    (!ship_to.is_empty() && !merge_locations, ship_to.clone()),
                    o.iter().map(|o| l::LocationId(o.ship_to_id)),
                ),
                leaf(
                    ctx,
                    sel.has("type"),
                    o.iter().map(|o| l::PurchaseOrderTypeId(o.type_id)),
                ),
                leaf(
                    ctx,
                    sel.has("businessUnit"),
                    o.iter().map(|o| l::BusinessUnitId(o.business_unit_id)),
                ),
                follow::<JobRow, _, _, _>(
                    ctx,
                    sel.rel("job"),
                    o.iter().filter_map(|o| o.job_id.map(l::JobId)),
                ),
                leaf(
                    ctx,
                    sel.has("project"),
                    o.iter().filter_map(|o| o.project_id.map(l::ProjectId)),
                ),
                leaf(
                    ctx,
                    sel.has("technician"),
                    o.iter()
                        .filter_map(|o| o.technician_id.map(l::TechnicianId)),
                ),
                follow::<PoRef, _, _, _>(
                    ctx,
                    sel.rel("backorderOf"),
                    o.iter()
                        .filter_map(|o| o.backorder_of_id.map(l::PurchaseOrderId)),
                ),
                follow_lists::<PoRef, _, _, _>(
                    ctx,
                    sel.rel("backorders"),
                    o.iter().map(|o| l::BackordersOf(o.id)),
                ),
                follow_lists::<ReceiptRow, _, _, _>(
                    ctx,
                    sel.rel("receipts"),
                    o.iter().map(|o| l::ReceiptsOfPurchaseOrder(o.id)),
                ),
                follow_lists::<BillRow, _, _, _>(
                    ctx,
                    sel.rel("bills"),
                    o.iter().map(|o| l::BillsOfPurchaseOrder(o.id)),
                ),
                lines,
            ]
            .await
        }
        .boxed()
    }
}

/// Primes what `sel` asks of `orders`.
pub fn purchase_orders<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    orders: Vec<PoRef>,
) -> BoxFuture<'a, Primed> {
    descend(ctx, sel, orders)
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

row_from!(crate::graphql::loaders::columns::LineColumns => LineRef {
    id: id, purchase_order_id: purchase_order_id, product_id: product_id,
    location_id: location_id, job_id: job_id, project_id: project_id,
});
row_from!(PurchaseOrderLine => LineRef {
    id: db_id, purchase_order_id: purchase_order_id, product_id: product_id,
    location_id: location_id, job_id: job_id, project_id: project_id,
});

impl LineRef {
    /// Primes what `sel` asks of `lines`; `extra_locations` (selected by `extra_sel`) join the
    /// lines' locations in one statement.
    fn prime_with<'a>(
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
            let x = &lines;
            primers![
                follow::<ProductRow, _, _, _>(
                    ctx,
                    sel.rel_or(
                        "product",
                        &["overReceiptAllowancePercent", "receivableQuantity"],
                    ),
                    x.iter().map(|l| l::ProductId(l.product_id)),
                ),
                follow::<LocationRow, _, _, _>(
                    ctx,
                    (!location_ids.is_empty(), location_sel),
                    location_ids.iter().map(|id| l::LocationId(*id)),
                ),
                follow::<ItemRow, _, _, _>(
                    ctx,
                    sel.rel("inventoryItem"),
                    x.iter().map(|l| l::ItemAt {
                        product_id: l.product_id,
                        location_id: l.location_id,
                    }),
                ),
                follow::<PoRef, _, _, _>(
                    ctx,
                    sel.rel_or("purchaseOrder", &["baseUnitCost"]),
                    x.iter().map(|l| l::PurchaseOrderId(l.purchase_order_id)),
                ),
                follow::<JobRow, _, _, _>(
                    ctx,
                    sel.rel("job"),
                    x.iter().filter_map(|l| l.job_id.map(l::JobId)),
                ),
                leaf(
                    ctx,
                    sel.has("project"),
                    x.iter().filter_map(|l| l.project_id.map(l::ProjectId)),
                ),
                follow_lists::<JobMaterialRow, _, _, _>(
                    ctx,
                    sel.rel("jobMaterial"),
                    x.iter().map(|l| l::MaterialOfLine(l.id)),
                ),
            ]
            .await
        }
        .boxed()
    }
}

impl Level for LineRef {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, lines: Vec<Self>) -> BoxFuture<'a, Primed> {
        Self::prime_with(ctx, sel, lines, Vec::new(), Sel::default())
    }
}

/// What the primers need of a vendor.
pub struct VendorRow {
    id: i32,
}

row_from!(Vendor => VendorRow { id: db_id });

impl Level for VendorRow {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, vendors: Vec<Self>) -> BoxFuture<'a, Primed> {
        async move {
            let ids: Vec<i32> = vendors.iter().map(|v| v.id).collect();
            primers![
                follow_windows::<PoRef, _, _>(
                    ctx,
                    sel.field("purchaseOrders"),
                    &ids,
                    l::PurchaseOrdersOfVendor::new,
                ),
                follow_windows::<BillRow, _, _>(
                    ctx,
                    sel.field("bills"),
                    &ids,
                    l::BillsOfVendor::new,
                ),
            ]
            .await
        }
        .boxed()
    }
}

/// Primes what `sel` asks of the vendors `ids`.
pub fn vendors<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, ids: Vec<i32>) -> BoxFuture<'a, Primed> {
    descend(
        ctx,
        sel,
        ids.into_iter().map(|id| VendorRow { id }).collect(),
    )
}

/// What the primers need of a product.
pub struct ProductRow {
    id: i32,
    preferred_vendor_id: Option<i32>,
}

row_from!(Product => ProductRow { id: db_id, preferred_vendor_id: preferred_vendor_id });

impl Level for ProductRow {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, products: Vec<Self>) -> BoxFuture<'a, Primed> {
        async move {
            let ids: Vec<i32> = products.iter().map(|p| p.id).collect();
            primers![
                follow::<VendorRow, _, _, _>(
                    ctx,
                    sel.rel("preferredVendor"),
                    products
                        .iter()
                        .filter_map(|p| p.preferred_vendor_id.map(l::VendorId)),
                ),
                follow_windows::<ItemRow, _, _>(
                    ctx,
                    sel.field("inventoryItems"),
                    &ids,
                    l::ItemsOfProduct::new,
                ),
            ]
            .await
        }
        .boxed()
    }
}

/// Primes what `sel` asks of the products `(id, preferred vendor)`.
pub fn products<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    products: Vec<(i32, Option<i32>)>,
) -> BoxFuture<'a, Primed> {
    let rows = products
        .into_iter()
        .map(|(id, preferred_vendor_id)| ProductRow {
            id,
            preferred_vendor_id,
        })
        .collect();
    descend(ctx, sel, rows)
}

/// What the primers need of a location.
pub struct LocationRow {
    id: i32,
}

row_from!(InventoryLocation => LocationRow { id: db_id });

impl Level for LocationRow {
    fn prime<'a>(
        ctx: &'a Context<'a>,
        sel: Sel<'a>,
        locations: Vec<Self>,
    ) -> BoxFuture<'a, Primed> {
        async move {
            let ids: Vec<i32> = locations.iter().map(|l| l.id).collect();
            follow_windows::<ItemRow, _, _>(
                ctx,
                sel.field("inventoryItems"),
                &ids,
                l::ItemsOfLocation::new,
            )
            .await
        }
        .boxed()
    }
}

/// Primes what `sel` asks of the locations `ids`.
pub fn locations<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, ids: Vec<i32>) -> BoxFuture<'a, Primed> {
    descend(
        ctx,
        sel,
        ids.into_iter().map(|id| LocationRow { id }).collect(),
    )
}

/// What the primers need of an inventory item.
pub struct ItemRow {
    id: i32,
    product_id: i32,
    location_id: i32,
}

row_from!(InventoryItem => ItemRow { id: db_id, product_id: product_id, location_id: location_id });
row_from!(entity::inventory_item::Model => ItemRow { id: id, product_id: product_id, location_id: location_id });

impl Level for ItemRow {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, items: Vec<Self>) -> BoxFuture<'a, Primed> {
        async move {
            let ids: Vec<i32> = items.iter().map(|i| i.id).collect();
            primers![
                follow::<ProductRow, _, _, _>(
                    ctx,
                    sel.rel("product"),
                    items.iter().map(|i| l::ProductId(i.product_id)),
                ),
                follow::<LocationRow, _, _, _>(
                    ctx,
                    sel.rel("location"),
                    items.iter().map(|i| l::LocationId(i.location_id)),
                ),
                follow_windows::<Leaf, _, _>(ctx, sel.field("ledger"), &ids, l::LedgerOfItem::new),
            ]
            .await
        }
        .boxed()
    }
}

/// Primes what `sel` asks of the inventory items `(id, product, location)`.
pub fn items<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    items: Vec<(i32, i32, i32)>,
) -> BoxFuture<'a, Primed> {
    let rows = items
        .into_iter()
        .map(|(id, product_id, location_id)| ItemRow {
            id,
            product_id,
            location_id,
        })
        .collect();
    descend(ctx, sel, rows)
}

/// What the primers need of a receipt.
pub struct ReceiptRow {
    id: i32,
    purchase_order_id: i32,
}

row_from!(entity::receipt::Model => ReceiptRow { id: id, purchase_order_id: purchase_order_id });
row_from!(Receipt => ReceiptRow { id: db_id, purchase_order_id: purchase_order_id });

impl Level for ReceiptRow {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, receipts: Vec<Self>) -> BoxFuture<'a, Primed> {
        async move {
            let bill_sel = sel.field("bill").and(sel.field("bills"));
            let r = &receipts;
            primers![
                follow::<PoRef, _, _, _>(
                    ctx,
                    sel.rel("purchaseOrder"),
                    r.iter().map(|r| l::PurchaseOrderId(r.purchase_order_id)),
                ),
                follow_lists::<ReceiptLineRow, _, _, _>(
                    ctx,
                    sel.rel("lines"),
                    r.iter().map(|r| l::LinesOfReceipt(r.id)),
                ),
                follow_lists::<BillRow, _, _, _>(
                    ctx,
                    (!bill_sel.is_empty(), bill_sel.clone()),
                    r.iter().map(|r| l::BillsOfReceipt(r.id)),
                ),
            ]
            .await
        }
        .boxed()
    }
}

/// Primes what `sel` asks of the receipts `(id, purchase order)`.
pub fn receipts<'a>(
    ctx: &'a Context<'a>,
    sel: Sel<'a>,
    receipts: Vec<(i32, i32)>,
) -> BoxFuture<'a, Primed> {
    let rows = receipts
        .into_iter()
        .map(|(id, purchase_order_id)| ReceiptRow {
            id,
            purchase_order_id,
        })
        .collect();
    descend(ctx, sel, rows)
}

/// What the primers need of a receipt line.
pub struct ReceiptLineRow {
    id: i32,
    line_id: i32,
    product_id: i32,
    location_id: i32,
}

row_from!(entity::receipt_line::Model => ReceiptLineRow {
    id: id, line_id: purchase_order_line_id, product_id: product_id, location_id: location_id,
});

impl Level for ReceiptLineRow {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, lines: Vec<Self>) -> BoxFuture<'a, Primed> {
        async move {
            let x = &lines;
            primers![
                follow::<LineRef, _, _, _>(
                    ctx,
                    sel.rel("line"),
                    x.iter().map(|r| l::LineId(r.line_id)),
                ),
                follow::<ProductRow, _, _, _>(
                    ctx,
                    sel.rel("product"),
                    x.iter().map(|r| l::ProductId(r.product_id)),
                ),
                follow::<LocationRow, _, _, _>(
                    ctx,
                    sel.rel("location"),
                    x.iter().map(|r| l::LocationId(r.location_id)),
                ),
                leaf(
                    ctx,
                    sel.has("serialNumbers"),
                    x.iter().map(|r| l::SerialsOfReceiptLine(r.id)),
                ),
            ]
            .await
        }
        .boxed()
    }
}

/// What the primers need of a bill.
pub struct BillRow {
    id: i32,
    vendor_id: i32,
    purchase_order_id: i32,
    receipt_id: i32,
    credit_of_id: Option<i32>,
    superseded_by_id: Option<i32>,
}

row_from!(entity::bill::Model => BillRow {
    id: id, vendor_id: vendor_id, purchase_order_id: purchase_order_id, receipt_id: receipt_id,
    credit_of_id: credit_of_id, superseded_by_id: superseded_by_id,
});
row_from!(Bill => BillRow {
    id: db_id, vendor_id: vendor_id, purchase_order_id: purchase_order_id, receipt_id: receipt_id,
    credit_of_id: credit_of_id, superseded_by_id: superseded_by_id,
});

impl Level for BillRow {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, bills: Vec<Self>) -> BoxFuture<'a, Primed> {
        async move {
            let b = &bills;
            let related = sel.field("creditOf").and(sel.field("supersededBy"));
            let lines = async {
                let matching = sel.has("match");
                let found = prime_if(
                    ctx,
                    matching || sel.has("lines"),
                    b.iter().map(|b| l::LinesOfBill(b.id)),
                )
                .await?;
                let lines_sel = sel.field("lines");
                let rows = || found.iter().flat_map(|list| list.iter());
                let line_ids = rows().filter_map(|b| {
                    (matching || lines_sel.has("line"))
                        .then_some(l::LineId(b.purchase_order_line_id))
                });
                primers![
                    leaf(
                        ctx,
                        matching,
                        b.iter().map(|b| l::LinesOfReceipt(b.receipt_id)),
                    ),
                    leaf(ctx, true, line_ids).boxed(),
                    leaf(
                        ctx,
                        lines_sel.has("product"),
                        rows().map(|b| l::ProductId(b.product_id)),
                    ),
                    leaf(
                        ctx,
                        lines_sel.has("location"),
                        rows().map(|b| l::LocationId(b.location_id)),
                    ),
                ]
                .await
            };
            primers![
                follow::<VendorRow, _, _, _>(
                    ctx,
                    sel.rel("vendor"),
                    b.iter().map(|b| l::VendorId(b.vendor_id)),
                ),
                follow::<PoRef, _, _, _>(
                    ctx,
                    sel.rel("purchaseOrder"),
                    b.iter().map(|b| l::PurchaseOrderId(b.purchase_order_id)),
                ),
                follow::<ReceiptRow, _, _, _>(
                    ctx,
                    sel.rel("receipt"),
                    b.iter().map(|b| l::ReceiptId(b.receipt_id)),
                ),
                follow::<BillRow, _, _, _>(
                    ctx,
                    (!related.is_empty(), related.clone()),
                    b.iter()
                        .flat_map(|b| [b.credit_of_id, b.superseded_by_id])
                        .flatten()
                        .map(l::BillId),
                ),
                lines,
            ]
            .await
        }
        .boxed()
    }
}

/// What the primers need of a job material.
pub struct JobMaterialRow {
    job_id: i32,
    product_id: i32,
    purchase_order_line_id: Option<i32>,
}

row_from!(JobMaterial => JobMaterialRow {
    job_id: job_id, product_id: product_id, purchase_order_line_id: purchase_order_line_id,
});
row_from!(entity::job_material::Model => JobMaterialRow {
    job_id: job_id, product_id: product_id, purchase_order_line_id: purchase_order_line_id,
});

impl Level for JobMaterialRow {
    fn prime<'a>(
        ctx: &'a Context<'a>,
        sel: Sel<'a>,
        materials: Vec<Self>,
    ) -> BoxFuture<'a, Primed> {
        async move {
            let m = &materials;
            primers![
                follow::<JobRow, _, _, _>(
                    ctx,
                    sel.rel("job"),
                    m.iter().map(|m| l::JobId(m.job_id)),
                ),
                follow::<ProductRow, _, _, _>(
                    ctx,
                    sel.rel("product"),
                    m.iter().map(|m| l::ProductId(m.product_id)),
                ),
                follow::<LineRef, _, _, _>(
                    ctx,
                    sel.rel("purchaseOrderLine"),
                    m.iter()
                        .filter_map(|m| m.purchase_order_line_id.map(l::LineId)),
                ),
            ]
            .await
        }
        .boxed()
    }
}

/// What the primers need of a job.
pub struct JobRow {
    id: i32,
}

row_from!(Job => JobRow { id: db_id });

impl Level for JobRow {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, jobs: Vec<Self>) -> BoxFuture<'a, Primed> {
        async move {
            let ids: Vec<i32> = jobs.iter().map(|j| j.id).collect();
            primers![
                follow_windows::<JobMaterialRow, _, _>(
                    ctx,
                    sel.field("materials"),
                    &ids,
                    l::MaterialsOfJob::new,
                ),
                follow_windows::<PoRef, _, _>(
                    ctx,
                    sel.field("purchaseOrders"),
                    &ids,
                    l::PurchaseOrdersOfJob::new,
                ),
            ]
            .await
        }
        .boxed()
    }
}

/// What the primers need of an event of the feed: the ids its entity fields load.
#[derive(Default)]
pub struct EventRow {
    pub purchase_order_id: Option<i32>,
    pub receipt_id: Option<i32>,
    pub bill_id: Option<i32>,
    pub inventory_item_id: Option<i32>,
    pub ledger_entry_id: Option<i64>,
}

impl Level for EventRow {
    fn prime<'a>(ctx: &'a Context<'a>, sel: Sel<'a>, events: Vec<Self>) -> BoxFuture<'a, Primed> {
        async move {
            let e = &events;
            primers![
                follow::<PoRef, _, _, _>(
                    ctx,
                    sel.rel("purchaseOrder"),
                    e.iter()
                        .filter_map(|e| e.purchase_order_id.map(l::PurchaseOrderId)),
                ),
                follow::<ReceiptRow, _, _, _>(
                    ctx,
                    sel.rel("receipt"),
                    e.iter().filter_map(|e| e.receipt_id.map(l::ReceiptId)),
                ),
                follow::<BillRow, _, _, _>(
                    ctx,
                    sel.rel("bill"),
                    e.iter().filter_map(|e| e.bill_id.map(l::BillId)),
                ),
                follow::<ItemRow, _, _, _>(
                    ctx,
                    sel.rel("inventoryItem"),
                    e.iter()
                        .filter_map(|e| e.inventory_item_id.map(l::InventoryItemId)),
                ),
                leaf(
                    ctx,
                    sel.has("ledgerEntry"),
                    e.iter()
                        .filter_map(|e| e.ledger_entry_id.map(l::LedgerEntryId)),
                ),
            ]
            .await
        }
        .boxed()
    }
}

/// `Primable` for the object types: which rows priming keeps of each.
macro_rules! primable {
    ($($ty:ty => $row:ty),* $(,)?) => {
        $(impl Primable for $ty {
            type Row = $row;
        })*
    };
}

primable!(
    PurchaseOrder => PoRef,
    PurchaseOrderLine => LineRef,
    Vendor => VendorRow,
    Product => ProductRow,
    InventoryLocation => LocationRow,
    InventoryItem => ItemRow,
    Receipt => ReceiptRow,
    Bill => BillRow,
    JobMaterial => JobMaterialRow,
    Job => JobRow,
    BusinessUnit => Leaf,
    PurchaseOrderType => Leaf,
    Project => Leaf,
    Technician => Leaf,
    crate::graphql::receiving::types::ReceiptLine => Leaf,
    crate::graphql::receiving::types::BillLine => Leaf,
    crate::graphql::inventory::types::StockLedgerEntry => Leaf,
    crate::graphql::inventory::serials::SerialNumber => Leaf,
);

/// A payload's (or event's) object as the caller may see it ([`crate::graphql::guard::readable`]),
/// with what the selection asks below it primed. Mutation fields run one after another, so the
/// rows primed here serve this field's payload only (see [`crate::graphql::loaders`]).
pub async fn readable<T>(ctx: &Context<'_>, value: &Option<T>) -> Option<T>
where
    T: Primable + crate::graphql::guard::Guarded + Clone,
{
    let value = crate::graphql::guard::readable(ctx, value)?;
    // A failed prime leaves the rows to the fields' own loads, which report their errors.
    if let Err(err) = one(ctx, &value).await {
        tracing::debug!(error = ?err.message, "priming a payload failed");
    }
    Some(value)
}
