//! The GraphQL layer: types, inputs and payloads, loaders. Resolvers check permissions and
//! call a service; they hold no business rules.

pub mod connection;
pub mod enums;
pub mod feed;
pub mod guard;
pub mod ids;
pub mod inventory;
pub mod limits;
pub mod loaders;
pub mod master_data;
pub mod node;
pub mod payload;
pub mod prime;
pub mod purchasing;
pub mod receiving;
pub mod scalars;
pub mod subscriptions;
pub mod user_error;
pub mod viewer;
pub mod window;

use async_graphql::{Context, MergedObject, Schema, SchemaBuilder};

use crate::app::AppState;
use crate::auth::{Actor, Permission};
use crate::error::ApiError;

/// Every query field, merged from the domain areas.
#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    viewer::ViewerQuery,
    master_data::MasterDataQuery,
    master_data::ReferenceListsQuery,
    purchasing::PurchasingQuery,
    inventory::InventoryQuery,
    inventory::serials::SerialQuery,
    receiving::BillsQuery,
    feed::FeedQueryRoot,
);

/// Every mutation, merged from the domain areas.
#[derive(MergedObject, Default)]
pub struct Mutation(
    master_data::mutations::MasterDataMutation,
    master_data::mutations::BusinessUnitMutation,
    master_data::mutations::PurchaseOrderTypeMutation,
    master_data::mutations::JobMutation,
    master_data::mutations::ProjectMutation,
    master_data::mutations::TechnicianMutation,
    purchasing::mutations::PurchasingMutation,
    receiving::mutations::ReceivingMutation,
    inventory::mutations::InventoryMutation,
);

/// The stockgraph schema.
pub type StockgraphSchema = Schema<Query, Mutation, subscriptions::Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, subscriptions::Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscriptions::Subscription,
    )
}

/// The schema wired to the application state. Query cost limits are not part of it: the
/// transports check every document first through [`limits::LimitedSchema`].
pub fn build_schema(state: AppState) -> StockgraphSchema {
    let introspection = state.settings.limits.introspection;
    // No extension: a registered one makes async-graphql wrap every field's resolution.
    let mut schema = builder();
    if !introspection {
        schema = schema.disable_introspection();
    }
    schema.data(state).finish()
}

/// The SDL published as `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .sorted_fields()
            .sorted_enum_items(),
    )
}

/// The application state of the request.
pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

/// The caller, if it holds `permission`; UNAUTHENTICATED or FORBIDDEN otherwise.
pub fn require<'a>(ctx: &Context<'a>, permission: Permission) -> Result<&'a Actor, ApiError> {
    let actor = ctx.data_opt::<Actor>().ok_or(ApiError::Unauthenticated)?;
    actor.require(permission)?;
    Ok(actor)
}

/// True when the caller may see unit costs, amounts and totals.
pub fn can_see_costs(ctx: &Context<'_>) -> bool {
    ctx.data_opt::<Actor>()
        .is_some_and(|actor| actor.has(Permission::CostsRead))
}

/// Longest search text, in characters: as long as the longest searchable field (a product's
/// description), so no match is lost, and far below what makes a LIKE pattern too complex for
/// the database (SQLite refuses 50,000 bytes with an error that would surface as INTERNAL).
pub const MAX_SEARCH_CHARS: usize = 500;

/// A list filter's search text, or BAD_REQUEST when it is longer than [`MAX_SEARCH_CHARS`].
pub fn search_text(text: &str) -> Result<&str, ApiError> {
    if text.chars().count() > MAX_SEARCH_CHARS {
        return Err(ApiError::BadRequest(format!(
            "a search text is at most {MAX_SEARCH_CHARS} characters"
        )));
    }
    Ok(text)
}

/// A money input (shipping, tax rate, freight, default cost or tax rate) as the caller may set
/// it: without `costs:read` it is ignored, as if not sent, the same as unit costs (DOMAIN.md,
/// Lines). A caller who cannot see money cannot set it either.
pub fn money_input(
    ctx: &Context<'_>,
    value: Option<scalars::Decimal>,
) -> Option<rust_decimal::Decimal> {
    value.filter(|_| can_see_costs(ctx)).map(|d| d.0)
}

/// The configured page-size limit.
pub fn max_page_size(ctx: &Context<'_>) -> usize {
    state(ctx).settings.limits.max_page_size
}

/// True when the client selected `totalCount` on the connection being resolved.
pub fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// One page of a root list: the paging arguments checked against the page-size limit, then
/// `select` paged in `order` (`totalCount` counted only when the client asked for it).
pub async fn root_page<E, T, N, E2, I>(
    ctx: &Context<'_>,
    args: &connection::PageArgs,
    select: sea_orm::Select<E>,
    order: &connection::SortOrder,
    id_of: impl Fn(&E::Model) -> I,
    convert: impl Fn(E::Model) -> T,
) -> async_graphql::Result<connection::NamedPage<T, N, E2>>
where
    I: Into<i64>,
    E: sea_orm::EntityTrait,
    E::Model: Sync,
    T: async_graphql::OutputType,
    N: async_graphql::connection::ConnectionNameType,
    E2: async_graphql::connection::EdgeNameType,
{
    let window = connection::Window::from_args(args, max_page_size(ctx))?;
    let page = connection::paginate(
        &state(ctx).db,
        select,
        order,
        window,
        wants_total(ctx),
        id_of,
        convert,
    )
    .await?;
    Ok(page)
}
