//! The change feed: `updatedAfter` on the root lists, and `events`, the committed outbox in
//! commit order, which a client pages with a cursor to catch up on what it missed. The same
//! cursors resume subscriptions (`after`).

use std::sync::Arc;

use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType, EmptyFields};
use async_graphql::{
    ComplexObject, Context, Enum, InputObject, Object, OutputType, SimpleObject, ID,
};
use chrono::SubsecRound;
use sea_orm::{ColumnTrait, Condition};

use crate::auth::{Actor, Permission};
use crate::error::ApiError;
use crate::events::{self, DomainEvent, EventKind, FeedError, FeedQuery};
use crate::graphql::enums::PurchaseOrderStatus;
use crate::graphql::ids::{parse_gid, to_gid};
use crate::graphql::inventory::types::{InventoryItem, StockLedgerEntry};
use crate::graphql::loaders::{
    load_one, BillId, InventoryItemId, LedgerEntryId, PurchaseOrderId, ReceiptId,
};
use crate::graphql::prime::{self, EventRow, Primable};
use crate::graphql::purchasing::types::PurchaseOrder;
use crate::graphql::receiving::types::{Bill, Receipt};
use crate::graphql::scalars::DateTime;
use crate::graphql::{max_page_size, state};

/// The condition "`column` strictly after `after`", or no condition without one. Stored times
/// are microseconds (see `services::now`), so the bound is too.
pub fn changed_after<C: ColumnTrait>(column: C, after: Option<DateTime>) -> Condition {
    match after {
        Some(after) => Condition::all().add(column.gt(after.0.trunc_subsecs(6))),
        None => Condition::all(),
    }
}

/// What an event says happened.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// A purchase order was created (no previous status) or entered a status. Needs
    /// `purchase_orders:read`.
    PurchaseOrderStatusChanged,
    /// A purchase order's header was edited, or a line added, changed or removed. Needs
    /// `purchase_orders:read`.
    PurchaseOrderEdited,
    /// A receipt was recorded. Needs `purchase_orders:read`.
    ReceiptCreated,
    /// A receipt was cancelled. Needs `purchase_orders:read`.
    ReceiptCanceled,
    /// A bill was issued: for a receipt, as the credit of a cancelled receipt, or replacing a
    /// superseded bill. Needs `bills:read`.
    BillIssued,
    /// On-hand stock moved: a stock ledger entry was written. Needs `inventory:read`.
    StockMoved,
    /// An inventory item's quantities (on hand, on order, reserved …) changed. Needs
    /// `inventory:read`.
    InventoryItemChanged,
}

impl From<EventType> for EventKind {
    fn from(t: EventType) -> Self {
        match t {
            EventType::PurchaseOrderStatusChanged => EventKind::PurchaseOrderStatusChanged,
            EventType::PurchaseOrderEdited => EventKind::PurchaseOrderEdited,
            EventType::ReceiptCreated => EventKind::ReceiptCreated,
            EventType::ReceiptCanceled => EventKind::ReceiptCanceled,
            EventType::BillIssued => EventKind::BillIssued,
            EventType::StockMoved => EventKind::StockMoved,
            EventType::InventoryItemChanged => EventKind::InventoryItemChanged,
        }
    }
}

impl From<EventKind> for EventType {
    fn from(k: EventKind) -> Self {
        match k {
            EventKind::PurchaseOrderStatusChanged => EventType::PurchaseOrderStatusChanged,
            EventKind::PurchaseOrderEdited => EventType::PurchaseOrderEdited,
            EventKind::ReceiptCreated => EventType::ReceiptCreated,
            EventKind::ReceiptCanceled => EventType::ReceiptCanceled,
            EventKind::BillIssued => EventType::BillIssued,
            EventKind::StockMoved => EventType::StockMoved,
            EventKind::InventoryItemChanged => EventType::InventoryItemChanged,
        }
    }
}

/// The permission that lets a caller see events of `kind`: the one that reads its entity.
pub fn permission_for(kind: EventKind) -> Permission {
    match kind {
        EventKind::PurchaseOrderStatusChanged
        | EventKind::PurchaseOrderEdited
        | EventKind::ReceiptCreated
        | EventKind::ReceiptCanceled => Permission::PurchaseOrdersRead,
        EventKind::BillIssued => Permission::BillsRead,
        EventKind::StockMoved | EventKind::InventoryItemChanged => Permission::InventoryRead,
    }
}

