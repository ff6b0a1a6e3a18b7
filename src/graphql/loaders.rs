//! Per-request DataLoaders: every relation edge is fetched in one batched statement per query
//! level, so the statement count of a query follows its depth, not its row count.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextSubscribe,
};
use async_graphql::Context;
use futures_util::stream::BoxStream;
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

/// The loader of one request, as stored in the GraphQL context.
pub type RequestLoader = Arc<BatchingLoader>;

/// Loads rows for one request; wrapped in a [`DataLoader`] that batches.
pub struct DbLoader {
    db: DatabaseConnection,
    waves: Arc<Waves>,
}

/// A [`DataLoader`] whose batches start in waves: a wave starts once every batch of the one
/// before has finished and the query has enqueued all the keys those results lead to.
///
/// async-graphql resolves a list's items concurrently but yields every few dozen of them, and
/// the stock loader dispatches each batch after a fixed 1 ms: on a busy machine the items of one
/// level then split over several batches, and the statement count starts to follow the row
/// count. Starting batches one at a time whenever the scheduler is quiet is not enough either:
/// a relation asked for at two depths (a bill's match reads receipt lines, as a receipt does)
/// then merges into one statement or not depending on which result arrives first. Waves make
/// the grouping follow only the query's shape: each wave is one statement per relation. Three
/// things make a wave whole: it starts only when the request's operations wait on loads alone
/// (see [`LoaderActivity`]), all of its batches start together, and none of them queries before
/// all have taken their keys.
pub struct BatchingLoader {
    loader: DataLoader<DbLoader>,
    /// Bumped by every key asked for and every poll of the request's operations: while it
    /// moves, the request is still finding out what it needs.
    activity: Arc<AtomicU64>,
}

/// The batches of one request: how many run, and which wait for the next wave.
#[derive(Default)]
struct Waves {
    state: std::sync::Mutex<WaveState>,
    /// Signalled when the last running batch of a wave finishes.
    idle: tokio::sync::Notify,
    /// Signalled when the last batch of a wave has taken its keys.
    all_arrived: tokio::sync::Notify,
}

#[derive(Default)]
struct WaveState {
    running: usize,
    /// Batches of the running wave that have not yet taken their keys.
    unarrived: usize,
    /// Whether a batch is already watching for the moment to start the next wave.
    leader: bool,
    waiting: Vec<tokio::sync::oneshot::Sender<()>>,
}

tokio::task_local! {
    /// The batch the current task runs, so that its loader can say it has taken its keys.
    static BATCH: Arc<Batch>;
}

impl Waves {
    fn state(&self) -> std::sync::MutexGuard<'_, WaveState> {
        // The state stays consistent whatever a panicking holder did: plain counters.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until this batch may start. The first batch of a wave leads: it waits for the
    /// running wave to finish and for a scheduler round in which the request neither asked for
    /// a key nor ran (it waits on loads only), then starts itself and every batch that queued
    /// behind it.
    async fn join(self: &Arc<Self>, activity: &AtomicU64) -> Arc<Batch> {
        let queued = {
            let mut state = self.state();
            if state.leader {
                let (start, started) = tokio::sync::oneshot::channel();
                state.waiting.push(start);
                Some(started)
            } else {
                state.leader = true;
                None
            }
        };
        let batch = Arc::new(Batch {
            waves: Arc::clone(self),
            arrived: std::sync::atomic::AtomicBool::new(false),
        });
        if let Some(started) = queued {
            // The leader always starts its followers (its task ends only after that).
            let _ = started.await;
            return batch;
        }
        loop {
            let finished = self.idle.notified();
            if self.state().running > 0 {
                finished.await;
                continue;
            }
            let before = activity.load(AtomicOrdering::SeqCst);
            tokio::task::yield_now().await;
            if activity.load(AtomicOrdering::SeqCst) == before && self.state().running == 0 {
                break;
            }
        }
        let mut state = self.state();
        state.leader = false;
        let followers = std::mem::take(&mut state.waiting);
        state.running += 1 + followers.len();
        state.unarrived += 1 + followers.len();
        for start in followers {
            let _ = start.send(());
        }
        batch
    }

    /// Waits until every batch of the running wave has taken its keys.
    async fn all_arrived(&self) {
        loop {
            let arrived = self.all_arrived.notified();
            if self.state().unarrived == 0 {
                return;
            }
            arrived.await;
        }
    }
}

