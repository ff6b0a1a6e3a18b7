//! Configuration: every setting is a flag with an environment-variable twin.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default of every setting with one: clap's `default_value_t` and the `Default` impls
/// (which tests and in-process servers use) both read these, so they cannot drift apart.
pub mod defaults {
    use rust_decimal::Decimal;

    /// `--database-url`.
    pub const DATABASE_URL: &str = "sqlite://stockgraph.db";
    /// `--pool-size`.
    pub const POOL_SIZE: u32 = 10;
    /// `--max-depth`.
    pub const MAX_DEPTH: usize = 12;
    /// `--max-nodes`.
    pub const MAX_NODES: usize = 50_000;
    /// `--max-page-size`.
    pub const MAX_PAGE_SIZE: usize = 50;
    /// `--max-aliases`.
    pub const MAX_ALIASES: usize = 30;
    /// `--max-directives`.
    pub const MAX_DIRECTIVES: usize = 30;
    /// `--max-batch`.
    pub const MAX_BATCH: usize = 10;
    /// `--max-selections`.
    pub const MAX_SELECTIONS: usize = 1000;
    /// `--max-operations`.
    pub const MAX_OPERATIONS: usize = 20;
    /// `--list-cost`.
    pub const LIST_COST: usize = 20;
    /// `--max-concurrent-per-caller`.
    pub const MAX_CONCURRENT_PER_CALLER: usize = 4;
    /// `--max-queued-per-caller`.
    pub const MAX_QUEUED_PER_CALLER: usize = 500;
    /// `--max-body-bytes`: 1 MiB.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;
    /// `--request-timeout-secs`.
    pub const REQUEST_TIMEOUT_SECS: u64 = 30;
    /// `--max-subscriptions`.
    pub const MAX_SUBSCRIPTIONS: usize = 20;
    /// `--ws-ping-secs`.
    pub const WS_PING_SECS: u64 = 15;
    /// `--introspection`.
    pub const INTROSPECTION: bool = true;
    /// `--header-timeout-secs`.
    pub const HEADER_TIMEOUT_SECS: u64 = 10;
    /// `--idle-timeout-secs`.
    pub const IDLE_TIMEOUT_SECS: u64 = 60;
    /// `--max-connections`.
    pub const MAX_CONNECTIONS: usize = 1024;
    /// `--max-pending-ws`.
    pub const MAX_PENDING_WS: usize = 64;
    /// `--ws-init-timeout-secs`.
    pub const WS_INIT_TIMEOUT_SECS: u64 = 10;
    /// `--apq-max-entries`.
    pub const APQ_MAX_ENTRIES: usize = 1000;
    /// `--apq-max-bytes`: 4 MiB.
    pub const APQ_MAX_BYTES: usize = 4 * 1024 * 1024;
    /// `--base-currency`.
    pub const BASE_CURRENCY: &str = "USD";
    /// `--over-receipt-percent`.
    pub const OVER_RECEIPT_PERCENT: Decimal = Decimal::ZERO;
    /// `--idempotency-retention-hours`.
    pub const IDEMPOTENCY_RETENTION_HOURS: u64 = 24;
    /// `--bind`.
    pub const BIND: &str = "127.0.0.1";
    /// `--port`.
    pub const PORT: u16 = 8000;
    /// `--event-retention-hours`.
    pub const EVENT_RETENTION_HOURS: u64 = 72;
}

/// Where the data lives.
#[derive(clap::Args, Clone, Debug)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://FILE` (created when missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = defaults::DATABASE_URL)]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "STOCKGRAPH_POOL_SIZE", default_value_t = defaults::POOL_SIZE)]
    pub pool_size: u32,
}

/// Token signing.
#[derive(clap::Args, Clone, Debug)]
pub struct AuthConfig {
    /// Secret that signs and verifies HS256 tokens. Required on PostgreSQL; on SQLite one is
    /// generated on first start and kept beside the database file.
    #[arg(long, env = "STOCKGRAPH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

/// Limits that protect the service from expensive or oversized requests.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Deepest allowed selection nesting of a query.
    #[arg(long, env = "STOCKGRAPH_MAX_DEPTH", default_value_t = defaults::MAX_DEPTH)]
    pub max_depth: usize,

    /// Most nodes a query may ask for, counted as each connection's page size times its children.
    #[arg(long, env = "STOCKGRAPH_MAX_NODES", default_value_t = defaults::MAX_NODES)]
    pub max_nodes: usize,

    /// Largest page a connection may return (`first` / `last`).
    #[arg(long, env = "STOCKGRAPH_MAX_PAGE_SIZE", default_value_t = defaults::MAX_PAGE_SIZE)]
    pub max_page_size: usize,

