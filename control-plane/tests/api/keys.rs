//! API keys (`/api/admin/keys`): creation of each kind with its plaintext
//! shown once, masked listings, invalid combinations, rotation with a grace
//! period, revocation, and what key changes publish (SDK keys reach the edges
//! through the change stream; their hashes reach nobody else).

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{ADMIN_KEY, TestApp, assert_error, spawn_app};

/// Base62 characters after the prefix of a generated key.
const SECRET_LEN: usize = 43;

fn sha256_hex(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

async fn list_keys(app: &TestApp) -> Vec<Value> {
    let (status, keys) = app.get("/api/admin/keys").await;
    assert_eq!(status, 200, "listing keys: {keys}");
    keys.as_array().expect("a list of keys").clone()
}

async fn listed(app: &TestApp, id: &str) -> Value {
    list_keys(app)
        .await
        .into_iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("key {id} is listed"))
}

/// Creates a key as the bootstrap admin; returns the whole 201 body.
async fn create(app: &TestApp, body: Value) -> Value {
    let (status, created) = app.json(Method::POST, "/api/admin/keys", &body).await;
    assert_eq!(status, 201, "creating {body}: {created}");
    created
}

async fn rotate(app: &TestApp, id: &str, body: Value) -> Value {
    let (status, rotated) = app
        .json(Method::POST, &format!("/api/admin/keys/{id}/rotate"), &body)
        .await;
    assert_eq!(status, 201, "rotating {id}: {rotated}");
    rotated
}

async fn revoke(app: &TestApp, id: &str) {
    let (status, body) = app
        .send_as(ADMIN_KEY, Method::DELETE, &format!("/api/admin/keys/{id}"))
        .await;
    assert_eq!(status, 204, "revoking {id}: {body}");
}

/// Whether `key` is accepted by the admin API (an admin token) or the
/// internal API (an edge token): the status of one read.
async fn status_with(app: &TestApp, key: &str, path: &str) -> u16 {
    app.send_as(key, Method::GET, path).await.0
}

/// The last outbox message of `environment`, as JSON.
async fn last_message(app: &TestApp, environment: &str) -> Value {
    let row = app
        .outbox()
        .await
        .into_iter()
        .rev()
        .find(|r| r.message.environment.as_str() == environment)
        .unwrap_or_else(|| panic!("an outbox message for {environment}"));
    serde_json::to_value(&row.message).expect("messages serialize")
}

