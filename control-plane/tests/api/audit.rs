//! The audit log (`GET /api/admin/audit`): one entry per change with the
//! actor's key name, the action, the resource and its before/after states;
//! filters by flag, actor and time range; newest first; pagination by
//! `limit` and `before`.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{TestApp, assert_error, spawn_app};

/// An admin token the tests act as: its id and plaintext.
struct Actor {
    id: String,
    name: &'static str,
    key: String,
}

async fn actor(app: &TestApp, name: &'static str, role: &str) -> Actor {
    let (id, key) = app
        .create_key(json!({"name": name, "kind": "admin", "role": role}))
        .await;
    Actor { id, name, key }
}

/// Sends a write as `actor`, asserting a 2xx status; returns the body.
async fn write(
    app: &TestApp,
    actor: &Actor,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (status, response) = match &body {
        Some(body) => app.json_as(&actor.key, method.clone(), path, body).await,
        None => app.send_as(&actor.key, method.clone(), path).await,
    };
    assert!(
        (200..300).contains(&status),
        "{} {method} {path} {body:?}: {status} {response}",
        actor.name
    );
    response
}

/// The entries a query returns (one page).
async fn entries(app: &TestApp, query: &[(&str, &str)]) -> (Vec<Value>, Value) {
    let response = app
        .admin(Method::GET, "/api/admin/audit")
        .query(query)
        .send()
        .await
        .expect("request sent");
    let (status, page) = crate::helpers::read(response).await;
    assert_eq!(status, 200, "audit {query:?}: {page}");
    (
        page["items"].as_array().expect("items").clone(),
        page["next_before"].clone(),
    )
}

/// Every entry, newest first.
async fn all_entries(app: &TestApp) -> Vec<Value> {
    let (items, next) = entries(app, &[("limit", "500")]).await;
    assert!(next.is_null(), "fewer than 500 entries in these tests");
    items
}

fn ids(entries: &[Value]) -> Vec<i64> {
    entries
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect()
}

fn at(entry: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(entry["at"].as_str().expect("at"), &Rfc3339).expect("RFC 3339 at")
}

fn absent(value: Option<&Value>) -> bool {
    value.is_none_or(Value::is_null)
}

/// Checks the common fields of an entry.
#[track_caller]
fn assert_entry(
    entry: &Value,
    actor: &Actor,
    action: &str,
    resource: &str,
    resource_key: &str,
    environment: Option<&str>,
    flag: Option<&str>,
) {
    assert_eq!(entry["actor_name"], actor.name, "actor name: {entry}");
    assert_eq!(entry["actor_id"], actor.id.as_str(), "actor id: {entry}");
    assert_eq!(entry["action"], action, "action: {entry}");
    assert_eq!(entry["resource"], resource, "resource: {entry}");
    assert_eq!(entry["resource_key"], resource_key, "resource key: {entry}");
    assert_eq!(
        entry["environment"],
        environment.map_or(Value::Null, Value::from),
        "environment: {entry}"
    );
    assert_eq!(
        entry["flag_key"],
        flag.map_or(Value::Null, Value::from),
        "flag: {entry}"
    );
    match action.rsplit('.').next() {
        Some("created") => {
            assert!(
                absent(entry.get("before")),
                "no before on creation: {entry}"
            );
            assert!(entry["after"].is_object(), "after on creation: {entry}");
        }
        Some("deleted" | "revoked") => {
            assert!(entry["before"].is_object(), "before on deletion: {entry}");
            assert!(absent(entry.get("after")), "no after on deletion: {entry}");
        }
        _ => {
            assert!(entry["before"].is_object(), "before on change: {entry}");
            assert!(entry["after"].is_object(), "after on change: {entry}");
        }
    }
}

