//! The in-process bus (feature `bus`): what Redis is between a control
//! plane and its edges, for the all-in-one node where both run in one
//! process.
//!
//! It holds what the Redis contract holds (`control-plane/src/outbox`):
//! every environment's latest snapshot and a channel of change messages,
//! with the same rules: a snapshot is stored only over none, another epoch
//! or a lower revision of the same epoch (it never moves backwards), and a
//! deletion removes the snapshot only if it is of the deleted epoch.
//! Subscribers follow the consumer algorithm of `docs/protocol.md` §4
//! exactly as over Redis; a subscriber that falls behind the channel's
//! capacity is told so ([`broadcast::error::RecvError::Lagged`]) and
//! resyncs, like an edge whose Redis connection dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::{ChangeMessage, SnapshotData};

/// Change messages a subscriber may fall behind before it must resync.
pub const CHANNEL_CAPACITY: usize = 4096;

/// Snapshots and change messages shared by a relay and its edges in one
/// process.
#[derive(Debug)]
pub struct LocalBus {
    snapshots: Mutex<HashMap<String, Arc<SnapshotData>>>,
    changes: broadcast::Sender<Arc<ChangeMessage>>,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self {
            snapshots: Mutex::new(HashMap::new()),
            changes: broadcast::channel(CHANNEL_CAPACITY).0,
        }
    }
}

impl LocalBus {
    /// An empty bus.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Stores `snapshot` unless the bus holds a newer one of its epoch;
    /// returns whether it was stored.
    pub fn store_snapshot(&self, snapshot: &SnapshotData) -> bool {
        let mut snapshots = self.snapshots.lock().expect("bus lock");
        let key = snapshot.environment.to_string();
        let newer = snapshots
            .get(&key)
            .is_none_or(|held| held.epoch != snapshot.epoch || held.revision < snapshot.revision);
        if newer {
            snapshots.insert(key, Arc::new(snapshot.clone()));
        }
        newer
    }

    /// Sends `message` to every subscriber.
    pub fn publish(&self, message: &ChangeMessage) {
        // No subscribers is fine: edges read the snapshot when they start.
        let _ = self.changes.send(Arc::new(message.clone()));
    }

    /// An `environment_deleted` message: removes the environment's snapshot
    /// if it is of the message's epoch, then sends the message.
    pub fn delete(&self, message: &ChangeMessage) {
        {
            let mut snapshots = self.snapshots.lock().expect("bus lock");
            let key = message.environment.to_string();
            if snapshots
                .get(&key)
                .is_some_and(|held| held.epoch == message.epoch)
            {
                snapshots.remove(&key);
            }
        }
        self.publish(message);
    }

    /// Subscribes to change messages (subscribe first, then read snapshots).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeMessage>> {
        self.changes.subscribe()
    }

    /// The stored snapshot of `environment`.
    pub fn snapshot(&self, environment: &str) -> Option<Arc<SnapshotData>> {
        self.snapshots
            .lock()
            .expect("bus lock")
            .get(environment)
            .cloned()
    }

    /// The environments with a stored snapshot.
    pub fn environments(&self) -> Vec<String> {
        let mut environments: Vec<String> = self
            .snapshots
            .lock()
            .expect("bus lock")
            .keys()
            .cloned()
            .collect();
        environments.sort();
        environments
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, EnvironmentKey, Epoch};

    fn snapshot(epoch: &str, revision: u64) -> SnapshotData {
        SnapshotData {
            environment: EnvironmentKey::parse("production").unwrap(),
            epoch: Epoch::parse(epoch).unwrap(),
            revision,
            flags: vec![],
            segments: vec![],
            keys: vec![],
        }
    }

    fn deleted(epoch: &str, revision: u64) -> ChangeMessage {
        ChangeMessage {
            environment: EnvironmentKey::parse("production").unwrap(),
            epoch: Epoch::parse(epoch).unwrap(),
            revision,
            base_revision: revision - 1,
            committed_at: time::OffsetDateTime::UNIX_EPOCH,
            changes: vec![Change::EnvironmentDeleted],
        }
    }

    #[test]
    fn snapshots_never_move_backwards_within_an_epoch() {
        let bus = LocalBus::new();
        assert!(bus.store_snapshot(&snapshot("ep-a", 5)));
        assert!(!bus.store_snapshot(&snapshot("ep-a", 4)), "older");
        assert!(!bus.store_snapshot(&snapshot("ep-a", 5)), "same");
        assert!(bus.store_snapshot(&snapshot("ep-a", 6)));
        assert!(bus.store_snapshot(&snapshot("ep-b", 1)), "another epoch");
        assert_eq!(bus.snapshot("production").unwrap().revision, 1);
        assert_eq!(bus.environments(), ["production"]);
    }

    #[test]
    fn a_deletion_removes_only_its_own_epoch_and_reaches_subscribers() {
        let bus = LocalBus::new();
        let mut changes = bus.subscribe();
        bus.store_snapshot(&snapshot("ep-new", 1));
        bus.delete(&deleted("ep-old", 9));
        assert!(
            bus.snapshot("production").is_some(),
            "a re-created epoch stays"
        );
        bus.delete(&deleted("ep-new", 2));
        assert!(bus.snapshot("production").is_none());
        assert_eq!(changes.try_recv().unwrap().epoch.as_str(), "ep-old");
        assert_eq!(changes.try_recv().unwrap().revision, 2);
    }
}
