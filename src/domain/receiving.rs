//! Receiving rules (DOMAIN.md, Receiving): what each line of a delivery accepts and rejects,
//! the over-receipt allowance, serial numbers, and [`plan`], which checks a whole delivery
//! against the order at once and says what the receipt will write or every rule it breaks.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::prelude::RoundingStrategy;
use rust_decimal::Decimal;

use crate::domain::validate;
use crate::domain::values::{Money, Quantity};
use crate::domain::violation::Violation;
use crate::domain::violation::ViolationCode;

/// The most lines one receipt holds: checking thousands would only lengthen the answer.
pub const MAX_RECEIPT_LINES: usize = 500;
/// The longest rejection reason, in characters.
const MAX_REASON_CHARS: usize = 500;
/// The longest packing-slip number, in characters.
const MAX_PACKING_SLIP_CHARS: usize = 100;
/// How far ahead of the server's clock a receipt may be dated (a client's clock runs ahead).
const CLOCK_SKEW_MINUTES: i64 = 5;

/// The most a line ordering `ordered` may have received in all, with an allowance of `percent`
/// (exact; rounded down to four places so the allowance is never exceeded). An allowance too
/// large to compute limits nothing.
pub fn allowance_limit(ordered: Decimal, percent: Decimal) -> Decimal {
    percent
        .checked_div(Decimal::ONE_HUNDRED)
        .and_then(|share| Decimal::ONE.checked_add(share))
        .and_then(|factor| ordered.checked_mul(factor))
        .map_or(Decimal::MAX, |limit| {
            limit.round_dp_with_strategy(4, RoundingStrategy::ToZero)
        })
}

/// The over-receipt allowance (percent) of a product: its own `override_percent`, or the
/// server's `default_percent` when it has none.
pub fn over_receipt_percent(
    override_percent: Option<Decimal>,
    default_percent: Decimal,
) -> Decimal {
    override_percent.unwrap_or(default_percent)
}

/// The most a line ordering `ordered`, of which `received` is in, may still receive with an
/// allowance of `percent`: what [`allowance_limit`] leaves, never negative.
pub fn receivable_quantity(ordered: Decimal, received: Decimal, percent: Decimal) -> Decimal {
    allowance_limit(ordered, percent)
        .checked_sub(received)
        .map_or(Decimal::ZERO, |left| left.max(Decimal::ZERO))
}

/// A receipt that would take a line past its allowance: which line, and the figures that say
/// how far it may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverReceipt {
    pub line_number: i32,
    pub ordered: Decimal,
    pub received: Decimal,
    /// The most the line may have received in all.
    pub limit: Decimal,
}

impl From<OverReceipt> for Violation {
    fn from(over: OverReceipt) -> Self {
        Violation::new(
            ViolationCode::OverReceipt,
            format!(
                "line {} ordered {}, received {} so far; at most {} may be received in all",
                over.line_number,
                over.ordered.normalize(),
                over.received.normalize(),
                over.limit.normalize()
            ),
        )
    }
}

/// The limit of `line` when `accepted` more are received on it, or how that breaks the
/// line's allowance.
pub fn check_allowance(line: &OrderLine, accepted: Quantity) -> Result<Decimal, OverReceipt> {
    let limit = allowance_limit(line.ordered, line.allowance_percent);
    match line.received.checked_add(accepted.get()) {
        Some(total) if total <= limit => Ok(limit),
        _ => Err(OverReceipt {
            line_number: line.line_number,
            ordered: line.ordered,
            received: line.received,
            limit,
        }),
    }
}

