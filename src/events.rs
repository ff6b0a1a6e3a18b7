//! Domain events: written to the `events` outbox inside the use case's transaction and
//! delivered to subscribers only after commit, in outbox order.
//!
//! Every process runs one dispatcher that reads committed outbox rows in id order and fans them
//! out to its own subscribers. It is woken after a local commit, by PostgreSQL `NOTIFY` from any
//! replica (sent by the writing transaction, so only on commit), and once a second regardless, so
//! a lost notification or a dropped listener connection delays an event but never loses it.
//!
//! Sequence ids can commit out of order under concurrent writers (id 10 may commit after id 11),
//! so the dispatcher does not simply remember the highest id it saw: it keeps a watermark below
//! which everything was delivered, plus the delivered ids above it, and re-reads from the
//! watermark. A gap is given up (a rolled-back transaction) once the event after it is older than
//! a grace period longer than any transaction may run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch, Notify};

use crate::error::ServiceError;
use crate::services::now;

/// The PostgreSQL channel replicas listen on.
const CHANNEL: &str = "stockgraph_events";

/// The kind of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A purchase order was created or changed status.
    PurchaseOrderStatusChanged,
    /// An inventory item's quantities changed.
    InventoryItemChanged,
}

impl EventKind {
    /// The name stored in the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PurchaseOrderStatusChanged => "PURCHASE_ORDER_STATUS_CHANGED",
            EventKind::InventoryItemChanged => "INVENTORY_ITEM_CHANGED",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "PURCHASE_ORDER_STATUS_CHANGED" => Some(EventKind::PurchaseOrderStatusChanged),
            "INVENTORY_ITEM_CHANGED" => Some(EventKind::InventoryItemChanged),
            _ => None,
        }
    }
}

/// A committed event as delivered to subscribers: what changed; subscribers load the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainEvent {
    /// Outbox row id.
    pub id: i64,
    /// What happened.
    pub kind: EventKind,
    /// Row id of the purchase order or inventory item.
    pub entity_id: i32,
    /// Kind-specific details (statuses, vendor, product, location) as JSON.
    pub payload: serde_json::Value,
    /// Token subject of whoever caused it.
    pub actor: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

impl DomainEvent {
    fn from_row(row: entity::event::Model) -> Option<Self> {
        Some(DomainEvent {
            id: row.id,
            kind: EventKind::parse(&row.kind)?,
            entity_id: row.entity_id,
            payload: serde_json::from_str(&row.payload).ok()?,
            actor: row.actor,
            occurred_at: row.occurred_at,
        })
    }
}

/// Events a use case wrote in its transaction; hand it to [`EventBus::publish`] after commit.
#[derive(Debug, Default)]
#[must_use = "publish the events after commit"]
pub struct Outbox(usize);

impl Outbox {
    /// Writes an event row in the caller's transaction; on PostgreSQL also queues a `NOTIFY`,
    /// which PostgreSQL sends only if the transaction commits.
    pub async fn record(
        &mut self,
        txn: &impl ConnectionTrait,
        kind: EventKind,
        entity_type: &str,
        entity_id: i32,
        payload: serde_json::Value,
        actor: &str,
    ) -> Result<(), ServiceError> {
        entity::event::ActiveModel {
            kind: Set(kind.as_str().to_owned()),
            entity_type: Set(entity_type.to_owned()),
            entity_id: Set(entity_id),
            payload: Set(payload.to_string()),
            actor: Set(actor.to_owned()),
            occurred_at: Set(now()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        self.notify(txn).await?;
        self.0 += 1;
        Ok(())
    }

    /// Writes one event row per `(entity id, payload)` of the same kind in one multi-row
    /// statement, in the order given (outbox ids follow it).
    pub async fn record_all(
        &mut self,
        txn: &impl ConnectionTrait,
        kind: EventKind,
        entity_type: &str,
        events: Vec<(i32, serde_json::Value)>,
        actor: &str,
    ) -> Result<(), ServiceError> {
        if events.is_empty() {
            return Ok(());
        }
        let at = now();
        let count = events.len();
        let rows: Vec<entity::event::ActiveModel> = events
            .into_iter()
            .map(|(entity_id, payload)| entity::event::ActiveModel {
                kind: Set(kind.as_str().to_owned()),
                entity_type: Set(entity_type.to_owned()),
                entity_id: Set(entity_id),
                payload: Set(payload.to_string()),
                actor: Set(actor.to_owned()),
                occurred_at: Set(at),
                ..Default::default()
            })
            .collect();
        for chunk in rows.chunks(500) {
            entity::event::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(txn)
                .await?;
        }
        self.notify(txn).await?;
        self.0 += count;
        Ok(())
    }

    /// On PostgreSQL queues a `NOTIFY`, sent only if the transaction (or savepoint) commits;
    /// one per call, since a savepoint rolled back takes its notification with it.
    async fn notify(&self, txn: &impl ConnectionTrait) -> Result<(), ServiceError> {
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("NOTIFY {CHANNEL}")).await?;
        }
        Ok(())
    }

