//! Receiving, cancelling receipts, finalizing, and the bills they produce.

pub mod mutations;
pub mod types;