/// A started batch. It arrives when its loader has taken its keys; dropping it (also when it
/// had no keys, or panicked) arrives if it had not, and ends its part of the wave.
struct Batch {
    waves: Arc<Waves>,
    arrived: std::sync::atomic::AtomicBool,
}

impl Batch {
    fn arrive(&self) {
        if !self.arrived.swap(true, AtomicOrdering::SeqCst) {
            let mut state = self.waves.state();
            state.unarrived = state.unarrived.saturating_sub(1);
            if state.unarrived == 0 {
                self.waves.all_arrived.notify_waiters();
            }
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.arrive();
        let mut state = self.waves.state();
        state.running = state.running.saturating_sub(1);
        if state.running == 0 {
            self.waves.idle.notify_waiters();
        }
    }
}

impl DbLoader {
    /// A fresh, empty loader for one request (shared by the operations of a batch).
    pub fn data_loader(db: DatabaseConnection) -> RequestLoader {
        let activity = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&activity);
        let waves = Arc::new(Waves::default());
        let batches = Arc::clone(&waves);
        let spawner = move |load: futures_util::future::BoxFuture<'static, ()>| {
            let seen = Arc::clone(&seen);
            let waves = Arc::clone(&batches);
            tokio::spawn(async move {
                let batch = waves.join(&seen).await;
                BATCH.scope(batch, load).await;
            })
        };
        Arc::new(BatchingLoader {
            // The waves decide when a batch starts; no extra fixed wait on top.
            loader: DataLoader::new(DbLoader { db, waves }, spawner)
                .delay(std::time::Duration::ZERO),
            activity,
        })
    }

    /// The connection, once every batch of this wave has taken its keys: a batch that queried
    /// sooner could answer before a sibling took its keys, and the keys its answer leads to
    /// would then join that sibling in some runs and not in others.
    async fn ready(&self) -> &DatabaseConnection {
        if let Ok(batch) = BATCH.try_with(Arc::clone) {
            batch.arrive();
            self.waves.all_arrived().await;
        }
        &self.db
    }
}

/// Counts every poll of an operation as activity of its request's loader. async-graphql
/// works through a long list a few dozen items per poll; a poll that asks for no key is still
/// progress, and a wave must not start before the operation waits on loads alone.
pub struct LoaderActivity;

