//! The `Node` interface and `node` / `nodes`: any object by its global ID, each checked against
//! the permission that guards its type.

use std::sync::Arc;

use async_graphql::{Context, Interface, Object, ID};
use futures_util::future::{try_join_all, BoxFuture};
use futures_util::FutureExt;

use crate::auth::Permission;
use crate::error::ApiError;
use crate::graphql::guard::Guarded;
use crate::graphql::ids::parse_gid;
use crate::graphql::inventory::serials::SerialNumber;
use crate::graphql::inventory::types::{InventoryItem, StockLedgerEntry};
use crate::graphql::loaders::{
    load_one, prime, BillId, BillLineId, BusinessUnitId, InventoryItemId, JobId, JobMaterialId,
    LedgerEntryId, LineId, LocationId, ProductId, ProjectId, PurchaseOrderId, PurchaseOrderTypeId,
    ReceiptId, ReceiptLineId, SerialNumberId, TechnicianId, VendorId,
};
use crate::graphql::master_data::types::{
    BusinessUnit, InventoryLocation, Job, JobMaterial, Product, Project, PurchaseOrderType,
    Technician, Vendor,
};
use crate::graphql::prime::{self as primer, Primable, Sel};
use crate::graphql::purchasing::types::{PurchaseOrder, PurchaseOrderLine};
use crate::graphql::receiving::types::{Bill, BillLine, Receipt, ReceiptLine};
use crate::graphql::{max_page_size, require};

/// Anything with a global ID; `node(id:)` fetches it.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "&ID",
    desc = "Global ID, e.g. `gid://stockgraph/PurchaseOrder/42`."
))]
pub enum Node {
    Vendor(Vendor),
    Product(Product),
    InventoryLocation(InventoryLocation),
    BusinessUnit(BusinessUnit),
    PurchaseOrderType(PurchaseOrderType),
    Job(Job),
    Project(Project),
    Technician(Technician),
    JobMaterial(JobMaterial),
    PurchaseOrder(PurchaseOrder),
    PurchaseOrderLine(PurchaseOrderLine),
    Receipt(Receipt),
    ReceiptLine(ReceiptLine),
    Bill(Bill),
    BillLine(BillLine),
    InventoryItem(InventoryItem),
    StockLedgerEntry(StockLedgerEntry),
    SerialNumber(SerialNumber),
}

/// The permission that guards reading a type: the one its fields are guarded by.
fn permission_for(type_name: &str) -> Option<Permission> {
    Some(match type_name {
        "Vendor" => Vendor::READ,
        "Product" => Product::READ,
        "InventoryLocation" => InventoryLocation::READ,
        "BusinessUnit" => BusinessUnit::READ,
        "PurchaseOrderType" => PurchaseOrderType::READ,
        "Job" => Job::READ,
        "Project" => Project::READ,
        "Technician" => Technician::READ,
        "JobMaterial" => JobMaterial::READ,
        "PurchaseOrder" => PurchaseOrder::READ,
        "PurchaseOrderLine" => PurchaseOrderLine::READ,
        "Receipt" => Receipt::READ,
        "ReceiptLine" => ReceiptLine::READ,
        "Bill" => Bill::READ,
        "BillLine" => BillLine::READ,
        "InventoryItem" => InventoryItem::READ,
        "StockLedgerEntry" => StockLedgerEntry::READ,
        "SerialNumber" => SerialNumber::READ,
        _ => return None,
    })
}

