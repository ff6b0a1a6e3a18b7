//! Relay connections with keyset cursors and a page-size limit.

use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType, EmptyFields};
use async_graphql::{OutputType, SimpleObject};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use crate::error::ApiError;

/// Which way a sort runs.
#[derive(async_graphql::Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// Page size when a client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: usize = 25;

/// Fields every connection adds to `edges`, `nodes` and `pageInfo`.
#[derive(SimpleObject, Clone, Copy, Debug, Default)]
pub struct ConnectionTotals {
    /// How many items match, over all pages.
    pub total_count: u64,
}

/// A page of `T` with opaque string cursors.
pub type Page<T> = Connection<String, T, ConnectionTotals>;

/// The paging arguments of a connection field.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// The four paging arguments of a root list, as the client gave them.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Self {
        Self {
            first,
            after,
            last,
            before,
        }
    }

    /// Forward paging from the start.
    pub fn first(first: Option<i32>, after: Option<String>) -> Self {
        Self {
            first,
            after,
            ..Self::default()
        }
    }
}

/// What to fetch: how many, in which direction, between which keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub limit: u64,
    pub backward: bool,
    pub after: Option<i32>,
    pub before: Option<i32>,
}

/// The page size the arguments ask for: `first` or `last` (not both), the default when neither,
/// never over the limit.
fn page_limit(args: &PageArgs, max_page_size: usize) -> Result<usize, ApiError> {
    if args.first.is_some() && args.last.is_some() {
        return Err(ApiError::BadRequest(
            "pass either `first` or `last`, not both".to_owned(),
        ));
    }
    let (name, requested) = match (args.first, args.last) {
        (_, Some(last)) => ("last", Some(last)),
        (first, None) => ("first", first),
    };
    match requested {
        None => Ok(DEFAULT_PAGE_SIZE.min(max_page_size)),
        Some(n) if n < 0 => Err(ApiError::BadRequest(format!(
            "`{name}` must not be negative"
        ))),
        Some(n) if n as usize > max_page_size => Err(ApiError::BadRequest(format!(
            "`{name}` is {n}, but the page size limit is {max_page_size}"
        ))),
        Some(n) => Ok(n as usize),
    }
}

impl Window {
    /// Checks the arguments against the page-size limit and decodes the cursors.
    pub fn from_args(args: &PageArgs, max_page_size: usize) -> Result<Self, ApiError> {
        let limit = page_limit(args, max_page_size)?;
        Ok(Window {
            limit: limit as u64,
            backward: args.last.is_some(),
            after: args
                .after
                .as_deref()
                .map(|c| decode_cursor(c, "after"))
                .transpose()?,
            before: args
                .before
                .as_deref()
                .map(|c| decode_cursor(c, "before"))
                .transpose()?,
        })
    }
}

const CURSOR_PREFIX: &str = "cursor:v1:";