    /// Most aliased fields in one operation.
    #[arg(long, env = "STOCKGRAPH_MAX_ALIASES", default_value_t = defaults::MAX_ALIASES)]
    pub max_aliases: usize,

    /// Most directives in one operation.
    #[arg(long, env = "STOCKGRAPH_MAX_DIRECTIVES", default_value_t = defaults::MAX_DIRECTIVES)]
    pub max_directives: usize,

    /// Most operations in one batched request.
    #[arg(long, env = "STOCKGRAPH_MAX_BATCH", default_value_t = defaults::MAX_BATCH)]
    pub max_batch: usize,

    /// Most selections (fields, fragment spreads, inline fragments) one operation may run,
    /// counting every repetition and every expansion of a fragment.
    #[arg(long, env = "STOCKGRAPH_MAX_SELECTIONS", default_value_t = defaults::MAX_SELECTIONS)]
    pub max_selections: usize,

    /// Most operations one document may define.
    #[arg(long, env = "STOCKGRAPH_MAX_OPERATIONS", default_value_t = defaults::MAX_OPERATIONS)]
    pub max_operations: usize,

    /// Objects an unpaginated list (an order's receipts, bills and backorders, a receipt's or
    /// bill's lines, reorder suggestions) is assumed to hold when nodes are counted.
    #[arg(long, env = "STOCKGRAPH_LIST_COST", default_value_t = defaults::LIST_COST)]
    pub list_cost: usize,

    /// Most operations one caller (token subject) may run at once; 0 means no limit.
    #[arg(
        long,
        env = "STOCKGRAPH_MAX_CONCURRENT_PER_CALLER",
        default_value_t = defaults::MAX_CONCURRENT_PER_CALLER
    )]
    pub max_concurrent_per_caller: usize,

    /// Most operations of one caller that may wait for one of its running ones to finish;
    /// more are refused.
    #[arg(long, env = "STOCKGRAPH_MAX_QUEUED_PER_CALLER", default_value_t = defaults::MAX_QUEUED_PER_CALLER)]
    pub max_queued_per_caller: usize,

    /// Largest request body, in bytes.
    #[arg(long, env = "STOCKGRAPH_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Time limit for one request, in seconds.
    #[arg(long, env = "STOCKGRAPH_REQUEST_TIMEOUT_SECS", default_value_t = defaults::REQUEST_TIMEOUT_SECS)]
    pub request_timeout_secs: u64,

    /// Most subscriptions one WebSocket connection may hold at once.
    #[arg(long, env = "STOCKGRAPH_MAX_SUBSCRIPTIONS", default_value_t = defaults::MAX_SUBSCRIPTIONS)]
    pub max_subscriptions: usize,

    /// Seconds between keep-alive pings on WebSocket connections.
    #[arg(long, env = "STOCKGRAPH_WS_PING_SECS", default_value_t = defaults::WS_PING_SECS)]
    pub ws_ping_secs: u64,

    /// Allow schema introspection (GraphiQL needs it).
    #[arg(long, env = "STOCKGRAPH_INTROSPECTION", default_value_t = defaults::INTROSPECTION, action = clap::ArgAction::Set)]
    pub introspection: bool,
}

impl LimitsConfig {
    /// The per-request time limit.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_depth: defaults::MAX_DEPTH,
            max_nodes: defaults::MAX_NODES,
            max_page_size: defaults::MAX_PAGE_SIZE,
            max_aliases: defaults::MAX_ALIASES,
            max_directives: defaults::MAX_DIRECTIVES,
            max_batch: defaults::MAX_BATCH,
            max_selections: defaults::MAX_SELECTIONS,
            max_operations: defaults::MAX_OPERATIONS,
            list_cost: defaults::LIST_COST,
            max_concurrent_per_caller: defaults::MAX_CONCURRENT_PER_CALLER,
            max_queued_per_caller: defaults::MAX_QUEUED_PER_CALLER,
            max_body_bytes: defaults::MAX_BODY_BYTES,
            request_timeout_secs: defaults::REQUEST_TIMEOUT_SECS,
            max_subscriptions: defaults::MAX_SUBSCRIPTIONS,
            ws_ping_secs: defaults::WS_PING_SECS,
            introspection: defaults::INTROSPECTION,
        }
    }
}

