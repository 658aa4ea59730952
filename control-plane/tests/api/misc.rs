//! Health, readiness and the OpenAPI document; the evaluation playground;
//! the edge snapshot endpoint; environments (create, delete, rename).

use halyard_common::{Snapshot, SnapshotData};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{ADMIN_KEY, TestApp, assert_error, read, spawn_app};

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn health_readiness_and_openapi(pool: PgPool) {
    let app = spawn_app(pool).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "a migrated database is ready");
    let (status, doc) = crate::helpers::read(
        app.client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1: {}",
        doc["openapi"]
    );
    for path in [
        "/api/admin/flags",
        "/api/admin/flags/{id}/toggle",
        "/api/admin/environments/{env}/flags/{key}",
        "/api/admin/events",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}

// ---------------------------------------------------------------------------
// The evaluation playground.
// ---------------------------------------------------------------------------

async fn create_flag(app: &TestApp, body: Value) {
    let (status, created) = app
        .json(Method::POST, "/api/admin/flag-definitions", &body)
        .await;
    assert_eq!(status, 201, "creating {body}: {created}");
}

async fn put_config(app: &TestApp, environment: &str, key: &str, config: Value) {
    let path = format!("/api/admin/environments/{environment}/flags/{key}");
    let (status, body) = app.json(Method::PUT, &path, &config).await;
    assert_eq!(status, 200, "PUT {path} {config}: {body}");
}

/// `checkout` (boolean, targets user-1), `limit` (number, a rule for the pro
/// plan) enabled in production; `theme` (string) disabled.
async fn playground(app: &TestApp) {
    create_flag(app, json!({"key": "checkout", "kind": "boolean"})).await;
    create_flag(
        app,
        json!({"key": "theme", "kind": "string", "variations": [
            {"key": "dark", "value": "dark"}, {"key": "light", "value": "light"}]}),
    )
    .await;
    create_flag(
        app,
        json!({"key": "limit", "kind": "number", "variations": [
            {"key": "low", "value": 10}, {"key": "high", "value": 100}]}),
    )
    .await;
    put_config(
        app,
        "production",
        "checkout",
        json!({
            "enabled": true,
            "off_variation": "false",
            "targets": [{"variation": "true", "values": ["user-1"]}],
            "default": {"variation": "false"},
            "version": 1,
        }),
    )
    .await;
    put_config(
        app,
        "production",
        "limit",
        json!({
            "enabled": true,
            "off_variation": "low",
            "rules": [{"id": "pro-plan", "clauses": [
                {"attribute": "plan", "operator": "in", "values": ["pro"]}],
                "serve": {"variation": "high"}}],
            "default": {"variation": "low"},
            "version": 1,
        }),
    )
    .await;
}