async fn revisions(app: &TestApp) -> (u64, u64) {
    (
        app.revision("development").await,
        app.revision("production").await,
    )
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn creating_each_kind_returns_its_prefixed_plaintext(pool: PgPool) {
    let app = spawn_app(pool).await;
    let cases = [
        (
            json!({"name": "ci", "kind": "admin", "role": "editor"}),
            "hal_adm_",
        ),
        (
            json!({"name": "backend", "kind": "server", "environment": "production"}),
            "hal_srv_",
        ),
        (
            json!({"name": "web", "kind": "client", "environment": "development"}),
            "hal_cli_",
        ),
        (json!({"name": "edge-eu", "kind": "edge"}), "hal_edg_"),
    ];
    let mut plaintexts = Vec::new();
    for (body, prefix) in cases {
        let created = create(&app, body.clone()).await;
        let plaintext = created["plaintext"].as_str().expect("plaintext").to_owned();
        assert!(
            plaintext.starts_with(prefix),
            "{body}: {plaintext} starts with {prefix}"
        );
        assert_eq!(plaintext.len(), prefix.len() + SECRET_LEN, "{plaintext}");
        assert!(
            plaintext[prefix.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric()),
            "base62 secret: {plaintext}"
        );
        assert!(Uuid::parse_str(created["id"].as_str().unwrap()).is_ok());
        assert_eq!(created["name"], body["name"]);
        assert_eq!(created["kind"], body["kind"]);
        assert_eq!(
            created["role"],
            body.get("role").cloned().unwrap_or(Value::Null)
        );
        assert_eq!(
            created["environment"],
            body.get("environment").cloned().unwrap_or(Value::Null)
        );
        assert_eq!(created["status"], "active");
        let hint = created["hint"].as_str().expect("hint");
        assert!(
            hint.starts_with(prefix) && hint.contains('…'),
            "masked hint: {hint}"
        );
        assert_ne!(hint, plaintext);
        let text = created.to_string();
        assert!(
            !text.contains("sha256") && !text.contains(&sha256_hex(&plaintext)),
            "the create response holds no hash: {text}"
        );
        plaintexts.push(plaintext);
    }
    let unique: std::collections::HashSet<_> = plaintexts.iter().collect();
    assert_eq!(unique.len(), plaintexts.len(), "every key is different");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn listing_shows_masked_hints_and_never_a_plaintext_or_hash(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut created = Vec::new();
    for body in [
        json!({"name": "ci", "kind": "admin", "role": "viewer"}),
        json!({"name": "backend", "kind": "server", "environment": "production"}),
        json!({"name": "web", "kind": "client", "environment": "development"}),
        json!({"name": "edge-eu", "kind": "edge"}),
    ] {
        created.push(create(&app, body).await);
    }
    // A rotation's new plaintext must not be listed either.
    let rotated = rotate(
        &app,
        created[1]["id"].as_str().unwrap(),
        json!({"grace_seconds": 3600}),
    )
    .await;
    created.push(rotated);

    let (status, keys) = app.get("/api/admin/keys").await;
    assert_eq!(status, 200);
    let text = keys.to_string();
    assert!(
        !text.contains("sha256") && !text.contains("plaintext"),
        "no hash or plaintext fields: {text}"
    );
    let listed = keys.as_array().expect("a list");
    assert_eq!(listed.len(), created.len(), "every key is listed: {keys}");
    for key in &created {
        let plaintext = key["plaintext"].as_str().unwrap();
        assert!(!text.contains(plaintext), "plaintext {plaintext} listed");
        assert!(
            !text.contains(&sha256_hex(plaintext)),
            "hash of {plaintext} listed"
        );
        // The secret part is not recoverable from the hint either.
        assert!(
            !text.contains(&plaintext[12..plaintext.len() - 4]),
            "the middle of {plaintext} is listed"
        );
        let entry = listed
            .iter()
            .find(|k| k["id"] == key["id"])
            .unwrap_or_else(|| panic!("{} listed", key["id"]));
        assert_eq!(entry["hint"], key["hint"], "listed with its hint");
        assert_eq!(entry["name"], key["name"]);
        assert_eq!(entry["kind"], key["kind"]);
        assert_eq!(entry["environment"], key["environment"]);
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn invalid_key_combinations_are_rejected_with_the_field_path(pool: PgPool) {
    let app = spawn_app(pool).await;
    let cases = [
        (
            "admin without a role",
            json!({"name": "a", "kind": "admin"}),
            "role",
        ),
        (
            "admin with an environment",
            json!({"name": "a", "kind": "admin", "role": "viewer", "environment": "production"}),
            "environment",
        ),
        (
            "server key without an environment",
            json!({"name": "s", "kind": "server"}),
            "environment",
        ),
        (
            "client key without an environment",
            json!({"name": "c", "kind": "client"}),
            "environment",
        ),
        (
            "server key with a role",
            json!({"name": "s", "kind": "server", "environment": "production", "role": "admin"}),
            "role",
        ),
        (
            "client key with a role",
            json!({"name": "c", "kind": "client", "environment": "production", "role": "viewer"}),
            "role",
        ),
        (
            "edge token with an environment",
            json!({"name": "e", "kind": "edge", "environment": "production"}),
            "environment",
        ),
        (
            "edge token with a role",
            json!({"name": "e", "kind": "edge", "role": "admin"}),
            "role",
        ),
        (
            "empty name",
            json!({"name": "", "kind": "admin", "role": "viewer"}),
            "name",
        ),
        ("blank name", json!({"name": "   ", "kind": "edge"}), "name"),
        (
            "expiry in the past",
            json!({"name": "old", "kind": "edge", "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at",
        ),
    ];
    for (what, body, path) in cases {
        let result = app.json(Method::POST, "/api/admin/keys", &body).await;
        assert_eq!(result.0, 400, "{what}: {}", result.1);
        assert_error(&result, 400, "invalid_request");
        assert_eq!(result.1["path"], path, "{what}: {}", result.1);
    }
    // Malformed fields name their path too.
    for (what, body, path) in [
        ("unknown kind", json!({"name": "x", "kind": "root"}), "kind"),
        (
            "unknown role",
            json!({"name": "x", "kind": "admin", "role": "owner"}),
            "role",
        ),
        (
            "unparsable expiry",
            json!({"name": "x", "kind": "edge", "expires_at": "tomorrow"}),
            "expires_at",
        ),
    ] {
        let (status, body) = app.json(Method::POST, "/api/admin/keys", &body).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["path"], path, "{what}: {body}");
    }
    let unknown = app
        .json(
            Method::POST,
            "/api/admin/keys",
            &json!({"name": "x", "kind": "edge", "scopes": ["all"]}),
        )
        .await;
    assert_error(&unknown, 400, "unknown_field");
    assert_eq!(unknown.1["path"], "scopes");
    assert!(list_keys(&app).await.is_empty(), "no key was created");
    assert_eq!(revisions(&app).await, (1, 1), "no revision moved");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn sdk_key_for_an_unknown_environment_is_not_found(pool: PgPool) {
    let app = spawn_app(pool).await;
    let result = app
        .json(
            Method::POST,
            "/api/admin/keys",
            &json!({"name": "s", "kind": "server", "environment": "staging"}),
        )
        .await;
    assert_error(&result, 404, "not_found");
    assert!(list_keys(&app).await.is_empty(), "no key was created");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_key_with_a_future_expiry_is_accepted_until_then(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create(
        &app,
        json!({"name": "temp", "kind": "admin", "role": "viewer", "expires_at": "2999-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(created["expires_at"], "2999-01-01T00:00:00Z");
    assert_eq!(created["status"], "active");
    let plaintext = created["plaintext"].as_str().unwrap();
    assert_eq!(status_with(&app, plaintext, "/api/admin/flags").await, 200);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn rotation_issues_a_working_key_and_keeps_the_old_one_for_the_grace_period(pool: PgPool) {
    let app = spawn_app(pool).await;
    let old = create(
        &app,
        json!({"name": "ci", "kind": "admin", "role": "editor"}),
    )
    .await;
    let old_id = old["id"].as_str().unwrap();
    let old_key = old["plaintext"].as_str().unwrap();

    let new = rotate(&app, old_id, json!({"grace_seconds": 3600})).await;
    let new_key = new["plaintext"].as_str().expect("new plaintext");
    assert!(new_key.starts_with("hal_adm_"), "{new_key}");
    assert_ne!(new_key, old_key);
    assert_ne!(new["id"], old["id"]);
    assert_eq!(new["name"], "ci", "the replacement keeps the name");
    assert_eq!(new["role"], "editor", "the replacement keeps the role");
    assert_eq!(new["status"], "active");

    assert_eq!(
        status_with(&app, new_key, "/api/admin/flags").await,
        200,
        "the new key works at once"
    );
    assert_eq!(
        status_with(&app, old_key, "/api/admin/flags").await,
        200,
        "the old key works during the grace period"
    );
    let listed_old = listed(&app, old_id).await;
    assert_eq!(listed_old["rotated_to"], new["id"], "{listed_old}");
    assert_eq!(listed_old["status"], "active", "{listed_old}");
    let grace_end = time::OffsetDateTime::parse(
        listed_old["expires_at"]
            .as_str()
            .expect("the old key now expires"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    let remaining = grace_end - time::OffsetDateTime::now_utc();
    assert!(
        remaining > time::Duration::minutes(50) && remaining <= time::Duration::hours(1),
        "the grace period is the hour asked for: {remaining}"
    );
    let listed_new = listed(&app, new["id"].as_str().unwrap()).await;
    assert_eq!(listed_new["rotated_to"], Value::Null);
    assert_eq!(listed_new["expires_at"], Value::Null, "{listed_new}");

    // The end of the grace period, without waiting for it.
    app.expire_key(old_id).await;
    assert_eq!(
        status_with(&app, old_key, "/api/admin/flags").await,
        401,
        "the old key is refused after the grace period"
    );
    assert_eq!(
        status_with(&app, new_key, "/api/admin/flags").await,
        200,
        "the new key still works"
    );
    assert_eq!(listed(&app, old_id).await["status"], "expired");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn rotation_without_grace_refuses_the_old_key_at_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let old = create(&app, json!({"name": "edge-eu", "kind": "edge"})).await;
    let old_key = old["plaintext"].as_str().unwrap();
    let new = rotate(
        &app,
        old["id"].as_str().unwrap(),
        json!({"grace_seconds": 0}),
    )
    .await;
    let new_key = new["plaintext"].as_str().unwrap();
    assert!(new_key.starts_with("hal_edg_"));
    assert_eq!(
        status_with(&app, old_key, "/api/internal/environments").await,
        401,
        "the old edge token is refused at once"
    );
    assert_eq!(
        status_with(&app, new_key, "/api/internal/environments").await,
        200,
        "the new edge token works"
    );
    let listed_old = listed(&app, old["id"].as_str().unwrap()).await;
    assert_eq!(listed_old["rotated_to"], new["id"]);
    assert_eq!(listed_old["status"], "expired", "{listed_old}");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn rotation_without_a_body_uses_the_default_grace_of_a_day(pool: PgPool) {
    let app = spawn_app(pool).await;
    let old = create(
        &app,
        json!({"name": "ci", "kind": "admin", "role": "viewer"}),
    )
    .await;
    let old_id = old["id"].as_str().unwrap();
    let response = app
        .admin(Method::POST, &format!("/api/admin/keys/{old_id}/rotate"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 201, "an empty body is allowed");
    assert_eq!(
        status_with(&app, old["plaintext"].as_str().unwrap(), "/api/admin/flags").await,
        200,
        "the old key works during the default grace period"
    );
    let grace_end = time::OffsetDateTime::parse(
        listed(&app, old_id).await["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let remaining = grace_end - time::OffsetDateTime::now_utc();
    assert!(
        remaining > time::Duration::hours(23) && remaining <= time::Duration::hours(24),
        "default grace: {remaining}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn rotating_an_unknown_or_revoked_key_is_not_found(pool: PgPool) {
    let app = spawn_app(pool).await;
    let unknown = app
        .json(
            Method::POST,
            &format!("/api/admin/keys/{}/rotate", Uuid::now_v7()),
            &json!({}),
        )
        .await;
    assert_error(&unknown, 404, "not_found");
    let key = create(&app, json!({"name": "gone", "kind": "edge"})).await;
    let id = key["id"].as_str().unwrap();
    revoke(&app, id).await;
    let revoked = app
        .json(
            Method::POST,
            &format!("/api/admin/keys/{id}/rotate"),
            &json!({}),
        )
        .await;
    assert_error(&revoked, 404, "not_found");
    assert_eq!(list_keys(&app).await.len(), 1, "no replacement was issued");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn revoked_key_is_refused_and_listed_as_revoked(pool: PgPool) {
    let app = spawn_app(pool).await;
    let key = create(
        &app,
        json!({"name": "ci", "kind": "admin", "role": "admin"}),
    )
    .await;
    let id = key["id"].as_str().unwrap();
    let plaintext = key["plaintext"].as_str().unwrap();
    assert_eq!(status_with(&app, plaintext, "/api/admin/flags").await, 200);
    revoke(&app, id).await;
    let refused = app
        .send_as(plaintext, Method::GET, "/api/admin/flags")
        .await;
    assert_error(&refused, 401, "unauthorized");
    let entry = listed(&app, id).await;
    assert_eq!(entry["status"], "revoked", "{entry}");
    assert!(entry["revoked_at"].is_string(), "{entry}");
    // Revoking again changes nothing and is not an error.
    revoke(&app, id).await;
    assert_eq!(listed(&app, id).await["revoked_at"], entry["revoked_at"]);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn revoking_an_unknown_key_is_not_found(pool: PgPool) {
    let app = spawn_app(pool).await;
    let result = app
        .send_as(
            ADMIN_KEY,
            Method::DELETE,
            &format!("/api/admin/keys/{}", Uuid::now_v7()),
        )
        .await;
    assert_error(&result, 404, "not_found");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_malformed_key_id_gets_a_json_error(pool: PgPool) {
    let app = spawn_app(pool).await;
    for (method, path) in [
        (Method::DELETE, "/api/admin/keys/not-a-uuid"),
        (Method::POST, "/api/admin/keys/not-a-uuid/rotate"),
    ] {
        let (status, body) = app.send_as(ADMIN_KEY, method.clone(), path).await;
        assert!(
            status == 400 || status == 404,
            "{method} {path}: {status} {body}"
        );
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{method} {path}: the error body is the JSON error shape, got {status} {body}"
        );
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn creating_an_sdk_key_publishes_its_hash_to_its_environment(pool: PgPool) {
    let app = spawn_app(pool).await;
    let key = create(
        &app,
        json!({"name": "backend", "kind": "server", "environment": "production"}),
    )
    .await;
    assert_eq!(
        revisions(&app).await,
        (1, 2),
        "production moved, development did not"
    );
    let message = last_message(&app, "production").await;
    assert_eq!(message["revision"], 2);
    assert_eq!(message["base_revision"], 1);
    assert_eq!(
        message["changes"],
        json!([{"type": "key_upserted", "key": {
            "id": key["id"],
            "kind": "server",
            "sha256": sha256_hex(key["plaintext"].as_str().unwrap()),
        }}]),
        "{message}"
    );
    let client = create(
        &app,
        json!({"name": "web", "kind": "client", "environment": "development"}),
    )
    .await;
    assert_eq!(revisions(&app).await, (2, 2));
    let message = last_message(&app, "development").await;
    assert_eq!(message["changes"][0]["type"], "key_upserted");
    assert_eq!(message["changes"][0]["key"]["kind"], "client");
    assert_eq!(
        message["changes"][0]["key"]["sha256"],
        sha256_hex(client["plaintext"].as_str().unwrap())
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn rotating_an_sdk_key_publishes_both_keys(pool: PgPool) {
    let app = spawn_app(pool).await;
    let old = create(
        &app,
        json!({"name": "backend", "kind": "server", "environment": "production"}),
    )
    .await;
    let new = rotate(
        &app,
        old["id"].as_str().unwrap(),
        json!({"grace_seconds": 3600}),
    )
    .await;
    assert_eq!(new["environment"], "production");
    assert!(new["plaintext"].as_str().unwrap().starts_with("hal_srv_"));
    assert_eq!(revisions(&app).await, (1, 3), "one revision per change");
    let message = last_message(&app, "production").await;
    assert_eq!(message["revision"], 3);
    let changes = message["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 2, "{message}");
    assert!(
        changes.iter().all(|c| c["type"] == "key_upserted"),
        "{message}"
    );
    let entry = |id: &Value| {
        changes
            .iter()
            .map(|c| &c["key"])
            .find(|k| k["id"] == *id)
            .unwrap_or_else(|| panic!("an entry for {id} in {message}"))
            .clone()
    };
    let new_entry = entry(&new["id"]);
    assert_eq!(
        new_entry["sha256"],
        sha256_hex(new["plaintext"].as_str().unwrap())
    );
    let old_entry = entry(&old["id"]);
    assert_eq!(
        old_entry["sha256"],
        sha256_hex(old["plaintext"].as_str().unwrap())
    );
    assert_eq!(
        old_entry["expires_at"],
        listed(&app, old["id"].as_str().unwrap()).await["expires_at"],
        "edges learn when the old key stops working"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn revoking_an_sdk_key_publishes_key_deleted(pool: PgPool) {
    let app = spawn_app(pool).await;
    let key = create(
        &app,
        json!({"name": "web", "kind": "client", "environment": "development"}),
    )
    .await;
    revoke(&app, key["id"].as_str().unwrap()).await;
    assert_eq!(revisions(&app).await, (3, 1));
    let message = last_message(&app, "development").await;
    assert_eq!(message["revision"], 3);
    assert_eq!(
        message["changes"],
        json!([{"type": "key_deleted", "id": key["id"]}]),
        "{message}"
    );
    // Revoking again publishes nothing.
    revoke(&app, key["id"].as_str().unwrap()).await;
    assert_eq!(
        revisions(&app).await,
        (3, 1),
        "an idempotent revoke moves nothing"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn admin_and_edge_token_changes_bump_no_revision(pool: PgPool) {
    let app = spawn_app(pool).await;
    let outbox_before = app.outbox().await.len();
    for body in [
        json!({"name": "ci", "kind": "admin", "role": "editor"}),
        json!({"name": "edge-eu", "kind": "edge"}),
    ] {
        let key = create(&app, body).await;
        let new = rotate(
            &app,
            key["id"].as_str().unwrap(),
            json!({"grace_seconds": 60}),
        )
        .await;
        revoke(&app, new["id"].as_str().unwrap()).await;
        revoke(&app, key["id"].as_str().unwrap()).await;
    }
    assert_eq!(
        revisions(&app).await,
        (1, 1),
        "no environment revision moved"
    );
    assert_eq!(
        app.outbox().await.len(),
        outbox_before,
        "no change message was written"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn key_hashes_and_plaintexts_never_reach_the_audit_log(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut plaintexts = Vec::new();
    for body in [
        json!({"name": "backend", "kind": "server", "environment": "production"}),
        json!({"name": "ci", "kind": "admin", "role": "editor"}),
        json!({"name": "edge-eu", "kind": "edge"}),
    ] {
        let key = create(&app, body).await;
        let new = rotate(
            &app,
            key["id"].as_str().unwrap(),
            json!({"grace_seconds": 60}),
        )
        .await;
        revoke(&app, new["id"].as_str().unwrap()).await;
        plaintexts.push(key["plaintext"].as_str().unwrap().to_owned());
        plaintexts.push(new["plaintext"].as_str().unwrap().to_owned());
    }
    let (status, audit) = app.get("/api/admin/audit?limit=500").await;
    assert_eq!(status, 200);
    let key_entries = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"] == "key")
        .count();
    assert_eq!(
        key_entries, 9,
        "three changes of three keys are audited: {audit}"
    );
    let text = audit.to_string();
    assert!(
        !text.contains("sha256"),
        "no hash field in the audit log: {text}"
    );
    for plaintext in &plaintexts {
        assert!(
            !text.contains(plaintext.as_str()),
            "{plaintext} in the audit log"
        );
        assert!(
            !text.contains(&sha256_hex(plaintext)),
            "the hash of {plaintext} in the audit log"
        );
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn key_hashes_never_reach_the_events_feed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut feed = app.events_as(ADMIN_KEY, None).await;
    let key = create(
        &app,
        json!({"name": "backend", "kind": "server", "environment": "production"}),
    )
    .await;
    let new = rotate(
        &app,
        key["id"].as_str().unwrap(),
        json!({"grace_seconds": 60}),
    )
    .await;
    revoke(&app, key["id"].as_str().unwrap()).await;
    let hashes = [
        sha256_hex(key["plaintext"].as_str().unwrap()),
        sha256_hex(new["plaintext"].as_str().unwrap()),
    ];
    let events = feed.next_changes(3, "the three key changes").await;
    let mut revisions = Vec::new();
    for event in &events {
        assert_eq!(event.message["environment"], "production");
        assert!(
            !event.data.contains("sha256") && hashes.iter().all(|h| !event.data.contains(h)),
            "key material in event {}: {}",
            event.id,
            event.data
        );
        assert_eq!(
            event.message["changes"],
            json!([]),
            "key changes are filtered, the revision still advances: {}",
            event.data
        );
        revisions.push(event.message["revision"].as_u64().unwrap());
    }
    assert_eq!(revisions, [2, 3, 4], "no revision gap for SDK consumers");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn rotation_with_an_out_of_range_grace_is_a_400(pool: PgPool) {
    let app = spawn_app(pool).await;
    let key = create(
        &app,
        json!({"name": "ci", "kind": "admin", "role": "viewer"}),
    )
    .await;
    let id = key["id"].as_str().unwrap();
    for grace in [u64::MAX, 1_000_000_000_000] {
        let response = app
            .admin(Method::POST, &format!("/api/admin/keys/{id}/rotate"))
            .json(&json!({"grace_seconds": grace}))
            .send()
            .await;
        let response =
            response.unwrap_or_else(|e| panic!("grace {grace}: the server answers (got {e})"));
        let (status, body) = crate::helpers::read(response).await;
        assert_eq!(status, 400, "grace {grace}: {body}");
        assert_eq!(body["path"], "grace_seconds", "grace {grace}: {body}");
    }
    let entry = listed(&app, id).await;
    assert_eq!(entry["rotated_to"], Value::Null, "not rotated: {entry}");
    assert_eq!(entry["status"], "active");
}
