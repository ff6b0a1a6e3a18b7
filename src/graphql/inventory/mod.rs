//! Stock: inventory items and their ledger.

pub mod types;
