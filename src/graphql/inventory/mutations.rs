//! Stock mutations: item settings, adjustments, transfers, reservations and picks (need
//! `inventory:write`), and reorder purchase orders (need `purchase_orders:write`).

use async_graphql::{Context, Enum, InputObject, MaybeUndefined, Object, ID};

use super::types::InventoryItem;
use super::ReorderSuggestion;
use crate::auth::Permission;
use crate::error::ServiceError;
use crate::graphql::guard::may_read;
use crate::graphql::ids::{decode_input_opt, gather, gather_opt};
use crate::graphql::payload::{payload, respond};
use crate::graphql::purchasing::mutations::use_case;
use crate::graphql::purchasing::types::PurchaseOrder;
use crate::graphql::require;
use crate::graphql::scalars::Decimal;
use crate::services::stock::{
    self as service, Adjustment, Commitment, CommitmentKind, ItemSettings, Reorder, Transfer,
};
use crate::services::{retry_once, Violations};

/// Why on-hand is adjusted.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::inventory::AdjustmentReason")]
pub enum AdjustmentReason {
    /// A physical count.
    Count,
    /// Damaged stock written off.
    Damage,
    /// Stock lost.
    Loss,
    /// Stock found.
    Found,
    /// Anything else (say what in the memo).
    Other,
}

/// Creates the item of a product at a location if needed and sets its reorder points and place.
#[derive(InputObject)]
pub struct UpsertInventoryItemInput {
    /// The product.
    pub product_id: ID,
    /// The location; must be active.
    pub location_id: ID,
    /// Reorder point (>= 0).
    pub minimum: Option<Decimal>,
    /// Reorder up to this (>= minimum); `null` removes it.
    pub maximum: MaybeUndefined<Decimal>,
    /// Bin within the location (at most 50 characters); `null` clears it.
    pub bin: MaybeUndefined<String>,
    /// Free reference (at most 50 characters); `null` clears it.
    pub reference_number: MaybeUndefined<String>,
}

