//! Errors: the one error type of the use cases ([`ServiceError`]: refusals in the domain's
//! words, database faults with their cause), and the GraphQL errors with a code that reach
//! clients for everything but a refusal.

use std::borrow::Cow;

use async_graphql::ErrorExtensions;

use crate::domain::violation::{Violation, ViolationCode};

/// Where in a use case's command a rejection points: the command's field names (as in the
/// Rust command structs) and list indexes, e.g. `lines[2].quantity`. Empty: the command as a
/// whole. The API layer maps it onto the input path the client sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Field(Vec<FieldStep>);

/// One step of a [`Field`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldStep {
    /// A field of the command (snake_case, as the command struct names it).
    Name(Cow<'static, str>),
    /// An element of a list field.
    Index(usize),
}

impl Field {
    /// The command as a whole (no one field is at fault).
    pub fn whole() -> Self {
        Self::default()
    }

    /// A field of the command.
    pub fn of(name: &'static str) -> Self {
        Self(vec![FieldStep::Name(Cow::Borrowed(name))])
    }

    /// The element `index` of this list field.
    pub fn at(mut self, index: usize) -> Self {
        self.0.push(FieldStep::Index(index));
        self
    }

    /// The field `name` inside this one.
    pub fn then(mut self, name: &'static str) -> Self {
        self.0.push(FieldStep::Name(Cow::Borrowed(name)));
        self
    }

    /// The field named at run time (a field name chosen by the caller's data, e.g. which of two
    /// quantities of a line broke a rule).
    pub fn then_named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.0.push(FieldStep::Name(name.into()));
        self
    }

    /// The steps from the command down to the field.
    pub fn steps(&self) -> &[FieldStep] {
        &self.0
    }
}

/// A refused command: which rule, where in the command, and a sentence for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: ViolationCode,
    pub field: Field,
    pub message: String,
}

impl Rejection {
    /// A rejection of `field` for breaking `code`'s rule.
    pub fn new(code: ViolationCode, field: impl Into<Field>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The rejection of `field` for a domain [`Violation`].
    pub fn of(violation: Violation, field: impl Into<Field>) -> Self {
        Self::new(violation.code, field, violation.message)
    }
}

impl Field {
    /// The field a client input path names, relative to the mutation's `input` argument:
    /// `"input.lines.0.productId"` is `lines[0].product_id`. Only the API layer speaks in input
    /// paths; this is how it reports an input it refused before building a command.
    pub fn from_input_path(path: &str) -> Self {
        let steps = path
            .split('.')
            .filter(|s| !s.is_empty())
            .skip_while(|s| *s == "input")
            .map(|step| match step.parse::<usize>() {
                Ok(index) => FieldStep::Index(index),
                Err(_) => FieldStep::Name(Cow::Owned(snake_case(step))),
            })
            .collect();
        Self(steps)
    }
}

/// `purchaseOrderId` → `purchase_order_id`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// How a service call can fail.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The command breaks business rules (all of them are listed); the transaction was rolled
    /// back.
    #[error("rejected: {0:?}")]
    Rejected(Vec<Rejection>),
    /// The database could not be reached or dropped the connection (see [`DbFault`]); the
    /// client may retry.
    #[error("database unavailable: {0}")]
    Unavailable(DbFault),
    /// The database failed in a way that is not a connectivity fault (a constraint the
    /// services did not foresee, a type mismatch, a bug). Kept whole so its chain reaches the
    /// log; clients only ever see `INTERNAL` and a request id.
    #[error("database error")]
    Database(#[source] sea_orm::DbErr),
    /// A broken invariant: something the code relies on did not hold.
    #[error("internal: {0}")]
    Internal(String),
}

impl ServiceError {
    /// A rejection with one violation on `field`.
    pub fn user(code: ViolationCode, field: impl Into<Field>, message: impl Into<String>) -> Self {
        ServiceError::Rejected(vec![Rejection::new(code, field, message)])
    }

    /// The error and its causes, outermost first, for the log.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        out
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(err: sea_orm::DbErr) -> Self {
        match DbFault::classify(&err, false) {
            Some(fault) => ServiceError::Unavailable(fault),
            None => ServiceError::Database(err),
        }
    }
}

impl ServiceError {
    /// A failure of COMMIT itself. A lost connection there leaves the outcome unknown (the
    /// server may have committed before the connection dropped), so it is never retried here:
    /// the client retries, with an idempotency key if it must not count twice.
    pub fn at_commit(err: sea_orm::DbErr) -> Self {
        match DbFault::classify(&err, true) {
            Some(fault) => ServiceError::Unavailable(fault),
            None => ServiceError::Database(err),
        }
    }
}

/// What kind of connectivity fault a database error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The connection broke or the server refused or ended it (reset, closed, admin shutdown,
    /// `pg_terminate_backend`, SQLSTATE class 08, 57P01–57P03). A fresh connection may work.
    ConnectionLost,
    /// No connection could be had in time: the pool's acquire timeout, too many connections
    /// on the server, or SQLite's busy/locked after its busy timeout. Waiting is what helps.
    Busy,
}

