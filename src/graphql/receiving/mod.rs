//! Receiving, cancelling receipts, finalizing, and the bills they produce.

pub mod mutations;
pub mod types;

use async_graphql::{Context, Enum, InputObject, Object, ID};
use chrono::{Days, SubsecRound};
use sea_orm::sea_query::Query as SqlQuery;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::auth::Permission;
use crate::error::ApiError;
use crate::graphql::connection::{Page, PageArgs, SortDirection, SortKey, SortOrder};
use crate::graphql::enums::{BillKind, BillStatus};
use crate::graphql::ids::decode;
use crate::graphql::prime::{self, Sel};
use crate::graphql::scalars::{Date, DateTime};
use crate::graphql::{require, root_page};
use crate::services::search::contains_text;
use types::{Bill, Receipt};

/// Narrows the bill list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct BillFilter {
    /// From this vendor.
    pub vendor_id: Option<ID>,
    /// For this purchase order.
    pub purchase_order_id: Option<ID>,
    /// BILL or CREDIT.
    pub kind: Option<BillKind>,
    /// OPEN or SUPERSEDED.
    pub status: Option<BillStatus>,
    /// Dated on or after.
    pub billed_after: Option<Date>,
    /// Dated on or before.
    pub billed_before: Option<Date>,
    /// Due on or after.
    pub due_after: Option<Date>,
    /// Due on or before.
    pub due_before: Option<Date>,
    /// Case-insensitive text contained in the bill number.
    pub number: Option<String>,
    /// Only bills issued, or superseded, strictly after this instant (bills are otherwise never
    /// changed): what a client syncing since its last run must fetch again.
    pub updated_after: Option<DateTime>,
}

impl BillFilter {
    /// The bills matching every given condition.
    fn condition(&self) -> Result<Condition, ApiError> {
        use entity::bill::Column;
        let mut condition = Condition::all();
        if let Some(vendor) = &self.vendor_id {
            condition = condition.add(Column::VendorId.eq(decode(vendor, "Vendor")?));
        }
        if let Some(po) = &self.purchase_order_id {
            condition = condition.add(Column::PurchaseOrderId.eq(decode(po, "PurchaseOrder")?));
        }
        if let Some(kind) = self.kind {
            condition = condition.add(Column::Kind.eq(entity::enums::BillKind::from(kind)));
        }
        if let Some(status) = self.status {
            condition = condition.add(Column::Status.eq(entity::enums::BillStatus::from(status)));
        }
        if let Some(date) = self.billed_after {
            condition = condition.add(Column::BillDate.gte(date.0));
        }
        if let Some(date) = self.billed_before {
            // Inclusive: strictly before the next day.
            condition = condition.add(Column::BillDate.lt(day_after(date.0)));
        }
        Ok(condition.add(self.due_and_number_condition()))
    }

    /// The conditions on due date, number and change time.
    fn due_and_number_condition(&self) -> Condition {
        use entity::bill::Column;
        let mut condition = Condition::all();
        if let Some(after) = self.updated_after {
            // A bill changes once after its issue: when it is superseded, in the transaction
            // that issues its replacement.
            let after = after.0.trunc_subsecs(6);
            condition = condition.add(
                Condition::any().add(Column::CreatedAt.gt(after)).add(
                    Column::SupersededById.in_subquery(
                        SqlQuery::select()
                            .column(Column::Id)
                            .from(entity::bill::Entity)
                            .and_where(Column::CreatedAt.gt(after))
                            .to_owned(),
                    ),
                ),
            );
        }
        if let Some(date) = self.due_after {
            condition = condition.add(Column::DueDate.gte(date.0));
        }
        if let Some(date) = self.due_before {
            condition = condition.add(Column::DueDate.lte(date.0));
        }
        if let Some(text) = self.number.as_deref() {
            condition = condition.add(contains_text(Column::Number, text));
        }
        condition
    }
}

/// What bills can be sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillSortField {
    /// The bill number.
    Number,
    /// The bill date.
    BillDate,
    /// The due date.
    DueDate,
    /// The total. Needs `costs:read`: an order by hidden totals would reveal them.
    Total,
}

/// A sort of the bill list; ties are broken by age.
#[derive(InputObject)]
pub struct BillSort {
    /// The field.
    pub field: BillSortField,
    /// The direction; ascending when omitted.
    #[graphql(default)]
    pub direction: SortDirection,
}

