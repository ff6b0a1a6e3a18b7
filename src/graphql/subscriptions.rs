//! Live updates: purchase-order status changes and inventory-item changes, delivered after
//! commit, filtered per subscriber, each resolved with the subscriber's own permissions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_graphql::{ComplexObject, Context, SimpleObject, Subscription, ID};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Permission;
use crate::error::ApiError;
use crate::events::{DomainEvent, EventKind, FeedQuery};
use crate::graphql::enums::PurchaseOrderStatus;
use crate::graphql::feed::{decode_event_cursor, encode_event_cursor, feed_error, payload_status};
use crate::graphql::guard::{Guarded, Reads};
use crate::graphql::ids::decode;
use crate::graphql::inventory::types::InventoryItem;
use crate::graphql::loaders::{load_one, load_required, InventoryItemId, PurchaseOrderId};
use crate::graphql::purchasing::types::PurchaseOrder;
use crate::graphql::scalars::DateTime;
use crate::graphql::{require, state};

/// The subscriptions one WebSocket connection holds, against its limit.
#[derive(Clone, Debug)]
pub struct SubscriptionSlots {
    used: Arc<AtomicUsize>,
    limit: usize,
    /// All subscriptions of the process, for `/metrics`.
    running: Arc<AtomicUsize>,
}

impl SubscriptionSlots {
    /// Room for `limit` subscriptions at once; `running` counts those of every connection.
    pub fn new(limit: usize, running: Arc<AtomicUsize>) -> Self {
        Self {
            used: Arc::new(AtomicUsize::new(0)),
            limit,
            running,
        }
    }

    fn take(&self) -> Result<SlotGuard, ApiError> {
        let before = self.used.fetch_add(1, Ordering::SeqCst);
        if before >= self.limit {
            self.used.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::LimitExceeded(format!(
                "a connection may hold at most {} subscriptions",
                self.limit
            )));
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        Ok(SlotGuard(Arc::clone(&self.used), Arc::clone(&self.running)))
    }
}

/// Frees its slot when the subscription ends.
struct SlotGuard(Arc<AtomicUsize>, Arc<AtomicUsize>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        self.1.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A purchase order entered a status (or was created, with no previous status). An event about
/// an order is read like the order: every field needs `purchase_orders:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct PurchaseOrderStatusEvent {
    #[graphql(skip)]
    pub purchase_order_id: i32,
    /// The status before; null when the order was just created.
    pub previous_status: Option<PurchaseOrderStatus>,
    /// The status entered.
    pub status: PurchaseOrderStatus,
    /// This event's cursor: subscribe again with `after` set to it to resume after it.
    pub cursor: String,
    /// When it happened.
    pub occurred_at: DateTime,
    /// Token subject of whoever caused it.
    pub actor: Option<String>,
}