/// A database error that says the database is (momentarily) out of reach, not that the request
/// or the code is wrong. It answers `SERVICE_UNAVAILABLE` (HTTP 503 with `Retry-After`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbFault {
    /// What went wrong.
    pub kind: FaultKind,
    /// True when it happened while committing: the transaction may or may not have committed.
    pub at_commit: bool,
    /// The driver's message, for the log only.
    pub detail: String,
}

impl std::fmt::Display for DbFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = if self.at_commit { " during COMMIT" } else { "" };
        write!(f, "{:?}{when}: {}", self.kind, self.detail)
    }
}

impl DbFault {
    /// The connectivity fault `err` is, or `None` for any other database error (a constraint,
    /// a type mismatch, a bug), which stays `INTERNAL`.
    pub fn classify(err: &sea_orm::DbErr, at_commit: bool) -> Option<Self> {
        use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};
        let kind = match err {
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => FaultKind::Busy,
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed) => FaultKind::ConnectionLost,
            // sea-orm reports `Conn` only when opening, acquiring or pinging a connection: the
            // server refused us (not accepting connections, too many, authentication), so the
            // database is out of reach whatever the code says.
            DbErr::Conn(RuntimeErr::SqlxError(e)) => {
                sqlx_fault(e).unwrap_or(FaultKind::ConnectionLost)
            }
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                sqlx_fault(e)?
            }
            _ => return None,
        };
        Some(DbFault {
            kind,
            at_commit,
            detail: err.to_string(),
        })
    }

    /// True when running the whole use case again on a fresh connection is safe and may
    /// help: the connection was lost before COMMIT was sent, so nothing was written.
    pub fn retry_safe(&self) -> bool {
        self.kind == FaultKind::ConnectionLost && !self.at_commit
    }
}

fn sqlx_fault(err: &sea_orm::sqlx::Error) -> Option<FaultKind> {
    use sea_orm::sqlx::Error;
    match err {
        // Socket errors (refused, reset, broken pipe, EOF), TLS, and a protocol stream cut off
        // mid-message all mean the connection is gone.
        Error::Io(_) | Error::Tls(_) | Error::Protocol(_) | Error::WorkerCrashed => {
            Some(FaultKind::ConnectionLost)
        }
        Error::PoolClosed => Some(FaultKind::ConnectionLost),
        Error::PoolTimedOut => Some(FaultKind::Busy),
        Error::Database(db) => {
            let code = db.code()?;
            if db
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                sqlite_fault(code.parse().ok()?)
            } else {
                sqlstate_fault(&code)
            }
        }
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs that mean the connection, not the statement, failed.
pub fn sqlstate_fault(sqlstate: &str) -> Option<FaultKind> {
    match sqlstate {
        // admin_shutdown (pg_terminate_backend, fast shutdown), crash_shutdown,
        // cannot_connect_now (starting up or shutting down).
        "57P01" | "57P02" | "57P03" => Some(FaultKind::ConnectionLost),
        // too_many_connections
        "53300" => Some(FaultKind::Busy),
        // Class 08: connection exceptions.
        code if code.starts_with("08") => Some(FaultKind::ConnectionLost),
        _ => None,
    }
}

/// SQLite result codes (extended codes carry the primary one in the low byte) that mean
/// another connection held the database longer than the busy timeout.
pub fn sqlite_fault(code: i32) -> Option<FaultKind> {
    const SQLITE_BUSY: i32 = 5;
    const SQLITE_LOCKED: i32 = 6;
    match code & 0xff {
        SQLITE_BUSY | SQLITE_LOCKED => Some(FaultKind::Busy),
        _ => None,
    }
}

/// Errors that reach the client as GraphQL errors with `extensions.code`.
///
/// Deliberately not `Display`: async-graphql converts any `Display` type into an error without
/// extensions, and a `?` would then silently drop the code. [`From`] below keeps it.
#[derive(Debug)]
pub enum ApiError {
    /// No or an invalid token.
    Unauthenticated,
    /// The token lacks a permission.
    Forbidden(&'static str),
    /// A request argument is not acceptable (malformed ID, cursor, page size over the limit).
    BadRequest(String),
    /// The request is over one of the limits that protect the service (body size, batch size,
    /// time); the message names it.
    LimitExceeded(String),
    /// The database is out of reach for the moment; the request changed nothing it reports
    /// as done and may be retried (HTTP 503 with `Retry-After`).
    ServiceUnavailable { request_id: String },
    /// Stored amounts too large to compute (possible only for rows written before the limits
    /// on input existed).
    ValueTooLarge(String),
    /// Anything unexpected; the details are in the log under the request id.
    Internal { request_id: String },
}

/// The `extensions.code` of [`ApiError::ServiceUnavailable`].
pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";

/// Seconds a client is asked to wait (`Retry-After`) before retrying a `SERVICE_UNAVAILABLE`
/// answer: about what a PostgreSQL restart or fail-over takes.
pub const RETRY_AFTER_SECS: u64 = 2;

/// The `Retry-After` header value of a 503.
pub fn retry_after() -> axum::http::HeaderValue {
    axum::http::HeaderValue::from(RETRY_AFTER_SECS)
}

/// True when any error of a response is `SERVICE_UNAVAILABLE`, so the HTTP answer is a 503.
pub fn any_unavailable<'a>(
    errors: impl IntoIterator<Item = &'a async_graphql::ServerError>,
) -> bool {
    errors.into_iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|code| *code == async_graphql::Value::from(SERVICE_UNAVAILABLE))
    })
}

