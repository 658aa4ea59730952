//! `spawn_app`: a control plane on 127.0.0.1:0 over a fresh database, with a
//! bootstrap admin key and helpers for authenticated requests.
//!
//! The whole suite runs on either store: PostgreSQL (the default) or, with
//! `HALYARD_TEST_STORE=sqlite`, SQLite. `scripts/test` runs it both ways.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use halyard_control_plane::auth::Authenticator;
use halyard_control_plane::metrics::Metrics;
use halyard_control_plane::service::{Actor, Service};
use halyard_control_plane::startup::{app, watch_outbox};
use halyard_control_plane::state::AppState;
use halyard_control_plane::store::postgres::PgStore;
use halyard_control_plane::store::sqlite::SqliteStore;
use halyard_control_plane::store::{OutboxRow, Store};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::watch;

/// The bootstrap admin key every test app accepts.
pub const ADMIN_KEY: &str = "test-bootstrap-admin-key";

/// The configured (bootstrap) edge token of the test apps.
pub const EDGE_TOKEN: &str = "test-bootstrap-edge-token";

/// Largest body the test apps accept (small, so 413 is cheap to test).
pub const BODY_LIMIT: usize = 64 * 1024;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    /// The SQLite file's directory, removed with the last app using it.
    _sqlite_dir: Option<Arc<tempfile::TempDir>>,
    pub service: Service,
    _server: tokio::task::JoinHandle<()>,
    _watcher: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Release the server's and the watcher's connections so the test
        // database can be dropped.
        self._server.abort();
        self._watcher.abort();
    }
}

/// SQLite directories by test database, so two apps of one test (one
/// `pool`) share one file, as they would share one PostgreSQL database.
static SQLITE_DIRS: Mutex<Option<HashMap<String, Weak<tempfile::TempDir>>>> = Mutex::new(None);

/// The store the suite runs on for this test's `pool`.
async fn open_store(pool: &PgPool) -> (Arc<dyn Store>, Option<Arc<tempfile::TempDir>>) {
    match std::env::var("HALYARD_TEST_STORE").as_deref() {
        Err(_) | Ok("postgres") => (Arc::new(PgStore::from_pool(pool.clone())), None),
        Ok("sqlite") => {
            let database = pool
                .connect_options()
                .get_database()
                .expect("sqlx::test names its database")
                .to_owned();
            let dir = {
                let mut dirs = SQLITE_DIRS.lock().expect("directory registry");
                let dirs = dirs.get_or_insert_with(HashMap::new);
                match dirs.get(&database).and_then(Weak::upgrade) {
                    Some(dir) => dir,
                    None => {
                        let dir = Arc::new(tempfile::tempdir().expect("a temporary directory"));
                        dirs.insert(database, Arc::downgrade(&dir));
                        dir
                    }
                }
            };
            let store = SqliteStore::open(&dir.path().join("halyard.sqlite3"))
                .await
                .expect("SQLite opens");
            store.migrate().await.expect("SQLite migrations apply");
            (Arc::new(store), Some(dir))
        }
        Ok(other) => panic!("HALYARD_TEST_STORE={other}: use postgres or sqlite"),
    }
}

