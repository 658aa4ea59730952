//! The outermost layer of every request: records its route, method,
//! status and latency, and adds `X-Halyard-Snapshot-Age` to every response
//! while the edge is out of sync. (`X-Halyard-Revision` comes from the
//! handlers, and from [`crate::error::Error::at`] on errors after
//! authentication.)
//!
//! A hand-written tower layer rather than `axum::middleware::from_fn`,
//! which boxes a future and clones the inner service per request: on the
//! single-flag evaluation route that cost a tenth of the throughput.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::SNAPSHOT_AGE_HEADER;
use crate::state::Edge;

/// The layer.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    edge: Arc<Edge>,
}

impl ObserveLayer {
    /// Observes requests for `edge`.
    pub fn new(edge: Arc<Edge>) -> Self {
        Self { edge }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            edge: Arc::clone(&self.edge),
        }
    }
}

/// The service.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    edge: Arc<Edge>,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        ObserveFuture {
            inner: self.inner.call(request),
            edge: Arc::clone(&self.edge),
            started: Instant::now(),
            route,
            method,
        }
    }
}

pin_project! {
    /// The response future.
    pub struct ObserveFuture<F> {
        #[pin]
        inner: F,
        edge: Arc<Edge>,
        started: Instant,
        route: Option<MatchedPath>,
        method: Method,
    }
}

impl<F, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let edge = &**this.edge;
        edge.metrics.record(
            this.route.as_ref().map_or("unmatched", MatchedPath::as_str),
            this.method,
            response.status(),
            this.started.elapsed(),
        );
        if let Some(stale) = edge.store.stale_for() {
            response
                .headers_mut()
                .insert(SNAPSHOT_AGE_HEADER, HeaderValue::from(stale.as_secs()));
        }
        Poll::Ready(Ok(response))
    }
}
