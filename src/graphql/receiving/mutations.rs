//! `receivePurchaseOrder` and `cancelReceipt` (need `receiving:write`), `finalizePurchaseOrder`
//! (needs `purchase_orders:write`).

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};

use super::types::{Bill, Receipt};
use crate::auth::Permission;
use crate::error::ServiceError;
use crate::graphql::ids::{decode_input, gather};
use crate::graphql::payload::{payload, respond, Payload};
use crate::graphql::prime;
use crate::graphql::purchasing::mutations::use_case;
use crate::graphql::purchasing::types::PurchaseOrder;
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::user_error::UserError;
use crate::graphql::{money_input, require};
use crate::services::purchasing as lifecycle;
use crate::services::receiving::{self as service, NewReceipt, ReceiptOutcome, ReceiveLine};
use crate::services::{retry_once, Violations};

/// The quantity of one line in a delivery.
#[derive(InputObject)]
pub struct ReceiveLineInput {
    /// The purchase-order line.
    pub line_id: ID,
    /// Accepted quantity (>= 0): enters stock and the bill.
    pub quantity: Decimal,
    /// Delivered but refused (>= 0); needs a reason.
    pub rejected_quantity: Option<Decimal>,
    /// Why the rejected quantity was refused.
    pub rejection_reason: Option<String>,
    /// One distinct serial per accepted unit of a serialized product.
    pub serial_numbers: Option<Vec<String>>,
}

/// A delivery against a SUBMITTED or PARTIALLY_RECEIVED purchase order.
#[derive(InputObject)]
pub struct ReceivePurchaseOrderInput {
    /// The purchase order.
    pub purchase_order_id: ID,
    /// At least one line; each line at most once.
    pub lines: Vec<ReceiveLineInput>,
    /// The vendor's packing-slip number.
    pub packing_slip: Option<String>,
    /// When the goods arrived; now when omitted.
    pub received_at: Option<DateTime>,
    /// Freight charged for the delivery (>= 0, whole cents); billed with it.
    /// Ignored without `costs:read`.
    pub freight: Option<Decimal>,
    /// Makes retries safe: the same key and input returns the first result and writes nothing.
    pub idempotency_key: Option<String>,
}

/// Cancels a receipt whole.
#[derive(InputObject)]
pub struct CancelReceiptInput {
    /// The receipt.
    pub receipt_id: ID,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// Closes a purchase order, by ID or by number (give exactly one).
#[derive(InputObject)]
pub struct FinalizePurchaseOrderInput {
    /// The purchase order.
    pub purchase_order_id: Option<ID>,
    /// Its number.
    pub number: Option<String>,
    /// Move short quantities to a new SUBMITTED backorder (true) or release them (false).
    pub create_backorder: bool,
}

/// Result of `receivePurchaseOrder`.
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct ReceivePayload {
    #[graphql(skip)]
    pub receipt_value: Option<Receipt>,
    #[graphql(skip)]
    pub purchase_order_value: Option<PurchaseOrder>,
    #[graphql(skip)]
    pub bill_value: Option<Bill>,
    /// Why the mutation was refused; empty when it succeeded.
    pub user_errors: Vec<UserError>,
}

#[ComplexObject]
impl ReceivePayload {
    /// The new receipt; null when the caller may not read it (`purchase_orders:read`).
    async fn receipt(&self, ctx: &Context<'_>) -> Option<Receipt> {
        prime::readable(ctx, &self.receipt_value).await
    }

    /// The order after receiving; null when the caller may not read it
    /// (`purchase_orders:read`).
    async fn purchase_order(&self, ctx: &Context<'_>) -> Option<PurchaseOrder> {
        prime::readable(ctx, &self.purchase_order_value).await
    }

    /// The bill the receipt produced; null when the caller may not read it (`bills:read`).
    async fn bill(&self, ctx: &Context<'_>) -> Option<Bill> {
        prime::readable(ctx, &self.bill_value).await
    }
}

impl Payload for ReceivePayload {
    fn rejected(errors: Vec<UserError>) -> Self {
        Self {
            user_errors: errors,
            ..Default::default()
        }
    }
}

/// Result of `cancelReceipt`.
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct CancelReceiptPayload {
    #[graphql(skip)]
    pub receipt_value: Option<Receipt>,
    #[graphql(skip)]
    pub purchase_order_value: Option<PurchaseOrder>,
    #[graphql(skip)]
    pub credit_value: Option<Bill>,
    /// Why the mutation was refused; empty when it succeeded.
    pub user_errors: Vec<UserError>,
}

#[ComplexObject]
impl CancelReceiptPayload {
    /// The cancelled receipt; null when the caller may not read it (`purchase_orders:read`).
    async fn receipt(&self, ctx: &Context<'_>) -> Option<Receipt> {
        prime::readable(ctx, &self.receipt_value).await
    }

    /// The order after the reversal; null when the caller may not read it
    /// (`purchase_orders:read`).
    async fn purchase_order(&self, ctx: &Context<'_>) -> Option<PurchaseOrder> {
        prime::readable(ctx, &self.purchase_order_value).await
    }

