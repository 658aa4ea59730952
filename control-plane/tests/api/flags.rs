//! Full-model flags: definitions (`/api/admin/flag-definitions`) and
//! per-environment configurations (`/api/admin/environments/{env}/flags`):
//! shapes, lists, strict validation with codes and paths, optimistic
//! concurrency, `in_use`, and the revisions and outbox rows each commit
//! writes.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{BODY_LIMIT, TestApp, assert_error, read, spawn_app};

const DEFINITIONS: &str = "/api/admin/flag-definitions";

fn definition_path(key: &str) -> String {
    format!("{DEFINITIONS}/{key}")
}

fn config_path(environment: &str, key: &str) -> String {
    format!("/api/admin/environments/{environment}/flags/{key}")
}

async fn create_flag(app: &TestApp, body: Value) -> Value {
    let (status, created) = app.json(Method::POST, DEFINITIONS, &body).await;
    assert_eq!(status, 201, "creating {body}: {created}");
    created
}

async fn create_boolean(app: &TestApp, key: &str) -> Value {
    create_flag(app, json!({"key": key, "kind": "boolean"})).await
}

/// A string flag with variations `control`, `treatment` and `off`.
async fn create_checkout(app: &TestApp, key: &str) -> Value {
    create_flag(
        app,
        json!({
            "key": key,
            "kind": "string",
            "variations": [
                {"key": "control", "value": "classic", "name": "Classic checkout"},
                {"key": "treatment", "value": "redesign"},
                {"key": "off", "value": "classic"}
            ]
        }),
    )
    .await
}

/// The flag as `environment` sees it.
async fn environment_flag(app: &TestApp, environment: &str, key: &str) -> Value {
    let (status, body) = app.get(&config_path(environment, key)).await;
    assert_eq!(status, 200, "{environment}/{key}: {body}");
    body
}

async fn put_config(app: &TestApp, environment: &str, key: &str, config: &Value) -> (u16, Value) {
    app.json(Method::PUT, &config_path(environment, key), config)
        .await
}

/// PUTs `config` and asserts it was saved.
async fn save_config(app: &TestApp, environment: &str, key: &str, config: Value) -> Value {
    let (status, saved) = put_config(app, environment, key, &config).await;
    assert_eq!(status, 200, "saving {config}: {saved}");
    saved
}

/// A valid configuration of a `create_checkout` flag at `version`.
fn checkout_config(version: u64) -> Value {
    json!({
        "enabled": true,
        "off_variation": "off",
        "default": {"variation": "control"},
        "version": version
    })
}

/// A `create_checkout` configuration with one rule holding `clause`.
fn config_with_clause(clause: Value) -> Value {
    let mut config = checkout_config(1);
    config["rules"] = json!([{"clauses": [clause], "serve": {"variation": "treatment"}}]);
    config
}

/// Everything a rejected write must leave alone.
#[derive(Debug, PartialEq)]
struct Committed {
    development: u64,
    production: u64,
    outbox: usize,
}

async fn committed(app: &TestApp) -> Committed {
    Committed {
        development: app.revision("development").await,
        production: app.revision("production").await,
        outbox: app.outbox().await.len(),
    }
}

/// Asserts an error's status, code and path.
#[track_caller]
fn assert_rejection(result: &(u16, Value), status: u16, code: &str, path: &str) {
    assert_error(result, status, code);
    assert_eq!(result.1["path"], path, "path in {}", result.1);
}

/// PUTs `config` to production's `key`, expects 400 `code` at `path`, and
/// checks that the configuration, revisions and outbox did not change.
async fn reject_config(app: &TestApp, key: &str, config: Value, code: &str, path: &str) -> Value {
    let before = committed(app).await;
    let flag_before = environment_flag(app, "production", key).await;
    let result = put_config(app, "production", key, &config).await;
    assert_rejection(&result, 400, code, path);
    assert_eq!(committed(app).await, before, "a rejection commits nothing");
    assert_eq!(
        environment_flag(app, "production", key).await,
        flag_before,
        "a rejection leaves the configuration (and its version) alone"
    );
    result.1
}

/// POSTs `body` as a new definition, expects 400 `code` at `path`, and
/// checks nothing was created or committed.
async fn reject_create(app: &TestApp, body: Value, code: &str, path: &str) -> Value {
    let before = committed(app).await;
    let result = app.json(Method::POST, DEFINITIONS, &body).await;
    assert_rejection(&result, 400, code, path);
    assert_eq!(committed(app).await, before, "a rejection commits nothing");
    let (_, list) = app.get(DEFINITIONS).await;
    assert_eq!(list["total"], 0, "nothing created: {list}");
    result.1
}

fn item_keys(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items in {page}"))
        .iter()
        .map(|item| item["flag"]["key"].as_str().expect("flag key"))
        .collect()
}