impl Guarded for PurchaseOrderStatusEvent {
    const READ: Permission = PurchaseOrder::READ;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl PurchaseOrderStatusEvent {
    /// The order as it is now.
    async fn purchase_order(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<PurchaseOrder>> {
        load_required(ctx, PurchaseOrderId(self.purchase_order_id)).await
    }
}

/// An inventory item's quantities changed. An event about an item is read like the item: every
/// field needs `inventory:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct InventoryItemEvent {
    #[graphql(skip)]
    pub inventory_item_id: i32,
    /// This event's cursor: subscribe again with `after` set to it to resume after it.
    pub cursor: String,
    /// When it happened.
    pub occurred_at: DateTime,
    /// Token subject of whoever caused it.
    pub actor: Option<String>,
}

impl Guarded for InventoryItemEvent {
    const READ: Permission = InventoryItem::READ;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl InventoryItemEvent {
    /// The item as it is now.
    async fn inventory_item(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<InventoryItem>> {
        load_one(ctx, InventoryItemId(self.inventory_item_id))
            .await?
            .ok_or_else(|| ApiError::internal("inventory item of an event vanished").into())
    }
}

fn id_in(payload: &serde_json::Value, key: &str) -> Option<i32> {
    payload[key].as_i64().and_then(|n| i32::try_from(n).ok())
}

/// Events replayed per read of the outbox.
const REPLAY_BATCH: u64 = 200;

/// Where a subscription stream is: replaying committed events after its cursor, or live.
enum Phase {
    /// Replaying: the next outbox read starts after this position.
    Replay(i64),
    /// Live; events at or before this position were already replayed.
    Live(i64),
}

struct StreamState<F> {
    receiver: tokio::sync::broadcast::Receiver<DomainEvent>,
    stopping: tokio::sync::watch::Receiver<bool>,
    _guard: Option<SlotGuard>,
    select: F,
    phase: Phase,
    replayed: std::collections::VecDeque<DomainEvent>,
    db: sea_orm::DatabaseConnection,
    kinds: Vec<EventKind>,
}

/// The matching events as a stream that ends on server stop, and ends with an error when the
/// subscriber fell so far behind that events were dropped for it (the others never wait for a
/// slow subscriber).
///
/// With `after` (an event cursor), it first replays the committed events after it, then goes
/// live. The live stream is subscribed to *before* the replay reads the outbox, so an event
/// committed meanwhile is either read by the replay or delivered live (or both, then the live
/// copy is dropped: positions are in commit order, and live events at or before the last
/// replayed one are skipped): no gap, no duplicate.
fn events<T: Send + 'static>(
    ctx: &Context<'_>,
    after: Option<String>,
    kinds: Vec<EventKind>,
    select: impl Fn(&DomainEvent) -> Option<T> + Send + Sync + 'static,
) -> Result<impl Stream<Item = async_graphql::Result<T>>, ApiError> {
    let after = after
        .as_deref()
        .map(|c| decode_event_cursor(c, "after"))
        .transpose()?;
    let slots = ctx.data_opt::<SubscriptionSlots>().cloned();
    let guard = slots.map(|s| s.take()).transpose()?;
    let app = state(ctx);
    let state = StreamState {
        receiver: app.events.subscribe(),
        stopping: app.events.stopping(),
        _guard: guard,
        select,
        // Without a cursor nothing is replayed: live from now on.
        phase: after.map_or(Phase::Live(0), Phase::Replay),
        replayed: std::collections::VecDeque::new(),
        db: app.db.clone(),
        kinds,
    };
    Ok(futures_util::stream::unfold(Some(state), StreamState::step))
}

impl<F> StreamState<F> {
    /// One step of the stream: the next item and the state after it; an error ends the
    /// stream after it is delivered.
    async fn step<T>(state: Option<Self>) -> Option<(async_graphql::Result<T>, Option<Self>)>
    where
        F: Fn(&DomainEvent) -> Option<T>,
    {
        let mut state = state?;
        match state.next().await? {
            Ok(item) => Some((Ok(item), Some(state))),
            Err(err) => Some((Err(err), None)),
        }
    }

    /// The next event to deliver; `None` when the stream ends (server stop, bus closed).
    async fn next<T>(&mut self) -> Option<async_graphql::Result<T>>
    where
        F: Fn(&DomainEvent) -> Option<T>,
    {
        loop {
            let event = if let Some(event) = self.replayed.pop_front() {
                event
            } else if let Phase::Replay(after) = self.phase {
                if let Err(err) = self.replay(after).await? {
                    return Some(Err(err));
                }
                continue;
            } else {
                match self.live().await? {
                    Ok(event) => event,
                    Err(err) => return Some(Err(err)),
                }
            };
            if let Some(item) = (self.select)(&event) {
                return Some(Ok(item));
            }
        }
    }

    /// Reads the next batch of committed events after `after` into the replay queue, and goes
    /// live after the last, short batch; `None` when the server stops meanwhile.
    async fn replay(&mut self, after: i64) -> Option<async_graphql::Result<()>> {
        let query = FeedQuery {
            after,
            kinds: self.kinds.clone(),
            entity: None,
        };
        let read = tokio::select! {
            read = crate::events::feed(&self.db, &query, REPLAY_BATCH) => read,
            _ = self.stopping.changed() => return None,
        };
        Some(read.map_err(feed_error).map(|batch| {
            let last = batch.last().map_or(after, |e| e.seq);
            self.phase = if (batch.len() as u64) < REPLAY_BATCH {
                Phase::Live(last)
            } else {
                Phase::Replay(last)
            };
            self.replayed.extend(batch);
        }))
    }

