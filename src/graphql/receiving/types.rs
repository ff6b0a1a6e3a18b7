//! Receipts, bills and their lines. Bills need `bills:read`; money needs `costs:read`.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, SimpleObject, ID};
use rust_decimal::Decimal as Exact;

use crate::auth::Permission;
use crate::domain::matching::{
    current_bill, three_way_match, AcceptedLine, BilledLine, Difference, DocumentKind, Issued,
    MatchField, Standing,
};
use crate::domain::money;
use crate::error::ApiError;
use crate::graphql::enums::{BillKind, BillStatus};
use crate::graphql::guard::{Guarded, Identity, Reads};
use crate::graphql::ids::to_gid;
use crate::graphql::loaders::{
    load_many, load_one, load_required, BillId, BillsOfReceipt, LineId, LinesOfBill,
    LinesOfReceipt, LocationId, ProductId, PurchaseOrderId, ReceiptId, SerialsOfReceiptLine,
    VendorId,
};
use crate::graphql::master_data::types::{Address, InventoryLocation, Product, Vendor};
use crate::graphql::purchasing::types::{PurchaseOrder, PurchaseOrderLine};
use crate::graphql::scalars::{Date, DateTime, Decimal};
use crate::graphql::{can_see_costs, require};

/// One delivery received against a purchase order. Its id and number show wherever it is
/// reached; every other field needs `purchase_orders:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct Receipt {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    /// `{PO number}-R{n}`.
    #[graphql(guard = "Identity")]
    pub number: String,
    #[graphql(skip)]
    pub purchase_order_id: i32,
    /// The vendor's packing-slip number.
    pub packing_slip: Option<String>,
    /// When the goods arrived.
    pub received_at: DateTime,
    /// Token subject of who received them.
    pub received_by: String,
    #[graphql(skip)]
    pub freight_value: Exact,
    /// When it was cancelled, if it was.
    pub canceled_at: Option<DateTime>,
    /// Token subject of who cancelled it.
    pub canceled_by: Option<String>,
}

impl From<entity::receipt::Model> for Receipt {
    fn from(m: entity::receipt::Model) -> Self {
        Receipt {
            id: to_gid("Receipt", m.id),
            db_id: m.id,
            number: m.number,
            purchase_order_id: m.purchase_order_id,
            packing_slip: m.packing_slip,
            received_at: DateTime(m.received_at),
            received_by: m.received_by,
            freight_value: m.freight.to_decimal(),
            canceled_at: m.canceled_at.map(DateTime),
            canceled_by: m.canceled_by,
        }
    }
}

/// What the domain needs to know of a stored bill to tell a receipt's current one.
fn issued(bill: &entity::bill::Model) -> Issued {
    Issued {
        id: bill.id,
        kind: document_kind(bill.kind),
        standing: match bill.status {
            entity::enums::BillStatus::Open => Standing::Open,
            entity::enums::BillStatus::Superseded => Standing::Superseded,
        },
    }
}

fn document_kind(kind: entity::enums::BillKind) -> DocumentKind {
    match kind {
        entity::enums::BillKind::Bill => DocumentKind::Bill,
        entity::enums::BillKind::Credit => DocumentKind::Credit,
    }
}

impl Guarded for Receipt {
    const READ: Permission = Permission::PurchaseOrdersRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl Receipt {
    /// The order received against.
    async fn purchase_order(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<PurchaseOrder>> {
        load_required(ctx, PurchaseOrderId(self.purchase_order_id)).await
    }

    /// What was received, line by line.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ReceiptLine>> {
        Ok(load_one(ctx, LinesOfReceipt(self.db_id))
            .await?
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(ReceiptLine::from)
            .collect())
    }

    /// Freight charged for this delivery; null without `costs:read`.
    async fn freight(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::money(self.freight_value))
    }

