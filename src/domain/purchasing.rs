//! The purchase-order status machine and the line rules (DOMAIN.md, Purchase order lifecycle
//! and Lines). Pure functions of the current state; the services apply them under locks.

use entity::enums::PurchaseOrderStatus as Status;
use entity::Fixed4;
use rust_decimal::Decimal;

use crate::domain::violation::{Violation, ViolationCode};

/// What a client asks to do with a purchase order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    EditHeader,
    AddLine,
    UpdateLine,
    RemoveLine,
    Submit,
    Cancel,
    Finalize,
    MarkExported,
    Receive,
    CancelReceipt,
}

impl Action {
    fn describe(self) -> &'static str {
        match self {
            Action::EditHeader => "edit the header of",
            Action::AddLine => "add lines to",
            Action::UpdateLine => "update lines of",
            Action::RemoveLine => "remove lines from",
            Action::Submit => "submit",
            Action::Cancel => "cancel",
            Action::Finalize => "finalize",
            Action::MarkExported => "mark exported",
            Action::Receive => "receive against",
            Action::CancelReceipt => "cancel a receipt of",
        }
    }
}

/// The name of a status as clients see it.
pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Pending => "PENDING",
        Status::Submitted => "SUBMITTED",
        Status::PartiallyReceived => "PARTIALLY_RECEIVED",
        Status::Received => "RECEIVED",
        Status::Closed => "CLOSED",
        Status::Canceled => "CANCELED",
    }
}

/// Whether `action` is allowed on a purchase order in `status`, `exported` or not, and
/// `anything_received` or not.
pub fn check(
    action: Action,
    status: Status,
    exported: bool,
    anything_received: bool,
) -> Result<(), Violation> {
    use Action::*;
    use Status::*;
    let edits = matches!(action, EditHeader | AddLine | UpdateLine | RemoveLine);
    if edits && exported {
        return Err(Violation::new(
            ViolationCode::PoNotEditable,
            "the purchase order was exported to accounting; its header and lines are locked",
        ));
    }
    let allowed = match action {
        EditHeader => !matches!(status, Closed | Canceled),
        AddLine | RemoveLine => status == Pending,
        UpdateLine => matches!(status, Pending | Submitted | PartiallyReceived),
        Submit => status == Pending,
        Cancel => matches!(status, Pending | Submitted) && !anything_received,
        Finalize => matches!(status, Submitted | PartiallyReceived | Received),
        MarkExported => !exported && status != Canceled,
        Receive => matches!(status, Submitted | PartiallyReceived),
        CancelReceipt => matches!(status, PartiallyReceived | Received),
    };
    if allowed {
        return Ok(());
    }
    let code = if edits {
        ViolationCode::PoNotEditable
    } else {
        ViolationCode::InvalidTransition
    };
    let reason = if action == MarkExported && exported {
        "it is already exported".to_owned()
    } else if action == Cancel && anything_received {
        "something was already received".to_owned()
    } else {
        format!("it is {}", status_name(status))
    };
    Err(Violation::new(
        code,
        format!("cannot {} this purchase order: {reason}", action.describe()),
    ))
}

/// True while open quantities count as on order at their product and location.
pub fn counts_on_order(status: Status) -> bool {
    matches!(
        status,
        Status::Submitted | Status::PartiallyReceived | Status::Received
    )
}

/// The quantity of a line still expected: ordered − received, never negative.
pub fn open_quantity(ordered: Fixed4, received: Fixed4) -> Fixed4 {
    Fixed4((ordered.0 - received.0).max(0))
}

/// The status derived from the lines once a PO is past PENDING: all lines fully received →
/// RECEIVED, some quantity received → PARTIALLY_RECEIVED, none → SUBMITTED.
pub fn derive_receiving_status(lines: &[(Decimal, Decimal)]) -> Status {
    let all_received =
        !lines.is_empty() && lines.iter().all(|(ordered, received)| received >= ordered);
    let any_received = lines.iter().any(|(_, received)| *received > Decimal::ZERO);
    if all_received {
        Status::Received
    } else if any_received {
        Status::PartiallyReceived
    } else {
        Status::Submitted
    }
}

/// A new quantity for a line: positive, never below what was received, and not raised once the
/// purchase order is fully received.
pub fn check_line_quantity(
    status: Status,
    current: Decimal,
    new: Decimal,
    received: Decimal,
) -> Result<(), Violation> {
    if new <= Decimal::ZERO {
        return Err(Violation::new(
            ViolationCode::InvalidInput,
            "quantity must be greater than zero",
        ));
    }
    if new < received {
        return Err(Violation::new(
            ViolationCode::LineQuantityBelowReceived,
            format!("quantity {new} is below the {received} already received"),
        ));
    }
    if new > current && status == Status::Received {
        return Err(Violation::new(
            ViolationCode::LineQuantityLocked,
            "the purchase order is fully received; its quantities can no longer be raised",
        ));
    }
    Ok(())
}

/// The number of the `n`-th backorder of the purchase order numbered `root_number`.
pub fn backorder_number(root_number: &str, n: i32) -> String {
    format!("{root_number}-BO{n}")
}

