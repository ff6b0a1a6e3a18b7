//! A broken business rule, in the domain's words: what kind of rule ([`ViolationCode`]) and a
//! sentence for a person. Use cases attach where in their command it happened; the API turns the
//! code into its `UserErrorCode` (same names, one to one) and the place into an input path.

/// Which rule a request breaks. Each maps to the `UserErrorCode` of the same name in the API
/// (`src/graphql/user_error.rs`), which documents what each means for clients; a code never
/// changes meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViolationCode {
    InvalidInput,
    NotFound,
    InvalidId,
    DuplicateCode,
    DuplicatePoNumber,
    VendorInactive,
    LocationInactive,
    ProductInactive,
    ReferenceInactive,
    PoNotEditable,
    InvalidTransition,
    LineQuantityBelowReceived,
    LineQuantityLocked,
    LineHasReceipts,
    LastLine,
    StaleVersion,
    JobMaterialUnavailable,
    OverReceipt,
    InsufficientAvailable,
    SerialNumbersMismatch,
    SerialInStock,
    SerialNotInStock,
    ProductHasSerializedStock,
    ReceiptAlreadyCanceled,
    IdempotencyConflict,
    ValueTooLarge,
    InsufficientReserved,
    InsufficientPicked,
    LocationInUse,
}

/// A rule the request breaks, with its code and a sentence for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub code: ViolationCode,
    pub message: String,
}

impl Violation {
    /// A violation with its code and sentence.
    pub fn new(code: ViolationCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<String> for Violation {
    /// A validation message without a more specific code is `InvalidInput`.
    fn from(message: String) -> Self {
        Violation::new(ViolationCode::InvalidInput, message)
    }
}