    /// The credit against the receipt's bill; null when the caller may not read it
    /// (`bills:read`).
    async fn credit_bill(&self, ctx: &Context<'_>) -> Option<Bill> {
        prime::readable(ctx, &self.credit_value).await
    }
}

impl Payload for CancelReceiptPayload {
    fn rejected(errors: Vec<UserError>) -> Self {
        Self {
            user_errors: errors,
            ..Default::default()
        }
    }
}

payload!(
    /// Result of `finalizePurchaseOrder`.
    FinalizePayload {
        /// The closed order.
        purchase_order: PurchaseOrder,
        /// The backorder holding the short quantities, when one was created.
        backorder: PurchaseOrder
    }
);

impl ReceiveLineInput {
    /// The line of the command, or `None` when its line ID is malformed (recorded in `v` on
    /// the line's `index`).
    fn command(self, v: &mut Violations, index: usize) -> Option<ReceiveLine> {
        let field = format!("input.lines.{index}.lineId");
        let line_id = gather(v, &self.line_id, "PurchaseOrderLine", &field);
        Some(ReceiveLine {
            line_id: line_id?,
            quantity: self.quantity.0,
            rejected_quantity: self.rejected_quantity.map(|d| d.0),
            rejection_reason: self.rejection_reason,
            serial_numbers: self.serial_numbers,
        })
    }
}

impl ReceivePurchaseOrderInput {
    /// The command, with every malformed ID reported together. The freight counts only for a
    /// caller who may see costs.
    fn command(self, ctx: &Context<'_>) -> Result<NewReceipt, ServiceError> {
        let mut v = Violations::new();
        let purchase_order_id = gather(
            &mut v,
            &self.purchase_order_id,
            "PurchaseOrder",
            "input.purchaseOrderId",
        );
        let lines: Vec<Option<ReceiveLine>> = self
            .lines
            .into_iter()
            .enumerate()
            .map(|(i, line)| line.command(&mut v, i))
            .collect();
        let lines: Option<Vec<ReceiveLine>> = lines.into_iter().collect();
        let (purchase_order_id, lines) = v.done((purchase_order_id, lines))?;
        Ok(NewReceipt {
            purchase_order_id,
            lines,
            packing_slip: self.packing_slip,
            received_at: self.received_at.map(|t| t.0),
            freight: money_input(ctx, self.freight),
            idempotency_key: self.idempotency_key,
        })
    }
}

impl From<ReceiptOutcome> for ReceivePayload {
    fn from(outcome: ReceiptOutcome) -> Self {
        Self {
            receipt_value: Some(outcome.receipt.into()),
            purchase_order_value: Some(outcome.purchase_order.into()),
            bill_value: outcome.bill.map(Bill::from),
            user_errors: Vec::new(),
        }
    }
}

impl From<ReceiptOutcome> for CancelReceiptPayload {
    fn from(outcome: ReceiptOutcome) -> Self {
        Self {
            receipt_value: Some(outcome.receipt.into()),
            purchase_order_value: Some(outcome.purchase_order.into()),
            credit_value: outcome.bill.map(Bill::from),
            user_errors: Vec::new(),
        }
    }
}

#[derive(Default)]
pub struct ReceivingMutation;

#[Object]
impl ReceivingMutation {
    /// Receives a delivery: raises received quantities and on-hand, lowers on-order, writes the
    /// ledger, re-derives the status and issues the bill, all or nothing.
    async fn receive_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: ReceivePurchaseOrderInput,
    ) -> async_graphql::Result<ReceivePayload> {
        let actor = require(ctx, Permission::ReceivingWrite)?;
        let result = async {
            let receipt = input.command(ctx)?;
            retry_once(|| service::receive(use_case(ctx, actor), receipt.clone())).await
        }
        .await;
        respond(result, ReceivePayload::from)
    }

    /// Reverses a receipt whole with reversing ledger entries and a credit bill.
    async fn cancel_receipt(
        &self,
        ctx: &Context<'_>,
        input: CancelReceiptInput,
    ) -> async_graphql::Result<CancelReceiptPayload> {
        let actor = require(ctx, Permission::ReceivingWrite)?;
        let result = async {
            let id = decode_input(&input.receipt_id, "Receipt", "input.receiptId")?;
            let key = input.idempotency_key.as_deref();
            retry_once(|| service::cancel_receipt(use_case(ctx, actor), id, key)).await
        }
        .await;
        respond(result, CancelReceiptPayload::from)
    }

    /// Closes a SUBMITTED, PARTIALLY_RECEIVED or RECEIVED order, optionally moving what is short
    /// to a backorder `{number}-BO{n}`.
    async fn finalize_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: FinalizePurchaseOrderInput,
    ) -> async_graphql::Result<FinalizePayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let uc = use_case(ctx, actor);
        let result = async {
            let id = match (&input.purchase_order_id, input.number.as_deref()) {
                (Some(id), None) => decode_input(id, "PurchaseOrder", "input.purchaseOrderId")?,
                (None, Some(number)) => lifecycle::find_by_number(uc, number).await?,
                _ => {
                    return Err(ServiceError::user(
                        crate::domain::violation::ViolationCode::InvalidInput,
                        crate::error::Field::whole(),
                        "give exactly one of purchaseOrderId and number",
                    ))
                }
            };
            retry_once(|| lifecycle::finalize(uc, id, input.create_backorder)).await
        }
        .await;
        respond(result, |done| FinalizePayload {
            purchase_order: Some(done.purchase_order.into()),
            backorder: done.backorder.map(Into::into),
            user_errors: Vec::new(),
        })
    }
}
