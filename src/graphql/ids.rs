//! Opaque global IDs: `gid://stockgraph/<Type>/<id>`. Clients never build them by hand.

use async_graphql::ID;

use crate::domain::violation::ViolationCode;
use crate::error::{ApiError, Field, ServiceError};
use crate::services::Violations;

const PREFIX: &str = "gid://stockgraph/";

/// The global ID of a row of the given GraphQL type.
pub fn to_gid(type_name: &str, id: impl std::fmt::Display) -> ID {
    ID(format!("{PREFIX}{type_name}/{id}"))
}

/// Splits a global ID into its type name and row id.
pub fn parse_gid(id: &str) -> Option<(&str, i64)> {
    let rest = id.strip_prefix(PREFIX)?;
    let (type_name, number) = rest.split_once('/')?;
    let number: i64 = number.parse().ok()?;
    (!type_name.is_empty() && number > 0).then_some((type_name, number))
}

/// The row id behind a global ID of the expected type, for query arguments.
pub fn decode(id: &ID, expected: &str) -> Result<i32, ApiError> {
    match parse_gid(id) {
        Some((type_name, number)) if type_name == expected => i32::try_from(number)
            .map_err(|_| ApiError::BadRequest(format!("`{}` is not a known {expected} ID", id.0))),
        Some((type_name, _)) => Err(ApiError::BadRequest(format!(
            "`{}` is the ID of a {type_name}, not of a {expected}",
            id.0
        ))),
        None => Err(ApiError::BadRequest(format!(
            "`{}` is not a stockgraph ID (they look like gid://stockgraph/{expected}/1)",
            id.0
        ))),
    }
}

/// The row id behind a global ID given in mutation input; a bad one is a user error on `field`.
pub fn decode_input(id: &ID, expected: &str, field: &str) -> Result<i32, ServiceError> {
    decode(id, expected).map_err(|e| {
        ServiceError::user(
            ViolationCode::InvalidId,
            Field::from_input_path(field),
            e.message(),
        )
    })
}

/// Like [`decode_input`] for an optional argument.
pub fn decode_input_opt(
    id: Option<&ID>,
    expected: &str,
    field: &str,
) -> Result<Option<i32>, ServiceError> {
    id.map(|id| decode_input(id, expected, field)).transpose()
}

/// Like [`decode_input`], but a malformed ID is recorded in `v` and decoding goes on, so all
/// of an input's malformed IDs are reported together: the row id, or `None`.
pub(crate) fn gather(v: &mut Violations, id: &ID, expected: &str, field: &str) -> Option<i32> {
    // `decode_input` only refuses, so `take` never fails.
    v.take(decode_input(id, expected, field)).ok().flatten()
}

/// Like [`gather`] for an optional argument: `Some(None)` when it was not given.
pub(crate) fn gather_opt(
    v: &mut Violations,
    id: Option<&ID>,
    expected: &str,
    field: &str,
) -> Option<Option<i32>> {
    match id {
        None => Some(None),
        Some(id) => gather(v, id, expected, field).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_name_their_type() {
        let gid = to_gid("PurchaseOrder", 42);
        assert_eq!(gid.0, "gid://stockgraph/PurchaseOrder/42");
        assert_eq!(decode(&gid, "PurchaseOrder").unwrap(), 42);
        assert!(decode(&gid, "Vendor")
            .unwrap_err()
            .message()
            .contains("not of a Vendor"));
        assert!(decode(&ID("42".into()), "Vendor").is_err());
        assert!(decode(&ID("gid://stockgraph/Vendor/-1".into()), "Vendor").is_err());
        assert!(decode(&ID("gid://stockgraph/Vendor/99999999999".into()), "Vendor").is_err());
    }
}
