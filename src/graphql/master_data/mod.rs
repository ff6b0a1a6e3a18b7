//! Queries (and, with the lifecycle work, mutations) over master data.

pub mod mutations;
pub mod types;

use async_graphql::{Context, Enum, InputObject, MergedObject, Object, ID};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::auth::Permission;
use crate::error::ApiError;
use crate::graphql::connection::{Page, PageArgs, SortDirection, SortKey, SortOrder};
use crate::graphql::feed::changed_after;
use crate::graphql::ids::decode;
use crate::graphql::prime::{self, Sel};
use crate::graphql::scalars::DateTime;
use crate::graphql::{require, root_page};
use crate::services::search::contains_text;
use types::{
    BusinessUnit, InventoryLocation, Job, Product, Project, PurchaseOrderType, Technician, Vendor,
};

/// Narrows the vendor list.
#[derive(InputObject, Default)]
pub struct VendorFilter {
    /// Only active (true) or only inactive (false) vendors.
    pub active: Option<bool>,
    /// Case-insensitive text contained in the code or name.
    pub search: Option<String>,
    /// Only records changed strictly after this instant (created or last written): what a
    /// client syncing since its last run must fetch again.
    pub updated_after: Option<DateTime>,
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
    /// Only products whose preferred vendor is this one.
    pub preferred_vendor_id: Option<ID>,
    /// Only records changed strictly after this instant (created or last written): what a
    /// client syncing since its last run must fetch again.
    pub updated_after: Option<DateTime>,
}

/// Narrows a list of reference records: business units, purchase-order types, jobs, projects,
/// technicians.
#[derive(InputObject, Default)]
pub struct NamedRecordFilter {
    /// Only active (true) or only inactive (false) records.
    pub active: Option<bool>,
    /// Case-insensitive text contained in the name, or in the number for records that have one.
    pub search: Option<String>,
    /// Only records changed strictly after this instant (created or last written): what a
    /// client syncing since its last run must fetch again.
    pub updated_after: Option<DateTime>,
}

impl NamedRecordFilter {
    /// The rows of a table whose `active` column and text `columns` match.
    fn condition<C: ColumnTrait>(
        &self,
        active: C,
        updated: C,
        columns: impl IntoIterator<Item = C>,
    ) -> Result<Condition, ApiError> {
        let mut condition = changed_after(updated, self.updated_after);
        if let Some(wanted) = self.active {
            condition = condition.add(active.eq(wanted));
        }
        if let Some(text) = self.search.as_deref() {
            let text = crate::graphql::search_text(text)?;
            condition = condition.add(columns.into_iter().fold(Condition::any(), |any, column| {
                any.add(contains_text(column, text))
            }));
        }
        Ok(condition)
    }
}

/// Rows of a table with an `active` flag, changed after `updated_after`, whose `code` or `name`
/// contains the search text: the vendor and location lists share this shape.
fn coded_record_condition<C: ColumnTrait>(
    [active, updated, code, name]: [C; 4],
    wanted: Option<bool>,
    search: Option<&str>,
    updated_after: Option<DateTime>,
) -> Result<Condition, ApiError> {
    let mut condition = changed_after(updated, updated_after);
    if let Some(wanted) = wanted {
        condition = condition.add(active.eq(wanted));
    }
    if let Some(text) = search {
        let text = crate::graphql::search_text(text)?;
        condition = condition.add(
            Condition::any()
                .add(contains_text(code, text))
                .add(contains_text(name, text)),
        );
    }
    Ok(condition)
}

impl VendorFilter {
    /// The vendors matching every given condition.
    fn condition(&self) -> Result<Condition, ApiError> {
        use entity::vendor::Column;
        coded_record_condition(
            [
                Column::Active,
                Column::UpdatedAt,
                Column::Code,
                Column::Name,
            ],
            self.active,
            self.search.as_deref(),
            self.updated_after,
        )
    }
}

impl LocationFilter {
    /// The locations matching every given condition.
    fn condition(&self) -> Result<Condition, ApiError> {
        use entity::inventory_location::Column;
        coded_record_condition(
            [
                Column::Active,
                Column::UpdatedAt,
                Column::Code,
                Column::Name,
            ],
            self.active,
            self.search.as_deref(),
            self.updated_after,
        )
    }
}

impl ProductFilter {
    /// The products matching every given condition.
    fn condition(&self) -> Result<Condition, ApiError> {
        use entity::product::Column;
        let mut condition = changed_after(Column::UpdatedAt, self.updated_after);
        if let Some(active) = self.active {
            condition = condition.add(Column::Active.eq(active));
        }
        if let Some(serialized) = self.serialized {
            condition = condition.add(Column::Serialized.eq(serialized));
        }
        if let Some(text) = self.search.as_deref() {
            let text = crate::graphql::search_text(text)?;
            condition = condition.add(
                Condition::any()
                    .add(contains_text(Column::Sku, text))
                    .add(contains_text(Column::Description, text)),
            );
        }
        if let Some(vendor) = &self.preferred_vendor_id {
            condition = condition.add(Column::PreferredVendorId.eq(decode(vendor, "Vendor")?));
        }
        Ok(condition)
    }
}

