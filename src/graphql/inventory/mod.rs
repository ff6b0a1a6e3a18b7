//! Stock: inventory items and their ledger.

pub mod types;

use async_graphql::{Context, InputObject, Object, ID};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::auth::Permission;
use crate::graphql::connection::{paginate, Page, PageArgs, Window};
use crate::graphql::ids::decode;
use crate::graphql::{max_page_size, require, state, wants_total};
use types::InventoryItem;

/// Narrows the inventory-item list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct InventoryItemFilter {
    /// Stock at this location.
    pub location_id: Option<ID>,
    /// Stock of this product.
    pub product_id: Option<ID>,
    /// On hand below the minimum (true) or not (false).
    pub below_minimum: Option<bool>,
    /// On hand + on order below the minimum, i.e. due for reordering (true) or not (false).
    pub needs_reorder: Option<bool>,
}

#[derive(Default)]
pub struct InventoryQuery;

#[Object]
impl InventoryQuery {
    /// Inventory items (stock of a product at a location), oldest first.
    async fn inventory_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        filter: Option<InventoryItemFilter>,
    ) -> async_graphql::Result<Page<InventoryItem>> {
        require(ctx, Permission::InventoryRead)?;
        use entity::inventory_item::{Column, Entity};
        let window = Window::from_args(
            &PageArgs {
                first,
                after,
                last,
                before,
            },
            max_page_size(ctx),
        )?;
        let filter = filter.unwrap_or_default();
        let mut condition = Condition::all();
        if let Some(location) = &filter.location_id {
            condition =
                condition.add(Column::LocationId.eq(decode(location, "InventoryLocation")?));
        }
        if let Some(product) = &filter.product_id {
            condition = condition.add(Column::ProductId.eq(decode(product, "Product")?));
        }
        if let Some(below) = filter.below_minimum {
            let test = Expr::col(Column::OnHand).lt(Expr::col(Column::Minimum));
            condition = condition.add(if below { test } else { test.not() });
        }
        if let Some(due) = filter.needs_reorder {
            let test = Expr::col(Column::OnHand)
                .add(Expr::col(Column::OnOrder))
                .lt(Expr::col(Column::Minimum));
            condition = condition.add(if due { test } else { test.not() });
        }
        Ok(paginate(
            &state(ctx).db,
            Entity::find().filter(condition),
            Column::Id,
            window,
            wants_total(ctx),
            |m| m.id,
            InventoryItem::from,
        )
        .await?)
    }
}
