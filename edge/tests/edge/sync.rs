use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::*;

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
    let mut redis = crate::redis_server::RedisServer::new();
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