/// Changes on-hand by `delta` or sets it to `countedQuantity` (exactly one).
#[derive(InputObject)]
pub struct AdjustInventoryInput {
    /// The product.
    pub product_id: ID,
    /// The location; must be active.
    pub location_id: ID,
    /// Change of on hand (not zero).
    pub delta: Option<Decimal>,
    /// On hand as counted (>= 0).
    pub counted_quantity: Option<Decimal>,
    /// Why.
    pub reason: AdjustmentReason,
    /// On hand as you last saw it; refused with STALE_VERSION when it changed since.
    pub expected_on_hand: Option<Decimal>,
    /// Free text, kept on the ledger entry.
    pub memo: Option<String>,
    /// For a serialized product, one serial per unit changed: serials in stock at the location
    /// for a decrease, new ones (or ones gone before) for an increase.
    pub serial_numbers: Option<Vec<String>>,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// Moves stock between two active locations.
#[derive(InputObject)]
pub struct TransferInventoryInput {
    /// The product.
    pub product_id: ID,
    /// Where it leaves; must have the quantity available.
    pub from_location_id: ID,
    /// Where it arrives.
    pub to_location_id: ID,
    /// How much (> 0).
    pub quantity: Decimal,
    /// One distinct serial per unit of a serialized product, each in stock at the source.
    pub serial_numbers: Option<Vec<String>>,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// The product and location IDs naming an item, each malformed one recorded in `v` (so all
/// of an input's malformed IDs are reported together).
fn item_ids(v: &mut Violations, product_id: &ID, location_id: &ID) -> (Option<i32>, Option<i32>) {
    (
        gather(v, product_id, "Product", "input.productId"),
        gather(v, location_id, "InventoryLocation", "input.locationId"),
    )
}

impl UpsertInventoryItemInput {
    /// The command, or every malformed ID at once.
    fn command(self) -> Result<ItemSettings, ServiceError> {
        let mut v = Violations::new();
        let ids = item_ids(&mut v, &self.product_id, &self.location_id);
        let (product_id, location_id) = v.done(ids)?;
        Ok(ItemSettings {
            product_id,
            location_id,
            minimum: self.minimum.map(|d| d.0),
            maximum: Option::<Option<Decimal>>::from(self.maximum).map(|m| m.map(|d| d.0)),
            bin: self.bin.into(),
            reference_number: self.reference_number.into(),
        })
    }
}

impl AdjustInventoryInput {
    /// The command, or every malformed ID at once.
    fn command(self) -> Result<Adjustment, ServiceError> {
        let mut v = Violations::new();
        let ids = item_ids(&mut v, &self.product_id, &self.location_id);
        let (product_id, location_id) = v.done(ids)?;
        Ok(Adjustment {
            product_id,
            location_id,
            delta: self.delta.map(|d| d.0),
            counted_quantity: self.counted_quantity.map(|d| d.0),
            reason: self.reason.into(),
            expected_on_hand: self.expected_on_hand.map(|d| d.0),
            memo: self.memo,
            serial_numbers: self.serial_numbers,
            idempotency_key: self.idempotency_key,
        })
    }
}

impl TransferInventoryInput {
    /// The command, or every malformed ID at once.
    fn command(self) -> Result<Transfer, ServiceError> {
        let mut v = Violations::new();
        let location = "InventoryLocation";
        let product = gather(&mut v, &self.product_id, "Product", "input.productId");
        let from = gather(
            &mut v,
            &self.from_location_id,
            location,
            "input.fromLocationId",
        );
        let to = gather(&mut v, &self.to_location_id, location, "input.toLocationId");
        let (product_id, from_location_id, to_location_id) = v.done((product, from, to))?;
        Ok(Transfer {
            product_id,
            from_location_id,
            to_location_id,
            quantity: self.quantity.0,
            serial_numbers: self.serial_numbers,
            idempotency_key: self.idempotency_key,
        })
    }
}

/// What the inputs of reserve / release / pick / unpick share.
struct CommitmentFields {
    product_id: ID,
    location_id: ID,
    quantity: Decimal,
    job_id: Option<ID>,
    idempotency_key: Option<String>,
}

impl CommitmentFields {
    /// The command of `kind`, or every malformed ID at once.
    fn command(self, kind: CommitmentKind) -> Result<Commitment, ServiceError> {
        let mut v = Violations::new();
        let (product, location) = item_ids(&mut v, &self.product_id, &self.location_id);
        let job = gather_opt(&mut v, self.job_id.as_ref(), "Job", "input.jobId");
        let (product_id, location_id, job_id) = v.done((product, location, job))?;
        Ok(Commitment {
            kind,
            product_id,
            location_id,
            quantity: self.quantity.0,
            job_id,
            idempotency_key: self.idempotency_key,
        })
    }
}

/// Declares the input of reserve / release / pick / unpick.
macro_rules! commitment_input {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(InputObject)]
        pub struct $name {
            /// The product.
            pub product_id: ID,
            /// The location; must be active.
            pub location_id: ID,
            /// How much (> 0).
            pub quantity: Decimal,
            /// The job it is for.
            pub job_id: Option<ID>,
            /// Makes retries safe.
            pub idempotency_key: Option<String>,
        }

        impl From<$name> for CommitmentFields {
            fn from(input: $name) -> Self {
                CommitmentFields {
                    product_id: input.product_id,
                    location_id: input.location_id,
                    quantity: input.quantity,
                    job_id: input.job_id,
                    idempotency_key: input.idempotency_key,
                }
            }
        }
    };
}

commitment_input!(
    /// Reserves available stock.
    ReserveInventoryInput
);
commitment_input!(
    /// Releases reserved stock.
    ReleaseReservationInput
);
commitment_input!(
    /// Picks available stock.
    PickInventoryInput
);
commitment_input!(
    /// Puts picked stock back.
    UnpickInventoryInput
);

