//! Relay pagination: page sizes and opaque cursors.

use async_graphql::connection::{Connection, Edge};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// `first`, checked: 1–100, default 20.
///
/// # Errors
/// `BAD_USER_INPUT` outside 1–100.
pub fn page_size(first: Option<i32>) -> ApiResult<u64> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&first) {
        return Err(ApiError::bad_input(format!("first must be between 1 and {MAX_PAGE_SIZE}")));
    }
    Ok(u64::try_from(first).unwrap_or(20))
}

/// The complexity of a page field: the field itself plus `first` (its default when absent)
/// times what each row selects. A nested page of pages is priced as what it fetches, so the
/// schema's complexity limit refuses it before any SQL runs. A `first` outside 1–100 fetches
/// nothing (the resolver refuses it with `BAD_USER_INPUT`), so it is priced as one row.
#[must_use]
pub fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.unwrap_or(DEFAULT_PAGE_SIZE);
    let rows = if (1..=MAX_PAGE_SIZE).contains(&rows) { rows } else { 1 };
    usize::try_from(rows).unwrap_or(1).saturating_mul(child_complexity).saturating_add(1)
}

/// Encodes a (time, id) position.
#[must_use]
pub fn encode(at: DateTime<Utc>, id: impl std::fmt::Display) -> String {
    let nanos = at.timestamp_nanos_opt().unwrap_or(i64::MAX);
    URL_SAFE_NO_PAD.encode(format!("{nanos}:{id}"))
}

/// Decodes a cursor made by [`encode`].
///
/// # Errors
/// `BAD_USER_INPUT` for anything else.
pub fn decode<I: std::str::FromStr>(cursor: &str) -> ApiResult<(DateTime<Utc>, I)> {
    let bad = || ApiError::bad_input("after is not a cursor returned by this API");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (nanos, id) = text.split_once(':').ok_or_else(bad)?;
    let nanos: i64 = nanos.parse().map_err(|_| bad())?;
    let id = id.parse::<I>().map_err(|_| bad())?;
    Ok((DateTime::from_timestamp_nanos(nanos), id))
}

/// Decodes an event cursor (a decimal sequence number).
///
/// # Errors
/// `BAD_USER_INPUT` when it is not a non-negative integer.
pub fn decode_sequence(cursor: Option<&str>) -> ApiResult<i64> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::bad_input("after must be an event cursor (a non-negative integer)")),
    }
}

/// Builds a Relay connection from `limit + 1` rows.
pub(crate) fn connection<M, N: async_graphql::OutputType>(
    mut rows: Vec<M>,
    limit: u64,
    has_previous: bool,
    cursor: impl Fn(&M) -> String,
    node: impl Fn(M) -> N,
) -> Connection<String, N> {
    let has_next = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut page = Connection::new(has_previous, has_next);
    page.edges.extend(rows.into_iter().map(|row| Edge::new(cursor(&row), node(row))));
    page
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = Utc::now();
        let id = Uuid::now_v7();
        assert_eq!(decode::<Uuid>(&encode(at, id)).unwrap(), (at, id));
        assert!(decode::<Uuid>("not-a-cursor").is_err());
        assert!(decode::<Uuid>(&URL_SAFE_NO_PAD.encode("12:nope")).is_err());
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(101)).is_err());
        assert_eq!(page_size(None).unwrap(), 20);
        assert_eq!(decode_sequence(Some("42")).unwrap(), 42);
        assert_eq!(page_cost(None, 3), 61);
        assert_eq!(page_cost(Some(100), 3), 301);
        assert_eq!(page_cost(Some(i32::MAX), 3), 4, "refused by the resolver, priced as one row");
        assert_eq!(page_cost(Some(-5), 3), 4);
        assert_eq!(page_cost(Some(50), usize::MAX), usize::MAX);
        assert!(decode_sequence(Some("-1")).is_err());
    }
}