/// The serial numbers of `accepted` units: exactly one distinct, non-blank serial per unit of a
/// serialized product (so a whole number of units), none for other products.
pub fn check_serials(
    serialized: bool,
    accepted: Decimal,
    serials: &[String],
) -> Result<Vec<String>, Violation> {
    let mismatch = |message: String| Violation::new(ViolationCode::SerialNumbersMismatch, message);
    if !serialized {
        if serials.is_empty() {
            return Ok(Vec::new());
        }
        return Err(mismatch(
            "the product is not serialized: send no serial numbers".to_owned(),
        ));
    }
    if accepted.fract() != Decimal::ZERO {
        return Err(mismatch(format!(
            "a serialized product is received in whole units, not {accepted}"
        )));
    }
    let trimmed: Vec<String> = serials.iter().map(|s| s.trim().to_owned()).collect();
    if trimmed
        .iter()
        .any(|s| s.is_empty() || s.chars().count() > 100)
    {
        return Err(mismatch(
            "serial numbers are 1 to 100 characters".to_owned(),
        ));
    }
    if Decimal::from(trimmed.len()) != accepted {
        return Err(mismatch(format!(
            "{accepted} units need {accepted} serial numbers, got {}",
            trimmed.len()
        )));
    }
    // "S1" and " s1" name the same unit.
    let mut distinct: Vec<String> = trimmed.iter().map(|s| normalize_serial(s)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != trimmed.len() {
        return Err(mismatch("serial numbers repeat".to_owned()));
    }
    Ok(trimmed)
}

/// A serial number as the registry compares it: without surrounding spaces or case.
pub fn normalize_serial(serial: &str) -> String {
    serial.trim().to_uppercase()
}

/// Units of serialized products that the serial registry has in stock, by product and
/// serial as the registry compares them ([`normalize_serial`]).
#[derive(Clone, Debug, Default)]
pub struct StockedSerials(HashMap<(i32, String), StockedUnit>);

/// A unit in stock: its serial as registered and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockedUnit {
    pub serial: String,
    pub location: String,
}

impl StockedSerials {
    /// Records that `serial` of `product_id` is in stock at `location`.
    pub fn add(&mut self, product_id: i32, serial: &str, location: impl Into<String>) {
        self.0.insert(
            (product_id, normalize_serial(serial)),
            StockedUnit {
                serial: serial.to_owned(),
                location: location.into(),
            },
        );
    }

    /// The unit of `product_id` that `serial` names, when it is in stock.
    pub fn get(&self, product_id: i32, serial: &str) -> Option<&StockedUnit> {
        self.0.get(&(product_id, normalize_serial(serial)))
    }
}

/// A violation for every named unit that is in stock already, in the order named: receiving
/// brings a unit in only when it is not.
pub fn already_in_stock(
    product_id: i32,
    serials: &[String],
    stocked: &StockedSerials,
) -> Vec<Violation> {
    serials
        .iter()
        .filter_map(|serial| stocked.get(product_id, serial))
        .map(|unit| {
            Violation::new(
                ViolationCode::SerialInStock,
                format!(
                    "serial number {} of this product is already in stock at {}",
                    unit.serial, unit.location
                ),
            )
        })
        .collect()
}

/// One line of a delivery as sent.
#[derive(Clone, Debug, Default)]
pub struct ReceiveLine {
    /// The order line it delivers.
    pub line_id: i32,
    /// Accepted quantity: enters stock and the bill.
    pub quantity: Decimal,
    /// Delivered but refused; recorded with a reason.
    pub rejected_quantity: Option<Decimal>,
    pub rejection_reason: Option<String>,
    /// One per accepted unit of a serialized product.
    pub serial_numbers: Option<Vec<String>>,
}

/// A delivery as sent, dated.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    pub lines: &'a [ReceiveLine],
    pub packing_slip: Option<&'a str>,
    pub received_at: DateTime<Utc>,
    pub freight: Option<Decimal>,
}

/// A line of the order as receiving checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLine {
    pub id: i32,
    pub line_number: i32,
    pub product_id: i32,
    pub serialized: bool,
    pub ordered: Decimal,
    pub received: Decimal,
    /// The over-receipt allowance that applies, in percent ([`over_receipt_percent`]).
    pub allowance_percent: Decimal,
    pub location_code: String,
    pub location_active: bool,
}

/// The order a delivery is checked against, as read under its lock.
#[derive(Clone, Copy, Debug)]
pub struct Order<'a> {
    pub lines: &'a [OrderLine],
    pub submitted_at: Option<DateTime<Utc>>,
    /// The named units of the order's products that are in stock already.
    pub stocked: &'a StockedSerials,
    /// The time of the check.
    pub now: DateTime<Utc>,
}

