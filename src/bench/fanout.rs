//! Subscription fan-out: many graphql-transport-ws clients on `purchaseOrderStatusChanged`,
//! then status changes, and how long each event took from its commit to each subscriber.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// One delivery: which subscriber, and the event's `occurredAt` to arrival in ms.
struct Delivery {
    latency_ms: f64,
}

/// What the fan-out saw.
#[derive(Debug, Default, Clone)]
pub struct FanOut {
    pub subscribers: usize,
    pub connected: usize,
    pub events: usize,
    /// Deliveries expected (connected × events) and received.
    pub expected: usize,
    pub delivered: usize,
    /// Commit (the event's `occurredAt`, stamped in the committing transaction) → arrival.
    pub latencies_ms: Vec<f64>,
    pub failures: Vec<String>,
}

const SUBSCRIPTION: &str = "subscription($id: ID) { purchaseOrderStatusChanged(purchaseOrderId: \
                            $id) { status previousStatus occurredAt } }";

/// Connects one subscriber and forwards each event it receives.
async fn subscriber(
    address: SocketAddr,
    token: String,
    order_id: String,
    ready: mpsc::Sender<Result<(), String>>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    stop: Arc<tokio::sync::Notify>,
) {
    let fail = |e: String| {
        let ready = ready.clone();
        async move {
            let _ = ready.send(Err(e)).await;
        }
    };
    let mut request = match format!("ws://{address}/graphql/ws").into_client_request() {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()).await,
    };
    if let Ok(value) = "graphql-transport-ws".parse() {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", value);
    }
    let mut socket = match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => socket,
        Err(e) => return fail(format!("connect: {e}")).await,
    };
    let send = |v: Value| Message::Text(v.to_string().into());
    if socket
        .send(send(json!({ "type": "connection_init",
            "payload": { "authorization": format!("Bearer {token}") } })))
        .await
        .is_err()
    {
        return fail("init not sent".into()).await;
    }
    // Wait for the ack, then subscribe.
    loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).unwrap_or_default();
                if message["type"] == "connection_ack" {
                    break;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => return fail(format!("no connection_ack: {other:?}")).await,
        }
    }
    if socket
        .send(send(json!({ "id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIPTION, "variables": { "id": order_id } } })))
        .await
        .is_err()
    {
        return fail("subscribe not sent".into()).await;
    }
    let _ = ready.send(Ok(())).await;
    loop {
        let message = tokio::select! {
            m = socket.next() => m,
            _ = stop.notified() => break,
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                let arrived = chrono::Utc::now();
                let message: Value = serde_json::from_str(&text).unwrap_or_default();
                match message["type"].as_str() {
                    Some("next") => {
                        let occurred = message["payload"]["data"]["purchaseOrderStatusChanged"]
                            ["occurredAt"]
                            .as_str()
                            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
                        if let Some(occurred) = occurred {
                            let latency = arrived.signed_duration_since(occurred);
                            let _ = deliveries.send(Delivery {
                                latency_ms: latency.num_microseconds().unwrap_or_default() as f64
                                    / 1000.0,
                            });
                        }
                    }
                    Some("ping") => {
                        let _ = socket.send(send(json!({ "type": "pong" }))).await;
                    }
                    _ => {}
                }
            }
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    let _ = socket.close(None).await;
}

/// Subscribes `tokens.len()` clients to `order_id`'s status changes, waits until the server
/// runs all their subscriptions, then calls `change` once per event (each must commit one
/// status change of that order) and collects the deliveries.
pub async fn run<F, Fut, R, RFut>(
    address: SocketAddr,
    tokens: &[String],
    order_id: &str,
    running: R,
    events: usize,
    mut change: F,
) -> FanOut
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
    R: Fn() -> RFut,
    RFut: std::future::Future<Output = f64>,
{
    let mut report = FanOut {
        subscribers: tokens.len(),
        events,
        ..Default::default()
    };
    let (ready_tx, mut ready_rx) = mpsc::channel(tokens.len().max(1));
    let (delivery_tx, mut delivery_rx) = mpsc::unbounded_channel();
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    // Connect in waves, so the server's pending-handshake limit is never what is measured.
    let permits = Arc::new(tokio::sync::Semaphore::new(64));
    for token in tokens {
        let (token, order_id) = (token.clone(), order_id.to_owned());
        let (ready, deliveries, stop) = (ready_tx.clone(), delivery_tx.clone(), stop.clone());
        let permits = permits.clone();
        tasks.push(tokio::spawn(async move {
            let permit = permits.acquire_owned().await;
            let (inner_ready, mut inner_rx) = mpsc::channel(1);
            let task = tokio::spawn(subscriber(
                address,
                token,
                order_id,
                inner_ready,
                deliveries,
                stop,
            ));
            let outcome = inner_rx
                .recv()
                .await
                .unwrap_or_else(|| Err("subscriber ended".into()));
            drop(permit);
            let _ = ready.send(outcome).await;
            drop(ready);
            let _ = task.await;
        }));
    }
    drop(ready_tx);
    drop(delivery_tx);
    for _ in 0..tokens.len() {
        let Some(outcome) = ready_rx.recv().await else {
            break;
        };
        match outcome {
            Ok(()) => report.connected += 1,
            Err(e) if report.failures.len() < 5 => report.failures.push(e),
            Err(_) => {}
        }
    }
    // The subscribe message is sent; wait (bounded) until the server runs every subscription.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && (running().await as usize) < report.connected {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    report.expected = report.connected * events;
    for event in 0..events {
        if let Err(e) = change(event).await {
            report.failures.push(format!("status change {event}: {e}"));
            report.expected -= report.connected;
            continue;
        }
        // Wait (bounded) for this event to reach every subscriber.
        let want = report.connected * (event + 1);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while report.latencies_ms.len() < want {
            match tokio::time::timeout_at(deadline, delivery_rx.recv()).await {
                Ok(Some(delivery)) => report.latencies_ms.push(delivery.latency_ms),
                _ => break,
            }
        }
    }
    report.delivered = report.latencies_ms.len();
    stop.notify_waiters();
    for task in tasks {
        task.abort();
    }
    report
}

/// The `q`-quantile of `samples` (nearest rank); 0 when empty.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
