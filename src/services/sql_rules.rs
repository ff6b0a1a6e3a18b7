//! Domain rules that lists must also apply inside SQL, to sort and filter before paging: an
//! order's total (`domain::totals`), an item's available quantity and its below-minimum test
//! (`domain::stock`). Each expression here is the SQL twin of one domain function, and the api
//! test `sql_rules` compares the two on both databases, so they cannot drift apart.
//!
//! Every expression stays in 64-bit integers: SQLite has no exact decimal type, and a `REAL`
//! would sort totals that differ by a cent as equal (or the wrong way round).

use entity::{inventory_item, purchase_order, purchase_order_line};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, PostgresQueryBuilder, Query, QueryBuilder, SelectStatement,
    SqliteQueryBuilder,
};
use sea_orm::DbBackend;

use crate::domain::totals::PricedLine;

impl From<&purchase_order_line::Model> for PricedLine {
    fn from(line: &purchase_order_line::Model) -> Self {
        PricedLine {
            quantity: line.quantity.to_decimal(),
            unit_cost: line.unit_cost.to_decimal(),
        }
    }
}

/// The row a sort key is evaluated on; `connection::SortKey` replaces it with the table or
/// with the cursor's row.
const ROW: &str = "{t}";

/// SQL text for a sort key over [`ROW`], as `backend` writes it.
fn sort_key_sql(expr: &Expr, backend: DbBackend) -> String {
    let mut sql = String::new();
    match backend {
        DbBackend::Postgres => PostgresQueryBuilder.prepare_expr(expr, &mut sql),
        _ => SqliteQueryBuilder.prepare_expr(expr, &mut sql),
    }
    sql
}

fn int(value: i64) -> Expr {
    Expr::val(value)
}

/// Stored quantities and amounts are counts of ten-thousandths (`entity::Fixed4`).
const UNITS: i64 = 10_000;
/// Rates are counts of hundred-millionths (`entity::Rate8`).
const RATE_UNITS: i64 = 100_000_000;
/// `validate::MAX_QUANTITY` in stored units.
const MAX_QUANTITY_UNITS: i64 = 1_000_000_000 * UNITS;
/// `validate::MAX_UNIT_COST` in stored units.
const MAX_UNIT_COST_UNITS: i64 = 1_000_000 * UNITS;
/// `validate::MAX_MONEY` (shipping) in stored units.
const MAX_MONEY_UNITS: i64 = 1_000_000_000 * UNITS;
/// `money::MAX_DOCUMENT_TOTAL` in whole currency units.
const MAX_DOCUMENT_TOTAL: i64 = 100_000_000_000;
/// The sort key of an order whose total cannot be computed: after every real total.
const NO_TOTAL: i64 = i64::MAX;

/// `numerator / denominator` rounded half up to an integer, both non-negative; written with
/// the remainder so nothing leaves integer arithmetic.
fn div_round(numerator: Expr, denominator: i64) -> Expr {
    let rounds_up = numerator.clone().modulo(denominator).gte(denominator / 2);
    numerator
        .div(denominator)
        .add(Expr::case(rounds_up, int(1)).finally(int(0)))
}

/// `SUM(value)` as a 64-bit integer, 0 over no rows (PostgreSQL sums BIGINT to NUMERIC, whose
/// `/` would not divide as integers).
pub(crate) fn integer_sum(value: Expr) -> Expr {
    Func::cast_as(Func::coalesce([Func::sum(value).into(), int(0)]), "BIGINT").into()
}

/// Σ quantity × unit cost of an order's lines, exact, in three integer parts (whole units,
/// ten-thousandths, hundred-millionths), since the product of two stored values overflows
/// 64 bits long before a document reaches its limit. With q = qh·10⁴ + ql and c = ch·10⁴ + cl:
/// q·c = qh·ch·10⁸ + (qh·cl + ql·ch)·10⁴ + ql·cl. Lines beyond the input limits (stored
/// before they existed) are counted in `beyond` instead of summed, so nothing overflows.
fn line_sums() -> SelectStatement {
    use purchase_order_line::Column;
    let l = "total_l";
    let q = || Expr::col((l, Column::Quantity));
    let c = || Expr::col((l, Column::UnitCost));
    let within = q()
        .lte(MAX_QUANTITY_UNITS)
        .and(c().lte(MAX_UNIT_COST_UNITS));
    let sum_within =
        |value: Expr| integer_sum(Expr::case(within.clone(), value).finally(int(0)).into());
    let (qh, ql) = (q().div(UNITS), q().modulo(UNITS));
    let (ch, cl) = (c().div(UNITS), c().modulo(UNITS));
    Query::select()
        .expr_as(sum_within(qh.clone().mul(ch.clone())), "whole")
        .expr_as(
            sum_within(qh.mul(cl.clone()).add(ql.clone().mul(ch))),
            "tenk",
        )
        .expr_as(sum_within(ql.mul(cl)), "frac")
        .expr_as(
            integer_sum(Expr::case(within, int(0)).finally(int(1)).into()),
            "beyond",
        )
        .from_as(purchase_order_line::Entity, Alias::new(l))
        .and_where(
            Expr::col((l, Column::PurchaseOrderId))
                .eq(Expr::col((ROW, purchase_order::Column::Id))),
        )
        .to_owned()
}

