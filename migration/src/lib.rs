//! Schema migrations for stockgraph, run by `stockgraph migrate` and at the start of `serve`.

pub use sea_orm_migration::prelude::*;
pub use sea_orm_migration::MigrationStatus;

mod m20261124_000001_create_schema;
mod m20261129_000001_history_and_serials;
mod m20261129_000002_idempotency_caller;
mod m20261206_000001_event_feed;
mod m20261206_000002_notify_trigger;

/// The ordered list of every migration.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_schema::Migration),
            Box::new(m20261129_000001_history_and_serials::Migration),
            Box::new(m20261129_000002_idempotency_caller::Migration),
            Box::new(m20261206_000001_event_feed::Migration),
            Box::new(m20261206_000002_notify_trigger::Migration),
        ]
    }
}