async fn resolve(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Node>> {
    let (type_name, row) = parse_gid(id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`{}` is not a stockgraph ID (they look like gid://stockgraph/PurchaseOrder/1)",
            id.0
        ))
    })?;
    let permission = permission_for(type_name)
        .ok_or_else(|| ApiError::BadRequest(format!("`{}` names no stockgraph type", id.0)))?;
    require(ctx, permission)?;
    // An id beyond the 32-bit row range cannot exist.
    let Ok(key) = i32::try_from(row) else {
        return Ok(None);
    };
    Ok(match type_name {
        "Vendor" => load_one(ctx, VendorId(key))
            .await?
            .map(|v| Node::Vendor(Arc::unwrap_or_clone(v))),
        "Product" => load_one(ctx, ProductId(key))
            .await?
            .map(|v| Node::Product(Arc::unwrap_or_clone(v))),
        "InventoryLocation" => load_one(ctx, LocationId(key))
            .await?
            .map(|v| Node::InventoryLocation(Arc::unwrap_or_clone(v))),
        "BusinessUnit" => load_one(ctx, BusinessUnitId(key))
            .await?
            .map(|v| Node::BusinessUnit(Arc::unwrap_or_clone(v))),
        "PurchaseOrderType" => load_one(ctx, PurchaseOrderTypeId(key))
            .await?
            .map(|v| Node::PurchaseOrderType(Arc::unwrap_or_clone(v))),
        "Job" => load_one(ctx, JobId(key))
            .await?
            .map(|v| Node::Job(Arc::unwrap_or_clone(v))),
        "Project" => load_one(ctx, ProjectId(key))
            .await?
            .map(|v| Node::Project(Arc::unwrap_or_clone(v))),
        "Technician" => load_one(ctx, TechnicianId(key))
            .await?
            .map(|v| Node::Technician(Arc::unwrap_or_clone(v))),
        "JobMaterial" => load_one(ctx, JobMaterialId(key))
            .await?
            .map(|v| Node::JobMaterial(Arc::unwrap_or_clone(v))),
        "PurchaseOrder" => load_one(ctx, PurchaseOrderId(key))
            .await?
            .map(|v| Node::PurchaseOrder(Arc::unwrap_or_clone(v))),
        "PurchaseOrderLine" => load_one(ctx, LineId(key))
            .await?
            .map(|v| Node::PurchaseOrderLine(Arc::unwrap_or_clone(v))),
        "Receipt" => load_one(ctx, ReceiptId(key))
            .await?
            .map(|v| Node::Receipt(Arc::unwrap_or_clone(v))),
        "ReceiptLine" => load_one(ctx, ReceiptLineId(key))
            .await?
            .map(|v| Node::ReceiptLine(Arc::unwrap_or_clone(v))),
        "Bill" => load_one(ctx, BillId(key))
            .await?
            .map(|v| Node::Bill(Arc::unwrap_or_clone(v))),
        "BillLine" => load_one(ctx, BillLineId(key))
            .await?
            .map(|v| Node::BillLine(Arc::unwrap_or_clone(v))),
        "InventoryItem" => load_one(ctx, InventoryItemId(key))
            .await?
            .map(|v| Node::InventoryItem(Arc::unwrap_or_clone(v))),
        "SerialNumber" => load_one(ctx, SerialNumberId(key))
            .await?
            .map(|v| Node::SerialNumber(Arc::unwrap_or_clone(v))),
        _ => load_one(ctx, LedgerEntryId(row))
            .await?
            .map(|v| Node::StockLedgerEntry(Arc::unwrap_or_clone(v))),
    })
}

/// Fetches the rows of `ids` the caller may read, one statement per type named, into the
/// request's cache (in a query; elsewhere nothing): each id then resolves from it.
async fn fetch(ctx: &Context<'_>, ids: &[ID]) -> async_graphql::Result<()> {
    let mut by_type: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    for id in ids {
        let Some((type_name, row)) = parse_gid(id) else {
            continue;
        };
        let readable = permission_for(type_name).is_some_and(|p| require(ctx, p).is_ok());
        if readable {
            by_type.entry(type_name).or_default().push(row);
        }
    }
    let fetches = by_type.into_iter().map(|(type_name, rows)| {
        // Rows beyond the 32-bit range cannot exist (ledger entries aside).
        let small: Vec<i32> = rows.iter().filter_map(|&r| i32::try_from(r).ok()).collect();
        let small = move || small.into_iter();
        let fetch: BoxFuture<'_, async_graphql::Result<()>> = match type_name {
            "Vendor" => prime(ctx, small().map(VendorId))
                .map(|r| r.map(drop))
                .boxed(),
            "Product" => prime(ctx, small().map(ProductId))
                .map(|r| r.map(drop))
                .boxed(),
            "InventoryLocation" => prime(ctx, small().map(LocationId))
                .map(|r| r.map(drop))
                .boxed(),
            "BusinessUnit" => prime(ctx, small().map(BusinessUnitId))
                .map(|r| r.map(drop))
                .boxed(),
            "PurchaseOrderType" => prime(ctx, small().map(PurchaseOrderTypeId))
                .map(|r| r.map(drop))
                .boxed(),
            "Job" => prime(ctx, small().map(JobId)).map(|r| r.map(drop)).boxed(),
            "Project" => prime(ctx, small().map(ProjectId))
                .map(|r| r.map(drop))
                .boxed(),
            "Technician" => prime(ctx, small().map(TechnicianId))
                .map(|r| r.map(drop))
                .boxed(),
            "JobMaterial" => prime(ctx, small().map(JobMaterialId))
                .map(|r| r.map(drop))
                .boxed(),
            "PurchaseOrder" => prime(ctx, small().map(PurchaseOrderId))
                .map(|r| r.map(drop))
                .boxed(),
            "PurchaseOrderLine" => prime(ctx, small().map(LineId)).map(|r| r.map(drop)).boxed(),
            "Receipt" => prime(ctx, small().map(ReceiptId))
                .map(|r| r.map(drop))
                .boxed(),
            "ReceiptLine" => prime(ctx, small().map(ReceiptLineId))
                .map(|r| r.map(drop))
                .boxed(),
            "Bill" => prime(ctx, small().map(BillId)).map(|r| r.map(drop)).boxed(),
            "BillLine" => prime(ctx, small().map(BillLineId))
                .map(|r| r.map(drop))
                .boxed(),
            "InventoryItem" => prime(ctx, small().map(InventoryItemId))
                .map(|r| r.map(drop))
                .boxed(),
            "SerialNumber" => prime(ctx, small().map(SerialNumberId))
                .map(|r| r.map(drop))
                .boxed(),
            _ => prime(ctx, rows.into_iter().map(LedgerEntryId))
                .map(|r| r.map(drop))
                .boxed(),
        };
        fetch
    });
    try_join_all(fetches).await.map(drop)
}