/// Where in a delivery a rule is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The list of lines as a whole.
    Lines,
    /// A part of the line at this index of the delivery.
    Line(usize, LinePart),
    PackingSlip,
    ReceivedAt,
    Freight,
}

/// A part of a delivery's line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinePart {
    LineId,
    Quantity,
    RejectedQuantity,
    RejectionReason,
    SerialNumbers,
}

/// A rule a delivery breaks, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub place: Place,
    pub violation: Violation,
}

/// Refusals gathered in the order checked: the delivery's lines in order, then its header.
#[derive(Debug, Default)]
struct Refusals(Vec<Refusal>);

impl Refusals {
    fn add(&mut self, place: Place, violation: impl Into<Violation>) {
        self.0.push(Refusal {
            place,
            violation: violation.into(),
        });
    }

    /// The value when `result` passed; otherwise its violation is recorded at `place`.
    fn check<T, E: Into<Violation>>(&mut self, result: Result<T, E>, place: Place) -> Option<T> {
        result.map_err(|e| self.add(place, e)).ok()
    }
}

/// What one line of a receipt writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedLine {
    /// Its index in the delivery.
    pub index: usize,
    /// The order line it receives on.
    pub line_id: i32,
    pub accepted: Quantity,
    pub rejected: Quantity,
    pub reason: Option<String>,
    /// The accepted units' serials, trimmed (none for a product that is not serialized).
    pub serials: Vec<String>,
    /// The most the order line may have received in all, which the write re-checks.
    pub limit: Decimal,
}

/// What a receipt writes: its lines in the delivery's order and its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptPlan {
    pub lines: Vec<PlannedLine>,
    pub packing_slip: Option<String>,
    pub received_at: DateTime<Utc>,
    pub freight: Money,
}

impl ReceiptPlan {
    /// Only accepted quantity is billed, and a receipt that accepts nothing issues no bill
    /// (not a 0.00 one).
    pub fn accepts_anything(&self) -> bool {
        self.lines.iter().any(|l| l.accepted != Quantity::ZERO)
    }
}

/// A delivery of more lines than [`MAX_RECEIPT_LINES`] is refused before anything is read.
pub fn check_line_count(count: usize) -> Result<(), Refusal> {
    if count > MAX_RECEIPT_LINES {
        return Err(Refusal {
            place: Place::Lines,
            violation: Violation::from(format!(
                "a receipt holds at most {MAX_RECEIPT_LINES} lines"
            )),
        });
    }
    Ok(())
}

/// Checks a delivery against the order: every line names one of the order's lines once,
/// receives something, says why it rejects what it rejects, lands at an active location,
/// names its units' serials (none of them in stock already) and stays within the line's
/// allowance; the header's packing slip, date and freight are valid. The receipt to write,
/// or every rule broken, in the delivery's order.
pub fn plan(delivery: &Delivery<'_>, order: &Order<'_>) -> Result<ReceiptPlan, Vec<Refusal>> {
    let mut refusals = Refusals::default();
    if delivery.lines.is_empty() {
        refusals.add(
            Place::Lines,
            Violation::from("a receipt needs at least one line".to_owned()),
        );
    }
    let mut seen = HashSet::new();
    let lines: Vec<Option<PlannedLine>> = delivery
        .lines
        .iter()
        .enumerate()
        .map(|(i, entry)| plan_line(i, entry, order, &mut seen, &mut refusals))
        .collect();
    let (packing_slip, freight) = check_header(delivery, order, &mut refusals);
    match (lines.into_iter().collect(), packing_slip, freight) {
        (Some(lines), Some(packing_slip), Some(freight)) if refusals.0.is_empty() => {
            Ok(ReceiptPlan {
                lines,
                packing_slip,
                received_at: delivery.received_at,
                freight,
            })
        }
        _ => Err(refusals.0),
    }
}

