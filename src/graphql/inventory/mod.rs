//! Stock: inventory items and their ledger.

pub mod mutations;
pub mod serials;
pub mod types;

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::Days;
use sea_orm::sea_query::{ExprTrait, Query as SqlQuery, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter};

use crate::auth::Permission;
use crate::error::ApiError;
use crate::graphql::connection::{NamedPage, Page, PageArgs, SortDirection, SortKey, SortOrder};
use crate::graphql::feed::changed_after;
use crate::graphql::guard::{Guarded, Reads};
use crate::graphql::ids::{decode, parse_gid};
use crate::graphql::loaders::{load_one, load_required, LocationId, ProductId, VendorId};
use crate::graphql::master_data::types::{InventoryLocation, Product, Vendor};
use crate::graphql::prime::{self, Sel};
use crate::graphql::scalars::{Date, DateTime, Decimal};
use crate::graphql::{require, root_page, state};
use crate::services::search::contains_text;
use crate::services::sql_rules;
use crate::services::stock::{SkipReason, Skipped, Suggestion};
use types::{InventoryItem, LedgerConnectionName, LedgerEdgeName, StockLedgerEntry};

/// Narrows the inventory-item list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct InventoryItemFilter {
    /// Stock at this location.
    pub location_id: Option<ID>,
    /// Stock of this product.
    pub product_id: Option<ID>,
    /// On hand below the minimum (true) or not (false).
    pub below_minimum: Option<bool>,
    /// On hand + on order + pending below the minimum, i.e. due for reordering (true) or not
    /// (false).
    pub needs_reorder: Option<bool>,
    /// Case-insensitive text contained in the product's SKU or description.
    pub search: Option<String>,
    /// Only items whose quantities changed strictly after this instant: what a client syncing
    /// since its last run must fetch again.
    pub updated_after: Option<DateTime>,
}

impl InventoryItemFilter {
    /// The items matching every given condition.
    fn condition(&self) -> Result<Condition, ApiError> {
        use entity::inventory_item::Column;
        let mut condition = changed_after(Column::UpdatedAt, self.updated_after);
        if let Some(location) = &self.location_id {
            condition =
                condition.add(Column::LocationId.eq(decode(location, "InventoryLocation")?));
        }
        if let Some(product) = &self.product_id {
            condition = condition.add(Column::ProductId.eq(decode(product, "Product")?));
        }
        if let Some(below) = self.below_minimum {
            let test = sql_rules::below_minimum();
            condition = condition.add(if below { test } else { test.not() });
        }
        if let Some(due) = self.needs_reorder {
            let test = crate::services::stock::due_for_reorder();
            condition = condition.add(if due { test } else { test.not() });
        }
        if let Some(text) = self.search.as_deref() {
            condition = condition.add(product_text(crate::graphql::search_text(text)?));
        }
        Ok(condition)
    }
}

/// Items whose product's SKU or description contains `text`.
fn product_text(text: &str) -> SimpleExpr {
    use entity::inventory_item::Column;
    use entity::product::Column as P;
    Column::ProductId.in_subquery(
        SqlQuery::select()
            .column(P::Id)
            .from(entity::product::Entity)
            .cond_where(
                Condition::any()
                    .add(contains_text(P::Sku, text))
                    .add(contains_text(P::Description, text)),
            )
            .to_owned(),
    )
}

/// What inventory items can be sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InventoryItemSortField {
    /// The product's SKU.
    Sku,
    /// The quantity on hand.
    OnHand,
    /// on hand − picked − reserved.
    Available,
    /// When it last changed.
    UpdatedAt,
}

/// A sort of the inventory-item list; ties are broken by age.
#[derive(InputObject)]
pub struct InventoryItemSort {
    /// The field.
    pub field: InventoryItemSortField,
    /// The direction; ascending when omitted.
    #[graphql(default)]
    pub direction: SortDirection,
}

impl InventoryItemSort {
    /// The keyset order of this sort on `backend`.
    fn order(&self, backend: DbBackend) -> SortOrder {
        let direction = self.direction;
        let key = match self.field {
            InventoryItemSortField::Sku => SortKey::sql(
                "(SELECT p.sku FROM products p WHERE p.id = {t}.product_id)",
                direction,
            ),
            InventoryItemSortField::OnHand => SortKey::column("on_hand", direction),
            InventoryItemSortField::Available => {
                SortKey::sql(&sql_rules::available_key(backend), direction)
            }
            InventoryItemSortField::UpdatedAt => SortKey::column("updated_at", direction),
        };
        SortOrder::new([key], direction)
    }
}

