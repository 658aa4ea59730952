//! Per-environment change streams: a broadcast of pre-serialized SSE frames
//! and a bounded replay log for `Last-Event-ID`.
//!
//! Each revision's frames (every dialect, `crate::frames`) are serialized
//! once, by the sync task, and shared by every subscriber. A subscriber takes its replay and its
//! live subscription under the same lock the publisher holds while logging
//! and sending, so it sees every revision after its `Last-Event-ID` exactly
//! once. A resync (a full snapshot installed without a message), a lagging
//! subscriber or a `Last-Event-ID` the log cannot vouch for all lead to the
//! dialect's full resend instead of unbounded buffering.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::frames::RevisionFrames;

/// Revisions kept for replay per environment.
pub const LOG_CAPACITY: usize = 1024;
/// Frames a subscriber may fall behind before it gets a full resend.
pub const CHANNEL_CAPACITY: usize = 256;

/// What subscribers receive.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// One revision's frames in every dialect.
    Frame(Arc<RevisionFrames>),
    /// The environment was replaced wholesale (resync) or deleted: send the
    /// current full configuration, or end the stream if it is gone.
    Reset,
}

#[derive(Debug)]
struct Log {
    frames: VecDeque<Arc<RevisionFrames>>,
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
    Replay(Vec<Arc<RevisionFrames>>),
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

    /// Logs and broadcasts one revision's frames.
    pub fn publish(&self, frames: RevisionFrames) {
        let frames = Arc::new(frames);
        // A std mutex: held for a push and a send, never across an await.
        let mut log = self.log.lock().expect("stream log lock");
        if log.frames.len() == LOG_CAPACITY {
            log.frames.pop_front();
        }
        log.frames.push_back(Arc::clone(&frames));
        let _ = self.sender.send(StreamEvent::Frame(frames));
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
            // Replayable only if the log holds every revision after `seen`
            // and `seen` is not ahead of us. An empty log (a fresh edge, or
            // a resync that may have changed the epoch) cannot vouch for
            // the client's state, so it gets everything.
            Some(seen)
                if seen <= current
                    && log
                        .frames
                        .front()
                        .is_some_and(|first| first.revision <= seen + 1) =>
            {
                Start::Replay(
                    log.frames
                        .iter()
                        .filter(|f| f.revision > seen)
                        .cloned()
                        .collect(),
                )
            }
            _ => Start::Full,
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

    fn frame(revision: u64) -> RevisionFrames {
        let bytes = bytes::Bytes::from(format!("id: {revision}\n\n"));
        RevisionFrames {
            revision,
            v2: bytes.clone(),
            legacy: bytes.clone(),
            refetch: bytes,
        }
    }

    fn revisions(frames: &[Arc<RevisionFrames>]) -> Vec<u64> {
        frames.iter().map(|f| f.revision).collect()
    }

    #[test]
    fn replays_exactly_what_follows_last_event_id() {
        let stream = EnvironmentStream::new();
        for revision in 2..=5 {
            stream.publish(frame(revision));
        }
        let (start, _) = stream.subscribe(Some(3), 5);
        match start {
            Start::Replay(frames) => assert_eq!(revisions(&frames), vec![4, 5]),
            Start::Full => panic!("revisions 4 and 5 are in the log"),
        }
        assert!(matches!(stream.subscribe(Some(5), 5).0, Start::Replay(f) if f.is_empty()));
        assert!(
            matches!(stream.subscribe(Some(9), 5).0, Start::Full),
            "ahead of the edge (another history): full resend"
        );
        assert!(
            matches!(
                EnvironmentStream::new().subscribe(Some(5), 5).0,
                Start::Full
            ),
            "an empty log cannot vouch for the client: full resend"
        );
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
            stream.publish(frame(revision));
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