/// The order line `entry` names, when it is one of the order's and not named before.
fn named_line<'a>(
    entry: &ReceiveLine,
    order: &Order<'a>,
    seen: &mut HashSet<i32>,
) -> Result<&'a OrderLine, Violation> {
    let line = order
        .lines
        .iter()
        .find(|l| l.id == entry.line_id)
        .ok_or_else(|| {
            Violation::new(
                ViolationCode::NotFound,
                "no such line of this purchase order",
            )
        })?;
    if !seen.insert(line.id) {
        return Err(Violation::from(
            "a line may appear only once in a receipt".to_owned(),
        ));
    }
    Ok(line)
}

/// A delivered quantity: zero or more, a valid quantity.
fn delivered(value: Decimal, what: &str) -> Result<Quantity, Violation> {
    let value = validate::non_negative(value, what)?;
    Quantity::parse(value, what)
}

/// The line at index `i` of the delivery, checked; its refusals go to `refusals`. Checks of
/// what depends on an earlier one that failed (the order line, the accepted quantity) wait
/// for it.
fn plan_line(
    i: usize,
    entry: &ReceiveLine,
    order: &Order<'_>,
    seen: &mut HashSet<i32>,
    refusals: &mut Refusals,
) -> Option<PlannedLine> {
    let at = |part| Place::Line(i, part);
    let line = refusals.check(named_line(entry, order, seen), at(LinePart::LineId));
    let (accepted, rejected, reason) = check_quantities(entry, i, refusals);
    let line = line?;
    if !line.location_active {
        refusals.add(
            at(LinePart::LineId),
            Violation::new(
                ViolationCode::LocationInactive,
                format!(
                    "location {} is inactive: nothing can be received there",
                    line.location_code
                ),
            ),
        );
    }
    // The accepted quantity decides the serials expected and the allowance left.
    let accepted = accepted?;
    let serials = refusals.check(
        check_serials(
            line.serialized,
            accepted.get(),
            entry.serial_numbers.as_deref().unwrap_or_default(),
        ),
        at(LinePart::SerialNumbers),
    );
    if let Some(serials) = &serials {
        for violation in already_in_stock(line.product_id, serials, order.stocked) {
            refusals.add(at(LinePart::SerialNumbers), violation);
        }
    }
    let limit = refusals.check(check_allowance(line, accepted), at(LinePart::Quantity));
    Some(PlannedLine {
        index: i,
        line_id: line.id,
        accepted,
        rejected: rejected?,
        reason: reason?,
        serials: serials?,
        limit: limit?,
    })
}

/// The accepted and rejected quantities of the line at index `i` and the reason for the
/// rejected one, each `None` when refused.
#[allow(clippy::type_complexity)]
fn check_quantities(
    entry: &ReceiveLine,
    i: usize,
    refusals: &mut Refusals,
) -> (Option<Quantity>, Option<Quantity>, Option<Option<String>>) {
    let at = |part| Place::Line(i, part);
    let accepted = refusals.check(
        delivered(entry.quantity, "quantity"),
        at(LinePart::Quantity),
    );
    let rejected = refusals.check(
        delivered(
            entry.rejected_quantity.unwrap_or_default(),
            "rejected quantity",
        ),
        at(LinePart::RejectedQuantity),
    );
    if accepted == Some(Quantity::ZERO) && rejected == Some(Quantity::ZERO) {
        refusals.add(
            at(LinePart::Quantity),
            Violation::from("receive a quantity greater than zero".to_owned()),
        );
    }
    let reason = refusals.check(
        validate::optional_text(
            entry.rejection_reason.as_deref(),
            "rejection reason",
            MAX_REASON_CHARS,
        ),
        at(LinePart::RejectionReason),
    );
    if rejected.is_some_and(|r| r != Quantity::ZERO) && reason.as_ref().is_some_and(Option::is_none)
    {
        refusals.add(
            at(LinePart::RejectionReason),
            Violation::from("say why the quantity was rejected".to_owned()),
        );
    }
    (accepted, rejected, reason)
}

