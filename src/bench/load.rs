//! The load generator: keep-alive HTTP/1.1 clients, one connection and one token each, that
//! check every response body (GraphQL errors come back as HTTP 200).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Checks one response's `data`; `Err` says what is wrong.
pub type Check = Arc<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

/// Builds the request body of a client's `n`-th request.
pub type Body = Arc<dyn Fn(usize, usize) -> Bytes + Send + Sync>;

/// What a run of clients saw.
#[derive(Debug, Default, Clone)]
pub struct Run {
    pub ok: usize,
    pub failed: usize,
    /// The first few failures, for the report.
    pub failures: Vec<String>,
    /// Latency of every successful request.
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q`-quantile latency in milliseconds (nearest rank).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies, q)
    }

    fn merge(&mut self, other: Run) {
        self.ok += other.ok;
        self.failed += other.failed;
        for f in other.failures {
            if self.failures.len() < 5 {
                self.failures.push(f);
            }
        }
        self.latencies.extend(other.latencies);
    }
}

/// The `q`-quantile of `samples` in milliseconds (nearest rank); 0 when empty.
pub fn quantile_ms(samples: &[Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// One keep-alive connection.
pub struct Client {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
    token: String,
}

impl Client {
    pub async fn connect(address: SocketAddr, token: &str) -> Result<Self, String> {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("connect {address}: {e}"))?;
        stream.set_nodelay(true).ok();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: address.to_string(),
            token: token.to_owned(),
        })
    }

    /// POSTs a GraphQL request; returns the `data` of an answer without errors.
    pub async fn graphql(&mut self, body: Bytes) -> Result<Value, String> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let request = Request::post("/graphql")
            .header("host", &self.host)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.token))
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        let mut json: Value = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "HTTP {status}, not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )
        })?;
        if let Some(errors) = json.get("errors") {
            return Err(format!("HTTP {status}, errors: {errors}"));
        }
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        match json.get_mut("data").map(Value::take) {
            Some(data) if !data.is_null() => Ok(data),
            _ => Err(format!("HTTP {status}, no data")),
        }
    }
}

/// `tokens.len()` clients, each on its own connection with its own token, send requests back
/// to back for `duration`, checking every answer.
pub async fn drive(
    address: SocketAddr,
    tokens: &[String],
    duration: Duration,
    body: Body,
    check: Check,
) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (client_index, token) in tokens.iter().enumerate() {
        let (token, body, check) = (token.clone(), body.clone(), check.clone());
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            let mut client = match Client::connect(address, &token).await {
                Ok(client) => client,
                Err(e) => {
                    run.failed += 1;
                    run.failures.push(e);
                    return run;
                }
            };
            let mut n = 0;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let answer = client.graphql(body(client_index, n)).await;
                n += 1;
                match answer.and_then(|data| check(&data)) {
                    Ok(()) => {
                        run.ok += 1;
                        run.latencies.push(sent.elapsed());
                    }
                    Err(e) => {
                        run.failed += 1;
                        if run.failures.len() < 5 {
                            run.failures.push(e);
                        }
                        // A broken connection stays broken: open a new one.
                        if let Ok(fresh) = Client::connect(address, &token).await {
                            client = fresh;
                        }
                    }
                }
            }
            run
        }));
    }
    let mut total = Run::default();
    for task in tasks {
        match task.await {
            Ok(run) => total.merge(run),
            Err(e) => {
                total.failed += 1;
                total.failures.push(format!("client task: {e}"));
            }
        }
    }
    total.elapsed = started.elapsed();
    total
}
