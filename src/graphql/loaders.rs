//! Per-request DataLoaders: every relation edge is fetched in one batched statement per query
//! level, so the statement count of a query follows its depth, not its row count.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use crate::error::ApiError;
use crate::graphql::master_data::types::{
    BusinessUnit, InventoryLocation, Job, Product, Project, PurchaseOrderType, Technician, Vendor,
};
use crate::graphql::purchasing::types::{PurchaseOrder, PurchaseOrderLine};

/// The loader of one request, as stored in the GraphQL context.
pub type RequestLoader = Arc<DataLoader<DbLoader>>;

/// Loads rows for one request; wrapped in a [`DataLoader`] that batches and caches.
pub struct DbLoader {
    db: DatabaseConnection,
}

impl DbLoader {
    /// A fresh, empty loader for one request (shared by the operations of a batch).
    pub fn data_loader(db: DatabaseConnection) -> RequestLoader {
        Arc::new(DataLoader::new(DbLoader { db }, tokio::spawn))
    }
}

fn db_error(err: sea_orm::DbErr) -> async_graphql::Error {
    ApiError::internal(err).into()
}

/// Loads one value through the request's loader.
pub async fn load_one<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<Option<<DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Error = async_graphql::Error>,
{
    ctx.data_unchecked::<RequestLoader>().load_one(key).await
}

/// Loads a value that must exist (a non-null foreign key); its absence is an internal error.
pub async fn load_required<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<<DbLoader as Loader<K>>::Value>
where
    K: Send + Sync + Hash + Eq + Clone + std::fmt::Debug + 'static,
    DbLoader: Loader<K, Error = async_graphql::Error>,
{
    let missing = format!("dangling reference {key:?}");
    load_one(ctx, key)
        .await?
        .ok_or_else(|| ApiError::internal(missing).into())
}

macro_rules! by_id_loader {
    ($(#[$doc:meta])* $key:ident => $module:ident as $value:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i32);

        impl Loader<$key> for DbLoader {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, Self::Error> {
                let rows = entity::$module::Entity::find()
                    .filter(entity::$module::Column::Id.is_in(keys.iter().map(|k| k.0)))
                    .all(&self.db)
                    .await
                    .map_err(db_error)?;
                Ok(rows.into_iter().map(|m| ($key(m.id), <$value>::from(m))).collect())
            }
        }
    };
}

by_id_loader!(
    /// A vendor by row id.
    VendorId => vendor as Vendor
);
by_id_loader!(
    /// A product by row id.
    ProductId => product as Product
);
by_id_loader!(
    /// A location by row id.
    LocationId => inventory_location as InventoryLocation
);
by_id_loader!(
    /// A business unit by row id.
    BusinessUnitId => business_unit as BusinessUnit
);
by_id_loader!(
    /// A purchase-order type by row id.
    PurchaseOrderTypeId => purchase_order_type as PurchaseOrderType
);
by_id_loader!(
    /// A job by row id.
    JobId => job as Job
);
by_id_loader!(
    /// A project by row id.
    ProjectId => project as Project
);
by_id_loader!(
    /// A technician by row id.
    TechnicianId => technician as Technician
);
by_id_loader!(
    /// A purchase-order line by row id.
    LineId => purchase_order_line as PurchaseOrderLine
);
by_id_loader!(
    /// A purchase order by row id.
    PurchaseOrderId => purchase_order as PurchaseOrder
);

/// All lines of a purchase order, in line-number order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinesOfPurchaseOrder(pub i32);

impl Loader<LinesOfPurchaseOrder> for DbLoader {
    type Value = Vec<entity::purchase_order_line::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[LinesOfPurchaseOrder],
    ) -> Result<HashMap<LinesOfPurchaseOrder, Self::Value>, Self::Error> {
        use entity::purchase_order_line::{Column, Entity};
        let rows = Entity::find()
            .filter(Column::PurchaseOrderId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(Column::LineNumber)
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let mut grouped: HashMap<LinesOfPurchaseOrder, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            grouped
                .entry(LinesOfPurchaseOrder(row.purchase_order_id))
                .or_default()
                .push(row);
        }
        Ok(grouped)
    }
}
