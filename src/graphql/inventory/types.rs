//! Inventory items (stock of one product at one location) and stock-ledger entries.

use std::sync::Arc;

use async_graphql::connection::{ConnectionNameType, EdgeNameType};
use async_graphql::{ComplexObject, Context, OutputType, SimpleObject, ID};

use crate::auth::Permission;
use crate::domain::stock;
use crate::graphql::guard::{Guarded, Identity, Reads};
use crate::graphql::ids::to_gid;
use crate::graphql::loaders::{load_required, LedgerOfItem, LocationId, ProductId};
use crate::graphql::master_data::types::{InventoryLocation, Product};
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::window::{nested_page, NamedPage};

/// Stock of one product at one location. Its id shows wherever it is reached; every other field
/// needs `inventory:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct InventoryItem {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    #[graphql(skip)]
    pub product_id: i32,
    #[graphql(skip)]
    pub location_id: i32,
    /// Bin within the location.
    pub bin: Option<String>,
    /// Free reference number.
    pub reference_number: Option<String>,
    /// Physically present.
    pub on_hand: Decimal,
    /// Open quantity on submitted purchase orders.
    pub on_order: Decimal,
    /// Picked for jobs, still on hand.
    pub picked: Decimal,
    /// Reserved for jobs, still on hand.
    pub reserved: Decimal,
    /// Open quantity on backorder purchase orders (part of on order).
    pub backordered: Decimal,
    /// on hand − picked − reserved.
    pub available: Decimal,
    /// Reorder point.
    pub minimum: Decimal,
    /// Reorder up to this quantity.
    pub maximum: Option<Decimal>,
    /// When it last changed.
    pub updated_at: DateTime,
}

impl From<entity::inventory_item::Model> for InventoryItem {
    fn from(m: entity::inventory_item::Model) -> Self {
        InventoryItem {
            id: to_gid("InventoryItem", m.id),
            db_id: m.id,
            product_id: m.product_id,
            location_id: m.location_id,
            bin: m.bin,
            reference_number: m.reference_number,
            on_hand: m.on_hand.into(),
            on_order: m.on_order.into(),
            picked: m.picked.into(),
            reserved: m.reserved.into(),
            backordered: m.backordered.into(),
            available: Decimal::quantity(stock::available(
                m.on_hand.to_decimal(),
                m.picked.to_decimal(),
                m.reserved.to_decimal(),
            )),
            minimum: m.minimum.into(),
            maximum: m.maximum.map(Into::into),
            updated_at: DateTime(m.updated_at),
        }
    }
}

impl Guarded for InventoryItem {
    const READ: Permission = Permission::InventoryRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl InventoryItem {
    /// The product stocked.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Product>> {
        load_required(ctx, ProductId(self.product_id)).await
    }

    /// Where it is stocked.
    async fn location(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<InventoryLocation>> {
        load_required(ctx, LocationId(self.location_id)).await
    }

    /// Every change of on-hand, oldest first; the deltas sum to on hand.
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> async_graphql::Result<NamedPage<StockLedgerEntry, LedgerConnectionName, LedgerEdgeName>>
    {
        let parent = self.db_id;
        nested_page(
            ctx,
            first,
            after,
            |after, limit| LedgerOfItem {
                parent,
                after,
                limit,
            },
            |m: &entity::stock_ledger_entry::Model| m.id,
            StockLedgerEntry::from,
        )
        .await
    }
}

/// Names the ledger's connection `StockLedgerConnection`, as the API contract does.
pub struct LedgerConnectionName;

impl ConnectionNameType for LedgerConnectionName {
    fn type_name<T: OutputType>() -> String {
        "StockLedgerConnection".to_owned()
    }
}

/// Names the ledger's edges `StockLedgerEdge`.
pub struct LedgerEdgeName;

impl EdgeNameType for LedgerEdgeName {
    fn type_name<T: OutputType>() -> String {
        "StockLedgerEdge".to_owned()
    }
}

/// One append-only change of on-hand stock. Its id shows wherever it is reached; every other
/// field needs `inventory:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(guard = "Reads(Self::READ)")]
pub struct StockLedgerEntry {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    /// Change of on hand (negative for stock leaving).
    pub delta: Decimal,
    /// RECEIPT, RECEIPT_CANCELED, TRANSFER_IN, TRANSFER_OUT, ADJUSTMENT …
    pub reason: String,
    /// Type of the document that caused it (`Receipt` …).
    pub source_type: Option<String>,
    /// Global ID of that document.
    pub source_id: Option<ID>,
    /// Token subject of whoever caused it.
    pub actor: String,
    /// Free text.
    pub memo: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime,
}

impl Guarded for StockLedgerEntry {
    const READ: Permission = Permission::InventoryRead;
}

impl From<entity::stock_ledger_entry::Model> for StockLedgerEntry {
    fn from(m: entity::stock_ledger_entry::Model) -> Self {
        let source_id = match (&m.source_type, m.source_id) {
            (Some(kind), Some(id)) => Some(to_gid(kind, id)),
            _ => None,
        };
        StockLedgerEntry {
            id: to_gid("StockLedgerEntry", m.id),
            delta: m.delta.into(),
            reason: m.reason,
            source_type: m.source_type,
            source_id,
            actor: m.actor,
            memo: m.memo,
            occurred_at: DateTime(m.occurred_at),
        }
    }
}
