//! Schema migrations for stockgraph, run by `stockgraph migrate` and at the start of `serve`.

pub use sea_orm_migration::prelude::*;
pub use sea_orm_migration::MigrationStatus;

mod m20261124_000001_create_schema;

/// The ordered list of every migration.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261124_000001_create_schema::Migration)]
    }
}
