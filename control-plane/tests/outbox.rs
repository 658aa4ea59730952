//! The outbox relay against the machine's PostgreSQL and a private
//! `redis-server` (started per test, so tests can stop and restart it).
//!
//! `#[sqlx::test]` creates a fresh database per test from `DATABASE_URL`,
//! which must be set, e.g.
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test -p halyard-control-plane --test outbox`.
//! Set `TEST_LOG=1` to see the relay's logs.
//!
//! Outbox rows are written the way the services will write them: one
//! transaction bumps the environment's revision, changes the rows and inserts
//! the change message.

mod support {
    pub(crate) mod redis;
}

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt as _;
use halyard_common::model::{EnvironmentFlag, Flag, FlagConfig, Segment};
use halyard_common::{Change, ChangeMessage, EnvironmentKey, Epoch, FlagKey, Snapshot};
use halyard_control_plane::outbox::{
    Publication, RedisTarget, Relay, RelayHook, RelayMetrics, StepOutcome, redis_connection,
};
use halyard_control_plane::store::postgres::PgStore;
use halyard_control_plane::store::{
    ApiKeyKind, ApiKeyRecord, ConfigRecord, EnvironmentRecord, FlagRecord, SegmentRecord, Store,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::support::redis::RedisServer;

/// Every wait in these tests gives up after this long.
const DEADLINE: Duration = Duration::from_secs(20);

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter("halyard_control_plane=debug,warn")
            .with_test_writer()
            .init();
    }
});

// ---------------------------------------------------------------------------
// Writing changes the way the services will.
// ---------------------------------------------------------------------------

/// Now, at PostgreSQL's precision (microseconds), so that messages carry
/// exactly what a fresh read of the database gives.
fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .expect("a truncated nanosecond is valid")
}

/// One edit within a change.
#[derive(Debug, Clone)]
enum Op {
    /// Creates the boolean flag (if needed) and sets its configuration here.
    Flag(&'static str, bool),
    /// Deletes a flag that exists.
    DeleteFlag(&'static str),
    /// Creates or replaces a segment with these members.
    Segment(&'static str, Vec<String>),
    /// Adds a server SDK key made from this label.
    Key(String),
    /// Deletes the environment.
    DeleteEnvironment,
}

/// The environment an edit of test number `i` makes: a mix of every kind.
fn op(i: usize) -> Op {
    const FLAGS: [&str; 4] = ["checkout", "dark-mode", "new-payments", "search-v2"];
    match i % 5 {
        0 | 1 => Op::Flag(FLAGS[i % FLAGS.len()], i.is_multiple_of(3)),
        2 => Op::Segment(
            ["beta", "staff"][i % 2],
            (0..=i % 4).map(|n| format!("user-{i}-{n}")).collect(),
        ),
        3 => Op::Key(format!("key-{i}")),
        _ => Op::Flag("temporary", true),
    }
}

async fn create_environment(store: &dyn Store, key: &str) -> EnvironmentRecord {
    let at = now();
    let record = EnvironmentRecord {
        id: Uuid::now_v7(),
        key: EnvironmentKey::parse(key).expect("valid environment key"),
        name: key.to_owned(),
        // A new epoch per creation, as the protocol requires.
        epoch: Epoch::parse(format!("ep-{}", Uuid::new_v4().simple())).expect("valid epoch"),
        revision: 1,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    let message = ChangeMessage {
        environment: record.key.clone(),
        epoch: record.epoch.clone(),
        revision: 1,
        base_revision: 0,
        committed_at: at,
        changes: vec![Change::EnvironmentCreated],
    };
    let mut tx = store.begin().await.expect("begin");
    tx.insert_environment(&record)
        .await
        .expect("insert environment");
    tx.insert_outbox(record.id, &message)
        .await
        .expect("insert outbox");
    tx.commit().await.expect("commit");
    record
}

fn boolean_flag(key: &str, at: OffsetDateTime) -> Flag {
    let mut flag: Flag = serde_json::from_value(json!({
        "key": key,
        "kind": "boolean",
        "variations": [{"key": "true", "value": true}, {"key": "false", "value": false}],
        "version": 1,
    }))
    .expect("valid flag");
    flag.created_at = Some(at);
    flag.updated_at = Some(at);
    flag
}

fn boolean_config(enabled: bool, version: u64) -> FlagConfig {
    serde_json::from_value(json!({
        "enabled": enabled,
        "off_variation": "false",
        "rules": [{
            "id": "staff",
            "clauses": [{"operator": "in_segment", "values": ["staff"]}],
            "serve": {"variation": "true"},
        }],
        "default": {"rollout": {"weights": [
            {"variation": "true", "weight": 25_000},
            {"variation": "false", "weight": 75_000},
        ]}},
        "version": version,
    }))
    .expect("valid configuration")
}

/// Commits one change to `environment` (one revision, one outbox row) and
/// returns its message.
async fn commit(store: &dyn Store, environment: &str, ops: &[Op]) -> ChangeMessage {
    let at = now();
    let mut tx = store.begin().await.expect("begin");
    let mut env = tx
        .environment_for_update(environment)
        .await
        .expect("read environment")
        .expect("environment exists");
    let mut changes = Vec::new();
    let mut deleted = false;
    for op in ops {
        match op {
            Op::Flag(key, enabled) => {
                let flag = match tx.flag_for_update(key).await.expect("read flag") {
                    Some(flag) => flag,
                    None => {
                        // Stamped like the services do: the stored id is
                        // part of what a rebuild reads back.
                        let id = Uuid::now_v7();
                        let mut flag = boolean_flag(key, at);
                        flag.id = Some(id.to_string());
                        let flag = FlagRecord { id, flag };
                        tx.insert_flag(&flag).await.expect("insert flag");
                        flag
                    }
                };
                let version = tx
                    .config_for_update(flag.id, env.id)
                    .await
                    .expect("read configuration")
                    .map_or(1, |c| c.config.version + 1);
                let config = boolean_config(*enabled, version);
                tx.upsert_config(&ConfigRecord {
                    flag_id: flag.id,
                    environment_id: env.id,
                    config: config.clone(),
                    updated_at: at,
                })
                .await
                .expect("upsert configuration");
                changes.push(Change::FlagUpserted {
                    flag: EnvironmentFlag {
                        flag: flag.flag,
                        config,
                    },
                });
            }
            Op::DeleteFlag(key) => {
                let flag = tx
                    .flag_for_update(key)
                    .await
                    .expect("read flag")
                    .expect("flag exists");
                tx.delete_flag(flag.id).await.expect("delete flag");
                changes.push(Change::FlagDeleted {
                    key: FlagKey::parse(*key).expect("valid flag key"),
                });
            }
            Op::Segment(key, included) => {
                let segment = match tx
                    .segment_for_update(env.id, key)
                    .await
                    .expect("read segment")
                {
                    Some(mut record) => {
                        record.segment.included = included.clone();
                        record.segment.version += 1;
                        record.segment.updated_at = Some(at);
                        tx.update_segment(&record).await.expect("update segment");
                        record.segment
                    }
                    None => {
                        let mut segment: Segment = serde_json::from_value(json!({
                            "key": key,
                            "included": included,
                            "version": 1,
                        }))
                        .expect("valid segment");
                        segment.created_at = Some(at);
                        segment.updated_at = Some(at);
                        let record = SegmentRecord {
                            id: Uuid::now_v7(),
                            environment_id: env.id,
                            segment,
                        };
                        tx.insert_segment(&record).await.expect("insert segment");
                        record.segment
                    }
                };
                changes.push(Change::SegmentUpserted { segment });
            }
            Op::Key(label) => {
                let key = ApiKeyRecord {
                    id: Uuid::now_v7(),
                    name: label.clone(),
                    kind: ApiKeyKind::Server,
                    role: None,
                    environment_id: Some(env.id),
                    sha256: hex::encode(Sha256::digest(label.as_bytes())),
                    hint: format!("hal_srv_…{label}"),
                    created_at: at,
                    expires_at: None,
                    revoked_at: None,
                    rotated_to: None,
                };
                tx.insert_api_key(&key).await.expect("insert key");
                changes.push(Change::KeyUpserted {
                    key: key.key_entry().expect("an sdk key has an entry"),
                });
            }
            Op::DeleteEnvironment => {
                tx.delete_environment(env.id)
                    .await
                    .expect("delete environment");
                changes.push(Change::EnvironmentDeleted);
                deleted = true;
            }
        }
    }
    env.revision += 1;
    env.updated_at = at;
    if !deleted {
        tx.update_environment(&env)
            .await
            .expect("update environment");
    }
    let message = ChangeMessage {
        environment: env.key.clone(),
        epoch: env.epoch.clone(),
        revision: env.revision,
        base_revision: env.revision - 1,
        committed_at: at,
        changes,
    };
    tx.insert_outbox(env.id, &message)
        .await
        .expect("insert outbox");
    tx.commit().await.expect("commit");
    message
}

/// What a fresh build of the environment's current state gives, as JSON.
async fn fresh_build(store: &dyn Store, environment: &str) -> Value {
    let data = store
        .snapshot(environment)
        .await
        .expect("read snapshot")
        .expect("environment exists");
    let snapshot = Snapshot::build(data).expect("stored state builds");
    serde_json::to_value(snapshot.to_data()).expect("serializes")
}

async fn backlog(store: &dyn Store) -> u64 {
    store.outbox_backlog().await.expect("read backlog").0
}

// ---------------------------------------------------------------------------
// Redis side.
// ---------------------------------------------------------------------------

fn relay(store: &Arc<PgStore>, redis: &RedisServer) -> Relay {
    let client = redis::Client::open(redis.url()).expect("valid redis url");
    let store: Arc<dyn Store> = Arc::clone(store) as _;
    Relay::new(
        store,
        redis_connection(client).expect("lazy connection"),
        RedisTarget::default(),
    )
}

async fn connection(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .expect("valid redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the private redis")
}

/// The stored snapshot hash: (epoch, revision, data).
async fn stored(
    conn: &mut redis::aio::MultiplexedConnection,
    environment: &str,
) -> Option<(String, u64, Value)> {
    let hash: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(RedisTarget::default().snapshot_key(environment))
        .query_async(conn)
        .await
        .expect("HGETALL");
    if hash.is_empty() {
        return None;
    }
    let field = |name: &str| {
        hash.get(name)
            .unwrap_or_else(|| panic!("snapshot hash has no {name} field: {hash:?}"))
            .clone()
    };
    let data = serde_json::from_str(&field("data")).expect("data is JSON");
    let revision = field("revision").parse().expect("revision is a number");
    Some((field("epoch"), revision, data))
}

async fn is_member(conn: &mut redis::aio::MultiplexedConnection, environment: &str) -> bool {
    redis::cmd("SISMEMBER")
        .arg(RedisTarget::default().environments_key())
        .arg(environment)
        .query_async(conn)
        .await
        .expect("SISMEMBER")
}

/// Asserts that Redis holds exactly a fresh build of the environment.
async fn assert_snapshot_is_fresh(
    conn: &mut redis::aio::MultiplexedConnection,
    store: &dyn Store,
    environment: &str,
    revision: u64,
) {
    let expected = fresh_build(store, environment).await;
    let (epoch, stored_revision, data) = stored(conn, environment)
        .await
        .unwrap_or_else(|| panic!("no snapshot of {environment} in redis"));
    assert_eq!(stored_revision, revision, "stored revision");
    assert_eq!(epoch, expected["epoch"], "stored epoch");
    assert_eq!(
        data, expected,
        "the stored snapshot of {environment} differs from a fresh build"
    );
}

/// A subscription to the change channel.
struct Subscriber {
    messages: redis::aio::PubSubStream,
}

impl Subscriber {
    async fn new(redis: &RedisServer) -> Self {
        let client = redis::Client::open(redis.url()).expect("valid redis url");
        let mut pubsub = client.get_async_pubsub().await.expect("pubsub connection");
        // Returns once Redis confirmed the subscription.
        pubsub
            .subscribe(RedisTarget::default().channel())
            .await
            .expect("SUBSCRIBE");
        Self {
            messages: pubsub.into_on_message(),
        }
    }

    /// The next `n` messages, in arrival order.
    async fn take(&mut self, n: usize) -> Vec<ChangeMessage> {
        let mut received = Vec::with_capacity(n);
        while received.len() < n {
            let message = within(
                &format!("change message {} of {n}", received.len() + 1),
                self.messages.next(),
            )
            .await
            .expect("the subscription ended");
            let payload: String = message.get_payload().expect("text payload");
            received.push(serde_json::from_str(&payload).expect("a change message"));
        }
        received
    }
}

/// Awaits `future`, failing the test after [`DEADLINE`].
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "timed out after {} s waiting for {what}",
                DEADLINE.as_secs()
            )
        })
}

fn revisions(messages: &[ChangeMessage]) -> Vec<u64> {
    messages.iter().map(|m| m.revision).collect()
}

// ---------------------------------------------------------------------------
// A hook that lets a test hold a relay before a publish.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Publish.
    Pass,
    /// Wait before any publish.
    Hold,
    /// Wait before publishing this revision.
    HoldAt(u64),
}

/// Counts publish attempts and holds the relay while its mode says so.
struct Gate {
    mode: watch::Sender<Mode>,
    attempts: watch::Sender<u64>,
    /// The revision the relay is waiting at, if any.
    holding: watch::Sender<Option<u64>>,
}

impl Gate {
    fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode: watch::Sender::new(mode),
            attempts: watch::Sender::new(0),
            holding: watch::Sender::new(None),
        })
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    async fn attempts_reach(&self, n: u64) {
        let mut attempts = self.attempts.subscribe();
        within(
            &format!("{n} publish attempts"),
            attempts.wait_for(|a| *a >= n),
        )
        .await
        .expect("gate alive");
    }

    /// Waits until the relay is held; returns the revision it holds at.
    async fn held(&self) -> u64 {
        let mut holding = self.holding.subscribe();
        let revision = within("the relay to be held", holding.wait_for(Option::is_some))
            .await
            .expect("gate alive");
        revision.expect("checked by wait_for")
    }
}

#[async_trait]
impl RelayHook for Gate {
    async fn before_publish(&self, _environment_id: Uuid, revision: u64) {
        self.attempts.send_modify(|a| *a += 1);
        let holds = |mode: &Mode| match *mode {
            Mode::Pass => false,
            Mode::Hold => true,
            Mode::HoldAt(at) => at == revision,
        };
        let mut mode = self.mode.subscribe();
        let hold = holds(&mode.borrow_and_update());
        if hold {
            self.holding.send_replace(Some(revision));
            let _ = mode.wait_for(|m| !holds(m)).await;
            self.holding.send_replace(None);
        }
    }
}

// ---------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------

/// Redis is down while 50 changes commit: the relay fails, backs off and
/// retries, loses nothing, and once Redis is back publishes all 50 in
/// revision order with a snapshot equal to a fresh build of the last one.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn redis_outage_loses_nothing_and_drains_in_order(pool: PgPool) {
    LazyLock::force(&TRACING);
    let store = Arc::new(PgStore::from_pool(pool.clone()));
    let mut redis = RedisServer::new();
    let env = create_environment(&*store, "production").await;
    let mut first = relay(&store, &redis);
    assert_eq!(
        first.step(env.id).await.expect("publish the creation"),
        StepOutcome::Published {
            count: 1,
            last_revision: 1
        }
    );

    redis.stop();
    for i in 0..50 {
        commit(&*store, "production", &[op(i)]).await;
    }
    first
        .step(env.id)
        .await
        .expect_err("publishing to a stopped redis fails");
    assert_eq!(backlog(&*store).await, 50, "a failed step keeps every row");
    drop(first);

    // The running relay fails, backs off and retries; then it is held before
    // its next publish, so Redis can come back before it publishes anything.
    let gate = Gate::new(Mode::Pass);
    let registry = prometheus::Registry::new();
    let metrics = RelayMetrics::new(&registry).expect("register relay metrics");
    let relay = relay(&store, &redis)
        .with_listener(pool.clone())
        .with_hook(Arc::clone(&gate) as _)
        .with_metrics(metrics.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(relay.run(async {
        let _ = stopped.await;
    }));
    gate.attempts_reach(3).await;
    gate.set(Mode::Hold);
    assert_eq!(
        gate.held().await,
        2,
        "the relay retries from the oldest row"
    );
    assert_eq!(backlog(&*store).await, 50, "retries keep every row");

    redis.start();
    let mut subscriber = Subscriber::new(&redis).await;
    gate.set(Mode::Pass);
    let messages = subscriber.take(50).await;
    assert_eq!(revisions(&messages), (2..=51).collect::<Vec<_>>());

    // Shutdown lets the step in progress commit its marks.
    stop.send(()).expect("relay running");
    within("the relay to stop", running)
        .await
        .expect("relay task");
    assert_eq!(backlog(&*store).await, 0, "every row is marked published");
    assert_eq!(metrics.published.get(), 50, "each row published once");
    assert!(metrics.publish_failures.get() >= 3);
    assert_eq!(metrics.publish_lag.get_sample_count(), 50);
    let mut conn = connection(&redis).await;
    assert_snapshot_is_fresh(&mut conn, &*store, "production", 51).await;
    assert!(is_member(&mut conn, "production").await);
}

/// Two relays on one environment: while the first is held mid-batch (holding
/// the claim), the second is refused; the channel sees every revision once,
/// in order; and a stale write through the script cannot roll the snapshot
/// back.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn racing_relays_publish_in_order_and_never_roll_back(pool: PgPool) {
    LazyLock::force(&TRACING);
    let store = Arc::new(PgStore::from_pool(pool));
    let redis = RedisServer::new();
    let mut subscriber = Subscriber::new(&redis).await;
    let env = create_environment(&*store, "production").await;

    let gate = Gate::new(Mode::HoldAt(6));
    let mut first = relay(&store, &redis).with_hook(Arc::clone(&gate) as _);
    let mut second = relay(&store, &redis);
    first.step(env.id).await.expect("publish the creation");
    for i in 0..9 {
        commit(&*store, "production", &[op(i)]).await;
    }
    let stale = store
        .snapshot("production")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(stale.revision, 10);

    let held = tokio::spawn(async move {
        let outcome = first.step(env.id).await;
        (first, outcome)
    });
    assert_eq!(gate.held().await, 6);
    assert_eq!(
        second.step(env.id).await.expect("second relay"),
        StepOutcome::NotClaimed,
        "the held relay owns the environment"
    );
    // Changes committed meanwhile are not in the held relay's batch.
    for i in 9..14 {
        commit(&*store, "production", &[op(i)]).await;
    }
    assert_eq!(
        second.step(env.id).await.expect("second relay"),
        StepOutcome::NotClaimed
    );

    gate.set(Mode::Pass);
    let (mut first, outcome) = within("the held relay", held).await.expect("task");
    assert_eq!(
        outcome.expect("held relay publishes"),
        StepOutcome::Published {
            count: 9,
            last_revision: 10
        }
    );
    assert_eq!(
        second.step(env.id).await.expect("second relay"),
        StepOutcome::Published {
            count: 5,
            last_revision: 15
        }
    );
    assert_eq!(
        first.step(env.id).await.expect("first relay"),
        StepOutcome::Empty
    );
    // The first relay's snapshot (revision 10) is behind: it rebuilds.
    commit(&*store, "production", &[op(14)]).await;
    assert_eq!(
        first.step(env.id).await.expect("first relay"),
        StepOutcome::Published {
            count: 1,
            last_revision: 16
        }
    );

    let messages = subscriber.take(16).await;
    assert_eq!(
        revisions(&messages),
        (1..=16).collect::<Vec<_>>(),
        "every revision once, in order"
    );
    let mut conn = connection(&redis).await;
    assert_snapshot_is_fresh(&mut conn, &*store, "production", 16).await;

    // A stale relay writing revision 10, or another revision-16 body, is
    // refused; its message still goes out (a harmless duplicate).
    let target = RedisTarget::default();
    let written = target
        .publish(
            &mut conn,
            Publication::Snapshot {
                snapshot: &stale,
                message: Some(&messages[9]),
            },
        )
        .await
        .expect("script runs");
    assert!(!written, "an older revision must not be written");
    let mut same_revision = stale.clone();
    same_revision.revision = 16;
    let written = target
        .publish(
            &mut conn,
            Publication::Snapshot {
                snapshot: &same_revision,
                message: None,
            },
        )
        .await
        .expect("script runs");
    assert!(!written, "an equal revision must not be written");
    assert_snapshot_is_fresh(&mut conn, &*store, "production", 16).await;
    let duplicate = subscriber.take(1).await;
    assert_eq!(revisions(&duplicate), [10]);
}

/// The relay's applied snapshots equal fresh builds at every revision, and a
/// relay restarted with nothing in memory (or one that fell behind) resyncs
/// from the store.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn applying_messages_matches_rebuilding(pool: PgPool) {
    LazyLock::force(&TRACING);
    let store = Arc::new(PgStore::from_pool(pool));
    let redis = RedisServer::new();
    let mut conn = connection(&redis).await;
    let env = create_environment(&*store, "production").await;
    let mut relay_a = relay(&store, &redis);

    let mut revision = 1;
    relay_a.step(env.id).await.expect("publish the creation");
    assert_snapshot_is_fresh(&mut conn, &*store, "production", revision).await;
    // One change per step: each snapshot comes from applying the message.
    let mut changes: Vec<Vec<Op>> = (0..20).map(|i| vec![op(i)]).collect();
    changes.push(vec![
        Op::DeleteFlag("temporary"),
        Op::Flag("checkout", true),
    ]);
    changes.push(vec![Op::Segment("staff", vec![]), Op::Key("late".into())]);
    for ops in &changes {
        commit(&*store, "production", ops).await;
        revision += 1;
        assert_eq!(
            relay_a.step(env.id).await.expect("step"),
            StepOutcome::Published {
                count: 1,
                last_revision: revision
            }
        );
        assert_snapshot_is_fresh(&mut conn, &*store, "production", revision).await;
    }

    // Restarted mid-stream: nothing in memory, so it rebuilds, then applies.
    let mut relay_b = relay(&store, &redis);
    for i in 20..25 {
        commit(&*store, "production", &[op(i)]).await;
    }
    revision += 5;
    assert_eq!(
        relay_b.step(env.id).await.expect("step"),
        StepOutcome::Published {
            count: 5,
            last_revision: revision
        }
    );
    assert_snapshot_is_fresh(&mut conn, &*store, "production", revision).await;
    for i in 25..28 {
        commit(&*store, "production", &[op(i)]).await;
        revision += 1;
        relay_b.step(env.id).await.expect("step");
        assert_snapshot_is_fresh(&mut conn, &*store, "production", revision).await;
    }

    // The first relay missed those revisions: its next message does not
    // apply to what it holds, and it resyncs from the store.
    commit(&*store, "production", &[op(28)]).await;
    revision += 1;
    assert_eq!(
        relay_a.step(env.id).await.expect("step"),
        StepOutcome::Published {
            count: 1,
            last_revision: revision
        }
    );
    assert_snapshot_is_fresh(&mut conn, &*store, "production", revision).await;
    assert_eq!(backlog(&*store).await, 0);
}

/// `environment_deleted` removes the snapshot and the set member; a deletion
/// published after the environment was re-created (a new epoch) leaves the
/// new one alone, and the deleted epoch cannot be written again.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn environment_deleted_removes_snapshot_and_member(pool: PgPool) {
    LazyLock::force(&TRACING);
    let store = Arc::new(PgStore::from_pool(pool));
    let redis = RedisServer::new();
    let mut conn = connection(&redis).await;
    let mut subscriber = Subscriber::new(&redis).await;
    let mut relay = relay(&store, &redis);

    let production = create_environment(&*store, "production").await;
    let staging = create_environment(&*store, "staging").await;
    commit(&*store, "staging", &[op(0)]).await;
    relay.step(production.id).await.expect("step");
    relay.step(staging.id).await.expect("step");
    subscriber.take(3).await;
    assert!(stored(&mut conn, "staging").await.is_some());
    assert!(is_member(&mut conn, "staging").await);
    let old_snapshot = store
        .snapshot("staging")
        .await
        .expect("read")
        .expect("exists");

    let deletion = commit(&*store, "staging", &[Op::DeleteEnvironment]).await;
    assert_eq!(
        relay.step(staging.id).await.expect("step"),
        StepOutcome::Published {
            count: 1,
            last_revision: 3
        }
    );
    let published = subscriber.take(1).await;
    assert_eq!(published[0], deletion);
    assert_eq!(stored(&mut conn, "staging").await, None);
    assert!(!is_member(&mut conn, "staging").await);
    assert!(is_member(&mut conn, "production").await, "others stay");
    assert_snapshot_is_fresh(&mut conn, &*store, "production", 1).await;

    // Deleted and re-created before the relay ran: the new environment's
    // rows are published first, then the old one's deletion.
    let staging2 = create_environment(&*store, "staging").await;
    let again = commit(&*store, "staging", &[Op::DeleteEnvironment]).await;
    let staging3 = create_environment(&*store, "staging").await;
    assert_ne!(staging2.epoch, staging3.epoch);
    relay.step(staging3.id).await.expect("step");
    relay.step(staging2.id).await.expect("step");
    assert_snapshot_is_fresh(&mut conn, &*store, "staging", 1).await;
    assert!(is_member(&mut conn, "staging").await);
    let (epoch, _, _) = stored(&mut conn, "staging").await.expect("stored");
    assert_eq!(epoch, staging3.epoch.as_str());

    // A stale relay repeating an old deletion, or writing a deleted epoch.
    let target = RedisTarget::default();
    assert!(
        !target
            .publish(&mut conn, Publication::Deleted(&again))
            .await
            .expect("script runs"),
        "another epoch's deletion leaves the snapshot"
    );
    assert!(
        !target
            .publish(
                &mut conn,
                Publication::Snapshot {
                    snapshot: &old_snapshot,
                    message: None
                },
            )
            .await
            .expect("script runs"),
        "a deleted epoch is never written again"
    );
    assert_snapshot_is_fresh(&mut conn, &*store, "staging", 1).await;
    assert!(is_member(&mut conn, "staging").await);
    assert_eq!(backlog(&*store).await, 0);
}

/// After Redis restarts empty, idle environments get their snapshot back
/// without waiting for a change.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn missing_snapshots_are_rewritten_after_redis_restarts(pool: PgPool) {
    LazyLock::force(&TRACING);
    let store = Arc::new(PgStore::from_pool(pool));
    let mut redis = RedisServer::new();
    let mut relay = relay(&store, &redis);
    let env = create_environment(&*store, "production").await;
    for i in 0..3 {
        commit(&*store, "production", &[op(i)]).await;
    }
    relay.step(env.id).await.expect("step");
    assert_eq!(relay.reconcile().await.expect("reconcile"), 0);

    redis.stop();
    redis.start();
    let mut conn = connection(&redis).await;
    assert_eq!(stored(&mut conn, "production").await, None);
    // The first command after the restart may see the dropped connection.
    let written = match relay.reconcile().await {
        Ok(written) => written,
        Err(_) => relay.reconcile().await.expect("reconcile after reconnect"),
    };
    assert_eq!(written, 1);
    assert_snapshot_is_fresh(&mut conn, &*store, "production", 4).await;
    assert!(is_member(&mut conn, "production").await);
    assert_eq!(relay.reconcile().await.expect("reconcile"), 0);

    // Either half lost on its own (an eviction, a manual edit) comes back.
    let target = RedisTarget::default();
    let _: () = redis::cmd("DEL")
        .arg(target.snapshot_key("production"))
        .query_async(&mut conn)
        .await
        .expect("DEL");
    assert_eq!(relay.reconcile().await.expect("reconcile"), 1);
    assert_snapshot_is_fresh(&mut conn, &*store, "production", 4).await;
    let _: () = redis::cmd("SREM")
        .arg(target.environments_key())
        .arg("production")
        .query_async(&mut conn)
        .await
        .expect("SREM");
    relay.reconcile().await.expect("reconcile");
    assert!(is_member(&mut conn, "production").await);
}

/// A running relay publishes on NOTIFY, without waiting for a sweep.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn running_relay_wakes_on_notify(pool: PgPool) {
    LazyLock::force(&TRACING);
    let store = Arc::new(PgStore::from_pool(pool.clone()));
    let redis = RedisServer::new();
    let mut subscriber = Subscriber::new(&redis).await;
    create_environment(&*store, "production").await;
    let relay = relay(&store, &redis)
        .with_listener(pool.clone())
        // Only the first sweep (at start) happens within the test.
        .with_sweep_interval(Duration::from_secs(3600));
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(relay.run(async {
        let _ = stopped.await;
    }));
    assert_eq!(revisions(&subscriber.take(1).await), [1]);

    // The listener's LISTEN is on its own connection: wait until PostgreSQL
    // shows it, or a notification sent before it would be lost.
    within("the relay's LISTEN", async {
        loop {
            let listening: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            )
            .fetch_one(&pool)
            .await
            .expect("query pg_stat_activity");
            if listening > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    for i in 0..3 {
        commit(&*store, "production", &[op(i)]).await;
        let published = subscriber.take(1).await;
        assert_eq!(revisions(&published), [i as u64 + 2]);
    }
    stop.send(()).expect("relay running");
    within("the relay to stop", running)
        .await
        .expect("relay task");
}