/// Starts a control plane over `pool` (a fresh, migrated database from
/// `#[sqlx::test]`), or over SQLite (see the module docs), with the default
/// environments created.
pub async fn spawn_app(pool: PgPool) -> TestApp {
    let (store, sqlite_dir) = open_store(&pool).await;
    let service = Service::new(Arc::clone(&store));
    service
        .ensure_default_environments()
        .await
        .expect("default environments");
    let (head_tx, head_rx) = watch::channel(store.outbox_head().await.expect("outbox head"));
    let watcher = tokio::spawn(watch_outbox(Arc::clone(&store), Some(pool), head_tx));
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(Authenticator::new(Some(ADMIN_KEY)).with_edge_token(Some(EDGE_TOKEN))),
        body_limit: BODY_LIMIT,
        outbox_head: head_rx,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    let router = app(state, Metrics::new());
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("server runs");
    });
    TestApp {
        address,
        client: reqwest::Client::new(),
        store,
        _sqlite_dir: sqlite_dir,
        service,
        _server: server,
        _watcher: watcher,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request authenticated with `key` in `X-Admin-API-Key`.
    pub fn request_as(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-Admin-API-Key", key)
    }

    /// A request authenticated with the bootstrap admin key.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(ADMIN_KEY, method, path)
    }

    /// Sends JSON as the bootstrap admin; returns status and body.
    pub async fn json(&self, method: Method, path: &str, body: &Value) -> (u16, Value) {
        read(
            self.admin(method, path)
                .json(body)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// GET as the bootstrap admin.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        read(
            self.admin(Method::GET, path)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// Creates an admin token with `role` (or an SDK/edge key) through the
    /// API and returns its plaintext.
    pub async fn create_key(&self, body: Value) -> (String, String) {
        let (status, created) = self.json(Method::POST, "/api/admin/keys", &body).await;
        assert_eq!(status, 201, "creating key {body}: {created}");
        (
            created["id"].as_str().unwrap().to_owned(),
            created["plaintext"].as_str().unwrap().to_owned(),
        )
    }

    /// An admin token of `role` ("viewer", "editor", "admin").
    pub async fn token(&self, role: &str) -> String {
        self.create_key(
            serde_json::json!({"name": format!("{role} token"), "kind": "admin", "role": role}),
        )
        .await
        .1
    }

    /// Every outbox row, in commit order.
    pub async fn outbox(&self) -> Vec<OutboxRow> {
        self.store
            .outbox_after(0, 10_000)
            .await
            .expect("outbox readable")
    }

    /// Ends key `id`'s validity a second ago, as if its expiry had passed
    /// (through the store, so on either backend).
    pub async fn expire_key(&self, id: &str) {
        let id = uuid::Uuid::parse_str(id).expect("key ids are UUIDs");
        let mut tx = self.store.begin().await.expect("begin");
        let mut key = tx
            .api_key_for_update(id)
            .await
            .expect("key readable")
            .expect("the key exists");
        key.expires_at = Some(time::OffsetDateTime::now_utc() - time::Duration::seconds(1));
        tx.update_api_key(&key).await.expect("key saved");
        tx.commit().await.expect("commit");
    }

    /// The current revision of `environment`.
    pub async fn revision(&self, environment: &str) -> u64 {
        self.store
            .environment(environment)
            .await
            .expect("readable")
            .expect("exists")
            .revision
    }

    pub fn system() -> Actor {
        Actor::system()
    }
}

/// Status and JSON body (Null when the body is empty or not JSON).
pub async fn read(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body readable");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts an error body: status, code, and that the message is not empty.
#[track_caller]
pub fn assert_error(result: &(u16, Value), status: u16, code: &str) {
    assert_eq!(result.0, status, "status for {}", result.1);
    assert_eq!(result.1["error"], code, "code in {}", result.1);
    assert!(
        result.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {}",
        result.1
    );
}

// ---------------------------------------------------------------------------
// Requests as other callers, and the events feed (roles, keys, audit, events,
// misc).
// ---------------------------------------------------------------------------

/// Every wait on the events feed gives up after this long.
pub const EVENT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// A `change` event of `GET /api/admin/events`: its id and its message.
#[derive(Debug, Clone)]
pub struct ChangeEvent {
    /// The event id (the outbox position).
    pub id: i64,
    /// The raw `data` field.
    pub data: String,
    /// `data` parsed.
    pub message: Value,
}

/// An open `GET /api/admin/events` stream.
pub struct EventFeed {
    stream: std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<eventsource_stream::Event, String>> + Send>,
    >,
}

impl EventFeed {
    /// The next `change` event; fails the test after [`EVENT_DEADLINE`]
    /// with `waiting_for` in the message.
    pub async fn next_change(&mut self, waiting_for: &str) -> ChangeEvent {
        use futures::StreamExt as _;
        loop {
            let event = tokio::time::timeout(EVENT_DEADLINE, self.stream.next())
                .await
                .unwrap_or_else(|_| {
                    panic!("no event within {EVENT_DEADLINE:?} while waiting for {waiting_for}")
                })
                .unwrap_or_else(|| panic!("the feed ended while waiting for {waiting_for}"))
                .unwrap_or_else(|e| panic!("the feed failed while waiting for {waiting_for}: {e}"));
            if event.event != "change" {
                continue;
            }
            let id = event
                .id
                .parse()
                .unwrap_or_else(|_| panic!("event id {:?} is not a number", event.id));
            let message = serde_json::from_str(&event.data)
                .unwrap_or_else(|e| panic!("event data {:?} is not JSON: {e}", event.data));
            return ChangeEvent {
                id,
                data: event.data,
                message,
            };
        }
    }

    /// The next `n` change events.
    pub async fn next_changes(&mut self, n: usize, waiting_for: &str) -> Vec<ChangeEvent> {
        let mut events = Vec::with_capacity(n);
        for i in 0..n {
            events.push(
                self.next_change(&format!("{waiting_for} ({i} of {n} received)"))
                    .await,
            );
        }
        events
    }
}

impl TestApp {
    /// Sends JSON with `key` in `X-Admin-API-Key`; returns status and body.
    pub async fn json_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        read(
            self.request_as(key, method, path)
                .json(body)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// A body-less request with `key` in `X-Admin-API-Key`.
    pub async fn send_as(&self, key: &str, method: Method, path: &str) -> (u16, Value) {
        read(
            self.request_as(key, method, path)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// Opens the events feed as `key`, resuming after `last_event_id` when
    /// given; asserts the stream opened.
    pub async fn events_as(&self, key: &str, last_event_id: Option<i64>) -> EventFeed {
        use eventsource_stream::Eventsource as _;
        use futures::StreamExt as _;
        let mut request = self.request_as(key, Method::GET, "/api/admin/events");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = tokio::time::timeout(EVENT_DEADLINE, request.send())
            .await
            .expect("the events feed answers in time")
            .expect("request sent");
        assert_eq!(response.status(), 200, "the events feed opens");
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "events feed content type: {content_type}"
        );
        EventFeed {
            stream: Box::pin(
                response
                    .bytes_stream()
                    .eventsource()
                    .map(|r| r.map_err(|e| e.to_string())),
            ),
        }
    }

    /// The newest outbox id (0 when empty).
    pub async fn outbox_head(&self) -> i64 {
        self.store.outbox_head().await.expect("outbox readable")
    }
}