    /// How many events were recorded.
    pub fn len(&self) -> usize {
        self.0
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// Fans committed events out to this process's subscribers.
#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<DomainEvent>,
    delivered: Arc<std::sync::atomic::AtomicU64>,
    wake: Arc<Notify>,
    stopping: watch::Sender<bool>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

/// How the dispatcher runs.
#[derive(Clone, Debug)]
pub struct DispatchConfig {
    /// How long an outbox gap may stay open before it is taken for a rolled-back transaction.
    pub grace: Duration,
    /// Outbox rows older than this are deleted.
    pub retention: Duration,
    /// Names the PostgreSQL listener connection (`application_name`), e.g. per replica.
    pub listener_name: String,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(120),
            retention: Duration::from_secs(72 * 3600),
            listener_name: "stockgraph-listener".to_owned(),
        }
    }
}

impl EventBus {
    /// A bus whose subscribers may lag by up to `capacity` events before they are dropped.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        let (stopping, _) = watch::channel(false);
        Self {
            sender,
            delivered: Arc::default(),
            wake: Arc::new(Notify::new()),
            stopping,
        }
    }

    /// Called after a commit: wakes the dispatcher, which delivers the committed rows.
    pub fn publish(&self, outbox: Outbox) {
        if !outbox.is_empty() {
            self.wake.notify_one();
        }
    }

    /// How many committed events this process has fanned out.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A new subscription to every event delivered from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.sender.subscribe()
    }

    /// Ends every subscription and WebSocket connection (server stop).
    pub fn shut_down(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once [`EventBus::shut_down`] was called.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Starts this process's dispatcher (and, on PostgreSQL, its listener); they stop with
    /// [`EventBus::shut_down`].
    pub async fn start(
        &self,
        db: DatabaseConnection,
        database_url: &str,
        config: DispatchConfig,
    ) -> Result<(), ServiceError> {
        let watermark = latest_id(&db).await?;
        if db.get_database_backend() == DbBackend::Postgres {
            tokio::spawn(listen(
                database_url.to_owned(),
                config.listener_name.clone(),
                Arc::clone(&self.wake),
                self.stopping(),
            ));
        }
        tokio::spawn(dispatch(db, self.clone(), watermark, config));
        Ok(())
    }
}

async fn latest_id(db: &DatabaseConnection) -> Result<i64, ServiceError> {
    Ok(entity::event::Entity::find()
        .order_by_desc(entity::event::Column::Id)
        .limit(1)
        .one(db)
        .await?
        .map_or(0, |e| e.id))
}

