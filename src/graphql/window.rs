//! Nested connections without N+1: the pages of many parents are read in one statement with
//! `ROW_NUMBER() OVER (PARTITION BY parent ORDER BY id)` (SQLite ≥ 3.25 and PostgreSQL both
//! have it), their rows in a second, and their counts in a third — whatever the parent count.

use std::collections::HashMap;

use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType};
use async_graphql::OutputType;
use sea_orm::{ConnectionTrait, DbErr, Statement};

use crate::graphql::connection::{encode_cursor, ConnectionTotals, Window};

pub use crate::graphql::connection::NamedPage;

/// One parent's page of children, ids in ascending order.
#[derive(Clone, Debug)]
pub struct ChildWindow<M> {
    pub rows: Vec<M>,
    pub total: u64,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<M> Default for ChildWindow<M> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            total: 0,
            has_previous: false,
            has_next: false,
        }
    }
}

impl<M: Clone> ChildWindow<M> {
    /// The Relay page of this window (its type names chosen by `N` and `E`). The window is
    /// shared by every field that reads it; only the rows of the page are copied out.
    pub fn page<T: OutputType, N: ConnectionNameType, E: EdgeNameType>(
        &self,
        id_of: impl Fn(&M) -> i64,
        convert: impl Fn(M) -> T,
    ) -> NamedPage<T, N, E> {
        let mut page = Connection::with_additional_fields(
            self.has_previous,
            self.has_next,
            ConnectionTotals {
                total_count: self.total,
            },
        );
        page.edges.extend(
            self.rows
                .iter()
                .map(|row| Edge::new(encode_cursor(id_of(row)), convert(row.clone()))),
        );
        page
    }
}

/// The ids (per parent) of the page after `after` of at most `limit` children each, plus
/// each parent's total and whether children precede the cursor.
pub struct WindowIds {
    pub ids: HashMap<i64, Vec<i64>>,
    pub has_next: HashMap<i64, bool>,
    pub totals: HashMap<i64, (u64, bool)>,
}

/// Reads the child ids of every parent in `parents` for one window (two statements).
pub async fn window_ids(
    db: &impl ConnectionTrait,
    table: &str,
    parent_column: &str,
    parents: &[i64],
    window: Window,
) -> Result<WindowIds, DbErr> {
    let backend = db.get_database_backend();
    // Only integers are spliced into the SQL; table and column names are constants.
    let list = parents
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let after = window
        .after
        .map(|a| format!(" AND id > {a}"))
        .unwrap_or_default();
    let sql = format!(
        "SELECT parent, id FROM (SELECT {parent_column} AS parent, CAST(id AS BIGINT) AS id, \
         ROW_NUMBER() OVER (PARTITION BY {parent_column} ORDER BY id) AS rn \
         FROM {table} WHERE {parent_column} IN ({list}){after}) AS w \
         WHERE rn <= {} ORDER BY parent, id",
        window.limit + 1
    );
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    let mut ids: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in rows {
        let parent: i64 = row
            .try_get_by_index::<i64>(0)
            .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))?;
        let id: i64 = row.try_get_by_index(1)?;
        ids.entry(parent).or_default().push(id);
    }
    let mut has_next = HashMap::new();
    for (parent, list) in ids.iter_mut() {
        let more = list.len() as u64 > window.limit;
        list.truncate(window.limit as usize);
        has_next.insert(*parent, more);
    }
    let before = window
        .after
        .map(|a| format!("SUM(CASE WHEN id <= {a} THEN 1 ELSE 0 END)"))
        .unwrap_or_else(|| "0".to_owned());
    let sql = format!(
        "SELECT {parent_column} AS parent, COUNT(*) AS total, {before} AS preceding \
         FROM {table} WHERE {parent_column} IN ({list}) GROUP BY {parent_column}"
    );
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    let mut totals = HashMap::new();
    for row in rows {
        let parent: i64 = row
            .try_get_by_index::<i64>(0)
            .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))?;
        let total: i64 = row.try_get_by_index(1)?;
        let preceding: i64 = row
            .try_get_by_index::<i64>(2)
            .or_else(|_| row.try_get_by_index::<i32>(2).map(i64::from))?;
        totals.insert(parent, (u64::try_from(total).unwrap_or(0), preceding > 0));
    }
    Ok(WindowIds {
        ids,
        has_next,
        totals,
    })
}

