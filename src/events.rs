//! Domain events: written to the `events` outbox inside the use case's transaction and
//! delivered to subscribers only after commit, in commit order.
//!
//! Every process runs one dispatcher that delivers committed outbox rows to its own
//! subscribers. It is woken after a local commit, by PostgreSQL `NOTIFY` from any replica (queued
//! by a statement trigger on `events` in the writing transaction, so sent only on commit; see
//! migration `m20261206_000002_notify_trigger`), and once a second regardless, so a lost
//! notification or a dropped listener connection delays an event but never loses it.
//!
//! Outbox ids are taken when a row is inserted, so under concurrent writers they can commit out
//! of order (id 10 may commit after id 11): a reader that remembers "everything up to id 11"
//! would skip 10 for good. So ids are not the order of the feed. Instead a *sequencer* gives
//! every committed row a `seq` after the fact, one sequencer at a time (a PostgreSQL advisory
//! lock held until its transaction commits; SQLite has a single writer): each run numbers the
//! rows it sees committed after the highest `seq` already committed. A row committing later
//! therefore always gets a higher `seq` than every row anyone could already have read, and
//! `seq` is dense, so a reader that remembers "everything up to seq 11" never skips anything.
//! The dispatcher, the `events` feed and the replay of a subscription's `after` all page by
//! `seq`; a cursor is a `seq`.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch, Notify};

use crate::error::ServiceError;
use crate::services::now;

/// The PostgreSQL channel replicas listen on (the outbox's insert trigger notifies it).
const CHANNEL: &str = "stockgraph_events";

/// The kind of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A purchase order was created or changed status.
    PurchaseOrderStatusChanged,
    /// A purchase order's header or lines were edited.
    PurchaseOrderEdited,
    /// A receipt was recorded against a purchase order.
    ReceiptCreated,
    /// A receipt was cancelled.
    ReceiptCanceled,
    /// A bill, credit or replacement bill was issued.
    BillIssued,
    /// On-hand stock moved: a stock ledger entry was written.
    StockMoved,
    /// An inventory item's quantities changed.
    InventoryItemChanged,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 7] = [
        EventKind::PurchaseOrderStatusChanged,
        EventKind::PurchaseOrderEdited,
        EventKind::ReceiptCreated,
        EventKind::ReceiptCanceled,
        EventKind::BillIssued,
        EventKind::StockMoved,
        EventKind::InventoryItemChanged,
    ];

    /// The name stored in the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PurchaseOrderStatusChanged => "PURCHASE_ORDER_STATUS_CHANGED",
            EventKind::PurchaseOrderEdited => "PURCHASE_ORDER_EDITED",
            EventKind::ReceiptCreated => "RECEIPT_CREATED",
            EventKind::ReceiptCanceled => "RECEIPT_CANCELED",
            EventKind::BillIssued => "BILL_ISSUED",
            EventKind::StockMoved => "STOCK_MOVED",
            EventKind::InventoryItemChanged => "INVENTORY_ITEM_CHANGED",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The type of the entity the event is about (its `entity_type` in the outbox).
    pub fn entity_type(self) -> &'static str {
        match self {
            EventKind::PurchaseOrderStatusChanged | EventKind::PurchaseOrderEdited => {
                "PurchaseOrder"
            }
            EventKind::ReceiptCreated | EventKind::ReceiptCanceled => "Receipt",
            EventKind::BillIssued => "Bill",
            EventKind::StockMoved => "StockLedgerEntry",
            EventKind::InventoryItemChanged => "InventoryItem",
        }
    }
}

/// A committed event as delivered to subscribers: what changed; subscribers load the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainEvent {
    /// Outbox row id.
    pub id: i64,
    /// Commit-order position: the event's cursor.
    pub seq: i64,
    /// What happened.
    pub kind: EventKind,
    /// Row id of the entity (see [`EventKind::entity_type`]).
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
            seq: row.seq?,
            kind: EventKind::parse(&row.kind)?,
            entity_id: row.entity_id,
            payload: serde_json::from_str(&row.payload).ok()?,
            actor: row.actor,
            occurred_at: row.occurred_at,
        })
    }
}