/// round(Σ exact line amounts) in cents, from [`line_sums`] as `s`; NULL when a line is beyond
/// the input limits or the whole-unit part alone exceeds the document limit (no order the
/// service accepted can: it refuses a total beyond it).
fn subtotal_cents() -> Expr {
    let part = |name: &'static str| Expr::col(("total_s", name));
    // Amount in hundred-millionths = whole·10⁸ + tenk·10⁴ + frac; cents are 10⁶ of them.
    let below_a_hundredth = part("tenk").modulo(100).mul(UNITS).add(part("frac"));
    let cents = part("whole")
        .mul(100)
        .add(part("tenk").div(100))
        .add(div_round(below_a_hundredth, 1_000_000));
    let computable = part("beyond")
        .eq(0)
        .and(part("whole").lte(MAX_DOCUMENT_TOTAL));
    Expr::case(computable, cents).into()
}

/// round(subtotal × tax rate) in cents, for `subtotal` in cents and the order's rate in
/// hundred-millionths (< 10⁸ by a CHECK). Split as subtotal = sh·10⁴ + sl so no product
/// overflows: subtotal·rate = sh·rate·10⁴ + sl·rate.
fn tax_cents(subtotal: Expr) -> Expr {
    let rate = || Expr::col((ROW, purchase_order::Column::TaxRate));
    let high = subtotal.clone().div(UNITS).mul(rate());
    let low = subtotal.modulo(UNITS).mul(rate());
    // high·10⁴ + low in hundred-millionths of a cent = high / 10⁴ cents + the rest.
    let rest = high.clone().modulo(UNITS).mul(UNITS).add(low);
    high.div(UNITS).add(div_round(rest, RATE_UNITS))
}

/// The order's shipping in cents (it is entered in cents; rounding only guards old rows); NULL
/// beyond the input limit.
fn shipping_cents() -> Expr {
    let shipping = || Expr::col((ROW, purchase_order::Column::Shipping));
    let within = shipping().lte(MAX_MONEY_UNITS);
    Expr::case(within, div_round(shipping(), UNITS / 100)).into()
}

/// An order's total in cents, exactly as `domain::totals::order_totals` computes it:
/// subtotal + tax + shipping, each rounded half up to cents (every stored amount is
/// non-negative). Orders whose total cannot be computed (stored before the input limits)
/// get [`NO_TOTAL`].
pub fn order_total_cents() -> Expr {
    let subtotal = || Expr::col(("total_d", "subtotal"));
    let total = subtotal().add(tax_cents(subtotal())).add(shipping_cents());
    let subtotals = Query::select()
        .expr_as(subtotal_cents(), "subtotal")
        .from_subquery(line_sums(), Alias::new("total_s"))
        .to_owned();
    Query::select()
        .expr(Func::coalesce([total, int(NO_TOTAL)]))
        .from_subquery(subtotals, Alias::new("total_d"))
        .to_owned()
        .into()
}

/// The sort key of orders by total (`{t}` is the order's row).
pub fn order_total_key(backend: DbBackend) -> String {
    sort_key_sql(&order_total_cents(), backend)
}

/// An item's available quantity, `domain::stock::available`: on hand − picked − reserved.
pub fn available() -> Expr {
    use inventory_item::Column;
    Expr::col((ROW, Column::OnHand))
        .sub(Expr::col((ROW, Column::Picked)))
        .sub(Expr::col((ROW, Column::Reserved)))
}

/// The sort key of items by available quantity (`{t}` is the item's row).
pub fn available_key(backend: DbBackend) -> String {
    sort_key_sql(&available(), backend)
}

/// Items below their minimum, `domain::stock::below_minimum`: on hand < minimum.
pub fn below_minimum() -> Expr {
    use inventory_item::Column;
    Expr::col((inventory_item::Entity, Column::OnHand))
        .lt(Expr::col((inventory_item::Entity, Column::Minimum)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{money, validate};
    use entity::Fixed4;
    use rust_decimal::Decimal;

    #[test]
    fn the_guards_are_the_input_and_document_limits() {
        assert_eq!(
            Fixed4(MAX_QUANTITY_UNITS).to_decimal(),
            validate::MAX_QUANTITY
        );
        assert_eq!(
            Fixed4(MAX_UNIT_COST_UNITS).to_decimal(),
            validate::MAX_UNIT_COST
        );
        assert_eq!(Fixed4(MAX_MONEY_UNITS).to_decimal(), validate::MAX_MONEY);
        assert_eq!(Decimal::from(MAX_DOCUMENT_TOTAL), money::MAX_DOCUMENT_TOTAL);
    }

    #[test]
    fn the_total_key_is_integer_sql_on_both_databases() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let sql = order_total_key(backend);
            assert!(sql.contains(r#""{t}"."tax_rate""#), "{sql}");
            for float in ["REAL", "1.0", "FLOAT", "DOUBLE", "NUMERIC"] {
                assert!(!sql.contains(float), "{float} in {sql}");
            }
        }
    }
}
