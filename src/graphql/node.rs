//! The `Node` interface and `node` / `nodes`: any object by its global ID, each checked against
//! the permission that guards its type.

use async_graphql::{Context, Interface, Object, ID};
use sea_orm::EntityTrait;

use crate::auth::Permission;
use crate::error::ApiError;
use crate::graphql::guard::Guarded;
use crate::graphql::ids::parse_gid;
use crate::graphql::inventory::serials::SerialNumber;
use crate::graphql::inventory::types::{InventoryItem, StockLedgerEntry};
use crate::graphql::loaders::{
    load_one, BillId, BillLineId, BusinessUnitId, InventoryItemId, JobId, JobMaterialId, LineId,
    LocationId, ProductId, ProjectId, PurchaseOrderId, PurchaseOrderTypeId, ReceiptId,
    ReceiptLineId, SerialNumberId, TechnicianId, VendorId,
};
use crate::graphql::master_data::types::{
    BusinessUnit, InventoryLocation, Job, JobMaterial, Product, Project, PurchaseOrderType,
    Technician, Vendor,
};
use crate::graphql::purchasing::types::{PurchaseOrder, PurchaseOrderLine};
use crate::graphql::receiving::types::{Bill, BillLine, Receipt, ReceiptLine};
use crate::graphql::{max_page_size, require, state};

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
        "Vendor" => load_one(ctx, VendorId(key)).await?.map(Node::Vendor),
        "Product" => load_one(ctx, ProductId(key)).await?.map(Node::Product),
        "InventoryLocation" => load_one(ctx, LocationId(key))
            .await?
            .map(Node::InventoryLocation),
        "BusinessUnit" => load_one(ctx, BusinessUnitId(key))
            .await?
            .map(Node::BusinessUnit),
        "PurchaseOrderType" => load_one(ctx, PurchaseOrderTypeId(key))
            .await?
            .map(Node::PurchaseOrderType),
        "Job" => load_one(ctx, JobId(key)).await?.map(Node::Job),
        "Project" => load_one(ctx, ProjectId(key)).await?.map(Node::Project),
        "Technician" => load_one(ctx, TechnicianId(key))
            .await?
            .map(Node::Technician),
        "JobMaterial" => load_one(ctx, JobMaterialId(key))
            .await?
            .map(Node::JobMaterial),
        "PurchaseOrder" => load_one(ctx, PurchaseOrderId(key))
            .await?
            .map(Node::PurchaseOrder),
        "PurchaseOrderLine" => load_one(ctx, LineId(key))
            .await?
            .map(Node::PurchaseOrderLine),
        "Receipt" => load_one(ctx, ReceiptId(key)).await?.map(Node::Receipt),
        "ReceiptLine" => load_one(ctx, ReceiptLineId(key))
            .await?
            .map(Node::ReceiptLine),
        "Bill" => load_one(ctx, BillId(key)).await?.map(Node::Bill),
        "BillLine" => load_one(ctx, BillLineId(key)).await?.map(Node::BillLine),
        "InventoryItem" => load_one(ctx, InventoryItemId(key))
            .await?
            .map(Node::InventoryItem),
        "SerialNumber" => load_one(ctx, SerialNumberId(key))
            .await?
            .map(Node::SerialNumber),
        // Single ledger entries are rarely fetched alone; read it directly.
        _ => entity::stock_ledger_entry::Entity::find_by_id(row)
            .one(&state(ctx).db)
            .await
            .map_err(ApiError::from)?
            .map(|m| Node::StockLedgerEntry(m.into())),
    })
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global ID; null when it does not exist. Needs the permission that
    /// guards its type.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        resolve(ctx, &id).await
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
        // Resolved concurrently, so the loaders batch them into one statement per type.
        futures_util::future::try_join_all(ids.iter().map(|id| resolve(ctx, id))).await
    }
}