impl ApiError {
    /// Logs an unexpected failure and returns the opaque error the client sees, which quotes
    /// the running request's id (its span carries the same one).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let request_id = crate::request_id::RequestId::current_or_new().to_string();
        tracing::error!(%request_id, error = %detail, "internal error");
        ApiError::Internal { request_id }
    }

    /// Logs a database fault and returns the retryable error the client sees, which quotes
    /// the running request's id.
    pub fn unavailable(fault: &DbFault) -> Self {
        let request_id = crate::request_id::RequestId::current_or_new().to_string();
        tracing::warn!(%request_id, error = %fault, "database unavailable");
        ApiError::ServiceUnavailable { request_id }
    }

    /// The sentence the client sees.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => {
                "authentication required: send a valid bearer token".to_owned()
            }
            ApiError::Forbidden(permission) => format!("missing permission `{permission}`"),
            ApiError::BadRequest(message)
            | ApiError::LimitExceeded(message)
            | ApiError::ValueTooLarge(message) => message.clone(),
            ApiError::ServiceUnavailable { request_id } => format!(
                "the database is unavailable; retry in a few seconds (request id {request_id})"
            ),
            ApiError::Internal { request_id } => {
                format!("internal error (request id {request_id})")
            }
        }
    }

    /// The `extensions.code` the client sees.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::LimitExceeded(_) => "LIMIT_EXCEEDED",
            ApiError::ServiceUnavailable { .. } => SERVICE_UNAVAILABLE,
            ApiError::ValueTooLarge(_) => "VALUE_TOO_LARGE",
            ApiError::Internal { .. } => "INTERNAL",
        }
    }
}

/// A short random id that ties a client-visible error to its log line.
pub fn new_request_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        async_graphql::Error::new(err.message()).extend_with(|_, e| {
            e.set("code", err.code());
            if let ApiError::Internal { request_id } | ApiError::ServiceUnavailable { request_id } =
                &err
            {
                e.set("requestId", request_id.as_str());
            }
        })
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        match DbFault::classify(&err, false) {
            Some(fault) => ApiError::unavailable(&fault),
            None => ApiError::internal(err),
        }
    }
}