/// The opaque cursor of the event at commit-order position `seq`.
pub fn encode_event_cursor(seq: i64) -> String {
    crate::graphql::connection::EventKey::cursor(seq)
}

/// The commit-order position inside an event cursor; BAD_REQUEST when it is not one.
pub fn decode_event_cursor(cursor: &str, argument: &str) -> Result<i64, ApiError> {
    crate::graphql::connection::EventKey::position(cursor)
        .ok_or_else(|| ApiError::BadRequest(format!("`{argument}` is not an event cursor")))
}

/// The error of a cursor whose events were pruned: BAD_REQUEST with `extensions.code`
/// `CURSOR_EXPIRED`, so a client knows to resynchronise from the lists (`updatedAfter`).
pub fn feed_error(err: FeedError) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    match err {
        FeedError::CursorExpired => async_graphql::Error::new(err.to_string())
            .extend_with(|_, e| e.set("code", "CURSOR_EXPIRED")),
        FeedError::Service(err) => ApiError::from(err).into(),
    }
}

/// The event kinds `actor` may see, among `wanted` (every kind when empty); FORBIDDEN when it
/// asked for a kind it may not see.
pub fn readable_kinds(actor: &Actor, wanted: &[EventKind]) -> Result<Vec<EventKind>, ApiError> {
    if wanted.is_empty() {
        return Ok(EventKind::ALL
            .into_iter()
            .filter(|k| actor.has(permission_for(*k)))
            .collect());
    }
    for kind in wanted {
        actor.require(permission_for(*kind))?;
    }
    Ok(wanted.to_vec())
}

/// Narrows the event feed; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct EventFilter {
    /// Only events of these types (all the caller may read when omitted). Asking for a type
    /// the caller may not read is FORBIDDEN.
    pub types: Option<Vec<EventType>>,
    /// Only events about this entity (the global ID of a purchase order, receipt, bill,
    /// inventory item or stock ledger entry).
    pub entity_id: Option<ID>,
}

/// One committed change. Which entity field is set depends on `type`; status fields are set
/// for PURCHASE_ORDER_STATUS_CHANGED only. Every entity is read with the caller's own
/// permissions, like the lists.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Event {
    #[graphql(skip)]
    pub event: DomainEvent,
    /// The event's cursor: pass it as `after` to `events` or to a subscription to continue
    /// after this event.
    pub cursor: String,
    /// What happened.
    #[graphql(name = "type")]
    pub kind: EventType,
    /// When it happened.
    pub occurred_at: DateTime,
    /// Token subject of whoever caused it.
    pub actor: String,
    /// Global ID of the entity it is about (a purchase order, receipt, bill, inventory item or
    /// stock ledger entry).
    pub entity_id: ID,
}

impl From<DomainEvent> for Event {
    fn from(event: DomainEvent) -> Self {
        Event {
            cursor: encode_event_cursor(event.seq),
            kind: event.kind.into(),
            occurred_at: DateTime(event.occurred_at),
            actor: event.actor.clone(),
            entity_id: to_gid(event.kind.entity_type(), event.entity_id),
            event,
        }
    }
}

fn payload_id(event: &DomainEvent, key: &str) -> Option<i32> {
    event.payload[key]
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
}

/// A purchase-order status named in an event payload. Payloads spell statuses as storage does,
/// so the storage enum's names are the one list to read them by.
pub fn payload_status(payload: &serde_json::Value, key: &str) -> Option<PurchaseOrderStatus> {
    use sea_orm::ActiveEnum;
    let name = payload[key].as_str()?.to_owned();
    entity::enums::PurchaseOrderStatus::try_from_value(&name)
        .ok()
        .map(PurchaseOrderStatus::from)
}

impl Event {
    /// The purchase order its `purchaseOrder` field shows: of a purchase-order event, or the
    /// order a receipt event's receipt belongs to.
    fn purchase_order_id(&self) -> Option<i32> {
        match self.event.kind {
            EventKind::PurchaseOrderStatusChanged | EventKind::PurchaseOrderEdited => {
                Some(self.event.entity_id)
            }
            EventKind::ReceiptCreated | EventKind::ReceiptCanceled => {
                payload_id(&self.event, "purchaseOrderId")
            }
            _ => None,
        }
    }

    /// The receipt of a receipt event.
    fn receipt_id(&self) -> Option<i32> {
        matches!(
            self.event.kind,
            EventKind::ReceiptCreated | EventKind::ReceiptCanceled
        )
        .then_some(self.event.entity_id)
    }