/// Turns the reorder suggestions into PENDING purchase orders.
#[derive(InputObject)]
pub struct CreateReorderPurchaseOrdersInput {
    /// Only this location.
    pub location_id: Option<ID>,
    /// Type of the orders; the first active type when omitted.
    pub type_id: Option<ID>,
    /// Business unit of the orders; the first active one when omitted.
    pub business_unit_id: Option<ID>,
}

impl CreateReorderPurchaseOrdersInput {
    /// The command; a malformed ID is refused.
    fn command(self) -> Result<Reorder, ServiceError> {
        Ok(Reorder {
            location_id: decode_input_opt(
                self.location_id.as_ref(),
                "InventoryLocation",
                "input.locationId",
            )?,
            type_id: decode_input_opt(self.type_id.as_ref(), "PurchaseOrderType", "input.typeId")?,
            business_unit_id: decode_input_opt(
                self.business_unit_id.as_ref(),
                "BusinessUnit",
                "input.businessUnitId",
            )?,
        })
    }
}

payload!(
    /// Result of an item mutation.
    InventoryItemPayload {
        /// The item as saved.
        inventory_item: InventoryItem
    }
);
payload!(
    /// Result of `transferInventory`.
    TransferPayload {
        /// The item the stock left.
        from: InventoryItem,
        /// The item the stock reached.
        to: InventoryItem
    }
);

/// Result of `createReorderPurchaseOrders`.
#[derive(async_graphql::SimpleObject, Default)]
#[graphql(complex)]
pub struct ReorderPayload {
    #[graphql(skip)]
    pub purchase_orders: Vec<PurchaseOrder>,
    #[graphql(skip)]
    pub skipped: Vec<ReorderSuggestion>,
    /// Why the mutation was refused; empty when it succeeded.
    pub user_errors: Vec<crate::graphql::user_error::UserError>,
}

#[async_graphql::ComplexObject]
impl ReorderPayload {
    /// The PENDING orders created, one per preferred vendor and location; null when the caller
    /// may not read purchase orders (`purchase_orders:read`).
    async fn purchase_orders(&self, ctx: &Context<'_>) -> Option<Vec<PurchaseOrder>> {
        may_read::<PurchaseOrder>(ctx).then(|| self.purchase_orders.clone())
    }

    /// Suggestions no order was made for (inactive product or location, no active preferred
    /// vendor, or the order refused), each with its `skipReason`; null when the caller may not
    /// read stock (`inventory:read`).
    async fn skipped(&self, ctx: &Context<'_>) -> Option<Vec<ReorderSuggestion>> {
        may_read::<ReorderSuggestion>(ctx).then(|| self.skipped.clone())
    }
}

impl crate::graphql::payload::Payload for ReorderPayload {
    fn rejected(errors: Vec<crate::graphql::user_error::UserError>) -> Self {
        Self {
            user_errors: errors,
            ..Default::default()
        }
    }
}

fn item_payload(item: entity::inventory_item::Model) -> InventoryItemPayload {
    InventoryItemPayload {
        inventory_item: Some(item.into()),
        ..Default::default()
    }
}

#[derive(Default)]
pub struct InventoryMutation;

impl InventoryMutation {
    /// Reserve, release, pick or unpick: the same shape, another movement.
    async fn commitment(
        &self,
        ctx: &Context<'_>,
        kind: CommitmentKind,
        input: CommitmentFields,
    ) -> async_graphql::Result<InventoryItemPayload> {
        let actor = require(ctx, Permission::InventoryWrite)?;
        let result = async {
            let command = input.command(kind)?;
            retry_once(|| service::commit_stock(use_case(ctx, actor), command.clone())).await
        }
        .await;
        respond(result, item_payload)
    }
}

