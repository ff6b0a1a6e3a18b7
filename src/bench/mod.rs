//! `stockgraph bench`: seeds fresh databases, starts the real service as a child process,
//! drives it over HTTP and WebSocket, and prints a markdown report (see BENCHMARKS.md).
//!
//! Nothing here is a timed test: the figures are printed, and the run fails only on wrong
//! answers (a GraphQL error, a lost update, an undelivered event).

mod ceiling;
mod fanout;
mod load;
mod server;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Bytes;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{json, Value};

use crate::auth::{Permission, TokenKeys};
use crate::seed::{SeedPlan, SeedReport};
use load::{Check, Run};
use server::Server;

pub use server::metric_value;

/// Which databases to benchmark.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Databases {
    Sqlite,
    Postgres,
    Both,
}

/// The scenarios of a run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// The nested page of 50 and 5 orders, with both ceilings.
    Page,
    /// One order by number with all its lines.
    Order,
    /// `receivePurchaseOrder` on hot lines, then the books and pgbench.
    Receive,
    /// Subscription fan-out.
    Fanout,
}

/// `stockgraph bench` options.
#[derive(clap::Args, Clone, Debug)]
pub struct BenchConfig {
    /// Which databases to run on.
    #[arg(long, value_enum, default_value = "both")]
    pub database: Databases,
    /// PostgreSQL server on which a fresh database is created (and dropped afterwards).
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Data set size, as for `seed --scale`.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Seconds per scenario and concurrency.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Concurrent clients of the read scenarios, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub concurrency: Vec<usize>,
    /// Concurrent clients receiving on the hot lines.
    #[arg(long, default_value_t = 32)]
    pub receivers: usize,
    /// WebSocket subscribers of the fan-out scenario.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Status changes the subscribers wait for.
    #[arg(long, default_value_t = 3)]
    pub events: usize,
    /// Seconds of pgbench TPC-B at 32 clients (PostgreSQL only; 0 skips it).
    #[arg(long, default_value_t = 10)]
    pub pgbench_seconds: u64,
    /// Also write the report to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Which scenarios to run, comma-separated (all by default).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "page,order,receive,fanout"
    )]
    pub scenarios: Vec<Scenario>,
    /// `stockgraph` binaries whose `serve` to measure, comma-separated (this one by default).
    /// With more than one, the page and order scenarios run on each in turn over the same
    /// data, seconds apart (e.g. two builds of a change); the rest run on the first.
    #[arg(long, value_delimiter = ',')]
    pub server: Vec<PathBuf>,
}

impl BenchConfig {
    fn runs(&self, scenario: Scenario) -> bool {
        self.scenarios.contains(&scenario)
    }
}

/// The nested page of issue 13.
const NESTED: &str = "query($n: Int) { purchaseOrders(first: $n) { totalCount nodes { number \
    vendor { id code name paymentTermsDays } shipTo { code name } lines(first: 10) { totalCount \
    nodes { lineNumber quantity quantityReceived unitCost product { id sku description \
    unitOfMeasure } location { code } } } } } }";

/// One order by number with all its lines.
const ONE_ORDER: &str = "query($number: String) { purchaseOrder(number: $number) { id number \
    status total vendor { name } shipTo { code } lines(first: 50) { totalCount nodes { id \
    lineNumber quantity quantityReceived unitCost amount product { sku description } \
    location { code } } } } }";

const RECEIVE: &str = "mutation($input: ReceivePurchaseOrderInput!) { receivePurchaseOrder(input: \
    $input) { receipt { number } userErrors { code message } } }";

const SUBMIT: &str = "mutation($id: ID!) { submitPurchaseOrder(input: { purchaseOrderId: $id }) \
    { purchaseOrder { status } userErrors { code message } } }";

/// One measured row.
#[derive(Debug, Clone, Default)]
struct Row {
    scenario: String,
    clients: usize,
    run: Run,
    statements_per_request: f64,
    cpu_ms: f64,
    rss_mib: f64,
    hwm_mib: f64,
}

impl Row {
    fn line(&self) -> String {
        format!(
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.2} | {:.2} | {:.0} / {:.0} | {} |",
            self.scenario,
            self.clients,
            self.run.per_second(),
            self.run.quantile_ms(0.5),
            self.run.quantile_ms(0.99),
            self.statements_per_request,
            self.cpu_ms,
            self.rss_mib,
            self.hwm_mib,
            self.run.failed
        )
    }
}

