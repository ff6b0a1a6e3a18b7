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
    /// The same idempotency key was used by this caller for another operation or input.
    IdempotencyConflict,
    /// Less is reserved than the release asks for.
    InsufficientReserved,
    /// Less is picked than the unpick asks for.
    InsufficientPicked,
    /// The location holds stock or is the destination of an open order line, so it cannot be
    /// deactivated.
    LocationInUse,
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
        ServiceError::Internal(err.to_string())
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
    /// Anything unexpected; the details are in the log under the request id.
    Internal { request_id: String },
}

impl ApiError {
    /// Logs an unexpected failure and returns the opaque error the client sees.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let request_id = new_request_id();
        tracing::error!(%request_id, error = %detail, "internal error");
        ApiError::Internal { request_id }
    }

    /// The sentence the client sees.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => {
                "authentication required: send a valid bearer token".to_owned()
            }
            ApiError::Forbidden(permission) => format!("missing permission `{permission}`"),
            ApiError::BadRequest(message) | ApiError::LimitExceeded(message) => message.clone(),
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
            if let ApiError::Internal { request_id } = &err {
                e.set("requestId", request_id.as_str());
            }
        })
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::internal(err)
    }
}
