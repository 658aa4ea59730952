//! HTTP/1.1 serving: the accept loop, hyper for requests and `direct`
//! for stream connections, and graceful shutdown.
//!
//! Its own accept loop rather than `axum::serve`, whose HTTP/1-or-2
//! detection costs about 7.5 KiB per connection, and whose hyper buffers
//! cost another 16 KiB per stream (see `direct.rs`): with 10,000 SSE streams
//! per edge that is over 200 MiB. Edges sit behind a load balancer that
//! terminates TLS and speaks HTTP/1.1 to them.

mod direct;
mod rewind;

use std::future::Future;
use std::time::Duration;

use std::convert::Infallible;

use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use bytes::BytesMut;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

use rewind::Rewind;

/// What can serve the edge's connections: a tower service taking requests
/// with either body, hyper's (the hyper path) or axum's (the direct path),
/// like `Router` and `Cors<Router>`.
pub trait App:
    Service<Request<Incoming>, Response = Response, Error = Infallible, Future: Send>
    + Service<Request<Body>, Response = Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> App for S where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible, Future: Send>
        + Service<Request<Body>, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Bytes read to tell a stream request from the rest. A longer request
/// head goes to hyper, which reads the rest.
const FIRST_READ: usize = 2048;

/// How long a new connection may take to send its first bytes.
pub const FIRST_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` until `shutdown`, then stops accepting, calls `closing`
/// (streams send `retry:` and end) and waits, up to `drain`, for every
/// connection to finish its in-flight response; connections still busy
/// then end with the process.
pub async fn serve_http1(
    listener: TcpListener,
    app: impl App,
    shutdown: impl Future<Output = ()>,
    closing: impl FnOnce(),
    drain: Duration,
) {
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let _ = socket.set_nodelay(true);
                    connections.spawn(connection(socket, app.clone(), stop.clone()));
                }
                // Out of file descriptors and the like: wait, don't spin.
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    stop.cancel();
    closing();
    connections.close();
    if tokio::time::timeout(drain, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "connections still busy after {drain:?}: no longer waiting for them"
        );
    }
}

async fn connection(mut socket: TcpStream, app: impl App, stop: CancellationToken) {
    let mut first = BytesMut::with_capacity(FIRST_READ);
    // A client that connects and sends nothing is dropped.
    tokio::select! {
        read = tokio::time::timeout(FIRST_READ_TIMEOUT, socket.read_buf(&mut first)) => match read {
            Ok(Ok(0) | Err(_)) | Err(_) => return,
            Ok(Ok(_)) => {}
        },
        () = stop.cancelled() => return,
    }
    if let Some(request) = direct::stream_request(&first) {
        drop(first);
        return direct::serve(socket, app, request).await;
    }
    let io = TokioIo::new(Rewind::new(first.freeze(), socket));
    // No timer: a header-read timeout would arm a timer per request.
    let connection = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}
