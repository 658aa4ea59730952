//! The edge against a real control plane (fresh PostgreSQL database per
//! test), its real outbox relay, and the machine's Redis under a unique key
//! prefix per test. Every wait is bounded.
#![allow(missing_docs, unreachable_pub)]

use std::future::pending;
use std::sync::Arc;
use std::time::Duration;

use halyard_control_plane::auth::Authenticator;
use halyard_control_plane::metrics::Metrics;
use halyard_control_plane::outbox::{RedisTarget, Relay, redis_connection};
use halyard_control_plane::service::Service;
use halyard_control_plane::startup::app;
use halyard_control_plane::state::AppState;
use halyard_control_plane::store::Store;
use halyard_control_plane::store::postgres::PgStore;
use halyard_edge::store::EdgeStore;
use halyard_edge::sync::Syncer;
use serde_json::{Value, json};
use sqlx::PgPool;

#[path = "../../control-plane/tests/support/redis.rs"]
mod redis_server;

const ADMIN_KEY: &str = "edge-test-admin-key";
const DEADLINE: Duration = Duration::from_secs(15);

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

struct Stack {
    redis: String,
    control_plane: String,
    edge: String,
    http: reqwest::Client,
    prefix: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Best effort: remove this test's Redis keys.
        if let Ok(client) = redis::Client::open(self.redis.as_str())
            && let Ok(mut conn) = client.get_connection()
        {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}:*", self.prefix))
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        }
    }
}

async fn serve(router: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serves");
    });
    (address, task)
}

/// A control plane with its relay on the machine's Redis; the edge starts separately.
async fn control_plane(pool: PgPool) -> Stack {
    control_plane_on(pool, redis_url()).await
}

/// A control plane whose relay publishes to the Redis at `redis_url`.
async fn control_plane_on(pool: PgPool, redis_url: String) -> Stack {
    let redis = redis::Client::open(redis_url.as_str()).expect("valid Redis URL");
    redis
        .get_multiplexed_async_connection()
        .await
        .expect("Redis must be reachable at REDIS_URL (default redis://127.0.0.1:6379); start it with ./scripts/services");
    let prefix = format!("halyard-edge-test-{}", uuid::Uuid::now_v7().simple());
    let store: Arc<dyn Store> = Arc::new(PgStore::from_pool(pool.clone()));
    let service = Service::new(Arc::clone(&store));
    service
        .ensure_default_environments()
        .await
        .expect("default environments");
    let (_head_tx, head_rx) = tokio::sync::watch::channel(0);
    let state = AppState {
        service,
        auth: Arc::new(Authenticator::new(Some(ADMIN_KEY))),
        body_limit: 64 * 1024,
        outbox_head: head_rx,
    };
    let (control_plane, server) = serve(app(state, Metrics::new())).await;
    let relay = Relay::new(
        Arc::clone(&store),
        redis_connection(redis).expect("redis connection"),
        RedisTarget::new(prefix.clone()),
    )
    .with_listener(pool)
    .with_sweep_interval(Duration::from_millis(200));
    let relay = tokio::spawn(relay.run(pending()));
    Stack {
        redis: redis_url,
        control_plane,
        edge: String::new(),
        http: reqwest::Client::new(),
        prefix,
        tasks: vec![server, relay],
    }
}

