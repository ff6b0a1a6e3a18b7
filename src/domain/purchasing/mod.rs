//! Purchase orders (DOMAIN.md, Purchase order lifecycle, Lines): the status machine, what each
//! action needs of the order, the records an order refers to, and numbering. Pure functions of
//! the current state; the services apply them under locks. The line rules are in [`lines`], the
//! header's in [`header`].

mod header;
mod lines;

pub use header::{
    chosen_number, exchange_rate, exchange_rate_editable, MAX_MEMO_CHARS, MAX_NUMBER_CHARS,
};
pub use lines::{
    check_line_quantity, line_count, line_removable, open_quantity, ordered_quantity,
    plan_line_edit, room_for_a_line, Change, LineEdit, LineFacts, MaterialNeed, MAX_LINES,
};

use rust_decimal::Decimal;

use crate::domain::violation::{Violation, ViolationCode};

/// Where a purchase order is in its life (DOMAIN.md, Purchase order lifecycle).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoStatus {
    /// Being prepared: lines may be added and removed.
    Pending,
    /// Sent to the vendor: open quantities count as on order.
    Submitted,
    /// Some quantity received.
    PartiallyReceived,
    /// Every line fully received.
    Received,
    /// Finalized: nothing more is expected.
    Closed,
    /// Cancelled before anything was received.
    Canceled,
}

impl PoStatus {
    /// Every status, in the order of the lifecycle.
    pub const ALL: [PoStatus; 6] = [
        PoStatus::Pending,
        PoStatus::Submitted,
        PoStatus::PartiallyReceived,
        PoStatus::Received,
        PoStatus::Closed,
        PoStatus::Canceled,
    ];

    /// The status's name as clients, events and the database write it. The one place these
    /// names are spelled.
    pub fn name(self) -> &'static str {
        match self {
            PoStatus::Pending => "PENDING",
            PoStatus::Submitted => "SUBMITTED",
            PoStatus::PartiallyReceived => "PARTIALLY_RECEIVED",
            PoStatus::Received => "RECEIVED",
            PoStatus::Closed => "CLOSED",
            PoStatus::Canceled => "CANCELED",
        }
    }

    /// The status [`PoStatus::name`] calls `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.name() == name)
    }

    /// True while open quantities count as on order at their product and location.
    pub fn counts_on_order(self) -> bool {
        matches!(
            self,
            PoStatus::Submitted | PoStatus::PartiallyReceived | PoStatus::Received
        )
    }
}

impl std::fmt::Display for PoStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The status derived from the lines (ordered, received) once a PO is past PENDING: all lines
/// fully received → RECEIVED, some quantity received → PARTIALLY_RECEIVED, none → SUBMITTED.
pub fn derive_receiving_status(lines: &[(Decimal, Decimal)]) -> PoStatus {
    let all_received =
        !lines.is_empty() && lines.iter().all(|(ordered, received)| received >= ordered);
    let any_received = lines.iter().any(|(_, received)| *received > Decimal::ZERO);
    if all_received {
        PoStatus::Received
    } else if any_received {
        PoStatus::PartiallyReceived
    } else {
        PoStatus::Submitted
    }
}

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

    /// Header and line edits, which an export to accounting locks.
    fn edits(self) -> bool {
        matches!(
            self,
            Action::EditHeader | Action::AddLine | Action::UpdateLine | Action::RemoveLine
        )
    }
}

/// What the actions on a purchase order depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderState {
    pub status: PoStatus,
    /// Marked exported to accounting.
    pub exported: bool,
    /// Any line has a received quantity.
    pub anything_received: bool,
}

impl OrderState {
    /// Whether `action` is allowed on an order in this state: `PO_NOT_EDITABLE` for an edit,
    /// `INVALID_TRANSITION` for anything else.
    pub fn check(self, action: Action) -> Result<(), Violation> {
        use PoStatus::*;
        let status = self.status;
        if action.edits() && self.exported {
            return Err(Violation::new(
                ViolationCode::PoNotEditable,
                "the purchase order was exported to accounting; its header and lines are locked",
            ));
        }
        let allowed = match action {
            Action::EditHeader => !matches!(status, Closed | Canceled),
            Action::AddLine | Action::RemoveLine => status == Pending,
            Action::UpdateLine => matches!(status, Pending | Submitted | PartiallyReceived),
            Action::Submit => status == Pending,
            Action::Cancel => matches!(status, Pending | Submitted) && !self.anything_received,
            Action::Finalize => matches!(status, Submitted | PartiallyReceived | Received),
            Action::MarkExported => !self.exported && status != Canceled,
            Action::Receive => matches!(status, Submitted | PartiallyReceived),
            Action::CancelReceipt => matches!(status, PartiallyReceived | Received),
        };
        if allowed {
            return Ok(());
        }
        let code = if action.edits() {
            ViolationCode::PoNotEditable
        } else {
            ViolationCode::InvalidTransition
        };
        let reason = if action == Action::MarkExported && self.exported {
            "it is already exported".to_owned()
        } else if action == Action::Cancel && self.anything_received {
            "something was already received".to_owned()
        } else {
            format!("it is {status}")
        };
        Err(Violation::new(
            code,
            format!("cannot {} this purchase order: {reason}", action.describe()),
        ))
    }
}

