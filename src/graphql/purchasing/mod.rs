//! Queries and mutations over purchase orders.

pub mod mutations;
pub mod types;

use async_graphql::{Context, Enum, InputObject, Object, ID};
use chrono::{Days, NaiveTime};
use sea_orm::sea_query::{Query as SqlQuery, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Select};

use crate::auth::Permission;
use crate::error::ApiError;
use crate::graphql::connection::{Page, PageArgs, SortDirection, SortKey, SortOrder};
use crate::graphql::enums::{JobMaterialStatus, PurchaseOrderStatus};
use crate::graphql::feed::changed_after;
use crate::graphql::ids::decode;
use crate::graphql::master_data::types::JobMaterial;
use crate::graphql::prime::{self, PoRef, Sel};
use crate::graphql::scalars::{Date, DateTime};
use crate::graphql::{require, root_page, state};
use crate::services::search::contains_text;
use crate::services::sql_rules::order_total_key;
use types::PurchaseOrder;

/// Narrows the purchase-order list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct PurchaseOrderFilter {
    /// Any of these statuses.
    pub status: Option<Vec<PurchaseOrderStatus>>,
    /// Placed with this vendor.
    pub vendor_id: Option<ID>,
    /// Shipped to this location, or with a line delivered there.
    pub location_id: Option<ID>,
    /// Ordered on or after this date (UTC).
    pub ordered_after: Option<Date>,
    /// Ordered on or before this date (UTC).
    pub ordered_before: Option<Date>,
    /// Exported to accounting (true) or not (false).
    pub exported: Option<bool>,
    /// Case-insensitive text in the number or the vendor's name.
    pub search: Option<String>,
    /// Bought for this job: on the order or on one of its lines.
    pub job_id: Option<ID>,
    /// Bought for this project: on the order or on one of its lines.
    pub project_id: Option<ID>,
    /// Bought for this technician.
    pub technician_id: Option<ID>,
    /// Of this purchase-order type.
    pub type_id: Option<ID>,
    /// Booked against this business unit.
    pub business_unit_id: Option<ID>,
    /// With a line of this product.
    pub product_id: Option<ID>,
    /// Expected strictly before this date; with `status: [SUBMITTED, PARTIALLY_RECEIVED]` and
    /// today's date, the late orders. Orders without an expected date never match.
    pub expected_before: Option<Date>,
    /// Only orders changed strictly after this instant (header, lines, status, receipts): what a
    /// client syncing since its last run must fetch again.
    pub updated_after: Option<DateTime>,
}

/// Orders with a line whose `column` is `value`.
fn with_line_where(column: entity::purchase_order_line::Column, value: i32) -> SimpleExpr {
    use entity::purchase_order::Column;
    use entity::purchase_order_line::Column as L;
    Column::Id.in_subquery(
        SqlQuery::select()
            .column(L::PurchaseOrderId)
            .from(entity::purchase_order_line::Entity)
            .and_where(column.eq(value))
            .to_owned(),
    )
}

impl PurchaseOrderFilter {
    /// The orders matching every given condition.
    fn condition(&self) -> Result<Condition, ApiError> {
        Ok(Condition::all()
            .add(self.header_condition()?)
            .add(self.links_condition()?))
    }

    /// The conditions on the order itself: status, vendor, where it ships, dates, export and
    /// text.
    fn header_condition(&self) -> Result<Condition, ApiError> {
        use entity::purchase_order::Column;
        let mut condition = changed_after(Column::UpdatedAt, self.updated_after);
        if let Some(statuses) = &self.status {
            let statuses = statuses
                .iter()
                .map(|s| entity::enums::PurchaseOrderStatus::from(*s));
            condition = condition.add(Column::Status.is_in(statuses));
        }
        if let Some(vendor) = &self.vendor_id {
            condition = condition.add(Column::VendorId.eq(decode(vendor, "Vendor")?));
        }
        if let Some(location) = &self.location_id {
            let location = decode(location, "InventoryLocation")?;
            use entity::purchase_order_line::Column as L;
            condition = condition.add(
                Condition::any()
                    .add(Column::ShipToId.eq(location))
                    .add(with_line_where(L::LocationId, location)),
            );
        }
        if let Some(date) = self.ordered_after {
            condition = condition.add(Column::OrderDate.gte(start_of(date.0)));
        }
        if let Some(date) = self.ordered_before {
            let next = date.0.checked_add_days(Days::new(1)).unwrap_or(date.0);
            condition = condition.add(Column::OrderDate.lt(start_of(next)));
        }
        if let Some(exported) = self.exported {
            condition = condition.add(if exported {
                Column::ExportedAt.is_not_null()
            } else {
                Column::ExportedAt.is_null()
            });
        }
        if let Some(text) = self.search.as_deref() {
            condition = condition.add(search_condition(crate::graphql::search_text(text)?));
        }
        Ok(condition)
    }