/// Everything measured on one database.
#[derive(Default)]
struct Report {
    name: &'static str,
    version: String,
    seed: SeedReport,
    rows: Vec<Row>,
    /// (page size, clients) → raw-SQL run.
    sql: Vec<(usize, usize, Run)>,
    /// (page size, clients) → in-memory run and its CPU ms per request.
    memory: Vec<(usize, usize, Run, f64)>,
    response_bytes: usize,
    receive: Option<Row>,
    lost_updates: usize,
    books: Vec<String>,
    pgbench_tps: Option<f64>,
    pgbench_note: String,
    fanout: fanout::FanOut,
    failures: Vec<String>,
}

/// Runs the benchmark and prints the report; fails when an answer was wrong.
pub async fn run(config: BenchConfig) -> Result<(), String> {
    raise_fd_limit();
    if config.concurrency.is_empty() || config.concurrency.contains(&0) {
        return Err("--concurrency needs positive numbers, e.g. 1,8,32".into());
    }
    let mut out = machine().await;
    let mut failed = Vec::new();
    let backends: &[&'static str] = match config.database {
        Databases::Sqlite => &["SQLite"],
        Databases::Postgres => &["PostgreSQL"],
        Databases::Both => &["PostgreSQL", "SQLite"],
    };
    for name in backends {
        eprintln!("bench: {name}");
        let report = bench_on(name, &config).await?;
        out.push_str(&render(&report, &config));
        failed.extend(report.failures.iter().map(|f| format!("{name}: {f}")));
    }
    println!("{out}");
    if let Some(path) = &config.output {
        std::fs::write(path, &out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "wrong answers during the run: {}",
            failed.join("; ")
        ))
    }
}

/// Subscribers and clients need a descriptor each, on both sides; the child inherits this.
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

async fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!(
        "## stockgraph bench\n\nMachine: {model}, {cores} cores available, {memory:.1} GiB; \
         stockgraph {} ({} build).\n\n",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) {
            "DEBUG — figures not comparable"
        } else {
            "release"
        }
    )
}

/// A fresh database on `name`'s backend: its URL, and the admin URL to drop it (PostgreSQL).
async fn fresh_database(
    name: &str,
    config: &BenchConfig,
) -> Result<(String, Option<String>), String> {
    let id = format!("stockgraph_bench_{:08x}", rand::random::<u32>());
    if name == "PostgreSQL" {
        let admin = Database::connect(config.postgres_url.as_str())
            .await
            .map_err(|e| format!("cannot reach {}: {e}", config.postgres_url))?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {id}"))
            .await
            .map_err(|e| format!("cannot create a database: {e}"))?;
        admin.close().await.ok();
        let base = config
            .postgres_url
            .rsplit_once('/')
            .map_or(config.postgres_url.as_str(), |(base, _)| base);
        Ok((format!("{base}/{id}"), Some(id)))
    } else {
        let dir = std::env::temp_dir().join("stockgraph-bench");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        Ok((
            format!("sqlite://{}", dir.join(format!("{id}.db")).display()),
            None,
        ))
    }
}

async fn drop_database(url: &str, pg_name: Option<String>, config: &BenchConfig) {
    match pg_name {
        Some(name) => {
            if let Ok(admin) = Database::connect(config.postgres_url.as_str()).await {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                admin.close().await.ok();
            }
        }
        None => {
            if let Some(path) = crate::db::sqlite_path(url) {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    std::fs::remove_file(file).ok();
                }
            }
        }
    }
}

fn body(query: &str, variables: Value) -> Bytes {
    Bytes::from(json!({ "query": query, "variables": variables }).to_string())
}

/// Seeds, serves, measures and cleans up one database.
async fn bench_on(name: &'static str, config: &BenchConfig) -> Result<Report, String> {
    let (url, pg_name) = fresh_database(name, config).await?;
    let result = measure_on(name, &url, config).await;
    drop_database(&url, pg_name, config).await;
    result
}

