//! A randomized model test (issue 11): long seeded random sequences of purchasing, receiving,
//! billing and stock operations run through the real API next to a small in-memory reference
//! model of DOMAIN.md. The model predicts which operations succeed and which are refused, and
//! the quantities that result; after every step the books are checked against it: order totals
//! foot, open bills sum as the carried rounding rule says, the ledger sums to on hand, on order
//! equals the open quantities, no quantity is negative, no serial is in stock twice, and
//! receipts and bills never change once issued.
//!
//! A failure names its seed; `MODEL_SEED=<seed> cargo test model` replays the same sequence
//! (the captured output lists every step). `MODEL_STEPS` overrides the number of steps: a few
//! hundred by default, thousands under `CI=true`.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::helpers::{row_id, spawn_app, TestApp};

fn steps() -> usize {
    if let Some(n) = std::env::var("MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return n;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        2000
    } else {
        300
    }
}

/// Lines per order at most, so one page of lines holds them all.
const MAX_LINES: usize = 5;

const TAX_RATES: [&str; 7] = ["0", "0.05", "0.0825", "0.5", "0.0725", "0.19", "0.333"];
const CITIES: [&str; 4] = [
    "Springfield",
    "Shelbyville",
    "Ogdenville",
    "North Haverbrook",
];

fn dec(s: &str) -> Decimal {
    s.parse()
        .unwrap_or_else(|_| panic!("not a plain decimal: {s:?}"))
}

/// Freight as printed; none is nothing.
fn charge(v: &Value) -> Decimal {
    if v.is_null() {
        Decimal::ZERO
    } else {
        dv(v)
    }
}

/// A Decimal the API printed.
fn dv(v: &Value) -> Decimal {
    dec(v
        .as_str()
        .unwrap_or_else(|| panic!("expected a decimal string, got {v}")))
}

