//! The serial registry: where a serialized unit is and how it got there. Needs `inventory:read`.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject, ID};
use sea_orm::EntityTrait;

use crate::auth::Permission;
use crate::error::ApiError;
use crate::graphql::guard::{Guarded, Identity, Reads};
use crate::graphql::ids::{decode, to_gid};
use crate::graphql::inventory::types::StockLedgerEntry;
use crate::graphql::loaders::{
    load_one, load_required, LocationId, MovementsOfSerial, ProductId, ReceiptId,
};
use crate::graphql::master_data::types::{InventoryLocation, Product};
use crate::graphql::receiving::types::Receipt;
use crate::graphql::scalars::DateTime;
use crate::graphql::{require, state};

/// Where a serialized unit is (DOMAIN.md, Serial numbers).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SerialStatus")]
pub enum SerialStatus {
    /// In stock at its location.
    InStock,
    /// Gone: the receipt that brought it in was cancelled.
    ReceiptCanceled,
    /// Gone: written off by an adjustment.
    AdjustedOut,
}

/// How a serialized unit moved.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SerialMovementKind")]
pub enum SerialMovementKind {
    /// Came in with a receipt.
    Received,
    /// Moved between locations.
    Transferred,
    /// Went out because its receipt was cancelled.
    ReceiptCanceled,
    /// Came in with an adjustment up.
    AdjustedIn,
    /// Went out with an adjustment down.
    AdjustedOut,
}

/// One serialized unit of a product. A serial exists once per product, compared without
/// regard to case or surrounding spaces. Its id shows wherever it is reached; every other field
/// needs `inventory:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct SerialNumber {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    #[graphql(skip)]
    pub product_id: i32,
    #[graphql(skip)]
    pub location_id: Option<i32>,
    /// The serial as first given (trimmed).
    pub number: String,
    /// IN_STOCK, or how it left.
    pub status: SerialStatus,
}

impl From<entity::serial_number::Model> for SerialNumber {
    fn from(m: entity::serial_number::Model) -> Self {
        SerialNumber {
            id: to_gid("SerialNumber", m.id),
            db_id: m.id,
            product_id: m.product_id,
            location_id: m.location_id,
            number: m.serial_number,
            status: m.status.into(),
        }
    }
}

impl Guarded for SerialNumber {
    const READ: Permission = Permission::InventoryRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl SerialNumber {
    /// The product this is a unit of.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Product>> {
        load_required(ctx, ProductId(self.product_id)).await
    }

    /// Where it is while IN_STOCK; null once gone.
    async fn location(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<InventoryLocation>>> {
        match self.location_id {
            Some(id) => load_one(ctx, LocationId(id)).await,
            None => Ok(None),
        }
    }

    /// Every movement, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SerialMovement>> {
        Ok(load_one(ctx, MovementsOfSerial(self.db_id))
            .await?
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(SerialMovement::from)
            .collect())
    }
}

/// One step in the history of a serialized unit; needs `inventory:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct SerialMovement {
    /// What happened.
    pub kind: SerialMovementKind,
    /// When.
    pub occurred_at: DateTime,
    /// Token subject of who did it.
    pub actor: String,
    #[graphql(skip)]
    pub receipt_id: Option<i32>,
    #[graphql(skip)]
    pub ledger_entry_id: Option<i64>,
    #[graphql(skip)]
    pub from_location_id: Option<i32>,
    #[graphql(skip)]
    pub to_location_id: Option<i32>,
}

impl From<entity::serial_movement::Model> for SerialMovement {
    fn from(m: entity::serial_movement::Model) -> Self {
        SerialMovement {
            kind: m.kind.into(),
            occurred_at: DateTime(m.occurred_at),
            actor: m.actor,
            receipt_id: m.receipt_id,
            ledger_entry_id: m.ledger_entry_id,
            from_location_id: m.from_location_id,
            to_location_id: m.to_location_id,
        }
    }
}

impl Guarded for SerialMovement {
    const READ: Permission = Permission::InventoryRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl SerialMovement {
    /// The receipt that brought it in or whose cancellation took it out (its identity; the
    /// rest needs `purchase_orders:read`).
    async fn receipt(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Receipt>>> {
        match self.receipt_id {
            Some(id) => load_one(ctx, ReceiptId(id)).await,
            None => Ok(None),
        }
    }

    /// The stock-ledger entry of the transfer or adjustment that moved it.
    async fn ledger_entry(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<StockLedgerEntry>> {
        let Some(id) = self.ledger_entry_id else {
            return Ok(None);
        };
        Ok(entity::stock_ledger_entry::Entity::find_by_id(id)
            .one(&state(ctx).db)
            .await
            .map_err(ApiError::from)?
            .map(StockLedgerEntry::from))
    }

    /// Where it left from (transfer, cancelled receipt, adjustment out).
    #[graphql(name = "fromLocation")]
    async fn departed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<InventoryLocation>>> {
        match self.from_location_id {
            Some(id) => load_one(ctx, LocationId(id)).await,
            None => Ok(None),
        }
    }

    /// Where it arrived (receipt, transfer, adjustment in).
    #[graphql(name = "toLocation")]
    async fn arrived(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<InventoryLocation>>> {
        match self.to_location_id {
            Some(id) => load_one(ctx, LocationId(id)).await,
            None => Ok(None),
        }
    }
}

#[derive(Default)]
pub struct SerialQuery;

#[Object]
impl SerialQuery {
    /// Where a unit of a serialized product is, and its history; null when the serial was
    /// never received. The number is compared without regard to case or surrounding spaces.
    async fn serial_number(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product.")] product_id: ID,
        #[graphql(desc = "The serial, as printed on the unit.")] number: String,
    ) -> async_graphql::Result<Option<SerialNumber>> {
        require(ctx, Permission::InventoryRead)?;
        let product = decode(&product_id, "Product")?;
        Ok(
            crate::services::serials::find(&state(ctx).db, product, &number)
                .await
                .map_err(ApiError::internal)?
                .map(SerialNumber::from),
        )
    }
}