async fn measure_on(name: &'static str, url: &str, config: &BenchConfig) -> Result<Report, String> {
    let mut report = Report {
        name,
        ..Default::default()
    };
    // The harness's own pool, as large as the service's (10): the raw-SQL baseline runs on it.
    let db = crate::db::connect(url, 10)
        .await
        .map_err(|e| e.to_string())?;
    crate::db::migrate_up(&db)
        .await
        .map_err(|e| e.to_string())?;
    report.version = version(&db).await;
    report.seed = crate::seed::seed(&db, SeedPlan::scale(config.scale, None))
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "bench: seeded {} orders in {:.1} s",
        report.seed.orders, report.seed.seconds
    );
    let hot_number = hot_order(&db).await?;

    let secret: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let binaries: Vec<Option<&std::path::Path>> = if config.server.is_empty() {
        vec![None]
    } else {
        config.server.iter().map(|p| Some(p.as_path())).collect()
    };
    let keys = TokenKeys::from_secret(secret.as_bytes());
    let most = config
        .concurrency
        .iter()
        .copied()
        .chain([config.receivers, config.subscribers, 1])
        .max()
        .unwrap_or(1);
    // One caller per client, as real users are: the per-caller concurrency limit stays real.
    let tokens = (0..most)
        .map(|i| {
            keys.mint(
                &format!("bench-{i}"),
                &[Permission::Admin],
                Duration::from_secs(4 * 3600),
            )
            .map_err(|e| e.message())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut outcome = Ok(());
    // The read scenarios on every binary in turn (labelled after the first), the rest on the
    // first.
    for (i, binary) in binaries.iter().enumerate().rev() {
        let server = Server::start(*binary, url, &secret).await?;
        let label = match binary {
            Some(path) if binaries.len() > 1 => format!(
                " [{}]",
                path.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            ),
            _ => String::new(),
        };
        outcome = if i == 0 {
            scenarios(
                &mut report,
                &server,
                &db,
                &tokens,
                &hot_number,
                config,
                &label,
            )
            .await
        } else {
            read_scenarios(&mut report, &server, &tokens, config, &label)
                .await
                .map(drop)
        };
        server.stop().await;
        if outcome.is_err() {
            break;
        }
    }
    db.close().await.ok();
    outcome.map(|()| report)
}

async fn version(db: &DatabaseConnection) -> String {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "SELECT version()",
        _ => "SELECT 'SQLite ' || sqlite_version()",
    };
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get_by_index::<String>(0).ok())
        .map(|v| v.split(" on ").next().unwrap_or(&v).to_owned())
        .unwrap_or_default()
}