/// Events a use case wrote in its transaction; hand it to [`EventBus::publish`] after commit.
///
/// A default outbox writes each event (or batch of one kind) as it is recorded. A
/// [`deferred`](Outbox::deferred) one keeps the rows and writes them all in one multi-row
/// statement at [`flush`](Outbox::flush): a use case that records several kinds of event
/// (a receipt: its stock moves, item changes, bill and receipt) pays one round trip for all of
/// them. A deferred outbox must not span a savepoint that may roll back (the rows would outlive
/// it), and must be flushed before commit ([`EventBus::publish`] reports rows never written).
#[derive(Debug, Default)]
#[must_use = "publish the events after commit"]
pub struct Outbox {
    /// Events written or queued so far.
    recorded: usize,
    /// `Some` when deferred: the rows not written yet, in the order recorded.
    pending: Option<Vec<entity::event::ActiveModel>>,
}

/// One outbox row.
fn event_row(
    kind: EventKind,
    entity_type: &str,
    entity_id: i32,
    payload: &serde_json::Value,
    actor: &str,
    at: DateTime<Utc>,
) -> entity::event::ActiveModel {
    entity::event::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        entity_type: Set(entity_type.to_owned()),
        entity_id: Set(entity_id),
        payload: Set(payload.to_string()),
        actor: Set(actor.to_owned()),
        occurred_at: Set(at),
        ..Default::default()
    }
}

/// Rows per multi-row INSERT of events: far below both backends' limits on bound parameters.
const EVENTS_PER_INSERT: usize = 500;

impl Outbox {
    /// An outbox that queues its rows until [`Outbox::flush`] writes them in one statement.
    pub fn deferred() -> Self {
        Outbox {
            recorded: 0,
            pending: Some(Vec::new()),
        }
    }

    /// Writes an event row in the caller's transaction (or queues it, when deferred); on
    /// PostgreSQL the row's insert trigger queues a `NOTIFY`, sent only if the transaction
    /// commits.
    pub async fn record(
        &mut self,
        txn: &impl ConnectionTrait,
        kind: EventKind,
        entity_type: &str,
        entity_id: i32,
        payload: serde_json::Value,
        actor: &str,
    ) -> Result<(), ServiceError> {
        let row = event_row(kind, entity_type, entity_id, &payload, actor, now());
        self.recorded += 1;
        if let Some(pending) = &mut self.pending {
            pending.push(row);
            return Ok(());
        }
        row.insert(txn).await?;
        Ok(())
    }