/// The entries made by `actor`, oldest first.
async fn by(app: &TestApp, actor: &Actor) -> Vec<Value> {
    let (mut items, _) = entries(app, &[("actor", actor.name), ("limit", "500")]).await;
    items.reverse();
    items
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn flag_definition_changes_are_audited(pool: PgPool) {
    let app = spawn_app(pool).await;
    let editor = actor(&app, "release-bot", "editor").await;
    write(
        &app,
        &editor,
        Method::POST,
        "/api/admin/flag-definitions",
        Some(json!({"key": "checkout", "kind": "boolean", "description": "v1"})),
    )
    .await;
    write(
        &app,
        &editor,
        Method::PATCH,
        "/api/admin/flag-definitions/checkout",
        Some(json!({"description": "v2", "version": 1})),
    )
    .await;
    write(
        &app,
        &editor,
        Method::DELETE,
        "/api/admin/flag-definitions/checkout",
        None,
    )
    .await;

    let entries = by(&app, &editor).await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    let key = Some("checkout");
    assert_entry(
        &entries[0],
        &editor,
        "flag.created",
        "flag",
        "checkout",
        None,
        key,
    );
    assert_eq!(entries[0]["after"]["key"], "checkout");
    assert_eq!(entries[0]["after"]["description"], "v1");
    assert_eq!(entries[0]["after"]["version"], 1);

    assert_entry(
        &entries[1],
        &editor,
        "flag.updated",
        "flag",
        "checkout",
        None,
        key,
    );
    assert_eq!(entries[1]["before"]["description"], "v1");
    assert_eq!(entries[1]["after"]["description"], "v2");
    assert_eq!(entries[1]["after"]["version"], 2);

    assert_entry(
        &entries[2],
        &editor,
        "flag.deleted",
        "flag",
        "checkout",
        None,
        key,
    );
    assert_eq!(entries[2]["before"]["description"], "v2");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn legacy_changes_are_audited(pool: PgPool) {
    let app = spawn_app(pool).await;
    let editor = actor(&app, "legacy-script", "editor").await;
    let created = write(
        &app,
        &editor,
        Method::POST,
        "/api/admin/flags",
        Some(json!({"key": "old-flag", "enabled": false})),
    )
    .await;
    let path = format!("/api/admin/flags/{}", created["id"].as_str().unwrap());
    write(
        &app,
        &editor,
        Method::PATCH,
        &format!("{path}/toggle"),
        None,
    )
    .await;
    write(
        &app,
        &editor,
        Method::PUT,
        &path,
        Some(json!({"rollout_percentage": 30})),
    )
    .await;
    write(
        &app,
        &editor,
        Method::PUT,
        &path,
        Some(json!({"description": "described"})),
    )
    .await;
    write(&app, &editor, Method::DELETE, &path, None).await;

    let entries = by(&app, &editor).await;
    assert_eq!(entries.len(), 5, "{entries:?}");
    let key = Some("old-flag");
    assert_entry(
        &entries[0],
        &editor,
        "flag.created",
        "flag",
        "old-flag",
        None,
        key,
    );

    let production = Some("production");
    assert_entry(
        &entries[1],
        &editor,
        "config.updated",
        "config",
        "old-flag",
        production,
        key,
    );
    assert_eq!(entries[1]["before"]["enabled"], false, "{}", entries[1]);
    assert_eq!(entries[1]["after"]["enabled"], true, "{}", entries[1]);

    assert_entry(
        &entries[2],
        &editor,
        "config.updated",
        "config",
        "old-flag",
        production,
        key,
    );
    assert_eq!(
        entries[2]["before"]["rollout_percentage"], 0,
        "{}",
        entries[2]
    );
    assert_eq!(
        entries[2]["after"]["rollout_percentage"], 30,
        "{}",
        entries[2]
    );

    assert_entry(
        &entries[3],
        &editor,
        "flag.updated",
        "flag",
        "old-flag",
        None,
        key,
    );
    assert_eq!(entries[3]["before"]["description"], "");
    assert_eq!(entries[3]["after"]["description"], "described");

    assert_entry(
        &entries[4],
        &editor,
        "flag.deleted",
        "flag",
        "old-flag",
        None,
        key,
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn full_configuration_updates_are_audited_per_environment(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (status, _) = app
        .json(
            Method::POST,
            "/api/admin/flag-definitions",
            &json!({"key": "checkout", "kind": "boolean"}),
        )
        .await;
    assert_eq!(status, 201);
    let editor = actor(&app, "release-bot", "editor").await;
    write(
        &app,
        &editor,
        Method::PUT,
        "/api/admin/environments/development/flags/checkout",
        Some(json!({
            "enabled": true,
            "off_variation": "false",
            "targets": [{"variation": "true", "values": ["user-1"]}],
            "default": {"variation": "false"},
            "version": 1,
        })),
    )
    .await;
    let entries = by(&app, &editor).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_entry(
        entry,
        &editor,
        "config.updated",
        "config",
        "checkout",
        Some("development"),
        Some("checkout"),
    );
    assert_eq!(entry["before"]["enabled"], false);
    assert_eq!(entry["before"]["version"], 1);
    assert_eq!(entry["after"]["enabled"], true);
    assert_eq!(entry["after"]["version"], 2);
    assert_eq!(
        entry["after"]["targets"],
        json!([{"variation": "true", "values": ["user-1"]}])
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn segment_changes_are_audited(pool: PgPool) {
    let app = spawn_app(pool).await;
    let editor = actor(&app, "segment-bot", "editor").await;
    let base = "/api/admin/environments/development/segments";
    write(
        &app,
        &editor,
        Method::POST,
        base,
        Some(json!({"key": "beta", "included": ["user-1"]})),
    )
    .await;
    write(
        &app,
        &editor,
        Method::PUT,
        &format!("{base}/beta"),
        Some(json!({"key": "beta", "included": ["user-1", "user-2"], "version": 1})),
    )
    .await;
    write(&app, &editor, Method::DELETE, &format!("{base}/beta"), None).await;

    let entries = by(&app, &editor).await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    let env = Some("development");
    assert_entry(
        &entries[0],
        &editor,
        "segment.created",
        "segment",
        "beta",
        env,
        None,
    );
    assert_eq!(entries[0]["after"]["included"], json!(["user-1"]));
    assert_entry(
        &entries[1],
        &editor,
        "segment.updated",
        "segment",
        "beta",
        env,
        None,
    );
    assert_eq!(entries[1]["before"]["included"], json!(["user-1"]));
    assert_eq!(entries[1]["after"]["included"], json!(["user-1", "user-2"]));
    assert_entry(
        &entries[2],
        &editor,
        "segment.deleted",
        "segment",
        "beta",
        env,
        None,
    );
    assert_eq!(
        entries[2]["before"]["included"],
        json!(["user-1", "user-2"])
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn environment_changes_are_audited(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = actor(&app, "ops-admin", "admin").await;
    write(
        &app,
        &admin,
        Method::POST,
        "/api/admin/environments",
        Some(json!({"key": "staging"})),
    )
    .await;
    write(
        &app,
        &admin,
        Method::PATCH,
        "/api/admin/environments/staging",
        Some(json!({"name": "Staging", "version": 1})),
    )
    .await;
    write(
        &app,
        &admin,
        Method::DELETE,
        "/api/admin/environments/staging",
        None,
    )
    .await;

    let entries = by(&app, &admin).await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    let env = Some("staging");
    assert_entry(
        &entries[0],
        &admin,
        "environment.created",
        "environment",
        "staging",
        env,
        None,
    );
    assert_eq!(
        entries[0]["after"]["name"], "staging",
        "the key is the default name"
    );
    assert_eq!(entries[0]["after"]["revision"], 1);
    assert_entry(
        &entries[1],
        &admin,
        "environment.updated",
        "environment",
        "staging",
        env,
        None,
    );
    assert_eq!(entries[1]["before"]["name"], "staging");
    assert_eq!(entries[1]["after"]["name"], "Staging");
    assert_entry(
        &entries[2],
        &admin,
        "environment.deleted",
        "environment",
        "staging",
        env,
        None,
    );
    assert_eq!(entries[2]["before"]["name"], "Staging");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn key_changes_are_audited(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = actor(&app, "ops-admin", "admin").await;
    let created = write(
        &app,
        &admin,
        Method::POST,
        "/api/admin/keys",
        Some(json!({"name": "backend", "kind": "server", "environment": "production"})),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let rotated = write(
        &app,
        &admin,
        Method::POST,
        &format!("/api/admin/keys/{id}/rotate"),
        Some(json!({"grace_seconds": 60})),
    )
    .await;
    let new_id = rotated["id"].as_str().unwrap();
    write(
        &app,
        &admin,
        Method::DELETE,
        &format!("/api/admin/keys/{new_id}"),
        None,
    )
    .await;
    let edge = write(
        &app,
        &admin,
        Method::POST,
        "/api/admin/keys",
        Some(json!({"name": "edge-eu", "kind": "edge"})),
    )
    .await;

    let entries = by(&app, &admin).await;
    assert_eq!(entries.len(), 4, "{entries:?}");
    let env = Some("production");
    assert_entry(&entries[0], &admin, "key.created", "key", id, env, None);
    assert_eq!(entries[0]["after"]["name"], "backend");
    assert_eq!(entries[0]["after"]["kind"], "server");
    assert_eq!(entries[0]["after"]["hint"], created["hint"]);
    assert_entry(&entries[1], &admin, "key.rotated", "key", id, env, None);
    assert_eq!(entries[1]["before"]["id"], id);
    assert_eq!(entries[1]["after"]["id"], new_id);
    assert_entry(&entries[2], &admin, "key.revoked", "key", new_id, env, None);
    assert_entry(
        &entries[3],
        &admin,
        "key.created",
        "key",
        edge["id"].as_str().unwrap(),
        None,
        None,
    );
    assert_eq!(entries[3]["after"]["kind"], "edge");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn the_flag_filter_returns_only_that_flags_entries(pool: PgPool) {
    let app = spawn_app(pool).await;
    for key in ["alpha", "beta"] {
        let (status, _) = app
            .json(
                Method::POST,
                "/api/admin/flag-definitions",
                &json!({"key": key, "kind": "boolean"}),
            )
            .await;
        assert_eq!(status, 201);
        let (status, _) = app
            .json(
                Method::PUT,
                &format!("/api/admin/environments/production/flags/{key}"),
                &json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"}, "version": 1}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let all = all_entries(&app).await;
    let (alpha, _) = entries(&app, &[("flag", "alpha")]).await;
    let expected: Vec<Value> = all
        .iter()
        .filter(|e| e["flag_key"] == "alpha")
        .cloned()
        .collect();
    assert_eq!(expected.len(), 2, "flag.created and config.updated");
    assert_eq!(alpha, expected, "only alpha's entries, newest first");
    let (none, _) = entries(&app, &[("flag", "gamma")]).await;
    assert!(none.is_empty(), "no entries for an unknown flag: {none:?}");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn the_actor_filter_returns_only_that_actors_entries(pool: PgPool) {
    let app = spawn_app(pool).await;
    let first = actor(&app, "first-bot", "editor").await;
    let second = actor(&app, "second-bot", "editor").await;
    for (who, key) in [(&first, "one"), (&second, "two"), (&first, "three")] {
        write(
            &app,
            who,
            Method::POST,
            "/api/admin/flag-definitions",
            Some(json!({"key": key, "kind": "boolean"})),
        )
        .await;
    }
    let (entries_of_first, _) = entries(&app, &[("actor", "first-bot")]).await;
    let keys: Vec<&str> = entries_of_first
        .iter()
        .map(|e| e["resource_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["three", "one"], "first-bot's changes, newest first");
    assert!(
        entries_of_first
            .iter()
            .all(|e| e["actor_name"] == "first-bot")
    );
    let (bootstrap, _) = entries(&app, &[("actor", "bootstrap")]).await;
    let actions: Vec<&str> = bootstrap
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["key.created", "key.created"],
        "the bootstrap key created the two tokens"
    );
    let (system, _) = entries(&app, &[("actor", "system")]).await;
    assert_eq!(system.len(), 2, "the default environments: {system:?}");
    let (nobody, _) = entries(&app, &[("actor", "nobody")]).await;
    assert!(nobody.is_empty());
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn since_and_until_bound_the_entries_by_time(pool: PgPool) {
    let app = spawn_app(pool).await;
    let editor = actor(&app, "time-bot", "editor").await;
    for key in ["t1", "t2", "t3", "t4", "t5"] {
        write(
            &app,
            &editor,
            Method::POST,
            "/api/admin/flag-definitions",
            Some(json!({"key": key, "kind": "boolean"})),
        )
        .await;
    }
    let mut all = all_entries(&app).await;
    all.reverse(); // oldest first
    assert!(all.len() >= 8, "{all:?}");
    let since_entry = &all[3];
    let until_entry = &all[6];
    let since = since_entry["at"].as_str().unwrap();
    let until = until_entry["at"].as_str().unwrap();
    let expect = |from: Option<OffsetDateTime>, to: Option<OffsetDateTime>| -> Vec<i64> {
        let mut selected: Vec<i64> = all
            .iter()
            .filter(|e| from.is_none_or(|f| at(e) >= f) && to.is_none_or(|t| at(e) < t))
            .map(|e| e["id"].as_i64().unwrap())
            .collect();
        selected.reverse(); // newest first
        selected
    };

    let (from, _) = entries(&app, &[("since", since)]).await;
    assert_eq!(
        ids(&from),
        expect(Some(at(since_entry)), None),
        "since {since}"
    );
    assert!(
        ids(&from).contains(&since_entry["id"].as_i64().unwrap()),
        "since is inclusive"
    );

    let (to, _) = entries(&app, &[("until", until)]).await;
    assert_eq!(
        ids(&to),
        expect(None, Some(at(until_entry))),
        "until {until}"
    );
    assert!(
        !ids(&to).contains(&until_entry["id"].as_i64().unwrap()),
        "until is exclusive"
    );

    let (window, _) = entries(&app, &[("since", since), ("until", until)]).await;
    let expected = expect(Some(at(since_entry)), Some(at(until_entry)));
    assert!(!expected.is_empty());
    assert_eq!(ids(&window), expected, "between {since} and {until}");

    // Other offsets name the same instants.
    let since_plus_two = at(since_entry)
        .to_offset(time::macros::offset!(+2))
        .format(&Rfc3339)
        .unwrap();
    let (shifted, _) = entries(&app, &[("since", &since_plus_two)]).await;
    assert_eq!(ids(&shifted), ids(&from), "since {since_plus_two}");

    let (combined, _) = entries(&app, &[("since", since), ("actor", "bootstrap")]).await;
    assert!(
        combined.is_empty(),
        "the bootstrap key made nothing after {since}: {combined:?}"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_malformed_time_filter_is_a_json_400(pool: PgPool) {
    let app = spawn_app(pool).await;
    for query in [
        "since=yesterday",
        "until=2026-13-01T00:00:00Z",
        "before=last",
    ] {
        let (status, body) = app.get(&format!("/api/admin/audit?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_error(&(status, body), 400, "invalid_request");
    }
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn pages_follow_next_before_newest_first_covering_every_entry_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let editor = actor(&app, "page-bot", "editor").await;
    for key in ["p1", "p2", "p3", "p4", "p5", "p6"] {
        write(
            &app,
            &editor,
            Method::POST,
            "/api/admin/flag-definitions",
            Some(json!({"key": key, "kind": "boolean"})),
        )
        .await;
    }
    let all = all_entries(&app).await;
    let all_ids = ids(&all);
    assert_eq!(
        all_ids.len(),
        9,
        "2 environments, 1 token, 6 flags: {all:?}"
    );
    assert!(
        all_ids.windows(2).all(|w| w[0] > w[1]),
        "newest first: {all_ids:?}"
    );
    assert_eq!(all[0]["resource_key"], "p6", "the newest entry comes first");

    for limit in [1usize, 2, 4, 9, 10] {
        let mut seen = Vec::new();
        let mut before: Option<i64> = None;
        for _ in 0..=all_ids.len() {
            let limit_text = limit.to_string();
            let before_text = before.map(|b| b.to_string());
            let mut query = vec![("limit", limit_text.as_str())];
            if let Some(b) = &before_text {
                query.push(("before", b.as_str()));
            }
            let (page, next) = entries(&app, &query).await;
            assert!(page.len() <= limit, "limit {limit}: {page:?}");
            seen.extend(ids(&page));
            if page.len() < limit {
                assert!(next.is_null(), "a short page is the last: {next}");
            }
            match next.as_i64() {
                Some(next) => {
                    assert_eq!(
                        Some(&next),
                        seen.last(),
                        "next_before is the page's last id"
                    );
                    before = Some(next);
                }
                None => break,
            }
        }
        assert_eq!(
            seen, all_ids,
            "limit {limit}: every entry exactly once, in order"
        );
    }

    // Pagination within a filter.
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut query = vec![("actor", "page-bot"), ("limit", "4")];
        if let Some(b) = &before {
            query.push(("before", b.as_str()));
        }
        let (page, next) = entries(&app, &query).await;
        seen.extend(ids(&page));
        match next.as_i64() {
            Some(next) => before = Some(next.to_string()),
            None => break,
        }
    }
    let expected: Vec<i64> = all
        .iter()
        .filter(|e| e["actor_name"] == "page-bot")
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, expected, "page-bot's six entries across two pages");
}
