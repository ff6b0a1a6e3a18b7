//! Relay connections with keyset cursors and a page-size limit.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{OutputType, SimpleObject};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
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

impl From<SortDirection> for sea_orm::Order {
    fn from(direction: SortDirection) -> Self {
        match direction {
            SortDirection::Asc => sea_orm::Order::Asc,
            SortDirection::Desc => sea_orm::Order::Desc,
        }
    }
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
pub fn page_limit(args: &PageArgs, max_page_size: usize) -> Result<usize, ApiError> {
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

/// Loads one page of `select`, ordered by `id_column` (stable under inserts: keyset, not
/// offset). `total_count` is only computed when the client asked for it.
pub async fn paginate<E, T, C>(
    db: &C,
    select: Select<E>,
    id_column: E::Column,
    window: Window,
    want_total: bool,
    id_of: impl Fn(&E::Model) -> i32,
    convert: impl Fn(E::Model) -> T,
) -> Result<Page<T>, ApiError>
where
    E: EntityTrait,
    E::Model: Sync,
    T: OutputType,
    C: ConnectionTrait,
{
    let total_count = if want_total {
        select.clone().count(db).await?
    } else {
        0
    };
    let mut query = select.clone();
    if let Some(after) = window.after {
        query = query.filter(id_column.gt(after));
    }
    if let Some(before) = window.before {
        query = query.filter(id_column.lt(before));
    }
    query = if window.backward {
        query.order_by_desc(id_column)
    } else {
        query.order_by_asc(id_column)
    };
    let mut rows = query.limit(window.limit + 1).all(db).await?;
    let more = rows.len() as u64 > window.limit;
    rows.truncate(window.limit as usize);
    if window.backward {
        rows.reverse();
    }
    // Rows beyond the cursors exist only if something matches on the far side of them.
    let beyond = |filter| {
        let select = select.clone();
        async move { Ok::<_, ApiError>(select.filter(filter).limit(1).count(db).await? > 0) }
    };
    let (has_previous_page, has_next_page) = if window.backward {
        let next = match window.before {
            Some(before) => beyond(id_column.gte(before)).await?,
            None => false,
        };
        (more, next)
    } else {
        let previous = match window.after {
            Some(after) => beyond(id_column.lte(after)).await?,
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

const OFFSET_PREFIX: &str = "offset:v1:";

/// An opaque cursor for a position in a sorted list.
pub fn encode_offset(position: u64) -> String {
    format!("{OFFSET_PREFIX}{position}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_offset(cursor: &str, argument: &str) -> Result<u64, ApiError> {
    unhex(cursor)
        .and_then(|text| {
            text.strip_prefix(OFFSET_PREFIX)
                .and_then(|n| n.parse().ok())
        })
        .ok_or_else(|| {
            ApiError::BadRequest(format!("`{argument}` is not a cursor of this connection"))
        })
}

/// Loads one page of `select`, which the caller has already ordered by a chosen sort (ending in
/// the id as tie-breaker). Cursors are positions: stable for a fixed data set; the default sort
/// uses [`paginate`]'s keyset cursors, which are also stable under inserts.
pub async fn paginate_sorted<E, T, C>(
    db: &C,
    select: Select<E>,
    args: &PageArgs,
    max_page_size: usize,
    convert: impl Fn(E::Model) -> T,
) -> Result<Page<T>, ApiError>
where
    E: EntityTrait,
    E::Model: Sync,
    T: OutputType,
    C: ConnectionTrait,
{
    let limit = page_limit(args, max_page_size)? as u64;
    let total = select.clone().count(db).await?;
    let after = args
        .after
        .as_deref()
        .map(|c| decode_offset(c, "after"))
        .transpose()?;
    let before = args
        .before
        .as_deref()
        .map(|c| decode_offset(c, "before"))
        .transpose()?;
    let end = before.unwrap_or(total).min(total);
    let (start, stop) = if args.last.is_some() {
        let start = end.saturating_sub(limit).max(after.map_or(0, |a| a + 1));
        (start, end)
    } else {
        let start = after.map_or(0, |a| a + 1);
        (start, (start + limit).min(end))
    };
    let rows = if stop > start {
        select.offset(start).limit(stop - start).all(db).await?
    } else {
        Vec::new()
    };
    let mut page = Connection::with_additional_fields(
        start > 0,
        stop < total,
        ConnectionTotals { total_count: total },
    );
    page.edges.extend(
        rows.into_iter()
            .enumerate()
            .map(|(i, row)| Edge::new(encode_offset(start + i as u64), convert(row))),
    );
    Ok(page)
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