/// Generates a loader of one nested connection: key = (parent, window), value = the window.
macro_rules! window_loader {
    ($(#[$doc:meta])* $key:ident => $module:ident by $column:literal, $table:literal, id $idty:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key {
            pub parent: i32,
            pub after: Option<i64>,
            pub limit: u64,
        }

        impl $key {
            /// The key of `parent`'s window of at most `limit` children after `after`.
            pub fn new(parent: i32, after: Option<i64>, limit: u64) -> Self {
                $key { parent, after, limit }
            }
        }

        impl Loader<$key> for DbLoader {
            type Value = std::sync::Arc<$crate::graphql::window::ChildWindow<entity::$module::Model>>;
            type Error = async_graphql::Error;

            async fn load(
                &self,
                keys: &[$key],
            ) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                use entity::$module::{Column, Entity};
                // Parents stay the keys' own ids; only the SQL sees them widened.
                let mut groups: HashMap<(Option<i64>, u64), Vec<i32>> = HashMap::new();
                for key in keys {
                    groups.entry((key.after, key.limit)).or_default().push(key.parent);
                }
                let mut result = HashMap::new();
                for ((after, limit), parents) in groups {
                    let window = $crate::graphql::connection::Window {
                        limit,
                        backward: false,
                        after,
                        before: None,
                    };
                    let wide: Vec<i64> = parents.iter().copied().map(i64::from).collect();
                    let found = $crate::graphql::window::window_ids(
                        &self.db, $table, $column, &wide, window,
                    )
                    .await
                    .map_err(db_error)?;
                    let all: Vec<$idty> = found
                        .ids
                        .values()
                        .flatten()
                        .filter_map(|id| <$idty>::try_from(*id).ok())
                        .collect();
                    let mut rows: HashMap<i64, entity::$module::Model> = if all.is_empty() {
                        HashMap::new()
                    } else {
                        Entity::find()
                            .filter(Column::Id.is_in(all))
                            .all(&self.db)
                            .await
                            .map_err(db_error)?
                            .into_iter()
                            .map(|m| (i64::from(m.id), m))
                            .collect()
                    };
                    for parent in parents {
                        let wide = i64::from(parent);
                        let ids = found.ids.get(&wide).cloned().unwrap_or_default();
                        let (total, has_previous) =
                            found.totals.get(&wide).copied().unwrap_or((0, false));
                        let window = $crate::graphql::window::ChildWindow {
                            rows: ids.iter().filter_map(|id| rows.remove(id)).collect(),
                            total,
                            has_previous,
                            has_next: found.has_next.get(&wide).copied().unwrap_or(false),
                        };
                        let key = $key {
                            parent,
                            after,
                            limit,
                        };
                        result.insert(key, std::sync::Arc::new(window));
                    }
                }
                Ok(result)
            }
        }
    };
}
pub(crate) use window_loader;

/// Resolves a forward-paged nested connection through the loader key `key(after, limit)`.
pub async fn nested_page<K, M, T, N, E>(
    ctx: &async_graphql::Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    key: impl FnOnce(Option<i64>, u64) -> K,
    id_of: impl Fn(&M) -> i64,
    convert: impl Fn(M) -> T,
) -> async_graphql::Result<NamedPage<T, N, E>>
where
    N: ConnectionNameType,
    E: EdgeNameType,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    crate::graphql::loaders::DbLoader: async_graphql::dataloader::Loader<
        K,
        Value = std::sync::Arc<ChildWindow<M>>,
        Error = async_graphql::Error,
    >,
    M: Send + Sync + Clone + 'static,
    T: OutputType,
{
    let window = Window::from_args(
        &crate::graphql::connection::PageArgs::first(first, after),
        crate::graphql::max_page_size(ctx),
    )?;
    let found = crate::graphql::loaders::load_one(ctx, key(window.after, window.limit))
        .await?
        .unwrap_or_default();
    Ok(found.page(id_of, convert))
}