    /// The next live event not already replayed; `None` when the server stops or the bus
    /// closes; an error when this subscriber fell so far behind that events were dropped.
    async fn live(&mut self) -> Option<async_graphql::Result<DomainEvent>> {
        loop {
            let received = tokio::select! {
                received = self.receiver.recv() => received,
                _ = self.stopping.changed() => return None,
            };
            match received {
                Ok(event) => {
                    if matches!(self.phase, Phase::Live(up_to) if event.seq <= up_to) {
                        continue;
                    }
                    return Some(Ok(event));
                }
                Err(RecvError::Lagged(missed)) => {
                    let error = ApiError::LimitExceeded(format!(
                        "this subscription fell {missed} events behind and was ended; subscribe again with `after` set to the last cursor received"
                    ));
                    return Some(Err(error.into()));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Purchase orders entering a status (creation included), optionally of one order or one
    /// vendor. Needs `purchase_orders:read`; money fields follow `costs:read`.
    async fn purchase_order_status_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this purchase order.")] purchase_order_id: Option<ID>,
        #[graphql(desc = "Only orders placed with this vendor.")] vendor_id: Option<ID>,
        #[graphql(
            desc = "An event cursor (an event's `cursor`, or one from `events`): first replay the matching events committed after it, then go live."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<PurchaseOrderStatusEvent>>>
    {
        require(ctx, Permission::PurchaseOrdersRead)?;
        let po = purchase_order_id
            .map(|id| decode(&id, "PurchaseOrder"))
            .transpose()?;
        let vendor = vendor_id.map(|id| decode(&id, "Vendor")).transpose()?;
        let kinds = vec![EventKind::PurchaseOrderStatusChanged];
        Ok(events(ctx, after, kinds, move |event| {
            if event.kind != EventKind::PurchaseOrderStatusChanged
                || po.is_some_and(|po| po != event.entity_id)
                || vendor.is_some_and(|v| Some(v) != id_in(&event.payload, "vendorId"))
            {
                return None;
            }
            Some(PurchaseOrderStatusEvent {
                purchase_order_id: event.entity_id,
                previous_status: payload_status(&event.payload, "previousStatus"),
                status: payload_status(&event.payload, "status")?,
                cursor: encode_event_cursor(event.seq),
                occurred_at: DateTime(event.occurred_at),
                actor: Some(event.actor.clone()),
            })
        })?)
    }

    /// Inventory items whose quantities changed, optionally at one location or of one product.
    /// Needs `inventory:read`.
    async fn inventory_item_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only items at this location.")] location_id: Option<ID>,
        #[graphql(desc = "Only items of this product.")] product_id: Option<ID>,
        #[graphql(
            desc = "An event cursor (an event's `cursor`, or one from `events`): first replay the matching events committed after it, then go live."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<InventoryItemEvent>>> {
        require(ctx, Permission::InventoryRead)?;
        let location = location_id
            .map(|id| decode(&id, "InventoryLocation"))
            .transpose()?;
        let product = product_id.map(|id| decode(&id, "Product")).transpose()?;
        let kinds = vec![EventKind::InventoryItemChanged];
        Ok(events(ctx, after, kinds, move |event| {
            if event.kind != EventKind::InventoryItemChanged
                || location.is_some_and(|l| Some(l) != id_in(&event.payload, "locationId"))
                || product.is_some_and(|p| Some(p) != id_in(&event.payload, "productId"))
            {
                return None;
            }
            Some(InventoryItemEvent {
                inventory_item_id: event.entity_id,
                cursor: encode_event_cursor(event.seq),
                occurred_at: DateTime(event.occurred_at),
                actor: Some(event.actor.clone()),
            })
        })?)
    }
}