async fn evaluate(app: &TestApp, environment: &str, body: Value) -> (u16, Value) {
    app.json(
        Method::POST,
        &format!("/api/admin/environments/{environment}/evaluate"),
        &body,
    )
    .await
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn evaluate_returns_every_flags_result_for_a_context(pool: PgPool) {
    let app = spawn_app(pool).await;
    playground(&app).await;
    let (status, body) = evaluate(
        &app,
        "production",
        json!({"context": {"targetingKey": "user-1", "plan": "pro"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revision"], app.revision("production").await, "{body}");
    assert_eq!(
        body["results"],
        json!({
            "checkout": {"value": true, "variation": "true", "reason": "TARGETING_MATCH", "target": true},
            "limit": {"value": 100, "variation": "high", "reason": "TARGETING_MATCH", "rule_index": 0, "rule_id": "pro-plan"},
            "theme": {"value": "dark", "variation": "dark", "reason": "DISABLED"},
        }),
        "{body}"
    );

    let (status, body) = evaluate(
        &app,
        "production",
        json!({"context": {"targetingKey": "user-2"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"]["checkout"],
        json!({"value": false, "variation": "false", "reason": "DEFAULT"})
    );
    assert_eq!(
        body["results"]["limit"],
        json!({"value": 10, "variation": "low", "reason": "DEFAULT"})
    );

    // Development has every flag disabled.
    let (status, body) = evaluate(
        &app,
        "development",
        json!({"context": {"targetingKey": "user-1", "plan": "pro"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revision"], app.revision("development").await);
    let results = body["results"].as_object().expect("results");
    assert_eq!(results.len(), 3, "{body}");
    assert!(
        results.values().all(|r| r["reason"] == "DISABLED"),
        "{body}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn evaluate_returns_one_flag_when_named(pool: PgPool) {
    let app = spawn_app(pool).await;
    playground(&app).await;
    let (status, body) = evaluate(
        &app,
        "production",
        json!({"context": {"targetingKey": "user-9", "plan": "pro"}, "flag": "limit"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"],
        json!({"limit": {"value": 100, "variation": "high", "reason": "TARGETING_MATCH", "rule_index": 0, "rule_id": "pro-plan"}}),
        "{body}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn evaluate_reports_invalid_context_for_a_non_object(pool: PgPool) {
    let app = spawn_app(pool).await;
    playground(&app).await;
    let error = json!({"value": null, "variation": null, "reason": "ERROR", "error_code": "INVALID_CONTEXT"});
    for context in [json!("user-1"), json!(42), json!(["user-1"]), Value::Null] {
        let (status, body) = evaluate(&app, "production", json!({"context": context})).await;
        assert_eq!(status, 200, "context {context}: {body}");
        let results = body["results"].as_object().expect("results");
        assert_eq!(results.len(), 3, "every flag has a result: {body}");
        for (key, result) in results {
            assert_eq!(result, &error, "{key} for context {context}");
        }
        let (status, body) = evaluate(
            &app,
            "production",
            json!({"context": context, "flag": "checkout"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["results"], json!({"checkout": error}), "{body}");
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn evaluate_reports_flag_not_found_for_an_unknown_flag(pool: PgPool) {
    let app = spawn_app(pool).await;
    playground(&app).await;
    let (status, body) = evaluate(
        &app,
        "production",
        json!({"context": {"targetingKey": "user-1"}, "flag": "missing"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"],
        json!({"missing": {"value": null, "variation": null, "reason": "ERROR", "error_code": "FLAG_NOT_FOUND"}}),
        "{body}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn evaluate_in_an_unknown_environment_is_not_found(pool: PgPool) {
    let app = spawn_app(pool).await;
    let result = evaluate(
        &app,
        "staging",
        json!({"context": {"targetingKey": "user-1"}}),
    )
    .await;
    assert_error(&result, 404, "not_found");
}

// ---------------------------------------------------------------------------
// The edge snapshot endpoint.
// ---------------------------------------------------------------------------

fn sha256_hex(plaintext: &str) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(plaintext.as_bytes()))
}

async fn edge_snapshot(app: &TestApp, edge: &str, environment: &str) -> (u16, Value) {
    app.send_as(
        edge,
        Method::GET,
        &format!("/api/internal/environments/{environment}/snapshot"),
    )
    .await
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn edge_snapshot_builds_at_the_current_revision_with_sdk_key_hashes(pool: PgPool) {
    let app = spawn_app(pool).await;
    playground(&app).await;
    let (status, body) = app
        .json(
            Method::POST,
            "/api/admin/environments/production/segments",
            &json!({"key": "beta", "included": ["user-7"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, server) = app
        .create_key(json!({"name": "backend", "kind": "server", "environment": "production"}))
        .await;
    let (_, client) = app
        .create_key(json!({"name": "web", "kind": "client", "environment": "production"}))
        .await;
    let (revoked_id, revoked) = app
        .create_key(json!({"name": "old", "kind": "server", "environment": "production"}))
        .await;
    let (status, _) = app
        .send_as(
            ADMIN_KEY,
            Method::DELETE,
            &format!("/api/admin/keys/{revoked_id}"),
        )
        .await;
    assert_eq!(status, 204);
    let (_, development_key) = app
        .create_key(json!({"name": "dev", "kind": "server", "environment": "development"}))
        .await;
    let admin = app.token("admin").await;
    let (_, edge) = app
        .create_key(json!({"name": "edge", "kind": "edge"}))
        .await;

    let (status, body) = edge_snapshot(&app, &edge, "production").await;
    assert_eq!(status, 200, "{body}");
    let data: SnapshotData = serde_json::from_value(body.clone()).expect("a SnapshotData");
    let snapshot = Snapshot::build(data.clone()).expect("the snapshot builds");
    let production = app
        .store
        .environment("production")
        .await
        .unwrap()
        .expect("production");
    assert_eq!(
        snapshot.revision(),
        production.revision,
        "the current revision"
    );
    assert_eq!(snapshot.epoch(), &production.epoch);
    assert_eq!(snapshot.environment().as_str(), "production");
    let mut flags: Vec<&str> = data.flags.iter().map(|f| f.flag.key.as_str()).collect();
    flags.sort_unstable();
    assert_eq!(flags, ["checkout", "limit", "theme"]);
    let segments: Vec<&str> = data.segments.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(segments, ["beta"]);
    let mut hashes: Vec<String> = data.keys.iter().map(|k| k.sha256.clone()).collect();
    hashes.sort();
    let mut expected = vec![sha256_hex(&server), sha256_hex(&client)];
    expected.sort();
    assert_eq!(
        hashes,
        expected,
        "the environment's active SDK keys only (not revoked {}, not development's {}, not admin {} or edge {})",
        sha256_hex(&revoked),
        sha256_hex(&development_key),
        sha256_hex(&admin),
        sha256_hex(&edge)
    );
    assert_eq!(
        data,
        app.store
            .snapshot("production")
            .await
            .unwrap()
            .expect("production"),
        "what the store reads"
    );

    let (status, body) = edge_snapshot(&app, &edge, "development").await;
    assert_eq!(status, 200, "{body}");
    let data: SnapshotData = serde_json::from_value(body).expect("a SnapshotData");
    assert_eq!(data.revision, app.revision("development").await);
    assert_eq!(
        data.keys
            .iter()
            .map(|k| k.sha256.clone())
            .collect::<Vec<_>>(),
        [sha256_hex(&development_key)]
    );
    Snapshot::build(data).expect("development builds");
}

// ---------------------------------------------------------------------------
// Environments.
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_new_environment_starts_at_revision_one_with_every_flag_disabled(pool: PgPool) {
    let app = spawn_app(pool).await;
    playground(&app).await;
    let revisions_before = (
        app.revision("development").await,
        app.revision("production").await,
    );
    let admin = app.token("admin").await;
    let (status, created) = app
        .json_as(
            &admin,
            Method::POST,
            "/api/admin/environments",
            &json!({"key": "staging", "name": "Staging"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["key"], "staging");
    assert_eq!(created["name"], "Staging");
    assert_eq!(created["revision"], 1);
    assert_eq!(created["version"], 1);
    let (_, environments) = app.get("/api/admin/environments").await;
    let epochs: Vec<&Value> = environments
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["epoch"])
        .collect();
    assert_eq!(epochs.len(), 3);
    assert_eq!(
        epochs.iter().filter(|e| ***e == created["epoch"]).count(),
        1,
        "a new epoch: {environments}"
    );
    assert_eq!(
        (
            app.revision("development").await,
            app.revision("production").await,
        ),
        revisions_before,
        "other environments do not move"
    );

    let (status, flags) = app.get("/api/admin/environments/staging/flags").await;
    assert_eq!(status, 200, "{flags}");
    assert_eq!(flags["total"], 3, "{flags}");
    let off = |key: &str| match key {
        "checkout" => "false",
        "limit" => "low",
        "theme" => "dark",
        other => panic!("unexpected flag {other}"),
    };
    for item in flags["items"].as_array().unwrap() {
        let key = item["flag"]["key"].as_str().unwrap();
        assert_eq!(
            item["config"],
            json!({
                "enabled": false,
                "off_variation": off(key),
                "targets": [],
                "rules": [],
                "default": {"variation": off(key)},
                "prerequisites": [],
                "version": 1,
            }),
            "{key} starts in its default configuration"
        );
    }

    let row = app
        .outbox()
        .await
        .into_iter()
        .find(|r| r.message.environment.as_str() == "staging")
        .expect("a message for staging");
    let message = serde_json::to_value(&row.message).unwrap();
    assert_eq!(message["revision"], 1);
    assert_eq!(message["base_revision"], 0);
    assert_eq!(message["epoch"], created["epoch"]);
    let types: Vec<&str> = message["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "environment_created",
            "flag_upserted",
            "flag_upserted",
            "flag_upserted"
        ],
        "{message}"
    );

    let (_, edge) = app
        .create_key(json!({"name": "edge", "kind": "edge"}))
        .await;
    let (status, body) = edge_snapshot(&app, &edge, "staging").await;
    assert_eq!(status, 200, "{body}");
    let snapshot = Snapshot::build(serde_json::from_value(body).unwrap()).expect("builds");
    assert_eq!(snapshot.revision(), 1);

    let (status, created) = app
        .json(
            Method::POST,
            "/api/admin/environments",
            &json!({"key": "qa"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "qa", "the name defaults to the key");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn deleting_an_environment_writes_environment_deleted(pool: PgPool) {
    let app = spawn_app(pool).await;
    playground(&app).await;
    let (status, created) = app
        .json(
            Method::POST,
            "/api/admin/environments",
            &json!({"key": "staging"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (key_id, _) = app
        .create_key(json!({"name": "staging server", "kind": "server", "environment": "staging"}))
        .await;
    assert_eq!(app.revision("staging").await, 2);

    let (status, body) = app
        .send_as(ADMIN_KEY, Method::DELETE, "/api/admin/environments/staging")
        .await;
    assert_eq!(status, 204, "{body}");
    let gone = app.get("/api/admin/environments/staging").await;
    assert_error(&gone, 404, "not_found");
    let row = app.outbox().await.pop().expect("a message");
    let message = serde_json::to_value(&row.message).unwrap();
    assert_eq!(
        message["environment"], "staging",
        "the last message is the deletion: {message}"
    );
    assert_eq!(message["revision"], 3);
    assert_eq!(message["base_revision"], 2);
    assert_eq!(message["epoch"], created["epoch"]);
    assert_eq!(message["changes"], json!([{"type": "environment_deleted"}]));

    let (_, keys) = app.get("/api/admin/keys").await;
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|k| k["id"] != key_id.as_str()),
        "its SDK keys are gone: {keys}"
    );
    let again = app
        .send_as(ADMIN_KEY, Method::DELETE, "/api/admin/environments/staging")
        .await;
    assert_error(&again, 404, "not_found");

    let (status, recreated) = app
        .json(
            Method::POST,
            "/api/admin/environments",
            &json!({"key": "staging"}),
        )
        .await;
    assert_eq!(status, 201, "{recreated}");
    assert_eq!(recreated["revision"], 1);
    assert_ne!(
        recreated["epoch"], created["epoch"],
        "a re-created environment starts a new epoch"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_duplicate_or_invalid_environment_is_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (_, before) = app.get("/api/admin/environments/production").await;
    let outbox = app.outbox().await.len();
    let duplicate = app
        .json(
            Method::POST,
            "/api/admin/environments",
            &json!({"key": "production"}),
        )
        .await;
    assert_error(&duplicate, 409, "duplicate_key");
    let (_, after) = app.get("/api/admin/environments/production").await;
    assert_eq!(after, before, "production is untouched");
    assert_eq!(app.outbox().await.len(), outbox, "no message written");

    let (status, body) = app
        .json(
            Method::POST,
            "/api/admin/environments",
            &json!({"key": "not valid!"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["path"], "key", "{body}");

    // A display name must say something, on create and on rename.
    for name in ["", "   "] {
        let created = app
            .json(
                Method::POST,
                "/api/admin/environments",
                &json!({"key": "staging", "name": name}),
            )
            .await;
        assert_error(&created, 400, "invalid_request");
        assert_eq!(created.1["path"], "name", "{}", created.1);
        let renamed = app
            .json(
                Method::PATCH,
                "/api/admin/environments/production",
                &json!({"name": name, "version": 1}),
            )
            .await;
        assert_error(&renamed, 400, "invalid_request");
        assert_eq!(renamed.1["path"], "name", "{}", renamed.1);
    }
    let (status, _) = app.get("/api/admin/environments/staging").await;
    assert_eq!(status, 404, "nothing was created");
    let (_, after) = app.get("/api/admin/environments/production").await;
    assert_eq!(after, before, "production is untouched");
    assert_eq!(app.outbox().await.len(), outbox, "no message written");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn renaming_an_environment_needs_its_current_version(pool: PgPool) {
    let app = spawn_app(pool).await;
    let path = "/api/admin/environments/production";
    let revision = app.revision("production").await;
    let outbox = app.outbox().await.len();

    let missing = app
        .json(Method::PATCH, path, &json!({"name": "Live"}))
        .await;
    assert_error(&missing, 428, "version_required");
    let stale = app
        .json(Method::PATCH, path, &json!({"name": "Live", "version": 5}))
        .await;
    assert_error(&stale, 409, "version_conflict");

    let (status, renamed) = app
        .json(Method::PATCH, path, &json!({"name": "Live", "version": 1}))
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "Live");
    assert_eq!(renamed["version"], 2);

    let stale = read(
        app.admin(Method::PATCH, path)
            .header("If-Match", "W/\"1\"")
            .json(&json!({"name": "Old"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&stale, 409, "version_conflict");
    let (status, renamed) = read(
        app.admin(Method::PATCH, path)
            .header("If-Match", "\"2\"")
            .json(&json!({"name": "Production"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "Production");
    assert_eq!(renamed["version"], 3);
    let (_, read_back) = app.get(path).await;
    assert_eq!(read_back["name"], "Production");

    assert_eq!(
        app.revision("production").await,
        revision,
        "a rename changes nothing an edge sees"
    );
    assert_eq!(app.outbox().await.len(), outbox, "no change message");
    let unknown = app
        .json(
            Method::PATCH,
            "/api/admin/environments/staging",
            &json!({"name": "x", "version": 1}),
        )
        .await;
    assert_error(&unknown, 404, "not_found");
}
