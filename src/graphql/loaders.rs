//! Per-request loading: every relation of a list is fetched for the whole list in one
//! statement, so the statement count of a query follows its shape, not its row count.
//!
//! Two mechanisms work together:
//! - **Priming** ([`crate::graphql::prime`]): a resolver that returns a list (a root connection,
//!   a single root object) looks at the selection set and fetches each requested relation of
//!   the whole list at once, level by level, into the request's cache. The resolvers below it
//!   then find their rows there and never wait. Statements depend only on the query's shape.
//! - **The stock async-graphql [`DataLoader`]**, for what no primer covers (a relation asked
//!   for from a mutation payload or a subscription event): it batches the keys asked for
//!   within [`BATCH_DELAY`].
//!
//! Cached rows are shared (`Arc`): every field that reads a key gets the same row or list,
//! never a copy of it.
//!
//! Queries and mutations prime; subscriptions (and every operation of a WebSocket session,
//! whose loader outlives them) do not. A mutation runs its root fields one after another and
//! each may change what an earlier one read, so in a mutation the cache belongs to one root
//! field at a time: the rows primed for one field's payload are dropped when the next field
//! primes or reads. Each operation gets its own loader.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::parser::types::OperationType;
use async_graphql::{Context, QueryPathSegment};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use crate::db::retry_read;
use crate::error::ApiError;
use crate::graphql::inventory::types::InventoryItem;
use crate::graphql::master_data::types::{
    BusinessUnit, InventoryLocation, Job, JobMaterial, Product, Project, PurchaseOrderType,
    Technician, Vendor,
};
use crate::graphql::purchasing::types::{PurchaseOrder, PurchaseOrderLine};
use crate::graphql::receiving::types::{Bill, BillLine, Receipt, ReceiptLine};

/// How long the stock loader gathers keys before it queries. Only relations no primer covers
/// use it; a short wait merges the keys a list's items ask for in the same scheduler round.
pub const BATCH_DELAY: std::time::Duration = std::time::Duration::from_millis(1);

/// The loader of one operation, as stored in the GraphQL context.
pub type RequestLoader = Arc<BatchingLoader>;

/// Loads rows for one request: what the loaders below query through.
pub struct DbLoader {
    db: DatabaseConnection,
}

/// The primed rows of one key type: `None` records a key known to have no row.
type Primed<K, V> = HashMap<K, Option<V>>;

/// The rows primers fetched, by key type (a [`Primed`] map each).
#[derive(Default)]
struct PrimedRows {
    /// In a mutation, the root field (its response key) the rows were primed for; `None` in a
    /// query, where they serve the whole operation.
    scope: Option<String>,
    by_type: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl PrimedRows {
    /// Makes `scope` the current one, dropping the rows of any other.
    fn enter(&mut self, scope: Option<&str>) {
        if self.scope.as_deref() != scope {
            self.by_type.clear();
            self.scope = scope.map(str::to_owned);
        }
    }
}

/// The request's stock loader plus the rows primers fetched ahead for whole lists.
pub struct BatchingLoader {
    loader: DataLoader<DbLoader>,
    /// Only primers write it (see the module comment for when).
    primed: std::sync::Mutex<PrimedRows>,
    /// False for the loader a WebSocket session shares across its operations: a cache there
    /// would serve one event the rows of an earlier one.
    may_prime: bool,
}

impl DbLoader {
    /// A fresh, empty loader for one operation: primers may fill its cache.
    pub fn data_loader(db: DatabaseConnection) -> RequestLoader {
        Self::build(db, true)
    }

    /// A loader shared by the operations of a long-lived session: it never caches.
    pub fn session_loader(db: DatabaseConnection) -> RequestLoader {
        Self::build(db, false)
    }

