//! Per-environment change streams: a broadcast of pre-serialized SSE frames
//! and a bounded replay log for `Last-Event-ID`.
//!
//! Each revision's frame is serialized once, by the sync task, and its bytes
//! are shared by every subscriber. A subscriber takes its replay and its
//! live subscription under the same lock the publisher holds while logging
//! and sending, so it sees every revision after its `Last-Event-ID` exactly
//! once. A resync (a full snapshot installed without a message), a lagging
//! subscriber or a `Last-Event-ID` older than the log all lead to a full
//! resend (`put`) instead of unbounded buffering.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use halyard_common::{Change, ChangeMessage};
use tokio::sync::broadcast;

/// Revisions kept for replay per environment.
pub const LOG_CAPACITY: usize = 1024;
/// Frames a subscriber may fall behind before it gets a full resend.
pub const CHANNEL_CAPACITY: usize = 256;

/// What subscribers receive.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// One revision's changes as a ready SSE frame.
    Frame {
        /// The revision it produces.
        revision: u64,
        /// `id: <revision>\nevent: patch|delete\ndata: ...\n\n`.
        bytes: Bytes,
    },
    /// The environment was replaced wholesale (resync) or deleted: send the
    /// current full configuration, or end the stream if it is gone.
    Reset,
}

/// The v2 frame of one change message (SDK form, without key changes):
/// `delete` when the revision only deletes flags or segments, else `patch`.
pub fn v2_frame(message: &ChangeMessage) -> Bytes {
    let message = message.clone().without_keys();
    let only_deletions = !message.changes.is_empty()
        && message.changes.iter().all(|c| {
            matches!(
                c,
                Change::FlagDeleted { .. } | Change::SegmentDeleted { .. }
            )
        });
    let event = if only_deletions { "delete" } else { "patch" };
    let data = serde_json::to_string(&message).expect("messages serialize");
    Bytes::from(format!(
        "id: {}\nevent: {event}\ndata: {data}\n\n",
        message.revision
    ))
}

/// The v2 `put` frame of a full configuration.
pub fn put_frame(revision: u64, full_body: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(full_body.len() + 32);
    frame.extend_from_slice(format!("id: {revision}\nevent: put\ndata: ").as_bytes());
    frame.extend_from_slice(full_body);
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

#[derive(Debug)]
struct Log {
    frames: VecDeque<(u64, Bytes)>,
}

/// One environment's stream.
#[derive(Debug)]
pub struct EnvironmentStream {
    sender: broadcast::Sender<StreamEvent>,
    log: Mutex<Log>,
}

/// What a new subscriber starts with.
#[derive(Debug)]
pub enum Start {
    /// Replay these frames (possibly none), then follow the receiver.
    Replay(Vec<Bytes>),
    /// Send the full configuration first (no `Last-Event-ID`, or too old).
    Full,
}

impl EnvironmentStream {
    fn new() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            sender,
            log: Mutex::new(Log {
                frames: VecDeque::new(),
            }),
        }
    }

    /// Logs and broadcasts one revision's frame.
    pub fn publish(&self, revision: u64, bytes: Bytes) {
        // A std mutex: held for a push and a send, never across an await.
        let mut log = self.log.lock().expect("stream log lock");
        if log.frames.len() == LOG_CAPACITY {
            log.frames.pop_front();
        }
        log.frames.push_back((revision, bytes.clone()));
        let _ = self.sender.send(StreamEvent::Frame { revision, bytes });
    }

    /// Forgets the log and tells subscribers to resend everything.
    pub fn reset(&self) {
        let mut log = self.log.lock().expect("stream log lock");
        log.frames.clear();
        let _ = self.sender.send(StreamEvent::Reset);
    }

    /// Subscribes a client that has seen up to `last_seen` (its
    /// `Last-Event-ID`) of a snapshot now at `current`.
    pub fn subscribe(
        &self,
        last_seen: Option<u64>,
        current: u64,
    ) -> (Start, broadcast::Receiver<StreamEvent>) {
        let log = self.log.lock().expect("stream log lock");
        let receiver = self.sender.subscribe();
        let start = match last_seen {
            None => Start::Full,
            Some(seen) if seen >= current => Start::Replay(Vec::new()),
            Some(seen) => {
                // Replayable only if the log holds every revision after `seen`.
                let first = log.frames.front().map(|(r, _)| *r);
                if first.is_some_and(|first| first <= seen + 1) {
                    Start::Replay(
                        log.frames
                            .iter()
                            .filter(|(r, _)| *r > seen)
                            .map(|(_, b)| b.clone())
                            .collect(),
                    )
                } else {
                    Start::Full
                }
            }
        };
        (start, receiver)
    }

    /// Open subscriptions.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }
}

/// Every environment's stream, created on first use.
#[derive(Debug, Default)]
pub struct Streams {
    environments: Mutex<HashMap<String, Arc<EnvironmentStream>>>,
}

impl Streams {
    /// The stream of `environment`.
    pub fn get(&self, environment: &str) -> Arc<EnvironmentStream> {
        let mut environments = self.environments.lock().expect("streams lock");
        Arc::clone(
            environments
                .entry(environment.to_owned())
                .or_insert_with(|| Arc::new(EnvironmentStream::new())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(revision: u64) -> Bytes {
        Bytes::from(format!("id: {revision}\n\n"))
    }

    #[test]
    fn replays_exactly_what_follows_last_event_id() {
        let stream = EnvironmentStream::new();
        for revision in 2..=5 {
            stream.publish(revision, frame(revision));
        }
        let (start, _) = stream.subscribe(Some(3), 5);
        match start {
            Start::Replay(frames) => assert_eq!(frames, vec![frame(4), frame(5)]),
            Start::Full => panic!("revisions 4 and 5 are in the log"),
        }
        assert!(matches!(stream.subscribe(Some(5), 5).0, Start::Replay(f) if f.is_empty()));
        assert!(
            matches!(stream.subscribe(None, 5).0, Start::Full),
            "no Last-Event-ID: full configuration"
        );
        assert!(
            matches!(stream.subscribe(Some(0), 5).0, Start::Full),
            "older than the log: full resend"
        );
    }

    #[test]
    fn the_log_is_bounded_and_reset_forgets_it() {
        let stream = EnvironmentStream::new();
        for revision in 1..=(LOG_CAPACITY as u64 + 10) {
            stream.publish(revision, frame(revision));
        }
        assert!(matches!(
            stream.subscribe(Some(5), LOG_CAPACITY as u64 + 10).0,
            Start::Full
        ));
        let (_, mut receiver) =
            stream.subscribe(Some(LOG_CAPACITY as u64 + 10), LOG_CAPACITY as u64 + 10);
        stream.reset();
        assert!(matches!(receiver.try_recv(), Ok(StreamEvent::Reset)));
        assert!(matches!(
            stream
                .subscribe(Some(LOG_CAPACITY as u64 + 9), LOG_CAPACITY as u64 + 10)
                .0,
            Start::Full
        ));
    }
}
