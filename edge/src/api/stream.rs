//! `GET /api/client/stream?dialect=v2` (server keys): the v2 SSE dialect
//! for new SDKs (`docs/protocol.md` §7).
//!
//! - `put` with the full configuration on connect (or after a resync, a lag,
//!   or a `Last-Event-ID` older than the replay log);
//! - one `patch` per revision (`delete` when the revision only deletes),
//!   carrying that revision's change message without key material;
//! - `ping` every 15 s; `id: <revision>` on every event.
//!
//! The stream ends when the key is revoked or expires (checked on every
//! event and ping) or the environment is deleted. The legacy dialect (the
//! default, for the old SDK) is not served yet: without `dialect=v2` the
//! route answers 501.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::auth::ServerKey;
use crate::error::Error;
use crate::store::{EdgeStore, KnownKey};
use crate::stream::{Start, StreamEvent};

/// Heartbeat interval.
pub const PING: Duration = Duration::from_secs(15);

/// The routes.
pub fn router() -> Router<Arc<EdgeStore>> {
    Router::new().route("/api/client/stream", get(stream))
}

/// `?dialect=`.
#[derive(Debug, Default, Deserialize)]
pub struct DialectQuery {
    dialect: Option<String>,
}

/// Whether `key` is still known (not revoked) and active (not expired).
fn key_still_valid(store: &EdgeStore, key: &KnownKey) -> bool {
    store.key(&key.entry.sha256).is_some_and(|k| k.is_active())
}

const PING_FRAME: &[u8] = b"event: ping\ndata: {}\n\n";

async fn stream(
    State(store): State<Arc<EdgeStore>>,
    ServerKey(key): ServerKey,
    Query(query): Query<DialectQuery>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    if query.dialect.as_deref() != Some("v2") {
        let body = json!({"error": "not_implemented", "message": "the legacy stream dialect is not served yet; use ?dialect=v2"});
        return Ok((StatusCode::NOT_IMPLEMENTED, axum::Json(body)).into_response());
    }
    let environment = store.get(&key.environment).ok_or(Error::NotReady)?;
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (start, receiver) = store
        .stream(&key.environment)
        .subscribe(last_seen, environment.snapshot.revision());
    let initial: Vec<Bytes> = match start {
        Start::Replay(frames) => frames,
        Start::Full => vec![environment.put_frame.clone()],
    };
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = (
        store,
        key,
        receiver,
        ping,
        std::collections::VecDeque::from(initial),
    );
    let frames = futures::stream::unfold(
        state,
        |(store, key, mut receiver, mut ping, mut pending)| async move {
            loop {
                if let Some(frame) = pending.pop_front() {
                    return Some((
                        Ok::<_, std::convert::Infallible>(frame),
                        (store, key, receiver, ping, pending),
                    ));
                }
                let event = tokio::select! {
                    received = receiver.recv() => Some(received),
                    _ = ping.tick() => None,
                };
                if !key_still_valid(&store, &key) {
                    return None;
                }
                match event {
                    None => pending.push_back(Bytes::from_static(PING_FRAME)),
                    Some(Ok(StreamEvent::Frame { bytes, .. })) => pending.push_back(bytes),
                    // Replaced wholesale, or this subscriber fell behind: resend
                    // everything rather than buffer without bound.
                    Some(Ok(StreamEvent::Reset) | Err(RecvError::Lagged(_))) => {
                        match store.get(&key.environment) {
                            Some(environment) => pending.push_back(environment.put_frame.clone()),
                            None => return None,
                        }
                    }
                    Some(Err(RecvError::Closed)) => return None,
                }
            }
        },
    );
    let mut response = Body::from_stream(frames).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tell nginx and similar proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    headers.insert(
        super::client::REVISION_HEADER,
        HeaderValue::from(environment.snapshot.revision()),
    );
    Ok(response)
}
