//! Receiving, cancelling receipts, finalizing, and the bills they produce.

pub mod mutations;
pub mod types;

use async_graphql::{Context, InputObject, Object, ID};
use chrono::Days;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::auth::Permission;
use crate::graphql::connection::{Page, PageArgs, SortOrder};
use crate::graphql::enums::{BillKind, BillStatus};
use crate::graphql::ids::decode;
use crate::graphql::scalars::Date;
use crate::graphql::{require, root_page};
use types::Bill;

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
}

#[derive(Default)]
pub struct BillsQuery;

#[Object]
impl BillsQuery {
    /// Vendor bills and credits, oldest first. Needs `bills:read`.
    async fn bills(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        filter: Option<BillFilter>,
    ) -> async_graphql::Result<Page<Bill>> {
        require(ctx, Permission::BillsRead)?;
        use entity::bill::{Column, Entity};
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let filter = filter.unwrap_or_default();
        let mut condition = Condition::all();
        if let Some(vendor) = &filter.vendor_id {
            condition = condition.add(Column::VendorId.eq(decode(vendor, "Vendor")?));
        }
        if let Some(po) = &filter.purchase_order_id {
            condition = condition.add(Column::PurchaseOrderId.eq(decode(po, "PurchaseOrder")?));
        }
        if let Some(kind) = filter.kind {
            condition = condition.add(Column::Kind.eq(entity::enums::BillKind::from(kind)));
        }
        if let Some(status) = filter.status {
            condition = condition.add(Column::Status.eq(entity::enums::BillStatus::from(status)));
        }
        if let Some(date) = filter.billed_after {
            condition = condition.add(Column::BillDate.gte(date.0));
        }
        if let Some(date) = filter.billed_before {
            // Inclusive: strictly before the next day.
            let next = date.0.checked_add_days(Days::new(1)).unwrap_or(date.0);
            condition = condition.add(Column::BillDate.lt(next));
        }
        root_page(
            ctx,
            &args,
            Entity::find().filter(condition),
            &SortOrder::default(),
            |m| m.id,
            Bill::from,
        )
        .await
    }
}
