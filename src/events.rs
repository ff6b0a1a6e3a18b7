//! Domain events: written to the `events` outbox inside the use case's transaction and
//! delivered to subscribers only after commit.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::error::ServiceError;
use crate::services::now;

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
    pub occurred_at: chrono::DateTime<chrono::Utc>,
}

/// Events a use case wrote; handed to [`EventBus::publish`] after its commit.
#[derive(Debug, Default)]
#[must_use = "publish the events after commit"]
pub struct Outbox(Vec<DomainEvent>);

impl Outbox {
    /// Writes an event row in the caller's transaction.
    pub async fn record(
        &mut self,
        txn: &impl ConnectionTrait,
        kind: EventKind,
        entity_type: &str,
        entity_id: i32,
        payload: serde_json::Value,
        actor: &str,
    ) -> Result<(), ServiceError> {
        let occurred_at = now();
        let row = entity::event::ActiveModel {
            kind: Set(kind.as_str().to_owned()),
            entity_type: Set(entity_type.to_owned()),
            entity_id: Set(entity_id),
            payload: Set(payload.to_string()),
            actor: Set(actor.to_owned()),
            occurred_at: Set(occurred_at),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        self.0.push(DomainEvent {
            id: row.id,
            kind,
            entity_id,
            payload,
            actor: actor.to_owned(),
            occurred_at,
        });
        Ok(())
    }

    /// The events recorded so far.
    pub fn events(&self) -> &[DomainEvent] {
        &self.0
    }
}

/// Fans committed events out to this process's subscribers.
#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<DomainEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus {
    /// A bus whose subscribers may lag by up to `capacity` events.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        Self { sender }
    }

    /// Delivers the events of a committed transaction.
    pub fn publish(&self, outbox: Outbox) {
        for event in outbox.0 {
            // No receiver is not an error: nobody is subscribed right now.
            let _ = self.sender.send(event);
        }
    }

    /// A new subscription to every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.sender.subscribe()
    }
}