impl ExtensionFactory for LoaderActivity {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LoaderActivity)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for LoaderActivity {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let Some(loader) = ctx.data_opt::<RequestLoader>() else {
            return next.run(ctx, operation_name).await;
        };
        let activity = Arc::clone(&loader.activity);
        let mut operation = std::pin::pin!(next.run(ctx, operation_name));
        std::future::poll_fn(|cx| {
            activity.fetch_add(1, AtomicOrdering::SeqCst);
            operation.as_mut().poll(cx)
        })
        .await
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, async_graphql::Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, async_graphql::Response> {
        let mut stream = next.run(ctx, stream);
        let Some(loader) = ctx.data_opt::<RequestLoader>() else {
            return stream;
        };
        let activity = Arc::clone(&loader.activity);
        Box::pin(futures_util::stream::poll_fn(move |cx| {
            activity.fetch_add(1, AtomicOrdering::SeqCst);
            stream.as_mut().poll_next(cx)
        }))
    }
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
    loader.activity.fetch_add(1, AtomicOrdering::SeqCst);
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
    let missing = format!("dangling reference {key:?}");
    load_one(ctx, key)
        .await?
        .ok_or_else(|| ApiError::internal(missing).into())
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
    loader.activity.fetch_add(1, AtomicOrdering::SeqCst);
    loader.loader.load_many(keys).await
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
                let db = self.ready().await;
                let rows = retry_read(|| {
                    entity::$module::Entity::find()
                        .filter(entity::$module::Column::Id.is_in(keys.iter().map(|k| k.0)))
                        .all(db)
                })
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
        let db = self.ready().await;
        let rows = retry_read(|| {
            Entity::find()
                .filter(Column::PurchaseOrderId.is_in(keys.iter().map(|k| k.0)))
                .order_by_asc(Column::LineNumber)
                .all(db)
        })
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

/// Generates a loader of the rows of `$module` whose `$column` is the key, ordered by id.
macro_rules! children_loader {
    ($(#[$doc:meta])* $key:ident => $module:ident by $column:ident / $field:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i32);

        impl Loader<$key> for DbLoader {
            type Value = Vec<entity::$module::Model>;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                use entity::$module::{Column, Entity};
                let db = self.ready().await;
                let rows = retry_read(|| {
                    Entity::find()
                        .filter(Column::$column.is_in(keys.iter().map(|k| k.0)))
                        .order_by_asc(Column::Id)
                        .all(db)
                })
                .await
                .map_err(db_error)?;
                let mut grouped: HashMap<$key, Self::Value> =
                    keys.iter().map(|k| (*k, Vec::new())).collect();
                for row in rows {
                    if let Some(parent) = Option::<i32>::from(row.$field) {
                        grouped.entry($key(parent)).or_default().push(row);
                    }
                }
                Ok(grouped)
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
    type Value = InventoryItem;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ItemAt]) -> Result<HashMap<ItemAt, InventoryItem>, Self::Error> {
        use entity::inventory_item::{Column, Entity};
        let db = self.ready().await;
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
                (key, InventoryItem::from(m))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn running(waves: &Waves) -> usize {
        waves.state().running
    }

    #[tokio::test]
    async fn batches_start_in_waves_after_the_running_wave_ends() {
        let waves = Arc::new(Waves::default());
        let requested = Arc::new(AtomicU64::new(0));
        // Two batches asked for together start together.
        let (a, b) = tokio::join!(waves.join(&requested), waves.join(&requested));
        assert_eq!(running(&waves), 2);
        // Two more, asked for while the first wave runs, wait for all of it.
        let spawn = |waves: &Arc<Waves>| {
            let (waves, requested) = (Arc::clone(waves), Arc::clone(&requested));
            tokio::spawn(async move { waves.join(&requested).await })
        };
        let (c, d) = (spawn(&waves), spawn(&waves));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!c.is_finished() && !d.is_finished());
        drop(a);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!c.is_finished() && !d.is_finished());
        assert_eq!(running(&waves), 1);
        drop(b);
        let (c, d) = (c.await.unwrap(), d.await.unwrap());
        assert_eq!(running(&waves), 2);
        drop((c, d));
        assert_eq!(running(&waves), 0);
    }

    #[tokio::test]
    async fn no_batch_of_a_wave_queries_before_all_have_taken_their_keys() {
        let waves = Arc::new(Waves::default());
        let requested = Arc::new(AtomicU64::new(0));
        let (a, b, c) = tokio::join!(
            waves.join(&requested),
            waves.join(&requested),
            waves.join(&requested)
        );
        a.arrive();
        let waiting = {
            let waves = Arc::clone(&waves);
            tokio::spawn(async move { waves.all_arrived().await })
        };
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished());
        b.arrive();
        b.arrive();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "arriving twice counts once");
        // A batch that ends without keys (or panics) arrives as it ends.
        drop(c);
        waiting.await.unwrap();
        drop((a, b));
        assert_eq!(running(&waves), 0);
    }

    #[tokio::test]
    async fn a_wave_waits_while_keys_are_still_being_asked_for() {
        let waves = Arc::new(Waves::default());
        let requested = Arc::new(AtomicU64::new(0));
        let asking = Arc::clone(&requested);
        let joined = {
            let (waves, requested) = (Arc::clone(&waves), Arc::clone(&requested));
            tokio::spawn(async move { waves.join(&requested).await })
        };
        for _ in 0..20 {
            asking.fetch_add(1, AtomicOrdering::SeqCst);
            tokio::task::yield_now().await;
            assert!(!joined.is_finished());
        }
        let started = joined.await.unwrap();
        assert_eq!(running(&waves), 1);
        drop(started);
    }
}

by_id_loader!(
    /// A serialized unit by row id.
    SerialNumberId => serial_number as crate::graphql::inventory::serials::SerialNumber
);

/// The movements of a serialized unit, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MovementsOfSerial(pub i32);

impl Loader<MovementsOfSerial> for DbLoader {
    type Value = Vec<entity::serial_movement::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[MovementsOfSerial],
    ) -> Result<HashMap<MovementsOfSerial, Self::Value>, Self::Error> {
        use entity::serial_movement::{Column, Entity};
        let rows = Entity::find()
            .filter(Column::SerialNumberId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(Column::Id)
            .all(self.ready().await)
            .await
            .map_err(db_error)?;
        let mut grouped: HashMap<MovementsOfSerial, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            grouped
                .entry(MovementsOfSerial(row.serial_number_id))
                .or_default()
                .push(row);
        }
        Ok(grouped)
    }
}
