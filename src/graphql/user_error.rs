//! The `userErrors` of mutation payloads: the API's view of a refused command. Codes mirror the
//! domain's [`ViolationCode`](crate::domain::violation::ViolationCode) one to one; the command
//! field a refusal names becomes the path of the input field the client sent.

use async_graphql::SimpleObject;

use crate::error::{FieldStep, Rejection};

/// Why a mutation was refused. Clients branch on these codes, so they never change meaning.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::violation::ViolationCode")]
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
    /// The user error of a refused command: the command field it names becomes the path of the
    /// input field the client sent (`lines[0].product_id` is `["input", "lines", "0",
    /// "productId"]`); every mutation takes its command in one `input` argument.
    pub fn from_rejection(rejection: Rejection) -> Self {
        let mut path = vec!["input".to_owned()];
        path.extend(rejection.field.steps().iter().map(|step| match step {
            FieldStep::Name(name) => camel_case(name),
            FieldStep::Index(index) => index.to_string(),
        }));
        Self {
            field: Some(path),
            message: rejection.message,
            code: rejection.code.into(),
        }
    }
}

/// `purchase_order_id` → `purchaseOrderId`.
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::violation::ViolationCode;
    use crate::error::Field;

    fn path(field: Field) -> Vec<String> {
        UserError::from_rejection(Rejection::new(ViolationCode::InvalidInput, field, "no"))
            .field
            .unwrap_or_default()
    }

    #[test]
    fn a_command_field_becomes_the_input_path_the_client_sent() {
        assert_eq!(path(Field::whole()), ["input"]);
        assert_eq!(
            path(Field::of("purchase_order_id")),
            ["input", "purchaseOrderId"]
        );
        assert_eq!(
            path(Field::of("lines").at(3).then("serial_numbers")),
            ["input", "lines", "3", "serialNumbers"]
        );
    }

    #[test]
    fn an_input_path_read_back_names_the_same_field() {
        for input in [
            "input.overReceiptAllowancePercent",
            "input.lines.0.productId",
            "input",
        ] {
            let expected: Vec<&str> = input.split('.').collect();
            assert_eq!(path(Field::from_input_path(input)), expected);
        }
    }
}
