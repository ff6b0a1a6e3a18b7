//! Integration tests through the real router, on SQLite or (with `TEST_DATABASE_URL`) PostgreSQL.

// Test code may unwrap: a panic is a failed test with a clear location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse_permissions;
mod cli;
mod foundation;
mod helpers;
mod limits;
mod master_data;
mod model;
mod permissions;
mod purchasing;
mod read_graph;
mod receiving;
mod stock;
mod stress;
mod subscriptions;
mod ws;