    /// The conditions on what an order is linked to (job, project, technician, type, business
    /// unit, product) and on its expected date.
    fn links_condition(&self) -> Result<Condition, ApiError> {
        use entity::purchase_order::Column;
        use entity::purchase_order_line::Column as L;
        let mut condition = Condition::all();
        if let Some(job) = &self.job_id {
            let job = decode(job, "Job")?;
            condition = condition.add(
                Condition::any()
                    .add(Column::JobId.eq(job))
                    .add(with_line_where(L::JobId, job)),
            );
        }
        if let Some(project) = &self.project_id {
            let project = decode(project, "Project")?;
            condition = condition.add(
                Condition::any()
                    .add(Column::ProjectId.eq(project))
                    .add(with_line_where(L::ProjectId, project)),
            );
        }
        if let Some(technician) = &self.technician_id {
            condition = condition.add(Column::TechnicianId.eq(decode(technician, "Technician")?));
        }
        if let Some(kind) = &self.type_id {
            condition = condition.add(Column::TypeId.eq(decode(kind, "PurchaseOrderType")?));
        }
        if let Some(unit) = &self.business_unit_id {
            condition = condition.add(Column::BusinessUnitId.eq(decode(unit, "BusinessUnit")?));
        }
        if let Some(product) = &self.product_id {
            condition = condition.add(with_line_where(L::ProductId, decode(product, "Product")?));
        }
        if let Some(date) = self.expected_before {
            condition = condition.add(Column::ExpectedDate.lt(date.0));
        }
        Ok(condition)
    }
}

/// Orders whose number or vendor's name contains `text`.
fn search_condition(text: &str) -> Condition {
    use entity::purchase_order::Column;
    use entity::vendor::Column as V;
    Condition::any()
        .add(contains_text(Column::Number, text))
        .add(
            Column::VendorId.in_subquery(
                SqlQuery::select()
                    .column(V::Id)
                    .from(entity::vendor::Entity)
                    .cond_where(contains_text(V::Name, text))
                    .to_owned(),
            ),
        )
}

/// Narrows the job-material list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct JobMaterialFilter {
    /// Needed by this job.
    pub job_id: Option<ID>,
    /// Any of these statuses.
    pub status: Option<Vec<JobMaterialStatus>>,
    /// Of this product.
    pub product_id: Option<ID>,
    /// Only records changed strictly after this instant (created or last written): what a
    /// client syncing since its last run must fetch again.
    pub updated_after: Option<DateTime>,
}

impl JobMaterialFilter {
    /// The job materials matching every given condition.
    fn condition(&self) -> Result<Condition, ApiError> {
        use entity::job_material::Column;
        let mut condition = changed_after(Column::UpdatedAt, self.updated_after);
        if let Some(job) = &self.job_id {
            condition = condition.add(Column::JobId.eq(decode(job, "Job")?));
        }
        if let Some(statuses) = &self.status {
            condition = condition.add(
                Column::Status.is_in(
                    statuses
                        .iter()
                        .map(|s| entity::enums::JobMaterialStatus::from(*s)),
                ),
            );
        }
        if let Some(product) = &self.product_id {
            condition = condition.add(Column::ProductId.eq(decode(product, "Product")?));
        }
        Ok(condition)
    }
}

/// What purchase orders can be sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurchaseOrderSortField {
    /// The order number.
    Number,
    /// When it was created.
    OrderDate,
    /// When the goods are expected (orders without a date last when ascending).
    ExpectedDate,
    /// The order total. Needs `costs:read`: an order by hidden totals would reveal them.
    Total,
}

/// A sort of the purchase-order list; ties are broken by age.
#[derive(InputObject)]
pub struct PurchaseOrderSort {
    /// The field.
    pub field: PurchaseOrderSortField,
    /// The direction; ascending when omitted.
    #[graphql(default)]
    pub direction: SortDirection,
}

