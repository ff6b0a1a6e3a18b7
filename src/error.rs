//! Errors: typed user errors for business-rule violations, GraphQL errors with a code for
//! everything else.

use async_graphql::{ErrorExtensions, SimpleObject};

/// Why a mutation was refused. Clients branch on these codes, so they never change meaning.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserErrorCode {
    /// The input is malformed or out of range (a negative quantity, a blank name, too many
    /// decimal places).
    InvalidInput,
    /// A referenced record does not exist.
    NotFound,
    /// An ID is malformed or names another type.
    InvalidId,
    /// Another vendor, location, product, job, project or technician already has this key.
    DuplicateCode,
    /// Another purchase order already has this number.
    DuplicatePoNumber,
    /// The vendor is inactive.
    VendorInactive,
    /// The inventory location is inactive.
    LocationInactive,
    /// The product is inactive.
    ProductInactive,
    /// The business unit or purchase-order type is inactive.
    ReferenceInactive,
    /// The purchase order cannot be edited in its status or because it was exported.
    PoNotEditable,
    /// The transition is not allowed from the purchase order's current status.
    InvalidTransition,
    /// The line's quantity would fall below what was already received.
    LineQuantityBelowReceived,
    /// The line's quantity cannot be raised once the purchase order is fully received.
    LineQuantityLocked,
    /// Product or location cannot change on a line that has receipts.
    LineHasReceipts,
    /// The last line of a purchase order cannot be removed.
    LastLine,
    /// The purchase order was changed by someone else since the version you read.
    StaleVersion,
    /// The job material is not NEED_TO_ORDER, already on a purchase order, or does not match.
    JobMaterialUnavailable,
    /// More would be received than ordered (plus the allowance).
    OverReceipt,
    /// Not enough stock is available.
    InsufficientAvailable,
    /// Serial numbers do not match the quantity received or repeat.
    SerialNumbersMismatch,
    /// The receipt was already cancelled.
    ReceiptAlreadyCanceled,
    /// The same idempotency key was used with different input.
    IdempotencyConflict,
}

/// A business-rule violation returned in a mutation payload; nothing was written.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct UserError {
    /// Path to the input field at fault, e.g. `["input", "lines", "0", "quantity"]`.
    pub field: Option<Vec<String>>,
    /// A sentence for a person.
    pub message: String,
    /// A stable code for programs.
    pub code: UserErrorCode,
}

impl UserError {
    /// A user error on the given input field path (`"input.lines.0.quantity"`).
    pub fn new(code: UserErrorCode, field: &str, message: impl Into<String>) -> Self {
        let field = (!field.is_empty()).then(|| field.split('.').map(str::to_owned).collect());
        Self {
            field,
            message: message.into(),
            code,
        }
    }
}

/// How a service call can fail.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input breaks a business rule; the transaction was rolled back.
    #[error("rejected: {0:?}")]
    Rejected(Vec<UserError>),
    /// The database could not be reached or dropped the connection (see [`DbFault`]); the
    /// client may retry.
    #[error("database unavailable: {0}")]
    Unavailable(DbFault),
    /// Something unexpected: a database failure or a broken invariant.
    #[error("internal: {0}")]
    Internal(String),
}

impl ServiceError {
    /// A rejection with one user error.
    pub fn user(code: UserErrorCode, field: &str, message: impl Into<String>) -> Self {
        ServiceError::Rejected(vec![UserError::new(code, field, message)])
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(err: sea_orm::DbErr) -> Self {
        match DbFault::classify(&err, false) {
            Some(fault) => ServiceError::Unavailable(fault),
            None => ServiceError::Internal(err.to_string()),
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
            None => ServiceError::Internal(err.to_string()),
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
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_fault(e)?,
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
    /// Logs an unexpected failure and returns the opaque error the client sees.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let request_id = new_request_id();
        tracing::error!(%request_id, error = %detail, "internal error");
        ApiError::Internal { request_id }
    }

    /// Logs a database fault and returns the retryable error the client sees.
    pub fn unavailable(fault: &DbFault) -> Self {
        let request_id = new_request_id();
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
            ApiError::BadRequest(message) | ApiError::LimitExceeded(message) => message.clone(),
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
            ServiceError::Internal(detail) => ApiError::internal(detail),
        }
    }
}
