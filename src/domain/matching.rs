//! A bill next to its receipt and its order (DOMAIN.md, Bills): which bill of a receipt is
//! current, and the 3-way match that tells whether a bill agrees with what was received and
//! ordered.

use rust_decimal::Decimal;

/// A bill, or a credit that reverses one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    Bill,
    Credit,
}

impl DocumentKind {
    /// The quantity a document of this kind should bill for `accepted` units received: a
    /// credit reverses its receipt, so it bills the accepted quantity negated.
    pub fn expected_quantity(self, accepted: Decimal) -> Decimal {
        match self {
            DocumentKind::Bill => accepted,
            DocumentKind::Credit => -accepted,
        }
    }
}

/// Whether a bill still stands or was replaced by a re-priced one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Open,
    Superseded,
}

/// What [`current_bill`] needs to know of a document a receipt produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Issued {
    pub id: i32,
    pub kind: DocumentKind,
    pub standing: Standing,
}

/// A receipt's current bill: of the bills (not credits) it produced, the open one; when every
/// one was superseded (its receipt cancelled after a re-pricing), the latest.
pub fn current_bill<B>(
    bills: impl IntoIterator<Item = B>,
    issued: impl Fn(&B) -> Issued,
) -> Option<B> {
    bills
        .into_iter()
        .filter(|b| issued(b).kind == DocumentKind::Bill)
        .max_by_key(|b| {
            let b = issued(b);
            (b.standing == Standing::Open, b.id)
        })
}

/// One line of a bill: which order line and receipt line it bills, and at what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BilledLine {
    pub order_line_id: i32,
    pub receipt_line_id: i32,
    pub quantity: Decimal,
    pub unit_cost: Decimal,
}

/// What one line of the receipt accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptedLine {
    pub receipt_line_id: i32,
    pub quantity: Decimal,
}

/// Which figure of a bill line disagrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchField {
    /// Billed quantity ≠ accepted quantity (negated on a credit).
    Quantity,
    /// Billed unit cost ≠ the order line's unit cost now.
    UnitCost,
}

/// A figure of a bill line that differs from the receipt or the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The order line concerned.
    pub line_id: i32,
    pub field: MatchField,
    pub billed: Decimal,
    pub expected: Decimal,
}

/// A bill line names an order line that does not exist (the database forbids it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingOrderLine(pub i32);

/// The 3-way match of a bill of `kind`: each billed quantity against what its receipt line
/// accepted (a receipt line not found accepted nothing), each billed unit cost against its
/// order line's unit cost now (`ordered_unit_cost`). No differences means MATCHED.
pub fn three_way_match(
    kind: DocumentKind,
    billed: &[BilledLine],
    accepted: &[AcceptedLine],
    ordered_unit_cost: impl Fn(i32) -> Option<Decimal>,
) -> Result<Vec<Difference>, MissingOrderLine> {
    let mut found = Vec::new();
    for line in billed {
        let received = accepted
            .iter()
            .find(|a| a.receipt_line_id == line.receipt_line_id)
            .map_or(Decimal::ZERO, |a| a.quantity);
        let ordered =
            ordered_unit_cost(line.order_line_id).ok_or(MissingOrderLine(line.order_line_id))?;
        let checks = [
            (
                MatchField::Quantity,
                line.quantity,
                kind.expected_quantity(received),
            ),
            (MatchField::UnitCost, line.unit_cost, ordered),
        ];
        found.extend(
            checks
                .into_iter()
                .filter(|(_, billed, expected)| billed != expected)
                .map(|(field, billed, expected)| Difference {
                    line_id: line.order_line_id,
                    field,
                    billed,
                    expected,
                }),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn billed(quantity: &str, unit_cost: &str) -> BilledLine {
        BilledLine {
            order_line_id: 7,
            receipt_line_id: 70,
            quantity: d(quantity),
            unit_cost: d(unit_cost),
        }
    }

    fn accepted(quantity: &str) -> [AcceptedLine; 1] {
        [AcceptedLine {
            receipt_line_id: 70,
            quantity: d(quantity),
        }]
    }

    fn costs(unit_cost: &str) -> impl Fn(i32) -> Option<Decimal> {
        let unit_cost = d(unit_cost);
        move |line| (line == 7).then_some(unit_cost)
    }

    #[test]
    fn a_bill_matches_when_quantities_and_costs_agree() {
        let found = three_way_match(
            DocumentKind::Bill,
            &[billed("2", "1.5")],
            &accepted("2"),
            costs("1.50"),
        );
        assert_eq!(found, Ok(vec![]));
    }

    #[test]
    fn a_repriced_order_line_is_a_unit_cost_difference() {
        let found = three_way_match(
            DocumentKind::Bill,
            &[billed("2", "1.5")],
            &accepted("2"),
            costs("1.75"),
        )
        .unwrap();
        assert_eq!(
            found,
            [Difference {
                line_id: 7,
                field: MatchField::UnitCost,
                billed: d("1.5"),
                expected: d("1.75"),
            }]
        );
    }

    #[test]
    fn a_credit_matches_the_accepted_quantity_negated() {
        let credit = [billed("-2", "1.5")];
        let matched = three_way_match(DocumentKind::Credit, &credit, &accepted("2"), costs("1.5"));
        assert_eq!(matched, Ok(vec![]));
        // The same negative quantity on a bill is a difference against +2.
        let found =
            three_way_match(DocumentKind::Bill, &credit, &accepted("2"), costs("1.5")).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, MatchField::Quantity);
        assert_eq!((found[0].billed, found[0].expected), (d("-2"), d("2")));
        assert_eq!(DocumentKind::Credit.expected_quantity(d("3.5")), d("-3.5"));
    }

    #[test]
    fn a_receipt_line_not_found_accepted_nothing() {
        let found =
            three_way_match(DocumentKind::Bill, &[billed("2", "1.5")], &[], costs("1.5")).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].field, found[0].expected),
            (MatchField::Quantity, d("0"))
        );
    }

    #[test]
    fn both_figures_of_a_line_can_differ_and_quantity_comes_first() {
        let found = three_way_match(
            DocumentKind::Bill,
            &[billed("3", "1.5")],
            &accepted("2"),
            costs("2"),
        )
        .unwrap();
        let fields: Vec<_> = found.iter().map(|f| f.field).collect();
        assert_eq!(fields, [MatchField::Quantity, MatchField::UnitCost]);
    }

    #[test]
    fn a_bill_line_without_its_order_line_is_an_error() {
        let found = three_way_match(DocumentKind::Bill, &[billed("2", "1")], &[], |_| None);
        assert_eq!(found, Err(MissingOrderLine(7)));
    }

    #[test]
    fn a_receipts_current_bill_is_its_open_bill_else_its_latest() {
        let issued = |id, kind, standing| Issued { id, kind, standing };
        use DocumentKind::{Bill, Credit};
        use Standing::{Open, Superseded};
        let bills = [
            issued(1, Bill, Superseded),
            issued(2, Bill, Open),
            issued(3, Credit, Open),
            issued(4, Bill, Superseded),
        ];
        assert_eq!(current_bill(bills, |b| *b).map(|b| b.id), Some(2));
        let all_superseded = [issued(1, Bill, Superseded), issued(4, Bill, Superseded)];
        assert_eq!(current_bill(all_superseded, |b| *b).map(|b| b.id), Some(4));
        assert_eq!(current_bill([issued(3, Credit, Open)], |b| *b), None);
    }
}