/// A service failure outside a mutation payload (a read through a service): a refusal is a bad
/// request, a fault is `SERVICE_UNAVAILABLE`, anything else `INTERNAL`.
impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Rejected(errors) => ApiError::BadRequest(
                errors
                    .into_iter()
                    .map(|e| e.message)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ServiceError::Unavailable(fault) => ApiError::unavailable(&fault),
            err @ (ServiceError::Database(_) | ServiceError::Internal(_)) => {
                ApiError::internal(err.chain())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use sea_orm::sqlx;
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::*;

    /// A server error with a SQLSTATE, as the PostgreSQL driver reports it.
    #[derive(Debug)]
    struct ServerError(&'static str);

    impl std::fmt::Display for ServerError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "server error {}", self.0)
        }
    }

    impl std::error::Error for ServerError {}

    impl sqlx::error::DatabaseError for ServerError {
        fn message(&self) -> &str {
            "server error"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn query(err: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
    }

    fn sqlstate(code: &'static str) -> DbErr {
        query(sqlx::Error::Database(Box::new(ServerError(code))))
    }

    fn kind(err: &DbErr) -> Option<FaultKind> {
        DbFault::classify(err, false).map(|f| f.kind)
    }

    #[test]
    fn lost_connections_are_classified_as_connection_faults() {
        use std::io::{Error, ErrorKind};
        let lost = [
            query(sqlx::Error::Io(Error::from(ErrorKind::ConnectionReset))),
            query(sqlx::Error::Io(Error::from(ErrorKind::ConnectionRefused))),
            query(sqlx::Error::Io(Error::from(ErrorKind::UnexpectedEof))),
            DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(
                Error::from(ErrorKind::BrokenPipe),
            )))),
            DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Protocol(
                "unexpected end of stream".into(),
            )))),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            query(sqlx::Error::PoolClosed),
            // pg_terminate_backend, a fast shutdown, a crash, a server still starting.
            sqlstate("57P01"),
            sqlstate("57P02"),
            sqlstate("57P03"),
            sqlstate("08006"),
            sqlstate("08003"),
            // A connection refused while opening it (database not accepting connections).
            DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Database(
                Box::new(ServerError("55000")),
            )))),
        ];
        for err in &lost {
            assert_eq!(kind(err), Some(FaultKind::ConnectionLost), "{err}");
        }
    }

    #[test]
    fn an_exhausted_pool_or_server_is_classified_as_busy() {
        for err in [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            query(sqlx::Error::PoolTimedOut),
            sqlstate("53300"),
        ] {
            assert_eq!(kind(&err), Some(FaultKind::Busy), "{err}");
        }
    }

    #[test]
    fn statement_errors_are_not_connection_faults() {
        for err in [
            sqlstate("23505"), // unique violation
            sqlstate("42P01"), // undefined table
            sqlstate("55000"), // a statement on an object in the wrong state
            sqlstate("57014"), // query cancelled (statement timeout): not a lost connection
            query(sqlx::Error::RowNotFound),
            query(sqlx::Error::ColumnNotFound("x".into())),
            DbErr::Custom("broken invariant".into()),
            DbErr::RecordNotFound("po".into()),
            DbErr::Conn(RuntimeErr::Internal("disconnected".into())),
        ] {
            assert_eq!(kind(&err), None, "{err}");
            assert!(matches!(ServiceError::from(err), ServiceError::Database(_)));
        }
    }

    #[test]
    fn sqlite_busy_and_locked_codes_are_busy_including_extended_codes() {
        assert_eq!(sqlite_fault(5), Some(FaultKind::Busy));
        assert_eq!(sqlite_fault(6), Some(FaultKind::Busy));
        assert_eq!(sqlite_fault(517), Some(FaultKind::Busy)); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(sqlite_fault(262), Some(FaultKind::Busy)); // SQLITE_LOCKED_SHAREDCACHE
        assert_eq!(sqlite_fault(2067), None); // SQLITE_CONSTRAINT_UNIQUE
        assert_eq!(sqlite_fault(1), None);
    }

    #[tokio::test]
    async fn a_real_sqlite_busy_error_is_unavailable() {
        use sqlx::sqlite::SqliteConnectOptions;
        use sqlx::{ConnectOptions, Executor};
        let path = std::env::temp_dir().join(format!("stockgraph-busy-{}.db", new_request_id()));
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = options.connect().await.unwrap();
        let mut other = options.connect().await.unwrap();
        holder.execute("BEGIN IMMEDIATE").await.unwrap();
        let busy = other.execute("BEGIN IMMEDIATE").await.unwrap_err();
        drop((holder, other));
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            std::fs::remove_file(file).ok();
        }
        let err = DbErr::Exec(RuntimeErr::SqlxError(Arc::new(busy)));
        assert_eq!(kind(&err), Some(FaultKind::Busy), "{err}");
        let api = ApiError::from(err);
        assert_eq!(api.code(), SERVICE_UNAVAILABLE);
    }

    #[test]
    fn only_a_connection_lost_before_commit_is_safe_to_retry() {
        let lost = sqlstate("57P01");
        let before = DbFault::classify(&lost, false).unwrap();
        assert!(before.retry_safe());
        let ServiceError::Unavailable(at_commit) = ServiceError::at_commit(lost) else {
            panic!("a lost connection at COMMIT is still unavailable");
        };
        assert!(at_commit.at_commit);
        assert!(!at_commit.retry_safe(), "the commit may have happened");
        let busy = DbFault::classify(&DbErr::ConnectionAcquire(ConnAcquireErr::Timeout), false);
        assert!(
            !busy.unwrap().retry_safe(),
            "a busy pool is waited for, not hammered"
        );
    }

    #[test]
    fn a_database_fault_reaches_the_client_as_service_unavailable_with_a_request_id() {
        let err: async_graphql::Error = ApiError::from(sqlstate("57P01")).into();
        let extensions = err.extensions.unwrap();
        assert_eq!(
            extensions.get("code"),
            Some(&async_graphql::Value::from(SERVICE_UNAVAILABLE))
        );
        assert!(extensions.get("requestId").is_some());
        assert!(!err.message.contains("57P01"), "no driver detail leaks");
        let other: async_graphql::Error = ApiError::from(sqlstate("42P01")).into();
        assert_eq!(
            other.extensions.unwrap().get("code"),
            Some(&async_graphql::Value::from("INTERNAL"))
        );
    }
}
