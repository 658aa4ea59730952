//! Who may do what: the role matrix of admin tokens (viewer, editor, admin),
//! SDK keys and edge tokens on the admin API, unknown, revoked and expired
//! keys, `Authorization: Bearer`, and the edge-internal endpoints.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{ADMIN_KEY, EDGE_TOKEN, TestApp, assert_error, read, spawn_app};

/// Things to act on: a legacy flag, a full-model flag, a segment and an SDK key.
struct Fixture {
    legacy_id: String,
    sdk_key_id: String,
}

const FULL_FLAG: &str = "full-flag";
const SEGMENT: &str = "beta";

async fn fixture(app: &TestApp) -> Fixture {
    let (status, legacy) = app
        .json(
            Method::POST,
            "/api/admin/flags",
            &json!({"key": "legacy-flag", "enabled": false}),
        )
        .await;
    assert_eq!(status, 201, "legacy flag created: {legacy}");
    let (status, body) = app
        .json(
            Method::POST,
            "/api/admin/flag-definitions",
            &json!({"key": FULL_FLAG, "kind": "boolean"}),
        )
        .await;
    assert_eq!(status, 201, "flag created: {body}");
    let (status, body) = app
        .json(
            Method::POST,
            "/api/admin/environments/production/segments",
            &json!({"key": SEGMENT, "included": ["user-1"]}),
        )
        .await;
    assert_eq!(status, 201, "segment created: {body}");
    let (sdk_key_id, _) = app
        .create_key(
            json!({"name": "fixture server key", "kind": "server", "environment": "production"}),
        )
        .await;
    Fixture {
        legacy_id: legacy["id"].as_str().expect("legacy id").to_owned(),
        sdk_key_id,
    }
}

/// A configuration of `FULL_FLAG` replacing `version`.
fn config(version: u64) -> Value {
    json!({
        "enabled": true,
        "off_variation": "false",
        "default": {"variation": "true"},
        "version": version,
    })
}

/// Every write that needs the editor role, with valid bodies (so only the
/// role can refuse them).
fn editor_writes(f: &Fixture) -> Vec<(Method, String, Option<Value>)> {
    let legacy = format!("/api/admin/flags/{}", f.legacy_id);
    vec![
        (
            Method::POST,
            "/api/admin/flags".into(),
            Some(json!({"key": "another-legacy-flag"})),
        ),
        (
            Method::PUT,
            legacy.clone(),
            Some(json!({"description": "changed"})),
        ),
        (Method::PATCH, format!("{legacy}/toggle"), None),
        (Method::DELETE, legacy, None),
        (
            Method::POST,
            "/api/admin/flag-definitions".into(),
            Some(json!({"key": "another-flag", "kind": "boolean"})),
        ),
        (
            Method::PATCH,
            format!("/api/admin/flag-definitions/{FULL_FLAG}"),
            Some(json!({"description": "changed", "version": 1})),
        ),
        (
            Method::DELETE,
            format!("/api/admin/flag-definitions/{FULL_FLAG}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/admin/environments/production/flags/{FULL_FLAG}"),
            Some(config(1)),
        ),
        (
            Method::POST,
            "/api/admin/environments/production/segments".into(),
            Some(json!({"key": "another-segment"})),
        ),
        (
            Method::PUT,
            format!("/api/admin/environments/production/segments/{SEGMENT}"),
            Some(json!({"key": SEGMENT, "included": ["user-2"], "version": 1})),
        ),
        (
            Method::DELETE,
            format!("/api/admin/environments/production/segments/{SEGMENT}"),
            None,
        ),
    ]
}

/// Everything that needs the admin role: environments and keys (listing
/// keys included).
fn admin_only(f: &Fixture) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::POST,
            "/api/admin/environments".into(),
            Some(json!({"key": "staging"})),
        ),
        (
            Method::PATCH,
            "/api/admin/environments/development".into(),
            Some(json!({"name": "Dev", "version": 1})),
        ),
        (
            Method::DELETE,
            "/api/admin/environments/development".into(),
            None,
        ),
        (Method::GET, "/api/admin/keys".into(), None),
        (
            Method::POST,
            "/api/admin/keys".into(),
            Some(json!({"name": "sneaky", "kind": "admin", "role": "admin"})),
        ),
        (
            Method::POST,
            format!("/api/admin/keys/{}/rotate", f.sdk_key_id),
            Some(json!({"grace_seconds": 0})),
        ),
        (
            Method::DELETE,
            format!("/api/admin/keys/{}", f.sdk_key_id),
            None,
        ),
    ]
}