    /// The receipt's current bill (the open one, or the last replacement). Needs `bills:read`.
    async fn bill(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Bill>> {
        require(ctx, Permission::BillsRead)?;
        let bills = load_one(ctx, BillsOfReceipt(self.db_id))
            .await?
            .unwrap_or_default();
        let current = current_bill(bills.iter(), |bill| issued(bill));
        Ok(current.cloned().map(Bill::from))
    }

    /// Every bill and credit this receipt produced, oldest first. Needs `bills:read`.
    async fn bills(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Bill>> {
        require(ctx, Permission::BillsRead)?;
        Ok(load_one(ctx, BillsOfReceipt(self.db_id))
            .await?
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(Bill::from)
            .collect())
    }
}

/// The quantity of one purchase-order line in a receipt. Its id shows wherever it is reached;
/// every other field needs `purchase_orders:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct ReceiptLine {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    #[graphql(skip)]
    pub line_id: i32,
    #[graphql(skip)]
    pub product_id: i32,
    #[graphql(skip)]
    pub location_id: i32,
    /// Accepted quantity: entered stock and the bill.
    pub quantity: Decimal,
    /// Delivered but refused.
    pub rejected_quantity: Decimal,
    /// Why it was refused.
    pub rejection_reason: Option<String>,
    #[graphql(skip)]
    pub unit_cost_value: Exact,
}

impl From<entity::receipt_line::Model> for ReceiptLine {
    fn from(m: entity::receipt_line::Model) -> Self {
        ReceiptLine {
            id: to_gid("ReceiptLine", m.id),
            db_id: m.id,
            line_id: m.purchase_order_line_id,
            product_id: m.product_id,
            location_id: m.location_id,
            quantity: m.quantity.into(),
            rejected_quantity: m.rejected_quantity.into(),
            rejection_reason: m.rejection_reason,
            unit_cost_value: m.unit_cost.to_decimal(),
        }
    }
}

impl Guarded for ReceiptLine {
    const READ: Permission = Permission::PurchaseOrdersRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl ReceiptLine {
    /// The purchase-order line received.
    async fn line(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<PurchaseOrderLine>> {
        load_required(ctx, LineId(self.line_id)).await
    }

    /// The product received, as it was received: later edits of the order line never show
    /// here.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Product>> {
        load_required(ctx, ProductId(self.product_id)).await
    }

    /// The location the goods were received into.
    async fn location(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<InventoryLocation>> {
        load_required(ctx, LocationId(self.location_id)).await
    }

    /// Serial numbers of the accepted units (serialized products).
    async fn serial_numbers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(load_one(ctx, SerialsOfReceiptLine(self.db_id))
            .await?
            .unwrap_or_default()
            .iter()
            .map(|s| s.serial_number.clone())
            .collect())
    }

    /// The line's unit cost when received; null without `costs:read`.
    async fn unit_cost(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::quantity(self.unit_cost_value))
    }
}

/// A vendor bill (or credit), generated by a receipt; never edited, only superseded. Its id and
/// number show wherever it is reached; every other field needs `bills:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct Bill {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    /// `BILL-{PO number}-{n}`.
    #[graphql(guard = "Identity")]
    pub number: String,
    /// BILL or CREDIT.
    pub kind: BillKind,
    /// OPEN, or SUPERSEDED after a unit-cost change of one of its lines or a tax-rate change of
    /// its order.
    pub status: BillStatus,
    #[graphql(skip)]
    pub vendor_id: i32,
    #[graphql(skip)]
    pub purchase_order_id: i32,
    #[graphql(skip)]
    pub receipt_id: i32,
    #[graphql(skip)]
    pub credit_of_id: Option<i32>,
    #[graphql(skip)]
    pub superseded_by_id: Option<i32>,
    /// The vendor's main address when the bill was issued.
    pub remit_to: Address,
    /// Date of the bill.
    pub bill_date: Date,
    /// Bill date + the vendor's payment terms.
    pub due_date: Date,
    /// ISO 4217 currency of its amounts.
    pub currency: String,
    /// Currency → base currency, from the order.
    pub exchange_rate: Decimal,
    #[graphql(skip)]
    pub money: BillMoney,
}

/// A bill's amounts, shown only with `costs:read`.
#[derive(Clone, Copy, Debug)]
pub struct BillMoney {
    tax_rate: Exact,
    subtotal: Exact,
    tax: Exact,
    freight: Exact,
    total: Exact,
    exchange_rate: Exact,
}

impl From<entity::bill::Model> for Bill {
    fn from(m: entity::bill::Model) -> Self {
        Bill {
            id: to_gid("Bill", m.id),
            db_id: m.id,
            number: m.number,
            kind: m.kind.into(),
            status: m.status.into(),
            vendor_id: m.vendor_id,
            purchase_order_id: m.purchase_order_id,
            receipt_id: m.receipt_id,
            credit_of_id: m.credit_of_id,
            superseded_by_id: m.superseded_by_id,
            remit_to: Address {
                street: Some(m.remit_street),
                city: Some(m.remit_city),
                region: m.remit_region,
                postal_code: Some(m.remit_postal_code),
                country: Some(m.remit_country),
            },
            bill_date: Date(m.bill_date),
            due_date: Date(m.due_date),
            currency: m.currency,
            exchange_rate: m.exchange_rate.into(),
            money: BillMoney {
                tax_rate: m.tax_rate.to_decimal(),
                subtotal: m.subtotal.to_decimal(),
                tax: m.tax.to_decimal(),
                freight: m.freight.to_decimal(),
                total: m.total.to_decimal(),
                exchange_rate: m.exchange_rate.to_decimal(),
            },
        }
    }
}

