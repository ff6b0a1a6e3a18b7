//! Idempotency keys belong to the caller that sent them (DOMAIN.md, Idempotency).
//!
//! Adds the `caller` column (the token subject) and makes a key unique per caller instead of
//! per operation, so one caller's key cannot be replayed or squatted by another, and the same
//! key sent to a different mutation is a conflict. SQLite cannot drop an inline UNIQUE
//! constraint, so the table is rebuilt there; rows written before this migration get an empty
//! caller, which no token has, and simply age out.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE idempotency_keys ADD COLUMN caller TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_operation_idempotency_key_key",
    "ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_caller_key UNIQUE (caller, idempotency_key)",
    "CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idempotency_keys_created_at",
    "ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_caller_key",
    // Keys of different callers may now collide: keep the oldest of each (operation, key).
    "DELETE FROM idempotency_keys a USING idempotency_keys b \
     WHERE a.operation = b.operation AND a.idempotency_key = b.idempotency_key AND a.id > b.id",
    "ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_operation_idempotency_key_key \
     UNIQUE (operation, idempotency_key)",
    "ALTER TABLE idempotency_keys DROP COLUMN caller",
];

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE idempotency_keys_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        caller TEXT NOT NULL,
        operation TEXT NOT NULL,
        idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        request_hash TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (caller, idempotency_key)
    )",
    "INSERT INTO idempotency_keys_new \
     (id, caller, operation, idempotency_key, request_hash, response, created_at) \
     SELECT id, '', operation, idempotency_key, request_hash, response, created_at \
     FROM idempotency_keys",
    "DROP TABLE idempotency_keys",
    "ALTER TABLE idempotency_keys_new RENAME TO idempotency_keys",
    "CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)",
];

const SQLITE_DOWN: &[&str] = &[
    "CREATE TABLE idempotency_keys_old (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        operation TEXT NOT NULL,
        idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        request_hash TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (operation, idempotency_key)
    )",
    "INSERT OR IGNORE INTO idempotency_keys_old \
     (id, operation, idempotency_key, request_hash, response, created_at) \
     SELECT id, operation, idempotency_key, request_hash, response, created_at \
     FROM idempotency_keys ORDER BY id",
    "DROP TABLE idempotency_keys",
    "ALTER TABLE idempotency_keys_old RENAME TO idempotency_keys",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, POSTGRES_UP).await,
            _ => run(manager, SQLITE_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            _ => run(manager, SQLITE_DOWN).await,
        }
    }
}