/// The packing slip and freight, each `None` when refused; the date is checked against the
/// order and the clock.
fn check_header(
    delivery: &Delivery<'_>,
    order: &Order<'_>,
    refusals: &mut Refusals,
) -> (Option<Option<String>>, Option<Money>) {
    let packing_slip = refusals.check(
        validate::optional_text(
            delivery.packing_slip,
            "packing slip",
            MAX_PACKING_SLIP_CHARS,
        ),
        Place::PackingSlip,
    );
    if delivery.received_at > order.now + Duration::minutes(CLOCK_SKEW_MINUTES) {
        refusals.add(
            Place::ReceivedAt,
            Violation::from("a receipt cannot be in the future".to_owned()),
        );
    } else if order
        .submitted_at
        .is_some_and(|submitted| delivery.received_at < submitted)
    {
        refusals.add(
            Place::ReceivedAt,
            Violation::from(
                "a receipt cannot be dated before the purchase order was submitted".to_owned(),
            ),
        );
    }
    let freight = refusals.check(
        Money::parse(delivery.freight.unwrap_or_default(), "freight"),
        Place::Freight,
    );
    (packing_slip, freight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// A stored quantity.
    fn f(s: &str) -> Decimal {
        d(s)
    }

    #[test]
    fn a_products_own_allowance_wins_over_the_default() {
        assert_eq!(over_receipt_percent(Some(d("5")), d("10")), d("5"));
        assert_eq!(over_receipt_percent(Some(d("0")), d("10")), d("0"));
        assert_eq!(over_receipt_percent(None, d("10")), d("10"));
    }

    #[test]
    fn the_receivable_quantity_is_what_the_allowance_leaves_and_never_negative() {
        assert_eq!(receivable_quantity(f("10"), f("4"), d("10")), f("7"));
        assert_eq!(receivable_quantity(f("10"), f("11"), d("10")), f("0"));
        assert_eq!(receivable_quantity(f("10"), f("12"), d("10")), f("0"));
        assert_eq!(
            receivable_quantity(f("3"), f("0"), d("33.33333")),
            f("3.9999")
        );
    }

    #[test]
    fn the_allowance_is_exact_and_never_rounded_up() {
        assert_eq!(allowance_limit(f("10"), d("0")), f("10"));
        assert_eq!(allowance_limit(f("10"), d("10")), f("11"));
        assert_eq!(allowance_limit(f("3"), d("33.33333")), f("3.9999"));
        assert_eq!(allowance_limit(f("0.5"), d("5")), f("0.525"));
    }

    #[test]
    fn serialized_products_need_one_distinct_serial_per_unit() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_serials(true, d("2"), &s(&["A", " B "])).unwrap(),
            s(&["A", "B"])
        );
        assert!(check_serials(true, d("2"), &s(&["A"])).is_err());
        assert!(check_serials(true, d("2"), &s(&["A", "A"])).is_err());
        assert!(check_serials(true, d("1.5"), &s(&["A"])).is_err());
        assert!(check_serials(true, d("1"), &s(&[" "])).is_err());
        assert!(check_serials(false, d("2"), &s(&["A", "B"])).is_err());
        assert!(check_serials(false, d("2"), &[]).unwrap().is_empty());
        assert!(check_serials(true, d("0"), &[]).unwrap().is_empty());
    }

    #[test]
    fn serials_differing_only_in_case_or_spaces_are_the_same_unit() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(normalize_serial(" s1 "), normalize_serial("S1"));
        assert_ne!(normalize_serial("S1"), normalize_serial("S 1"));
        assert!(check_serials(true, d("2"), &s(&["S1", " s1"])).is_err());
    }

    #[test]
    fn an_allowance_too_large_to_compute_limits_nothing() {
        assert_eq!(allowance_limit(d("1000000000"), Decimal::MAX), Decimal::MAX);
        assert_eq!(
            receivable_quantity(d("1000000000"), d("5"), Decimal::MAX),
            Decimal::MAX - d("5")
        );
    }

    fn q(s: &str) -> Quantity {
        Quantity::parse(d(s), "q").unwrap()
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Line 1 (id 11): 10 bolts at an active location, 4 received, 10% allowance; line 2
    /// (id 12): 2 serialized pumps at an inactive one.
    fn order_lines() -> Vec<OrderLine> {
        vec![
            OrderLine {
                id: 11,
                line_number: 1,
                product_id: 1,
                serialized: false,
                ordered: d("10"),
                received: d("4"),
                allowance_percent: d("10"),
                location_code: "MAIN".into(),
                location_active: true,
            },
            OrderLine {
                id: 12,
                line_number: 2,
                product_id: 2,
                serialized: true,
                ordered: d("2"),
                received: d("0"),
                allowance_percent: d("0"),
                location_code: "OLD".into(),
                location_active: false,
            },
        ]
    }

    fn receive(line_id: i32, quantity: &str) -> ReceiveLine {
        ReceiveLine {
            line_id,
            quantity: d(quantity),
            ..Default::default()
        }
    }

    fn plan_of<'a>(
        lines: &'a [ReceiveLine],
        stocked: &StockedSerials,
        tweak: impl FnOnce(&mut Delivery<'a>),
    ) -> Result<ReceiptPlan, Vec<Refusal>> {
        let order_lines = order_lines();
        let order = Order {
            lines: &order_lines,
            submitted_at: Some(at() - Duration::days(1)),
            stocked,
            now: at(),
        };
        let mut delivery = Delivery {
            lines,
            packing_slip: None,
            received_at: at(),
            freight: None,
        };
        tweak(&mut delivery);
        plan(&delivery, &order)
    }

    fn places(refusals: &[Refusal]) -> Vec<(Place, ViolationCode)> {
        refusals
            .iter()
            .map(|r| (r.place, r.violation.code))
            .collect()
    }

    #[test]
    fn a_plan_accepts_rejects_and_carries_each_lines_limit() {
        let mut line = receive(11, "2.5");
        line.rejected_quantity = Some(d("1"));
        line.rejection_reason = Some(" dented ".into());
        let plan = plan_of(&[line], &StockedSerials::default(), |d| {
            d.packing_slip = Some(" PS-7 ");
            d.freight = Some(self::d("12.50"));
        })
        .unwrap();
        assert_eq!(
            plan.lines,
            [PlannedLine {
                index: 0,
                line_id: 11,
                accepted: q("2.5"),
                rejected: q("1"),
                reason: Some("dented".into()),
                serials: Vec::new(),
                limit: d("11"),
            }]
        );
        assert_eq!(plan.packing_slip.as_deref(), Some("PS-7"));
        assert_eq!(plan.freight.get(), d("12.5"));
        assert_eq!(plan.received_at, at());
        assert!(plan.accepts_anything());
    }

    #[test]
    fn a_delivery_that_only_rejects_plans_no_bill() {
        let mut line = receive(11, "0");
        line.rejected_quantity = Some(d("3"));
        line.rejection_reason = Some("wet".into());
        let plan = plan_of(&[line], &StockedSerials::default(), |_| {}).unwrap();
        assert!(!plan.accepts_anything());
    }

    #[test]
    fn an_over_receipt_names_the_line_index_and_the_limit() {
        // 4 received + 7.0001 passes the limit of 11.
        let refusals = plan_of(
            &[receive(11, "7"), receive(11, "1")],
            &StockedSerials::default(),
            |_| {},
        )
        .unwrap_err();
        assert_eq!(
            places(&refusals),
            [(
                Place::Line(1, LinePart::LineId),
                ViolationCode::InvalidInput
            )],
            "7 more fit; the second naming of the line is refused"
        );
        let refusals =
            plan_of(&[receive(11, "7.0001")], &StockedSerials::default(), |_| {}).unwrap_err();
        assert_eq!(
            places(&refusals),
            [(
                Place::Line(0, LinePart::Quantity),
                ViolationCode::OverReceipt
            )]
        );
        assert_eq!(
            refusals[0].violation.message,
            "line 1 ordered 10, received 4 so far; at most 11 may be received in all"
        );
        let line = &order_lines()[0];
        assert_eq!(
            check_allowance(line, q("7.0001")).unwrap_err(),
            OverReceipt {
                line_number: 1,
                ordered: d("10"),
                received: d("4"),
                limit: d("11"),
            }
        );
        assert_eq!(check_allowance(line, q("7")).unwrap(), d("11"));
    }

    #[test]
    fn every_broken_rule_of_every_line_and_the_header_is_reported_in_order() {
        let mut bad = receive(11, "-1");
        bad.rejected_quantity = Some(d("2"));
        let pumps = ReceiveLine {
            serial_numbers: Some(vec!["S-1".into()]),
            ..receive(12, "2")
        };
        let long_slip = "p".repeat(101);
        let refusals = plan_of(
            &[bad, receive(99, "1"), pumps, receive(11, "1")],
            &StockedSerials::default(),
            |d| {
                d.packing_slip = Some(&long_slip);
                d.received_at = at() + Duration::days(1);
                d.freight = Some(self::d("1.001"));
            },
        );
        assert_eq!(
            places(&refusals.unwrap_err()),
            [
                (
                    Place::Line(0, LinePart::Quantity),
                    ViolationCode::InvalidInput
                ),
                (
                    Place::Line(0, LinePart::RejectionReason),
                    ViolationCode::InvalidInput
                ),
                (Place::Line(1, LinePart::LineId), ViolationCode::NotFound),
                (
                    Place::Line(2, LinePart::LineId),
                    ViolationCode::LocationInactive
                ),
                (
                    Place::Line(2, LinePart::SerialNumbers),
                    ViolationCode::SerialNumbersMismatch
                ),
                (
                    Place::Line(3, LinePart::LineId),
                    ViolationCode::InvalidInput
                ),
                (Place::PackingSlip, ViolationCode::InvalidInput),
                (Place::ReceivedAt, ViolationCode::InvalidInput),
                (Place::Freight, ViolationCode::InvalidInput),
            ]
        );
    }

    #[test]
    fn a_delivery_receives_something_on_each_line_and_has_lines() {
        let refusals = plan_of(&[receive(11, "0")], &StockedSerials::default(), |_| {});
        assert_eq!(
            places(&refusals.unwrap_err()),
            [(
                Place::Line(0, LinePart::Quantity),
                ViolationCode::InvalidInput
            )]
        );
        let refusals = plan_of(&[], &StockedSerials::default(), |_| {});
        assert_eq!(
            places(&refusals.unwrap_err()),
            [(Place::Lines, ViolationCode::InvalidInput)]
        );
        assert!(check_line_count(MAX_RECEIPT_LINES).is_ok());
        assert_eq!(
            check_line_count(MAX_RECEIPT_LINES + 1).unwrap_err().place,
            Place::Lines
        );
    }

    #[test]
    fn a_receipt_is_dated_between_the_orders_submission_and_now() {
        let early = plan_of(&[receive(11, "1")], &StockedSerials::default(), |d| {
            d.received_at = at() - Duration::days(2);
        });
        assert_eq!(
            places(&early.unwrap_err()),
            [(Place::ReceivedAt, ViolationCode::InvalidInput)]
        );
        let skewed = plan_of(&[receive(11, "1")], &StockedSerials::default(), |d| {
            d.received_at = at() + Duration::minutes(CLOCK_SKEW_MINUTES);
        });
        assert!(skewed.is_ok(), "a client clock a little ahead is tolerated");
    }

    #[test]
    fn a_unit_in_stock_already_is_refused_for_each_serial_named() {
        let mut lines = order_lines();
        lines[1].location_active = true;
        let mut stocked = StockedSerials::default();
        stocked.add(2, "SN-B", "MAIN");
        stocked.add(1, "SN-A", "MAIN");
        let pumps = ReceiveLine {
            serial_numbers: Some(vec!["sn-a".into(), " sn-b ".into()]),
            ..receive(12, "2")
        };
        let order = Order {
            lines: &lines,
            submitted_at: None,
            stocked: &stocked,
            now: at(),
        };
        let delivery = Delivery {
            lines: &[pumps],
            packing_slip: None,
            received_at: at(),
            freight: None,
        };
        let refusals = plan(&delivery, &order).unwrap_err();
        assert_eq!(
            places(&refusals),
            [(
                Place::Line(0, LinePart::SerialNumbers),
                ViolationCode::SerialInStock
            )],
            "SN-A is in stock as another product's unit: only SN-B is refused"
        );
        assert_eq!(
            refusals[0].violation.message,
            "serial number SN-B of this product is already in stock at MAIN"
        );
    }
}