/// Half away from zero to cents: the one rounding of a document (DOMAIN.md, Money and rounding).
fn cents(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn text(x: Decimal) -> String {
    x.normalize().to_string()
}

/// Money totals are printed with exactly two decimals.
fn two_places(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        let s = s.strip_prefix('-').unwrap_or(s);
        matches!(s.split_once('.'), Some((whole, frac))
            if !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.len() == 2 && frac.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// How a serial is compared: without regard to case or surrounding spaces.
fn serial_key(s: &str) -> String {
    s.trim().to_lowercase()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Pending,
    Submitted,
    Partial,
    Received,
    Closed,
    Canceled,
}

impl St {
    fn name(self) -> &'static str {
        match self {
            St::Pending => "PENDING",
            St::Submitted => "SUBMITTED",
            St::Partial => "PARTIALLY_RECEIVED",
            St::Received => "RECEIVED",
            St::Closed => "CLOSED",
            St::Canceled => "CANCELED",
        }
    }

    /// Open quantities count as on order (DOMAIN.md, Submit).
    fn on_order(self) -> bool {
        matches!(self, St::Submitted | St::Partial | St::Received)
    }

    fn receivable(self) -> bool {
        matches!(self, St::Submitted | St::Partial)
    }
}

#[derive(Clone, Debug)]
struct Line {
    id: String,
    product: usize,
    location: usize,
    quantity: Decimal,
    unit_cost: Decimal,
    received: Decimal,
    /// A receipt ever named it (cancelled or not): product and location are fixed from then on.
    had_receipt: bool,
}

impl Line {
    fn open(&self) -> Decimal {
        (self.quantity - self.received).max(Decimal::ZERO)
    }
}

#[derive(Clone, Debug)]
struct Order {
    id: String,
    number: String,
    /// The original order a backorder descends from (itself for an original).
    root: usize,
    backorder: bool,
    /// Backorder numbers used so far under this original.
    backorders_made: u32,
    status: St,
    tax_rate: Decimal,
    shipping: Decimal,
    lines: Vec<Line>,
}

impl Order {
    /// The status derived from the lines once past PENDING.
    fn derive(&mut self) {
        if !self.status.on_order() {
            return;
        }
        self.status = if self.lines.iter().all(|l| l.received >= l.quantity) {
            St::Received
        } else if self.lines.iter().any(|l| l.received > Decimal::ZERO) {
            St::Partial
        } else {
            St::Submitted
        };
    }
}

#[derive(Clone, Debug)]
struct ReceiptLine {
    line: usize,
    accepted: Decimal,
    serials: Vec<String>,
}

#[derive(Clone, Debug)]
struct Receipt {
    id: String,
    order: usize,
    lines: Vec<ReceiptLine>,
    canceled: bool,
}

impl Receipt {
    fn accepted(&self) -> Decimal {
        self.lines.iter().map(|l| l.accepted).sum()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Item {
    on_hand: Decimal,
    picked: Decimal,
    reserved: Decimal,
}

impl Item {
    fn available(&self) -> Decimal {
        self.on_hand - self.picked - self.reserved
    }
}

struct Product {
    id: String,
    serialized: bool,
    /// Over-receipt allowance in percent.
    allowance: Decimal,
}

/// What DOMAIN.md says a request must do.
enum Expect {
    Ok,
    Refused {
        why: String,
        /// Acceptable codes; empty when DOMAIN.md names none.
        codes: Vec<&'static str>,
    },
}

/// Collects the reasons a request must be refused.
#[derive(Default)]
struct Reasons(Vec<(String, Vec<&'static str>)>);

impl Reasons {
    fn add(&mut self, why: impl Into<String>, codes: &[&'static str]) {
        self.0.push((why.into(), codes.to_vec()));
    }

    fn expect(self) -> Expect {
        if self.0.is_empty() {
            return Expect::Ok;
        }
        let any = self.0.iter().any(|(_, c)| c.is_empty());
        let why = self
            .0
            .iter()
            .map(|(w, _)| w.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let codes = if any {
            Vec::new()
        } else {
            self.0.iter().flat_map(|(_, c)| c.iter().copied()).collect()
        };
        Expect::Refused { why, codes }
    }
}

/// Every stock item (there are at most 8).
const ITEMS: &str = "inventoryItems(first: 50) { nodes { id product { id } location { id } \
    onHand onOrder picked reserved backordered available } }";

/// Orders checked after each step besides the ones it touched.
const ROUND_PER_STEP: usize = 3;

/// Every this many steps the serials of all live receipts are checked.
const SERIALS_EVERY: usize = 100;

/// The order fields every check reads; receipt and bill lines show their own product and
/// location when the API has them (`history`).
fn order_fields(history: &str) -> String {
    format!(
        "id number status taxRate subtotal tax shipping total \
         lines(first: 5) {{ nodes {{ id quantity quantityReceived unitCost product {{ id }} location {{ id }} }} }} \
         receipts {{ id number canceledAt receivedAt packingSlip freight \
           lines {{ id quantity rejectedQuantity rejectionReason serialNumbers unitCost {history} \
             line {{ id product {{ id }} location {{ id }} }} }} }} \
         bills {{ id number kind status subtotal tax taxRate freight total billDate dueDate \
           remitTo {{ street city postalCode country }} receipt {{ id }} creditOf {{ id }} supersededBy {{ id }} \
           lines {{ id quantity unitCost amount {history} line {{ id product {{ id }} location {{ id }} }} }} }}"
    )
}

/// What the API under test offers beyond today's contract (the history and serial registry
/// of issue 11): the model uses it when it is there.
#[derive(Clone, Copy, Debug, Default)]
struct Api {
    /// `adjustInventory` names serialized units.
    adjust_serials: bool,
    /// Receipt and bill lines carry their own product and location.
    line_history: bool,
    /// `serialNumber(productId, number)` tells where a unit is.
    serial_registry: bool,
}

struct World {
    app: TestApp,
    api: Api,
    /// The order fields every check reads.
    order_fields: String,
    rng: StdRng,
    seed: u64,
    step: usize,
    vendor: String,
    locations: Vec<String>,
    po_type: String,
    business_unit: String,
    products: Vec<Product>,
    /// The vendor's payment terms and city now (a new bill takes them).
    terms: i64,
    city: String,
    orders: Vec<Order>,
    receipts: Vec<Receipt>,
    // Ordered maps: iteration order is part of the sequence a seed replays.
    items: BTreeMap<(usize, usize), Item>,
    /// Serials in stock: (product, key) → location.
    in_stock: BTreeMap<(usize, String), usize>,
    /// Serials that were in stock once and are gone (their receipt was cancelled).
    gone: Vec<(usize, String)>,
    next_serial: u32,
    numbers: HashSet<String>,
    /// Receipts and bills as first seen, minus the fields allowed to change.
    seen_receipts: HashMap<String, Value>,
    seen_bills: HashMap<String, Value>,
    /// Per operation: (succeeded, refused).
    stats: BTreeMap<&'static str, (usize, usize)>,
    /// Where the round of checks over all orders is.
    round: usize,
}

impl World {
    fn tag(&self) -> String {
        format!(
            "[MODEL_SEED={} step {}; rerun with MODEL_SEED={} cargo test model]",
            self.seed, self.step, self.seed
        )
    }

    fn item(&mut self, product: usize, location: usize) -> &mut Item {
        self.items.entry((product, location)).or_default()
    }

    fn item_now(&self, product: usize, location: usize) -> Item {
        self.items
            .get(&(product, location))
            .copied()
            .unwrap_or_default()
    }

    // ---------------------------------------------------------------- random values

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.rng.random_range(0..from.len())]
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_ratio(percent, 100)
    }

    /// A positive decimal of at most `max` whole units and up to `places` decimals.
    fn amount(&mut self, max: i64, places: u32) -> Decimal {
        let scale = self.rng.random_range(0..=places);
        let top = max * 10i64.pow(scale);
        Decimal::new(self.rng.random_range(1..=top), scale)
    }

    /// A quantity of a product: whole units for a serialized one.
    fn quantity(&mut self, product: usize) -> Decimal {
        if self.products[product].serialized {
            Decimal::from(self.rng.random_range(1..=4))
        } else {
            self.amount(40, 4)
        }
    }

    /// A positive quantity of at most `max` (whole when `whole`); `None` when none fits.
    fn up_to(&mut self, max: Decimal, whole: bool) -> Option<Decimal> {
        if whole {
            let n = max.floor().to_i64().unwrap_or(0);
            return (n >= 1).then(|| Decimal::from(self.rng.random_range(1..=n)));
        }
        let units = (max * Decimal::from(10_000)).floor().to_i64().unwrap_or(0);
        if units < 1 {
            return None;
        }
        let exact = Decimal::new(self.rng.random_range(1..=units), 4);
        let places = self.rng.random_range(0..=4);
        let rounded = exact.round_dp_with_strategy(places, RoundingStrategy::ToZero);
        Some(if rounded > Decimal::ZERO {
            rounded
        } else {
            exact
        })
    }

    /// A unit cost with up to 4 places; often tiny, where per-line rounding goes wrong.
    fn unit_cost(&mut self) -> Decimal {
        match self.rng.random_range(0..10) {
            0..=2 => Decimal::new(self.rng.random_range(1..=60), 4),
            3 => Decimal::ZERO,
            _ => self.amount(500, 4),
        }
    }

    /// Shipping or freight: whole cents.
    fn charge(&mut self) -> Decimal {
        if self.chance(30) {
            Decimal::ZERO
        } else {
            self.amount(100, 2)
        }
    }

    /// Money with a third decimal, which DOMAIN.md refuses.
    fn sub_cent(&mut self) -> Decimal {
        Decimal::new(
            self.rng.random_range(0..100_000) * 10 + self.rng.random_range(1..10),
            3,
        )
    }

    fn fresh_serial(&mut self) -> String {
        self.next_serial += 1;
        format!("SN-{:05}", self.next_serial)
    }

    /// An order to act on: mostly one whose status suits (`suits`), sometimes any.
    fn choose_order(&mut self, suits: impl Fn(&Order) -> bool) -> Option<usize> {
        if self.orders.is_empty() {
            return None;
        }
        let fitting: Vec<usize> = (0..self.orders.len())
            .filter(|&i| suits(&self.orders[i]))
            .collect();
        if !fitting.is_empty() && !self.chance(12) {
            // Recent orders more often, so long runs keep working on live ones.
            let n = fitting.len();
            let from = if n > 8 && self.chance(70) { n - 8 } else { 0 };
            return Some(fitting[self.rng.random_range(from..n)]);
        }
        Some(self.rng.random_range(0..self.orders.len()))
    }

    /// A (product, location) to move stock at: mostly one where `suits` holds, sometimes any.
    fn stocked_item(&mut self, suits: impl Fn(&Item) -> bool) -> (usize, usize) {
        let fitting: Vec<(usize, usize)> = self
            .items
            .iter()
            .filter(|(_, item)| suits(item))
            .map(|(key, _)| *key)
            .collect();
        if !fitting.is_empty() && !self.chance(15) {
            return self.pick(&fitting);
        }
        (
            self.rng.random_range(0..self.products.len()),
            self.rng.random_range(0..self.locations.len()),
        )
    }

    // ---------------------------------------------------------------- running a request

    /// Runs mutation `name` as admin; checks the outcome against `expect` (a refusal must also
    /// have changed nothing, checked on a share of them); returns the payload of a success.
    async fn run(
        &mut self,
        name: &'static str,
        input: Value,
        selection: &str,
        expect: Expect,
    ) -> Option<Value> {
        self.step += 1;
        let expectation = match &expect {
            Expect::Ok => "ok".to_owned(),
            Expect::Refused { why, codes } => format!("refused {codes:?} ({why})"),
        };
        println!("step {}: {name} {input} → expect {expectation}", self.step);
        let refused = matches!(expect, Expect::Refused { .. });
        // Snapshots grow with the run: compare a share of the refusals, fewer in long runs.
        let share = if self.step < 300 { 25 } else { 3 };
        let before = if refused && self.chance(share) {
            Some(self.app.snapshot().await)
        } else {
            None
        };
        let admin = self.app.admin.clone();
        let payload = self.app.mutate_as(&admin, name, input, selection).await;
        let errors = payload["userErrors"]
            .as_array()
            .unwrap_or_else(|| panic!("{} {name}: no userErrors in {payload}", self.tag()))
            .clone();
        let tag = self.tag();
        match expect {
            Expect::Ok => {
                self.stats.entry(name).or_default().0 += 1;
                assert!(
                    errors.is_empty(),
                    "{} {name} was refused with {} but DOMAIN.md lets it succeed",
                    tag,
                    Value::Array(errors.clone())
                );
                Some(payload)
            }
            Expect::Refused { why, codes } => {
                self.stats.entry(name).or_default().1 += 1;
                assert!(
                    !errors.is_empty(),
                    "{} {name} succeeded but DOMAIN.md refuses it: {why}",
                    tag
                );
                let code = errors[0]["code"].as_str().unwrap_or_default();
                assert!(
                    codes.is_empty() || codes.contains(&code),
                    "{} {name} was refused with {code}, expected one of {codes:?} ({why}): {}",
                    tag,
                    Value::Array(errors.clone())
                );
                if let Some(before) = before {
                    assert!(
                        before == self.app.snapshot().await,
                        "{} {name} was refused but changed the database",
                        tag
                    );
                }
                None
            }
        }
    }

    // ---------------------------------------------------------------- operations

    async fn create_order(&mut self) -> Vec<usize> {
        let count = self.rng.random_range(1..=3);
        let mut lines = Vec::new();
        let mut inputs = Vec::new();
        for _ in 0..count {
            let product = self.rng.random_range(0..self.products.len());
            let location = self.rng.random_range(0..self.locations.len());
            let quantity = self.quantity(product);
            let unit_cost = self.unit_cost();
            inputs.push(json!({
                "productId": self.products[product].id,
                "locationId": self.locations[location],
                "quantity": text(quantity),
                "unitCost": text(unit_cost),
            }));
            lines.push(Line {
                id: String::new(),
                product,
                location,
                quantity,
                unit_cost,
                received: Decimal::ZERO,
                had_receipt: false,
            });
        }
        let tax_rate = dec(self.pick(&TAX_RATES));
        let shipping = self.charge();
        let mut input = json!({
            "vendorId": self.vendor, "shipToId": self.locations[0], "typeId": self.po_type,
            "businessUnitId": self.business_unit, "taxRate": text(tax_rate),
            "shipping": shipping.to_string(), "lines": inputs,
        });
        let mut reasons = Reasons::default();
        if self.chance(6) {
            input["shipping"] = json!(self.sub_cent().to_string());
            reasons.add("shipping has more than two decimals", &["INVALID_INPUT"]);
        }
        // A client may choose the number a backorder would get next; the backorder then skips it.
        let mut number = None;
        if self.chance(8) {
            let roots: Vec<usize> = (0..self.orders.len())
                .filter(|&i| self.orders[i].root == i && self.orders[i].status != St::Canceled)
                .collect();
            if !roots.is_empty() {
                let root = self.pick(&roots);
                let n = self.next_backorder_number(root);
                let chosen = format!("{}-BO{n}", self.orders[root].number);
                input["number"] = json!(chosen);
                number = Some(chosen);
            }
        }
        let payload = self
            .run(
                "createPurchaseOrder",
                input,
                "purchaseOrder { id number status lines(first: 5) { nodes { id } } }",
                reasons.expect(),
            )
            .await;
        let Some(payload) = payload else {
            return Vec::new();
        };
        let po = &payload["purchaseOrder"];
        assert_eq!(po["status"], "PENDING", "{} a new order", self.tag());
        let printed = po["number"].as_str().unwrap().to_owned();
        if let Some(number) = number {
            assert_eq!(printed, number, "{} the chosen number", self.tag());
        }
        for (line, node) in lines
            .iter_mut()
            .zip(po["lines"]["nodes"].as_array().unwrap())
        {
            line.id = node["id"].as_str().unwrap().to_owned();
        }
        self.numbers.insert(printed.clone());
        let index = self.orders.len();
        self.orders.push(Order {
            id: po["id"].as_str().unwrap().to_owned(),
            number: printed,
            root: index,
            backorder: false,
            backorders_made: 0,
            status: St::Pending,
            tax_rate,
            shipping,
            lines,
        });
        vec![index]
    }

    /// The `n` of the next backorder of original `root`: the count goes on, skipping taken
    /// numbers.
    fn next_backorder_number(&self, root: usize) -> u32 {
        let mut n = self.orders[root].backorders_made + 1;
        while self
            .numbers
            .contains(&format!("{}-BO{n}", self.orders[root].number))
        {
            n += 1;
        }
        n
    }

    async fn add_line(&mut self) -> Vec<usize> {
        let Some(o) = self.choose_order(|o| o.status == St::Pending && o.lines.len() < MAX_LINES)
        else {
            return Vec::new();
        };
        if self.orders[o].lines.len() >= MAX_LINES {
            return Vec::new();
        }
        let product = self.rng.random_range(0..self.products.len());
        let location = self.rng.random_range(0..self.locations.len());
        let quantity = self.quantity(product);
        let unit_cost = self.unit_cost();
        let mut reasons = Reasons::default();
        if self.orders[o].status != St::Pending {
            reasons.add("lines are added only while PENDING", &["PO_NOT_EDITABLE"]);
        }
        let input = json!({
            "purchaseOrderId": self.orders[o].id, "productId": self.products[product].id,
            "locationId": self.locations[location], "quantity": text(quantity),
            "unitCost": text(unit_cost),
        });
        if let Some(payload) = self
            .run(
                "addPurchaseOrderLine",
                input,
                "line { id }",
                reasons.expect(),
            )
            .await
        {
            self.orders[o].lines.push(Line {
                id: payload["line"]["id"].as_str().unwrap().to_owned(),
                product,
                location,
                quantity,
                unit_cost,
                received: Decimal::ZERO,
                had_receipt: false,
            });
        }
        vec![o]
    }

    async fn remove_line(&mut self) -> Vec<usize> {
        let Some(o) = self.choose_order(|o| o.status == St::Pending) else {
            return Vec::new();
        };
        let l = self.rng.random_range(0..self.orders[o].lines.len());
        let mut reasons = Reasons::default();
        if self.orders[o].status != St::Pending {
            reasons.add("lines are removed only while PENDING", &["PO_NOT_EDITABLE"]);
        } else if self.orders[o].lines.len() == 1 {
            reasons.add("the last line cannot be removed", &["LAST_LINE"]);
        }
        let input = json!({ "lineId": self.orders[o].lines[l].id });
        if self
            .run(
                "removePurchaseOrderLine",
                input,
                "purchaseOrder { id }",
                reasons.expect(),
            )
            .await
            .is_some()
        {
            self.orders[o].lines.remove(l);
        }
        vec![o]
    }

    async fn update_header(&mut self) -> Vec<usize> {
        let Some(o) = self.choose_order(|o| !matches!(o.status, St::Closed | St::Canceled)) else {
            return Vec::new();
        };
        let editable = !matches!(self.orders[o].status, St::Closed | St::Canceled);
        let mut reasons = Reasons::default();
        if !editable {
            reasons.add(
                "a CLOSED or CANCELED order's header is not edited",
                &["PO_NOT_EDITABLE"],
            );
        }
        let mut input = json!({ "purchaseOrderId": self.orders[o].id });
        let (mut tax_rate, mut shipping) = (self.orders[o].tax_rate, self.orders[o].shipping);
        match self.rng.random_range(0..10) {
            0..=3 => {
                tax_rate = dec(self.pick(&TAX_RATES));
                input["taxRate"] = json!(text(tax_rate));
            }
            4..=6 => {
                shipping = self.charge();
                input["shipping"] = json!(shipping.to_string());
            }
            7 => {
                input["shipping"] = json!(self.sub_cent().to_string());
                reasons.add("shipping has more than two decimals", &["INVALID_INPUT"]);
            }
            _ if editable => {
                // Nothing differs: nothing is written and the version stays (DOMAIN.md,
                // Permissions: a mutation that changes nothing writes nothing).
                let before = self.version(o).await;
                let payload = self
                    .run(
                        "updatePurchaseOrder",
                        input,
                        "purchaseOrder { version }",
                        Expect::Ok,
                    )
                    .await
                    .unwrap();
                assert_eq!(
                    payload["purchaseOrder"]["version"].as_i64(),
                    Some(before),
                    "{} an update that changes nothing keeps the version",
                    self.tag()
                );
                return vec![o];
            }
            _ => {
                input["taxRate"] = json!(text(tax_rate));
            }
        }
        if self
            .run(
                "updatePurchaseOrder",
                input,
                "purchaseOrder { id }",
                reasons.expect(),
            )
            .await
            .is_some()
        {
            self.orders[o].tax_rate = tax_rate;
            self.orders[o].shipping = shipping;
        }
        vec![o]
    }

    async fn version(&self, o: usize) -> i64 {
        self.app
            .gql(
                "query($id: ID) { purchaseOrder(id: $id) { version } }",
                json!({ "id": self.orders[o].id }),
            )
            .await["purchaseOrder"]["version"]
            .as_i64()
            .unwrap()
    }

    async fn update_line(&mut self) -> Vec<usize> {
        let Some(o) =
            self.choose_order(|o| matches!(o.status, St::Pending | St::Submitted | St::Partial))
        else {
            return Vec::new();
        };
        let l = self.rng.random_range(0..self.orders[o].lines.len());
        let old = self.orders[o].lines[l].clone();
        let status = self.orders[o].status;
        let mut new = old.clone();
        let mut reasons = Reasons::default();
        if !matches!(status, St::Pending | St::Submitted | St::Partial) {
            // A raise on a RECEIVED order may name the quantity rule instead.
            reasons.add(
                format!("lines are not updated while {}", status.name()),
                &["PO_NOT_EDITABLE", "LINE_QUANTITY_LOCKED"],
            );
        }
        let mut input = json!({ "lineId": old.id });
        let whole = self.products[old.product].serialized;
        let kind = self.rng.random_range(0..20);
        if kind < 9 {
            new.quantity = match self.rng.random_range(0..6) {
                0 if old.received > Decimal::ZERO => old.received,
                1 if old.received > Decimal::ZERO => {
                    let below = if whole {
                        old.received - Decimal::ONE
                    } else {
                        old.received - self.up_to(old.received, false).unwrap_or(Decimal::ONE)
                    };
                    if below > Decimal::ZERO {
                        reasons.add(
                            "the quantity would fall below what was received",
                            &["LINE_QUANTITY_BELOW_RECEIVED"],
                        );
                        below
                    } else {
                        old.received
                    }
                }
                _ => self.quantity(old.product).max(old.received),
            };
            if new.quantity == old.quantity {
                new.quantity += Decimal::ONE;
            }
            input["quantity"] = json!(text(new.quantity));
        }
        if (9..16).contains(&kind) || self.chance(15) {
            new.unit_cost = self.unit_cost();
            input["unitCost"] = json!(text(new.unit_cost));
        }
        if kind >= 16 {
            // Another product of the same kind (whole quantities stay whole) or location.
            if self.chance(50) {
                let same: Vec<usize> = (0..self.products.len())
                    .filter(|&p| p != old.product && self.products[p].serialized == whole)
                    .collect();
                if !same.is_empty() {
                    new.product = self.pick(&same);
                    input["productId"] = json!(self.products[new.product].id);
                }
            } else {
                new.location = 1 - old.location;
                input["locationId"] = json!(self.locations[new.location]);
            }
            if (new.product != old.product || new.location != old.location) && old.had_receipt {
                reasons.add(
                    "product and location are fixed once a line had a receipt",
                    &["LINE_HAS_RECEIPTS"],
                );
            }
        }
        if input.as_object().unwrap().len() == 1 {
            new.unit_cost = self.unit_cost();
            input["unitCost"] = json!(text(new.unit_cost));
        }
        if self
            .run(
                "updatePurchaseOrderLine",
                input,
                "line { id }",
                reasons.expect(),
            )
            .await
            .is_some()
        {
            self.orders[o].lines[l] = new;
            self.orders[o].derive();
        }
        vec![o]
    }

    async fn submit(&mut self) -> Vec<usize> {
        let Some(o) = self.choose_order(|o| o.status == St::Pending) else {
            return Vec::new();
        };
        let mut reasons = Reasons::default();
        if self.orders[o].status != St::Pending {
            reasons.add("only a PENDING order is submitted", &["INVALID_TRANSITION"]);
        }
        let input = json!({ "purchaseOrderId": self.orders[o].id });
        if self
            .run(
                "submitPurchaseOrder",
                input,
                "purchaseOrder { id }",
                reasons.expect(),
            )
            .await
            .is_some()
        {
            self.orders[o].status = St::Submitted;
        }
        vec![o]
    }

    async fn cancel_order(&mut self) -> Vec<usize> {
        let Some(o) = self.choose_order(|o| matches!(o.status, St::Pending | St::Submitted)) else {
            return Vec::new();
        };
        let order = &self.orders[o];
        let mut reasons = Reasons::default();
        if !matches!(order.status, St::Pending | St::Submitted)
            || order.lines.iter().any(|l| l.received > Decimal::ZERO)
        {
            reasons.add(
                format!(
                    "only PENDING or SUBMITTED with nothing received is cancelled, not {}",
                    order.status.name()
                ),
                &["INVALID_TRANSITION"],
            );
        }
        let input = json!({ "purchaseOrderId": order.id });
        if self
            .run(
                "cancelPurchaseOrder",
                input,
                "purchaseOrder { id }",
                reasons.expect(),
            )
            .await
            .is_some()
        {
            self.orders[o].status = St::Canceled;
        }
        vec![o]
    }

    /// Where each serial named `key` of `product` can be reused: it is gone from stock.
    fn gone_serial(&mut self, product: usize) -> Option<String> {
        let candidates: Vec<String> = self
            .gone
            .iter()
            .filter(|(p, key)| *p == product && !self.in_stock.contains_key(&(*p, key.clone())))
            .map(|(_, key)| key.clone())
            .collect();
        (!candidates.is_empty())
            .then(|| candidates[self.rng.random_range(0..candidates.len())].clone())
    }

    async fn receive(&mut self) -> Vec<usize> {
        let Some(o) = self.choose_order(|o| o.status.receivable()) else {
            return Vec::new();
        };
        let mut reasons = Reasons::default();
        if !self.orders[o].status.receivable() {
            reasons.add(
                format!("a {} order is not received", self.orders[o].status.name()),
                &["INVALID_TRANSITION"],
            );
        }
        let n = self.orders[o].lines.len();
        let mut chosen: Vec<usize> = (0..n).filter(|_| self.chance(60)).collect();
        if chosen.is_empty() {
            chosen.push(self.rng.random_range(0..n));
        }
        // At most one deliberate fault per receipt, so the expected refusal is known.
        let fault = if self.chance(25) {
            self.rng.random_range(0..6)
        } else {
            99
        };
        let mut planned = Vec::new();
        let mut inputs = Vec::new();
        let mut used: HashSet<String> = HashSet::new();
        for (k, &l) in chosen.iter().enumerate() {
            let line = self.orders[o].lines[l].clone();
            let whole = self.products[line.product].serialized;
            let allowance = self.products[line.product].allowance;
            let limit = (line.quantity * (Decimal::ONE + allowance / Decimal::ONE_HUNDRED))
                .round_dp_with_strategy(4, RoundingStrategy::ToZero);
            let room = limit - line.received;
            let mut accepted = self.up_to(room, whole).unwrap_or(Decimal::ZERO);
            let mut rejected = Decimal::ZERO;
            if accepted.is_zero() || self.chance(15) {
                rejected = if whole {
                    Decimal::ONE
                } else {
                    self.amount(5, 4)
                };
                if self.chance(30) {
                    accepted = Decimal::ZERO;
                }
            }
            if fault == 0 && k == 0 {
                let extra = if whole {
                    Decimal::ONE
                } else {
                    self.amount(2, 4)
                };
                accepted = room.max(Decimal::ZERO) + extra;
                reasons.add(
                    format!("{accepted} would take the line beyond its limit {limit}"),
                    &["OVER_RECEIPT"],
                );
            }
            let mut serials = Vec::new();
            if whole {
                for _ in 0..accepted.to_i64().unwrap_or(0) {
                    let serial = match self.gone_serial(line.product) {
                        // A serial whose unit left stock may come back.
                        Some(key) if self.chance(10) && !used.contains(&key) => key.to_uppercase(),
                        _ => self.fresh_serial(),
                    };
                    used.insert(serial_key(&serial));
                    serials.push(serial);
                }
            }
            let mut entry = json!({ "lineId": line.id, "quantity": text(accepted) });
            if !rejected.is_zero() {
                entry["rejectedQuantity"] = json!(text(rejected));
                if fault == 5 && k == 0 {
                    reasons.add("a rejected quantity needs a reason", &["INVALID_INPUT"]);
                } else {
                    entry["rejectionReason"] = json!("damaged in transit");
                }
            }
            let product_index = line.product;
            if whole && !serials.is_empty() {
                if fault == 1 {
                    let stocked: Vec<String> = self
                        .in_stock
                        .keys()
                        .filter(|(p, _)| *p == product_index)
                        .map(|(_, key)| key.clone())
                        .collect();
                    if !stocked.is_empty() && !reasons.0.iter().any(|r| r.0.contains("in stock")) {
                        let twin = stocked[self.rng.random_range(0..stocked.len())].clone();
                        // Same serial, another spelling: case and spaces do not make it new.
                        serials[0] = format!(" {} ", twin.to_uppercase());
                        reasons.add(format!("serial {twin} is already in stock"), &[]);
                    }
                }
                if fault == 2 && !reasons.0.iter().any(|r| r.0.contains("serial")) {
                    serials.pop();
                    reasons.add("one serial per accepted unit", &["SERIAL_NUMBERS_MISMATCH"]);
                }
                entry["serialNumbers"] = json!(serials);
            }
            inputs.push(entry);
            planned.push(ReceiptLine {
                line: l,
                accepted,
                serials,
            });
        }
        let mut input = json!({
            "purchaseOrderId": self.orders[o].id, "lines": inputs, "packingSlip": format!("PS-{}", self.step + 1),
        });
        if self.chance(40) {
            input["freight"] = json!(self.charge().to_string());
        }
        if fault == 3 {
            input["freight"] = json!(self.sub_cent().to_string());
            reasons.add("freight has more than two decimals", &["INVALID_INPUT"]);
        }
        if fault == 4 {
            let back = chrono::Utc::now() - chrono::Duration::days(3);
            input["receivedAt"] = json!(back.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            reasons.add("a receipt is not dated before its order was submitted", &[]);
        }
        let Some(payload) = self
            .run(
                "receivePurchaseOrder",
                input,
                "receipt { id } bill { id }",
                reasons.expect(),
            )
            .await
        else {
            return vec![o];
        };
        let receipt = Receipt {
            id: payload["receipt"]["id"].as_str().unwrap().to_owned(),
            order: o,
            lines: planned,
            canceled: false,
        };
        assert_eq!(
            payload["bill"].is_null(),
            receipt.accepted().is_zero(),
            "{} a receipt bills exactly when it accepts something",
            self.tag()
        );
        for r in &receipt.lines {
            let line = &mut self.orders[o].lines[r.line];
            line.received += r.accepted;
            line.had_receipt = true;
            let (product, location) = (line.product, line.location);
            self.item(product, location).on_hand += r.accepted;
            for serial in &r.serials {
                self.in_stock
                    .insert((product, serial_key(serial)), location);
            }
        }
        self.orders[o].derive();
        self.receipts.push(receipt);
        vec![o]
    }

    async fn cancel_receipt(&mut self) -> Vec<usize> {
        if self.receipts.is_empty() {
            return Vec::new();
        }
        let live: Vec<usize> = (0..self.receipts.len())
            .filter(|&r| {
                !self.receipts[r].canceled
                    && matches!(
                        self.orders[self.receipts[r].order].status,
                        St::Partial | St::Received
                    )
            })
            .collect();
        let r = if !live.is_empty() && !self.chance(15) {
            self.pick(&live)
        } else {
            self.rng.random_range(0..self.receipts.len())
        };
        let receipt = self.receipts[r].clone();
        let o = receipt.order;
        // Where a serial went after its receipt DOMAIN.md does not say; such receipts stay. So do
        // receipts one of whose units left stock and came in again with a later receipt or an
        // adjustment: the unit in stock is then no longer the receipt's (the service refuses with
        // SERIAL_NOT_IN_STOCK, README "History and serial numbers").
        if !receipt.canceled {
            for rl in &receipt.lines {
                let line = &self.orders[o].lines[rl.line];
                let product = line.product;
                let received_again = |key: &str| {
                    self.receipts[r + 1..].iter().any(|later| {
                        later.lines.iter().any(|ll| {
                            self.orders[later.order].lines[ll.line].product == product
                                && ll.serials.iter().any(|s| serial_key(s) == key)
                        })
                    })
                };
                // A unit that left stock once (adjusted out, then found again) is no longer
                // the one this receipt brought in either.
                if rl.serials.iter().any(|s| {
                    let key = serial_key(s);
                    self.in_stock.get(&(product, key.clone())) != Some(&line.location)
                        || received_again(&key)
                        || self.gone.contains(&(product, key))
                }) {
                    return Vec::new();
                }
            }
        }
        let mut reasons = Reasons::default();
        if receipt.canceled {
            reasons.add(
                "the receipt was already cancelled",
                &["RECEIPT_ALREADY_CANCELED", "INVALID_TRANSITION"],
            );
        }
        if !matches!(self.orders[o].status, St::Partial | St::Received) {
            reasons.add(
                format!(
                    "a {} order's receipts are not cancelled",
                    self.orders[o].status.name()
                ),
                &["INVALID_TRANSITION", "RECEIPT_ALREADY_CANCELED"],
            );
        }
        if !receipt.canceled {
            let mut leaving: HashMap<(usize, usize), Decimal> = HashMap::new();
            for rl in &receipt.lines {
                let line = &self.orders[o].lines[rl.line];
                *leaving.entry((line.product, line.location)).or_default() += rl.accepted;
            }
            for ((p, l), q) in leaving {
                let item = self.item_now(p, l);
                if item.on_hand - q < item.picked + item.reserved {
                    reasons.add(
                        "on hand would fall below picked + reserved",
                        &["INSUFFICIENT_AVAILABLE"],
                    );
                }
            }
        }
        let input = json!({ "receiptId": receipt.id });
        if self
            .run("cancelReceipt", input, "receipt { id }", reasons.expect())
            .await
            .is_none()
        {
            return vec![o];
        }
        for rl in &receipt.lines {
            let line = &mut self.orders[o].lines[rl.line];
            line.received -= rl.accepted;
            let (product, location) = (line.product, line.location);
            self.item(product, location).on_hand -= rl.accepted;
            for serial in &rl.serials {
                let key = serial_key(serial);
                self.in_stock.remove(&(product, key.clone()));
                self.gone.push((product, key));
            }
        }
        self.receipts[r].canceled = true;
        self.orders[o].derive();
        vec![o]
    }

    async fn finalize(&mut self) -> Vec<usize> {
        let Some(o) = self.choose_order(|o| o.status.on_order()) else {
            return Vec::new();
        };
        let backorder = self.chance(50);
        let order = self.orders[o].clone();
        let mut reasons = Reasons::default();
        if !order.status.on_order() {
            reasons.add(
                format!("a {} order is not finalized", order.status.name()),
                &["INVALID_TRANSITION"],
            );
        }
        let mut input = json!({ "createBackorder": backorder });
        if self.chance(30) {
            input["number"] = json!(order.number.to_lowercase());
        } else {
            input["purchaseOrderId"] = json!(order.id);
        }
        let short: Vec<&Line> = order
            .lines
            .iter()
            .filter(|l| l.received < l.quantity)
            .collect();
        let payload = self
            .run(
                "finalizePurchaseOrder",
                input,
                "purchaseOrder { id status } backorder { id number status taxRate shipping \
                 lines(first: 5) { nodes { id quantity unitCost product { id } location { id } } } }",
                reasons.expect(),
            )
            .await;
        let Some(payload) = payload else {
            return vec![o];
        };
        self.orders[o].status = St::Closed;
        let made = &payload["backorder"];
        if !backorder || short.is_empty() {
            assert!(
                made.is_null(),
                "{} no backorder without short lines or without asking: {made}",
                self.tag()
            );
            return vec![o];
        }
        let root = order.root;
        let n = self.next_backorder_number(root);
        let number = format!("{}-BO{n}", self.orders[root].number);
        assert_eq!(
            made["number"].as_str(),
            Some(number.as_str()),
            "{} the backorder continues the original's count, skipping taken numbers",
            self.tag()
        );
        assert_eq!(made["status"], "SUBMITTED", "{} a backorder", self.tag());
        let nodes = made["lines"]["nodes"].as_array().unwrap();
        assert_eq!(
            nodes.len(),
            short.len(),
            "{} one line per short line",
            self.tag()
        );
        let lines: Vec<Line> = short
            .iter()
            .zip(nodes)
            .map(|(l, node)| Line {
                id: node["id"].as_str().unwrap().to_owned(),
                product: l.product,
                location: l.location,
                quantity: l.quantity - l.received,
                unit_cost: l.unit_cost,
                received: Decimal::ZERO,
                had_receipt: false,
            })
            .collect();
        self.orders[root].backorders_made = n;
        self.numbers.insert(number.clone());
        let index = self.orders.len();
        self.orders.push(Order {
            id: made["id"].as_str().unwrap().to_owned(),
            number,
            root,
            backorder: true,
            backorders_made: 0,
            status: St::Submitted,
            // DOMAIN.md does not say what a backorder is taxed and charged: take what it shows.
            tax_rate: dv(&made["taxRate"]),
            shipping: dv(&made["shipping"]),
            lines,
        });
        vec![o, index]
    }

    async fn transfer(&mut self) {
        let (p, from) = self.stocked_item(|i| i.available() > Decimal::ZERO);
        let to = 1 - from;
        let available = self.item_now(p, from).available();
        let serialized = self.products[p].serialized;
        let mut reasons = Reasons::default();
        let mut input = json!({
            "productId": self.products[p].id, "fromLocationId": self.locations[from],
            "toLocationId": self.locations[to],
        });
        let mut serials = Vec::new();
        let quantity = if serialized {
            let here: Vec<String> = self
                .in_stock
                .iter()
                .filter(|((product, _), at)| *product == p && **at == from)
                .map(|((_, key), _)| key.clone())
                .collect();
            let mut here = here;
            here.sort();
            let k = self
                .up_to(available.min(Decimal::from(here.len())), true)
                .unwrap_or(Decimal::ZERO);
            for _ in 0..k.to_i64().unwrap_or(0) {
                let i = self.rng.random_range(0..here.len());
                serials.push(here.swap_remove(i));
            }
            match self.rng.random_range(0..6) {
                0 => {
                    // A serial that is not in stock here.
                    let elsewhere: Vec<String> = self
                        .in_stock
                        .iter()
                        .filter(|((product, _), at)| *product == p && **at != from)
                        .map(|((_, key), _)| key.clone())
                        .collect();
                    let stranger = if elsewhere.is_empty() || self.chance(50) {
                        self.fresh_serial()
                    } else {
                        elsewhere[self.rng.random_range(0..elsewhere.len())].clone()
                    };
                    if serials.is_empty() {
                        serials.push(stranger.clone());
                    } else {
                        serials[0] = stranger.clone();
                    }
                    reasons.add(
                        format!("serial {stranger} is not in stock at the source"),
                        &[],
                    );
                    Decimal::from(serials.len())
                }
                1 => {
                    reasons.add("a serialized product moves in whole units", &[]);
                    Decimal::new(5, 1)
                }
                _ => {
                    if k.is_zero() {
                        serials.push(self.fresh_serial());
                        reasons.add("nothing of it is in stock at the source", &[]);
                    }
                    Decimal::from(serials.len())
                }
            }
        } else {
            match self.up_to(available, false) {
                Some(q) if !self.chance(15) => q,
                _ => {
                    reasons.add(
                        "more than is available at the source",
                        &["INSUFFICIENT_AVAILABLE"],
                    );
                    available.max(Decimal::ZERO) + self.amount(3, 4)
                }
            }
        };
        input["quantity"] = json!(text(quantity));
        if serialized {
            input["serialNumbers"] = json!(serials);
            if quantity > available && !reasons.0.is_empty() {
                // Already refused for its serials.
            } else if quantity > available {
                reasons.add(
                    "more than is available at the source",
                    &["INSUFFICIENT_AVAILABLE"],
                );
            }
        }
        if self
            .run(
                "transferInventory",
                input,
                "from { id } to { id }",
                reasons.expect(),
            )
            .await
            .is_some()
        {
            self.item(p, from).on_hand -= quantity;
            self.item(p, to).on_hand += quantity;
            for serial in serials {
                self.in_stock.insert((p, serial_key(&serial)), to);
            }
        }
    }

    async fn adjust(&mut self) {
        let (p, l) = self.stocked_item(|i| i.on_hand > Decimal::ZERO);
        let item = self.item_now(p, l);
        let mut input =
            json!({ "productId": self.products[p].id, "locationId": self.locations[l] });
        let mut reasons = Reasons::default();
        let reason;
        let delta;
        if self.products[p].serialized && self.api.adjust_serials && !self.chance(25) {
            return self.adjust_units(p, l).await;
        }
        if self.products[p].serialized {
            // Serialized stock moves by naming units; an adjustment that names none, or a
            // fraction of a unit, is refused.
            delta = self.pick(&[Decimal::ONE, Decimal::NEGATIVE_ONE, Decimal::new(5, 1)]);
            reason = if delta > Decimal::ZERO {
                "FOUND"
            } else {
                "COUNT"
            };
            input["delta"] = json!(text(delta));
            reasons.add(
                "a serialized product's adjustment names whole serialized units",
                &[],
            );
        } else {
            let down = self
                .up_to(item.available(), false)
                .filter(|_| !self.chance(10))
                .map(|q| -q)
                .unwrap_or_else(|| -(item.available().max(Decimal::ZERO) + self.amount(2, 4)));
            let up = self.amount(20, 4);
            match self.rng.random_range(0..10) {
                0 | 1 => {
                    reason = "COUNT";
                    let counted = if self.chance(50) {
                        item.on_hand + up
                    } else {
                        item.on_hand + down
                    };
                    let counted = counted.max(Decimal::ZERO);
                    delta = counted - item.on_hand;
                    input["countedQuantity"] = json!(text(counted));
                }
                2 => {
                    reason = "COUNT";
                    delta = if self.chance(50) { up } else { down };
                    input["delta"] = json!(text(delta));
                }
                3 | 4 => {
                    reason = self.pick(&["DAMAGE", "LOSS"]);
                    delta = if self.chance(15) { up } else { down };
                    input["delta"] = json!(text(delta));
                    if delta > Decimal::ZERO {
                        reasons.add(format!("{reason} only lowers on hand"), &[]);
                    }
                }
                5 | 6 => {
                    reason = "FOUND";
                    delta = if self.chance(15) { down } else { up };
                    input["delta"] = json!(text(delta));
                    if delta < Decimal::ZERO {
                        reasons.add("FOUND only raises on hand", &[]);
                    }
                }
                _ => {
                    reason = "OTHER";
                    delta = if self.chance(50) { up } else { down };
                    input["delta"] = json!(text(delta));
                    if self.chance(20) {
                        reasons.add("OTHER needs a memo", &[]);
                    } else {
                        input["memo"] = json!("cycle correction");
                    }
                }
            }
            if item.on_hand + delta < item.picked + item.reserved {
                reasons.add(
                    "on hand would fall below picked + reserved",
                    &["INSUFFICIENT_AVAILABLE"],
                );
            }
        }
        input["reason"] = json!(reason);
        if self
            .run(
                "adjustInventory",
                input,
                "inventoryItem { id }",
                reasons.expect(),
            )
            .await
            .is_some()
        {
            self.item(p, l).on_hand += delta;
        }
    }

    /// An adjustment of a serialized product that names its units: in stock here for a
    /// decrease, not in stock anywhere for an increase.
    async fn adjust_units(&mut self, p: usize, l: usize) {
        let item = self.item_now(p, l);
        let here: Vec<String> = self
            .in_stock
            .iter()
            .filter(|((product, _), at)| *product == p && **at == l)
            .map(|((_, key), _)| key.clone())
            .collect();
        let mut reasons = Reasons::default();
        let mut serials = Vec::new();
        let limit = item.available().min(Decimal::from(here.len()));
        let down = match self.up_to(limit, true) {
            Some(k) if self.chance(50) => {
                let mut here = here;
                for _ in 0..k.to_i64().unwrap_or(0) {
                    let i = self.rng.random_range(0..here.len());
                    serials.push(here.swap_remove(i).to_uppercase());
                }
                true
            }
            _ => {
                for _ in 0..self.rng.random_range(1..=2) {
                    let serial = match self.gone_serial(p) {
                        Some(key)
                            if self.chance(30)
                                && !serials.iter().any(|s: &String| serial_key(s) == key) =>
                        {
                            key.to_uppercase()
                        }
                        _ => self.fresh_serial(),
                    };
                    serials.push(serial);
                }
                false
            }
        };
        if self.chance(15) {
            let stranger = if down {
                self.fresh_serial()
            } else {
                match self.in_stock.keys().find(|(product, _)| *product == p) {
                    Some((_, key)) => key.clone(),
                    None => self.fresh_serial(),
                }
            };
            let known = self.in_stock.contains_key(&(p, serial_key(&stranger)));
            if down || known {
                serials[0] = format!(" {stranger} ");
                reasons.add(
                    if down {
                        format!("serial {stranger} is not in stock here")
                    } else {
                        format!("serial {stranger} is already in stock")
                    },
                    &[],
                );
            }
        }
        let count = Decimal::from(serials.len());
        let delta = if down { -count } else { count };
        let reason = match (down, self.rng.random_range(0..3)) {
            (true, 0) => "DAMAGE",
            (true, 1) => "LOSS",
            (false, 0) => "FOUND",
            (_, 2) => "OTHER",
            _ => "COUNT",
        };
        let input = json!({
            "productId": self.products[p].id, "locationId": self.locations[l],
            "delta": text(delta), "reason": reason, "serialNumbers": serials,
            "memo": "serialized count",
        });
        if self
            .run(
                "adjustInventory",
                input,
                "inventoryItem { id }",
                reasons.expect(),
            )
            .await
            .is_none()
        {
            return;
        }
        self.item(p, l).on_hand += delta;
        for serial in serials {
            let key = serial_key(&serial);
            if down {
                self.in_stock.remove(&(p, key.clone()));
                self.gone.push((p, key));
            } else {
                self.in_stock.insert((p, key), l);
            }
        }
    }

    async fn commit_stock(&mut self) {
        let kind = self.rng.random_range(0..4);
        let (p, l) = self.stocked_item(|i| match kind {
            0 | 2 => i.available() > Decimal::ZERO,
            1 => i.reserved > Decimal::ZERO,
            _ => i.picked > Decimal::ZERO,
        });
        let item = self.item_now(p, l);
        let whole = self.products[p].serialized;
        let (name, room) = match kind {
            0 => ("reserveInventory", item.available()),
            1 => ("releaseReservation", item.reserved),
            2 => ("pickInventory", item.available()),
            _ => ("unpickInventory", item.picked),
        };
        let mut reasons = Reasons::default();
        let quantity = match self.up_to(room, whole) {
            Some(q) if !self.chance(15) => q,
            _ => {
                let beyond = room.max(Decimal::ZERO)
                    + if whole {
                        Decimal::ONE
                    } else {
                        self.amount(3, 4)
                    };
                let codes: &[&str] = if matches!(name, "reserveInventory" | "pickInventory") {
                    &["INSUFFICIENT_AVAILABLE"]
                } else {
                    &[]
                };
                reasons.add(format!("{name} of {beyond} goes beyond {room}"), codes);
                beyond
            }
        };
        let input = json!({
            "productId": self.products[p].id, "locationId": self.locations[l],
            "quantity": text(quantity),
        });
        if self
            .run(name, input, "inventoryItem { id }", reasons.expect())
            .await
            .is_some()
        {
            let item = self.item(p, l);
            match name {
                "reserveInventory" => item.reserved += quantity,
                "releaseReservation" => item.reserved -= quantity,
                "pickInventory" => item.picked += quantity,
                _ => item.picked -= quantity,
            }
        }
    }

    async fn update_vendor(&mut self) {
        let terms = self.rng.random_range(7..=90);
        let city = self.pick(&CITIES).to_owned();
        let input = json!({
            "id": self.vendor, "paymentTermsDays": terms,
            "address": { "street": "1 Main St", "city": city, "postalCode": "12345", "country": "US" },
        });
        if self
            .run("updateVendor", input, "vendor { id }", Expect::Ok)
            .await
            .is_some()
        {
            self.terms = terms;
            self.city = city;
        }
    }

    async fn unserialize(&mut self) {
        let Some(p) = (0..self.products.len()).find(|&p| self.products[p].serialized) else {
            return;
        };
        let stocked: Decimal = (0..self.locations.len())
            .map(|l| self.item_now(p, l).on_hand)
            .sum();
        if stocked.is_zero() {
            return;
        }
        let mut reasons = Reasons::default();
        reasons.add("a product with serialized stock stays serialized", &[]);
        let input = json!({ "id": self.products[p].id, "serialized": false });
        self.run("updateProduct", input, "product { id }", reasons.expect())
            .await;
    }

    // ---------------------------------------------------------------- checks

    /// Checks the given orders (by model index) against the model and DOMAIN.md's rules.
    async fn check_orders(&mut self, indices: &[usize]) {
        for chunk in indices.chunks(10) {
            let data = self.read_orders(chunk, "").await;
            self.check_read_orders(chunk, &data);
        }
    }

    /// The orders at `indices` (at most 10) in one request, with `more` fields of the query.
    async fn read_orders(&self, indices: &[usize], more: &str) -> Value {
        let ids: Vec<&str> = indices
            .iter()
            .map(|&i| self.orders[i].id.as_str())
            .collect();
        self.app
            .gql(
                &format!(
                    "query($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on PurchaseOrder {{ {} }} }} {more} }}",
                    self.order_fields
                ),
                json!({ "ids": ids }),
            )
            .await
    }

    fn check_read_orders(&mut self, indices: &[usize], data: &Value) {
        let nodes = data["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), indices.len());
        for (&i, node) in indices.iter().zip(nodes) {
            self.check_order(i, node);
        }
    }

    /// The checks after a step, in one request: the orders it touched, the next few of a
    /// round over all orders (so a change to an order no step touched is found within a round),
    /// and every stock item.
    async fn check_step(&mut self, touched: &[usize]) {
        let mut indices: Vec<usize> = touched.to_vec();
        for _ in 0..ROUND_PER_STEP.min(self.orders.len()) {
            self.round = (self.round + 1) % self.orders.len();
            if !indices.contains(&self.round) {
                indices.push(self.round);
            }
        }
        let data = self.read_orders(&indices, ITEMS).await;
        self.check_read_orders(&indices, &data);
        self.check_items(&data).await;
    }

    fn check_order(&mut self, o: usize, po: &Value) {
        let tag = self.tag();
        let order = self.orders[o].clone();
        let number = &order.number;
        assert_eq!(po["id"].as_str(), Some(order.id.as_str()), "{tag} {number}");
        assert_eq!(po["status"], order.status.name(), "{tag} {number} status");
        assert_eq!(
            dv(&po["taxRate"]),
            order.tax_rate,
            "{tag} {number} tax rate"
        );
        assert_eq!(
            dv(&po["shipping"]),
            order.shipping,
            "{tag} {number} shipping"
        );

        // Lines as the model has them.
        let nodes = po["lines"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), order.lines.len(), "{tag} {number} lines");
        for (line, node) in order.lines.iter().zip(nodes) {
            assert_eq!(
                node["id"].as_str(),
                Some(line.id.as_str()),
                "{tag} {number} line order"
            );
            assert_eq!(
                dv(&node["quantity"]),
                line.quantity,
                "{tag} {number} line quantity"
            );
            assert_eq!(
                dv(&node["quantityReceived"]),
                line.received,
                "{tag} {number} line received"
            );
            assert_eq!(
                dv(&node["unitCost"]),
                line.unit_cost,
                "{tag} {number} unit cost"
            );
            assert_eq!(
                node["product"]["id"].as_str(),
                Some(self.products[line.product].id.as_str()),
                "{tag} {number} line product"
            );
            assert_eq!(
                node["location"]["id"].as_str(),
                Some(self.locations[line.location].as_str()),
                "{tag} {number} line location"
            );
        }

        // Totals: exact line amounts, one rounding, parts that add up.
        let exact: Decimal = order.lines.iter().map(|l| l.quantity * l.unit_cost).sum();
        let subtotal = cents(exact);
        let tax = cents(subtotal * order.tax_rate);
        let total = subtotal + tax + order.shipping;
        for field in ["subtotal", "tax", "total"] {
            assert!(
                two_places(&po[field]),
                "{tag} {number} {field} is printed with two decimals: {}",
                po[field]
            );
        }
        assert_eq!(
            (dv(&po["subtotal"]), dv(&po["tax"]), dv(&po["total"])),
            (subtotal, tax, total),
            "{tag} {number} totals (subtotal, tax, total) of exact amounts {exact} at rate {}",
            order.tax_rate
        );
        assert_eq!(
            dv(&po["subtotal"]) + dv(&po["tax"]) + dv(&po["shipping"]),
            dv(&po["total"]),
            "{tag} {number} printed parts add up"
        );

        // Receipts: what the model received, and unchanged since issued.
        let receipts: Vec<&Receipt> = self.receipts.iter().filter(|r| r.order == o).collect();
        let printed = po["receipts"].as_array().unwrap();
        assert_eq!(printed.len(), receipts.len(), "{tag} {number} receipts");
        let mut accepted_by_receipt: HashMap<String, Decimal> = HashMap::new();
        for (model, r) in receipts.iter().zip(printed) {
            assert_eq!(
                r["id"].as_str(),
                Some(model.id.as_str()),
                "{tag} {number} receipt order"
            );
            assert_eq!(
                r["canceledAt"].is_string(),
                model.canceled,
                "{tag} receipt {} cancellation",
                r["number"]
            );
            let lines = r["lines"].as_array().unwrap();
            assert_eq!(
                lines.len(),
                model.lines.len(),
                "{tag} receipt {} lines",
                r["number"]
            );
            for (ml, rl) in model.lines.iter().zip(lines) {
                assert_eq!(
                    rl["line"]["id"].as_str(),
                    Some(order.lines[ml.line].id.as_str()),
                    "{tag} receipt {} line",
                    r["number"]
                );
                assert_eq!(
                    dv(&rl["quantity"]),
                    ml.accepted,
                    "{tag} receipt {} accepted",
                    r["number"]
                );
                let mut got: Vec<String> = rl["serialNumbers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| serial_key(s.as_str().unwrap()))
                    .collect();
                let mut want: Vec<String> = ml.serials.iter().map(|s| serial_key(s)).collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{tag} receipt {} serials", r["number"]);
            }
            accepted_by_receipt.insert(model.id.clone(), model.accepted());
            let mut frozen = r.clone();
            frozen.as_object_mut().unwrap().remove("canceledAt");
            let id = model.id.clone();
            match self.seen_receipts.get(&id) {
                Some(first) => assert!(
                    *first == frozen,
                    "{tag} receipt {} changed after it was issued:\nthen {first}\nnow  {frozen}",
                    r["number"]
                ),
                None => {
                    self.seen_receipts.insert(id, frozen);
                }
            }
        }

        // Bills: parts add up, open ones sum to the value received rounded once (carried
        // rounding), replacements keep the dates and remit-to, nothing changes once issued.
        let bills = po["bills"].as_array().unwrap();
        let replacements: HashSet<&str> = bills
            .iter()
            .filter_map(|b| b["supersededBy"]["id"].as_str())
            .collect();
        let by_id: HashMap<&str, &Value> = bills
            .iter()
            .map(|b| (b["id"].as_str().unwrap(), b))
            .collect();
        let (mut open_subtotal, mut open_tax) = (Decimal::ZERO, Decimal::ZERO);
        for bill in bills {
            let name = &bill["number"];
            for field in ["subtotal", "tax", "total"] {
                assert!(
                    two_places(&bill[field]),
                    "{tag} bill {name} {field} is printed with two decimals: {}",
                    bill[field]
                );
            }
            assert_eq!(
                dv(&bill["subtotal"]) + dv(&bill["tax"]) + charge(&bill["freight"]),
                dv(&bill["total"]),
                "{tag} bill {name}: subtotal + tax + freight = total"
            );
            let receipt = bill["receipt"]["id"].as_str().unwrap();
            assert!(
                accepted_by_receipt
                    .get(receipt)
                    .is_some_and(|a| !a.is_zero()),
                "{tag} bill {name}: a receipt that accepts nothing issues no bill"
            );
            if bill["status"] == "OPEN" {
                open_subtotal += dv(&bill["subtotal"]);
                open_tax += dv(&bill["tax"]);
            } else {
                assert_eq!(bill["status"], "SUPERSEDED", "{tag} bill {name} status");
            }
            if let Some(next) = bill["supersededBy"]["id"].as_str() {
                let next = by_id.get(next).unwrap_or_else(|| {
                    panic!("{tag} bill {name}: its replacement is not among the order's bills")
                });
                for field in ["billDate", "dueDate", "remitTo"] {
                    assert_eq!(
                        next[field], bill[field],
                        "{tag} replacement {} keeps the {field} of bill {name}",
                        next["number"]
                    );
                }
            }
            let id = bill["id"].as_str().unwrap().to_owned();
            let mut frozen = bill.clone();
            frozen.as_object_mut().unwrap().remove("status");
            frozen.as_object_mut().unwrap().remove("supersededBy");
            match self.seen_bills.get(&id) {
                Some(first) => assert!(
                    *first == frozen,
                    "{tag} bill {name} changed after it was issued:\nthen {first}\nnow  {frozen}"
                ),
                None => {
                    if bill["kind"] == "BILL" && !replacements.contains(id.as_str()) {
                        // A new invoice takes the vendor's terms and address of today.
                        let date = |f: &str| {
                            chrono::NaiveDate::parse_from_str(bill[f].as_str().unwrap(), "%Y-%m-%d")
                                .unwrap()
                        };
                        assert_eq!(
                            (date("dueDate") - date("billDate")).num_days(),
                            self.terms,
                            "{tag} bill {name} is due after the vendor's payment terms"
                        );
                        assert_eq!(
                            bill["remitTo"]["city"].as_str(),
                            Some(self.city.as_str()),
                            "{tag} bill {name} is remitted to the vendor's address"
                        );
                    }
                    self.seen_bills.insert(id, frozen);
                }
            }
        }
        let value: Decimal = receipts
            .iter()
            .filter(|r| !r.canceled)
            .flat_map(|r| r.lines.iter())
            .map(|rl| rl.accepted * order.lines[rl.line].unit_cost)
            .sum();
        let billed = cents(value);
        assert_eq!(
        open_subtotal, billed,
        "{tag} {number}: open bills' subtotals sum to the value received ({value}) rounded once"
    );
        assert_eq!(
            open_tax,
            cents(billed * order.tax_rate),
            "{tag} {number}: open bills' taxes sum to the received subtotal's tax at {}",
            order.tax_rate
        );
    }

    /// Stock: every item as the model has it, ledger sum = on hand, on order and back-ordered =
    /// open quantities, nothing negative, on hand ≥ picked + reserved, serials once.
    async fn check_items(&mut self, data: &Value) {
        let tag = self.tag();
        let ledger = self.ledger_sums().await;
        let mut printed: HashMap<(usize, usize), Value> = HashMap::new();
        for node in data["inventoryItems"]["nodes"].as_array().unwrap() {
            let p = self
                .products
                .iter()
                .position(|p| node["product"]["id"].as_str() == Some(p.id.as_str()))
                .unwrap();
            let l = self
                .locations
                .iter()
                .position(|l| node["location"]["id"].as_str() == Some(l.as_str()))
                .unwrap();
            let on_hand = dv(&node["onHand"]);
            let sum = ledger
                .get(&row_id(&node["id"]))
                .copied()
                .unwrap_or_default();
            assert_eq!(
                Decimal::new(sum, 4),
                on_hand,
                "{tag} item {p}@{l}: the ledger sums to on hand"
            );
            printed.insert((p, l), node.clone());
        }
        let mut on_order: HashMap<(usize, usize), Decimal> = HashMap::new();
        let mut backordered: HashMap<(usize, usize), Decimal> = HashMap::new();
        for order in self.orders.iter().filter(|o| o.status.on_order()) {
            for line in &order.lines {
                *on_order.entry((line.product, line.location)).or_default() += line.open();
                if order.backorder {
                    *backordered
                        .entry((line.product, line.location))
                        .or_default() += line.open();
                }
            }
        }
        for p in 0..self.products.len() {
            for l in 0..self.locations.len() {
                let model = self.item_now(p, l);
                let want = [
                    ("onHand", model.on_hand),
                    ("picked", model.picked),
                    ("reserved", model.reserved),
                    ("available", model.available()),
                    (
                        "onOrder",
                        on_order.get(&(p, l)).copied().unwrap_or_default(),
                    ),
                    (
                        "backordered",
                        backordered.get(&(p, l)).copied().unwrap_or_default(),
                    ),
                ];
                for (field, expected) in want {
                    assert!(
                        expected >= Decimal::ZERO,
                        "{tag} model: {field} of {p}@{l} < 0"
                    );
                    let got = printed
                        .get(&(p, l))
                        .map(|n| dv(&n[field]))
                        .unwrap_or_default();
                    assert_eq!(got, expected, "{tag} item {p}@{l} {field}");
                }
                assert!(
                    model.on_hand >= model.picked + model.reserved,
                    "{tag} model: on hand ≥ picked + reserved at {p}@{l}"
                );
                if self.products[p].serialized {
                    let units = self
                        .in_stock
                        .iter()
                        .filter(|((product, _), at)| *product == p && **at == l)
                        .count();
                    assert_eq!(
                        Decimal::from(units),
                        model.on_hand,
                        "{tag} model: serialized on hand = units in stock at {p}@{l}"
                    );
                }
            }
        }
    }

    /// Σ ledger deltas per inventory item row, in ten-thousandths.
    async fn ledger_sums(&self) -> HashMap<i32, i64> {
        let rows = self
            .app
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                self.app.db.get_database_backend(),
                "SELECT inventory_item_id AS id, CAST(SUM(delta) AS BIGINT) AS total \
                 FROM stock_ledger_entries GROUP BY inventory_item_id",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                (
                    r.try_get::<i32>("", "id").unwrap(),
                    r.try_get::<i64>("", "total").unwrap(),
                )
            })
            .collect()
    }

    /// Every serial the model knows: in stock at its location, or gone.
    async fn check_registry(&self) {
        let tag = self.tag();
        let mut units: Vec<(usize, String, Option<usize>)> = self
            .in_stock
            .iter()
            .map(|((p, key), l)| (*p, key.clone(), Some(*l)))
            .collect();
        let mut gone: Vec<(usize, String)> = self
            .gone
            .iter()
            .filter(|unit| !self.in_stock.contains_key(unit))
            .cloned()
            .collect();
        gone.sort();
        gone.dedup();
        units.extend(gone.into_iter().map(|(p, key)| (p, key, None)));
        // Aliases are limited per request.
        for chunk in units.chunks(25) {
            let fields: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(i, (p, key, _))| {
                    format!(
                        "s{i}: serialNumber(productId: {}, number: {}) {{ status location {{ id }} }}",
                        json!(self.products[*p].id),
                        json!(key.to_uppercase())
                    )
                })
                .collect();
            let data = self
                .app
                .gql(&format!("{{ {} }}", fields.join(" ")), json!({}))
                .await;
            for (i, (_, key, at)) in chunk.iter().enumerate() {
                let unit = &data[format!("s{i}")];
                match at {
                    Some(l) => {
                        assert_eq!(unit["status"], "IN_STOCK", "{tag} serial {key}: {unit}");
                        assert_eq!(
                            unit["location"]["id"].as_str(),
                            Some(self.locations[*l].as_str()),
                            "{tag} serial {key} location"
                        );
                    }
                    None => assert!(
                        unit["status"].is_string() && unit["status"] != "IN_STOCK",
                        "{tag} serial {key} is gone: {unit}"
                    ),
                }
            }
        }
    }

    /// Serials: where the registry has them (when the API has one), and the serials of live
    /// receipts: each in stock once per product, whatever its spelling, and exactly those the
    /// model has in stock (while only receipts bring units in and take them out).
    async fn check_serials(&self) {
        if self.api.serial_registry {
            self.check_registry().await;
        }
        if self.api.adjust_serials {
            return;
        }
        let tag = self.tag();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let orders: Vec<&str> = self.orders.iter().map(|o| o.id.as_str()).collect();
        for chunk in orders.chunks(20) {
            let data = self
                .app
                .gql(
                    "query($ids: [ID!]!) { nodes(ids: $ids) { ... on PurchaseOrder { \
                     receipts { canceledAt lines { serialNumbers line { product { id } } } } } } }",
                    json!({ "ids": chunk }),
                )
                .await;
            for node in data["nodes"].as_array().unwrap() {
                for receipt in node["receipts"].as_array().unwrap() {
                    if receipt["canceledAt"].is_string() {
                        continue;
                    }
                    for line in receipt["lines"].as_array().unwrap() {
                        let product = line["line"]["product"]["id"].as_str().unwrap();
                        for serial in line["serialNumbers"].as_array().unwrap() {
                            let key = serial_key(serial.as_str().unwrap());
                            assert!(
                                seen.insert((product.to_owned(), key.clone())),
                                "{tag} serial {key} of product {product} is in stock twice"
                            );
                        }
                    }
                }
            }
        }
        let model: HashSet<(String, String)> = self
            .in_stock
            .keys()
            .map(|(p, key)| (self.products[*p].id.clone(), key.clone()))
            .collect();
        assert_eq!(seen, model, "{tag} serials in stock");
    }
}

async fn world(seed: u64) -> World {
    let app = spawn_app().await;
    let fx = app.fixture().await;
    // Allowances: the pipe may arrive 10 % over, the washer 2.5 %; bolts and pumps not at all.
    let mut products = Vec::new();
    for (id, allowance) in [
        (&fx.products[0], None),
        (&fx.products[1], Some("10")),
        (&fx.products[2], Some("2.5")),
    ] {
        if let Some(a) = allowance {
            app.ok(
                "updateProduct",
                json!({ "id": id, "overReceiptAllowancePercent": a }),
                "product { id }",
            )
            .await;
        }
        products.push(Product {
            id: id.clone(),
            serialized: false,
            allowance: allowance.map(dec).unwrap_or_default(),
        });
    }
    products.push(Product {
        id: fx.serialized.clone(),
        serialized: true,
        allowance: Decimal::ZERO,
    });
    let vendor = app
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Vendor { paymentTermsDays address { city } } } }",
            json!({ "id": fx.vendor }),
        )
        .await["node"]
        .clone();
    let schema = app
        .gql(
            "{ adjust: __type(name: \"AdjustInventoryInput\") { inputFields { name } } \
               receiptLine: __type(name: \"ReceiptLine\") { fields { name } } \
               query: __type(name: \"Query\") { fields { name } } }",
            json!({}),
        )
        .await;
    let has = |ty: &str, list: &str, name: &str| {
        schema[ty][list]
            .as_array()
            .is_some_and(|fields| fields.iter().any(|f| f["name"] == name))
    };
    let api = Api {
        adjust_serials: has("adjust", "inputFields", "serialNumbers"),
        line_history: has("receiptLine", "fields", "product"),
        serial_registry: has("query", "fields", "serialNumber"),
    };
    println!("API under test: {api:?}");
    World {
        api,
        order_fields: order_fields(if api.line_history {
            "product { id } location { id }"
        } else {
            ""
        }),
        rng: StdRng::seed_from_u64(seed),
        seed,
        step: 0,
        vendor: fx.vendor.clone(),
        locations: vec![fx.location.clone(), fx.location2.clone()],
        po_type: fx.po_type.clone(),
        business_unit: fx.business_unit.clone(),
        products,
        terms: vendor["paymentTermsDays"].as_i64().unwrap(),
        city: vendor["address"]["city"].as_str().unwrap().to_owned(),
        orders: Vec::new(),
        receipts: Vec::new(),
        items: BTreeMap::new(),
        in_stock: BTreeMap::new(),
        gone: Vec::new(),
        next_serial: 0,
        numbers: HashSet::new(),
        seen_receipts: HashMap::new(),
        seen_bills: HashMap::new(),
        stats: BTreeMap::new(),
        round: 0,
        app,
    }
}

#[tokio::test]
async fn random_operations_keep_the_books_as_the_reference_model_of_domain_md_says() {
    let seed = std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let total = steps();
    println!("MODEL_SEED={seed} MODEL_STEPS={total}");
    let mut w = world(seed).await;
    while w.step < total {
        let before = w.step;
        let touched = match w.rng.random_range(0..100) {
            0..=13 => w.create_order().await,
            14..=16 => w.add_line().await,
            17..=18 => w.remove_line().await,
            19..=23 => w.update_header().await,
            24..=33 => w.update_line().await,
            34..=42 => w.submit().await,
            43..=44 => w.cancel_order().await,
            45..=65 => w.receive().await,
            66..=72 => w.cancel_receipt().await,
            73..=78 => w.finalize().await,
            79..=83 => {
                w.transfer().await;
                Vec::new()
            }
            84..=88 => {
                w.adjust().await;
                Vec::new()
            }
            89..=96 => {
                w.commit_stock().await;
                Vec::new()
            }
            97..=98 => {
                w.update_vendor().await;
                Vec::new()
            }
            _ => {
                w.unserialize().await;
                Vec::new()
            }
        };
        if w.step == before {
            // Nothing fitted this operation; draw again.
            continue;
        }
        w.check_step(&touched).await;
        if w.step % SERIALS_EVERY == 0 {
            w.check_serials().await;
        }
    }
    // At the end every order, whoever touched it last.
    let all: Vec<usize> = (0..w.orders.len()).collect();
    w.check_orders(&all).await;
    w.check_serials().await;
    println!(
        "MODEL_SEED={seed}: (succeeded, refused) per operation: {:?}",
        w.stats
    );
    // The run must have exercised the use cases, not only refusals.
    for name in [
        "createPurchaseOrder",
        "submitPurchaseOrder",
        "receivePurchaseOrder",
        "updatePurchaseOrderLine",
    ] {
        assert!(
            w.stats.get(name).is_some_and(|s| s.0 > 0),
            "MODEL_SEED={seed}: {name} never succeeded: {:?}",
            w.stats
        );
    }
}
