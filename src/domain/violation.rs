//! A broken business rule, in the domain's words: what kind of rule ([`ViolationCode`]) and a
//! sentence for a person. Use cases attach where in their command it happened; the API turns the
//! code into its `UserErrorCode` (same names, one to one) and the place into an input path.

/// Which rule a request breaks. Each maps to one `UserErrorCode` of the API, so a code never
/// changes meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViolationCode {
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
    /// A serial number of this product is already in stock (serials are compared without
    /// regard to case or surrounding spaces).
    SerialInStock,
    /// A named serial number is not in stock at that location (never received, gone, elsewhere,
    /// or for a cancelled receipt: no longer the unit that receipt brought in).
    SerialNotInStock,
    /// A product with serialized stock cannot be switched to non-serialized.
    ProductHasSerializedStock,
    /// The receipt was already cancelled.
    ReceiptAlreadyCanceled,
    /// The same idempotency key was used by this caller for another operation or input.
    IdempotencyConflict,
    /// A quantity, cost or amount is over its limit (DOMAIN.md, Money and rounding), or a
    /// document's total would be.
    ValueTooLarge,
    /// Less is reserved than the release asks for.
    InsufficientReserved,
    /// Less is picked than the unpick asks for.
    InsufficientPicked,
    /// The location holds stock or is the destination of an open order line, so it cannot be
    /// deactivated.
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