impl PurchaseOrderSort {
    /// The keyset order of this sort. Sorting by total needs `costs:read`: paging through
    /// orders sorted by a total the caller cannot see recovers it by bisection.
    fn order(&self, ctx: &Context<'_>) -> Result<SortOrder, ApiError> {
        let direction = self.direction;
        let keys = match self.field {
            PurchaseOrderSortField::Number => vec![SortKey::column("number", direction)],
            PurchaseOrderSortField::OrderDate => vec![SortKey::column("order_date", direction)],
            PurchaseOrderSortField::ExpectedDate => {
                SortKey::column_nulls_last("expected_date", direction).to_vec()
            }
            PurchaseOrderSortField::Total => {
                require(ctx, Permission::CostsRead)?;
                let backend = state(ctx).db.get_database_backend();
                vec![SortKey::sql(&order_total_key(backend), direction)]
            }
        };
        Ok(SortOrder::new(keys, direction))
    }
}

#[derive(Default)]
pub struct PurchasingQuery;

fn start_of(date: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// The order with this global ID or number (exactly one of them).
fn find_order(
    id: Option<ID>,
    number: Option<String>,
) -> Result<Select<entity::purchase_order::Entity>, ApiError> {
    use entity::purchase_order::{Column, Entity};
    match (id, number) {
        (Some(id), None) => Ok(Entity::find_by_id(decode(&id, "PurchaseOrder")?)),
        // Numbers are stored upper-case, as they are validated.
        (None, Some(number)) => {
            Ok(Entity::find().filter(Column::Number.eq(number.trim().to_uppercase())))
        }
        _ => Err(ApiError::BadRequest(
            "give exactly one of `id` and `number`".to_owned(),
        )),
    }
}

#[Object]
impl PurchasingQuery {
    /// One purchase order by global ID or by number (give exactly one); null when none matches.
    async fn purchase_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ID.")] id: Option<ID>,
        #[graphql(desc = "Purchase order number, e.g. `PO-2026-0042`.")] number: Option<String>,
    ) -> async_graphql::Result<Option<PurchaseOrder>> {
        require(ctx, Permission::PurchaseOrdersRead)?;
        let select = find_order(id, number)?;
        let db = &state(ctx).db;
        let found = crate::db::retry_read(|| select.clone().one(db))
            .await
            .map_err(ApiError::from)?;
        let found = found.map(PurchaseOrder::from);
        prime::purchase_orders(ctx, Sel::of(ctx), found.iter().map(PoRef::from).collect()).await?;
        Ok(found)
    }

    /// Purchase orders, oldest first unless sorted; filters combine with AND.
    #[allow(clippy::too_many_arguments)]
    async fn purchase_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        filter: Option<PurchaseOrderFilter>,
        sort: Option<PurchaseOrderSort>,
    ) -> async_graphql::Result<Page<PurchaseOrder>> {
        require(ctx, Permission::PurchaseOrdersRead)?;
        let order = sort.map(|s| s.order(ctx)).transpose()?.unwrap_or_default();
        let condition = filter.unwrap_or_default().condition()?;
        let select = entity::purchase_order::Entity::find().filter(condition);
        let args = PageArgs::new(first, after, last, before);
        let page = root_page(ctx, &args, select, &order, |m| m.id, PurchaseOrder::from).await?;
        let orders = page.edges.iter().map(|e| PoRef::from(&e.node)).collect();
        prime::purchase_orders(ctx, Sel::nodes_of(ctx), orders).await?;
        Ok(page)
    }

    /// Job materials (what jobs need, and whether a purchase order fills it), oldest first;
    /// filters combine with AND. Needs `purchase_orders:read`.
    async fn job_materials(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size, counted back from `before` or the end.")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
        #[graphql(desc = "Conditions that must all hold.")] filter: Option<JobMaterialFilter>,
    ) -> async_graphql::Result<Page<JobMaterial>> {
        require(ctx, Permission::PurchaseOrdersRead)?;
        let condition = filter.unwrap_or_default().condition()?;
        let select = entity::job_material::Entity::find().filter(condition);
        let args = PageArgs::new(first, after, last, before);
        let order = SortOrder::default();
        let page = root_page(ctx, &args, select, &order, |m| m.id, JobMaterial::from).await?;
        prime::page(ctx, &page).await?;
        Ok(page)
    }
}
