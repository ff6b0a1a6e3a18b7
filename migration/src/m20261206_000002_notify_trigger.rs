//! PostgreSQL: the outbox wakes the dispatchers by itself. A statement trigger on `events`
//! queues the `NOTIFY` that every replica's dispatcher listens for, so a use case no longer
//! sends one as a statement of its own (one round trip fewer inside every writing
//! transaction, where the order's row lock is held). Like `NOTIFY`, `pg_notify` is sent only
//! when the transaction commits, a savepoint rolled back takes it with it, and identical
//! notifications of one transaction are sent once. SQLite has no `NOTIFY`: nothing to do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The channel of `src/events.rs` (`CHANNEL`).
const UP: &[&str] = &[
    "CREATE FUNCTION stockgraph_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         PERFORM pg_notify('stockgraph_events', '');
         RETURN NULL;
     END
     $$",
    "CREATE TRIGGER events_notify AFTER INSERT ON events
     FOR EACH STATEMENT EXECUTE FUNCTION stockgraph_events_notify()",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS events_notify ON events",
    "DROP FUNCTION IF EXISTS stockgraph_events_notify()",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