    /// The bill of a BILL_ISSUED event.
    fn bill_id(&self) -> Option<i32> {
        (self.event.kind == EventKind::BillIssued).then_some(self.event.entity_id)
    }

    /// The inventory item of an item or stock event.
    fn inventory_item_id(&self) -> Option<i32> {
        match self.event.kind {
            EventKind::InventoryItemChanged => Some(self.event.entity_id),
            EventKind::StockMoved => payload_id(&self.event, "inventoryItemId"),
            _ => None,
        }
    }

    /// The ledger entry of a STOCK_MOVED event.
    fn ledger_entry_id(&self) -> Option<i64> {
        if self.event.kind != EventKind::StockMoved {
            return None;
        }
        self.event.payload["ledgerEntryId"].as_i64()
    }
}

impl From<&Event> for EventRow {
    fn from(event: &Event) -> Self {
        EventRow {
            purchase_order_id: event.purchase_order_id(),
            receipt_id: event.receipt_id(),
            bill_id: event.bill_id(),
            inventory_item_id: event.inventory_item_id(),
            ledger_entry_id: event.ledger_entry_id(),
        }
    }
}

impl Primable for Event {
    type Row = EventRow;
}

#[ComplexObject]
impl Event {
    /// The purchase order, as it is now: of a purchase-order event, or the order a receipt
    /// event's receipt belongs to.
    async fn purchase_order(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<PurchaseOrder>>> {
        match self.purchase_order_id() {
            Some(id) => load_one(ctx, PurchaseOrderId(id)).await,
            None => Ok(None),
        }
    }

    /// The receipt of a RECEIPT_CREATED or RECEIPT_CANCELED event, as it is now.
    async fn receipt(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Receipt>>> {
        match self.receipt_id() {
            Some(id) => load_one(ctx, ReceiptId(id)).await,
            None => Ok(None),
        }
    }

    /// The bill, credit or replacement of a BILL_ISSUED event.
    async fn bill(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Bill>>> {
        match self.bill_id() {
            Some(id) => load_one(ctx, BillId(id)).await,
            None => Ok(None),
        }
    }

    /// The inventory item, as it is now, of an INVENTORY_ITEM_CHANGED or STOCK_MOVED event.
    async fn inventory_item(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<InventoryItem>>> {
        match self.inventory_item_id() {
            Some(id) => load_one(ctx, InventoryItemId(id)).await,
            None => Ok(None),
        }
    }

    /// The stock ledger entry a STOCK_MOVED event wrote.
    async fn ledger_entry(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<StockLedgerEntry>>> {
        match self.ledger_entry_id() {
            Some(id) => load_one(ctx, LedgerEntryId(id)).await,
            None => Ok(None),
        }
    }

    /// The status before, of a PURCHASE_ORDER_STATUS_CHANGED event; null when the order was
    /// just created.
    async fn previous_status(&self) -> Option<PurchaseOrderStatus> {
        (self.event.kind == EventKind::PurchaseOrderStatusChanged)
            .then(|| payload_status(&self.event.payload, "previousStatus"))
            .flatten()
    }

    /// The status entered, of a PURCHASE_ORDER_STATUS_CHANGED event.
    async fn status(&self) -> Option<PurchaseOrderStatus> {
        (self.event.kind == EventKind::PurchaseOrderStatusChanged)
            .then(|| payload_status(&self.event.payload, "status"))
            .flatten()
    }

    /// What a PURCHASE_ORDER_EDITED event changed: HEADER, LINE_ADDED, LINE_UPDATED or
    /// LINE_REMOVED.
    async fn change(&self) -> Option<String> {
        (self.event.kind == EventKind::PurchaseOrderEdited)
            .then(|| self.event.payload["change"].as_str().map(str::to_owned))
            .flatten()
    }
}

/// Names the feed's connection `EventConnection`.
pub struct EventConnectionName;

impl ConnectionNameType for EventConnectionName {
    fn type_name<T: OutputType>() -> String {
        "EventConnection".to_owned()
    }
}

/// Names the feed's edges `EventEdge`.
pub struct EventEdgeName;

impl EdgeNameType for EventEdgeName {
    fn type_name<T: OutputType>() -> String {
        "EventEdge".to_owned()
    }
}

/// A page of the feed.
pub type EventPage =
    Connection<String, Event, EmptyFields, EmptyFields, EventConnectionName, EventEdgeName>;

/// The event kinds and entity a feed filter asks for, checked against the caller.
pub fn feed_query(
    actor: &Actor,
    after: i64,
    types: Option<Vec<EventType>>,
    entity_id: Option<&ID>,
) -> Result<FeedQuery, ApiError> {
    let wanted: Vec<EventKind> = types
        .unwrap_or_default()
        .iter()
        .cloned()
        .map(EventKind::from)
        .collect();
    let kinds = readable_kinds(actor, &wanted)?;
    let entity = entity_id
        .map(|id| {
            parse_gid(id)
                .and_then(|(kind, n)| Some((kind.to_owned(), i32::try_from(n).ok()?)))
                .ok_or_else(|| ApiError::BadRequest(format!("`{}` is not a stockgraph ID", id.0)))
        })
        .transpose()?;
    Ok(FeedQuery {
        after,
        kinds,
        entity,
    })
}

/// The page size of an `events` page: 25 by default, never negative, at most `limit`.
fn feed_page_size(first: Option<i32>, limit: usize) -> Result<usize, ApiError> {
    let first = match first {
        None => 25.min(limit),
        Some(n) if n < 0 => {
            return Err(ApiError::BadRequest("`first` must not be negative".into()))
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    if first > limit {
        return Err(ApiError::LimitExceeded(format!(
            "`first` is at most {limit}"
        )));
    }
    Ok(first)
}

/// The event types and entity asked for, given in `filter` or as the top-level arguments of
/// issue 15's spelling, but not both.
fn feed_filter(
    filter: EventFilter,
    types: Option<Vec<EventType>>,
    entity_id: Option<ID>,
) -> Result<(Option<Vec<EventType>>, Option<ID>), ApiError> {
    if (types.is_some() && filter.types.is_some())
        || (entity_id.is_some() && filter.entity_id.is_some())
    {
        return Err(ApiError::BadRequest(
            "give `types` and `entityId` either as arguments or in `filter`, not both".into(),
        ));
    }
    Ok((types.or(filter.types), entity_id.or(filter.entity_id)))
}

#[derive(Default)]
pub struct FeedQueryRoot;

#[Object]
impl FeedQueryRoot {
    /// The committed outbox, in commit order: every change a client may need to catch up on,
    /// oldest first. Page with `first`/`after`; an event's cursor never changes, and an event
    /// committed later always comes after every cursor already handed out, so a client that
    /// stores the last `endCursor` misses nothing. Only event types whose entity the caller may
    /// read are listed (see `EventType`). Events are kept for the retention window
    /// (`--event-retention-hours`, 72 by default); a cursor whose following events were pruned
    /// is refused with `extensions.code` `CURSOR_EXPIRED`.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most the page-size limit).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Cursor of the last event seen; from the oldest retained when omitted.")]
        after: Option<String>,
        #[graphql(desc = "Conditions that must all hold.")] filter: Option<EventFilter>,
        #[graphql(desc = "Same as `filter.types` (the spelling of issue 15); not both.")]
        types: Option<Vec<EventType>>,
        #[graphql(desc = "Same as `filter.entityId`; not both.")] entity_id: Option<ID>,
    ) -> async_graphql::Result<EventPage> {
        let actor = ctx.data_opt::<Actor>().ok_or(ApiError::Unauthenticated)?;
        let first = feed_page_size(first, max_page_size(ctx))?;
        let after = after
            .as_deref()
            .map(|c| decode_event_cursor(c, "after"))
            .transpose()?
            .unwrap_or(0);
        let (types, entity_id) = feed_filter(filter.unwrap_or_default(), types, entity_id)?;
        let query = feed_query(actor, after, types, entity_id.as_ref())?;
        let mut connection = EventPage::new(after > 0, false);
        if query.kinds.is_empty() || first == 0 {
            return Ok(connection);
        }
        let fetch = u64::try_from(first).unwrap_or(u64::MAX).saturating_add(1);
        let mut rows = events::feed(&state(ctx).db, &query, fetch)
            .await
            .map_err(feed_error)?;
        connection.has_next_page = rows.len() > first;
        rows.truncate(first);
        connection.edges = rows
            .into_iter()
            .map(|e| Edge::new(encode_event_cursor(e.seq), Event::from(e)))
            .collect();
        prime::nodes(ctx, connection.edges.iter().map(|e| &e.node)).await?;
        Ok(connection)
    }
}