/// Narrows the stock ledger; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct StockLedgerFilter {
    /// Movements of this product (at any location).
    pub product_id: Option<ID>,
    /// Movements at this location (of any product).
    pub location_id: Option<ID>,
    /// Any of these reasons (RECEIPT, RECEIPT_CANCELED, TRANSFER_IN, TRANSFER_OUT,
    /// ADJUSTMENT_COUNT, ADJUSTMENT_DAMAGE, ADJUSTMENT_LOSS, ADJUSTMENT_FOUND, ADJUSTMENT_OTHER).
    pub reason: Option<Vec<String>>,
    /// Caused by this document (the global ID of a receipt, an inventory item …).
    pub source_id: Option<ID>,
    /// Caused by a document of this type (`Receipt`, `InventoryItem` …).
    pub source_type: Option<String>,
    /// Happened on or after this date (UTC).
    pub occurred_after: Option<Date>,
    /// Happened on or before this date (UTC).
    pub occurred_before: Option<Date>,
    /// Only entries written strictly after this instant (entries are never changed): what a
    /// client syncing since its last run must fetch.
    pub updated_after: Option<DateTime>,
}

impl StockLedgerFilter {
    /// The ledger entries matching every given condition.
    fn condition(&self) -> Result<Condition, ApiError> {
        use entity::inventory_item::Column as I;
        use entity::stock_ledger_entry::Column;
        let items_where = |condition: SimpleExpr| {
            Column::InventoryItemId.in_subquery(
                SqlQuery::select()
                    .column(I::Id)
                    .from(entity::inventory_item::Entity)
                    .and_where(condition)
                    .to_owned(),
            )
        };
        let mut condition = changed_after(Column::OccurredAt, self.updated_after);
        if let Some(product) = &self.product_id {
            condition = condition.add(items_where(I::ProductId.eq(decode(product, "Product")?)));
        }
        if let Some(location) = &self.location_id {
            let location = decode(location, "InventoryLocation")?;
            condition = condition.add(items_where(I::LocationId.eq(location)));
        }
        if let Some(reasons) = &self.reason {
            condition = condition.add(Column::Reason.is_in(reasons.iter().map(|r| r.trim())));
        }
        if let Some(source) = &self.source_id {
            let (kind, id) = parse_gid(source.as_str())
                .and_then(|(kind, id)| Some((kind, i32::try_from(id).ok()?)))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("`{}` is not a global ID", source.as_str()))
                })?;
            condition = condition
                .add(Column::SourceType.eq(kind))
                .add(Column::SourceId.eq(id));
        }
        if let Some(kind) = self.source_type.as_deref() {
            condition = condition.add(Column::SourceType.eq(kind.trim()));
        }
        if let Some(date) = self.occurred_after {
            condition = condition.add(Column::OccurredAt.gte(start_of(date.0)));
        }
        if let Some(date) = self.occurred_before {
            let next = date.0.checked_add_days(Days::new(1)).unwrap_or(date.0);
            condition = condition.add(Column::OccurredAt.lt(start_of(next)));
        }
        Ok(condition)
    }
}

/// The first instant of `date` (UTC).
fn start_of(date: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// A product at a location whose on hand + on order + pending is below its minimum: a view of
/// stock, so every field needs `inventory:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct ReorderSuggestion {
    #[graphql(skip)]
    pub product_id: i32,
    #[graphql(skip)]
    pub location_id: i32,
    /// On hand now.
    pub on_hand: Decimal,
    /// On order now.
    pub on_order: Decimal,
    /// Open quantity of this product and location on PENDING (not yet submitted) orders.
    pub pending: Decimal,
    /// The item's minimum.
    pub minimum: Decimal,
    /// The item's maximum, if set.
    pub maximum: Option<Decimal>,
    /// What to order: the maximum (or the minimum when there is none) less on hand, on order
    /// and pending.
    pub quantity: Decimal,
    /// Why no order was made for it; only set in `createReorderPurchaseOrders.skipped`.
    pub skip_reason: Option<ReorderSkipReason>,
    /// The skip reason in a sentence; only set in `createReorderPurchaseOrders.skipped`.
    pub skip_message: Option<String>,
}

/// Why a due item was left out of `createReorderPurchaseOrders`.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReorderSkipReason {
    /// The product has no preferred vendor.
    NoPreferredVendor,
    /// The product's preferred vendor is inactive.
    VendorInactive,
    /// The product is inactive.
    ProductInactive,
    /// The location is inactive.
    LocationInactive,
    /// The order for its vendor and location was refused; the message says why.
    OrderRefused,
}

