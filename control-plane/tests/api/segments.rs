//! Segments (`/api/admin/environments/{env}/segments`): create, read, list,
//! replace with optimistic concurrency, validation, `in_use`, and the
//! revision and outbox row of each change.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_error, read, spawn_app};

fn segments_path(environment: &str) -> String {
    format!("/api/admin/environments/{environment}/segments")
}

fn segment_path(environment: &str, key: &str) -> String {
    format!("/api/admin/environments/{environment}/segments/{key}")
}

/// A valid segment body.
fn beta_testers() -> Value {
    json!({
        "key": "beta-testers",
        "description": "Opted into the beta programme",
        "included": ["user-7", "user-8"],
        "excluded": ["user-13"],
        "rules": [
            {
                "id": "beta-plans",
                "clauses": [{"attribute": "plan", "operator": "in", "values": ["beta", "enterprise"]}]
            }
        ]
    })
}

async fn create_segment(app: &TestApp, environment: &str, body: Value) -> Value {
    let (status, created) = app
        .json(Method::POST, &segments_path(environment), &body)
        .await;
    assert_eq!(status, 201, "creating {body} in {environment}: {created}");
    created
}

async fn get_segment(app: &TestApp, environment: &str, key: &str) -> Value {
    let (status, body) = app.get(&segment_path(environment, key)).await;
    assert_eq!(status, 200, "{environment}/{key}: {body}");
    body
}

async fn replace(app: &TestApp, environment: &str, key: &str, body: &Value) -> (u16, Value) {
    app.json(Method::PUT, &segment_path(environment, key), body)
        .await
}

