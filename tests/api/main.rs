//! Integration tests through the real router, on SQLite or (with `TEST_DATABASE_URL`) PostgreSQL.

// Test code may unwrap: a panic is a failed test with a clear location.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tests commit their own transactions directly; only use cases must go through services::commit.
#![allow(clippy::disallowed_methods)]

mod abuse_faults;
mod abuse_limits;
mod abuse_permissions;
mod abuse_transport;
mod all_errors;
mod bench;
mod books_history;
mod books_money;
mod books_rules;
mod cli;
mod example_app;
mod feed;
mod foundation;
mod helpers;
mod limits;
mod master_data;
mod model;
mod permissions;
mod priming;
mod protocol;
mod purchasing;
mod read_graph;
mod receiving;
mod receiving_cost;
mod request_logs;
mod screens;
mod serials;
mod sql_rules;
mod stock;
mod stress;
mod subscriptions;
mod ws;