/// A master-data record a purchase order or line refers to. It must be active when the
/// reference is made; keeping a reference to a record deactivated since is fine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    Vendor,
    Location,
    OrderType,
    BusinessUnit,
    Job,
    Project,
    Technician,
    Product,
}

impl Reference {
    /// The record's kind in a sentence ("no such inventory location").
    pub fn what(self) -> &'static str {
        match self {
            Reference::Vendor => "vendor",
            Reference::Location => "inventory location",
            Reference::OrderType => "purchase order type",
            Reference::BusinessUnit => "business unit",
            Reference::Job => "job",
            Reference::Project => "project",
            Reference::Technician => "technician",
            Reference::Product => "product",
        }
    }

    /// The violation of referring to an inactive record of this kind.
    pub fn inactive(self) -> Violation {
        let code = match self {
            Reference::Vendor => ViolationCode::VendorInactive,
            Reference::Location => ViolationCode::LocationInactive,
            Reference::Product => ViolationCode::ProductInactive,
            Reference::OrderType
            | Reference::BusinessUnit
            | Reference::Job
            | Reference::Project
            | Reference::Technician => ViolationCode::ReferenceInactive,
        };
        Violation::new(code, format!("the {} is inactive", self.what()))
    }
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
    use PoStatus::*;

    fn d(n: i64) -> Decimal {
        Decimal::from(n)
    }

    fn check(
        action: Action,
        status: PoStatus,
        exported: bool,
        received: bool,
    ) -> Result<(), Violation> {
        OrderState {
            status,
            exported,
            anything_received: received,
        }
        .check(action)
    }

    #[test]
    fn each_status_has_one_name_that_reads_back() {
        for status in PoStatus::ALL {
            assert_eq!(PoStatus::from_name(status.name()), Some(status));
        }
        assert_eq!(PartiallyReceived.name(), "PARTIALLY_RECEIVED");
        assert_eq!(PoStatus::from_name("pending"), None);
    }

    #[test]
    fn open_quantities_count_as_on_order_from_submit_until_closed_or_canceled() {
        let counting: Vec<_> = PoStatus::ALL
            .into_iter()
            .filter(|s| s.counts_on_order())
            .collect();
        assert_eq!(counting, [Submitted, PartiallyReceived, Received]);
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
            let refused = check(Action::Submit, status, false, false).unwrap_err();
            assert_eq!(refused.code, ViolationCode::InvalidTransition);
            assert!(
                refused.message.contains(status.name()),
                "{}",
                refused.message
            );
        }
    }

    #[test]
    fn cancel_is_allowed_from_pending_or_submitted_with_nothing_received() {
        assert!(check(Action::Cancel, Pending, false, false).is_ok());
        assert!(check(Action::Cancel, Submitted, false, false).is_ok());
        assert!(check(Action::Cancel, Submitted, false, true)
            .unwrap_err()
            .message
            .contains("already received"));
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
    fn an_order_is_exported_once_and_never_when_canceled() {
        assert!(check(Action::MarkExported, Closed, false, true).is_ok());
        assert!(check(Action::MarkExported, Submitted, true, false)
            .unwrap_err()
            .message
            .contains("already exported"));
        assert!(check(Action::MarkExported, Canceled, false, false).is_err());
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
    fn an_inactive_reference_names_its_kind_with_its_own_code() {
        assert_eq!(
            Reference::Vendor.inactive().code,
            ViolationCode::VendorInactive
        );
        assert_eq!(
            Reference::Location.inactive().message,
            "the inventory location is inactive"
        );
        assert_eq!(
            Reference::Product.inactive().code,
            ViolationCode::ProductInactive
        );
        for other in [
            Reference::OrderType,
            Reference::BusinessUnit,
            Reference::Job,
            Reference::Project,
            Reference::Technician,
        ] {
            assert_eq!(other.inactive().code, ViolationCode::ReferenceInactive);
        }
    }

    #[test]
    fn numbers_follow_the_documented_patterns() {
        assert_eq!(generated_number(2026, 7), "PO-2026-0007");
        assert_eq!(generated_number(2026, 12345), "PO-2026-12345");
        assert_eq!(backorder_number("PO-2026-0007", 2), "PO-2026-0007-BO2");
    }
}
