//! The HTTP server loop: what `axum::serve` does, plus the connection hygiene it has no knobs
//! for (issue 12, finding 2): a header-read timeout (which also ends idle keep-alive
//! connections), a no-traffic timeout, a cap on open connections, and graceful shutdown.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::config::TransportConfig;

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish (upgraded WebSockets are closed by the event bus's shutdown, not here).
///
/// At most `max_connections` connections are open at once: the next one is accepted only when
/// one closes, so idle sockets cannot exhaust file descriptors or memory, and the header and
/// idle timeouts make sure that slots come free.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: TransportConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    // Connections watch `stop` to begin a graceful shutdown, and each holds a `done` receiver:
    // when the last one is dropped, every connection has ended.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small GraphQL answers should not wait for Nagle's algorithm.
        stream.set_nodelay(true).ok();
        tokio::spawn(connection(
            stream,
            slot,
            router.clone(),
            config.clone(),
            stop_rx.clone(),
            done_rx.clone(),
        ));
    }
    drop(listener);
    drop(stop_rx);
    stop_tx.send(()).ok();
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// Accept errors about one connection (reset before accept) are harmless; others (out of file
/// descriptors) clear up only when connections close, so wait a moment instead of spinning.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn connection(
    stream: TcpStream,
    slot: OwnedSemaphorePermit,
    router: Router,
    config: TransportConfig,
    mut stop: watch::Receiver<()>,
    done: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::default());
    // The slot lives inside the stream, so an upgraded WebSocket keeps holding it until closed.
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: Arc::clone(&activity),
        _slot: slot,
    });
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout());
    let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
    let idle = config.idle_timeout();
    let mut stopping = false;
    loop {
        let wake = tokio::time::sleep(idle.saturating_sub(activity.quiet_for()));
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::trace!(error = %err, "connection ended with an error");
                }
                break;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = wake => {
                if activity.quiet_for() >= idle {
                    tracing::debug!("closing a connection that moved no data for {idle:?}");
                    break;
                }
            }
        }
    }
    drop(done);
}

/// When a connection last moved a byte.
struct Activity {
    start: tokio::time::Instant,
    /// Milliseconds after `start`.
    last: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            last: AtomicU64::new(0),
        }
    }
}

impl Activity {
    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// A TCP stream that records its traffic and holds its connection slot.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
