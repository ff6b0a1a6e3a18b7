//! Use cases. Each opens one transaction, applies the domain rules, writes through the
//! entities and commits; events are handed to the bus only after commit.

pub mod bills;
pub mod demo;
pub mod feed;
pub mod idempotency;
pub mod inventory;
pub mod master_data;
pub mod purchasing;
pub mod receiving;
pub mod search;
pub mod serials;
pub mod sql_rules;
pub mod stock;
pub(crate) mod violations;

pub(crate) use violations::Violations;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    QuerySelect, Select, SqlErr, Statement,
};

use crate::auth::Actor;
use crate::config::BusinessConfig;
use crate::domain::violation::ViolationCode;
use crate::error::{Field, ServiceError};
use crate::events::EventBus;

/// The current time in UTC, truncated to microseconds so it reads back identically from
/// PostgreSQL (microsecond timestamps) and SQLite (text).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A unique-key violation becomes the given user error; anything else stays internal. The
/// services check keys first; this covers the race in which two requests pass that check.
pub(crate) fn unique_violation(
    err: DbErr,
    code: ViolationCode,
    field: impl Into<Field>,
    message: &str,
) -> ServiceError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => ServiceError::user(code, field, message),
        _ => ServiceError::from(err),
    }
}

/// What every use case needs to know about its caller and surroundings.
#[derive(Clone, Copy)]
pub struct UseCase<'a> {
    pub db: &'a DatabaseConnection,
    pub actor: &'a Actor,
    pub business: &'a BusinessConfig,
    pub events: &'a EventBus,
    /// Without `costs:read` unit costs sent are ignored and the product default is used.
    pub can_set_costs: bool,
}

/// The next value of a named counter, safe under concurrent transactions (the upsert locks the row).
pub(crate) async fn next_counter(
    txn: &DatabaseTransaction,
    name: &str,
) -> Result<i64, ServiceError> {
    let values = next_counters(txn, &[name]).await?;
    values
        .first()
        .copied()
        .ok_or_else(|| ServiceError::Internal("counter upsert returned nothing".into()))
}

/// The next values of several distinct named counters in one statement (a receipt draws its
/// own number and its bill's together), in the order of `names`. Every caller drawing more
/// than one counter holds its order's lock, so no two such upserts wait on each other.
pub(crate) async fn next_counters(
    txn: &DatabaseTransaction,
    names: &[&str],
) -> Result<Vec<i64>, ServiceError> {
    let backend = txn.get_database_backend();
    let placeholder = |i: usize| match backend {
        sea_orm::DbBackend::Sqlite => "?".to_owned(),
        _ => format!("${}", i + 1),
    };
    let rows: Vec<String> = (0..names.len())
        .map(|i| format!("({}, 1)", placeholder(i)))
        .collect();
    let sql = format!(
        "INSERT INTO document_counters (name, value) VALUES {} \
         ON CONFLICT (name) DO UPDATE SET value = document_counters.value + 1 \
         RETURNING name, value",
        rows.join(", ")
    );
    let values = names.iter().map(|n| (*n).into());
    let returned = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    // RETURNING promises no order on SQLite: match the rows back by name.
    let mut drawn = Vec::with_capacity(returned.len());
    for row in &returned {
        let name: String = row.try_get_by_index(0)?;
        let value = row
            .try_get_by_index::<i64>(1)
            .or_else(|_| row.try_get_by_index::<i32>(1).map(i64::from))?;
        drawn.push((name, value));
    }
    names
        .iter()
        .map(|name| {
            drawn
                .iter()
                .find(|(drawn, _)| drawn == name)
                .map(|(_, value)| *value)
                .ok_or_else(|| ServiceError::Internal(format!("counter {name} not drawn")))
        })
        .collect()
}

/// The user error for a record that does not exist.
pub(crate) fn not_found(field: impl Into<Field>, what: &str) -> ServiceError {
    ServiceError::user(ViolationCode::NotFound, field, format!("no such {what}"))
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

/// Commits a use case's transaction. A failure here is marked as happening at COMMIT, which
/// [`retry_once`] never retries: the server may have committed before the connection dropped.
pub(crate) async fn commit(txn: DatabaseTransaction) -> Result<(), ServiceError> {
    // The one place use cases commit (clippy.toml forbids `commit` elsewhere).
    #[allow(clippy::disallowed_methods)]
    txn.commit().await.map_err(ServiceError::at_commit)
}

/// Runs a use case (one transaction, begun and committed by `attempt`) and, when the database
/// dropped the connection before COMMIT was sent, runs it once more on a fresh connection (the
/// pool pings connections before handing them out, so the broken one is not reused).
///
/// Safe because such a failure rolled everything back: nothing was written and no event was
/// published. A failure at COMMIT or a busy database is not retried; the caller answers
/// `SERVICE_UNAVAILABLE` and the client retries, with an idempotency key where counting twice
/// would matter.
pub async fn retry_once<T, F, Fut>(mut attempt: F) -> Result<T, ServiceError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ServiceError>>,
{
    match attempt().await {
        Err(ServiceError::Unavailable(fault)) if fault.retry_safe() => {
            tracing::warn!(error = %fault, "connection lost before commit; running the use case again");
            attempt().await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::Arc;

    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::*;

    fn lost() -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(sea_orm::sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        ))))
    }

    /// Runs `retry_once` over attempts that fail with `errors` in turn, then succeed; returns
    /// the outcome and the number of attempts made.
    async fn run(errors: Vec<ServiceError>) -> (Result<u32, ServiceError>, u32) {
        let attempts = Cell::new(0);
        let errors = std::cell::RefCell::new(errors.into_iter());
        let result = retry_once(|| async {
            attempts.set(attempts.get() + 1);
            match errors.borrow_mut().next() {
                Some(err) => Err(err),
                None => Ok(attempts.get()),
            }
        })
        .await;
        (result, attempts.get())
    }

    #[tokio::test]
    async fn a_use_case_that_lost_its_connection_before_commit_runs_once_more() {
        let (result, attempts) = run(vec![ServiceError::from(lost())]).await;
        assert_eq!(attempts, 2);
        assert_eq!(result.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_use_case_is_retried_at_most_once() {
        let (result, attempts) =
            run(vec![ServiceError::from(lost()), ServiceError::from(lost())]).await;
        assert_eq!(attempts, 2);
        assert!(matches!(result, Err(ServiceError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_connection_lost_during_commit_is_not_retried() {
        let (result, attempts) = run(vec![ServiceError::at_commit(lost())]).await;
        assert_eq!(
            attempts, 1,
            "the commit may have happened: the client decides"
        );
        assert!(matches!(result, Err(ServiceError::Unavailable(f)) if f.at_commit));
    }

    #[tokio::test]
    async fn refusals_internal_errors_and_a_busy_pool_are_not_retried() {
        for err in [
            ServiceError::user(ViolationCode::InvalidInput, Field::whole(), "no"),
            ServiceError::Internal("bug".into()),
            ServiceError::from(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
        ] {
            let (result, attempts) = run(vec![err]).await;
            assert_eq!(attempts, 1);
            assert!(result.is_err());
        }
    }
}
