//! Outbox events about receipts, written by the receiving use cases (the other kinds are
//! written next to the change they describe).

use entity::receipt;
use sea_orm::DatabaseTransaction;

use crate::auth::Actor;
use crate::error::ServiceError;
use crate::events::{EventKind, Outbox};

/// Records that `receipt` was created or cancelled (`kind`), with the bill it issued or the
/// credit its cancellation issued. The receipt's event is the last one its use case records,
/// so this also writes every event a [deferred](Outbox::deferred) outbox holds — the stock
/// moves, item changes, status change and bill of the receipt — in one multi-row statement.
pub(crate) async fn record_receipt(
    txn: &DatabaseTransaction,
    outbox: &mut Outbox,
    kind: EventKind,
    receipt: &receipt::Model,
    vendor_id: i32,
    bill_id: Option<i32>,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let payload = serde_json::json!({
        "purchaseOrderId": receipt.purchase_order_id,
        "vendorId": vendor_id,
        "billId": bill_id,
    });
    outbox
        .record(txn, kind, "Receipt", receipt.id, payload, &actor.subject)
        .await?;
    outbox.flush(txn).await
}