/// Deletes outbox rows older than `retention`; returns how many.
pub async fn prune(db: &DatabaseConnection, retention: Duration) -> Result<u64, ServiceError> {
    let cutoff = now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    Ok(entity::event::Entity::delete_many()
        .filter(entity::event::Column::OccurredAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}

/// What the dispatcher has delivered: everything up to `watermark`, and `above` it these ids.
#[derive(Debug, Default)]
pub struct Delivered {
    pub watermark: i64,
    above: BTreeMap<i64, DateTime<Utc>>,
}

impl Delivered {
    /// Starts after `watermark`.
    pub fn after(watermark: i64) -> Self {
        Self {
            watermark,
            above: BTreeMap::new(),
        }
    }

    /// Whether `id` still needs delivering; records it as delivered.
    pub fn take(&mut self, id: i64, occurred_at: DateTime<Utc>) -> bool {
        id > self.watermark && self.above.insert(id, occurred_at).is_none()
    }

    /// Raises the watermark over contiguous delivered ids, and over gaps whose next event is
    /// older than `grace` (their transaction rolled back, or they would have committed).
    pub fn advance(&mut self, grace: Duration, now: DateTime<Utc>) {
        let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        while let Some((&id, &at)) = self.above.first_key_value() {
            if id == self.watermark + 1 || now - at > grace {
                self.watermark = id;
                self.above.remove(&id);
            } else {
                break;
            }
        }
    }
}

async fn dispatch(db: DatabaseConnection, bus: EventBus, start: i64, config: DispatchConfig) {
    let mut delivered = Delivered::after(start);
    let mut stopping = bus.stopping();
    let mut last_prune = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = bus.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopping.changed() => return,
        }
        match entity::event::Entity::find()
            .filter(entity::event::Column::Id.gt(delivered.watermark))
            .order_by_asc(entity::event::Column::Id)
            .limit(1000)
            .all(&db)
            .await
        {
            Ok(rows) => {
                for row in rows {
                    if delivered.take(row.id, row.occurred_at) {
                        if let Some(event) = DomainEvent::from_row(row) {
                            // No receiver is not an error: nobody is subscribed right now.
                            let _ = bus.sender.send(event);
                            bus.delivered
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                delivered.advance(config.grace, now());
                // More may be waiting behind a full page.
                if !delivered.above.is_empty() {
                    bus.wake.notify_one();
                }
            }
            Err(err) => tracing::warn!(error = %err, "reading the outbox failed; retrying"),
        }
        if last_prune.elapsed() > Duration::from_secs(3600) {
            last_prune = tokio::time::Instant::now();
            if let Err(err) = prune(&db, config.retention).await {
                tracing::warn!(error = ?err, "pruning the outbox failed");
            }
        }
    }
}

/// Listens for `NOTIFY` from every replica and wakes the dispatcher; after a lost connection it
/// reconnects and wakes it too, so the dispatcher catches up from the outbox.
async fn listen(url: String, name: String, wake: Arc<Notify>, mut stopping: watch::Receiver<bool>) {
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
    use std::str::FromStr;
    loop {
        let connected = async {
            let options = PgConnectOptions::from_str(&url)?.application_name(&name);
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            listener = connected => match listener {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::warn!(error = %err, "event listener cannot connect; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
            _ = stopping.changed() => return,
        };
        // Whatever was committed while we were away.
        wake.notify_one();
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => wake.notify_one(),
                    // The connection dropped and was re-established: catch up.
                    Ok(None) => wake.notify_one(),
                    Err(err) => {
                        tracing::warn!(error = %err, "event listener lost its connection");
                        break;
                    }
                },
                _ = stopping.changed() => return,
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds_ago: i64) -> DateTime<Utc> {
        Utc::now() - chrono::Duration::seconds(seconds_ago)
    }

    #[test]
    fn the_watermark_waits_for_a_late_lower_id_then_moves_on() {
        let mut delivered = Delivered::after(9);
        // 11 commits before 10.
        assert!(delivered.take(11, at(0)));
        delivered.advance(Duration::from_secs(60), Utc::now());
        assert_eq!(delivered.watermark, 9, "10 may still commit");
        assert!(!delivered.take(11, at(0)), "11 is not delivered twice");
        assert!(delivered.take(10, at(0)));
        delivered.advance(Duration::from_secs(60), Utc::now());
        assert_eq!(delivered.watermark, 11);
        assert!(!delivered.take(10, at(0)));
    }

    #[test]
    fn a_gap_is_given_up_once_the_next_event_is_older_than_the_grace() {
        let mut delivered = Delivered::after(0);
        assert!(delivered.take(2, at(300)));
        assert!(delivered.take(3, at(1)));
        delivered.advance(Duration::from_secs(60), Utc::now());
        assert_eq!(delivered.watermark, 3);
    }
}
