//! Requests you can follow in the log: every HTTP request and every WebSocket operation runs
//! inside a `request` span carrying its id (and, once its document is parsed, its operation
//! name), and an `INTERNAL` or `SERVICE_UNAVAILABLE` answer quotes that same id. So the id a
//! client reports finds every log line of its request, not only the error's.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{BatchRequest, BatchResponse, Data, Executor, Request, Response};
use futures_util::stream::{BoxStream, Stream, StreamExt};
use tracing::Instrument;

tokio::task_local! {
    /// The id of the request the running task works for. A task-local, not a span field,
    /// because tracing offers no way to read a field back.
    static CURRENT: RequestId;
}

/// A short random id that ties a request's answer to its log lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A fresh id.
    pub fn new() -> Self {
        Self(crate::error::new_request_id().into())
    }

    /// The id of the request the running task works for, if any.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// The id of the running request, or a fresh one for work outside any (background tasks),
    /// whose log line then carries it alone.
    pub fn current_or_new() -> Self {
        Self::current().unwrap_or_default()
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The span of request `id`; `operation` is filled in when the document has been parsed.
/// At ERROR level so that any filter that keeps a request's error lines keeps the span too
/// (an INFO span would vanish under `RUST_LOG=warn`, and the lines with it their id).
pub fn span(id: &RequestId) -> tracing::Span {
    tracing::error_span!(
        "request",
        request_id = %id,
        operation = tracing::field::Empty
    )
}

/// Runs `future` as request `id`: inside its span, and with the id errors quote.
pub fn run<F: Future>(id: RequestId, future: F) -> impl Future<Output = F::Output> {
    let span = span(&id);
    CURRENT.scope(id, future.instrument(span))
}

/// Calls `start` as request `id` and returns what it started run as that request too: the
/// synchronous part of a call (where the document is parsed and the operation named) belongs
/// to the request as much as the future it returns.
fn start<T>(id: &RequestId, span: &tracing::Span, start: impl FnOnce() -> T) -> T {
    span.in_scope(|| CURRENT.sync_scope(id.clone(), start))
}

/// Names the running request's operation on its span: the one `requested`, or the only one
/// the document defines (an anonymous operation leaves the field empty).
pub fn record_operation(document: &ExecutableDocument, requested: Option<&str>) {
    let name = requested.or(match &document.operations {
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            operations.keys().next().map(|name| name.as_str())
        }
        _ => None,
    });
    if let Some(name) = name {
        tracing::Span::current().record("operation", tracing::field::display(name));
    }
}

/// `tokio::spawn` for work done on behalf of the running request (the data loader's batches):
/// the task keeps the request's span and id.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let span = tracing::Span::current();
    match RequestId::current() {
        Some(id) => tokio::spawn(CURRENT.scope(id, future.instrument(span))),
        None => tokio::spawn(future.instrument(span)),
    }
}

/// A stream polled as one request: each poll inside its span and with its id.
struct InRequest<S> {
    id: RequestId,
    span: tracing::Span,
    inner: S,
}

impl<S: Stream + Unpin> Stream for InRequest<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        CURRENT.sync_scope(this.id.clone(), || this.inner.poll_next_unpin(cx))
    }
}

/// An executor that runs every operation as a request of its own (a fresh id and span): what
/// the WebSocket transport hands async-graphql, since one connection carries many operations.
#[derive(Clone)]
pub struct PerOperation<E>(pub E);

impl<E: Executor> Executor for PerOperation<E> {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let id = RequestId::new();
        let span = span(&id);
        let future = start(&id, &span, || self.0.execute(request));
        CURRENT.scope(id, future.instrument(span))
    }

    fn execute_batch(&self, batch: BatchRequest) -> impl Future<Output = BatchResponse> + Send {
        let id = RequestId::new();
        let span = span(&id);
        let future = start(&id, &span, || self.0.execute_batch(batch));
        CURRENT.scope(id, future.instrument(span))
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let id = RequestId::new();
        let span = span(&id);
        let inner = start(&id, &span, || self.0.execute_stream(request, session_data));
        InRequest { id, span, inner }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_and_the_tasks_it_spawns_share_its_id() {
        let id = RequestId::new();
        let (inside, spawned) = run(id.clone(), async {
            let spawned = spawn(async { RequestId::current() }).await.unwrap();
            (RequestId::current(), spawned)
        })
        .await;
        assert_eq!(inside, Some(id.clone()));
        assert_eq!(spawned, Some(id));
    }

    #[tokio::test]
    async fn work_outside_a_request_has_no_id_and_gets_a_fresh_one_each_time() {
        assert_eq!(RequestId::current(), None);
        assert_ne!(RequestId::current_or_new(), RequestId::current_or_new());
        assert_eq!(RequestId::new().as_str().len(), 16);
    }

    #[tokio::test]
    async fn each_item_of_a_stream_is_produced_as_its_request() {
        let id = RequestId::new();
        let stream = InRequest {
            id: id.clone(),
            span: span(&id),
            inner: futures_util::stream::iter([(), ()]).map(|()| RequestId::current()),
        };
        let ids: Vec<_> = stream.collect().await;
        assert_eq!(ids, vec![Some(id.clone()), Some(id)]);
    }
}