    /// Writes one event row per `(entity id, payload)` of the same kind in one multi-row
    /// statement (or queues them, when deferred), in the order given (outbox ids follow it).
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
        let rows: Vec<entity::event::ActiveModel> = events
            .iter()
            .map(|(entity_id, payload)| {
                event_row(kind, entity_type, *entity_id, payload, actor, at)
            })
            .collect();
        self.recorded += rows.len();
        if let Some(pending) = &mut self.pending {
            pending.extend(rows);
            return Ok(());
        }
        Self::insert(txn, rows).await
    }

    /// Writes the rows a deferred outbox queued, in one multi-row statement (per 500 rows);
    /// nothing for an outbox that writes as it records. The outbox stays deferred.
    pub async fn flush(&mut self, txn: &impl ConnectionTrait) -> Result<(), ServiceError> {
        let Some(pending) = &mut self.pending else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(pending);
        Self::insert(txn, rows).await
    }

    async fn insert(
        txn: &impl ConnectionTrait,
        rows: Vec<entity::event::ActiveModel>,
    ) -> Result<(), ServiceError> {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(EVENTS_PER_INSERT).collect();
            entity::event::Entity::insert_many(chunk)
                .exec_without_returning(txn)
                .await?;
        }
        Ok(())
    }

    /// How many events were recorded (written or queued).
    pub fn len(&self) -> usize {
        self.recorded
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.recorded == 0
    }

    /// How many recorded events a deferred outbox has not written yet.
    pub fn unwritten(&self) -> usize {
        self.pending.as_ref().map_or(0, Vec::len)
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
    /// Outbox rows older than this are deleted.
    pub retention: Duration,
    /// Names the PostgreSQL listener connection (`application_name`), e.g. per replica.
    pub listener_name: String,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
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
        // A deferred outbox not flushed before commit lost its rows: a bug of the use case,
        // which the tests catch (debug builds) and production logs.
        debug_assert_eq!(outbox.unwritten(), 0, "deferred events were never written");
        if outbox.unwritten() > 0 {
            tracing::error!(
                unwritten = outbox.unwritten(),
                "a use case committed without writing its deferred events"
            );
        }
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
        sequence(&db).await?;
        let watermark = highest_seq(&db).await?;
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

/// Key of the PostgreSQL advisory lock that lets one sequencer run at a time.
const SEQUENCER_LOCK: i64 = 0x5354_4f43_4b53_4551;

/// At most this many rows are numbered per sequencer run (the dispatcher runs again at once
/// when a run was full).
const SEQUENCE_BATCH: u64 = 500;

/// Numbers the committed outbox rows that have no `seq` yet, in id order, after the highest
/// `seq` already committed; returns how many. See the module comment for why this makes `seq`
/// the commit order.
///
/// Every row committed before the call is numbered when it returns (a reader sees its own
/// writes): a run that lost a race (a concurrent run numbered first, so its guarded UPDATE
/// changed nothing) or filled its batch runs again, a bounded number of times.
pub async fn sequence(db: &DatabaseConnection) -> Result<u64, ServiceError> {
    const MAX_RUNS: usize = 8;
    let mut numbered = 0;
    for _ in 0..MAX_RUNS {
        let run = sequence_once(db).await?;
        numbered += run.numbered;
        if run.found == 0 || (run.numbered == run.found && run.found < SEQUENCE_BATCH) {
            break;
        }
    }
    Ok(numbered)
}

/// What one sequencer run saw and did.
struct SequencerRun {
    /// Unnumbered rows it found (at most [`SEQUENCE_BATCH`]).
    found: u64,
    /// Rows it numbered: all it found, or none when another run numbered first.
    numbered: u64,
}

async fn sequence_once(db: &DatabaseConnection) -> Result<SequencerRun, ServiceError> {
    if db.get_database_backend() == DbBackend::Postgres {
        let txn = db.begin().await?;
        // Held until commit, so the next sequencer sees this one's numbers.
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({SEQUENCER_LOCK})"))
            .await?;
        let run = number_unsequenced(&txn).await?;
        crate::services::commit(txn).await?;
        Ok(run)
    } else {
        // SQLite commits one writer at a time, and the UPDATE below re-checks the highest seq
        // it numbered after, so a concurrent run (the dispatcher and a feed query) changes
        // nothing instead of numbering twice. No transaction: a deferred SQLite transaction
        // that reads and then writes could fail instead of waiting.
        number_unsequenced(db).await
    }
}

async fn number_unsequenced(db: &impl ConnectionTrait) -> Result<SequencerRun, ServiceError> {
    use entity::event::Column;
    let ids: Vec<i64> = entity::event::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Seq.is_null())
        .order_by_asc(Column::Id)
        .limit(SEQUENCE_BATCH)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(SequencerRun {
            found: 0,
            numbered: 0,
        });
    }
    let base = highest_seq(db).await?;
    let mut cases = String::new();
    let mut list = String::new();
    for (position, id) in ids.iter().enumerate() {
        let seq = i64::try_from(position)
            .ok()
            .and_then(|p| base.checked_add(p)?.checked_add(1))
            .ok_or_else(|| ServiceError::Internal("event sequence overflow".into()))?;
        cases.push_str(&format!(" WHEN {id} THEN {seq}"));
        if !list.is_empty() {
            list.push(',');
        }
        list.push_str(&id.to_string());
    }
    // Only integers read from the database are spliced in.
    let sql = format!(
        "UPDATE events SET seq = CASE id{cases} END \
         WHERE id IN ({list}) AND seq IS NULL \
         AND (SELECT COALESCE(MAX(seq), 0) FROM events) = {base}"
    );
    Ok(SequencerRun {
        found: ids.len() as u64,
        numbered: db.execute_unprepared(&sql).await?.rows_affected(),
    })
}

