//! Queries (and, with the lifecycle work, mutations) over master data.

pub mod mutations;
pub mod types;

use async_graphql::{Context, Enum, InputObject, Object};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::auth::Permission;
use crate::graphql::connection::{Page, PageArgs, SortDirection, SortKey, SortOrder};
use crate::graphql::{require, root_page};
use crate::services::search::contains_text;
use types::{InventoryLocation, Product, Vendor};

/// Narrows the vendor list.
#[derive(InputObject, Default)]
pub struct VendorFilter {
    /// Only active (true) or only inactive (false) vendors.
    pub active: Option<bool>,
    /// Case-insensitive text contained in the code or name.
    pub search: Option<String>,
}

/// Narrows the product list.
#[derive(InputObject, Default)]
pub struct ProductFilter {
    /// Only active (true) or only inactive (false) products.
    pub active: Option<bool>,
    /// Case-insensitive text contained in the SKU or description.
    pub search: Option<String>,
    /// Only serialized (true) or only unserialized (false) products.
    pub serialized: Option<bool>,
}

/// Narrows the location list.
#[derive(InputObject, Default)]
pub struct LocationFilter {
    /// Only active (true) or only inactive (false) locations.
    pub active: Option<bool>,
    /// Case-insensitive text contained in the code or name.
    pub search: Option<String>,
}

/// What vendors can be sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VendorSortField {
    /// The short code.
    Code,
    /// The display name.
    Name,
    /// When it was created.
    CreatedAt,
}

/// A sort of the vendor list; ties are broken by age.
#[derive(InputObject)]
pub struct VendorSort {
    /// The field.
    pub field: VendorSortField,
    /// The direction; ascending when omitted.
    #[graphql(default)]
    pub direction: SortDirection,
}

#[derive(Default)]
pub struct MasterDataQuery;

#[Object]
impl MasterDataQuery {
    /// Vendors, oldest first unless sorted.
    #[allow(clippy::too_many_arguments)]
    async fn vendors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        filter: Option<VendorFilter>,
        sort: Option<VendorSort>,
    ) -> async_graphql::Result<Page<Vendor>> {
        require(ctx, Permission::VendorsRead)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        use entity::vendor::{Column, Entity};
        let filter = filter.unwrap_or_default();
        let mut condition = Condition::all();
        if let Some(active) = filter.active {
            condition = condition.add(Column::Active.eq(active));
        }
        if let Some(text) = filter.search.as_deref() {
            let text = crate::graphql::search_text(text)?;
            condition = condition.add(
                Condition::any()
                    .add(contains_text(Column::Code, text))
                    .add(contains_text(Column::Name, text)),
            );
        }
        let select = Entity::find().filter(condition);
        let order = match sort {
            None => SortOrder::default(),
            Some(sort) => {
                let column = match sort.field {
                    VendorSortField::Code => "code",
                    VendorSortField::Name => "name",
                    VendorSortField::CreatedAt => "created_at",
                };
                SortOrder::new([SortKey::column(column, sort.direction)], sort.direction)
            }
        };
        root_page(ctx, &args, select, &order, |m| m.id, Vendor::from).await
    }

    /// Products, oldest first.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        filter: Option<ProductFilter>,
    ) -> async_graphql::Result<Page<Product>> {
        require(ctx, Permission::VendorsRead)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        use entity::product::{Column, Entity};
        let filter = filter.unwrap_or_default();
        let mut condition = Condition::all();
        if let Some(active) = filter.active {
            condition = condition.add(Column::Active.eq(active));
        }
        if let Some(serialized) = filter.serialized {
            condition = condition.add(Column::Serialized.eq(serialized));
        }
        if let Some(text) = filter.search.as_deref() {
            let text = crate::graphql::search_text(text)?;
            condition = condition.add(
                Condition::any()
                    .add(contains_text(Column::Sku, text))
                    .add(contains_text(Column::Description, text)),
            );
        }
        let select = Entity::find().filter(condition);
        root_page(
            ctx,
            &args,
            select,
            &SortOrder::default(),
            |m| m.id,
            Product::from,
        )
        .await
    }

    /// Inventory locations (warehouses and trucks), oldest first.
    async fn inventory_locations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        filter: Option<LocationFilter>,
    ) -> async_graphql::Result<Page<InventoryLocation>> {
        require(ctx, Permission::VendorsRead)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        use entity::inventory_location::{Column, Entity};
        let filter = filter.unwrap_or_default();
        let mut condition = Condition::all();
        if let Some(active) = filter.active {
            condition = condition.add(Column::Active.eq(active));
        }
        if let Some(text) = filter.search.as_deref() {
            let text = crate::graphql::search_text(text)?;
            condition = condition.add(
                Condition::any()
                    .add(contains_text(Column::Code, text))
                    .add(contains_text(Column::Name, text)),
            );
        }
        let select = Entity::find().filter(condition);
        root_page(
            ctx,
            &args,
            select,
            &SortOrder::default(),
            |m| m.id,
            InventoryLocation::from,
        )
        .await
    }
}
