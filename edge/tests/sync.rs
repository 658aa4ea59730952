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

// ---- evaluation and OFREP ----------------------------------------------------

/// A validator for one schema of the OFREP specification (OpenAPI 3.1, whose
/// schemas are JSON Schema 2020-12), resolving its `$ref`s in the document.
fn ofrep_schema(name: &str) -> jsonschema::Validator {
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
fn assert_valid(schema: &str, instance: &Value) {
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
    async fn edge_post(
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

type HeaderMapOwned = reqwest::header::HeaderMap;

/// Sets up: a legacy flag (50% rollout, one target), a string flag with a
/// rule on `country`, a disabled flag, a prerequisite chain; returns the keys.
async fn evaluation_stack(pool: PgPool) -> (Stack, String, String) {
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

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn evaluate_returns_halyard_results_for_both_key_kinds(pool: PgPool) {
    let (stack, server_key, client_key) = evaluation_stack(pool).await;
    for key in [&server_key, &client_key] {
        let (status, headers, body) = stack
            .edge_post(
                "/api/evaluate",
                key,
                r#"{"context": {"targetingKey": "u1", "country": "FR"}}"#,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(headers.contains_key("x-halyard-revision"));
        assert_eq!(
            body["results"]["checkout"],
            json!({"value": true, "variation": "true", "reason": "SPLIT"})
        );
        assert_eq!(
            body["results"]["dormant"],
            json!({"value": false, "variation": "false", "reason": "DISABLED"})
        );
        assert_eq!(
            body["results"]["banner"],
            json!({"value": "A", "variation": "a", "reason": "PREREQUISITE_FAILED", "prerequisite": "dormant"})
        );
    }
    let (_, _, one) = stack
        .edge_post(
            "/api/evaluate",
            &server_key,
            r#"{"context": {"targetingKey": "u1"}, "flag": "missing"}"#,
            None,
        )
        .await;
    assert_eq!(
        one["results"],
        json!({"missing": {"value": null, "variation": null, "reason": "ERROR", "error_code": "FLAG_NOT_FOUND"}})
    );
    let (status, _, _) = stack
        .edge_post(
            "/api/evaluate",
            "hal_cli_unknown",
            r#"{"context": {}}"#,
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn ofrep_single_and_bulk_follow_the_spec(pool: PgPool) {
    let (stack, _, client_key) = evaluation_stack(pool).await;
    let context = r#"{"context": {"targetingKey": "u1", "country": "FR"}}"#;

    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags/checkout",
            &client_key,
            context,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_valid("serverEvaluationSuccess", &body);
    assert_eq!(
        (
            body["key"].clone(),
            body["reason"].clone(),
            body["variant"].clone(),
            body["value"].clone()
        ),
        (
            json!("checkout"),
            json!("SPLIT"),
            json!("true"),
            json!(true)
        )
    );

    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags/banner",
            &client_key,
            context,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_valid("serverEvaluationSuccess", &body);
    assert_eq!(
        body["reason"], "DISABLED",
        "PREREQUISITE_FAILED has no OFREP twin"
    );
    assert_eq!(
        body["metadata"],
        json!({"halyardReason": "PREREQUISITE_FAILED", "prerequisite": "dormant"})
    );

    let (status, _, body) = stack
        .edge_post("/ofrep/v1/evaluate/flags/nope", &client_key, context, None)
        .await;
    assert_eq!(status, 404);
    assert_valid("flagNotFound", &body);
    assert_eq!(body["errorCode"], "FLAG_NOT_FOUND");

    // A missing targeting key fails only the flags that need one.
    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags/checkout",
            &client_key,
            r#"{"context": {"country": "FR"}}"#,
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_valid("evaluationFailure", &body);
    assert_eq!(body["errorCode"], "TARGETING_KEY_MISSING");
    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags/dormant",
            &client_key,
            r#"{"context": {"country": "FR"}}"#,
            None,
        )
        .await;
    assert_eq!(
        (status, body["reason"].clone()),
        (200, json!("DISABLED")),
        "a disabled flag needs no key: {body}"
    );

    for (input, code) in [
        ("{", "PARSE_ERROR"),
        (r#"{"ctx": {}}"#, "PARSE_ERROR"),
        (r#"{"context": {"targetingKey": 7}}"#, "INVALID_CONTEXT"),
    ] {
        let (status, _, body) = stack
            .edge_post(
                "/ofrep/v1/evaluate/flags/checkout",
                &client_key,
                input,
                None,
            )
            .await;
        assert_eq!(
            (status, body["errorCode"].clone()),
            (400, json!(code)),
            "{input}: {body}"
        );
        assert_valid("evaluationFailure", &body);
    }
    let big = format!(
        r#"{{"context": {{"targetingKey": "u1", "pad": "{}"}}}}"#,
        "x".repeat(65 * 1024)
    );
    let (status, _, _) = stack
        .edge_post("/ofrep/v1/evaluate/flags/checkout", &client_key, &big, None)
        .await;
    assert_eq!(status, 413, "a 65 KiB context");

    // Bulk: every flag, schema-valid, with an ETag that yields 304.
    let (status, headers, body) = stack
        .edge_post("/ofrep/v1/evaluate/flags", &client_key, context, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_valid("bulkEvaluationSuccess", &body);
    let keys: Vec<&str> = body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["banner", "checkout", "dormant"]);
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, _) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags",
            &client_key,
            context,
            Some(&etag),
        )
        .await;
    assert_eq!(status, 304, "same epoch, revision and context");
    let (status, _, _) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags",
            &client_key,
            r#"{"context": {"targetingKey": "u2"}}"#,
            Some(&etag),
        )
        .await;
    assert_eq!(status, 200, "another context is another ETag");
    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags",
            &client_key,
            r#"{"context": {"targetingKey": 1}}"#,
            None,
        )
        .await;
    assert_eq!(
        (status, body["errorCode"].clone()),
        (400, json!("INVALID_CONTEXT"))
    );
    assert_valid("bulkEvaluationFailure", &body);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn cors_preflight_needs_no_key_and_exposes_revision_headers(pool: PgPool) {
    let (stack, _, client_key) = evaluation_stack(pool).await;
    let preflight = stack
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/ofrep/v1/evaluate/flags", stack.edge),
        )
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "x-api-key, content-type")
        .send()
        .await
        .unwrap();
    assert!(
        preflight.status().is_success(),
        "preflight without a key: {}",
        preflight.status()
    );
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("x-api-key"), "{allowed}");

    let response = stack
        .http
        .post(format!("{}/ofrep/v1/evaluate/flags", stack.edge))
        .header("Origin", "https://app.example")
        .header("X-API-Key", &client_key)
        .header("Content-Type", "application/json")
        .body(r#"{"context": {"targetingKey": "u1"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("x-halyard-revision"),
        "{exposed}"
    );
}

// ---- v2 stream ----------------------------------------------------------------

/// A parsed SSE frame.
#[derive(Debug)]
struct Frame {
    id: Option<u64>,
    event: String,
    data: Value,
}

/// Reads frames from an SSE response body, each wait bounded.
struct Frames {
    response: reqwest::Response,
    buffer: String,
}

impl Frames {
    async fn open(stack: &Stack, key: &str, last_event_id: Option<u64>) -> Self {
        let mut request = stack
            .http
            .get(format!("{}/api/client/stream?dialect=v2", stack.edge))
            .header("X-SDK-Key", key);
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

    /// The next frame other than `ping`, or `None` when the stream ends.
    async fn next(&mut self, what: &str) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let mut frame = Frame {
                    id: None,
                    event: "message".into(),
                    data: Value::Null,
                };
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
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

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn v2_stream_puts_patches_replays_and_closes_on_revocation(pool: PgPool) {
    let (stack, server_key, client_key) = evaluation_stack(pool).await;
    let mut stream = Frames::open(&stack, &server_key, None).await;
    let put = stream.next("the initial put").await.expect("a put");
    assert_eq!(put.event, "put");
    let base = put.id.expect("an id");
    assert_eq!(put.data["revision"], base);
    assert!(put.data.get("keys").is_none(), "no key material on streams");

    let created = stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "streamed"})),
        )
        .await;
    let patch = stream.next("the patch").await.expect("a patch");
    assert_eq!((patch.event.as_str(), patch.id), ("patch", Some(base + 1)));
    assert_eq!(patch.data["changes"][0]["type"], "flag_upserted");
    assert_eq!(patch.data["changes"][0]["flag"]["flag"]["key"], "streamed");

    let id = created["id"].as_str().unwrap();
    let deleted = stack
        .http
        .delete(format!("{}/api/admin/flags/{id}", stack.control_plane))
        .header("X-Admin-API-Key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let delete = stream.next("the delete").await.expect("a delete");
    assert_eq!(
        (delete.event.as_str(), delete.id),
        ("delete", Some(base + 2))
    );

    // Reconnecting with Last-Event-ID replays exactly what was missed.
    let mut resumed = Frames::open(&stack, &server_key, Some(base)).await;
    let first = resumed.next("the replayed patch").await.unwrap();
    let second = resumed.next("the replayed delete").await.unwrap();
    assert_eq!(
        (
            first.event.as_str(),
            first.id,
            second.event.as_str(),
            second.id
        ),
        ("patch", Some(base + 1), "delete", Some(base + 2))
    );
    // Resuming at the head replays nothing and follows live changes. (A
    // Last-Event-ID older than the replay log gets a full resend; the unit
    // tests in src/stream.rs cover that, since this edge's log reaches back to
    // revision 1.)
    let mut current = Frames::open(&stack, &server_key, Some(base + 2)).await;
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "after-resume"})),
        )
        .await;
    let next = current.next("the live patch").await.unwrap();
    assert_eq!((next.event.as_str(), next.id), ("patch", Some(base + 3)));

    // Only server keys, and only the v2 dialect for now.
    let client = stack
        .http
        .get(format!("{}/api/client/stream?dialect=v2", stack.edge))
        .header("X-SDK-Key", &client_key)
        .send()
        .await
        .unwrap();
    assert_eq!(client.status(), 403);
    let legacy = stack
        .http
        .get(format!("{}/api/client/stream", stack.edge))
        .header("X-SDK-Key", &server_key)
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), 501);

    // Revoking the key closes its open streams.
    let keys = stack
        .admin(reqwest::Method::GET, "/api/admin/keys", None)
        .await;
    let server_id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "server")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    stack
        .http
        .delete(format!(
            "{}/api/admin/keys/{server_id}",
            stack.control_plane
        ))
        .header("X-Admin-API-Key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    // The stream then ends (the revisions before it may still arrive first,
    // as patches); `next` fails the test if it does not end in time.
    while let Some(frame) = stream.next("the end of the stream").await {
        assert_eq!(frame.event, "patch", "{frame:?}");
    }
}