/// The highest `seq` committed, 0 when none.
async fn highest_seq(db: &impl ConnectionTrait) -> Result<i64, ServiceError> {
    use entity::event::Column;
    let max: Option<Option<i64>> = entity::event::Entity::find()
        .select_only()
        .column_as(Column::Seq.max(), "max")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

/// Deletes outbox rows older than `retention`; returns how many. The newest numbered row is
/// always kept: the next numbers continue after it, so cursors stay valid.
pub async fn prune(db: &DatabaseConnection, retention: Duration) -> Result<u64, ServiceError> {
    use entity::event::Column;
    let cutoff = now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    // Only numbered rows are pruned: number what committed first.
    sequence(db).await?;
    let newest = highest_seq(db).await?;
    Ok(entity::event::Entity::delete_many()
        .filter(Column::OccurredAt.lt(cutoff))
        .filter(Column::Seq.lt(newest))
        .exec(db)
        .await?
        .rows_affected)
}

/// What a feed reader asks for: events after a cursor, optionally of some kinds or one entity.
#[derive(Clone, Debug, Default)]
pub struct FeedQuery {
    /// Only events after this `seq` (0: from the oldest retained).
    pub after: i64,
    /// Only these kinds.
    pub kinds: Vec<EventKind>,
    /// Only events about this entity: (`entity_type`, row id).
    pub entity: Option<(String, i32)>,
}

/// Why a feed cannot be read from a cursor.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Events after the cursor were pruned.
    #[error("events after this cursor were pruned (older than the retention window); start again without a cursor")]
    CursorExpired,
    /// The database failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Up to `limit` committed events matching `query`, in commit order. Fails with
/// [`FeedError::CursorExpired`] when events after the cursor were already pruned.
pub async fn feed(
    db: &DatabaseConnection,
    query: &FeedQuery,
    limit: u64,
) -> Result<Vec<DomainEvent>, FeedError> {
    use entity::event::Column;
    // Number what committed just now, so a reader sees its own writes; another run may hold
    // the lock or have numbered them already, which is as good.
    if let Err(err) = sequence(db).await {
        tracing::debug!(error = ?err, "sequencing before a feed read failed; the dispatcher will");
    }
    if query.after > 0 {
        let oldest: Option<Option<i64>> = entity::event::Entity::find()
            .select_only()
            .column_as(Column::Seq.min(), "min")
            .into_tuple()
            .one(db)
            .await
            .map_err(ServiceError::from)?;
        if oldest
            .flatten()
            .is_some_and(|oldest| oldest > query.after + 1)
        {
            return Err(FeedError::CursorExpired);
        }
    }
    let mut select = entity::event::Entity::find()
        .filter(Column::Seq.gt(query.after))
        .order_by_asc(Column::Seq)
        .limit(limit);
    if !query.kinds.is_empty() {
        select = select.filter(Column::Kind.is_in(query.kinds.iter().map(|k| k.as_str())));
    }
    if let Some((entity_type, id)) = &query.entity {
        select = select
            .filter(Column::EntityType.eq(entity_type.as_str()))
            .filter(Column::EntityId.eq(*id));
    }
    let rows = select.all(db).await.map_err(ServiceError::from)?;
    Ok(rows.into_iter().filter_map(DomainEvent::from_row).collect())
}

async fn dispatch(db: DatabaseConnection, bus: EventBus, start: i64, config: DispatchConfig) {
    use entity::event::Column;
    let mut delivered = start;
    let mut stopping = bus.stopping();
    let mut last_prune = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = bus.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopping.changed() => return,
        }
        let numbered = match sequence(&db).await {
            Ok(numbered) => numbered,
            Err(err) => {
                tracing::warn!(error = ?err, "numbering the outbox failed; retrying");
                0
            }
        };
        match entity::event::Entity::find()
            .filter(Column::Seq.gt(delivered))
            .order_by_asc(Column::Seq)
            .limit(1000)
            .all(&db)
            .await
        {
            Ok(rows) => {
                let full = rows.len() == 1000;
                for row in rows {
                    delivered = delivered.max(row.seq.unwrap_or(delivered));
                    if let Some(event) = DomainEvent::from_row(row) {
                        // No receiver is not an error: nobody is subscribed right now.
                        let _ = bus.sender.send(event);
                        bus.delivered
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                // More may be waiting behind a full page or a full numbering run.
                if full || numbered >= SEQUENCE_BATCH {
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
