//! The change feed (issue 15): a commit-order sequence on the outbox, and `updated_at` on the
//! reference records so every root list can be filtered by `updatedAfter`.
//!
//! `events.seq` is assigned after commit, one sequencer at a time (see `src/events.rs`), so it
//! grows in commit order even though `id` does not; rows already in the outbox all committed,
//! so they take their id. Reference records never changed after creation before this
//! migration tracked it: their `updated_at` starts at `created_at`. The service sets it on every
//! write; SQLite cannot add a NOT NULL column without a default, so there the placeholder
//! default only covers the backfill.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The reference tables that gain `updated_at`.
const REFERENCE_TABLES: &[&str] = &[
    "business_units",
    "purchase_order_types",
    "jobs",
    "projects",
    "technicians",
];

fn up_statements(backend: DbBackend) -> Vec<String> {
    let mut sql = vec![
        "ALTER TABLE events ADD COLUMN seq BIGINT".to_owned(),
        "UPDATE events SET seq = id".to_owned(),
        "CREATE UNIQUE INDEX events_seq_idx ON events (seq)".to_owned(),
        "CREATE INDEX events_unsequenced_idx ON events (id) WHERE seq IS NULL".to_owned(),
        "CREATE INDEX events_entity_idx ON events (entity_type, entity_id, seq)".to_owned(),
    ];
    for table in REFERENCE_TABLES {
        match backend {
            DbBackend::Postgres => {
                sql.push(format!(
                    "ALTER TABLE {table} ADD COLUMN updated_at TIMESTAMPTZ"
                ));
                sql.push(format!("UPDATE {table} SET updated_at = created_at"));
                sql.push(format!(
                    "ALTER TABLE {table} ALTER COLUMN updated_at SET NOT NULL"
                ));
            }
            _ => {
                sql.push(format!(
                    "ALTER TABLE {table} ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''"
                ));
                sql.push(format!("UPDATE {table} SET updated_at = created_at"));
            }
        }
    }
    sql
}

fn down_statements() -> Vec<String> {
    let mut sql = vec![
        "DROP INDEX IF EXISTS events_entity_idx".to_owned(),
        "DROP INDEX IF EXISTS events_unsequenced_idx".to_owned(),
        "DROP INDEX IF EXISTS events_seq_idx".to_owned(),
        "ALTER TABLE events DROP COLUMN seq".to_owned(),
    ];
    for table in REFERENCE_TABLES {
        sql.push(format!("ALTER TABLE {table} DROP COLUMN updated_at"));
    }
    sql
}

async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, up_statements(manager.get_database_backend())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, down_statements()).await
    }
}