/// Primes what the selection asks of `nodes`: one primer per type, over all nodes of it.
async fn prime_nodes<'n>(
    ctx: &Context<'_>,
    nodes: impl Iterator<Item = &'n Node>,
) -> async_graphql::Result<()> {
    /// The rows of each type among the nodes.
    #[derive(Default)]
    struct Rows {
        vendors: Vec<<Vendor as Primable>::Row>,
        products: Vec<<Product as Primable>::Row>,
        locations: Vec<<InventoryLocation as Primable>::Row>,
        jobs: Vec<<Job as Primable>::Row>,
        materials: Vec<<JobMaterial as Primable>::Row>,
        orders: Vec<<PurchaseOrder as Primable>::Row>,
        lines: Vec<<PurchaseOrderLine as Primable>::Row>,
        receipts: Vec<<Receipt as Primable>::Row>,
        bills: Vec<<Bill as Primable>::Row>,
        items: Vec<<InventoryItem as Primable>::Row>,
    }
    let mut rows = Rows::default();
    for node in nodes {
        match node {
            Node::Vendor(v) => rows.vendors.push(v.into()),
            Node::Product(v) => rows.products.push(v.into()),
            Node::InventoryLocation(v) => rows.locations.push(v.into()),
            Node::Job(v) => rows.jobs.push(v.into()),
            Node::JobMaterial(v) => rows.materials.push(v.into()),
            Node::PurchaseOrder(v) => rows.orders.push(v.into()),
            Node::PurchaseOrderLine(v) => rows.lines.push(v.into()),
            Node::Receipt(v) => rows.receipts.push(v.into()),
            Node::Bill(v) => rows.bills.push(v.into()),
            Node::InventoryItem(v) => rows.items.push(v.into()),
            // No relation of these is primed.
            Node::BusinessUnit(_)
            | Node::PurchaseOrderType(_)
            | Node::Project(_)
            | Node::Technician(_)
            | Node::ReceiptLine(_)
            | Node::BillLine(_)
            | Node::StockLedgerEntry(_)
            | Node::SerialNumber(_) => {}
        }
    }
    // Fragments on other types are flattened into the selection: a relation asked for on one
    // type may be primed for another type's field of the same name, never left out.
    let sel = Sel::of(ctx);
    try_join_all([
        primer::descend(ctx, sel.clone(), rows.vendors),
        primer::descend(ctx, sel.clone(), rows.products),
        primer::descend(ctx, sel.clone(), rows.locations),
        primer::descend(ctx, sel.clone(), rows.jobs),
        primer::descend(ctx, sel.clone(), rows.materials),
        primer::descend(ctx, sel.clone(), rows.orders),
        primer::descend(ctx, sel.clone(), rows.lines),
        primer::descend(ctx, sel.clone(), rows.receipts),
        primer::descend(ctx, sel.clone(), rows.bills),
        primer::descend(ctx, sel, rows.items),
    ])
    .await
    .map(drop)
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global ID; null when it does not exist. Needs the permission that
    /// guards its type.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let found = resolve(ctx, &id).await?;
        prime_nodes(ctx, found.iter()).await?;
        Ok(found)
    }

    /// Several objects by global ID, in the order asked (null where one does not exist); at most
    /// the page-size limit at once.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        let limit = max_page_size(ctx);
        if ids.len() > limit {
            return Err(ApiError::BadRequest(format!(
                "{} IDs asked for, but at most {limit} may be fetched at once",
                ids.len()
            ))
            .into());
        }
        // One statement per type, whatever the ids' count or the scheduler's timing.
        fetch(ctx, &ids).await?;
        let found = try_join_all(ids.iter().map(|id| resolve(ctx, id))).await?;
        prime_nodes(ctx, found.iter().flatten()).await?;
        Ok(found)
    }
}
