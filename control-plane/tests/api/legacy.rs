//! The legacy admin routes (`/api/admin/flags[/{id}[/toggle]]`): the old
//! shapes, statuses, error bodies and leniency, acting on `production`, and
//! blind to flags the legacy shape cannot represent.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::helpers::{ADMIN_KEY, BODY_LIMIT, TestApp, assert_error, read, spawn_app};

const FLAGS: &str = "/api/admin/flags";

/// The exact field set of a legacy flag.
const LEGACY_FIELDS: [&str; 8] = [
    "created_at",
    "description",
    "enabled",
    "id",
    "key",
    "rollout_percentage",
    "targeted_users",
    "updated_at",
];

fn flag_path(id: &str) -> String {
    format!("{FLAGS}/{id}")
}

fn toggle_path(id: &str) -> String {
    format!("{FLAGS}/{id}/toggle")
}

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, got {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn rfc3339(value: &Value) -> OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, got {value}"));
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}

/// Asserts `flag` has exactly the legacy fields, of the legacy types.
#[track_caller]
fn assert_legacy_shape(flag: &Value) {
    assert_eq!(sorted_keys(flag), LEGACY_FIELDS, "legacy fields of {flag}");
    let id = flag["id"].as_str().expect("id is a string");
    Uuid::parse_str(id).unwrap_or_else(|e| panic!("id {id:?} is not a UUID: {e}"));
    assert!(flag["key"].is_string(), "key in {flag}");
    assert!(flag["description"].is_string(), "description in {flag}");
    assert!(flag["enabled"].is_boolean(), "enabled in {flag}");
    assert!(
        flag["rollout_percentage"].is_u64(),
        "rollout_percentage is an integer in {flag}"
    );
    assert!(
        flag["targeted_users"]
            .as_array()
            .is_some_and(|users| users.iter().all(Value::is_string)),
        "targeted_users is a list of strings in {flag}"
    );
    let created = rfc3339(&flag["created_at"]);
    let updated = rfc3339(&flag["updated_at"]);
    assert!(created <= updated, "created_at <= updated_at in {flag}");
}

/// Asserts a legacy error: status, code, a message, and no other field.
#[track_caller]
fn assert_legacy_error(result: &(u16, Value), status: u16, code: &str) {
    assert_error(result, status, code);
    assert_eq!(
        sorted_keys(&result.1),
        ["error", "message"],
        "a legacy error body is exactly {{error, message}}: {}",
        result.1
    );
}

/// Creates a legacy flag and returns its body.
async fn create(app: &TestApp, body: Value) -> Value {
    let (status, created) = app.json(Method::POST, FLAGS, &body).await;
    assert_eq!(status, 201, "legacy create {body}: {created}");
    created
}