/// Narrows the location list.
#[derive(InputObject, Default)]
pub struct LocationFilter {
    /// Only active (true) or only inactive (false) locations.
    pub active: Option<bool>,
    /// Case-insensitive text contained in the code or name.
    pub search: Option<String>,
    /// Only records changed strictly after this instant (created or last written): what a
    /// client syncing since its last run must fetch again.
    pub updated_after: Option<DateTime>,
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

impl VendorSort {
    /// The keyset order of this sort.
    fn order(&self) -> SortOrder {
        let column = match self.field {
            VendorSortField::Code => "code",
            VendorSortField::Name => "name",
            VendorSortField::CreatedAt => "created_at",
        };
        SortOrder::new([SortKey::column(column, self.direction)], self.direction)
    }
}

/// Declares the query object holding the root list of a reference record: `vendors:read`,
/// oldest first, filtered by activity and by text over `columns`.
macro_rules! reference_list {
    ($(#[$doc:meta])* $query:ident: $field:ident => $module:ident as $node:ident by $($column:ident),+) => {
        #[derive(Default)]
        pub struct $query;

        #[Object]
        impl $query {
            $(#[$doc])*
            async fn $field(
                &self,
                ctx: &Context<'_>,
                #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
                #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
                #[graphql(desc = "Page size, counted back from `before` or the end.")]
                last: Option<i32>,
                #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
                #[graphql(desc = "Conditions that must all hold.")]
                filter: Option<NamedRecordFilter>,
            ) -> async_graphql::Result<Page<$node>> {
                require(ctx, Permission::VendorsRead)?;
                use entity::$module::{Column, Entity};
                let condition = filter
                    .unwrap_or_default()
                    .condition(Column::Active, Column::UpdatedAt, [$(Column::$column),+])?;
                let select = Entity::find().filter(condition);
                let args = PageArgs::new(first, after, last, before);
                let order = SortOrder::default();
                root_page(ctx, &args, select, &order, |m| m.id, $node::from).await
            }
        }
    };
}

reference_list!(
    /// Business units (what a purchase order's costs are booked against), oldest first: the
    /// choices of `createPurchaseOrder.businessUnitId`. Needs `vendors:read`.
    BusinessUnitsQuery: business_units => business_unit as BusinessUnit by Name
);
reference_list!(
    /// Purchase-order types, oldest first: the choices of `createPurchaseOrder.typeId`. Needs
    /// `vendors:read`.
    PurchaseOrderTypesQuery: purchase_order_types => purchase_order_type as PurchaseOrderType by Name
);
reference_list!(
    /// Jobs, oldest first; the text search covers number and name. Needs `vendors:read`.
    JobsQuery: jobs => job as Job by Number, Name
);
reference_list!(
    /// Projects, oldest first; the text search covers number and name. Needs `vendors:read`.
    ProjectsQuery: projects => project as Project by Number, Name
);
reference_list!(
    /// Technicians, oldest first; the text search covers number and name. Needs `vendors:read`.
    TechniciansQuery: technicians => technician as Technician by Number, Name
);

/// The root lists of the reference records a purchase-order form chooses from.
#[derive(MergedObject, Default)]
pub struct ReferenceListsQuery(
    BusinessUnitsQuery,
    PurchaseOrderTypesQuery,
    JobsQuery,
    ProjectsQuery,
    TechniciansQuery,
);

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
        let order = sort.map(|s| s.order()).unwrap_or_default();
        let condition = filter.unwrap_or_default().condition()?;
        let select = entity::vendor::Entity::find().filter(condition);
        let args = PageArgs::new(first, after, last, before);
        let page = root_page(ctx, &args, select, &order, |m| m.id, Vendor::from).await?;
        let vendors = page.edges.iter().map(|e| e.node.db_id).collect();
        prime::vendors(ctx, Sel::nodes_of(ctx), vendors).await?;
        Ok(page)
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
        let condition = filter.unwrap_or_default().condition()?;
        let select = entity::product::Entity::find().filter(condition);
        let args = PageArgs::new(first, after, last, before);
        let order = SortOrder::default();
        let page = root_page(ctx, &args, select, &order, |m| m.id, Product::from).await?;
        let products = page
            .edges
            .iter()
            .map(|e| (e.node.db_id, e.node.preferred_vendor_id));
        prime::products(ctx, Sel::nodes_of(ctx), products.collect()).await?;
        Ok(page)
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
        let condition = filter.unwrap_or_default().condition()?;
        let select = entity::inventory_location::Entity::find().filter(condition);
        let args = PageArgs::new(first, after, last, before);
        let order = SortOrder::default();
        let page = root_page(
            ctx,
            &args,
            select,
            &order,
            |m| m.id,
            InventoryLocation::from,
        )
        .await?;
        let locations = page.edges.iter().map(|e| e.node.db_id).collect();
        prime::locations(ctx, Sel::nodes_of(ctx), locations).await?;
        Ok(page)
    }
}