/// Connection hygiene: how long and how many connections may stay open (issue 12, finding 2).
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct TransportConfig {
    /// Seconds a client has to send a request's headers. A kept-alive connection waiting for its
    /// next request is waiting for headers too, so this also closes idle keep-alive connections.
    #[arg(long, env = "STOCKGRAPH_HEADER_TIMEOUT_SECS", default_value_t = defaults::HEADER_TIMEOUT_SECS)]
    pub header_timeout_secs: u64,

    /// Seconds an HTTP connection may move no byte in either direction (a stalled body, a
    /// stalled reader) before it is closed. Keep it above the request time limit.
    #[arg(long, env = "STOCKGRAPH_IDLE_TIMEOUT_SECS", default_value_t = defaults::IDLE_TIMEOUT_SECS)]
    pub idle_timeout_secs: u64,

    /// Most open TCP connections (HTTP and WebSocket together). Further clients wait in the
    /// listen backlog until one closes. Keep it below the process's file-descriptor limit.
    #[arg(long, env = "STOCKGRAPH_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Most WebSocket connections that have not yet completed `connection_init`; further
    /// upgrades are refused with 503.
    #[arg(long, env = "STOCKGRAPH_MAX_PENDING_WS", default_value_t = defaults::MAX_PENDING_WS)]
    pub max_pending_ws: usize,

    /// Seconds a WebSocket client has to complete `connection_init` before it is closed with
    /// 4408.
    #[arg(long, env = "STOCKGRAPH_WS_INIT_TIMEOUT_SECS", default_value_t = defaults::WS_INIT_TIMEOUT_SECS)]
    pub ws_init_timeout_secs: u64,
}

impl TransportConfig {
    /// The header-read (and keep-alive) timeout.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs.max(1))
    }

    /// The no-traffic timeout of an HTTP connection.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }

    /// The `connection_init` deadline of a WebSocket.
    pub fn ws_init_timeout(&self) -> Duration {
        Duration::from_secs(self.ws_init_timeout_secs.max(1))
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            header_timeout_secs: defaults::HEADER_TIMEOUT_SECS,
            idle_timeout_secs: defaults::IDLE_TIMEOUT_SECS,
            max_connections: defaults::MAX_CONNECTIONS,
            max_pending_ws: defaults::MAX_PENDING_WS,
            ws_init_timeout_secs: defaults::WS_INIT_TIMEOUT_SECS,
        }
    }
}

/// GraphQL-over-HTTP conventions of browsers and clients: CORS, persisted queries, trusted
/// documents.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct ProtocolConfig {
    /// Origins (`scheme://host[:port]`, comma-separated; `*` for any) whose browser pages may
    /// call the API (CORS). None by default; `--demo` adds `http://localhost:*`,
    /// `http://127.0.0.1:*` and `http://[::1]:*`.
    #[arg(long, env = "STOCKGRAPH_CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// A JSON manifest of trusted documents (SHA-256 hash → document, as GraphQL Codegen's
    /// `persisted-documents.json`, or Apollo's persisted query manifest). When set, only these
    /// operations run, over HTTP and WebSocket alike; everything else is refused with
    /// `PERSISTED_QUERY_NOT_ALLOWED`.
    #[arg(long, env = "STOCKGRAPH_TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<PathBuf>,

    /// Most documents the automatic-persisted-query store of a process keeps (least recently
    /// used leave first); 0 stores none, so every hash alone is answered
    /// `PERSISTED_QUERY_NOT_FOUND`.
    #[arg(long, env = "STOCKGRAPH_APQ_MAX_ENTRIES", default_value_t = defaults::APQ_MAX_ENTRIES)]
    pub apq_max_entries: usize,

    /// Most bytes of documents the automatic-persisted-query store keeps.
    #[arg(long, env = "STOCKGRAPH_APQ_MAX_BYTES", default_value_t = defaults::APQ_MAX_BYTES)]
    pub apq_max_bytes: usize,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self {
            cors_allowed_origins: Vec::new(),
            trusted_documents: None,
            apq_max_entries: defaults::APQ_MAX_ENTRIES,
            apq_max_bytes: defaults::APQ_MAX_BYTES,
        }
    }
}

/// The protocol settings the running service uses, built from [`ProtocolConfig`].
#[derive(Clone, Debug)]
pub struct ProtocolSettings {
    /// Which browser origins may call the API.
    pub cors: crate::cors::CorsPolicy,
    /// Most documents in the automatic-persisted-query store.
    pub apq_max_entries: usize,
    /// Most bytes of documents in the automatic-persisted-query store.
    pub apq_max_bytes: usize,
    /// Trusted-documents mode: only these operations run.
    pub trusted_documents: Option<std::sync::Arc<crate::persisted::TrustedDocuments>>,
}

impl Default for ProtocolSettings {
    fn default() -> Self {
        let config = ProtocolConfig::default();
        Self {
            cors: crate::cors::CorsPolicy::default(),
            apq_max_entries: config.apq_max_entries,
            apq_max_bytes: config.apq_max_bytes,
            trusted_documents: None,
        }
    }
}

