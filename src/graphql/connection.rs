//! Relay connections with keyset cursors and a page-size limit.

use async_graphql::connection::{
    Connection, ConnectionNameType, CursorType, Edge, EdgeNameType, EmptyFields, OpaqueCursor,
};
use async_graphql::{OutputType, SimpleObject};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};

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

/// A page of `T` with opaque cursors.
pub type Page<T> = Connection<RowCursor, T, ConnectionTotals>;

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
    /// The row id inside the `after` cursor.
    pub after: Option<i64>,
    /// The row id inside the `before` cursor.
    pub before: Option<i64>,
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

/// What a connection's cursor holds: the id of the row it stands for. Inside async-graphql's
/// [`OpaqueCursor`] (URL-safe base64 of JSON) it reads `{"row":42}`; the field name keeps a
/// row cursor and an event cursor ([`EventKey`]) from passing for each other. Ids are 64-bit
/// because stock-ledger ids are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowKey {
    row: i64,
}

/// The cursor of a connection's edge.
pub type RowCursor = OpaqueCursor<RowKey>;

/// The cursor of the row `id`.
pub fn encode_cursor(id: impl Into<i64>) -> RowCursor {
    OpaqueCursor(RowKey { row: id.into() })
}

/// The row id inside `cursor`; BAD_REQUEST naming `argument` when it is not a row cursor.
fn decode_cursor(cursor: &str, argument: &str) -> Result<i64, ApiError> {
    RowCursor::decode_cursor(cursor)
        .map(|key| key.row)
        .map_err(|_| {
            ApiError::BadRequest(format!("`{argument}` is not a cursor of this connection"))
        })
}

/// What an event cursor holds: the event's commit-order position, as `{"event":7}` inside an
/// [`OpaqueCursor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventKey {
    event: i64,
}

impl EventKey {
    /// The cursor text of the event at position `seq`.
    pub fn cursor(seq: i64) -> String {
        OpaqueCursor(EventKey { event: seq }).encode_cursor()
    }

    /// The position inside an event cursor; `None` for anything else (positions are never
    /// negative).
    pub fn position(cursor: &str) -> Option<i64> {
        OpaqueCursor::<EventKey>::decode_cursor(cursor)
            .ok()
            .map(|key| key.event)
            .filter(|seq| *seq >= 0)
    }
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
    fn past(&self, table: &str, cursor: i64, later: bool) -> Expr {
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
pub type NamedPage<T, N, E> = Connection<RowCursor, T, ConnectionTotals, EmptyFields, N, E>;

/// Loads one page of `select` in `order`. `total_count` is only computed when the client asked
/// for it.
pub async fn paginate<E, T, C, N, E2, I>(
    db: &C,
    select: Select<E>,
    order: &SortOrder,
    window: Window,
    want_total: bool,
    id_of: impl Fn(&E::Model) -> I,
    convert: impl Fn(E::Model) -> T,
) -> Result<NamedPage<T, N, E2>, ApiError>
where
    E: EntityTrait,
    E::Model: Sync,
    T: OutputType,
    C: ConnectionTrait,
    N: ConnectionNameType,
    E2: EdgeNameType,
    I: Into<i64>,
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
    let beyond = |cursor: i64, later: bool| {
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

async fn row_exists<C: ConnectionTrait>(db: &C, table: &str, id: i64) -> Result<bool, ApiError> {
    let statement = sea_orm::Statement::from_string(
        db.get_database_backend(),
        format!("SELECT 1 FROM {table} WHERE id = {id}"),
    );
    Ok(db.query_one_raw(statement).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(cursor: RowCursor) -> String {
        cursor.encode_cursor()
    }

    #[test]
    fn cursors_round_trip_and_foreign_strings_are_refused() {
        assert_eq!(
            decode_cursor(&text(encode_cursor(42)), "after").unwrap(),
            42
        );
        assert!(decode_cursor("zz", "after").is_err());
        assert!(decode_cursor("abc", "after").is_err());
        assert!(decode_cursor(&"x".repeat(4), "after").is_err());
        // The hex cursors of earlier versions, and base64 of other JSON, are not cursors.
        assert!(decode_cursor("637572736f723a76313a3432", "after").is_err());
        assert!(decode_cursor(&OpaqueCursor(42_i64).encode_cursor(), "after").is_err());
    }

    #[test]
    fn cursors_hold_ids_beyond_32_bits() {
        let id = i64::from(i32::MAX) + 7;
        assert_eq!(
            decode_cursor(&text(encode_cursor(id)), "after").unwrap(),
            id
        );
    }

    #[test]
    fn row_and_event_cursors_do_not_pass_for_each_other() {
        let event = EventKey::cursor(7);
        assert_eq!(EventKey::position(&event), Some(7));
        assert!(decode_cursor(&event, "after").is_err());
        assert_eq!(EventKey::position(&text(encode_cursor(7))), None);
        assert_eq!(EventKey::position(&EventKey::cursor(-1)), None);
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
