//! The `stockgraph` command: serve | migrate | seed | bench | token | export-schema.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use stockgraph::auth::{parse_permission_list, parse_ttl, TokenKeys};
use stockgraph::config::{AuthConfig, DatabaseConfig, ServeConfig};
use stockgraph::metrics::StatementSource;
use stockgraph::{db, graphql, secrets, AppState, Settings};

/// jemalloc rather than the system allocator: see the note on the dependency in Cargo.toml.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// stockgraph: a GraphQL purchasing-and-inventory API.
#[derive(Parser)]
#[command(name = "stockgraph", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and run the GraphQL service.
    Serve(Box<ServeConfig>),
    /// Apply (default), roll back or list schema migrations.
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Fill an empty database: the small demo data set (`--demo`) or a large benchmark data
    /// set (`--scale N`).
    #[command(group(clap::ArgGroup::new("set").required(true).args(["demo", "scale"])))]
    Seed {
        #[command(flatten)]
        database: DatabaseConfig,
        /// The small realistic demo data set.
        #[arg(long)]
        demo: bool,
        /// The benchmark data set: 1 ≈ 200 vendors, 2,000 products, 10 locations, 10,000
        /// purchase orders of 1–10 lines (every 10th submitted, half of those received).
        #[arg(long)]
        scale: Option<f64>,
        /// With `--scale`: this many orders instead of 10,000 × scale.
        #[arg(long, requires = "scale")]
        orders: Option<usize>,
    },
    /// Benchmark the service over HTTP on fresh seeded databases (see BENCHMARKS.md).
    Bench(stockgraph::bench::BenchConfig),
    /// Print a signed bearer token.
    Token {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        auth: AuthConfig,
        /// Subject: who the token speaks for (not empty).
        #[arg(long)]
        sub: String,
        /// Comma-separated permissions, e.g. `purchase_orders:read,costs:read` or `admin`.
        #[arg(long)]
        permissions: String,
        /// Lifetime, e.g. `30m`, `8h`, `7d`; at most `30d`.
        #[arg(long, default_value = "8h")]
        ttl: String,
    },
    /// Write the GraphQL schema (SDL).
    ExportSchema {
        /// Where to write it.
        #[arg(long, default_value = "schema.graphql")]
        output: PathBuf,
        /// Do not write: fail if the file differs from the code.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back migrations (all unless --steps).
    Down {
        /// How many to roll back.
        #[arg(long)]
        steps: Option<u32>,
    },
    /// List migrations and whether they are applied.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", report(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, outermost first. A cause whose text its wrapper
/// already quotes (sea-orm's and thiserror's `{0}` messages do) is not repeated.
fn report(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        if line.contains(text.trim()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text.trim());
    }
    line
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(config) => serve(*config).await,
        Command::Migrate { database, action } => {
            let conn = db::connect(&database.database_url, 1).await?;
            match action.unwrap_or(MigrateAction::Up) {
                MigrateAction::Up => db::migrate_up(&conn).await?,
                MigrateAction::Down { steps } => db::migrate_down(&conn, steps).await?,
                MigrateAction::Status => {
                    for (name, applied) in db::migration_status(&conn).await? {
                        println!("{} {name}", if applied { "applied" } else { "pending" });
                    }
                }
            }
            Ok(())
        }
        Command::Seed {
            database,
            scale: Some(scale),
            orders,
            ..
        } => {
            let conn = db::connect(&database.database_url, 1).await?;
            db::migrate_up(&conn).await?;
            let report =
                stockgraph::seed::seed(&conn, stockgraph::seed::SeedPlan::scale(scale, orders))
                    .await?;
            println!(
                "seeded {} vendors, {} products, {} locations, {} purchase orders with {} lines \
                 ({} submitted, {} received) in {:.1} s",
                report.vendors,
                report.products,
                report.locations,
                report.orders,
                report.lines,
                report.submitted,
                report.received,
                report.seconds
            );
            Ok(())
        }
        Command::Bench(config) => stockgraph::bench::run(config)
            .await
            .map_err(anyhow::Error::msg),
        Command::Seed { database, .. } => {
            let conn = db::connect(&database.database_url, 1).await?;
            db::migrate_up(&conn).await?;
            let settings = Settings::default();
            match stockgraph::services::demo::seed_if_empty(&conn, &settings.business)
                .await
                .context("loading the demo data failed")?
            {
                true => println!("demo data loaded"),
                false => println!("the database already holds data; nothing loaded"),
            }
            Ok(())
        }
        Command::Token {
            database,
            auth,
            sub,
            permissions,
            ttl,
        } => {
            let permissions = parse_permission_list(&permissions).map_err(anyhow::Error::msg)?;
            let ttl = parse_ttl(&ttl).map_err(anyhow::Error::msg)?;
            let secret = secrets::load_or_create(&database, &auth)?;
            // `ApiError` is deliberately not an `Error` (see its docs): its message is the text.
            let token = TokenKeys::from_secret(&secret)
                .mint(&sub, &permissions, ttl)
                .map_err(|e| anyhow!(e.message()))?;
            println!("{token}");
            Ok(())
        }
        Command::ExportSchema { output, check } => {
            let sdl = graphql::sdl();
            if check {
                let current = std::fs::read_to_string(&output).unwrap_or_default();
                if current != sdl {
                    anyhow::bail!(
                        "{} differs from the code: run `stockgraph export-schema`",
                        output.display()
                    );
                }
                println!("{} matches the code", output.display());
            } else {
                std::fs::write(&output, sdl)
                    .with_context(|| format!("cannot write {}", output.display()))?;
                println!("wrote {}", output.display());
            }
            Ok(())
        }
    }
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    // A bad trusted-documents file stops the start before anything else happens.
    let protocol = config
        .protocol
        .settings(config.demo)
        .map_err(anyhow::Error::msg)?;
    if let Some(trusted) = &protocol.trusted_documents {
        tracing::info!(
            operations = trusted.len(),
            "trusted documents: only the registered operations run"
        );
    }
    let secret = secrets::load_or_create(&config.database, &config.auth)?;
    let conn = db::connect(&config.database.database_url, config.database.pool_size).await?;
    db::migrate_up(&conn).await?;
    let mut keys = TokenKeys::from_secret(&secret);
    let seeded = match config.demo {
        true => {
            let loaded = stockgraph::services::demo::seed_if_empty(&conn, &config.business)
                .await
                .context("loading the demo data failed")?;
            if loaded {
                tracing::info!("demo data loaded into the empty database");
            } else {
                tracing::warn!(
                    "--demo: the database already holds data, so nothing was loaded and \
                     GraphiQL gets no demo token; mint one with `stockgraph token`"
                );
            }
            loaded
        }
        false => false,
    };
    // The demo token is for a person trying the service on this machine: only when this
    // process seeded the database and listens on loopback, valid for an hour, and accepted by
    // this process alone (see `TokenKeys::with_demo_token`).
    let demo_token = if seeded && config.bind.is_loopback() {
        let (demo_keys, token) = keys
            .with_demo_token(DEMO_TOKEN_TTL)
            .map_err(|e| anyhow!(e.message()))?;
        keys = demo_keys;
        Some(token)
    } else {
        if seeded {
            tracing::warn!(
                "--demo: not listening on a loopback address, so GraphiQL gets no demo token"
            );
        }
        None
    };
    let settings = Settings {
        limits: config.limits.clone(),
        business: config.business.clone(),
        transport: config.transport.clone(),
        demo_token: demo_token.clone(),
        protocol,
    };
    let listener = tokio::net::TcpListener::bind((config.bind, config.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.bind, config.port))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let events = stockgraph::events::EventBus::default();
    let dispatch = stockgraph::events::DispatchConfig {
        retention: std::time::Duration::from_secs(config.event_retention_hours * 3600),
        listener_name: format!("stockgraph-listener:{}", address.port()),
    };
    // Requests and background work count their statements apart on /metrics.
    let background = stockgraph::metrics::counting(&conn, StatementSource::Background);
    let conn = stockgraph::metrics::counting(&conn, StatementSource::Requests);
    events
        .start(background.clone(), &config.database.database_url, dispatch)
        .await
        .context("cannot start event delivery")?;
    spawn_idempotency_pruning(background, config.business.idempotency_retention());
    let state = AppState {
        db: conn,
        settings: Arc::new(settings),
        keys: keys.clone(),
        events: events.clone(),
    };
    // The token (printed once, here) comes before the address line, which ends the start-up
    // output, so whoever reads it knows when to stop looking for a token.
    if let Some(token) = &demo_token {
        println!(
            "GraphiQL (opened as localhost) starts with this demo admin token in its Headers,"
        );
        println!("valid for one hour and only until this process stops; for other clients send");
        println!("Authorization: Bearer {token}");
    }
    println!("stockgraph is serving GraphiQL at http://{address}/graphql");
    stockgraph::transport::serve(
        listener,
        stockgraph::router(state),
        config.transport.clone(),
        async move {
            shutdown_signal().await;
            // Ends subscriptions and closes WebSockets, which would otherwise hold the shutdown.
            events.shut_down();
        },
    )
    .await
    .context("server error")
}

/// How long the `serve --demo` token is valid.
const DEMO_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(3600);
/// Forgets expired idempotency keys once an hour, so the table stays as small as the
/// retention allows (a reused expired key is also forgotten when it is used again).
fn spawn_idempotency_pruning(db: sea_orm::DatabaseConnection, retention: chrono::Duration) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            let cutoff = stockgraph::services::now() - retention;
            if let Err(err) = stockgraph::services::idempotency::prune(&db, cutoff).await {
                tracing::warn!("pruning idempotency keys failed: {err}");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_every_cause_once_on_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied\nby policy");
        let err = anyhow::Error::new(io).context("cannot listen on 127.0.0.1:80");
        assert_eq!(
            report(&err),
            "cannot listen on 127.0.0.1:80: denied by policy"
        );
        // sea-orm and thiserror messages quote their source: it is not printed twice.
        let db = sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal("refused".to_owned()));
        let err = anyhow::Error::new(db::StartupError::Connect(db));
        assert_eq!(
            report(&err),
            "cannot open the database: Connection Error: refused"
        );
    }
}