impl BillSort {
    /// The keyset order of this sort. Sorting by total needs `costs:read`: paging through
    /// bills sorted by a total the caller cannot see recovers it by bisection.
    fn order(&self, ctx: &Context<'_>) -> Result<SortOrder, ApiError> {
        let column = match self.field {
            BillSortField::Number => "number",
            BillSortField::BillDate => "bill_date",
            BillSortField::DueDate => "due_date",
            BillSortField::Total => {
                require(ctx, Permission::CostsRead)?;
                "total"
            }
        };
        Ok(SortOrder::new(
            [SortKey::column(column, self.direction)],
            self.direction,
        ))
    }
}

/// Narrows the receipt list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct ReceiptFilter {
    /// Of this purchase order.
    pub purchase_order_id: Option<ID>,
    /// Of purchase orders placed with this vendor.
    pub vendor_id: Option<ID>,
    /// Received on or after this date (UTC).
    pub received_after: Option<Date>,
    /// Received on or before this date (UTC).
    pub received_before: Option<Date>,
    /// Cancelled (true) or standing (false).
    pub cancelled: Option<bool>,
    /// Only receipts recorded or cancelled strictly after this instant (receipts are otherwise
    /// never changed): what a client syncing since its last run must fetch again.
    pub updated_after: Option<DateTime>,
}

impl ReceiptFilter {
    /// The receipts matching every given condition.
    fn condition(&self) -> Result<Condition, ApiError> {
        use entity::receipt::Column;
        let mut condition = Condition::all();
        if let Some(after) = self.updated_after {
            let after = after.0.trunc_subsecs(6);
            condition = condition.add(
                Condition::any()
                    .add(Column::CreatedAt.gt(after))
                    .add(Column::CanceledAt.gt(after)),
            );
        }
        if let Some(po) = &self.purchase_order_id {
            condition = condition.add(Column::PurchaseOrderId.eq(decode(po, "PurchaseOrder")?));
        }
        if let Some(vendor) = &self.vendor_id {
            use entity::purchase_order::Column as P;
            condition = condition.add(
                Column::PurchaseOrderId.in_subquery(
                    SqlQuery::select()
                        .column(P::Id)
                        .from(entity::purchase_order::Entity)
                        .and_where(P::VendorId.eq(decode(vendor, "Vendor")?))
                        .to_owned(),
                ),
            );
        }
        if let Some(date) = self.received_after {
            condition = condition.add(Column::ReceivedAt.gte(start_of(date.0)));
        }
        if let Some(date) = self.received_before {
            condition = condition.add(Column::ReceivedAt.lt(start_of(day_after(date.0))));
        }
        if let Some(cancelled) = self.cancelled {
            condition = condition.add(if cancelled {
                Column::CanceledAt.is_not_null()
            } else {
                Column::CanceledAt.is_null()
            });
        }
        Ok(condition)
    }
}

/// The first instant of `date` (UTC).
fn start_of(date: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The next day; the last representable date stays itself.
fn day_after(date: chrono::NaiveDate) -> chrono::NaiveDate {
    date.checked_add_days(Days::new(1)).unwrap_or(date)
}

#[derive(Default)]
pub struct BillsQuery;

#[Object]
impl BillsQuery {
    /// Vendor bills and credits, oldest first. Needs `bills:read`.
    #[allow(clippy::too_many_arguments)]
    async fn bills(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        filter: Option<BillFilter>,
        #[graphql(desc = "The order; oldest first when omitted.")] sort: Option<BillSort>,
    ) -> async_graphql::Result<Page<Bill>> {
        require(ctx, Permission::BillsRead)?;
        let order = sort.map(|s| s.order(ctx)).transpose()?.unwrap_or_default();
        let condition = filter.unwrap_or_default().condition()?;
        let select = entity::bill::Entity::find().filter(condition);
        let args = PageArgs::new(first, after, last, before);
        let page = root_page(ctx, &args, select, &order, |m| m.id, Bill::from).await?;
        prime::page(ctx, &page).await?;
        Ok(page)
    }

    /// Receipts (the receiving history), oldest first; filters combine with AND. Needs
    /// `purchase_orders:read`.
    async fn receipts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        #[graphql(desc = "Conditions that must all hold.")] filter: Option<ReceiptFilter>,
    ) -> async_graphql::Result<Page<Receipt>> {
        require(ctx, Permission::PurchaseOrdersRead)?;
        let condition = filter.unwrap_or_default().condition()?;
        let select = entity::receipt::Entity::find().filter(condition);
        let args = PageArgs::new(first, after, last, before);
        let order = SortOrder::default();
        let page = root_page(ctx, &args, select, &order, |m| m.id, Receipt::from).await?;
        let receipts = page
            .edges
            .iter()
            .map(|e| (e.node.db_id, e.node.purchase_order_id));
        prime::receipts(ctx, Sel::nodes_of(ctx), receipts.collect()).await?;
        Ok(page)
    }
}