    fn build(db: DatabaseConnection, may_prime: bool) -> RequestLoader {
        Arc::new(BatchingLoader {
            loader: DataLoader::new(DbLoader { db }, crate::request_id::spawn).delay(BATCH_DELAY),
            primed: std::sync::Mutex::new(PrimedRows::default()),
            may_prime,
        })
    }
}

impl BatchingLoader {
    fn primed(&self) -> std::sync::MutexGuard<'_, PrimedRows> {
        // Plain maps: consistent whatever a panicking holder did.
        self.primed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The primed row of `key`: `Some(None)` when it is known to have none, `None` when it
    /// was not primed.
    fn cached<K>(
        &self,
        ctx: &Context<'_>,
        key: &K,
    ) -> Option<Option<<DbLoader as Loader<K>>::Value>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        DbLoader: Loader<K>,
    {
        let mut primed = self.primed();
        primed.enter(scope(ctx).as_deref());
        primed
            .by_type
            .get(&TypeId::of::<K>())?
            .downcast_ref::<Primed<K, <DbLoader as Loader<K>>::Value>>()?
            .get(key)
            .cloned()
    }
}

/// True when the operation being executed primes: a query or a mutation.
fn primes(ctx: &Context<'_>) -> bool {
    ctx.query_env.operation.node.ty != OperationType::Subscription
}

/// Whose primed rows a field may read: in a mutation, its root field's (response key); in a
/// query, the operation's (`None`).
fn scope(ctx: &Context<'_>) -> Option<String> {
    if ctx.query_env.operation.node.ty != OperationType::Mutation {
        return None;
    }
    let mut node = ctx.path_node.as_ref()?;
    while let Some(parent) = node.parent {
        node = parent;
    }
    match node.segment {
        QueryPathSegment::Name(name) => Some(name.to_owned()),
        QueryPathSegment::Index(_) => None,
    }
}

/// Fetches the rows of `keys` in one statement, records them (and the keys that have none) in
/// the request's cache, and returns them for the next level.
/// Returns nothing, and fetches nothing, where priming is off (subscriptions, WebSocket
/// sessions).
pub async fn prime<K>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> async_graphql::Result<Vec<<DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Error = async_graphql::Error>,
{
    let Some(loader) = ctx.data_opt::<RequestLoader>() else {
        return Ok(Vec::new());
    };
    if !loader.may_prime || !primes(ctx) {
        return Ok(Vec::new());
    }
    let mut wanted: Vec<K> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for key in keys {
        if seen.insert(key.clone()) {
            wanted.push(key);
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    // Every key is fetched even when another branch primed it already: whether that branch
    // finished first is timing, and the statement count must not depend on it.
    let mut found = loader.loader.loader().load(&wanted).await?;
    let mut primed = loader.primed();
    primed.enter(scope(ctx).as_deref());
    let map = primed
        .by_type
        .entry(TypeId::of::<K>())
        .or_insert_with(|| Box::new(Primed::<K, <DbLoader as Loader<K>>::Value>::new()));
    let Some(map) = map.downcast_mut::<Primed<K, <DbLoader as Loader<K>>::Value>>() else {
        return Ok(Vec::new());
    };
    let mut values = Vec::with_capacity(found.len());
    for key in wanted {
        let value = found.remove(&key);
        if let Some(value) = &value {
            values.push(value.clone());
        }
        map.insert(key, value);
    }
    Ok(values)
}

/// The rows of each key (in the order read, none for a key without rows), shared: every field
/// that reads a key's rows gets the same vector, never a copy.
fn group<K: Copy + Hash + Eq, M>(
    keys: &[K],
    rows: Vec<M>,
    key_of: impl Fn(&M) -> Option<K>,
) -> HashMap<K, Arc<Vec<M>>> {
    let mut grouped: HashMap<K, Vec<M>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for row in rows {
        if let Some(key) = key_of(&row) {
            grouped.entry(key).or_default().push(row);
        }
    }
    grouped
        .into_iter()
        .map(|(key, rows)| (key, Arc::new(rows)))
        .collect()
}

fn db_error(err: sea_orm::DbErr) -> async_graphql::Error {
    ApiError::from(err).into()
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
    let loader = ctx.data_unchecked::<RequestLoader>();
    if let Some(primed) = loader.cached(ctx, &key) {
        return Ok(primed);
    }
    loader.loader.load_one(key).await
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
    load_one(ctx, key.clone())
        .await?
        .ok_or_else(|| ApiError::internal(format!("dangling reference {key:?}")).into())
}

/// Loads several values through the request's loader in one batch.
pub async fn load_many<K>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> async_graphql::Result<HashMap<K, <DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Error = async_graphql::Error>,
{
    let loader = ctx.data_unchecked::<RequestLoader>();
    let mut found = HashMap::new();
    let mut rest = Vec::new();
    for key in keys {
        match loader.cached(ctx, &key) {
            Some(Some(value)) => {
                found.insert(key, value);
            }
            Some(None) => {}
            None => rest.push(key),
        }
    }
    if !rest.is_empty() {
        found.extend(loader.loader.load_many(rest).await?);
    }
    Ok(found)
}

/// The columns the GraphQL types of the hot read path show, and so the only ones their loaders
/// select (rows are decoded by column name, so every unshown column costs a lookup and a
/// decode per row). The types convert from these, never from whole rows, so a column one of
/// them needs and the select leaves out does not compile.
pub mod columns {
    use entity::Fixed4;
    use sea_orm::prelude::{Date, DateTimeUtc};
    use sea_orm::DerivePartialModel;

    /// A purchase-order line without its timestamps.
    #[derive(DerivePartialModel, Clone, Debug)]
    #[sea_orm(entity = "entity::purchase_order_line::Entity")]
    pub struct LineColumns {
        pub id: i32,
        pub purchase_order_id: i32,
        pub line_number: i32,
        pub product_id: i32,
        pub location_id: i32,
        pub quantity: Fixed4,
        pub quantity_received: Fixed4,
        pub unit_cost: Fixed4,
        pub estimated_arrival: Option<Date>,
        pub memo: Option<String>,
        pub job_id: Option<i32>,
        pub project_id: Option<i32>,
    }

    /// A line priced for the order's totals (`domain::totals`).
    impl From<&LineColumns> for crate::domain::totals::PricedLine {
        fn from(line: &LineColumns) -> Self {
            Self {
                quantity: line.quantity.to_decimal(),
                unit_cost: line.unit_cost.to_decimal(),
            }
        }
    }

    impl From<entity::purchase_order_line::Model> for LineColumns {
        fn from(m: entity::purchase_order_line::Model) -> Self {
            LineColumns {
                id: m.id,
                purchase_order_id: m.purchase_order_id,
                line_number: m.line_number,
                product_id: m.product_id,
                location_id: m.location_id,
                quantity: m.quantity,
                quantity_received: m.quantity_received,
                unit_cost: m.unit_cost,
                estimated_arrival: m.estimated_arrival,
                memo: m.memo,
                job_id: m.job_id,
                project_id: m.project_id,
            }
        }
    }

    /// A product without `updated_at`.
    #[derive(DerivePartialModel, Clone, Debug)]
    #[sea_orm(entity = "entity::product::Entity")]
    pub struct ProductColumns {
        pub id: i32,
        pub sku: String,
        pub description: String,
        pub unit_of_measure: String,
        pub default_unit_cost: Fixed4,
        pub preferred_vendor_id: Option<i32>,
        pub serialized: bool,
        pub over_receipt_allowance_percent: Option<Fixed4>,
        pub active: bool,
        pub created_at: DateTimeUtc,
    }

    impl From<entity::product::Model> for ProductColumns {
        fn from(m: entity::product::Model) -> Self {
            ProductColumns {
                id: m.id,
                sku: m.sku,
                description: m.description,
                unit_of_measure: m.unit_of_measure,
                default_unit_cost: m.default_unit_cost,
                preferred_vendor_id: m.preferred_vendor_id,
                serialized: m.serialized,
                over_receipt_allowance_percent: m.over_receipt_allowance_percent,
                active: m.active,
                created_at: m.created_at,
            }
        }
    }

    /// A location without `updated_at`.
    #[derive(DerivePartialModel, Clone, Debug)]
    #[sea_orm(entity = "entity::inventory_location::Entity")]
    pub struct LocationColumns {
        pub id: i32,
        pub code: String,
        pub name: String,
        pub active: bool,
        pub street: Option<String>,
        pub city: Option<String>,
        pub region: Option<String>,
        pub postal_code: Option<String>,
        pub country: Option<String>,
        pub created_at: DateTimeUtc,
    }

    impl From<entity::inventory_location::Model> for LocationColumns {
        fn from(m: entity::inventory_location::Model) -> Self {
            LocationColumns {
                id: m.id,
                code: m.code,
                name: m.name,
                active: m.active,
                street: m.street,
                city: m.city,
                region: m.region,
                postal_code: m.postal_code,
                country: m.country,
                created_at: m.created_at,
            }
        }
    }
}

/// Generates a loader of `$module` rows by id as `$value` (selecting `$columns` when given,
/// else every column).
macro_rules! by_id_loader {
    ($(#[$doc:meta])* $key:ident => $module:ident as $value:ty, columns $columns:ty) => {
        by_id_loader!(@ $(#[$doc])* $key, $module, $value, .into_partial_model::<$columns>());
    };
    ($(#[$doc:meta])* $key:ident => $module:ident as $value:ty) => {
        by_id_loader!(@ $(#[$doc])* $key, $module, $value,);
    };
    (@ $(#[$doc:meta])* $key:ident, $module:ident, $value:ty, $($select:tt)*) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i32);

        impl Loader<$key> for DbLoader {
            type Value = Arc<$value>;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Arc<$value>>, Self::Error> {
                let db = &self.db;
                let rows = retry_read(|| {
                    entity::$module::Entity::find()
                        .filter(entity::$module::Column::Id.is_in(keys.iter().map(|k| k.0)))
                        $($select)*
                        .all(db)
                })
                .await
                .map_err(db_error)?;
                Ok(rows
                    .into_iter()
                    .map(|m| ($key(m.id), Arc::new(<$value>::from(m))))
                    .collect())
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
    ProductId => product as Product, columns columns::ProductColumns
);
by_id_loader!(
    /// A location by row id.
    LocationId => inventory_location as InventoryLocation, columns columns::LocationColumns
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
    type Value = Arc<Vec<columns::LineColumns>>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[LinesOfPurchaseOrder],
    ) -> Result<HashMap<LinesOfPurchaseOrder, Self::Value>, Self::Error> {
        use entity::purchase_order_line::{Column, Entity};
        let db = &self.db;
        let rows = retry_read(|| {
            Entity::find()
                .filter(Column::PurchaseOrderId.is_in(keys.iter().map(|k| k.0)))
                .order_by_asc(Column::LineNumber)
                .into_partial_model::<columns::LineColumns>()
                .all(db)
        })
        .await
        .map_err(db_error)?;
        Ok(group(keys, rows, |row| {
            Some(LinesOfPurchaseOrder(row.purchase_order_id))
        }))
    }
}

/// Generates a loader of the rows of `$module` whose `$column` is the key, ordered by id.
macro_rules! children_loader {
    ($(#[$doc:meta])* $key:ident => $module:ident by $column:ident / $field:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i32);

        impl Loader<$key> for DbLoader {
            type Value = Arc<Vec<entity::$module::Model>>;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                use entity::$module::{Column, Entity};
                let db = &self.db;
                let rows = retry_read(|| {
                    Entity::find()
                        .filter(Column::$column.is_in(keys.iter().map(|k| k.0)))
                        .order_by_asc(Column::Id)
                        .all(db)
                })
                .await
                .map_err(db_error)?;
                Ok(group(keys, rows, |row| Option::<i32>::from(row.$field).map($key)))
            }
        }
    };
}

children_loader!(
    /// The receipts of a purchase order, oldest first.
    ReceiptsOfPurchaseOrder => receipt by PurchaseOrderId / purchase_order_id
);
children_loader!(
    /// The bills and credits of a purchase order, oldest first.
    BillsOfPurchaseOrder => bill by PurchaseOrderId / purchase_order_id
);
children_loader!(
    /// The bills and credits of a receipt, oldest first.
    BillsOfReceipt => bill by ReceiptId / receipt_id
);
children_loader!(
    /// The lines of a receipt.
    LinesOfReceipt => receipt_line by ReceiptId / receipt_id
);
children_loader!(
    /// The serial numbers of a receipt line.
    SerialsOfReceiptLine => receipt_serial by ReceiptLineId / receipt_line_id
);
children_loader!(
    /// The lines of a bill.
    LinesOfBill => bill_line by BillId / bill_id
);
children_loader!(
    /// The job material a purchase-order line fills (at most one).
    MaterialOfLine => job_material by PurchaseOrderLineId / purchase_order_line_id
);
children_loader!(
    /// The backorders of a purchase order, oldest first.
    BackordersOf => purchase_order by BackorderOfId / backorder_of_id
);

by_id_loader!(
    /// A job material by row id.
    JobMaterialId => job_material as JobMaterial
);
by_id_loader!(
    /// A receipt line by row id.
    ReceiptLineId => receipt_line as ReceiptLine
);
by_id_loader!(
    /// A bill line by row id.
    BillLineId => bill_line as BillLine
);
by_id_loader!(
    /// An inventory item by row id.
    InventoryItemId => inventory_item as InventoryItem
);
by_id_loader!(
    /// A receipt by row id.
    ReceiptId => receipt as Receipt
);
by_id_loader!(
    /// A bill by row id.
    BillId => bill as Bill
);

/// The inventory item of (product, location), if one exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ItemAt {
    pub product_id: i32,
    pub location_id: i32,
}

impl Loader<ItemAt> for DbLoader {
    type Value = Arc<InventoryItem>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[ItemAt],
    ) -> Result<HashMap<ItemAt, Arc<InventoryItem>>, Self::Error> {
        use entity::inventory_item::{Column, Entity};
        let db = &self.db;
        let rows = retry_read(|| {
            Entity::find()
                .filter(Column::ProductId.is_in(keys.iter().map(|k| k.product_id)))
                .filter(Column::LocationId.is_in(keys.iter().map(|k| k.location_id)))
                .all(db)
        })
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|m| {
                let key = ItemAt {
                    product_id: m.product_id,
                    location_id: m.location_id,
                };
                (key, Arc::new(InventoryItem::from(m)))
            })
            .filter(|(key, _)| keys.contains(key))
            .collect())
    }
}

use crate::graphql::window::window_loader;

window_loader!(
    /// A page of a vendor's purchase orders.
    PurchaseOrdersOfVendor => purchase_order by "vendor_id", "purchase_orders", id i32
);
window_loader!(
    /// A page of a vendor's bills.
    BillsOfVendor => bill by "vendor_id", "bills", id i32
);
window_loader!(
    /// A page of the stock kept at a location.
    ItemsOfLocation => inventory_item by "location_id", "inventory_items", id i32
);
window_loader!(
    /// A page of the stock of a product across locations.
    ItemsOfProduct => inventory_item by "product_id", "inventory_items", id i32
);
window_loader!(
    /// A page of an item's stock-ledger entries.
    LedgerOfItem => stock_ledger_entry by "inventory_item_id", "stock_ledger_entries", id i64
);
window_loader!(
    /// A page of the purchase orders bought for a job: linked on the order or on one of its
    /// lines (the "table" is the union of both links, each order once per job).
    PurchaseOrdersOfJob => purchase_order by "job_id",
    "(SELECT id, job_id FROM purchase_orders WHERE job_id IS NOT NULL \
     UNION SELECT purchase_order_id AS id, job_id FROM purchase_order_lines \
     WHERE job_id IS NOT NULL) AS linked",
    id i32
);
window_loader!(
    /// A page of a job's materials.
    MaterialsOfJob => job_material by "job_id", "job_materials", id i32
);

by_id_loader!(
    /// A serialized unit by row id.
    SerialNumberId => serial_number as crate::graphql::inventory::serials::SerialNumber
);

/// A stock ledger entry by row id (64-bit, unlike the other tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LedgerEntryId(pub i64);

impl Loader<LedgerEntryId> for DbLoader {
    type Value = Arc<crate::graphql::inventory::types::StockLedgerEntry>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[LedgerEntryId],
    ) -> Result<HashMap<LedgerEntryId, Self::Value>, Self::Error> {
        use entity::stock_ledger_entry::{Column, Entity};
        let db = &self.db;
        let rows = retry_read(|| {
            Entity::find()
                .filter(Column::Id.is_in(keys.iter().map(|k| k.0)))
                .all(db)
        })
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|m| (LedgerEntryId(m.id), Arc::new(m.into())))
            .collect())
    }
}

/// The movements of a serialized unit, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MovementsOfSerial(pub i32);

impl Loader<MovementsOfSerial> for DbLoader {
    type Value = Arc<Vec<entity::serial_movement::Model>>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[MovementsOfSerial],
    ) -> Result<HashMap<MovementsOfSerial, Self::Value>, Self::Error> {
        use entity::serial_movement::{Column, Entity};
        let rows = Entity::find()
            .filter(Column::SerialNumberId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await
            .map_err(db_error)?;
        Ok(group(keys, rows, |row| {
            Some(MovementsOfSerial(row.serial_number_id))
        }))
    }
}
