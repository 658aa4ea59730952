//! `GET /api/admin/events`: an SSE feed of committed changes for admin
//! tokens (what the dashboard shows live). Each event is one change message
//! (`docs/protocol.md` §3) without key material, with the outbox position as
//! its `id`; reconnecting with `Last-Event-ID` resumes without gaps. Changes
//! made through any control-plane instance appear (the feed reads the
//! outbox, woken by PostgreSQL notifications).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt};

use super::extract::Admin;
use crate::error::Error;
use crate::state::AppState;
use crate::store::OutboxRow;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/admin/events", get(events))
}

/// How often the feed looks for changes when no notification arrives.
const POLL: Duration = Duration::from_secs(1);

fn to_event(row: OutboxRow) -> Event {
    let message = row.message.without_keys();
    Event::default()
        .id(row.id.to_string())
        .event("change")
        .json_data(&message)
        .unwrap_or_else(|_| Event::default().comment("unserializable change"))
}

/// Stream committed changes.
#[utoipa::path(get, path = "/api/admin/events", tag = "events",
    params(("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id")),
    responses((status = 200, description = "text/event-stream of `change` events", content_type = "text/event-stream")),
    security(("admin_key" = [])))]
pub async fn events(
    State(state): State<AppState>,
    _admin: Admin,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Error> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let cursor = match resume {
        Some(id) => id,
        None => state.service.store().outbox_head().await?,
    };
    let head = state.outbox_head.clone();
    let stream = futures::stream::unfold(
        (cursor, head, VecDeque::<OutboxRow>::new(), state),
        |(mut cursor, mut head, mut buffer, state)| async move {
            loop {
                if let Some(row) = buffer.pop_front() {
                    cursor = row.id;
                    return Some((Ok(to_event(row)), (cursor, head, buffer, state)));
                }
                match state.service.store().outbox_after(cursor, 100).await {
                    Ok(rows) if !rows.is_empty() => {
                        buffer.extend(rows);
                        continue;
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "event feed cannot read the outbox"),
                }
                tokio::select! {
                    changed = head.changed() => if changed.is_err() { return None },
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        },
    );
    // A first comment sends the response head at once, so a browser's
    // EventSource reports the feed open before the first change.
    let opened = futures::stream::once(async { Ok(Event::default().comment("connected")) });
    Ok(Sse::new(opened.chain(stream))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