/// An opaque cursor for a row id.
pub fn encode_cursor(id: i32) -> String {
    format!("{CURSOR_PREFIX}{id}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The text inside an opaque (hex) cursor.
fn unhex(cursor: &str) -> Option<String> {
    if !cursor.len().is_multiple_of(2) || !cursor.is_ascii() {
        return None;
    }
    let bytes: Vec<u8> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn decode_cursor(cursor: &str, argument: &str) -> Result<i32, ApiError> {
    unhex(cursor)
        .and_then(|text| {
            text.strip_prefix(CURSOR_PREFIX)
                .and_then(|id| id.parse().ok())
        })
        .ok_or_else(|| {
            ApiError::BadRequest(format!("`{argument}` is not a cursor of this connection"))
        })
}

/// One key of a sort order: SQL evaluated on a row of the connection's table, where `{t}`
/// names that row (so the same key can be read off the cursor's row), and its direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    sql: String,
    direction: SortDirection,
}

impl SortKey {
    /// A column of the table.
    pub fn column(name: &str, direction: SortDirection) -> Self {
        Self::sql(&format!("{{t}}.{name}"), direction)
    }

    /// `column`, rows without a value last in either direction: two keys, `NULL`-ness first.
    pub fn column_nulls_last(name: &str, direction: SortDirection) -> [Self; 2] {
        [
            Self::sql(
                &format!("CASE WHEN {{t}}.{name} IS NULL THEN 1 ELSE 0 END"),
                SortDirection::Asc,
            ),
            Self::column(name, direction),
        ]
    }

    /// Any SQL over the row; it must not contain text from a request.
    pub fn sql(sql: &str, direction: SortDirection) -> Self {
        Self {
            sql: sql.to_owned(),
            direction,
        }
    }

    fn on(&self, row: &str) -> String {
        self.sql.replace("{t}", row)
    }
}

/// The order of a connection: its sort keys, then the row id as tie-breaker, so every row has
/// one place and a cursor (the row id) resumes right after it, however many rows were inserted
/// before or after it since (keyset, not offset).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SortOrder {
    keys: Vec<SortKey>,
    /// The direction of the id tie-breaker.
    direction: SortDirection,
}

impl SortOrder {
    /// By `keys`, ties by id in `direction`.
    pub fn new(keys: impl IntoIterator<Item = SortKey>, direction: SortDirection) -> Self {
        Self {
            keys: keys.into_iter().collect(),
            direction,
        }
    }

    /// `ORDER BY` terms for rows of `table`, reversed when paging backward.
    fn terms(&self, table: &str, backward: bool) -> Vec<(String, sea_orm::Order)> {
        let flip = |direction: SortDirection| match (direction, backward) {
            (SortDirection::Asc, false) | (SortDirection::Desc, true) => sea_orm::Order::Asc,
            _ => sea_orm::Order::Desc,
        };
        self.keys
            .iter()
            .map(|key| (key.on(table), flip(key.direction)))
            .chain([(format!("{table}.id"), flip(self.direction))])
            .collect()
    }

    /// Rows of `table` strictly after (`later`) or strictly before the row `cursor` in this
    /// order. Each key of a row is compared with the same key of the cursor's row, read by a
    /// subquery, so equal values compare equal whatever their type; a missing value never
    /// makes the comparison unknown.
    fn past(&self, table: &str, cursor: i32, later: bool) -> Expr {
        let of_cursor = |key: &SortKey| {
            format!(
                "(SELECT {} FROM {table} c WHERE c.id = {cursor})",
                key.on("c")
            )
        };
        let beyond = |direction: SortDirection| {
            if (direction == SortDirection::Asc) == later {
                ">"
            } else {
                "<"
            }
        };
        // (k1 beyond) OR (k1 equal AND k2 beyond) OR … OR (all keys equal AND id beyond).
        let mut alternatives = Vec::new();
        let mut equal_so_far = Vec::new();
        for key in &self.keys {
            let mut alternative = equal_so_far.clone();
            alternative.push(format!(
                "COALESCE({} {} {}, FALSE)",
                key.on(table),
                beyond(key.direction),
                of_cursor(key)
            ));
            alternatives.push(alternative.join(" AND "));
            equal_so_far.push(format!(
                "{} IS NOT DISTINCT FROM {}",
                key.on(table),
                of_cursor(key)
            ));
        }
        equal_so_far.push(format!("{table}.id {} {cursor}", beyond(self.direction)));
        alternatives.push(equal_so_far.join(" AND "));
        Expr::cust(format!("(({}))", alternatives.join(") OR (")))
    }
}

/// A page of `T` whose connection and edge types are named by `N` and `E` (with the defaults,
/// `Page<T>`: `VendorConnection`, `VendorEdge`).
pub type NamedPage<T, N, E> = Connection<String, T, ConnectionTotals, EmptyFields, N, E>;

/// Loads one page of `select` in `order`. `total_count` is only computed when the client asked
/// for it.
pub async fn paginate<E, T, C, N, E2>(
    db: &C,
    select: Select<E>,
    order: &SortOrder,
    window: Window,
    want_total: bool,
    id_of: impl Fn(&E::Model) -> i32,
    convert: impl Fn(E::Model) -> T,
) -> Result<NamedPage<T, N, E2>, ApiError>
where
    E: EntityTrait,
    E::Model: Sync,
    T: OutputType,
    C: ConnectionTrait,
    N: ConnectionNameType,
    E2: EdgeNameType,
{
    let table = E::default().table_name();
    for cursor in [window.after, window.before].into_iter().flatten() {
        // A sorted page resumes from its cursor's row, which must therefore exist.
        if !order.keys.is_empty() && !row_exists(db, table, cursor).await? {
            return Err(ApiError::BadRequest(
                "the cursor's row no longer exists: start again from the first page".to_owned(),
            ));
        }
    }
    let total_count = if want_total {
        // The count's subquery selects a constant, not every column of the table.
        let counted = select.clone().select_only().expr(Expr::cust("1"));
        crate::db::retry_read(|| counted.clone().count(db)).await?
    } else {
        0
    };
    let mut query = select.clone();
    if let Some(after) = window.after {
        query = query.filter(order.past(table, after, true));
    }
    if let Some(before) = window.before {
        query = query.filter(order.past(table, before, false));
    }
    for (term, direction) in order.terms(table, window.backward) {
        query = query.order_by(Expr::cust(term), direction);
    }
    let query = query.limit(window.limit + 1);
    let mut rows = crate::db::retry_read(|| query.clone().all(db)).await?;
    let more = rows.len() as u64 > window.limit;
    rows.truncate(window.limit as usize);
    if window.backward {
        rows.reverse();
    }
    // Rows beyond a cursor exist only if something matches on its far side: the cursor's own
    // row or one past it.
    let beyond = |cursor: i32, later: bool| {
        let far_side = order
            .past(table, cursor, later)
            .not()
            .or(Expr::cust(format!("{table}.id = {cursor}")));
        let select = select.clone();
        async move {
            let probe = select
                .filter(far_side)
                .select_only()
                .expr(Expr::cust("1"))
                .limit(1);
            Ok::<_, ApiError>(probe.count(db).await? > 0)
        }
    };
    let (has_previous_page, has_next_page) = if window.backward {
        let next = match window.before {
            Some(before) => beyond(before, false).await?,
            None => false,
        };
        (more, next)
    } else {
        let previous = match window.after {
            Some(after) => beyond(after, true).await?,
            None => false,
        };
        (previous, more)
    };
    let mut page = Connection::with_additional_fields(
        has_previous_page,
        has_next_page,
        ConnectionTotals { total_count },
    );
    page.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(encode_cursor(id_of(&row)), convert(row))),
    );
    Ok(page)
}

async fn row_exists<C: ConnectionTrait>(db: &C, table: &str, id: i32) -> Result<bool, ApiError> {
    let statement = sea_orm::Statement::from_string(
        db.get_database_backend(),
        format!("SELECT 1 FROM {table} WHERE id = {id}"),
    );
    Ok(db.query_one_raw(statement).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_strings_are_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42), "after").unwrap(), 42);
        assert!(decode_cursor("zz", "after").is_err());
        assert!(decode_cursor("abc", "after").is_err());
        assert!(decode_cursor(&"x".repeat(4), "after").is_err());
    }

    #[test]
    fn page_size_defaults_to_25_and_may_not_exceed_the_limit() {
        let w = Window::from_args(&PageArgs::default(), 50).unwrap();
        assert_eq!(w.limit, 25);
        let err = Window::from_args(&PageArgs::first(Some(51), None), 50).unwrap_err();
        assert!(err.message().contains("limit is 50"), "{}", err.message());
        assert!(Window::from_args(&PageArgs::first(Some(-1), None), 50).is_err());
        let both = PageArgs {
            first: Some(1),
            last: Some(1),
            ..PageArgs::default()
        };
        assert!(Window::from_args(&both, 50).is_err());
    }
}