impl From<SkipReason> for ReorderSkipReason {
    fn from(reason: SkipReason) -> Self {
        match reason {
            SkipReason::NoPreferredVendor => Self::NoPreferredVendor,
            SkipReason::VendorInactive => Self::VendorInactive,
            SkipReason::ProductInactive => Self::ProductInactive,
            SkipReason::LocationInactive => Self::LocationInactive,
            SkipReason::OrderRefused => Self::OrderRefused,
        }
    }
}

impl ReorderSuggestion {
    /// The suggestion for an item due for reordering, with the quantity the service worked out.
    pub fn new(suggestion: Suggestion) -> Self {
        let Suggestion {
            item,
            pending,
            quantity,
        } = suggestion;
        ReorderSuggestion {
            product_id: item.product_id,
            location_id: item.location_id,
            on_hand: item.on_hand.into(),
            on_order: item.on_order.into(),
            pending: pending.into(),
            minimum: item.minimum.into(),
            maximum: item.maximum.map(Into::into),
            quantity: quantity.into(),
            skip_reason: None,
            skip_message: None,
        }
    }

    /// A due item no order was made for, with the reason.
    pub fn skipped(skipped: Skipped) -> Self {
        ReorderSuggestion {
            skip_reason: Some(skipped.reason.into()),
            skip_message: Some(skipped.message),
            ..Self::new(skipped.suggestion)
        }
    }
}

impl Guarded for ReorderSuggestion {
    const READ: Permission = Permission::InventoryRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl ReorderSuggestion {
    /// The product to reorder.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Product>> {
        load_required(ctx, ProductId(self.product_id)).await
    }

    /// Where it is needed.
    async fn location(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<InventoryLocation>> {
        load_required(ctx, LocationId(self.location_id)).await
    }

    /// The product's preferred vendor; null when it has none (then no order can be made).
    async fn vendor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<Vendor>>> {
        let product: Arc<Product> = load_required(ctx, ProductId(self.product_id)).await?;
        match product.preferred_vendor_id {
            Some(id) => load_one(ctx, VendorId(id)).await,
            None => Ok(None),
        }
    }
}

#[derive(Default)]
pub struct InventoryQuery;

#[Object]
impl InventoryQuery {
    /// Items due for reordering (on hand + on order + pending below the minimum), optionally at
    /// one location, with the quantity that brings each to its maximum. Inactive products and
    /// locations are never suggested.
    async fn reorder_suggestions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this location.")] location_id: Option<ID>,
    ) -> async_graphql::Result<Vec<ReorderSuggestion>> {
        require(ctx, Permission::InventoryRead)?;
        let location = location_id
            .map(|id| decode(&id, "InventoryLocation"))
            .transpose()?;
        let due = crate::services::stock::reorder_suggestions(&state(ctx).db, location)
            .await
            .map_err(ApiError::from)?;
        Ok(due.into_iter().map(ReorderSuggestion::new).collect())
    }

    /// Inventory items (stock of a product at a location), oldest first.
    #[allow(clippy::too_many_arguments)]
    async fn inventory_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        filter: Option<InventoryItemFilter>,
        #[graphql(desc = "The order; oldest first when omitted.")] sort: Option<InventoryItemSort>,
    ) -> async_graphql::Result<Page<InventoryItem>> {
        require(ctx, Permission::InventoryRead)?;
        let backend = state(ctx).db.get_database_backend();
        let order = sort.map(|s| s.order(backend)).unwrap_or_default();
        let condition = filter.unwrap_or_default().condition()?;
        let select = entity::inventory_item::Entity::find().filter(condition);
        let args = PageArgs::new(first, after, last, before);
        let page = root_page(ctx, &args, select, &order, |m| m.id, InventoryItem::from).await?;
        let items = page.edges.iter().map(|e| &e.node);
        let items = items
            .map(|i| (i.db_id, i.product_id, i.location_id))
            .collect();
        prime::items(ctx, Sel::nodes_of(ctx), items).await?;
        Ok(page)
    }

    /// Stock movements across items (a location's or a day's movements), oldest first;
    /// filters combine with AND. Needs `inventory:read`.
    async fn stock_ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        #[graphql(desc = "Conditions that must all hold.")] filter: Option<StockLedgerFilter>,
    ) -> async_graphql::Result<NamedPage<StockLedgerEntry, LedgerConnectionName, LedgerEdgeName>>
    {
        require(ctx, Permission::InventoryRead)?;
        let condition = filter.unwrap_or_default().condition()?;
        let select = entity::stock_ledger_entry::Entity::find().filter(condition);
        let args = PageArgs::new(first, after, last, before);
        let order = SortOrder::default();
        root_page(ctx, &args, select, &order, |m| m.id, StockLedgerEntry::from).await
    }
}