/// The number the service assigns when the client gives none.
pub fn generated_number(year: i32, sequence: i64) -> String {
    format!("PO-{year}-{sequence:04}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn d(n: i64) -> Decimal {
        Decimal::from(n)
    }

    #[test]
    fn lines_can_be_added_and_removed_only_while_pending() {
        assert!(check(Action::AddLine, Pending, false, false).is_ok());
        assert!(check(Action::RemoveLine, Pending, false, false).is_ok());
        for status in [Submitted, PartiallyReceived, Received, Closed, Canceled] {
            assert_eq!(
                check(Action::AddLine, status, false, false)
                    .unwrap_err()
                    .code,
                ViolationCode::PoNotEditable
            );
            assert_eq!(
                check(Action::RemoveLine, status, false, false)
                    .unwrap_err()
                    .code,
                ViolationCode::PoNotEditable
            );
        }
    }

    #[test]
    fn lines_can_be_updated_while_pending_submitted_or_partially_received() {
        for status in [Pending, Submitted, PartiallyReceived] {
            assert!(check(Action::UpdateLine, status, false, false).is_ok());
        }
        for status in [Received, Closed, Canceled] {
            assert!(check(Action::UpdateLine, status, false, false).is_err());
        }
    }

    #[test]
    fn an_exported_purchase_order_locks_header_and_lines_but_not_receiving() {
        for action in [
            Action::EditHeader,
            Action::AddLine,
            Action::UpdateLine,
            Action::RemoveLine,
        ] {
            assert_eq!(
                check(action, Pending, true, false).unwrap_err().code,
                ViolationCode::PoNotEditable
            );
        }
        assert!(check(Action::Receive, Submitted, true, false).is_ok());
        assert!(check(Action::Finalize, PartiallyReceived, true, true).is_ok());
    }

    #[test]
    fn only_pending_orders_can_be_submitted() {
        assert!(check(Action::Submit, Pending, false, false).is_ok());
        for status in [Submitted, PartiallyReceived, Received, Closed, Canceled] {
            assert_eq!(
                check(Action::Submit, status, false, false)
                    .unwrap_err()
                    .code,
                ViolationCode::InvalidTransition
            );
        }
    }

    #[test]
    fn cancel_is_allowed_from_pending_or_submitted_with_nothing_received() {
        assert!(check(Action::Cancel, Pending, false, false).is_ok());
        assert!(check(Action::Cancel, Submitted, false, false).is_ok());
        assert!(check(Action::Cancel, Submitted, false, true).is_err());
        for status in [PartiallyReceived, Received, Closed, Canceled] {
            assert!(check(Action::Cancel, status, false, false).is_err());
        }
    }

    #[test]
    fn finalizing_a_closed_or_canceled_order_is_an_error() {
        for status in [Submitted, PartiallyReceived, Received] {
            assert!(check(Action::Finalize, status, false, false).is_ok());
        }
        for status in [Pending, Closed, Canceled] {
            assert_eq!(
                check(Action::Finalize, status, false, false)
                    .unwrap_err()
                    .code,
                ViolationCode::InvalidTransition
            );
        }
    }

    #[test]
    fn header_edits_are_refused_once_closed_or_canceled() {
        for status in [Pending, Submitted, PartiallyReceived, Received] {
            assert!(check(Action::EditHeader, status, false, false).is_ok());
        }
        for status in [Closed, Canceled] {
            assert!(check(Action::EditHeader, status, false, false).is_err());
        }
    }

    #[test]
    fn status_is_derived_from_received_quantities() {
        assert_eq!(
            derive_receiving_status(&[(d(5), d(0)), (d(2), d(0))]),
            Submitted
        );
        assert_eq!(
            derive_receiving_status(&[(d(5), d(1)), (d(2), d(0))]),
            PartiallyReceived
        );
        assert_eq!(
            derive_receiving_status(&[(d(5), d(5)), (d(2), d(2))]),
            Received
        );
        assert_eq!(derive_receiving_status(&[(d(5), d(6))]), Received);
    }

    #[test]
    fn a_line_quantity_never_drops_below_received_and_is_not_raised_once_received() {
        assert!(check_line_quantity(PartiallyReceived, d(10), d(12), d(4)).is_ok());
        assert!(check_line_quantity(PartiallyReceived, d(10), d(4), d(4)).is_ok());
        assert_eq!(
            check_line_quantity(PartiallyReceived, d(10), d(3), d(4))
                .unwrap_err()
                .code,
            ViolationCode::LineQuantityBelowReceived
        );
        assert_eq!(
            check_line_quantity(Received, d(10), d(11), d(10))
                .unwrap_err()
                .code,
            ViolationCode::LineQuantityLocked
        );
        assert_eq!(
            check_line_quantity(Pending, d(10), d(0), d(0))
                .unwrap_err()
                .code,
            ViolationCode::InvalidInput
        );
    }

    #[test]
    fn numbers_follow_the_documented_patterns() {
        assert_eq!(generated_number(2026, 7), "PO-2026-0007");
        assert_eq!(generated_number(2026, 12345), "PO-2026-12345");
        assert_eq!(backorder_number("PO-2026-0007", 2), "PO-2026-0007-BO2");
    }

    #[test]
    fn open_quantity_is_never_negative() {
        assert_eq!(
            open_quantity(Fixed4(50_000), Fixed4(20_000)),
            Fixed4(30_000)
        );
        assert_eq!(open_quantity(Fixed4(50_000), Fixed4(70_000)), Fixed4::ZERO);
    }
}