async fn create_id(app: &TestApp, body: Value) -> String {
    create(app, body).await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// Sends `body` as text with no Content-Type header.
async fn send_raw(app: &TestApp, method: Method, path: &str, body: &str) -> (u16, Value) {
    read(
        app.admin(method, path)
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

async fn send_empty(app: &TestApp, method: Method, path: &str) -> (u16, Value) {
    read(app.admin(method, path).send().await.expect("request sent")).await
}

async fn environment_flag(app: &TestApp, environment: &str, key: &str) -> Value {
    let (status, body) = app
        .get(&format!(
            "/api/admin/environments/{environment}/flags/{key}"
        ))
        .await;
    assert_eq!(status, 200, "{environment}/{key}: {body}");
    body
}

/// A full-model boolean flag (not legacy-representable: its default serves
/// a variation, not a v1 rollout).
async fn create_full_model_flag(app: &TestApp, key: &str) -> String {
    let (status, created) = app
        .json(
            Method::POST,
            "/api/admin/flag-definitions",
            &json!({"key": key, "kind": "boolean"}),
        )
        .await;
    assert_eq!(status, 201, "full-model create: {created}");
    created["id"].as_str().expect("id").to_owned()
}

fn keys_of(list: &Value) -> Vec<&str> {
    list["flags"]
        .as_array()
        .unwrap_or_else(|| panic!("a flags array in {list}"))
        .iter()
        .map(|f| f["key"].as_str().expect("key"))
        .collect()
}

// ---------------------------------------------------------------------------
// Round-trips and shapes
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn create_returns_201_with_exactly_the_legacy_fields(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create(
        &app,
        json!({
            "key": "new-checkout-flow",
            "description": "new checkout",
            "enabled": true,
            "rollout_percentage": 37,
            "targeted_users": ["u1", "u2"]
        }),
    )
    .await;
    assert_legacy_shape(&created);
    assert_eq!(created["key"], "new-checkout-flow");
    assert_eq!(created["description"], "new checkout");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["rollout_percentage"], 37);
    assert_eq!(created["targeted_users"], json!(["u1", "u2"]));
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn create_with_only_a_key_uses_the_legacy_defaults(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create(&app, json!({"key": "bare"})).await;
    assert_legacy_shape(&created);
    assert_eq!(created["description"], "", "default description");
    assert_eq!(created["enabled"], false, "default enabled");
    assert_eq!(created["rollout_percentage"], 0, "default rollout");
    assert_eq!(created["targeted_users"], json!([]), "default targets");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn list_returns_the_flags_under_a_flags_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (status, empty) = app.get(FLAGS).await;
    assert_eq!(status, 200);
    assert_eq!(empty, json!({"flags": []}), "an empty legacy list");

    let first = create(&app, json!({"key": "alpha", "enabled": true})).await;
    let second = create(&app, json!({"key": "beta", "rollout_percentage": 10})).await;
    let (status, list) = app.get(FLAGS).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(sorted_keys(&list), ["flags"], "only a flags field: {list}");
    let flags = list["flags"].as_array().expect("flags array");
    assert_eq!(flags.len(), 2, "{list}");
    for flag in flags {
        assert_legacy_shape(flag);
    }
    let alpha = flags.iter().find(|f| f["key"] == "alpha").expect("alpha");
    let beta = flags.iter().find(|f| f["key"] == "beta").expect("beta");
    assert_eq!(alpha, &first, "the list shows what create returned");
    assert_eq!(beta, &second, "the list shows what create returned");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn get_by_id_returns_the_flag(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create(
        &app,
        json!({"key": "read-me", "description": "d", "enabled": true, "rollout_percentage": 50,
               "targeted_users": ["x"]}),
    )
    .await;
    let (status, read_back) = app.get(&flag_path(created["id"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{read_back}");
    assert_legacy_shape(&read_back);
    assert_eq!(read_back, created, "GET returns what create returned");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn put_with_only_enabled_keeps_every_other_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create(
        &app,
        json!({"key": "partial", "description": "keep me", "enabled": false,
               "rollout_percentage": 25, "targeted_users": ["alice", "bob"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();

    let (status, updated) = app
        .json(Method::PUT, &flag_path(id), &json!({"enabled": true}))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_legacy_shape(&updated);
    assert_eq!(updated["enabled"], true, "enabled changed");
    for field in [
        "id",
        "key",
        "description",
        "rollout_percentage",
        "targeted_users",
    ] {
        assert_eq!(updated[field], created[field], "{field} unchanged");
    }
    assert_eq!(
        updated["created_at"], created["created_at"],
        "created_at kept"
    );
    assert!(
        rfc3339(&updated["updated_at"]) >= rfc3339(&created["updated_at"]),
        "updated_at does not go back"
    );
    let (_, read_back) = app.get(&flag_path(id)).await;
    assert_eq!(read_back, updated, "the update is stored");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn put_changes_exactly_the_fields_sent(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create(
        &app,
        json!({"key": "several", "description": "old", "enabled": true,
               "rollout_percentage": 10, "targeted_users": ["a"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();

    let (status, updated) = app
        .json(
            Method::PUT,
            &flag_path(id),
            &json!({"description": "new", "rollout_percentage": 90, "targeted_users": ["b", "c"]}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_legacy_shape(&updated);
    assert_eq!(updated["description"], "new");
    assert_eq!(updated["rollout_percentage"], 90);
    assert_eq!(updated["targeted_users"], json!(["b", "c"]));
    assert_eq!(updated["enabled"], true, "enabled not sent, so unchanged");
    assert_eq!(updated["key"], "several", "key not sent, so unchanged");

    let (status, emptied) = app
        .json(Method::PUT, &flag_path(id), &json!({"targeted_users": []}))
        .await;
    assert_eq!(status, 200, "{emptied}");
    assert_eq!(
        emptied["targeted_users"],
        json!([]),
        "targets can be emptied"
    );
    assert_eq!(emptied["rollout_percentage"], 90, "rollout unchanged");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn put_can_rename_the_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = create_id(&app, json!({"key": "old-name", "enabled": true})).await;
    let (status, renamed) = app
        .json(Method::PUT, &flag_path(&id), &json!({"key": "new-name"}))
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["key"], "new-name");
    assert_eq!(renamed["id"], id.as_str(), "the id stays");
    assert_eq!(renamed["enabled"], true);
    assert_eq!(keys_of(&app.get(FLAGS).await.1), ["new-name"]);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn toggle_flips_enabled(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create(
        &app,
        json!({"key": "flip", "enabled": false, "rollout_percentage": 40, "targeted_users": ["u"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();

    let on = send_empty(&app, Method::PATCH, &toggle_path(id)).await;
    assert_eq!(on.0, 200, "{}", on.1);
    assert_legacy_shape(&on.1);
    assert_eq!(on.1["enabled"], true, "first toggle turns it on");
    assert_eq!(on.1["rollout_percentage"], 40, "toggle keeps the rollout");
    assert_eq!(on.1["targeted_users"], json!(["u"]), "toggle keeps targets");

    let off = send_empty(&app, Method::PATCH, &toggle_path(id)).await;
    assert_eq!(off.0, 200, "{}", off.1);
    assert_eq!(off.1["enabled"], false, "second toggle turns it off");
    assert_eq!(app.get(&flag_path(id)).await.1["enabled"], false);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn delete_returns_204_and_the_flag_is_gone(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = create_id(&app, json!({"key": "doomed"})).await;
    let response = app
        .admin(Method::DELETE, &flag_path(&id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.text().await.unwrap().is_empty(), "204 has no body");
    assert_legacy_error(&app.get(&flag_path(&id)).await, 404, "not_found");
    assert_eq!(app.get(FLAGS).await.1, json!({"flags": []}));
    assert_legacy_error(
        &send_empty(&app, Method::DELETE, &flag_path(&id)).await,
        404,
        "not_found",
    );
}

// ---------------------------------------------------------------------------
// Statuses and error bodies
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn create_without_a_key_is_400_validation_error(pool: PgPool) {
    let app = spawn_app(pool).await;
    let result = app
        .json(
            Method::POST,
            FLAGS,
            &json!({"description": "no key", "enabled": true}),
        )
        .await;
    assert_legacy_error(&result, 400, "validation_error");
    assert!(
        result.1["message"].as_str().unwrap().contains("key"),
        "the message names the field: {}",
        result.1
    );
    assert_eq!(
        app.get(FLAGS).await.1,
        json!({"flags": []}),
        "nothing created"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn create_with_an_invalid_key_is_400_validation_error(pool: PgPool) {
    let app = spawn_app(pool).await;
    let result = app
        .json(Method::POST, FLAGS, &json!({"key": "has spaces!"}))
        .await;
    assert_legacy_error(&result, 400, "validation_error");
    assert!(
        result.1["message"].as_str().unwrap().contains("key"),
        "the message names the field: {}",
        result.1
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn rollout_percentage_out_of_range_is_400_validation_error_naming_the_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    for percent in [101, -1, 1000] {
        let result = app
            .json(
                Method::POST,
                FLAGS,
                &json!({"key": "pct", "rollout_percentage": percent}),
            )
            .await;
        assert_legacy_error(&result, 400, "validation_error");
        assert!(
            result.1["message"]
                .as_str()
                .unwrap()
                .contains("rollout_percentage"),
            "create with {percent}: the message names the field: {}",
            result.1
        );
    }
    assert_eq!(
        app.get(FLAGS).await.1,
        json!({"flags": []}),
        "nothing created"
    );

    let created = create(&app, json!({"key": "pct", "rollout_percentage": 20})).await;
    let id = created["id"].as_str().unwrap();
    for percent in [101, -1] {
        let result = app
            .json(
                Method::PUT,
                &flag_path(id),
                &json!({"rollout_percentage": percent}),
            )
            .await;
        assert_legacy_error(&result, 400, "validation_error");
        assert!(
            result.1["message"]
                .as_str()
                .unwrap()
                .contains("rollout_percentage"),
            "update with {percent}: the message names the field: {}",
            result.1
        );
    }
    assert_eq!(app.get(&flag_path(id)).await.1, created, "nothing changed");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn boundary_percentages_are_accepted(pool: PgPool) {
    let app = spawn_app(pool).await;
    let zero = create(&app, json!({"key": "zero", "rollout_percentage": 0})).await;
    assert_eq!(zero["rollout_percentage"], 0);
    let hundred = create(&app, json!({"key": "hundred", "rollout_percentage": 100})).await;
    assert_eq!(hundred["rollout_percentage"], 100);
}

const MALFORMED: [&str; 4] = ["not json at all", "", "{", r#"{"key": "broken","#];

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn malformed_json_is_400_invalid_request(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = create_id(&app, json!({"key": "target"})).await;
    for body in MALFORMED {
        let result = send_raw(&app, Method::POST, FLAGS, body).await;
        assert_error(&result, 400, "invalid_request");
        let result = send_raw(&app, Method::PUT, &flag_path(&id), body).await;
        assert_error(&result, 400, "invalid_request");
    }
    assert_eq!(
        keys_of(&app.get(FLAGS).await.1),
        ["target"],
        "nothing else created"
    );
}

/// A JSON document followed by anything but whitespace is not JSON.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn trailing_characters_after_the_json_are_400_invalid_request(pool: PgPool) {
    let app = spawn_app(pool).await;
    let result = send_raw(&app, Method::POST, FLAGS, r#"{"key": "trailing"} x"#).await;
    assert_legacy_error(&result, 400, "invalid_request");
    let result = send_raw(
        &app,
        Method::POST,
        FLAGS,
        r#"{"key": "twice"}{"key": "again"}"#,
    )
    .await;
    assert_legacy_error(&result, 400, "invalid_request");
    assert_eq!(
        app.get(FLAGS).await.1,
        json!({"flags": []}),
        "nothing created"
    );
}

/// The legacy error body is exactly `{error, message}` for malformed JSON
/// too (no `path`, and certainly not the placeholder `"?"`).
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn malformed_json_error_body_is_exactly_error_and_message(pool: PgPool) {
    let app = spawn_app(pool).await;
    for body in MALFORMED {
        let result = send_raw(&app, Method::POST, FLAGS, body).await;
        assert_legacy_error(&result, 400, "invalid_request");
    }
}

/// A field of the wrong JSON type is `invalid_request` too, and the legacy
/// error body stays exactly `{error, message}` (no `path`).
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn wrongly_typed_field_is_invalid_request_with_only_error_and_message(pool: PgPool) {
    let app = spawn_app(pool).await;
    let result = app
        .json(
            Method::POST,
            FLAGS,
            &json!({"key": "typed", "enabled": "yes"}),
        )
        .await;
    assert_error(&result, 400, "invalid_request");
    assert!(
        result.1["message"].as_str().unwrap().contains("enabled"),
        "the message names the field: {}",
        result.1
    );
    assert_legacy_error(&result, 400, "invalid_request");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn duplicate_key_is_409_duplicate_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    let first = create(&app, json!({"key": "taken", "description": "first"})).await;
    let result = app
        .json(
            Method::POST,
            FLAGS,
            &json!({"key": "taken", "description": "second"}),
        )
        .await;
    assert_legacy_error(&result, 409, "duplicate_key");
    assert_eq!(
        app.get(FLAGS).await.1,
        json!({"flags": [first]}),
        "the first flag is untouched"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn renaming_onto_a_taken_key_is_409_duplicate_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    create(&app, json!({"key": "one"})).await;
    let two = create(&app, json!({"key": "two"})).await;
    let result = app
        .json(
            Method::PUT,
            &flag_path(two["id"].as_str().unwrap()),
            &json!({"key": "one"}),
        )
        .await;
    assert_legacy_error(&result, 409, "duplicate_key");
    assert_eq!(
        app.get(&flag_path(two["id"].as_str().unwrap())).await.1,
        two
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn unknown_id_is_404_not_found_on_every_route(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = Uuid::new_v4().to_string();
    assert_legacy_error(&app.get(&flag_path(&id)).await, 404, "not_found");
    assert_legacy_error(
        &app.json(Method::PUT, &flag_path(&id), &json!({"enabled": true}))
            .await,
        404,
        "not_found",
    );
    assert_legacy_error(
        &send_empty(&app, Method::PATCH, &toggle_path(&id)).await,
        404,
        "not_found",
    );
    assert_legacy_error(
        &send_empty(&app, Method::DELETE, &flag_path(&id)).await,
        404,
        "not_found",
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn non_uuid_id_is_404_not_found_on_every_route(pool: PgPool) {
    let app = spawn_app(pool).await;
    create(&app, json!({"key": "not-an-id"})).await;
    for id in ["not-an-id", "123", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"] {
        assert_legacy_error(&app.get(&flag_path(id)).await, 404, "not_found");
        assert_legacy_error(
            &app.json(Method::PUT, &flag_path(id), &json!({"enabled": true}))
                .await,
            404,
            "not_found",
        );
        assert_legacy_error(
            &send_empty(&app, Method::PATCH, &toggle_path(id)).await,
            404,
            "not_found",
        );
        assert_legacy_error(
            &send_empty(&app, Method::DELETE, &flag_path(id)).await,
            404,
            "not_found",
        );
    }
    assert_eq!(
        app.get(FLAGS).await.1["flags"][0]["enabled"],
        false,
        "no route acted on the flag"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn payload_too_large_is_413_json(pool: PgPool) {
    let app = spawn_app(pool).await;
    let body = json!({"key": "huge", "description": "x".repeat(BODY_LIMIT + 1)});
    let result = app.json(Method::POST, FLAGS, &body).await;
    assert_legacy_error(&result, 413, "payload_too_large");
    assert_eq!(
        app.get(FLAGS).await.1,
        json!({"flags": []}),
        "nothing created"
    );
}

// ---------------------------------------------------------------------------
// Leniency and authentication
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn unknown_fields_are_ignored(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = create(
        &app,
        json!({"key": "lenient", "enabled": true, "colour": "red", "owner": {"team": "x"},
               "id": "ignored-too", "created_at": "yesterday"}),
    )
    .await;
    assert_legacy_shape(&created);
    assert_eq!(created["enabled"], true);
    let id = created["id"].as_str().unwrap();
    let (status, updated) = app
        .json(
            Method::PUT,
            &flag_path(id),
            &json!({"rollout_percentage": 5, "whatever": [1, 2, 3]}),
        )
        .await;
    assert_eq!(status, 200, "unknown fields ignored on update: {updated}");
    assert_eq!(updated["rollout_percentage"], 5);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_body_without_content_type_is_accepted(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (status, created) = send_raw(
        &app,
        Method::POST,
        FLAGS,
        r#"{"key": "no-content-type", "enabled": true, "rollout_percentage": 15}"#,
    )
    .await;
    assert_eq!(status, 201, "create without Content-Type: {created}");
    assert_legacy_shape(&created);
    assert_eq!(created["rollout_percentage"], 15);

    let id = created["id"].as_str().unwrap();
    let (status, updated) = send_raw(
        &app,
        Method::PUT,
        &flag_path(id),
        r#"{"description": "raw"}"#,
    )
    .await;
    assert_eq!(status, 200, "update without Content-Type: {updated}");
    assert_eq!(updated["description"], "raw");

    let (status, other) = read(
        app.admin(Method::POST, FLAGS)
            .header("Content-Type", "text/plain")
            .body(r#"{"key": "text-plain"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "create with text/plain: {other}");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn bearer_authorization_is_accepted(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (status, created) = read(
        app.client
            .post(app.url(FLAGS))
            .header("Authorization", format!("Bearer {ADMIN_KEY}"))
            .json(&json!({"key": "bearer"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "create with Bearer: {created}");
    let (status, list) = read(
        app.client
            .get(app.url(FLAGS))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "list with Bearer: {list}");
    assert_eq!(keys_of(&list), ["bearer"]);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn missing_or_unknown_key_is_401_unauthorized(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = create_id(&app, json!({"key": "guarded"})).await;
    let anonymous = [
        (Method::GET, FLAGS.to_owned()),
        (Method::POST, FLAGS.to_owned()),
        (Method::GET, flag_path(&id)),
        (Method::PUT, flag_path(&id)),
        (Method::DELETE, flag_path(&id)),
        (Method::PATCH, toggle_path(&id)),
    ];
    for (method, path) in anonymous {
        let result = read(
            app.client
                .request(method.clone(), app.url(&path))
                .json(&json!({"key": "sneaky", "enabled": true}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_legacy_error(&result, 401, "unauthorized");
        let wrong = read(
            app.request_as("not-a-real-key", method.clone(), &path)
                .json(&json!({"key": "sneaky", "enabled": true}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_legacy_error(&wrong, 401, "unauthorized");
    }
    let (_, list) = app.get(FLAGS).await;
    assert_eq!(keys_of(&list), ["guarded"], "nothing changed: {list}");
    assert_eq!(list["flags"][0]["enabled"], false, "nothing changed");
}

// ---------------------------------------------------------------------------
// Flags the legacy shape cannot represent
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn full_model_flag_is_invisible_to_legacy_routes(pool: PgPool) {
    let app = spawn_app(pool).await;
    create(&app, json!({"key": "legacy-one"})).await;
    let id = create_full_model_flag(&app, "modern").await;

    assert_eq!(
        keys_of(&app.get(FLAGS).await.1),
        ["legacy-one"],
        "the full-model flag is left out of the list"
    );
    assert_legacy_error(&app.get(&flag_path(&id)).await, 404, "not_found");
    assert_legacy_error(
        &app.json(Method::PUT, &flag_path(&id), &json!({"enabled": true}))
            .await,
        409,
        "not_legacy_representable",
    );
    assert_legacy_error(
        &send_empty(&app, Method::PATCH, &toggle_path(&id)).await,
        409,
        "not_legacy_representable",
    );
    assert_legacy_error(
        &send_empty(&app, Method::DELETE, &flag_path(&id)).await,
        409,
        "not_legacy_representable",
    );
    let (status, still) = app.get("/api/admin/flag-definitions/modern").await;
    assert_eq!(status, 200, "the full-model flag survives: {still}");
    assert_eq!(still["environments"]["production"]["enabled"], false);
    assert_eq!(still["environments"]["production"]["version"], 1);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn legacy_flag_given_a_rule_becomes_invisible_and_refuses_writes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = create_id(
        &app,
        json!({"key": "grows-up", "enabled": true, "rollout_percentage": 30}),
    )
    .await;
    let production = environment_flag(&app, "production", "grows-up").await;
    assert_eq!(production["legacy_representable"], true, "{production}");
    let mut config = production["config"].clone();
    config["rules"] = json!([{
        "clauses": [{"attribute": "country", "operator": "in", "values": ["DE"]}],
        "serve": {"variation": "true"}
    }]);
    let (status, saved) = app
        .json(
            Method::PUT,
            "/api/admin/environments/production/flags/grows-up",
            &config,
        )
        .await;
    assert_eq!(status, 200, "adding a rule: {saved}");
    assert_eq!(saved["legacy_representable"], false, "{saved}");

    assert_eq!(app.get(FLAGS).await.1, json!({"flags": []}), "left out");
    assert_legacy_error(&app.get(&flag_path(&id)).await, 404, "not_found");
    let revision = app.revision("production").await;
    assert_legacy_error(
        &app.json(
            Method::PUT,
            &flag_path(&id),
            &json!({"rollout_percentage": 50}),
        )
        .await,
        409,
        "not_legacy_representable",
    );
    assert_legacy_error(
        &send_empty(&app, Method::PATCH, &toggle_path(&id)).await,
        409,
        "not_legacy_representable",
    );
    assert_legacy_error(
        &send_empty(&app, Method::DELETE, &flag_path(&id)).await,
        409,
        "not_legacy_representable",
    );
    assert_eq!(
        app.revision("production").await,
        revision,
        "nothing committed"
    );
    let after = environment_flag(&app, "production", "grows-up").await;
    assert_eq!(
        after["config"], saved["config"],
        "the rule and config remain"
    );
}

// ---------------------------------------------------------------------------
// Legacy writes act on production
// ---------------------------------------------------------------------------

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn create_configures_production_and_disables_other_environments(pool: PgPool) {
    let app = spawn_app(pool).await;
    create(
        &app,
        json!({"key": "prod-only", "description": "d", "enabled": true,
               "rollout_percentage": 37, "targeted_users": ["u1", "u2"]}),
    )
    .await;

    let production = environment_flag(&app, "production", "prod-only").await;
    assert_eq!(production["legacy_representable"], true, "{production}");
    assert_eq!(
        production["flag"]["variations"],
        json!([{"key": "true", "value": true}, {"key": "false", "value": false}])
    );
    assert_eq!(production["flag"]["kind"], "boolean");
    assert_eq!(production["flag"]["description"], "d");
    let config = &production["config"];
    assert_eq!(config["enabled"], true, "{config}");
    assert_eq!(config["off_variation"], "false");
    assert_eq!(
        config["targets"],
        json!([{"variation": "true", "values": ["u1", "u2"]}])
    );
    assert_eq!(config["rules"], json!([]));
    assert_eq!(config["prerequisites"], json!([]));
    assert_eq!(
        config["default"],
        json!({"rollout": {"bucketing": "v1", "weights": [
            {"variation": "true", "weight": 37},
            {"variation": "false", "weight": 63}
        ]}}),
        "production has the legacy v1 rollout"
    );

    let development = environment_flag(&app, "development", "prod-only").await;
    assert_eq!(
        development["config"]["enabled"], false,
        "other environments get it disabled: {development}"
    );
    assert_eq!(development["config"]["off_variation"], "false");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn updates_and_toggles_change_only_production(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = create_id(&app, json!({"key": "scoped", "enabled": false})).await;
    let development = environment_flag(&app, "development", "scoped").await;

    app.json(
        Method::PUT,
        &flag_path(&id),
        &json!({"enabled": true, "rollout_percentage": 80, "targeted_users": ["z"]}),
    )
    .await;
    let production = environment_flag(&app, "production", "scoped").await;
    assert_eq!(production["config"]["enabled"], true);
    assert_eq!(
        production["config"]["default"]["rollout"]["weights"],
        json!([{"variation": "true", "weight": 80}, {"variation": "false", "weight": 20}])
    );
    assert_eq!(
        production["config"]["targets"],
        json!([{"variation": "true", "values": ["z"]}])
    );
    assert_eq!(
        environment_flag(&app, "development", "scoped").await,
        development,
        "development untouched by a legacy update"
    );
    send_empty(&app, Method::PATCH, &toggle_path(&id)).await;
    assert_eq!(
        environment_flag(&app, "production", "scoped").await["config"]["enabled"],
        false
    );
    assert_eq!(
        environment_flag(&app, "development", "scoped").await,
        development,
        "development untouched by a toggle"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn each_legacy_write_bumps_revisions_and_writes_outbox_rows(pool: PgPool) {
    let app = spawn_app(pool).await;

    /// Revisions of (development, production) and the outbox length.
    async fn snapshot(app: &TestApp) -> (u64, u64, usize) {
        (
            app.revision("development").await,
            app.revision("production").await,
            app.outbox().await.len(),
        )
    }

    /// Asserts the rows after `from` are one per environment in `expected`,
    /// each producing that environment's current revision from the previous.
    async fn assert_new_rows(app: &TestApp, from: usize, expected: &[&str], what: &str) {
        let outbox = app.outbox().await;
        let new = &outbox[from..];
        let mut environments: Vec<&str> =
            new.iter().map(|r| r.message.environment.as_str()).collect();
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
                "{what}: the row carries {environment}'s new revision"
            );
            assert_eq!(
                row.message.base_revision + 1,
                row.message.revision,
                "{what}: base_revision = revision - 1"
            );
        }
    }

    let (dev, prod, rows) = snapshot(&app).await;
    let id = create_id(&app, json!({"key": "counted"})).await;
    assert_eq!(
        snapshot(&app).await,
        (dev + 1, prod + 1, rows + 2),
        "create is a definition change: every environment"
    );
    assert_new_rows(&app, rows, &["development", "production"], "create").await;

    let (dev, prod, rows) = snapshot(&app).await;
    let (status, _) = app
        .json(
            Method::PUT,
            &flag_path(&id),
            &json!({"rollout_percentage": 60}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        snapshot(&app).await,
        (dev, prod + 1, rows + 1),
        "a config-only update bumps production only"
    );
    assert_new_rows(&app, rows, &["production"], "update").await;

    let (dev, prod, rows) = snapshot(&app).await;
    assert_eq!(
        send_empty(&app, Method::PATCH, &toggle_path(&id)).await.0,
        200
    );
    assert_eq!(
        snapshot(&app).await,
        (dev, prod + 1, rows + 1),
        "toggle bumps production only"
    );
    assert_new_rows(&app, rows, &["production"], "toggle").await;

    let (dev, prod, rows) = snapshot(&app).await;
    let (status, _) = app
        .json(
            Method::PUT,
            &flag_path(&id),
            &json!({"description": "now described"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        snapshot(&app).await,
        (dev + 1, prod + 1, rows + 2),
        "a description change is a definition change: every environment"
    );
    assert_new_rows(&app, rows, &["development", "production"], "description").await;

    let (dev, prod, rows) = snapshot(&app).await;
    assert_eq!(
        send_empty(&app, Method::DELETE, &flag_path(&id)).await.0,
        204
    );
    assert_eq!(
        snapshot(&app).await,
        (dev + 1, prod + 1, rows + 2),
        "delete removes the flag everywhere"
    );
    assert_new_rows(&app, rows, &["development", "production"], "delete").await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn rejected_legacy_writes_change_no_revision(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = create_id(&app, json!({"key": "stable"})).await;
    let before = (
        app.revision("development").await,
        app.revision("production").await,
        app.outbox().await.len(),
    );
    app.json(Method::POST, FLAGS, &json!({"key": "stable"}))
        .await;
    app.json(Method::POST, FLAGS, &json!({"rollout_percentage": 5}))
        .await;
    app.json(
        Method::PUT,
        &flag_path(&id),
        &json!({"rollout_percentage": 101}),
    )
    .await;
    send_raw(&app, Method::PUT, &flag_path(&id), "{oops").await;
    let after = (
        app.revision("development").await,
        app.revision("production").await,
        app.outbox().await.len(),
    );
    assert_eq!(after, before, "rejections commit nothing");
}
