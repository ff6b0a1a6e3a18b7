//! The service under test: `stockgraph serve` as a child process of this binary, and what
//! `/proc` and `/metrics` say about it.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::load::Client;

/// A running `serve`.
pub struct Server {
    child: Child,
    pub pid: u32,
    pub address: SocketAddr,
}

/// CPU time and memory of a process, read from `/proc`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    /// utime + stime, in seconds.
    pub cpu_seconds: f64,
    /// Resident set now, in MiB.
    pub rss_mib: f64,
    /// Peak resident set, in MiB.
    pub hwm_mib: f64,
}

/// Reads CPU time and memory of `pid` (`"self"` for this process); zeros off Linux.
pub fn sample(pid: &str) -> ProcSample {
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let cpu_seconds = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The command name may hold spaces; the fields after its closing parenthesis don't.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // After `)`: state is field 3 of stat(5), so utime (14) and stime (15) are 11, 12.
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks.max(1.0))
        })
        .unwrap_or_default();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_default()
    };
    ProcSample {
        cpu_seconds,
        rss_mib: kib("VmRSS:") / 1024.0,
        hwm_mib: kib("VmHWM:") / 1024.0,
    }
}

impl Server {
    /// Starts `serve` on a free loopback port over `database_url`, with limits opened wide
    /// enough for the benchmark's connection counts.
    /// `binary` is the `stockgraph` to run (this one when `None`).
    pub async fn start(
        binary: Option<&std::path::Path>,
        database_url: &str,
        secret: &str,
    ) -> Result<Self, String> {
        let exe = match binary {
            Some(path) => path.to_path_buf(),
            None => std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?,
        };
        let mut child = Command::new(exe)
            .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
            .env("DATABASE_URL", database_url)
            .env("STOCKGRAPH_JWT_SECRET", secret)
            .env("STOCKGRAPH_MAX_CONNECTIONS", "8192")
            .env("STOCKGRAPH_MAX_PENDING_WS", "1024")
            .env("STOCKGRAPH_WS_INIT_TIMEOUT_SECS", "60")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start serve: {e}"))?;
        let pid = child.id().ok_or("serve exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("http://").nth(1) {
                    let address = rest.trim_end_matches("/graphql").trim();
                    return address.parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or("serve did not report its address")?;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            pid,
            address,
        })
    }

    pub fn sample(&self) -> ProcSample {
        sample(&self.pid.to_string())
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> Result<String, String> {
        use http_body_util::BodyExt;
        let stream = tokio::net::TcpStream::connect(self.address)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake::<
            _,
            http_body_util::Empty<hyper::body::Bytes>,
        >(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = hyper::Request::get("/metrics")
            .header("host", self.address.to_string())
            .body(http_body_util::Empty::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// One sample of a metric (with its labels, e.g. `x{source="requests"}`).
    pub async fn metric(&self, name: &str) -> Result<f64, String> {
        let text = self.metrics().await?;
        metric_value(&text, name).ok_or_else(|| format!("no {name} on /metrics"))
    }

    /// SQL statements run for requests so far.
    pub async fn request_statements(&self) -> Result<f64, String> {
        self.metric("stockgraph_sql_statements_total{source=\"requests\"}")
            .await
    }

    /// A client with `token`.
    pub async fn client(&self, token: &str) -> Result<Client, String> {
        Client::connect(self.address, token).await
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s).
    pub async fn stop(mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// The value of the sample named exactly `name` in Prometheus text.
pub fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
