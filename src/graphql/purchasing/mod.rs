//! Queries (and, with the lifecycle work, mutations) over purchase orders.

pub mod mutations;
pub mod types;

use async_graphql::{Context, Object, ID};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::auth::Permission;
use crate::error::ApiError;
use crate::graphql::ids::decode;
use crate::graphql::{require, state};
use types::PurchaseOrder;

#[derive(Default)]
pub struct PurchasingQuery;

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
        use entity::purchase_order::{Column, Entity};
        let select = match (id, number) {
            (Some(id), None) => Entity::find_by_id(decode(&id, "PurchaseOrder")?),
            (None, Some(number)) => Entity::find().filter(Column::Number.eq(number)),
            _ => {
                return Err(ApiError::BadRequest(
                    "give exactly one of `id` and `number`".to_owned(),
                )
                .into())
            }
        };
        let found = select.one(&state(ctx).db).await.map_err(ApiError::from)?;
        Ok(found.map(PurchaseOrder::from))
    }
}