impl ProtocolConfig {
    /// The settings: the CORS policy (with loopback origins when `demo`) and the trusted
    /// documents read from their file.
    pub fn settings(&self, demo: bool) -> Result<ProtocolSettings, String> {
        let trusted_documents = match &self.trusted_documents {
            Some(path) => Some(std::sync::Arc::new(
                crate::persisted::TrustedDocuments::load(path)?,
            )),
            None => None,
        };
        Ok(ProtocolSettings {
            cors: crate::cors::CorsPolicy::new(&self.cors_allowed_origins, demo),
            apq_max_entries: self.apq_max_entries,
            apq_max_bytes: self.apq_max_bytes,
            trusted_documents,
        })
    }
}

/// Business settings.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct BusinessConfig {
    /// ISO 4217 code of the base (accounting) currency.
    #[arg(long, env = "STOCKGRAPH_BASE_CURRENCY", default_value = defaults::BASE_CURRENCY)]
    pub base_currency: String,

    /// Default over-receipt allowance, in percent of a line's ordered quantity.
    #[arg(long, env = "STOCKGRAPH_OVER_RECEIPT_PERCENT", default_value_t = defaults::OVER_RECEIPT_PERCENT)]
    pub over_receipt_percent: rust_decimal::Decimal,

    /// Hours an idempotency key is remembered; a retry after that is a new request.
    #[arg(
        long,
        env = "STOCKGRAPH_IDEMPOTENCY_RETENTION_HOURS",
        default_value_t = defaults::IDEMPOTENCY_RETENTION_HOURS
    )]
    pub idempotency_retention_hours: u64,
}

impl BusinessConfig {
    /// How long idempotency keys are kept.
    pub fn idempotency_retention(&self) -> chrono::Duration {
        let hours = i64::try_from(self.idempotency_retention_hours).unwrap_or(i64::MAX);
        chrono::Duration::try_hours(hours).unwrap_or(chrono::Duration::MAX)
    }
}

impl Default for BusinessConfig {
    fn default() -> Self {
        Self {
            base_currency: defaults::BASE_CURRENCY.to_owned(),
            over_receipt_percent: defaults::OVER_RECEIPT_PERCENT,
            idempotency_retention_hours: defaults::IDEMPOTENCY_RETENTION_HOURS,
        }
    }
}

/// Settings of `stockgraph serve`.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub auth: AuthConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub business: BusinessConfig,

    #[command(flatten)]
    pub transport: TransportConfig,

    #[command(flatten)]
    pub protocol: ProtocolConfig,

    /// Address to listen on.
    #[arg(long, env = "STOCKGRAPH_BIND", default_value = defaults::BIND)]
    pub bind: IpAddr,

    /// Port to listen on.
    #[arg(long, env = "STOCKGRAPH_PORT", default_value_t = defaults::PORT)]
    pub port: u16,

    /// Hours committed events stay in the outbox (for replicas catching up) before pruning.
    #[arg(long, env = "STOCKGRAPH_EVENT_RETENTION_HOURS", default_value_t = defaults::EVENT_RETENTION_HOURS)]
    pub event_retention_hours: u64,

    /// Fill an empty database with a small demo data set before serving. When this process
    /// seeded the database and listens on a loopback address, GraphiQL pages asked for through a
    /// loopback host name start with a one-hour admin token (printed once at start) that only
    /// this process accepts.
    #[arg(long)]
    pub demo: bool,
}

/// Path of the file that keeps the generated token secret of a SQLite database.
pub fn secret_file_for(database_url: &str) -> Option<PathBuf> {
    let path = crate::db::sqlite_path(database_url)?;
    let mut name = path.file_name()?.to_os_string();
    name.push(".jwt-secret");
    Some(path.with_file_name(name))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    /// Every settings group with a `Default` impl, as `serve` parses it.
    #[derive(clap::Parser, Debug)]
    struct Flags {
        #[command(flatten)]
        limits: LimitsConfig,
        #[command(flatten)]
        transport: TransportConfig,
        #[command(flatten)]
        protocol: ProtocolConfig,
        #[command(flatten)]
        business: BusinessConfig,
    }

    #[test]
    fn the_flags_defaults_are_the_default_impls() {
        // Environment variables would stand in for missing flags: the command reads none here.
        let command = Flags::command().mut_args(|arg| arg.env(None));
        let matches = command.try_get_matches_from(["stockgraph"]).unwrap();
        let flags = Flags::from_arg_matches(&matches).unwrap();
        assert_eq!(flags.limits, LimitsConfig::default());
        assert_eq!(flags.transport, TransportConfig::default());
        assert_eq!(flags.protocol, ProtocolConfig::default());
        assert_eq!(flags.business, BusinessConfig::default());
    }
}
