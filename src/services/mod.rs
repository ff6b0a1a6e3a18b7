//! Use cases. Each opens one transaction, applies the domain rules, writes through the
//! entities and commits; events are handed to the bus only after commit.

pub mod bills;
pub mod demo;
pub mod idempotency;
pub mod inventory;
pub mod master_data;
pub mod purchasing;
pub mod receiving;
pub mod search;
pub mod serials;
pub mod stock;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{Fixed4, Rate8};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, QuerySelect, Select, SqlErr};

use crate::domain::purchasing::Violation;
use crate::error::{ServiceError, UserErrorCode};

/// The current time in UTC, truncated to microseconds so it reads back identically from
/// PostgreSQL (microsecond timestamps) and SQLite (text).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A rule violation reported on an input field.
pub(crate) fn violation(v: Violation, field: &str) -> ServiceError {
    ServiceError::user(v.code, field, v.message)
}

/// An invalid input value reported on `field`.
pub(crate) fn invalid(field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::user(UserErrorCode::InvalidInput, field, message)
}

/// Adapts a domain validation result to a user error on `field`.
pub(crate) fn check<T>(result: Result<T, String>, field: &str) -> Result<T, ServiceError> {
    result.map_err(|message| invalid(field, message))
}

/// A quantity or amount stored exactly with four decimal places.
pub(crate) fn fixed(value: Decimal, field: &str) -> Result<Fixed4, ServiceError> {
    Fixed4::from_decimal(value).map_err(|e| invalid(field, e.to_string()))
}

/// A rate stored exactly with eight decimal places.
pub(crate) fn rate(value: Decimal, field: &str) -> Result<Rate8, ServiceError> {
    Rate8::from_decimal(value).map_err(|e| invalid(field, e.to_string()))
}

/// A unique-key violation becomes the given user error; anything else stays internal. The
/// services check keys first; this covers the race in which two requests pass that check.
pub(crate) fn unique_violation(
    err: DbErr,
    code: UserErrorCode,
    field: &str,
    message: &str,
) -> ServiceError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => ServiceError::user(code, field, message),
        _ => ServiceError::from(err),
    }
}

/// Locks the selected rows until the transaction ends. PostgreSQL takes row locks
/// (`FOR UPDATE`); SQLite write transactions already hold the database's write lock
/// (`BEGIN IMMEDIATE`), so the plain select is enough there.
pub(crate) fn for_update<E: EntityTrait>(
    select: Select<E>,
    db: &impl ConnectionTrait,
) -> Select<E> {
    match db.get_database_backend() {
        DbBackend::Postgres => select.lock_exclusive(),
        _ => select,
    }
}