// ---------------------------------------------------------------------------
// Create, read, list
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn boolean_flag_without_variations_gets_true_and_false(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create_flag(
        &app,
        json!({"key": "new-payments", "kind": "boolean", "description": "Payments v2",
               "tags": ["payments"]}),
    )
    .await;

    let mut fields: Vec<&String> = created.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["environments", "flag", "id"], "{created}");
    uuid::Uuid::parse_str(created["id"].as_str().unwrap()).expect("id is a UUID");
    let flag = &created["flag"];
    assert_eq!(flag["key"], "new-payments");
    assert_eq!(flag["kind"], "boolean");
    assert_eq!(flag["description"], "Payments v2");
    assert_eq!(flag["tags"], json!(["payments"]));
    assert_eq!(flag["version"], 1);
    assert_eq!(
        flag["variations"],
        json!([{"key": "true", "value": true}, {"key": "false", "value": false}])
    );
    assert!(flag["created_at"].is_string(), "created_at in {flag}");

    let environments = created["environments"].as_object().unwrap();
    let mut keys: Vec<&String> = environments.keys().collect();
    keys.sort();
    assert_eq!(keys, ["development", "production"], "{created}");
    for (environment, config) in environments {
        assert_eq!(
            config,
            &json!({
                "enabled": false,
                "off_variation": "false",
                "targets": [],
                "rules": [],
                "default": {"variation": "false"},
                "prerequisites": [],
                "version": 1
            }),
            "{environment} starts disabled"
        );
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn string_number_and_json_flags_are_created_with_their_variations(pool: PgPool) {
    let app = spawn_app(pool).await;
    let cases = [
        json!({"key": "banner-text", "kind": "string",
               "variations": [{"key": "hello", "value": "Hello"}, {"key": "bye", "value": "Bye"}]}),
        json!({"key": "max-items", "kind": "number",
               "variations": [{"key": "small", "value": 10}, {"key": "large", "value": 2.5e3}]}),
        json!({"key": "layout", "kind": "json",
               "variations": [{"key": "grid", "value": {"columns": 3}}, {"key": "none", "value": null},
                              {"key": "list", "value": [1, "two"]}]}),
    ];
    for body in cases {
        let created = create_flag(&app, body.clone()).await;
        assert_eq!(created["flag"]["kind"], body["kind"]);
        assert_eq!(
            created["flag"]["variations"], body["variations"],
            "variations kept as given"
        );
        let first = &body["variations"][0]["key"];
        for environment in ["development", "production"] {
            let config = &created["environments"][environment];
            assert_eq!(config["enabled"], false, "{environment}: {config}");
            assert_eq!(
                &config["off_variation"], first,
                "off is the first variation"
            );
            assert_eq!(config["default"], json!({"variation": first}));
        }
        let (status, read_back) = app
            .get(&definition_path(body["key"].as_str().unwrap()))
            .await;
        assert_eq!(status, 200);
        assert_eq!(read_back, created, "GET returns what POST returned");
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn get_definition_shows_every_environment(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    save_config(&app, "production", "checkout", checkout_config(1)).await;
    let (status, definition) = app.get(&definition_path("checkout")).await;
    assert_eq!(status, 200, "{definition}");
    assert_eq!(definition["environments"]["production"]["enabled"], true);
    assert_eq!(definition["environments"]["production"]["version"], 2);
    assert_eq!(definition["environments"]["development"]["enabled"], false);
    assert_eq!(definition["environments"]["development"]["version"], 1);

    assert_error(
        &app.get(&definition_path("missing")).await,
        404,
        "not_found",
    );
    assert_error(
        &app.get(&config_path("production", "missing")).await,
        404,
        "not_found",
    );
    assert_error(
        &app.get(&config_path("staging", "checkout")).await,
        404,
        "not_found",
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn environment_list_is_paginated_by_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    for key in ["e-flag", "a-flag", "d-flag", "b-flag", "c-flag"] {
        create_boolean(&app, key).await;
    }
    let (status, first) = app
        .get("/api/admin/environments/production/flags?limit=2")
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(item_keys(&first), ["a-flag", "b-flag"], "sorted by key");
    assert_eq!(first["total"], 5);
    assert_eq!(first["limit"], 2);
    assert_eq!(first["offset"], 0);
    let item = &first["items"][0];
    assert!(item["id"].is_string(), "{item}");
    assert_eq!(item["config"]["version"], 1, "{item}");
    assert_eq!(item["legacy_representable"], false, "{item}");

    let (_, second) = app
        .get("/api/admin/environments/production/flags?limit=2&offset=2")
        .await;
    assert_eq!(item_keys(&second), ["c-flag", "d-flag"]);
    assert_eq!(second["offset"], 2);
    assert_eq!(second["total"], 5);
    let (_, last) = app
        .get("/api/admin/environments/production/flags?limit=2&offset=4")
        .await;
    assert_eq!(item_keys(&last), ["e-flag"]);
    let (_, beyond) = app
        .get("/api/admin/environments/production/flags?offset=10")
        .await;
    assert_eq!(item_keys(&beyond), Vec::<&str>::new());
    assert_eq!(beyond["total"], 0, "no row, no window count: {beyond}");

    let (_, definitions) = app.get(&format!("{DEFINITIONS}?limit=3&offset=1")).await;
    assert_eq!(item_keys(&definitions), ["b-flag", "c-flag", "d-flag"]);
    assert_eq!(definitions["total"], 5);

    assert_error(
        &app.get("/api/admin/environments/staging/flags").await,
        404,
        "not_found",
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn environment_list_searches_keys_case_insensitively(pool: PgPool) {
    let app = spawn_app(pool).await;
    for key in [
        "checkout-redesign",
        "Checkout.v2",
        "search-box",
        "new-checkout",
    ] {
        create_boolean(&app, key).await;
    }
    let (status, page) = app
        .get("/api/admin/environments/development/flags?q=CHECKOUT")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        item_keys(&page),
        ["Checkout.v2", "checkout-redesign", "new-checkout"]
    );
    assert_eq!(page["total"], 3);
    let (_, paged) = app
        .get("/api/admin/environments/development/flags?q=checkout&limit=1&offset=1")
        .await;
    assert_eq!(item_keys(&paged), ["checkout-redesign"]);
    assert_eq!(paged["total"], 3, "total counts every match: {paged}");
    let (_, none) = app
        .get("/api/admin/environments/development/flags?q=nothing-like-this")
        .await;
    assert_eq!(none["total"], 0);
    let (_, definitions) = app.get(&format!("{DEFINITIONS}?q=search")).await;
    assert_eq!(item_keys(&definitions), ["search-box"]);
}

/// `q` is text, not a pattern: `_` and `%` match only themselves.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn search_treats_underscore_and_percent_literally(pool: PgPool) {
    let app = spawn_app(pool).await;
    for key in ["beta_one", "beta-one", "betaXone"] {
        create_boolean(&app, key).await;
    }
    let (_, underscore) = app
        .get("/api/admin/environments/production/flags?q=beta_")
        .await;
    assert_eq!(
        item_keys(&underscore),
        ["beta_one"],
        "`_` is a literal underscore: {underscore}"
    );
    let (_, percent) = app
        .get("/api/admin/environments/production/flags?q=%25")
        .await;
    assert_eq!(
        percent["total"], 0,
        "no key contains `%`, so nothing matches: {percent}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn environment_list_filters_by_tag(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_flag(
        &app,
        json!({"key": "pay-a", "kind": "boolean", "tags": ["payments", "q3"]}),
    )
    .await;
    create_flag(
        &app,
        json!({"key": "pay-b", "kind": "boolean", "tags": ["payments"]}),
    )
    .await;
    create_flag(
        &app,
        json!({"key": "other", "kind": "boolean", "tags": ["search"]}),
    )
    .await;
    create_boolean(&app, "untagged").await;

    let (status, page) = app
        .get("/api/admin/environments/production/flags?tag=payments")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(item_keys(&page), ["pay-a", "pay-b"]);
    assert_eq!(page["total"], 2);
    let (_, q3) = app
        .get("/api/admin/environments/production/flags?tag=q3")
        .await;
    assert_eq!(item_keys(&q3), ["pay-a"]);
    let (_, exact) = app
        .get("/api/admin/environments/production/flags?tag=pay")
        .await;
    assert_eq!(exact["total"], 0, "tags match exactly: {exact}");
    let (_, both) = app
        .get("/api/admin/environments/production/flags?tag=payments&q=-b")
        .await;
    assert_eq!(item_keys(&both), ["pay-b"], "q and tag combine");
}

/// Every rejection is JSON with a code, query-string errors included.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn list_with_a_malformed_limit_is_a_json_400(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app
        .admin(
            Method::GET,
            "/api/admin/environments/production/flags?limit=many",
        )
        .send()
        .await
        .unwrap();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let result = read(response).await;
    assert_eq!(result.0, 400, "{}", result.1);
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "the error is JSON"
    );
    assert!(
        result.1["error"].as_str().is_some_and(|c| !c.is_empty()),
        "a machine-readable code: {}",
        result.1
    );
    assert!(
        result.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("limit")),
        "the message names the parameter: {}",
        result.1
    );
}

// ---------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn patch_definition_with_body_version_increments_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let (status, patched) = app
        .json(
            Method::PATCH,
            &definition_path("checkout"),
            &json!({"description": "Checkout test", "tags": ["checkout"], "version": 1}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["flag"]["version"], 2);
    assert_eq!(patched["flag"]["description"], "Checkout test");
    assert_eq!(patched["flag"]["tags"], json!(["checkout"]));
    assert_eq!(
        patched["flag"]["variations"].as_array().unwrap().len(),
        3,
        "variations not sent, so kept"
    );
    assert_eq!(
        patched["environments"]["production"]["version"], 1,
        "a definition change leaves configuration versions alone"
    );
    let (_, read_back) = app.get(&definition_path("checkout")).await;
    assert_eq!(read_back, patched, "the patch is stored");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn patch_definition_with_if_match_increments_the_version(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    for (if_match, expected) in [("1", 2), ("\"2\"", 3), ("W/\"3\"", 4)] {
        let (status, patched) = read(
            app.admin(Method::PATCH, &definition_path("checkout"))
                .header("If-Match", if_match)
                .json(&json!({"description": format!("v{expected}")}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "If-Match {if_match}: {patched}");
        assert_eq!(patched["flag"]["version"], expected, "If-Match {if_match}");
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn patch_definition_variations_are_revalidated_and_kept(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let variations = json!([
        {"key": "control", "value": "classic"},
        {"key": "treatment", "value": "redesign"},
        {"key": "off", "value": "classic"},
        {"key": "treatment-b", "value": "bold"}
    ]);
    let (status, patched) = app
        .json(
            Method::PATCH,
            &definition_path("checkout"),
            &json!({"variations": variations, "version": 1}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["flag"]["variations"], variations);

    let before = committed(&app).await;
    let result = app
        .json(
            Method::PATCH,
            &definition_path("checkout"),
            &json!({"variations": [{"key": "control", "value": 1}], "version": 2}),
        )
        .await;
    assert_rejection(&result, 400, "type_mismatch", "variations[0].value");
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(app.get(&definition_path("checkout")).await.1, patched);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn put_config_replaces_the_configuration(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    create_boolean(&app, "new-payments").await;
    let (status, _) = app
        .json(
            Method::POST,
            "/api/admin/environments/production/segments",
            &json!({"key": "beta-testers", "included": ["user-7"]}),
        )
        .await;
    assert_eq!(status, 201);
    let config = json!({
        "enabled": true,
        "off_variation": "off",
        "targets": [{"variation": "treatment", "values": ["user-1", "qa-bot"]}],
        "rules": [
            {
                "id": "internal",
                "description": "Employees",
                "clauses": [{"attribute": "email", "operator": "ends_with", "values": ["@halyard.example"]}],
                "serve": {"variation": "treatment"}
            },
            {
                "id": "beta-eu",
                "clauses": [
                    {"operator": "in_segment", "values": ["beta-testers"]},
                    {"attribute": "/address/country", "operator": "in", "values": ["DE", "FR"]}
                ],
                "serve": {"rollout": {"bucketing": "v2", "salt": "checkout-2026", "weights": [
                    {"variation": "control", "weight": 50000},
                    {"variation": "treatment", "weight": 50000}
                ]}}
            }
        ],
        "default": {"variation": "control"},
        "prerequisites": [{"flag": "new-payments", "variation": "true"}],
        "version": 1
    });
    let saved = save_config(&app, "production", "checkout", config.clone()).await;
    let mut expected = config;
    expected["version"] = json!(2);
    assert_eq!(
        saved["config"], expected,
        "the configuration as sent, version 2"
    );
    assert_eq!(saved["flag"]["key"], "checkout");
    assert_eq!(saved["legacy_representable"], false);
    assert_eq!(
        environment_flag(&app, "production", "checkout").await,
        saved,
        "stored as returned"
    );
    assert_eq!(
        environment_flag(&app, "development", "checkout").await["config"]["version"],
        1,
        "other environments untouched"
    );

    let replaced = save_config(&app, "production", "checkout", checkout_config(2)).await;
    assert_eq!(replaced["config"]["version"], 3);
    assert_eq!(
        replaced["config"]["rules"],
        json!([]),
        "PUT replaces: omitted lists are empty"
    );
    assert_eq!(replaced["config"]["targets"], json!([]));
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn put_config_makes_a_boolean_flag_legacy_representable(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_boolean(&app, "was-modern").await;
    assert_eq!(app.get("/api/admin/flags").await.1, json!({"flags": []}));
    let saved = save_config(
        &app,
        "production",
        "was-modern",
        json!({
            "enabled": true,
            "off_variation": "false",
            "targets": [],
            "default": {"rollout": {"bucketing": "v1", "weights": [
                {"variation": "true", "weight": 20}, {"variation": "false", "weight": 80}
            ]}},
            "version": 1
        }),
    )
    .await;
    assert_eq!(saved["legacy_representable"], true, "{saved}");
    let (_, legacy) = app.get("/api/admin/flags").await;
    assert_eq!(legacy["flags"][0]["key"], "was-modern", "{legacy}");
    assert_eq!(legacy["flags"][0]["rollout_percentage"], 20);
}

// ---------------------------------------------------------------------------
// Validation: one test per kind of bad field
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn unknown_field_in_a_definition_is_unknown_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let error = reject_create(
        &app,
        json!({"key": "colourful", "kind": "boolean", "colour": "red"}),
        "unknown_field",
        "colour",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("colour"),
        "{error}"
    );
    reject_create(
        &app,
        json!({"key": "colourful", "kind": "string",
               "variations": [{"key": "a", "value": "a", "weight": 3}]}),
        "unknown_field",
        "variations[0].weight",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn unknown_field_in_a_config_is_unknown_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["rollout_percentage"] = json!(50);
    reject_config(
        &app,
        "checkout",
        config,
        "unknown_field",
        "rollout_percentage",
    )
    .await;
    let config = config_with_clause(
        json!({"attribute": "plan", "operator": "in", "values": ["pro"], "negated": true}),
    );
    reject_config(
        &app,
        "checkout",
        config,
        "unknown_field",
        "rules[0].clauses[0].negated",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn unknown_field_in_a_patch_is_unknown_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let before = committed(&app).await;
    let result = app
        .json(
            Method::PATCH,
            &definition_path("checkout"),
            &json!({"key": "renamed", "version": 1}),
        )
        .await;
    assert_rejection(&result, 400, "unknown_field", "key");
    assert_eq!(committed(&app).await, before);
    assert_eq!(
        app.get(&definition_path("checkout")).await.1["flag"]["version"],
        1
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn wrong_content_type_is_415(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let before = committed(&app).await;
    let requests = [
        (
            Method::POST,
            DEFINITIONS.to_owned(),
            r#"{"key": "plain", "kind": "boolean"}"#.to_owned(),
        ),
        (
            Method::PATCH,
            definition_path("checkout"),
            r#"{"description": "x", "version": 1}"#.to_owned(),
        ),
        (
            Method::PUT,
            config_path("production", "checkout"),
            checkout_config(1).to_string(),
        ),
    ];
    for (method, path, body) in requests {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut request = app.admin(method.clone(), &path).body(body.clone());
            if let Some(content_type) = content_type {
                request = request.header("Content-Type", content_type);
            }
            let result = read(request.send().await.unwrap()).await;
            assert_error(&result, 415, "unsupported_media_type");
        }
    }
    assert_eq!(committed(&app).await, before, "nothing committed");
    // `application/json; charset=utf-8` is JSON.
    let (status, created) = read(
        app.admin(Method::POST, DEFINITIONS)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(r#"{"key": "charset", "kind": "boolean"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn bad_flag_key_is_invalid_value_at_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    for key in ["has space", "", "slash/key", &"k".repeat(129)] {
        reject_create(
            &app,
            json!({"key": key, "kind": "boolean"}),
            "invalid_value",
            "key",
        )
        .await;
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn malformed_definition_json_is_invalid_value(pool: PgPool) {
    let app = spawn_app(pool).await;
    reject_create(
        &app,
        json!({"key": "k", "kind": "colour"}),
        "invalid_value",
        "kind",
    )
    .await;
    reject_create(
        &app,
        json!({"key": "k", "kind": "string", "variations": [{"key": "bad key", "value": "x"}]}),
        "invalid_value",
        "variations[0].key",
    )
    .await;
}

/// Broken JSON is `invalid_value` for the whole document: no path (the
/// body omits an empty one), never a placeholder such as `"?"`.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn truncated_json_is_invalid_value_without_a_path(pool: PgPool) {
    let app = spawn_app(pool).await;
    let before = committed(&app).await;
    for body in ["{", r#"{"key": "cut", "kind":"#, "nonsense"] {
        let result = read(
            app.admin(Method::POST, DEFINITIONS)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(&result, 400, "invalid_value");
        assert!(
            result.1.get("path").is_none(),
            "{body:?}: a syntax error has no field path: {}",
            result.1
        );
    }
    assert_eq!(committed(&app).await, before, "nothing committed");
}

/// A JSON document followed by anything but whitespace is not JSON.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn trailing_characters_after_the_json_are_rejected(pool: PgPool) {
    let app = spawn_app(pool).await;
    let before = committed(&app).await;
    let result = read(
        app.admin(Method::POST, DEFINITIONS)
            .header("Content-Type", "application/json")
            .body(r#"{"key": "trailing", "kind": "boolean"} garbage"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&result, 400, "invalid_value");
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_error(
        &app.get(&definition_path("trailing")).await,
        404,
        "not_found",
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn variation_of_the_wrong_type_is_type_mismatch(pool: PgPool) {
    let app = spawn_app(pool).await;
    reject_create(
        &app,
        json!({"key": "wrong", "kind": "string",
               "variations": [{"key": "a", "value": "fine"}, {"key": "b", "value": 5}]}),
        "type_mismatch",
        "variations[1].value",
    )
    .await;
    reject_create(
        &app,
        json!({"key": "wrong", "kind": "number",
               "variations": [{"key": "a", "value": "5"}]}),
        "type_mismatch",
        "variations[0].value",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn duplicate_variation_key_is_duplicate_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    reject_create(
        &app,
        json!({"key": "twice", "kind": "string",
               "variations": [{"key": "a", "value": "x"}, {"key": "b", "value": "y"},
                              {"key": "a", "value": "z"}]}),
        "duplicate_key",
        "variations[2].key",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn string_flag_without_variations_is_invalid_variations(pool: PgPool) {
    let app = spawn_app(pool).await;
    for kind in ["string", "number", "json"] {
        reject_create(
            &app,
            json!({"key": "no-variations", "kind": kind}),
            "invalid_variations",
            "variations",
        )
        .await;
    }
    reject_create(
        &app,
        json!({"key": "empty", "kind": "string", "variations": []}),
        "invalid_variations",
        "variations",
    )
    .await;
    reject_create(
        &app,
        json!({"key": "odd-boolean", "kind": "boolean",
               "variations": [{"key": "yes", "value": true}, {"key": "no", "value": false}]}),
        "invalid_variations",
        "variations",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn duplicate_flag_key_is_409_duplicate_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    let first = create_checkout(&app, "checkout").await;
    let before = committed(&app).await;
    let result = app
        .json(
            Method::POST,
            DEFINITIONS,
            &json!({"key": "checkout", "kind": "boolean"}),
        )
        .await;
    assert_error(&result, 409, "duplicate_key");
    assert_eq!(committed(&app).await, before);
    assert_eq!(app.get(&definition_path("checkout")).await.1, first);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn unknown_off_variation_is_unknown_variation(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["off_variation"] = json!("disabled");
    let error = reject_config(
        &app,
        "checkout",
        config,
        "unknown_variation",
        "config.off_variation",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("disabled"),
        "{error}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn unknown_default_variation_is_unknown_variation(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["default"] = json!({"variation": "treatment-z"});
    reject_config(
        &app,
        "checkout",
        config,
        "unknown_variation",
        "config.default.variation",
    )
    .await;
    let mut config = checkout_config(1);
    config["default"] = json!({"rollout": {"weights": [
        {"variation": "control", "weight": 50000}, {"variation": "nope", "weight": 50000}
    ]}});
    reject_config(
        &app,
        "checkout",
        config,
        "unknown_variation",
        "config.default.rollout.weights[1].variation",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn unknown_rule_serve_variation_is_unknown_variation(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["rules"] = json!([
        {"clauses": [], "serve": {"variation": "control"}},
        {"clauses": [], "serve": {"variation": "treatment-z"}}
    ]);
    reject_config(
        &app,
        "checkout",
        config,
        "unknown_variation",
        "config.rules[1].serve.variation",
    )
    .await;
    let mut config = checkout_config(1);
    config["targets"] = json!([{"variation": "vip", "values": ["u1"]}]);
    reject_config(
        &app,
        "checkout",
        config,
        "unknown_variation",
        "config.targets[0].variation",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn weights_not_summing_to_the_total_are_invalid_weights(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["default"] = json!({"rollout": {"weights": [
        {"variation": "control", "weight": 50000}, {"variation": "treatment", "weight": 40000}
    ]}});
    reject_config(
        &app,
        "checkout",
        config,
        "invalid_weights",
        "config.default.rollout.weights",
    )
    .await;
    let mut config = checkout_config(1);
    config["rules"] = json!([{"clauses": [], "serve": {"rollout": {"bucketing": "v1", "weights": [
        {"variation": "control", "weight": 50}, {"variation": "treatment", "weight": 51}
    ]}}}]);
    reject_config(
        &app,
        "checkout",
        config,
        "invalid_weights",
        "config.rules[0].serve.rollout.weights",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn unparsable_regex_is_invalid_regex(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    reject_config(
        &app,
        "checkout",
        config_with_clause(
            json!({"attribute": "email", "operator": "matches", "values": ["^ok$", "(unclosed"]}),
        ),
        "invalid_regex",
        "config.rules[0].clauses[0].values[1]",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn non_portable_regex_is_non_portable_regex(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    for pattern in ["(?i)admin", r"\p{L}+", "(?P<name>x)"] {
        reject_config(
            &app,
            "checkout",
            config_with_clause(
                json!({"attribute": "email", "operator": "matches", "values": [pattern]}),
            ),
            "non_portable_regex",
            "config.rules[0].clauses[0].values[0]",
        )
        .await;
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn bad_semver_is_invalid_semver(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    for version in ["1.2", "v1.2.3", "01.2.3"] {
        reject_config(
            &app,
            "checkout",
            config_with_clause(
                json!({"attribute": "appVersion", "operator": "semver_gte", "values": ["4.2.0", version]}),
            ),
            "invalid_semver",
            "config.rules[0].clauses[0].values[1]",
        )
        .await;
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn bad_date_is_invalid_date(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    for date in ["2026-01-01", "2026-01-01 10:00:00Z", "1700000000000"] {
        reject_config(
            &app,
            "checkout",
            config_with_clause(
                json!({"attribute": "signup", "operator": "date_before", "values": [date]}),
            ),
            "invalid_date",
            "config.rules[0].clauses[0].values[0]",
        )
        .await;
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn operator_without_values_is_empty_values(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    reject_config(
        &app,
        "checkout",
        config_with_clause(json!({"attribute": "plan", "operator": "in", "values": []})),
        "empty_values",
        "config.rules[0].clauses[0].values",
    )
    .await;
    reject_config(
        &app,
        "checkout",
        config_with_clause(json!({"attribute": "plan", "operator": "starts_with"})),
        "empty_values",
        "config.rules[0].clauses[0].values",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn operand_of_the_wrong_type_is_type_mismatch(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    reject_config(
        &app,
        "checkout",
        config_with_clause(json!({"attribute": "age", "operator": "number_gt", "values": ["18"]})),
        "type_mismatch",
        "config.rules[0].clauses[0].values[0]",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn prerequisite_on_an_unknown_flag_is_unknown_flag(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["prerequisites"] = json!([{"flag": "does-not-exist", "variation": "true"}]);
    let error = reject_config(
        &app,
        "checkout",
        config,
        "unknown_flag",
        "config.prerequisites[0].flag",
    )
    .await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("does-not-exist"),
        "{error}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn prerequisite_on_an_unknown_variation_is_unknown_variation(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    create_boolean(&app, "new-payments").await;
    let mut config = checkout_config(1);
    config["prerequisites"] = json!([{"flag": "new-payments", "variation": "maybe"}]);
    reject_config(
        &app,
        "checkout",
        config,
        "unknown_variation",
        "config.prerequisites[0].variation",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn prerequisite_on_itself_is_prerequisite_cycle(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["prerequisites"] = json!([{"flag": "checkout", "variation": "control"}]);
    reject_config(
        &app,
        "checkout",
        config,
        "prerequisite_cycle",
        "config.prerequisites[0].flag",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn prerequisite_cycle_across_two_flags_is_prerequisite_cycle(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_boolean(&app, "flag-a").await;
    create_boolean(&app, "flag-b").await;
    save_config(
        &app,
        "production",
        "flag-a",
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"},
               "prerequisites": [{"flag": "flag-b", "variation": "true"}], "version": 1}),
    )
    .await;
    let error = reject_config(
        &app,
        "flag-b",
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"},
               "prerequisites": [{"flag": "flag-a", "variation": "true"}], "version": 1}),
        "prerequisite_cycle",
        "config.prerequisites",
    )
    .await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("flag-a") && message.contains("flag-b"),
        "the message lists the cycle: {message}"
    );
    // The same prerequisite in another environment is no cycle.
    save_config(
        &app,
        "development",
        "flag-b",
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"},
               "prerequisites": [{"flag": "flag-a", "variation": "true"}], "version": 1}),
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn in_segment_naming_an_unknown_segment_is_unknown_segment(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    // A segment of another environment does not count.
    let (status, _) = app
        .json(
            Method::POST,
            "/api/admin/environments/development/segments",
            &json!({"key": "beta-testers"}),
        )
        .await;
    assert_eq!(status, 201);
    let error = reject_config(
        &app,
        "checkout",
        config_with_clause(json!({"operator": "in_segment", "values": ["beta-testers"]})),
        "unknown_segment",
        "config.rules[0].clauses[0].values[0]",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("beta-testers"),
        "{error}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn malformed_config_json_is_invalid_value(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["enabled"] = json!("yes");
    reject_config(&app, "checkout", config, "invalid_value", "enabled").await;
    reject_config(
        &app,
        "checkout",
        config_with_clause(json!({"attribute": "plan", "operator": "like", "values": ["x"]})),
        "invalid_value",
        "rules[0].clauses[0].operator",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Optimistic concurrency
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn put_config_without_a_version_is_428(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let before = committed(&app).await;
    let mut config = checkout_config(1);
    config.as_object_mut().unwrap().remove("version");
    let result = put_config(&app, "production", "checkout", &config).await;
    assert_error(&result, 428, "version_required");
    let result = put_config(&app, "production", "checkout", &checkout_config(0)).await;
    assert_error(&result, 428, "version_required");
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(
        environment_flag(&app, "production", "checkout").await["config"]["enabled"],
        false
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn put_config_with_a_stale_body_version_is_409_and_changes_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    save_config(&app, "production", "checkout", checkout_config(1)).await;
    let current = environment_flag(&app, "production", "checkout").await;
    let before = committed(&app).await;
    let mut stale = checkout_config(1);
    stale["enabled"] = json!(false);
    let result = put_config(&app, "production", "checkout", &stale).await;
    assert_error(&result, 409, "version_conflict");
    let future = put_config(&app, "production", "checkout", &checkout_config(7)).await;
    assert_error(&future, 409, "version_conflict");
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(
        environment_flag(&app, "production", "checkout").await,
        current,
        "nothing changed"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn put_config_with_a_stale_if_match_is_409_and_changes_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    save_config(&app, "production", "checkout", checkout_config(1)).await;
    let current = environment_flag(&app, "production", "checkout").await;
    let before = committed(&app).await;
    let mut body = checkout_config(2);
    body["enabled"] = json!(false);
    // If-Match wins over the body's (current) version.
    let result = read(
        app.admin(Method::PUT, &config_path("production", "checkout"))
            .header("If-Match", "\"1\"")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&result, 409, "version_conflict");
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(
        environment_flag(&app, "production", "checkout").await,
        current
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn put_config_with_the_current_version_succeeds_and_increments_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let saved = save_config(&app, "production", "checkout", checkout_config(1)).await;
    assert_eq!(saved["config"]["version"], 2, "body version 1 -> 2");
    let mut body = checkout_config(0);
    body["enabled"] = json!(false);
    let (status, again) = read(
        app.admin(Method::PUT, &config_path("production", "checkout"))
            .header("If-Match", "W/\"2\"")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["config"]["version"], 3, "If-Match 2 -> 3");
    assert_eq!(again["config"]["enabled"], false);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn malformed_if_match_is_400(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let before = committed(&app).await;
    let result = read(
        app.admin(Method::PUT, &config_path("production", "checkout"))
            .header("If-Match", "\"abc\"")
            .json(&checkout_config(1))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_rejection(&result, 400, "invalid_request", "If-Match");
    assert_eq!(committed(&app).await, before);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn patch_definition_without_a_version_is_428(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create_checkout(&app, "checkout").await;
    let before = committed(&app).await;
    for body in [
        json!({"description": "x"}),
        json!({"description": "x", "version": 0}),
    ] {
        let result = app
            .json(Method::PATCH, &definition_path("checkout"), &body)
            .await;
        assert_error(&result, 428, "version_required");
    }
    assert_eq!(committed(&app).await, before);
    assert_eq!(app.get(&definition_path("checkout")).await.1, created);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn patch_definition_with_a_stale_version_is_409_and_changes_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let (status, current) = app
        .json(
            Method::PATCH,
            &definition_path("checkout"),
            &json!({"description": "second", "version": 1}),
        )
        .await;
    assert_eq!(status, 200, "{current}");
    let before = committed(&app).await;

    let body_stale = app
        .json(
            Method::PATCH,
            &definition_path("checkout"),
            &json!({"description": "stale", "version": 1}),
        )
        .await;
    assert_error(&body_stale, 409, "version_conflict");
    let header_stale = read(
        app.admin(Method::PATCH, &definition_path("checkout"))
            .header("If-Match", "1")
            .json(&json!({"description": "stale", "version": 2}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&header_stale, 409, "version_conflict");
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(app.get(&definition_path("checkout")).await.1, current);
}

// ---------------------------------------------------------------------------
// in_use and references
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn deleting_a_prerequisite_is_409_in_use_until_it_is_no_longer_required(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_boolean(&app, "new-payments").await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["prerequisites"] = json!([{"flag": "new-payments", "variation": "true"}]);
    save_config(&app, "development", "checkout", config).await;

    let before = committed(&app).await;
    let response = app
        .admin(Method::DELETE, &definition_path("new-payments"))
        .send()
        .await
        .unwrap();
    let result = read(response).await;
    assert_error(&result, 409, "in_use");
    let message = result.1["message"].as_str().unwrap();
    assert!(
        message.contains("checkout"),
        "the message names the dependent flag: {message}"
    );
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(app.get(&definition_path("new-payments")).await.0, 200);

    save_config(&app, "development", "checkout", checkout_config(2)).await;
    let response = app
        .admin(Method::DELETE, &definition_path("new-payments"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_error(
        &app.get(&definition_path("new-payments")).await,
        404,
        "not_found",
    );
    assert_error(
        &app.get(&config_path("production", "new-payments")).await,
        404,
        "not_found",
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn deleting_an_unknown_flag_is_404(pool: PgPool) {
    let app = spawn_app(pool).await;
    let result = read(
        app.admin(Method::DELETE, &definition_path("ghost"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&result, 404, "not_found");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn removing_a_variation_a_configuration_uses_is_400_naming_the_environment(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let mut config = checkout_config(1);
    config["default"] = json!({"variation": "treatment"});
    save_config(&app, "production", "checkout", config).await;
    let definition = app.get(&definition_path("checkout")).await.1;
    let before = committed(&app).await;

    let result = app
        .json(
            Method::PATCH,
            &definition_path("checkout"),
            &json!({"variations": [{"key": "control", "value": "classic"},
                                   {"key": "off", "value": "classic"}],
                    "version": 1}),
        )
        .await;
    assert_rejection(
        &result,
        400,
        "unknown_variation",
        "environments.production.config.default.variation",
    );
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(app.get(&definition_path("checkout")).await.1, definition);
}

/// Another flag's prerequisite naming a variation is a reference too: the
/// cross-flag checks (evaluation.md §9.3) run on every save, definition
/// changes included.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn removing_a_variation_another_flags_prerequisite_requires_is_400(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    create_boolean(&app, "dependent").await;
    save_config(
        &app,
        "production",
        "dependent",
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"},
               "prerequisites": [{"flag": "checkout", "variation": "treatment"}], "version": 1}),
    )
    .await;
    let definition = app.get(&definition_path("checkout")).await.1;
    let before = committed(&app).await;

    let result = app
        .json(
            Method::PATCH,
            &definition_path("checkout"),
            &json!({"variations": [{"key": "control", "value": "classic"},
                                   {"key": "off", "value": "classic"}],
                    "version": 1}),
        )
        .await;
    assert_error(&result, 400, "unknown_variation");
    let path = result.1["path"].as_str().unwrap_or_default();
    assert!(
        path.contains("production"),
        "the path names the environment: {}",
        result.1
    );
    assert_eq!(committed(&app).await, before, "nothing committed");
    assert_eq!(app.get(&definition_path("checkout")).await.1, definition);
}

// ---------------------------------------------------------------------------
// Revisions and outbox
// ---------------------------------------------------------------------------

/// Asserts the outbox rows after `from` are one per environment in
/// `expected`, each taking that environment from `revision - 1` to its
/// current revision.
async fn assert_new_outbox_rows(app: &TestApp, from: usize, expected: &[&str], what: &str) {
    let outbox = app.outbox().await;
    let new = &outbox[from..];
    let mut environments: Vec<&str> = new.iter().map(|r| r.message.environment.as_str()).collect();
    environments.sort_unstable();
    assert_eq!(
        environments, expected,
        "{what}: one outbox row per environment"
    );
    for row in new {
        let environment = row.message.environment.as_str();
        assert_eq!(
            row.message.revision,
            app.revision(environment).await,
            "{what}: the {environment} row carries its new revision"
        );
        assert_eq!(
            row.message.base_revision,
            row.message.revision - 1,
            "{what}: base_revision = revision - 1"
        );
        assert_eq!(row.message.changes.len(), 1, "{what}: one change");
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn definition_changes_bump_every_environment_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let start = committed(&app).await;
    create_checkout(&app, "checkout").await;
    let created = committed(&app).await;
    assert_eq!(
        created,
        Committed {
            development: start.development + 1,
            production: start.production + 1,
            outbox: start.outbox + 2
        },
        "create"
    );
    assert_new_outbox_rows(&app, start.outbox, &["development", "production"], "create").await;

    let (status, _) = app
        .json(
            Method::PATCH,
            &definition_path("checkout"),
            &json!({"description": "changed", "version": 1}),
        )
        .await;
    assert_eq!(status, 200);
    let patched = committed(&app).await;
    assert_eq!(
        patched,
        Committed {
            development: created.development + 1,
            production: created.production + 1,
            outbox: created.outbox + 2
        },
        "patch"
    );
    assert_new_outbox_rows(
        &app,
        created.outbox,
        &["development", "production"],
        "patch",
    )
    .await;

    let response = app
        .admin(Method::DELETE, &definition_path("checkout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        committed(&app).await,
        Committed {
            development: patched.development + 1,
            production: patched.production + 1,
            outbox: patched.outbox + 2
        },
        "delete"
    );
    assert_new_outbox_rows(
        &app,
        patched.outbox,
        &["development", "production"],
        "delete",
    )
    .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn config_change_bumps_only_its_environment(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    for (environment, version) in [("production", 1), ("development", 1), ("production", 2)] {
        let before = committed(&app).await;
        save_config(&app, environment, "checkout", checkout_config(version)).await;
        let after = committed(&app).await;
        let expected = if environment == "production" {
            Committed {
                production: before.production + 1,
                outbox: before.outbox + 1,
                ..before
            }
        } else {
            Committed {
                development: before.development + 1,
                outbox: before.outbox + 1,
                ..before
            }
        };
        assert_eq!(after, expected, "a {environment} config change");
        assert_new_outbox_rows(&app, before.outbox, &[environment], environment).await;
        let outbox = app.outbox().await;
        let change = serde_json::to_value(&outbox.last().unwrap().message.changes[0]).unwrap();
        assert_eq!(
            change["flag"]["config"]["version"],
            version + 1,
            "the message carries the saved configuration: {change}"
        );
    }
}

// ---------------------------------------------------------------------------
// Size limit
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn body_over_the_limit_is_413_payload_too_large(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_checkout(&app, "checkout").await;
    let before = committed(&app).await;
    let big = "x".repeat(BODY_LIMIT + 1);
    let result = app
        .json(
            Method::POST,
            DEFINITIONS,
            &json!({"key": "huge", "kind": "boolean", "description": big}),
        )
        .await;
    assert_error(&result, 413, "payload_too_large");
    let mut config = checkout_config(1);
    config["targets"] = json!([{"variation": "treatment", "values": [big]}]);
    let result = put_config(&app, "production", "checkout", &config).await;
    assert_error(&result, 413, "payload_too_large");
    assert_eq!(committed(&app).await, before, "nothing committed");
}