#[Object]
impl InventoryMutation {
    /// Creates or changes the item of a product at a location: minimum, maximum, bin, reference.
    async fn upsert_inventory_item(
        &self,
        ctx: &Context<'_>,
        input: UpsertInventoryItemInput,
    ) -> async_graphql::Result<InventoryItemPayload> {
        let actor = require(ctx, Permission::InventoryWrite)?;
        let result = async {
            let settings = input.command()?;
            retry_once(|| service::upsert_item(use_case(ctx, actor), settings.clone())).await
        }
        .await;
        respond(result, item_payload)
    }

    /// Sets or changes on-hand with a reason; writes the ledger.
    async fn adjust_inventory(
        &self,
        ctx: &Context<'_>,
        input: AdjustInventoryInput,
    ) -> async_graphql::Result<InventoryItemPayload> {
        let actor = require(ctx, Permission::InventoryWrite)?;
        let result = async {
            let adjustment = input.command()?;
            retry_once(|| service::adjust(use_case(ctx, actor), adjustment.clone())).await
        }
        .await;
        respond(result, item_payload)
    }

    /// Moves stock between two active locations, all or nothing.
    async fn transfer_inventory(
        &self,
        ctx: &Context<'_>,
        input: TransferInventoryInput,
    ) -> async_graphql::Result<TransferPayload> {
        let actor = require(ctx, Permission::InventoryWrite)?;
        let result = async {
            let transfer = input.command()?;
            retry_once(|| service::transfer(use_case(ctx, actor), transfer.clone())).await
        }
        .await;
        respond(result, |(from, to)| TransferPayload {
            from: Some(from.into()),
            to: Some(to.into()),
            ..Default::default()
        })
    }

    /// Reserves available stock for a job.
    async fn reserve_inventory(
        &self,
        ctx: &Context<'_>,
        input: ReserveInventoryInput,
    ) -> async_graphql::Result<InventoryItemPayload> {
        self.commitment(ctx, CommitmentKind::Reserve, input.into())
            .await
    }

    /// Releases reserved stock.
    async fn release_reservation(
        &self,
        ctx: &Context<'_>,
        input: ReleaseReservationInput,
    ) -> async_graphql::Result<InventoryItemPayload> {
        self.commitment(ctx, CommitmentKind::Release, input.into())
            .await
    }

    /// Picks available stock for a job.
    async fn pick_inventory(
        &self,
        ctx: &Context<'_>,
        input: PickInventoryInput,
    ) -> async_graphql::Result<InventoryItemPayload> {
        self.commitment(ctx, CommitmentKind::Pick, input.into())
            .await
    }

    /// Puts picked stock back.
    async fn unpick_inventory(
        &self,
        ctx: &Context<'_>,
        input: UnpickInventoryInput,
    ) -> async_graphql::Result<InventoryItemPayload> {
        self.commitment(ctx, CommitmentKind::Unpick, input.into())
            .await
    }

    /// Turns the reorder suggestions into PENDING purchase orders, one per preferred vendor and
    /// location. Items that cannot be ordered are reported in `skipped` and the other orders
    /// are still created. Needs `purchase_orders:write`.
    async fn create_reorder_purchase_orders(
        &self,
        ctx: &Context<'_>,
        input: CreateReorderPurchaseOrdersInput,
    ) -> async_graphql::Result<ReorderPayload> {
        let actor = require(ctx, Permission::PurchaseOrdersWrite)?;
        let result = async {
            let reorder = input.command()?;
            retry_once(|| service::create_reorder_orders(use_case(ctx, actor), reorder)).await
        }
        .await;
        respond(result, |done| ReorderPayload {
            purchase_orders: done.purchase_orders.into_iter().map(Into::into).collect(),
            skipped: done
                .skipped
                .into_iter()
                .map(ReorderSuggestion::skipped)
                .collect(),
            user_errors: Vec::new(),
        })
    }
}