/// The order whose lines every receiver hits: submitted, four lines of a huge quantity.
async fn hot_order(db: &DatabaseConnection) -> Result<String, String> {
    use crate::services::purchasing::{self, NewLine, NewPurchaseOrder};
    use crate::services::UseCase;
    let actor = crate::auth::Actor::new("bench", &[Permission::Admin]);
    let business = crate::config::BusinessConfig::default();
    let events = crate::events::EventBus::default();
    let uc = UseCase {
        db,
        actor: &actor,
        business: &business,
        events: &events,
        can_set_costs: true,
    };
    let po = purchasing::create(
        uc,
        NewPurchaseOrder {
            number: Some("HOT-1".to_owned()),
            vendor_id: 1,
            ship_to_id: 1,
            type_id: 1,
            business_unit_id: 1,
            lines: (1..=4)
                .map(|product| NewLine {
                    product_id: Some(product),
                    location_id: 1,
                    quantity: rust_decimal::Decimal::new(1_000_000, 0),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("hot order: {e}"))?;
    purchasing::submit(uc, po.id, None)
        .await
        .map_err(|e| format!("hot order: {e}"))?;
    Ok(po.number)
}

/// Measures a run of HTTP clients against the service, with its statements, CPU and memory.
async fn measure(
    server: &Server,
    scenario: String,
    tokens: &[String],
    duration: Duration,
    request: load::Body,
    check: Check,
) -> Result<Row, String> {
    let statements = server.request_statements().await?;
    let before = server.sample();
    let run = load::drive(server.address, tokens, duration, request, check).await;
    let after = server.sample();
    let statements = server.request_statements().await? - statements;
    let requests = (run.ok + run.failed).max(1) as f64;
    Ok(Row {
        scenario,
        clients: tokens.len(),
        statements_per_request: statements / requests,
        cpu_ms: (after.cpu_seconds - before.cpu_seconds) * 1000.0 / requests,
        rss_mib: after.rss_mib,
        hwm_mib: after.hwm_mib,
        run,
    })
}

fn check_page(n: usize) -> Check {
    Arc::new(move |data: &Value| {
        let nodes = data["purchaseOrders"]["nodes"]
            .as_array()
            .ok_or("no nodes")?;
        if nodes.len() != n {
            return Err(format!("{} orders, expected {n}", nodes.len()));
        }
        if nodes.iter().any(|o| {
            o["lines"]["nodes"].as_array().is_none_or(|l| l.is_empty()) || o["vendor"].is_null()
        }) {
            return Err("an order without lines or vendor".into());
        }
        Ok(())
    })
}

/// The read scenarios (the page and one order) on `server`, rows labelled with `label`;
/// returns the pages the service answered (for the in-memory ceiling).
async fn read_scenarios(
    report: &mut Report,
    server: &Server,
    tokens: &[String],
    config: &BenchConfig,
    label: &str,
) -> Result<Vec<Value>, String> {
    let duration = Duration::from_secs_f64(config.duration.max(0.1));
    // A fresh connection per setup request: the server closes connections idle for a minute,
    // and a long measurement can leave one idle that long.
    let admin = || async { server.client(&tokens[0]).await };
    // (a) the nested page, 50 and 5 orders; its answers also fill the in-memory ceiling.
    let mut pages = Vec::new();
    for n in [50usize, 5] {
        if !config.runs(Scenario::Page) {
            break;
        }
        let data = admin()
            .await?
            .graphql(body(NESTED, json!({ "n": n })))
            .await?;
        check_page(n)(&data)?;
        if n == 50 {
            report.response_bytes =
                serde_json::to_vec(&json!({ "data": &data })).map_or(0, |b| b.len());
        }
        pages.push(data["purchaseOrders"].clone());
        for &clients in &config.concurrency {
            eprintln!("bench: nested page of {n}, {clients} clients");
            let request = body(NESTED, json!({ "n": n }));
            let row = measure(
                server,
                format!("nested page, {n} orders{label}"),
                &tokens[..clients],
                duration,
                Arc::new(move |_, _| request.clone()),
                check_page(n),
            )
            .await?;
            report.rows.push(row);
        }
    }

    // (b) one order by number with all its lines, a different order each time.
    let orders = report.seed.orders.max(1);
    for &clients in &config.concurrency {
        if !config.runs(Scenario::Order) {
            break;
        }
        eprintln!("bench: one order, {clients} clients");
        let row = measure(
            server,
            format!("one order by number, all lines{label}"),
            &tokens[..clients],
            duration,
            Arc::new(move |client, n| {
                let o = 1 + (client * 7919 + n * 104_729) % orders;
                body(ONE_ORDER, json!({ "number": format!("PO-S-{o:07}") }))
            }),
            Arc::new(|data: &Value| {
                let lines = data["purchaseOrder"]["lines"]["nodes"]
                    .as_array()
                    .ok_or("no order or no lines")?;
                match lines.is_empty() {
                    true => Err("an order without lines".into()),
                    false => Ok(()),
                }
            }),
        )
        .await?;
        report.rows.push(row);
    }
    Ok(pages)
}

#[allow(clippy::too_many_lines, clippy::too_many_arguments)]
async fn scenarios(
    report: &mut Report,
    server: &Server,
    db: &DatabaseConnection,
    tokens: &[String],
    hot_number: &str,
    config: &BenchConfig,
    label: &str,
) -> Result<(), String> {
    let duration = Duration::from_secs_f64(config.duration.max(0.1));
    let pages = read_scenarios(report, server, tokens, config, label).await?;

    // The ceilings, at the same concurrencies.
    for n in [50usize, 5] {
        if !config.runs(Scenario::Page) {
            break;
        }
        for &clients in &config.concurrency {
            eprintln!("bench: raw SQL page of {n}, {clients} clients");
            let run = ceiling::drive_sql(db, clients, n, duration).await;
            report.sql.push((n, clients, run));
        }
    }
    let memory = ceiling::InMemory::new(pages)?;
    for n in [50usize, 5] {
        if !config.runs(Scenario::Page) {
            break;
        }
        for &clients in &config.concurrency {
            eprintln!("bench: in-memory page of {n}, {clients} clients");
            let result = memory.drive(NESTED, n, clients, duration).await;
            report.memory.push((n, clients, result.run, result.cpu_ms));
        }
    }

    if config.runs(Scenario::Receive) {
        receive(report, server, db, tokens, hot_number, config, duration).await?;
    }
    if config.runs(Scenario::Fanout) {
        fan_out(report, server, tokens, config).await?;
    }
    check_answers(report);
    Ok(())
}

/// (c) receiving on one order's hot lines, then the books and pgbench.
async fn receive(
    report: &mut Report,
    server: &Server,
    db: &DatabaseConnection,
    tokens: &[String],
    hot_number: &str,
    config: &BenchConfig,
    duration: Duration,
) -> Result<(), String> {
    let admin = || async { server.client(&tokens[0]).await };
    let hot = admin()
        .await?
        .graphql(body(ONE_ORDER, json!({ "number": hot_number })))
        .await?;
    let hot_id = hot["purchaseOrder"]["id"].as_str().unwrap_or("").to_owned();
    let line_ids: Vec<String> = hot["purchaseOrder"]["lines"]["nodes"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let receivers = config.receivers.clamp(1, tokens.len());
    eprintln!("bench: receiving, {receivers} clients");
    let receive_lines: Vec<Value> = line_ids
        .iter()
        .map(|id| json!({ "lineId": id, "quantity": "1" }))
        .collect();
    let request = body(
        RECEIVE,
        json!({ "input": { "purchaseOrderId": hot_id, "lines": receive_lines } }),
    );
    let row = measure(
        server,
        format!("receivePurchaseOrder, {} hot lines", line_ids.len()),
        &tokens[..receivers],
        duration,
        Arc::new(move |_, _| request.clone()),
        Arc::new(|data: &Value| {
            let payload = &data["receivePurchaseOrder"];
            match payload["userErrors"].as_array() {
                Some(errors) if errors.is_empty() && !payload["receipt"].is_null() => Ok(()),
                _ => Err(format!("refused: {payload}")),
            }
        }),
    )
    .await?;
    let accepted = row.run.ok;
    report.receive = Some(row);
    report.books = books(db, hot_number, accepted, line_ids.len()).await?;
    report.lost_updates = report.books.len();

    // pgbench TPC-B: what the same PostgreSQL does with 32 clients and no service in front.
    if db.get_database_backend() == sea_orm::DbBackend::Postgres && config.pgbench_seconds > 0 {
        eprintln!("bench: pgbench");
        match pgbench(config).await {
            Ok(tps) => report.pgbench_tps = Some(tps),
            Err(note) => report.pgbench_note = note,
        }
    } else if config.pgbench_seconds == 0 {
        report.pgbench_note = "skipped (--pgbench-seconds 0)".into();
    } else {
        report.pgbench_note = "not applicable (SQLite)".into();
    }
    Ok(())
}

/// (d) subscription fan-out.
async fn fan_out(
    report: &mut Report,
    server: &Server,
    tokens: &[String],
    config: &BenchConfig,
) -> Result<(), String> {
    let admin = || async { server.client(&tokens[0]).await };
    // (d) subscription fan-out.
    let subscribers = config.subscribers.min(tokens.len());
    if subscribers > 0 && config.events > 0 {
        eprintln!("bench: fan-out to {subscribers} subscribers");
        // Seeded orders 1..9 are PENDING (every tenth moved on); one per event.
        let mut fan_orders = Vec::new();
        for o in 1..=config.events.min(9) {
            let data = admin()
                .await?
                .graphql(body(ONE_ORDER, json!({ "number": format!("PO-S-{o:07}") })))
                .await?;
            fan_orders.push(
                data["purchaseOrder"]["id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            );
        }
        let events = fan_orders.len();
        let mut fan = fanout::FanOut::default();
        // Each event is another order; subscribers follow one order, so run one round each.
        for (event, order) in fan_orders.iter().enumerate() {
            let round = fanout::run(
                server.address,
                &tokens[..subscribers],
                order,
                || async {
                    server
                        .metric("stockgraph_subscriptions")
                        .await
                        .unwrap_or(0.0)
                },
                1,
                |_| {
                    let request = body(SUBMIT, json!({ "id": order }));
                    let (address, token) = (server.address, tokens[0].clone());
                    async move {
                        let mut admin = load::Client::connect(address, &token).await?;
                        let data = admin.graphql(request).await?;
                        match data["submitPurchaseOrder"]["userErrors"].as_array() {
                            Some(e) if e.is_empty() => Ok(()),
                            _ => Err(format!("submit refused: {data}")),
                        }
                    }
                },
            )
            .await;
            // Let the previous round's sockets close before the next connects.
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < deadline
                && server
                    .metric("stockgraph_subscriptions")
                    .await
                    .unwrap_or(0.0)
                    > 0.0
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            fan.subscribers = round.subscribers;
            fan.connected = fan.connected.max(round.connected);
            fan.events = event + 1;
            fan.expected += round.expected;
            fan.delivered += round.delivered;
            fan.latencies_ms.extend(round.latencies_ms);
            fan.failures.extend(round.failures);
        }
        let _ = events;
        report.fanout = fan;
    }
    Ok(())
}

/// Wrong answers fail the run.
fn check_answers(report: &mut Report) {
    for row in report.rows.iter().chain(report.receive.as_ref()) {
        if row.run.failed > 0 {
            report.failures.push(format!(
                "{} at {} clients: {} failed, e.g. {:?}",
                row.scenario, row.clients, row.run.failed, row.run.failures
            ));
        }
    }
    for (n, clients, run) in &report.sql {
        if run.failed > 0 {
            report.failures.push(format!(
                "raw SQL page of {n} at {clients}: {:?}",
                run.failures
            ));
        }
    }
    for (n, clients, run, _) in &report.memory {
        if run.failed > 0 {
            report.failures.push(format!(
                "in-memory page of {n} at {clients}: {:?}",
                run.failures
            ));
        }
    }
    report.failures.extend(report.books.iter().cloned());
    let fan = &report.fanout;
    if fan.delivered < fan.expected || fan.connected < fan.subscribers {
        report.failures.push(format!(
            "fan-out: {} of {} subscribers connected, {} of {} deliveries; {:?}",
            fan.connected, fan.subscribers, fan.delivered, fan.expected, fan.failures
        ));
    }
}

/// The books after the receive run: each problem found (empty when they balance).
async fn books(
    db: &DatabaseConnection,
    hot_number: &str,
    accepted: usize,
    lines: usize,
) -> Result<Vec<String>, String> {
    let backend = db.get_database_backend();
    let query = |sql: String| async move {
        db.query_all_raw(Statement::from_string(backend, sql))
            .await
            .map_err(|e| e.to_string())
    };
    let mut problems = Vec::new();
    // Each line's received quantity is the sum of its live receipts, and one unit per
    // accepted request: a lost update shows as a difference.
    let rows = query(format!(
        "SELECT l.id, l.quantity_received, CAST(COALESCE((SELECT SUM(rl.quantity) FROM \
         receipt_lines rl JOIN receipts r ON r.id = rl.receipt_id WHERE \
         rl.purchase_order_line_id = l.id AND r.canceled_at IS NULL), 0) AS BIGINT) AS receipts FROM purchase_order_lines l JOIN purchase_orders \
         po ON po.id = l.purchase_order_id WHERE po.number = '{}'",
        hot_number.replace('\'', "''")
    ))
    .await?;
    if rows.len() != lines {
        problems.push(format!("hot order has {} lines, not {lines}", rows.len()));
    }
    for row in rows {
        let id: i32 = row.try_get("", "id").map_err(|e| e.to_string())?;
        let received: i64 = row
            .try_get("", "quantity_received")
            .map_err(|e| e.to_string())?;
        let receipts: i64 = row.try_get("", "receipts").map_err(|e| e.to_string())?;
        // Fixed4: one unit is 10,000.
        let expected = accepted as i64 * 10_000;
        if received != receipts || received != expected {
            problems.push(format!(
                "lost update on line {id}: received {received}, receipts {receipts}, \
                 accepted requests {expected}"
            ));
        }
    }
    // On hand equals the ledger, for every item.
    let rows = query(
        "SELECT i.id FROM inventory_items i WHERE i.on_hand <> COALESCE((SELECT SUM(e.delta) \
         FROM stock_ledger_entries e WHERE e.inventory_item_id = i.id), 0)"
            .to_owned(),
    )
    .await?;
    for row in rows {
        let id: i32 = row.try_get("", "id").map_err(|e| e.to_string())?;
        problems.push(format!("item {id}: on hand differs from its ledger"));
    }
    Ok(problems)
}

async fn pgbench(config: &BenchConfig) -> Result<f64, String> {
    let present = tokio::process::Command::new("pgbench")
        .arg("--version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !present {
        return Err("skipped: pgbench is not installed".into());
    }
    let (url, name) = fresh_database("PostgreSQL", config).await?;
    let run = async {
        let init = tokio::process::Command::new("pgbench")
            .args(["-i", "-q", "-s", "1", &url])
            .output()
            .await
            .map_err(|e| e.to_string())?;
        if !init.status.success() {
            return Err(format!(
                "pgbench -i failed: {}",
                String::from_utf8_lossy(&init.stderr)
            ));
        }
        let seconds = config.pgbench_seconds.to_string();
        let bench = tokio::process::Command::new("pgbench")
            .args(["-n", "-c", "32", "-j", "2", "-T", &seconds, &url])
            .output()
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&bench.stdout);
        text.lines()
            .find(|l| l.starts_with("tps = "))
            .and_then(|l| l.split_whitespace().nth(2)?.parse::<f64>().ok())
            .ok_or_else(|| format!("no tps in pgbench output: {text}"))
    }
    .await;
    drop_database(&url, name, config).await;
    run
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "–".into()
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

#[allow(clippy::too_many_lines)]
fn render(report: &Report, config: &BenchConfig) -> String {
    let mut out = String::new();
    let s = &report.seed;
    let _ = writeln!(
        out,
        "### {} ({})\n\nData: scale {}: {} vendors, {} products, {} locations, {} orders with \
         {} lines ({} submitted, {} received), seeded in {:.1} s. {:.1} s per measurement; the \
         50-order page is {} bytes of JSON.\n",
        report.name,
        report.version,
        config.scale,
        s.vendors,
        s.products,
        s.locations,
        s.orders,
        s.lines,
        s.submitted,
        s.received,
        s.seconds,
        config.duration,
        report.response_bytes
    );
    let _ = writeln!(
        out,
        "| scenario | clients | req/s | p50 ms | p99 ms | SQL statements/req | server CPU ms/req \
         | server RSS / peak MiB | failed |\n|---|---|---|---|---|---|---|---|---|"
    );
    for row in report.rows.iter().chain(report.receive.as_ref()) {
        let _ = writeln!(out, "{}", row.line());
    }
    let _ = writeln!(
        out,
        "\nCeilings (same run, same concurrency): raw SQL = the page's {} minimal statements \
         over a pool of 10; in memory = the same response from a bare async-graphql schema \
         (harness CPU).\n\n| ceiling | page | clients | req/s | p50 ms | p99 ms | CPU ms/req |\n\
         |---|---|---|---|---|---|---|",
        ceiling::PAGE_STATEMENTS
    );
    for (n, clients, run) in &report.sql {
        let _ = writeln!(
            out,
            "| raw SQL | {n} | {clients} | {:.0} | {:.1} | {:.1} | – |",
            run.per_second(),
            run.quantile_ms(0.5),
            run.quantile_ms(0.99)
        );
    }
    for (n, clients, run, cpu) in &report.memory {
        let _ = writeln!(
            out,
            "| in memory | {n} | {clients} | {:.0} | {:.2} | {:.2} | {cpu:.2} |",
            run.per_second(),
            run.quantile_ms(0.5),
            run.quantile_ms(0.99)
        );
    }
    let _ = writeln!(
        out,
        "\n| page | clients | service ÷ raw SQL (req/s) | service ÷ in memory (req/s) | service \
         CPU ÷ in-memory CPU |\n|---|---|---|---|---|"
    );
    let find_row = |n: usize, clients: usize| {
        report
            .rows
            .iter()
            .find(|r| r.scenario == format!("nested page, {n} orders") && r.clients == clients)
    };
    for (n, clients, sql) in &report.sql {
        let memory = report
            .memory
            .iter()
            .find(|(m, c, _, _)| m == n && c == clients);
        let page = format!("nested page, {n} orders");
        // One line per binary measured (labelled after the first).
        let rows = report.rows.iter().filter(|r| {
            r.clients == *clients
                && (r.scenario == page || r.scenario.starts_with(&format!("{page} [")))
        });
        for row in rows {
            let Some((_, _, mem, cpu)) = memory else {
                continue;
            };
            let label = row.scenario.strip_prefix(&page).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {n}{label} | {clients} | {} | {} | {} |",
                ratio(row.run.per_second(), sql.per_second()),
                ratio(row.run.per_second(), mem.per_second()),
                ratio(row.cpu_ms, *cpu)
            );
        }
    }
    let receive = report.receive.clone().unwrap_or_default();
    let pgbench = report
        .pgbench_tps
        .map_or(report.pgbench_note.clone(), |tps| {
            format!(
                "{tps:.0} tps (TPC-B, 32 clients, {} s); receipts/s ÷ pgbench = {}",
                config.pgbench_seconds,
                ratio(receive.run.per_second(), tps)
            )
        });
    // Scenarios left out (`--scenarios`) print nothing rather than zeros.
    if config.runs(Scenario::Receive) {
        let _ = writeln!(
            out,
            "\nReceiving: {} receipts/s at {} clients on one order's hot lines, {:.1} SQL \
         statements per receipt; books after the run: {}. pgbench: {pgbench}.",
            format_args!("{:.0}", receive.run.per_second()),
            receive.clients,
            receive.statements_per_request,
            if report.books.is_empty() {
                "balanced, 0 lost updates".to_owned()
            } else {
                format!("{} problems: {:?}", report.books.len(), report.books)
            }
        );
    }
    let fan = &report.fanout;
    if config.runs(Scenario::Fanout) {
        let _ = writeln!(
            out,
            "\nFan-out: {} of {} subscribers connected, {} status changes, {} of {} deliveries; \
         commit (`occurredAt`) → delivery p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms.\n",
            fan.connected,
            fan.subscribers,
            fan.events,
            fan.delivered,
            fan.expected,
            fanout::quantile(&fan.latencies_ms, 0.5),
            fanout::quantile(&fan.latencies_ms, 0.99),
            fanout::quantile(&fan.latencies_ms, 1.0)
        );
    }
    // The targets of issue 13, at the highest concurrency measured.
    let top = config.concurrency.iter().copied().max().unwrap_or(1);
    if let (Some(row), Some((_, _, sql)), Some((_, _, _, cpu))) = (
        find_row(50, top),
        report.sql.iter().find(|(n, c, _)| *n == 50 && *c == top),
        report
            .memory
            .iter()
            .find(|(n, c, _, _)| *n == 50 && *c == top),
    ) {
        let share = row.run.per_second() / sql.per_second().max(1e-9);
        let peak = report
            .rows
            .iter()
            .filter(|r| r.scenario.starts_with("nested"))
            .map(|r| r.hwm_mib)
            .fold(0.0, f64::max);
        let receive_share = report
            .pgbench_tps
            .map(|tps| receive.run.per_second() / tps.max(1e-9));
        let fan_p99 = fanout::quantile(&fan.latencies_ms, 0.99);
        let _ = writeln!(
            out,
            "Targets of issue 13 (50-order page at {top} clients):\n\n| target | measured | \
             |\n|---|---|---|\n\
             | ≥ 40 % of raw-SQL throughput | {:.0} % | {} |\n\
             | ≤ 6 statements per request | {:.2} | {} |\n\
             | p99 ≤ 250 ms | {:.1} ms | {} |\n\
             | CPU ≤ 3× in-memory ceiling | {:.1}× | {} |\n\
             | receive ≥ 25 % of pgbench TPC-B, 0 lost updates | {}, {} lost | {} |\n\
             | fan-out p99 < 200 ms ({} subscribers) | {:.1} ms | {} |\n\
             | RSS < 150 MB under the page load | {:.0} MiB peak | {} |\n",
            share * 100.0,
            met(share >= 0.4),
            row.statements_per_request,
            met(row.statements_per_request <= 6.0),
            row.run.quantile_ms(0.99),
            met(row.run.quantile_ms(0.99) <= 250.0),
            row.cpu_ms / cpu.max(1e-9),
            met(row.cpu_ms <= 3.0 * cpu),
            receive_share.map_or("no pgbench".to_owned(), |r| format!("{:.0} %", r * 100.0)),
            report.lost_updates,
            match receive_share {
                Some(r) => met(r >= 0.25 && report.lost_updates == 0),
                None => "–",
            },
            fan.connected,
            fan_p99,
            if config.runs(Scenario::Fanout) {
                met(fan_p99 < 200.0 && fan.delivered == fan.expected && fan.expected > 0)
            } else {
                "not run"
            },
            peak,
            met(peak * 1.048_576 < 150.0)
        );
    }
    out
}
