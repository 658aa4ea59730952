//! The test stack: a real control plane (fresh PostgreSQL database per
//! test) with its outbox relay on Redis under a unique key prefix, and edges
//! started through `halyard_edge::startup` on port 0. Every wait is bounded.

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
use halyard_edge::config::EdgeConfig;
use serde_json::{Value, json};
use sqlx::PgPool;

pub const ADMIN_KEY: &str = "edge-test-admin-key";
pub const DEADLINE: Duration = Duration::from_secs(15);

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub struct Stack {
    pub redis: String,
    pub control_plane: String,
    /// The first edge's base URL.
    pub edge: String,
    pub http: reqwest::Client,
    pub prefix: String,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// A running edge.
pub struct Edge {
    pub url: String,
    pub metrics: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Edge {
    /// Waits until `/readyz` says every environment has a snapshot.
    pub async fn ready(&self, http: &reqwest::Client) {
        let started = tokio::time::Instant::now();
        loop {
            let response = http.get(format!("{}/readyz", self.url)).send().await;
            if response.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(started.elapsed() < DEADLINE, "the edge did not get ready");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Starts the edge's graceful shutdown and waits for it to finish.
    pub async fn shut_down(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let task = self.task.take().expect("running");
        tokio::time::timeout(DEADLINE, task)
            .await
            .expect("the edge shuts down in time")
            .expect("the edge task completes")
            .expect("the edge stops cleanly");
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Settings of an edge beyond the stack's defaults.
#[derive(Default)]
pub struct EdgeOptions {
    pub redis: Option<String>,
    pub snapshot_dir: Option<std::path::PathBuf>,
    pub rate_limit: Option<u32>,
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

pub async fn serve(router: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
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
pub async fn control_plane(pool: PgPool) -> Stack {
    control_plane_on(pool, redis_url()).await
}

/// A control plane whose relay publishes to the Redis at `redis_url`.
pub async fn control_plane_on(pool: PgPool, redis_url: String) -> Stack {
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
    /// Starts the stack's first edge (kept running until the stack drops).
    pub async fn start_edge(&mut self) {
        let edge = self.spawn_edge(EdgeOptions::default()).await;
        self.adopt(edge);
    }

    /// Keeps `edge` running with the stack; the first one becomes `self.edge`.
    pub fn adopt(&mut self, mut edge: Edge) {
        if self.edge.is_empty() {
            self.edge = edge.url.clone();
        }
        let task = edge.task.take().expect("running");
        // Dropping the sender would shut the edge down: keep it in the task.
        let shutdown = edge.shutdown.take();
        self.tasks.push(tokio::spawn(async move {
            let _keep = shutdown;
            let _ = task.await;
        }));
    }

    /// Starts an edge through `halyard_edge::startup` on ports chosen by
    /// the system.
    pub async fn spawn_edge(&self, options: EdgeOptions) -> Edge {
        let config = EdgeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            metrics_listen: "127.0.0.1:0".parse().unwrap(),
            redis_url: options.redis.unwrap_or_else(|| self.redis.clone()).into(),
            redis_prefix: self.prefix.clone(),
            control_plane_url: None,
            edge_token: None,
            snapshot_dir: options.snapshot_dir,
            rate_limit: options.rate_limit.and_then(std::num::NonZeroU32::new),
            response_cache_mib: 64,
            shutdown_grace_seconds: 30,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let metrics_url = format!("http://{}/metrics", metrics.local_addr().unwrap());
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(halyard_edge::startup::run_on(
            config,
            listener,
            metrics,
            async move {
                let _ = signal.await;
            },
        ));
        Edge {
            url,
            metrics: metrics_url,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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

    pub async fn sdk_key(&self, kind: &str) -> (String, String) {
        let created = self
            .admin(reqwest::Method::POST, "/api/admin/keys", Some(json!({"name": format!("{kind} key"), "kind": kind, "environment": "production"})))
            .await;
        (
            created["id"].as_str().unwrap().to_owned(),
            created["plaintext"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn edge_get(
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
    pub async fn wait_for(&self, key: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
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

pub fn flag<'a>(body: &'a Value, key: &str) -> Option<&'a Value> {
    body["flags"].as_array()?.iter().find(|f| f["key"] == key)
}

// ---- evaluation and OFREP ----------------------------------------------------

/// A validator for one schema of the OFREP specification (OpenAPI 3.1, whose
/// schemas are JSON Schema 2020-12), resolving its `$ref`s in the document.
pub fn ofrep_schema(name: &str) -> jsonschema::Validator {
    let mut spec: Value =
        serde_norway::from_str(include_str!("ofrep-openapi.yaml")).expect("the OFREP spec parses");
    // Two corrections to the spec as published, or no success response with a
    // value could ever validate: `codeDefaultFlag` is `{type: object}` with
    // no constraint (its description says it has no `value`), and every
    // integer also matches `floatFlag`, so the value `oneOf` always has
    // several matches. Apply the described meaning and accept any branch.
    let schemas = &mut spec["components"]["schemas"];
    schemas["codeDefaultFlag"]["not"] = json!({"required": ["value"]});
    let value_types = &mut schemas["evaluationSuccess"]["allOf"][1];
    let branches = value_types["oneOf"].take();
    assert!(
        branches.is_array(),
        "the spec's value oneOf moved; revisit this correction"
    );
    value_types.as_object_mut().unwrap().remove("oneOf");
    value_types["anyOf"] = branches;
    spec["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    spec["$ref"] = json!(format!("#/components/schemas/{name}"));
    jsonschema::validator_for(&spec).expect("the schema compiles")
}

#[track_caller]
pub fn assert_valid(schema: &str, instance: &Value) {
    let validator = ofrep_schema(schema);
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{instance} is not a valid OFREP {schema}: {errors:?}"
    );
}

impl Stack {
    pub async fn edge_post(
        &self,
        path: &str,
        key: &str,
        body: &str,
        etag: Option<&str>,
    ) -> (u16, HeaderMapOwned, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.edge))
            .header("X-API-Key", key)
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        let response = request.send().await.expect("edge answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
}

pub type HeaderMapOwned = reqwest::header::HeaderMap;

/// Sets up: a legacy flag (50% rollout, one target), a string flag with a
/// rule on `country`, a disabled flag, a prerequisite chain; returns the keys.
pub async fn evaluation_stack(pool: PgPool) -> (Stack, String, String) {
    let mut stack = control_plane(pool).await;
    stack.start_edge().await;
    let (_, server_key) = stack.sdk_key("server").await;
    let (_, client_key) = stack.sdk_key("client").await;
    stack
        .admin(reqwest::Method::POST, "/api/admin/flags", Some(json!({"key": "checkout", "enabled": true, "rollout_percentage": 100, "targeted_users": []})))
        .await;
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "dormant", "enabled": false})),
        )
        .await;
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flag-definitions",
            Some(json!({"key": "banner", "kind": "string", "variations": [{"key": "a", "value": "A"}, {"key": "b", "value": "B"}]})),
        )
        .await;
    stack
        .admin(
            reqwest::Method::PUT,
            "/api/admin/environments/production/flags/banner",
            Some(json!({"version": 1, "enabled": true, "off_variation": "a", "default": {"variation": "a"},
                        "rules": [{"id": "fr", "clauses": [{"attribute": "country", "operator": "in", "values": ["FR"]}], "serve": {"variation": "b"}}],
                        "prerequisites": [{"flag": "dormant", "variation": "true"}]})),
        )
        .await;
    // Wait until the last change is on the edge.
    let started = tokio::time::Instant::now();
    loop {
        let (status, _, body) = stack
            .edge_post(
                "/api/evaluate",
                &server_key,
                r#"{"context": {"targetingKey": "u1"}}"#,
                None,
            )
            .await;
        if status == 200 && body["results"]["banner"]["reason"] == "PREREQUISITE_FAILED" {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the setup did not reach the edge: {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (stack, server_key, client_key)
}

/// A parsed SSE frame.
#[derive(Debug)]
pub struct Frame {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
    /// `retry:` (sent alone, before the edge closes the stream on shutdown).
    pub retry: Option<u64>,
}

/// Reads frames from an SSE response body, each wait bounded.
pub struct Frames {
    response: reqwest::Response,
    buffer: String,
}

impl Frames {
    /// A v2 stream on the stack's first edge.
    pub async fn open(stack: &Stack, key: &str, last_event_id: Option<u64>) -> Self {
        Self::open_at(
            stack,
            &format!("{}/api/client/stream?dialect=v2", stack.edge),
            key,
            last_event_id,
        )
        .await
    }

    /// Any stream, at a full URL.
    pub async fn open_at(stack: &Stack, url: &str, key: &str, last_event_id: Option<u64>) -> Self {
        let mut request = stack.http.get(url).header("X-SDK-Key", key);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("edge answers");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next frame other than `ping` and comments, or `None` when the
    /// stream ends.
    pub async fn next(&mut self, what: &str) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let mut frame = Frame {
                    id: None,
                    event: "message".into(),
                    data: Value::Null,
                    retry: None,
                };
                if raw.lines().all(|line| line.starts_with(':')) {
                    continue;
                }
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("retry: ") {
                        frame.retry = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        frame.id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        frame.event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        frame.data = serde_json::from_str(v).expect("event data is JSON");
                    }
                }
                if frame.event != "ping" {
                    return Some(frame);
                }
                continue;
            }
            let chunk = tokio::time::timeout(DEADLINE, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("{what}: nothing on the stream within {DEADLINE:?}"))
                .expect("stream readable")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}
