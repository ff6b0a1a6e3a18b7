//! Text search shared by the list filters.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr};
use sea_orm::ColumnTrait;

/// `column` contains `text`, ignoring case, with `%` and `_` in `text` taken literally.
pub fn contains_text(column: impl ColumnTrait, text: &str) -> SimpleExpr {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::expr(Func::lower(Expr::col(column.as_column_ref())))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}
