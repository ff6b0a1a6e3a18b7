//! The `stockgraph` command: serve | migrate | seed | bench | token | export-schema.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use stockgraph::auth::{parse_permission_list, parse_ttl, TokenKeys};
use stockgraph::config::{AuthConfig, DatabaseConfig, ServeConfig};
use stockgraph::metrics::StatementSource;
use stockgraph::{db, graphql, secrets, AppState, Settings};

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
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(config) => serve(*config).await,
        Command::Migrate { database, action } => {
            let conn = db::connect(&database.database_url, 1)
                .await
                .map_err(|e| e.to_string())?;
            match action.unwrap_or(MigrateAction::Up) {
                MigrateAction::Up => db::migrate_up(&conn).await.map_err(|e| e.to_string())?,
                MigrateAction::Down { steps } => db::migrate_down(&conn, steps)
                    .await
                    .map_err(|e| e.to_string())?,
                MigrateAction::Status => {
                    for (name, applied) in db::migration_status(&conn)
                        .await
                        .map_err(|e| e.to_string())?
                    {
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
            let conn = db::connect(&database.database_url, 1)
                .await
                .map_err(|e| e.to_string())?;
            db::migrate_up(&conn).await.map_err(|e| e.to_string())?;
            let report =
                stockgraph::seed::seed(&conn, stockgraph::seed::SeedPlan::scale(scale, orders))
                    .await
                    .map_err(|e| e.to_string())?;
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
        Command::Bench(config) => stockgraph::bench::run(config).await,
        Command::Seed { database, .. } => {
            let conn = db::connect(&database.database_url, 1)
                .await
                .map_err(|e| e.to_string())?;
            db::migrate_up(&conn).await.map_err(|e| e.to_string())?;
            let settings = Settings::default();
            match stockgraph::services::demo::seed_if_empty(&conn, &settings.business)
                .await
                .map_err(|e| e.to_string())?
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
            let permissions = parse_permission_list(&permissions)?;
            let ttl = parse_ttl(&ttl)?;
            let secret = secrets::load_or_create(&database, &auth).map_err(|e| e.to_string())?;
            let token = TokenKeys::from_secret(&secret)
                .mint(&sub, &permissions, ttl)
                .map_err(|e| e.message())?;
            println!("{token}");
            Ok(())
        }
        Command::ExportSchema { output, check } => {
            let sdl = graphql::sdl();
            if check {
                let current = std::fs::read_to_string(&output).unwrap_or_default();
                if current != sdl {
                    return Err(format!(
                        "{} differs from the code: run `stockgraph export-schema`",
                        output.display()
                    ));
                }
                println!("{} matches the code", output.display());
            } else {
                std::fs::write(&output, sdl)
                    .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
                println!("wrote {}", output.display());
            }
            Ok(())
        }
    }
}

async fn serve(config: ServeConfig) -> Result<(), String> {
    // A bad trusted-documents file stops the start before anything else happens.
    let protocol = config.protocol.settings(config.demo)?;
    if let Some(trusted) = &protocol.trusted_documents {
        tracing::info!(
            operations = trusted.len(),
            "trusted documents: only the registered operations run"
        );
    }
    let secret =
        secrets::load_or_create(&config.database, &config.auth).map_err(|e| e.to_string())?;
    let conn = db::connect(&config.database.database_url, config.database.pool_size)
        .await
        .map_err(|e| e.to_string())?;
    db::migrate_up(&conn).await.map_err(|e| e.to_string())?;
    let mut keys = TokenKeys::from_secret(&secret);
    let seeded = match config.demo {
        true => {
            let loaded = stockgraph::services::demo::seed_if_empty(&conn, &config.business)
                .await
                .map_err(|e| e.to_string())?;
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
            .map_err(|e| e.message())?;
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
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.bind, config.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
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
        .map_err(|e| format!("cannot start event delivery: {e}"))?;
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
    .map_err(|e| format!("server error: {e}"))
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
