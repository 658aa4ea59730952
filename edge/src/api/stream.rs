//! Server-sent event streams (`docs/protocol.md` §7):
//!
//! - `GET /api/client/stream` (server keys), the legacy dialect: a
//!   `flag_updated` per legacy-representable flag changed, `flag_deleted`
//!   per flag deleted or no longer representable; on connect (or when a
//!   client cannot be replayed) every flag and every deletion the edge keeps
//!   a tombstone of.
//! - `GET /api/client/stream?dialect=v2` (server keys): `put` with the full
//!   configuration, then one `patch` (or `delete`) per revision, `ping`
//!   every 15 s.
//! - `GET /api/client/events` (client or server keys): OFREP's change
//!   notifications, `{"type":"refetchEvaluation","etag":...}` per revision.
//!
//! Every event has `id: <revision>`; `Last-Event-ID` replays from the
//! bounded log, else the full resend. Frames are built once per revision
//! and shared. A stream ends when its key is revoked or expires (checked on
//! every event and heartbeat), when the environment is deleted, and on
//! shutdown (after a `retry:` so the client reconnects elsewhere).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::IntGauge;
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

use super::auth::{SdkKey, ServerKey};
use super::client::REVISION_HEADER;
use crate::error::Error;
use crate::frames::{COMMENT_PING, RETRY_FRAME, RevisionFrames, V2_PING};
use crate::state::Edge;
use crate::store::{EdgeEnvironment, KnownKey};
use crate::stream::{Start, StreamEvent};

/// Heartbeat interval.
pub const PING: Duration = Duration::from_secs(15);

/// The routes.
pub fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/api/client/stream", get(stream))
        .route("/api/client/events", get(events))
}

/// A stream's event format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `flag_updated` / `flag_deleted` for the old SDK.
    Legacy,
    /// `put` / `patch` / `delete` / `ping` for new SDKs.
    V2,
    /// `refetchEvaluation` notices (OFREP, client keys).
    Events,
}

impl Dialect {
    /// The label of the open-streams metric.
    pub fn label(self) -> &'static str {
        match self {
            Dialect::Legacy => "legacy",
            Dialect::V2 => "v2",
            Dialect::Events => "events",
        }
    }

    fn frame(self, frames: &RevisionFrames) -> Bytes {
        match self {
            Dialect::Legacy => frames.legacy.clone(),
            Dialect::V2 => frames.v2.clone(),
            Dialect::Events => frames.refetch.clone(),
        }
    }

    fn full(self, environment: &EdgeEnvironment) -> Bytes {
        match self {
            Dialect::Legacy => environment.bodies().legacy_resend.clone(),
            Dialect::V2 => environment.bodies().put_frame.clone(),
            Dialect::Events => environment.refetch_frame(),
        }
    }

    fn ping(self) -> Bytes {
        Bytes::from_static(match self {
            Dialect::V2 => V2_PING,
            Dialect::Legacy | Dialect::Events => COMMENT_PING,
        })
    }
}

/// `?dialect=`.
#[derive(Debug, Default, Deserialize)]
pub struct DialectQuery {
    dialect: Option<String>,
}

/// The SSE stream of the key's environment (server keys).
#[utoipa::path(get, path = "/api/client/stream", tag = "streams",
    params(
        ("dialect" = Option<String>, Query, description = "`legacy` (default): `flag_updated`/`flag_deleted`; `v2`: `put`/`patch`/`delete`/`ping` (docs/protocol.md §7)"),
        ("Last-Event-ID" = Option<u64>, Header, description = "The last revision seen: replay from the edge's log, else a full resend"),
        ("key" = Option<String>, Query, description = "The SDK key, for EventSource (which cannot send headers)")),
    responses(
        (status = 200, description = "text/event-stream; `id: <revision>` on every event", content_type = "text/event-stream", body = String),
        (status = 400, body = super::openapi::ErrorBody), (status = 401, body = super::openapi::ErrorBody),
        (status = 403, description = "A client key", body = super::openapi::ErrorBody),
        (status = 429, body = super::openapi::ErrorBody), (status = 503, body = super::openapi::ErrorBody)),
    security(("sdk_key" = []), ("bearer" = [])))]
pub async fn stream(
    State(edge): State<Arc<Edge>>,
    ServerKey(key): ServerKey,
    Query(query): Query<DialectQuery>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let dialect = match query.dialect.as_deref() {
        None | Some("legacy") => Dialect::Legacy,
        Some("v2") => Dialect::V2,
        Some(_) => return Err(Error::UnknownDialect.at(edge.store.revision(&key.environment))),
    };
    open(edge, key, dialect, &headers)
}