async fn send(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    match body {
        Some(body) => app.json_as(key, method, path, body).await,
        None => app.send_as(key, method, path).await,
    }
}

/// 401 `unauthorized` with a `WWW-Authenticate` challenge.
async fn assert_unauthorized(response: Response, what: &str) {
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let result = read(response).await;
    assert_eq!(result.0, 401, "{what}: status for {}", result.1);
    assert_error(&result, 401, "unauthorized");
    let challenge = challenge.unwrap_or_else(|| panic!("{what}: no WWW-Authenticate header"));
    assert!(
        challenge.starts_with("Bearer"),
        "{what}: WWW-Authenticate is {challenge:?}"
    );
}

/// Changes nobody's role allowed: the outbox head and the audit log.
async fn state_marker(app: &TestApp) -> (i64, usize) {
    let (status, audit) = app.get("/api/admin/audit?limit=500").await;
    assert_eq!(status, 200);
    (
        app.outbox_head().await,
        audit["items"].as_array().expect("items").len(),
    )
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn viewer_can_read_every_list_the_audit_log_and_the_events_feed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let f = fixture(&app).await;
    let viewer = app.token("viewer").await;
    let reads = [
        "/api/admin/flags".to_owned(),
        format!("/api/admin/flags/{}", f.legacy_id),
        "/api/admin/flag-definitions".to_owned(),
        format!("/api/admin/flag-definitions/{FULL_FLAG}"),
        "/api/admin/environments".to_owned(),
        "/api/admin/environments/production".to_owned(),
        "/api/admin/environments/production/flags".to_owned(),
        format!("/api/admin/environments/production/flags/{FULL_FLAG}"),
        "/api/admin/environments/production/segments".to_owned(),
        format!("/api/admin/environments/production/segments/{SEGMENT}"),
        "/api/admin/audit".to_owned(),
    ];
    for path in &reads {
        let (status, body) = app.send_as(&viewer, Method::GET, path).await;
        assert_eq!(status, 200, "viewer GET {path}: {body}");
    }
    let (status, body) = app
        .json_as(
            &viewer,
            Method::POST,
            "/api/admin/environments/production/evaluate",
            &json!({"context": {"targetingKey": "user-1"}}),
        )
        .await;
    assert_eq!(
        status, 200,
        "viewer may use the evaluation playground: {body}"
    );
    // Asserts 200 and text/event-stream.
    let _feed = app.events_as(&viewer, None).await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn viewer_is_forbidden_every_write(pool: PgPool) {
    let app = spawn_app(pool).await;
    let f = fixture(&app).await;
    let viewer = app.token("viewer").await;
    let before = state_marker(&app).await;
    for (method, path, body) in editor_writes(&f).into_iter().chain(admin_only(&f)) {
        let result = send(&app, &viewer, method.clone(), &path, body.as_ref()).await;
        assert_eq!(result.0, 403, "viewer {method} {path}: {}", result.1);
        assert_error(&result, 403, "forbidden");
    }
    assert_eq!(
        state_marker(&app).await,
        before,
        "refused writes change nothing (outbox head, audit entries)"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn editor_can_change_flags_configs_and_segments(pool: PgPool) {
    let app = spawn_app(pool).await;
    let f = fixture(&app).await;
    let editor = app.token("editor").await;
    let writes = editor_writes(&f);
    // Ordered so that each write is valid after the previous ones: the
    // configuration and segment updates before the deletions.
    let order = [0, 1, 2, 4, 5, 7, 8, 9, 10, 6, 3];
    assert_eq!(order.len(), writes.len(), "every editor write is exercised");
    for i in order {
        let (method, path, body) = &writes[i];
        let (status, response) = send(&app, &editor, method.clone(), path, body.as_ref()).await;
        assert!(
            (200..300).contains(&status),
            "editor {method} {path}: {status} {response}"
        );
    }
    let (status, audit) = app.get("/api/admin/audit?actor=editor%20token").await;
    assert_eq!(status, 200);
    assert_eq!(
        audit["items"].as_array().expect("items").len(),
        writes.len(),
        "every editor write is audited under the editor's name: {audit}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn editor_is_forbidden_environments_and_keys(pool: PgPool) {
    let app = spawn_app(pool).await;
    let f = fixture(&app).await;
    let editor = app.token("editor").await;
    let before = state_marker(&app).await;
    for (method, path, body) in admin_only(&f) {
        let result = send(&app, &editor, method.clone(), &path, body.as_ref()).await;
        assert_eq!(result.0, 403, "editor {method} {path}: {}", result.1);
        assert_error(&result, 403, "forbidden");
    }
    assert_eq!(
        state_marker(&app).await,
        before,
        "refused writes change nothing"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn admin_token_can_do_everything(pool: PgPool) {
    let app = spawn_app(pool).await;
    let f = fixture(&app).await;
    let admin = app.token("admin").await;
    let writes = editor_writes(&f);
    for i in [0, 1, 2, 4, 5, 7, 8, 9, 10, 6, 3] {
        let (method, path, body) = &writes[i];
        let (status, response) = send(&app, &admin, method.clone(), path, body.as_ref()).await;
        assert!(
            (200..300).contains(&status),
            "admin {method} {path}: {status} {response}"
        );
    }
    // Rotate before revoking (a revoked key cannot be rotated), and delete
    // the environment last.
    let admin_writes = admin_only(&f);
    for i in [0, 1, 3, 4, 5, 6, 2] {
        let (method, path, body) = &admin_writes[i];
        let (status, response) = send(&app, &admin, method.clone(), path, body.as_ref()).await;
        assert!(
            (200..300).contains(&status),
            "admin {method} {path}: {status} {response}"
        );
    }
    let (status, body) = app
        .send_as(&admin, Method::GET, "/api/admin/environments/development")
        .await;
    assert_error(&(status, body), 404, "not_found");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn sdk_keys_and_edge_tokens_are_forbidden_on_the_admin_api(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (_, server) = app
        .create_key(json!({"name": "server", "kind": "server", "environment": "production"}))
        .await;
    let (_, client) = app
        .create_key(json!({"name": "client", "kind": "client", "environment": "development"}))
        .await;
    let (_, edge) = app
        .create_key(json!({"name": "edge", "kind": "edge"}))
        .await;
    for (kind, key) in [("server", &server), ("client", &client), ("edge", &edge)] {
        for path in [
            "/api/admin/flags",
            "/api/admin/environments",
            "/api/admin/audit",
        ] {
            let result = app.send_as(key, Method::GET, path).await;
            assert_eq!(result.0, 403, "{kind} key GET {path}: {}", result.1);
            assert_error(&result, 403, "forbidden");
        }
        let result = app
            .json_as(
                key,
                Method::POST,
                "/api/admin/flag-definitions",
                &json!({"key": format!("by-{kind}"), "kind": "boolean"}),
            )
            .await;
        assert_eq!(result.0, 403, "{kind} key POST: {}", result.1);
        assert_error(&result, 403, "forbidden");
        let response = app
            .request_as(key, Method::GET, "/api/admin/events")
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 403, "{kind} key on the events feed");
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn missing_and_unknown_keys_are_unauthorized_with_a_challenge(pool: PgPool) {
    let app = spawn_app(pool).await;
    let unknown = format!("hal_adm_{}", "x".repeat(43));
    for (method, path) in [
        (Method::GET, "/api/admin/flags"),
        (Method::POST, "/api/admin/flag-definitions"),
        (Method::GET, "/api/admin/keys"),
    ] {
        let body = json!({"key": "nope", "kind": "boolean"});
        let request = || {
            app.client
                .request(method.clone(), app.url(path))
                .json(&body)
        };
        let cases = [
            ("no key", request()),
            ("empty key", request().header("X-Admin-API-Key", "")),
            ("unknown key", request().header("X-Admin-API-Key", &unknown)),
            (
                "unknown bearer",
                request().header("Authorization", format!("Bearer {unknown}")),
            ),
            (
                "another scheme",
                request().header("Authorization", format!("Basic {ADMIN_KEY}")),
            ),
        ];
        for (what, request) in cases {
            let response = request.send().await.expect("request sent");
            assert_unauthorized(response, &format!("{what}: {method} {path}")).await;
        }
    }
    let (status, flags) = app.get("/api/admin/flag-definitions").await;
    assert_eq!(status, 200);
    assert_eq!(flags["total"], 0, "nothing was created: {flags}");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn revoked_keys_are_unauthorized(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (admin_id, admin) = app
        .create_key(json!({"name": "soon revoked", "kind": "admin", "role": "admin"}))
        .await;
    let (server_id, server) = app
        .create_key(
            json!({"name": "revoked server", "kind": "server", "environment": "production"}),
        )
        .await;
    assert_eq!(
        app.send_as(&admin, Method::GET, "/api/admin/flags").await.0,
        200,
        "the token works before revocation"
    );
    for id in [&admin_id, &server_id] {
        let (status, body) = app
            .send_as(ADMIN_KEY, Method::DELETE, &format!("/api/admin/keys/{id}"))
            .await;
        assert_eq!(status, 204, "revoking {id}: {body}");
    }
    for (what, key) in [
        ("revoked admin token", &admin),
        ("revoked server key", &server),
    ] {
        let response = app
            .request_as(key, Method::GET, "/api/admin/flags")
            .send()
            .await
            .expect("request sent");
        assert_unauthorized(response, what).await;
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn expired_keys_are_unauthorized(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (id, editor) = app
        .create_key(json!({"name": "expiring", "kind": "admin", "role": "editor"}))
        .await;
    assert_eq!(
        app.send_as(&editor, Method::GET, "/api/admin/flags")
            .await
            .0,
        200,
        "the token works before it expires"
    );
    app.expire_key(&id).await;
    let response = app
        .request_as(&editor, Method::GET, "/api/admin/flags")
        .send()
        .await
        .expect("request sent");
    assert_unauthorized(response, "expired token").await;
    let (_, keys) = app.get("/api/admin/keys").await;
    let listed = keys
        .as_array()
        .expect("a list")
        .iter()
        .find(|k| k["id"] == id.as_str())
        .expect("the expired key is listed");
    assert_eq!(listed["status"], "expired", "{listed}");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn bearer_authorization_works_like_the_admin_header(pool: PgPool) {
    let app = spawn_app(pool).await;
    let viewer = app.token("viewer").await;
    let editor = app.token("editor").await;
    for scheme in ["Bearer", "bearer"] {
        let response = app
            .client
            .get(app.url("/api/admin/flags"))
            .header("Authorization", format!("{scheme} {viewer}"))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200, "{scheme} viewer token reads");
    }
    let forbidden = read(
        app.client
            .post(app.url("/api/admin/flag-definitions"))
            .header("Authorization", format!("Bearer {viewer}"))
            .json(&json!({"key": "by-viewer", "kind": "boolean"}))
            .send()
            .await
            .expect("request sent"),
    )
    .await;
    assert_error(&forbidden, 403, "forbidden");
    let created = read(
        app.client
            .post(app.url("/api/admin/flag-definitions"))
            .header("Authorization", format!("Bearer {editor}"))
            .json(&json!({"key": "by-editor", "kind": "boolean"}))
            .send()
            .await
            .expect("request sent"),
    )
    .await;
    assert_eq!(
        created.0, 201,
        "a Bearer editor token writes: {}",
        created.1
    );
    let (_, edge) = app
        .create_key(json!({"name": "edge", "kind": "edge"}))
        .await;
    let internal = app
        .client
        .get(app.url("/api/internal/environments"))
        .header("Authorization", format!("Bearer {edge}"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(
        internal.status(),
        200,
        "a Bearer edge token reads the internal API"
    );
    let (_, audit) = app.get("/api/admin/audit?flag=by-editor").await;
    assert_eq!(
        audit["items"][0]["actor_name"], "editor token",
        "the Bearer token is the actor: {audit}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn edge_token_reads_the_internal_endpoints_and_others_cannot(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (edge_id, edge) = app
        .create_key(json!({"name": "edge", "kind": "edge"}))
        .await;
    let admin = app.token("admin").await;
    let (_, server) = app
        .create_key(json!({"name": "server", "kind": "server", "environment": "production"}))
        .await;

    let (status, environments) = app
        .send_as(&edge, Method::GET, "/api/internal/environments")
        .await;
    assert_eq!(status, 200, "edge lists environments: {environments}");
    let (_, admin_view) = app.get("/api/admin/environments").await;
    let mut listed: Vec<(String, String, u64)> = environments
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["epoch"].as_str().unwrap().to_owned(),
                e["revision"].as_u64().unwrap(),
            )
        })
        .collect();
    listed.sort();
    let mut expected: Vec<(String, String, u64)> = admin_view
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["epoch"].as_str().unwrap().to_owned(),
                e["revision"].as_u64().unwrap(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(listed, expected, "edge environments match the admin view");

    let (status, snapshot) = app
        .send_as(
            &edge,
            Method::GET,
            "/api/internal/environments/production/snapshot",
        )
        .await;
    assert_eq!(status, 200, "edge reads a snapshot: {snapshot}");
    assert_eq!(snapshot["environment"], "production");
    let missing = app
        .send_as(
            &edge,
            Method::GET,
            "/api/internal/environments/nowhere/snapshot",
        )
        .await;
    assert_error(&missing, 404, "not_found");

    for path in [
        "/api/internal/environments",
        "/api/internal/environments/production/snapshot",
    ] {
        for (what, key) in [
            ("bootstrap admin key", ADMIN_KEY),
            ("admin token", admin.as_str()),
            ("server key", server.as_str()),
        ] {
            let result = app.send_as(key, Method::GET, path).await;
            assert_eq!(result.0, 403, "{what} on {path}: {}", result.1);
            assert_error(&result, 403, "forbidden");
        }
        let response = app
            .client
            .get(app.url(path))
            .send()
            .await
            .expect("request sent");
        assert_unauthorized(response, &format!("no key on {path}")).await;
    }

    let (status, _) = app
        .send_as(
            ADMIN_KEY,
            Method::DELETE,
            &format!("/api/admin/keys/{edge_id}"),
        )
        .await;
    assert_eq!(status, 204);
    let response = app
        .request_as(&edge, Method::GET, "/api/internal/environments")
        .send()
        .await
        .expect("request sent");
    assert_unauthorized(response, "revoked edge token").await;
}

/// The configured edge token (`HALYARD_EDGE_TOKEN` on the control plane)
/// reads the internal endpoints like a stored one, and nothing else.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn the_configured_edge_token_reads_snapshots_only(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (status, environments) = app
        .send_as(EDGE_TOKEN, Method::GET, "/api/internal/environments")
        .await;
    assert_eq!(status, 200, "{environments}");
    let (status, snapshot) = app
        .send_as(
            EDGE_TOKEN,
            Method::GET,
            "/api/internal/environments/production/snapshot",
        )
        .await;
    assert_eq!(status, 200, "{snapshot}");
    assert_eq!(snapshot["environment"], "production");
    for path in ["/api/admin/environments", "/api/admin/flags"] {
        let refused = app.send_as(EDGE_TOKEN, Method::GET, path).await;
        assert_error(&refused, 403, "forbidden");
    }
    let response = app
        .request_as(
            &format!("{EDGE_TOKEN}x"),
            Method::GET,
            "/api/internal/environments",
        )
        .send()
        .await
        .expect("request sent");
    assert_unauthorized(response, "a different token").await;
    // Nothing about it is stored.
    let (_, keys) = app.get("/api/admin/keys").await;
    assert!(!keys.to_string().contains("bootstrap edge"), "{keys}");
}

/// The role is checked before the body: a viewer learns nothing about what
/// the write would have needed, and gets 403 whatever it sends.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn viewer_is_forbidden_before_its_body_is_read(pool: PgPool) {
    let app = spawn_app(pool).await;
    let viewer = app.token("viewer").await;
    for (method, path) in [
        (Method::POST, "/api/admin/flag-definitions"),
        (
            Method::PUT,
            "/api/admin/environments/production/flags/anything",
        ),
        (Method::POST, "/api/admin/environments/production/segments"),
        (Method::POST, "/api/admin/environments"),
        (Method::POST, "/api/admin/keys"),
    ] {
        for (what, content_type, body) in [
            ("an empty object", "application/json", "{}"),
            ("malformed JSON", "application/json", "{"),
            ("not JSON", "text/plain", "hello"),
        ] {
            let result = read(
                app.request_as(&viewer, method.clone(), path)
                    .header("Content-Type", content_type)
                    .body(body)
                    .send()
                    .await
                    .expect("request sent"),
            )
            .await;
            assert_eq!(
                result.0, 403,
                "viewer {method} {path} with {what}: {}",
                result.1
            );
            assert_error(&result, 403, "forbidden");
        }
    }
}
