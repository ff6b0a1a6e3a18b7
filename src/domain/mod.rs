//! Pure business rules: no database, no GraphQL. Unit-tested beside the code.

pub mod inventory;
pub mod master_data;
pub mod matching;
pub mod money;
pub mod purchasing;
pub mod receiving;
pub mod stock;
pub mod totals;
pub mod validate;
pub mod values;
pub mod violation;