/// Change notices for OFREP providers and client keys:
/// `data: {"type": "refetchEvaluation", "etag": "<epoch>-<revision>"}`.
#[utoipa::path(get, path = "/api/client/events", tag = "streams",
    params(("Last-Event-ID" = Option<u64>, Header, description = "The last revision seen"),
           ("key" = Option<String>, Query, description = "The SDK key, for EventSource")),
    responses(
        (status = 200, description = "text/event-stream of refetchEvaluation notices", content_type = "text/event-stream", body = String),
        (status = 401, body = super::openapi::ErrorBody), (status = 429, body = super::openapi::ErrorBody),
        (status = 503, body = super::openapi::ErrorBody)),
    security(("sdk_key" = []), ("bearer" = [])))]
pub async fn events(
    State(edge): State<Arc<Edge>>,
    SdkKey(key): SdkKey,
    headers: HeaderMap,
) -> Result<Response, Error> {
    open(edge, key, Dialect::Events, &headers)
}

/// One subscriber's state between events.
struct Subscriber {
    edge: Arc<Edge>,
    key: Arc<KnownKey>,
    dialect: Dialect,
    receiver: broadcast::Receiver<StreamEvent>,
    closing: watch::Receiver<bool>,
    ping: tokio::time::Interval,
    pending: VecDeque<Bytes>,
    finished: bool,
    _open: OpenStream,
}

/// Counts an open stream for as long as it lives.
struct OpenStream(IntGauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn open(
    edge: Arc<Edge>,
    key: Arc<KnownKey>,
    dialect: Dialect,
    headers: &HeaderMap,
) -> Result<Response, Error> {
    let environment = edge.store.get(&key.environment).ok_or(Error::NotReady)?;
    let revision = environment.snapshot.revision();
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (start, receiver) = edge
        .store
        .stream(&key.environment)
        .subscribe(last_seen, revision);
    let pending: VecDeque<Bytes> = match start {
        Start::Full => VecDeque::from([dialect.full(&environment)]),
        // One notice covers any number of missed revisions.
        Start::Replay(frames) if dialect == Dialect::Events => frames
            .last()
            .map(|f| dialect.frame(f))
            .into_iter()
            .collect(),
        Start::Replay(frames) => frames.iter().map(|f| dialect.frame(f)).collect(),
    };
    let gauge = edge
        .metrics
        .open_streams
        .with_label_values(&[dialect.label()]);
    gauge.inc();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let subscriber = Subscriber {
        closing: edge.closing(),
        edge,
        key,
        dialect,
        receiver,
        ping,
        pending,
        finished: false,
        _open: OpenStream(gauge),
    };
    let frames = futures::stream::unfold(subscriber, |mut s| async move {
        let frame = s.next().await?;
        Some((Ok::<_, std::convert::Infallible>(frame), s))
    });
    let mut response = Body::from_stream(frames).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tell nginx and similar proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    headers.insert(REVISION_HEADER, HeaderValue::from(revision));
    Ok(response)
}

impl Subscriber {
    /// The next bytes to send, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                if !frame.is_empty() {
                    return Some(frame);
                }
                continue;
            }
            if self.finished {
                return None;
            }
            let event = tokio::select! {
                received = self.receiver.recv() => Some(received),
                _ = self.ping.tick() => None,
                _ = self.closing.wait_for(|closing| *closing) => {
                    self.pending.push_back(Bytes::from_static(RETRY_FRAME));
                    self.finished = true;
                    continue;
                }
            };
            if !self.key_still_valid() {
                return None;
            }
            match event {
                None => self.pending.push_back(self.dialect.ping()),
                Some(Ok(StreamEvent::Frame(frames))) => {
                    self.pending.push_back(self.dialect.frame(&frames));
                }
                // Replaced wholesale, or this subscriber fell behind: resend
                // everything rather than buffer without bound.
                Some(Ok(StreamEvent::Reset) | Err(RecvError::Lagged(_))) => {
                    let environment = self.edge.store.get(&self.key.environment)?;
                    self.pending.push_back(self.dialect.full(&environment));
                }
                Some(Err(RecvError::Closed)) => return None,
            }
        }
    }

    /// Whether the key is still known (not revoked) and active (not expired).
    fn key_still_valid(&self) -> bool {
        self.edge
            .store
            .key(&self.key.entry.sha256)
            .is_some_and(|k| k.is_active())
    }
}