/// Whether a bill agrees with what was received and ordered.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchState {
    /// Its quantities equal those received and its costs those ordered.
    Matched,
    /// Some line differs; see `differences`.
    Mismatched,
}

/// Which figure of a bill line differs.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchDifferenceField {
    /// Billed quantity ≠ accepted quantity of the receipt.
    Quantity,
    /// Billed unit cost ≠ the order line's unit cost.
    UnitCost,
}

/// One disagreement of the 3-way match.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct MatchDifference {
    #[graphql(skip)]
    pub line_id: i32,
    /// What differs.
    pub field: MatchDifferenceField,
    #[graphql(skip)]
    pub billed_value: Exact,
    #[graphql(skip)]
    pub expected_value: Exact,
}

#[ComplexObject]
impl MatchDifference {
    /// The purchase-order line concerned.
    async fn line(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<PurchaseOrderLine>> {
        load_required(ctx, LineId(self.line_id)).await
    }

    /// The billed figure; null for costs without `costs:read`.
    async fn billed(&self, ctx: &Context<'_>) -> Option<Decimal> {
        (self.field == MatchDifferenceField::Quantity || can_see_costs(ctx))
            .then(|| Decimal::quantity(self.billed_value))
    }

    /// The received (quantity) or ordered (unit cost) figure; null for costs without
    /// `costs:read`.
    async fn expected(&self, ctx: &Context<'_>) -> Option<Decimal> {
        (self.field == MatchDifferenceField::Quantity || can_see_costs(ctx))
            .then(|| Decimal::quantity(self.expected_value))
    }
}

/// The 3-way match of a bill against its receipt and order.
#[derive(SimpleObject, Clone, Debug)]
pub struct BillMatch {
    /// MATCHED or MISMATCHED.
    pub state: MatchState,
    /// The differing figures; empty when matched.
    pub differences: Vec<MatchDifference>,
}

impl Guarded for Bill {
    const READ: Permission = Permission::BillsRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl Bill {
    /// Who bills.
    async fn vendor(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Vendor>> {
        load_required(ctx, VendorId(self.vendor_id)).await
    }

    /// The order billed.
    async fn purchase_order(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<PurchaseOrder>> {
        load_required(ctx, PurchaseOrderId(self.purchase_order_id)).await
    }

    /// The receipt that produced it.
    async fn receipt(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Receipt>> {
        load_required(ctx, ReceiptId(self.receipt_id)).await
    }

    /// For a credit: the bill it cancels.
    async fn credit_of(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Bill>>> {
        match self.credit_of_id {
            Some(id) => load_one(ctx, BillId(id)).await,
            None => Ok(None),
        }
    }

    /// For a superseded bill: its replacement.
    async fn superseded_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Bill>>> {
        match self.superseded_by_id {
            Some(id) => load_one(ctx, BillId(id)).await,
            None => Ok(None),
        }
    }

    /// One line per received line.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BillLine>> {
        Ok(load_one(ctx, LinesOfBill(self.db_id))
            .await?
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(BillLine::from)
            .collect())
    }

    /// Tax rate of the order; null without `costs:read`.
    async fn tax_rate(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::quantity(self.money.tax_rate))
    }

    /// The order's received value rounded once to cents, minus the subtotals of its earlier
    /// open bills: the rounding is carried across an order's bills, so its open bills always
    /// sum to its received value rounded once; null without `costs:read`.
    async fn subtotal(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::money(self.money.subtotal))
    }

    /// Tax carried like the subtotal: round(rounded received value × tax rate) minus the tax
    /// of the order's earlier open bills; null without `costs:read`.
    async fn tax(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::money(self.money.tax))
    }

    /// The receipt's freight charge; null without `costs:read`.
    async fn freight(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::money(self.money.freight))
    }

    /// subtotal + tax + freight: the printed parts always add up to it; null without
    /// `costs:read`.
    async fn total(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::money(self.money.total))
    }

