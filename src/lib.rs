//! stockgraph: one GraphQL graph over vendors, products, inventory locations, purchase orders,
//! receipts, stock and vendor bills.
//!
//! Layers, one direction: [`app`] (axum) → [`graphql`] → [`services`] → `entity`; pure rules
//! live in [`domain`]. Tests build the app through [`app::router`].

pub mod app;
pub mod auth;
pub mod bench;
pub mod caller_limit;
pub mod config;
pub mod cors;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod examples;
pub mod graphiql;
pub mod graphql;
pub mod metrics;
pub mod persisted;
pub mod prescan;
pub mod request_id;
pub mod secrets;
pub mod seed;
pub mod services;
pub mod transport;

pub use app::{router, AppState, Settings};
pub use graphql::build_schema;