async fn delete(app: &TestApp, environment: &str, key: &str) -> (u16, Value) {
    read(
        app.admin(Method::DELETE, &segment_path(environment, key))
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

/// Revisions of (development, production) and the outbox length.
async fn committed(app: &TestApp) -> (u64, u64, usize) {
    (
        app.revision("development").await,
        app.revision("production").await,
        app.outbox().await.len(),
    )
}

#[track_caller]
fn assert_rejection(result: &(u16, Value), status: u16, code: &str, path: &str) {
    assert_error(result, status, code);
    assert_eq!(result.1["path"], path, "path in {}", result.1);
}

fn item_keys(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items in {page}"))
        .iter()
        .map(|item| item["key"].as_str().expect("segment key"))
        .collect()
}

/// A boolean flag whose production rule names `segment`.
async fn flag_using_segment(app: &TestApp, flag: &str, segment: &str) {
    let (status, created) = app
        .json(
            Method::POST,
            "/api/admin/flag-definitions",
            &json!({"key": flag, "kind": "boolean"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, saved) = app
        .json(
            Method::PUT,
            &format!("/api/admin/environments/production/flags/{flag}"),
            &json!({
                "enabled": true,
                "off_variation": "false",
                "rules": [{
                    "clauses": [{"operator": "in_segment", "values": [segment]}],
                    "serve": {"variation": "true"}
                }],
                "default": {"variation": "false"},
                "version": 1
            }),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
}

// ---------------------------------------------------------------------------
// Create, read, list
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn create_returns_201_with_the_segment_at_version_1(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut body = beta_testers();
    body["version"] = json!(9);
    let created = create_segment(&app, "production", body).await;
    for field in ["key", "description", "included", "excluded", "rules"] {
        assert_eq!(created[field], beta_testers()[field], "{field} as sent");
    }
    assert_eq!(
        created["version"], 1,
        "a new segment is version 1, whatever was sent"
    );
    assert!(created["created_at"].is_string(), "{created}");
    assert!(created["updated_at"].is_string(), "{created}");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn read_returns_the_segment_of_its_environment_only(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create_segment(&app, "production", beta_testers()).await;
    assert_eq!(
        get_segment(&app, "production", "beta-testers").await,
        created,
        "GET returns what POST returned"
    );
    assert_error(
        &app.get(&segment_path("development", "beta-testers")).await,
        404,
        "not_found",
    );
    assert_error(
        &app.get(&segment_path("production", "nobody")).await,
        404,
        "not_found",
    );
    assert_error(
        &app.get(&segment_path("staging", "beta-testers")).await,
        404,
        "not_found",
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn the_same_key_may_exist_in_two_environments_but_not_twice_in_one(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_segment(&app, "production", beta_testers()).await;
    create_segment(&app, "development", json!({"key": "beta-testers"})).await;
    let before = committed(&app).await;
    let result = app
        .json(Method::POST, &segments_path("production"), &beta_testers())
        .await;
    assert_error(&result, 409, "duplicate_key");
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(
        get_segment(&app, "development", "beta-testers").await["included"],
        json!([]),
        "the development segment is its own"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn list_is_paginated_and_searchable_by_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    for key in ["Beta-EU", "beta-testers", "employees", "beta-us"] {
        create_segment(&app, "production", json!({"key": key})).await;
    }
    create_segment(&app, "development", json!({"key": "beta-dev"})).await;

    let (status, all) = app.get(&segments_path("production")).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        item_keys(&all),
        ["Beta-EU", "beta-testers", "beta-us", "employees"],
        "this environment's segments, by key"
    );
    assert_eq!(all["total"], 4);
    assert_eq!(all["limit"], 50);
    assert_eq!(all["offset"], 0);

    let (_, beta) = app
        .get(&format!("{}?q=BETA", segments_path("production")))
        .await;
    assert_eq!(
        item_keys(&beta),
        ["Beta-EU", "beta-testers", "beta-us"],
        "q is case-insensitive"
    );
    assert_eq!(beta["total"], 3);
    let (_, page) = app
        .get(&format!(
            "{}?q=beta&limit=1&offset=1",
            segments_path("production")
        ))
        .await;
    assert_eq!(item_keys(&page), ["beta-testers"]);
    assert_eq!(page["total"], 3, "total counts every match: {page}");
    assert_eq!(page["limit"], 1);
    assert_eq!(page["offset"], 1);
    let (_, none) = app
        .get(&format!("{}?q=nomatch", segments_path("production")))
        .await;
    assert_eq!(none["total"], 0);
    assert_error(&app.get(&segments_path("staging")).await, 404, "not_found");
}

/// `q` is text, not a pattern: `_` matches only an underscore.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn search_treats_underscore_literally(pool: PgPool) {
    let app = spawn_app(pool).await;
    for key in ["beta_eu", "beta-eu"] {
        create_segment(&app, "production", json!({"key": key})).await;
    }
    let (_, page) = app
        .get(&format!("{}?q=beta_", segments_path("production")))
        .await;
    assert_eq!(item_keys(&page), ["beta_eu"], "{page}");
}

// ---------------------------------------------------------------------------
// Replace and versions
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn replace_with_the_current_version_succeeds_and_increments_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create_segment(&app, "production", beta_testers()).await;
    let body = json!({"key": "beta-testers", "included": ["user-1"], "version": 1});
    let (status, replaced) = replace(&app, "production", "beta-testers", &body).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["version"], 2);
    assert_eq!(replaced["included"], json!(["user-1"]));
    assert_eq!(
        replaced["excluded"],
        json!([]),
        "PUT replaces the whole segment"
    );
    assert_eq!(replaced["rules"], json!([]));
    assert_eq!(replaced["description"], "");
    assert_eq!(
        replaced["created_at"], created["created_at"],
        "created_at is kept"
    );
    assert_eq!(
        get_segment(&app, "production", "beta-testers").await,
        replaced
    );

    let (status, again) = read(
        app.admin(Method::PUT, &segment_path("production", "beta-testers"))
            .header("If-Match", "\"2\"")
            .json(&json!({"key": "beta-testers", "excluded": ["user-2"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "If-Match: {again}");
    assert_eq!(again["version"], 3);
    assert_eq!(again["excluded"], json!(["user-2"]));
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn replace_without_a_version_is_428(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create_segment(&app, "production", beta_testers()).await;
    let before = committed(&app).await;
    for body in [
        json!({"key": "beta-testers", "included": []}),
        json!({"key": "beta-testers", "included": [], "version": 0}),
    ] {
        let result = replace(&app, "production", "beta-testers", &body).await;
        assert_error(&result, 428, "version_required");
    }
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(
        get_segment(&app, "production", "beta-testers").await,
        created
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn replace_with_a_stale_version_is_409_and_changes_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_segment(&app, "production", beta_testers()).await;
    let (status, current) = replace(
        &app,
        "production",
        "beta-testers",
        &json!({"key": "beta-testers", "included": ["second"], "version": 1}),
    )
    .await;
    assert_eq!(status, 200, "{current}");
    let before = committed(&app).await;

    let body_stale = replace(
        &app,
        "production",
        "beta-testers",
        &json!({"key": "beta-testers", "included": ["stale"], "version": 1}),
    )
    .await;
    assert_error(&body_stale, 409, "version_conflict");
    let header_stale = read(
        app.admin(Method::PUT, &segment_path("production", "beta-testers"))
            .header("If-Match", "1")
            .json(&json!({"key": "beta-testers", "included": ["stale"], "version": 2}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&header_stale, 409, "version_conflict");
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(
        get_segment(&app, "production", "beta-testers").await,
        current,
        "nothing changed"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn replace_with_a_different_key_is_400(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create_segment(&app, "production", beta_testers()).await;
    let before = committed(&app).await;
    let result = replace(
        &app,
        "production",
        "beta-testers",
        &json!({"key": "renamed", "version": 1}),
    )
    .await;
    assert_rejection(&result, 400, "invalid_request", "key");
    assert_eq!(committed(&app).await, before);
    assert_eq!(
        get_segment(&app, "production", "beta-testers").await,
        created
    );
    assert_error(
        &app.get(&segment_path("production", "renamed")).await,
        404,
        "not_found",
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn replace_of_an_unknown_segment_is_404(pool: PgPool) {
    let app = spawn_app(pool).await;
    let result = replace(
        &app,
        "production",
        "ghost",
        &json!({"key": "ghost", "version": 1}),
    )
    .await;
    assert_error(&result, 404, "not_found");
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn in_segment_inside_a_segment_is_nested_segment(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_segment(&app, "production", json!({"key": "inner"})).await;
    let nested = json!({
        "key": "outer",
        "rules": [
            {"clauses": [{"attribute": "plan", "operator": "in", "values": ["pro"]}]},
            {"clauses": [
                {"attribute": "plan", "operator": "exists"},
                {"operator": "in_segment", "values": ["inner"]}
            ]}
        ]
    });
    let before = committed(&app).await;
    let result = app
        .json(Method::POST, &segments_path("production"), &nested)
        .await;
    assert_rejection(
        &result,
        400,
        "nested_segment",
        "rules[1].clauses[1].operator",
    );
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_error(
        &app.get(&segment_path("production", "outer")).await,
        404,
        "not_found",
    );

    let created = get_segment(&app, "production", "inner").await;
    let mut replacement = nested;
    replacement["key"] = json!("inner");
    replacement["version"] = json!(1);
    let result = replace(&app, "production", "inner", &replacement).await;
    assert_rejection(
        &result,
        400,
        "nested_segment",
        "rules[1].clauses[1].operator",
    );
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(get_segment(&app, "production", "inner").await, created);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn bad_regex_in_a_segment_rule_is_invalid_regex(pool: PgPool) {
    let app = spawn_app(pool).await;
    let before = committed(&app).await;
    let result = app
        .json(
            Method::POST,
            &segments_path("production"),
            &json!({"key": "regexy", "rules": [{"clauses": [
                {"attribute": "email", "operator": "matches", "values": ["@example\\.com$", "[unclosed"]}
            ]}]}),
        )
        .await;
    assert_rejection(
        &result,
        400,
        "invalid_regex",
        "rules[0].clauses[0].values[1]",
    );
    let result = app
        .json(
            Method::POST,
            &segments_path("production"),
            &json!({"key": "regexy", "rules": [{"clauses": [
                {"attribute": "email", "operator": "matches", "values": ["(?i)admin"]}
            ]}]}),
        )
        .await;
    assert_rejection(
        &result,
        400,
        "non_portable_regex",
        "rules[0].clauses[0].values[0]",
    );
    assert_eq!(committed(&app).await, before, "nothing committed");
    let (_, list) = app.get(&segments_path("production")).await;
    assert_eq!(list["total"], 0, "nothing created: {list}");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn strict_input_rejects_unknown_fields_bad_keys_and_wrong_content_types(pool: PgPool) {
    let app = spawn_app(pool).await;
    let before = committed(&app).await;
    let result = app
        .json(
            Method::POST,
            &segments_path("production"),
            &json!({"key": "strict", "members": ["x"]}),
        )
        .await;
    assert_rejection(&result, 400, "unknown_field", "members");
    let result = app
        .json(
            Method::POST,
            &segments_path("production"),
            &json!({"key": "not a key"}),
        )
        .await;
    assert_rejection(&result, 400, "invalid_value", "key");
    let result = app
        .json(
            Method::POST,
            &segments_path("production"),
            &json!({"key": "empty", "rules": [{"clauses": [{"attribute": "plan", "operator": "in"}]}]}),
        )
        .await;
    assert_rejection(&result, 400, "empty_values", "rules[0].clauses[0].values");
    let result = read(
        app.admin(Method::POST, &segments_path("production"))
            .header("Content-Type", "text/plain")
            .body(r#"{"key": "plain"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&result, 415, "unsupported_media_type");
    assert_eq!(committed(&app).await, before, "nothing committed");
}

// ---------------------------------------------------------------------------
// Delete and in_use
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn deleting_a_segment_a_rule_names_is_409_in_use(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create_segment(&app, "production", beta_testers()).await;
    flag_using_segment(&app, "beta-feature", "beta-testers").await;
    let before = committed(&app).await;
    let result = delete(&app, "production", "beta-testers").await;
    assert_error(&result, 409, "in_use");
    let message = result.1["message"].as_str().unwrap();
    assert!(
        message.contains("beta-feature"),
        "the message names the flag using it: {message}"
    );
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(
        get_segment(&app, "production", "beta-testers").await,
        created
    );

    // Once the rule is gone, the segment can go.
    let (status, saved) = app
        .json(
            Method::PUT,
            "/api/admin/environments/production/flags/beta-feature",
            &json!({"enabled": true, "off_variation": "false", "default": {"variation": "false"},
                    "version": 2}),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(delete(&app, "production", "beta-testers").await.0, 204);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn deleting_an_unused_segment_is_204(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_segment(&app, "production", beta_testers()).await;
    // A same-keyed segment used in another environment does not block it.
    create_segment(&app, "development", json!({"key": "beta-testers"})).await;
    let response = app
        .admin(Method::DELETE, &segment_path("production", "beta-testers"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.text().await.unwrap().is_empty(), "204 has no body");
    assert_error(
        &app.get(&segment_path("production", "beta-testers")).await,
        404,
        "not_found",
    );
    assert_eq!(
        get_segment(&app, "development", "beta-testers").await["key"],
        "beta-testers",
        "the development segment stays"
    );
    assert_error(
        &delete(&app, "production", "beta-testers").await,
        404,
        "not_found",
    );
}

// ---------------------------------------------------------------------------
// Revisions and outbox
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn each_segment_change_bumps_only_its_environment(pool: PgPool) {
    let app = spawn_app(pool).await;

    let steps: [(&str, &str); 3] = [
        ("create", "segment_upserted"),
        ("replace", "segment_upserted"),
        ("delete", "segment_deleted"),
    ];
    for (step, expected_change) in steps {
        let (dev, prod, rows) = committed(&app).await;
        match step {
            "create" => {
                create_segment(&app, "production", beta_testers()).await;
            }
            "replace" => {
                let (status, body) = replace(
                    &app,
                    "production",
                    "beta-testers",
                    &json!({"key": "beta-testers", "version": 1}),
                )
                .await;
                assert_eq!(status, 200, "{body}");
            }
            _ => assert_eq!(delete(&app, "production", "beta-testers").await.0, 204),
        }
        assert_eq!(
            committed(&app).await,
            (dev, prod + 1, rows + 1),
            "{step}: production +1, development unchanged, one outbox row"
        );
        let outbox = app.outbox().await;
        let row = outbox.last().unwrap();
        assert_eq!(row.message.environment.as_str(), "production", "{step}");
        assert_eq!(row.message.revision, prod + 1, "{step}");
        assert_eq!(row.message.base_revision, prod, "{step}");
        let changes = serde_json::to_value(&row.message.changes).unwrap();
        assert_eq!(
            changes.as_array().map(Vec::len),
            Some(1),
            "{step}: {changes}"
        );
        assert_eq!(changes[0]["type"], expected_change, "{step}: {changes}");
        let key = if expected_change == "segment_deleted" {
            &changes[0]["key"]
        } else {
            &changes[0]["segment"]["key"]
        };
        assert_eq!(key, "beta-testers", "{step}: {changes}");
    }
}
