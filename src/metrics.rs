//! `GET /metrics`: a few counters in the Prometheus text format, written by hand (the set is
//! small and fixed, so a metrics crate would bring more than it saves).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// SQL statements run by this process, by who ran them. Process-wide because sea-orm's metric
/// callback is attached to a connection handle, before any router (and its [`Metrics`]) exists.
static STATEMENTS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Who ran a statement: requests (HTTP and WebSocket operations) or the background work
/// (outbox dispatcher polls, event pruning, idempotency-key pruning), which runs whether or not
/// anyone asks; kept apart so "statements per request" is honest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementSource {
    Requests,
    Background,
}

impl StatementSource {
    fn label(self) -> &'static str {
        match self {
            StatementSource::Requests => "requests",
            StatementSource::Background => "background",
        }
    }
}

/// A handle on `db` whose every statement is counted under `source` on `/metrics`.
pub fn counting(
    db: &sea_orm::DatabaseConnection,
    source: StatementSource,
) -> sea_orm::DatabaseConnection {
    let mut counted = db.clone();
    counted.set_metric_callback(move |_| {
        STATEMENTS[source as usize].fetch_add(1, Ordering::Relaxed);
    });
    counted
}

/// Statements counted so far under `source`.
pub fn statements(source: StatementSource) -> u64 {
    STATEMENTS[source as usize].load(Ordering::Relaxed)
}

/// Counters of one running service.
#[derive(Debug, Default)]
pub struct Metrics {
    /// GraphQL operations executed over HTTP.
    pub graphql_operations: AtomicU64,
    /// Of those, the ones answered with errors.
    pub graphql_errors: AtomicU64,
    /// WebSocket connections open now.
    pub websocket_connections: AtomicUsize,
    /// Subscriptions running now, over all connections.
    pub subscriptions: Arc<AtomicUsize>,
}

impl Metrics {
    /// The exposition text; `events_delivered` comes from the event bus.
    pub fn render(&self, events_delivered: u64) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "stockgraph_graphql_operations_total",
            "counter",
            "GraphQL operations executed over HTTP.",
            self.graphql_operations.load(Ordering::Relaxed),
        );
        metric(
            "stockgraph_graphql_errors_total",
            "counter",
            "GraphQL operations answered with errors.",
            self.graphql_errors.load(Ordering::Relaxed),
        );
        metric(
            "stockgraph_websocket_connections",
            "gauge",
            "WebSocket connections open now.",
            self.websocket_connections.load(Ordering::Relaxed) as u64,
        );
        metric(
            "stockgraph_subscriptions",
            "gauge",
            "Subscriptions running now.",
            self.subscriptions.load(Ordering::Relaxed) as u64,
        );
        metric(
            "stockgraph_events_delivered_total",
            "counter",
            "Committed events fanned out to this process's subscribers.",
            events_delivered,
        );
        let name = "stockgraph_sql_statements_total";
        let _ = writeln!(
            out,
            "# HELP {name} SQL statements run, by source (requests, or background work such as \
             outbox polls).\n# TYPE {name} counter"
        );
        for source in [StatementSource::Requests, StatementSource::Background] {
            let _ = writeln!(
                out,
                "{name}{{source=\"{}\"}} {}",
                source.label(),
                statements(source)
            );
        }
        out
    }
}

/// Counts a WebSocket connection for as long as it lives.
pub struct ConnectionGuard(Arc<Metrics>);

impl ConnectionGuard {
    /// Counts one more open connection.
    pub fn open(metrics: Arc<Metrics>) -> Self {
        metrics
            .websocket_connections
            .fetch_add(1, Ordering::Relaxed);
        Self(metrics)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.websocket_connections.fetch_sub(1, Ordering::Relaxed);
    }
}
