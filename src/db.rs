//! Connecting to the database, transactions, and running migrations.

use std::path::PathBuf;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Any failure to reach or prepare the database at start-up. Each keeps its cause (its message
/// repeats the cause's, so `to_string()` alone is a complete sentence too).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("DATABASE_URL `{0}` is not valid: use sqlite://FILE or postgres://USER@HOST/DB")]
    BadUrl(String),
    #[error("cannot open the database: cannot create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Connect(#[source] DbErr),
    #[error("database migration failed: {0}")]
    Migrate(#[source] DbErr),
}

/// Arbitrary but fixed key of the PostgreSQL advisory lock held while migrating.
const MIGRATION_LOCK_KEY: i64 = 0x5354_4f43_4b47; // "STOCKG"

/// The file behind a `sqlite:` URL, if it is one.
pub fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Opens a connection pool. SQLite files are created when missing and run in WAL mode.
pub async fn connect(
    database_url: &str,
    pool_size: u32,
) -> Result<DatabaseConnection, StartupError> {
    let mut options = ConnectOptions::new(database_url.to_owned());
    options
        .max_connections(pool_size.max(1))
        .connect_timeout(Duration::from_secs(5))
        // Under load a request waits this long for a pooled connection; at start-up it bounds
        // how long an unreachable server keeps the command waiting.
        .acquire_timeout(Duration::from_secs(8))
        .sqlx_logging(false);
    if database_url.starts_with("sqlite:") {
        let path = sqlite_path(database_url)
            .ok_or_else(|| StartupError::BadUrl(database_url.to_owned()))?;
        create_private(&path).map_err(|source| StartupError::Create {
            path: path.clone(),
            source,
        })?;
        options.map_sqlx_sqlite_opts(move |_| {
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
        });
    } else if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://")
    {
        return Err(StartupError::BadUrl(database_url.to_owned()));
    }
    let db = Database::connect(options)
        .await
        .map_err(StartupError::Connect)?;
    // A connection alone proves little (SQLite opens any file lazily): ask something.
    db.execute_unprepared("SELECT 1")
        .await
        .map_err(StartupError::Connect)?;
    Ok(db)
}

/// Creates a missing database file readable and writable by its owner only. SQLite gives its
/// `-wal` and `-shm` files the mode of the database file, so they stay private too; left to
/// SQLite the file would be created 0644 (world-readable).
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// Brings the schema up to date. On PostgreSQL the whole run holds an advisory lock inside one
/// transaction, so replicas starting together never race and a failure leaves nothing half-done.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), StartupError> {
    run_locked(db, |txn| {
        Box::pin(async move { Migrator::up(txn, None).await })
    })
    .await
    .map_err(StartupError::Migrate)
}

/// Rolls back the given number of migrations (all when `None`).
pub async fn migrate_down(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), StartupError> {
    run_locked(db, move |txn| {
        Box::pin(async move { Migrator::down(txn, steps).await })
    })
    .await
    .map_err(StartupError::Migrate)
}

/// Names of applied and pending migrations.
pub async fn migration_status(
    db: &DatabaseConnection,
) -> Result<Vec<(String, bool)>, StartupError> {
    let all = Migrator::get_migration_with_status_read_only(db)
        .await
        .map_err(StartupError::Migrate)?;
    Ok(all
        .iter()
        .map(|m| {
            (
                m.name().to_owned(),
                m.status() == migration::MigrationStatus::Applied,
            )
        })
        .collect())
}

async fn run_locked<F>(db: &DatabaseConnection, step: F) -> Result<(), DbErr>
where
    F: for<'t> FnOnce(
        &'t DatabaseTransaction,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), DbErr>> + Send + 't>,
    >,
{
    let txn = begin_write(db).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
    }
    step(&txn).await?;
    // Migrations are not use cases: nothing retries them.
    #[allow(clippy::disallowed_methods)]
    txn.commit().await
}

/// Starts a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that later upgrades fails with SQLITE_BUSY
/// under concurrency instead of waiting.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            db.begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
        }
        _ => db.begin().await,
    }
}

/// Runs a read and, when the database dropped the connection, runs it once more on a fresh one
/// (the pool pings connections before handing them out). Safe because a read writes nothing;
/// a busy database is not retried, since waiting longer is what helps there.
pub async fn retry_read<T, F, Fut>(mut read: F) -> Result<T, DbErr>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, DbErr>>,
{
    match read().await {
        Err(err)
            if crate::error::DbFault::classify(&err, false).is_some_and(|f| f.retry_safe()) =>
        {
            tracing::warn!(error = %err, "connection lost during a read; reading again");
            read().await
        }
        other => other,
    }
}

/// How long `/readyz` waits for the database before answering 503.
pub const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Checks that the database answers a query within [`READY_CHECK_TIMEOUT`].
pub async fn ready(db: &DatabaseConnection) -> Result<(), String> {
    match tokio::time::timeout(READY_CHECK_TIMEOUT, db.execute_unprepared("SELECT 1")).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(short(&err)),
        Err(_) => Err(format!(
            "no answer within {} s",
            READY_CHECK_TIMEOUT.as_secs()
        )),
    }
}

/// The first line of a database error, without driver noise.
fn short(err: &DbErr) -> String {
    let text = err.to_string();
    text.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost() -> DbErr {
        DbErr::Query(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(
            sea_orm::sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        )))
    }

    /// Runs `retry_read` over reads failing with `errors` in turn, then succeeding; returns
    /// the outcome and how many reads ran.
    async fn read_through(errors: Vec<DbErr>) -> (Result<(), DbErr>, usize) {
        let errors = std::cell::RefCell::new(errors.into_iter());
        let reads = std::cell::Cell::new(0);
        let result = retry_read(|| async {
            reads.set(reads.get() + 1);
            errors.borrow_mut().next().map_or(Ok(()), Err)
        })
        .await;
        (result, reads.get())
    }

    #[tokio::test]
    async fn a_read_that_lost_its_connection_is_read_again_once() {
        let (result, reads) = read_through(vec![lost()]).await;
        assert!(result.is_ok());
        assert_eq!(reads, 2);
        let (result, reads) = read_through(vec![lost(), lost()]).await;
        assert!(result.is_err());
        assert_eq!(reads, 2, "at most once more");
    }

    #[tokio::test]
    async fn a_read_failing_otherwise_is_not_repeated() {
        for err in [
            DbErr::Custom("bug".into()),
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
        ] {
            let (result, reads) = read_through(vec![err]).await;
            assert!(result.is_err());
            assert_eq!(reads, 1);
        }
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://stockgraph.db"),
            Some(PathBuf::from("stockgraph.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:/tmp/a.db?mode=rwc"),
            Some(PathBuf::from("/tmp/a.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x@y/z"), None);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_sqlite_database_and_its_wal_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sg-db-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("private.db");
        let db = connect(&format!("sqlite://{}", file.display()), 1)
            .await
            .unwrap();
        db.execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        for name in ["private.db", "private.db-wal", "private.db-shm"] {
            let mode = std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        db.close().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