    /// The total in the base currency; null without `costs:read`.
    async fn base_total(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Decimal>> {
        if !can_see_costs(ctx) {
            return Ok(None);
        }
        money::to_base_money(self.money.total, self.money.exchange_rate)
            .map(|base| Some(Decimal::money(base)))
            .map_err(|overflow| ApiError::ValueTooLarge(overflow.to_string()).into())
    }

    /// The 3-way match against the receipt and the order as they are now.
    #[graphql(name = "match")]
    async fn three_way_match(&self, ctx: &Context<'_>) -> async_graphql::Result<BillMatch> {
        let billed = load_one(ctx, LinesOfBill(self.db_id))
            .await?
            .unwrap_or_default();
        let received = load_one(ctx, LinesOfReceipt(self.receipt_id))
            .await?
            .unwrap_or_default();
        let ordered =
            load_many(ctx, billed.iter().map(|l| LineId(l.purchase_order_line_id))).await?;
        let differences = three_way_match(
            document_kind(self.kind.into()),
            &billed.iter().map(billed_line).collect::<Vec<_>>(),
            &received.iter().map(accepted_line).collect::<Vec<_>>(),
            |line| ordered.get(&LineId(line)).map(|l| l.unit_cost_value),
        )
        .map_err(|_| ApiError::internal("bill line without its order line"))?;
        Ok(BillMatch::from(differences))
    }
}

fn billed_line(line: &entity::bill_line::Model) -> BilledLine {
    BilledLine {
        order_line_id: line.purchase_order_line_id,
        receipt_line_id: line.receipt_line_id,
        quantity: line.quantity.to_decimal(),
        unit_cost: line.unit_cost.to_decimal(),
    }
}

fn accepted_line(line: &entity::receipt_line::Model) -> AcceptedLine {
    AcceptedLine {
        receipt_line_id: line.id,
        quantity: line.quantity.to_decimal(),
    }
}

impl From<Vec<Difference>> for BillMatch {
    fn from(differences: Vec<Difference>) -> Self {
        BillMatch {
            state: if differences.is_empty() {
                MatchState::Matched
            } else {
                MatchState::Mismatched
            },
            differences: differences
                .into_iter()
                .map(|d| MatchDifference {
                    line_id: d.line_id,
                    field: match d.field {
                        MatchField::Quantity => MatchDifferenceField::Quantity,
                        MatchField::UnitCost => MatchDifferenceField::UnitCost,
                    },
                    billed_value: d.billed,
                    expected_value: d.expected,
                })
                .collect(),
        }
    }
}

/// One billed line: quantity × unit cost. Its id shows wherever it is reached; every other field
/// needs `bills:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct BillLine {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub line_id: i32,
    #[graphql(skip)]
    pub product_id: i32,
    #[graphql(skip)]
    pub location_id: i32,
    /// Quantity billed (negative on a credit).
    pub quantity: Decimal,
    #[graphql(skip)]
    pub unit_cost_value: Exact,
}

impl From<entity::bill_line::Model> for BillLine {
    fn from(m: entity::bill_line::Model) -> Self {
        BillLine {
            id: to_gid("BillLine", m.id),
            line_id: m.purchase_order_line_id,
            product_id: m.product_id,
            location_id: m.location_id,
            quantity: m.quantity.into(),
            unit_cost_value: m.unit_cost.to_decimal(),
        }
    }
}

impl Guarded for BillLine {
    const READ: Permission = Permission::BillsRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl BillLine {
    /// The purchase-order line billed.
    async fn line(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<PurchaseOrderLine>> {
        load_required(ctx, LineId(self.line_id)).await
    }

    /// The product billed, as it was received: later edits of the order line never show here.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Product>> {
        load_required(ctx, ProductId(self.product_id)).await
    }

    /// The location the billed goods were received into.
    async fn location(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<InventoryLocation>> {
        load_required(ctx, LocationId(self.location_id)).await
    }

    /// Unit cost billed; null without `costs:read`.
    async fn unit_cost(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then(|| Decimal::quantity(self.unit_cost_value))
    }

    /// quantity × unit cost, exact (only the bill rounds); null without `costs:read`.
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Decimal>> {
        if !can_see_costs(ctx) {
            return Ok(None);
        }
        money::line_amount(self.quantity.0, self.unit_cost_value)
            .map(|amount| Some(Decimal::quantity(amount)))
            .map_err(|overflow| ApiError::ValueTooLarge(overflow.to_string()).into())
    }
}