impl Stack {
    async fn start_edge(&mut self) {
        let store = Arc::new(EdgeStore::new());
        let redis = redis::Client::open(self.redis.as_str()).expect("valid Redis URL");
        let syncer = Syncer::new(Arc::clone(&store), redis, self.prefix.clone(), None);
        self.tasks.push(tokio::spawn(syncer.run(pending())));
        let (edge, server) = serve(halyard_edge::api::router(store)).await;
        self.edge = edge;
        self.tasks.push(server);
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.control_plane))
            .header("X-Admin-API-Key", ADMIN_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("control plane answers");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn sdk_key(&self, kind: &str) -> (String, String) {
        let created = self
            .admin(reqwest::Method::POST, "/api/admin/keys", Some(json!({"name": format!("{kind} key"), "kind": kind, "environment": "production"})))
            .await;
        (
            created["id"].as_str().unwrap().to_owned(),
            created["plaintext"].as_str().unwrap().to_owned(),
        )
    }

    async fn edge_get(
        &self,
        path: &str,
        key: Option<&str>,
        etag: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.edge));
        if let Some(key) = key {
            request = request.header("X-SDK-Key", key);
        }
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        request.send().await.expect("edge answers")
    }

    /// Polls the legacy configuration until `done` holds for it.
    async fn wait_for(&self, key: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = tokio::time::Instant::now();
        loop {
            let response = self.edge_get("/api/client/flags", Some(key), None).await;
            if response.status() == 200 {
                let body: Value = response.json().await.expect("JSON");
                if done(&body) {
                    return body;
                }
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{what}: not seen on the edge within {DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn flag<'a>(body: &'a Value, key: &str) -> Option<&'a Value> {
    body["flags"].as_array()?.iter().find(|f| f["key"] == key)
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn admin_changes_reach_the_edge_in_both_shapes(pool: PgPool) {
    let mut stack = control_plane(pool).await;
    stack.start_edge().await;
    let (_, server_key) = stack.sdk_key("server").await;

    let created = stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(
                json!({"key": "new-checkout-flow", "description": "New checkout", "enabled": true,
                        "rollout_percentage": 25, "targeted_users": ["u1"]}),
            ),
        )
        .await;
    let body = stack
        .wait_for(&server_key, "the created flag", |b| {
            flag(b, "new-checkout-flow").is_some()
        })
        .await;
    assert_eq!(
        flag(&body, "new-checkout-flow").unwrap(),
        &json!({"id": created["id"], "key": "new-checkout-flow", "description": "New checkout", "enabled": true,
                "rollout_percentage": 25, "targeted_users": ["u1"]}),
        "the legacy SDK shape, with the control plane's id"
    );

    let id = created["id"].as_str().unwrap();
    stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/admin/flags/{id}/toggle"),
            None,
        )
        .await;
    stack
        .wait_for(&server_key, "the toggle", |b| {
            flag(b, "new-checkout-flow").is_some_and(|f| f["enabled"] == false)
        })
        .await;

    // A flag beyond the legacy form: absent from the legacy shape, present in the full one.
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flag-definitions",
            Some(json!({"key": "banner", "kind": "string", "variations": [{"key": "a", "value": "A"}, {"key": "b", "value": "B"}]})),
        )
        .await;
    let started = tokio::time::Instant::now();
    let full = loop {
        assert!(
            started.elapsed() < DEADLINE,
            "the full-model flag did not reach the edge within {DEADLINE:?}"
        );
        let response = stack
            .edge_get("/api/client/flags?format=full", Some(&server_key), None)
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        if body["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["flag"]["key"] == "banner")
        {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(
        full.get("keys").is_none() && !full.to_string().contains("sha256"),
        "SDKs never see key hashes: {full}"
    );
    let legacy = stack
        .wait_for(&server_key, "the legacy shape", |_| true)
        .await;
    assert!(
        flag(&legacy, "banner").is_none(),
        "non-legacy flags stay out of the legacy shape: {legacy}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn etags_revisions_and_key_kinds(pool: PgPool) {
    let mut stack = control_plane(pool).await;
    stack.start_edge().await;
    let (server_id, server_key) = stack.sdk_key("server").await;
    let (_, client_key) = stack.sdk_key("client").await;
    stack
        .wait_for(&server_key, "the server key", |_| true)
        .await;
    // Both keys' revisions must have arrived before the ETag is read, or the
    // client key's revision could change it between the two requests.
    let started = tokio::time::Instant::now();
    while stack
        .edge_get("/api/client/flags", Some(&client_key), None)
        .await
        .status()
        != 403
    {
        assert!(
            started.elapsed() < DEADLINE,
            "the client key did not reach the edge within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let response = stack
        .edge_get("/api/client/flags", Some(&server_key), None)
        .await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let revision: u64 = response.headers()["x-halyard-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let unchanged = stack
        .edge_get("/api/client/flags", Some(&server_key), Some(&etag))
        .await;
    assert_eq!(
        unchanged.status(),
        304,
        "If-None-Match with the current ETag"
    );

    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "later"})),
        )
        .await;
    stack
        .wait_for(&server_key, "the new flag", |b| flag(b, "later").is_some())
        .await;
    let changed = stack
        .edge_get("/api/client/flags", Some(&server_key), Some(&etag))
        .await;
    assert_eq!(changed.status(), 200, "a new revision invalidates the ETag");
    let new_revision: u64 = changed.headers()["x-halyard-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(new_revision > revision, "{new_revision} > {revision}");

    assert_eq!(
        stack
            .edge_get("/api/client/flags", Some(&client_key), None)
            .await
            .status(),
        403,
        "client keys may not read configurations"
    );
    assert_eq!(
        stack
            .edge_get("/api/client/flags", Some("hal_srv_unknown"), None)
            .await
            .status(),
        401
    );
    assert_eq!(
        stack
            .edge_get("/api/client/flags", None, None)
            .await
            .status(),
        401
    );
    let by_query = stack
        .edge_get(&format!("/api/client/flags?key={server_key}"), None, None)
        .await;
    assert_eq!(by_query.status(), 200, "?key= for EventSource clients");

    // Revocation propagates: the key stops working on the edge.
    let revoked = stack
        .http
        .delete(format!(
            "{}/api/admin/keys/{server_id}",
            stack.control_plane
        ))
        .header("X-Admin-API-Key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let started = tokio::time::Instant::now();
    while stack
        .edge_get("/api/client/flags", Some(&server_key), None)
        .await
        .status()
        != 401
    {
        assert!(
            started.elapsed() < DEADLINE,
            "revocation did not reach the edge within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn an_edge_started_after_many_changes_serves_the_same_state(pool: PgPool) {
    let mut stack = control_plane(pool).await;
    let (_, server_key) = stack.sdk_key("server").await;
    let created = stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "busy", "rollout_percentage": 0})),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    for percent in 1..=40 {
        stack
            .admin(
                reqwest::Method::PUT,
                &format!("/api/admin/flags/{id}"),
                Some(json!({"rollout_percentage": percent})),
            )
            .await;
    }
    stack.start_edge().await;
    let body = stack
        .wait_for(&server_key, "the final state", |b| {
            flag(b, "busy").is_some_and(|f| f["rollout_percentage"] == 40)
        })
        .await;
    assert_eq!(flag(&body, "busy").unwrap()["rollout_percentage"], 40);
    let ready = stack
        .http
        .get(format!("{}/readyz", stack.edge))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ready.status(),
        200,
        "ready once every environment is loaded"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn edges_serve_through_a_redis_outage_and_catch_up(pool: PgPool) {
    let mut redis = redis_server::RedisServer::new();
    let mut stack = control_plane_on(pool, redis.url()).await;
    stack.start_edge().await;
    let (_, server_key) = stack.sdk_key("server").await;
    let created = stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "steady", "enabled": true})),
        )
        .await;
    stack
        .wait_for(&server_key, "the flag before the outage", |b| {
            flag(b, "steady").is_some()
        })
        .await;

    redis.stop();
    // The edge keeps serving its last snapshot while Redis is down.
    for _ in 0..5 {
        let body = stack
            .wait_for(&server_key, "serving during the outage", |_| true)
            .await;
        assert_eq!(flag(&body, "steady").unwrap()["enabled"], true);
    }
    // A change made during the outage commits (the outbox holds it) ...
    let id = created["id"].as_str().unwrap();
    stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/admin/flags/{id}/toggle"),
            None,
        )
        .await;
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "during-outage"})),
        )
        .await;

    // ... and reaches the edge once Redis is back (empty: it keeps nothing).
    redis.start();
    let body = stack
        .wait_for(&server_key, "the changes made during the outage", |b| {
            flag(b, "steady").is_some_and(|f| f["enabled"] == false)
                && flag(b, "during-outage").is_some()
        })
        .await;
    assert_eq!(flag(&body, "steady").unwrap()["enabled"], false);
}
