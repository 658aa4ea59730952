//! The events feed (`GET /api/admin/events`, SSE): committed changes in
//! commit order, one `change` event per change message with the outbox
//! position as its id, without key material; `Last-Event-ID` resumes
//! without gaps or duplicates. Every wait is bounded (`EVENT_DEADLINE`).

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{ADMIN_KEY, ChangeEvent, TestApp, assert_error, read, spawn_app};

async fn create_flag(app: &TestApp, key: &str) {
    let (status, body) = app
        .json(
            Method::POST,
            "/api/admin/flag-definitions",
            &json!({"key": key, "kind": "boolean"}),
        )
        .await;
    assert_eq!(status, 201, "creating {key}: {body}");
}

/// Replaces `key`'s configuration in `environment` (enabled or not).
async fn configure(app: &TestApp, environment: &str, key: &str, enabled: bool) {
    let path = format!("/api/admin/environments/{environment}/flags/{key}");
    let (status, current) = app.get(&path).await;
    assert_eq!(status, 200, "{path}: {current}");
    let (status, body) = app
        .json(
            Method::PUT,
            &path,
            &json!({
                "enabled": enabled,
                "off_variation": "false",
                "default": {"variation": "true"},
                "version": current["config"]["version"],
            }),
        )
        .await;
    assert_eq!(status, 200, "configuring {key} in {environment}: {body}");
}

fn change_types(event: &ChangeEvent) -> Vec<String> {
    event.message["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["type"].as_str().expect("type").to_owned())
        .collect()
}

fn summary(events: &[ChangeEvent]) -> Vec<(String, u64)> {
    events
        .iter()
        .map(|e| {
            (
                e.message["environment"].as_str().unwrap().to_owned(),
                e.message["revision"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The outbox rows after `after`, as the feed must show them: id and the
/// message without key changes.
async fn expected_after(app: &TestApp, after: i64) -> Vec<(i64, Value)> {
    app.outbox()
        .await
        .into_iter()
        .filter(|row| row.id > after)
        .map(|row| {
            (
                row.id,
                serde_json::to_value(row.message.without_keys()).expect("serializes"),
            )
        })
        .collect()
}

fn received(events: &[ChangeEvent]) -> Vec<(i64, Value)> {
    events.iter().map(|e| (e.id, e.message.clone())).collect()
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn changes_arrive_in_commit_order_with_increasing_revisions(pool: PgPool) {
    let app = spawn_app(pool).await;
    let head = app.outbox_head().await;
    let mut feed = app.events_as(ADMIN_KEY, None).await;
    create_flag(&app, "checkout").await;
    configure(&app, "development", "checkout", true).await;
    let (status, body) = app
        .json(
            Method::POST,
            "/api/admin/environments/production/segments",
            &json!({"key": "beta", "included": ["user-1"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    configure(&app, "production", "checkout", true).await;

    let events = feed.next_changes(5, "five change messages").await;
    assert_eq!(
        summary(&events),
        [
            ("development".to_owned(), 2),
            ("production".to_owned(), 2),
            ("development".to_owned(), 3),
            ("production".to_owned(), 3),
            ("production".to_owned(), 4),
        ],
        "the flag creation touches both environments, then one change each"
    );
    let types: Vec<Vec<String>> = events.iter().map(change_types).collect();
    assert_eq!(
        types,
        [
            vec!["flag_upserted"],
            vec!["flag_upserted"],
            vec!["flag_upserted"],
            vec!["segment_upserted"],
            vec!["flag_upserted"],
        ]
    );
    assert!(
        events.windows(2).all(|w| w[0].id < w[1].id),
        "event ids increase: {:?}",
        events.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    for event in &events {
        let revision = event.message["revision"].as_u64().unwrap();
        assert_eq!(
            event.message["base_revision"].as_u64(),
            Some(revision - 1),
            "each message follows the previous revision: {}",
            event.data
        );
    }
    let (_, environments) = app.get("/api/admin/environments").await;
    for environment in environments.as_array().unwrap() {
        for event in events
            .iter()
            .filter(|e| e.message["environment"] == environment["key"])
        {
            assert_eq!(
                event.message["epoch"], environment["epoch"],
                "{}",
                event.data
            );
        }
    }
    assert_eq!(
        received(&events),
        expected_after(&app, head).await,
        "the events are the outbox rows, ids and messages"
    );
    assert_eq!(
        events[4].message["changes"][0]["flag"]["config"]["enabled"],
        true
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_new_subscriber_starts_at_the_current_head(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_flag(&app, "earlier").await;
    let mut feed = app.events_as(ADMIN_KEY, None).await;
    configure(&app, "production", "earlier", true).await;
    let event = feed.next_change("the change after subscribing").await;
    assert_eq!(
        event.id,
        app.outbox_head().await,
        "earlier changes are not replayed: {}",
        event.data
    );
    assert_eq!(event.message["environment"], "production");
    assert_eq!(event.message["revision"], 3);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn events_carry_no_key_material(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_flag(&app, "checkout").await;
    let head = app.outbox_head().await;
    let mut feed = app.events_as(ADMIN_KEY, None).await;
    let (key_id, plaintext) = app
        .create_key(json!({"name": "backend", "kind": "server", "environment": "production"}))
        .await;
    // Admin and edge tokens write no change message at all.
    app.token("editor").await;
    app.create_key(json!({"name": "edge", "kind": "edge"}))
        .await;
    configure(&app, "production", "checkout", true).await;
    let (status, _) = app
        .send_as(
            ADMIN_KEY,
            Method::DELETE,
            &format!("/api/admin/keys/{key_id}"),
        )
        .await;
    assert_eq!(status, 204);

    let events = feed
        .next_changes(3, "key created, flag configured, key revoked")
        .await;
    assert_eq!(
        summary(&events),
        [
            ("production".to_owned(), 3),
            ("production".to_owned(), 4),
            ("production".to_owned(), 5),
        ]
    );
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(plaintext.as_bytes()));
    for event in &events {
        assert!(
            !event.data.contains("sha256") && !event.data.contains(&hash),
            "key material in {}",
            event.data
        );
        assert!(
            !event.data.contains("key_upserted") && !event.data.contains("key_deleted"),
            "key changes are filtered: {}",
            event.data
        );
    }
    assert_eq!(
        events[0].message["changes"],
        json!([]),
        "{}",
        events[0].data
    );
    assert_eq!(change_types(&events[1]), ["flag_upserted"]);
    assert_eq!(
        events[2].message["changes"],
        json!([]),
        "{}",
        events[2].data
    );
    assert_eq!(received(&events), expected_after(&app, head).await);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn reconnecting_with_last_event_id_resumes_without_gaps_or_duplicates(pool: PgPool) {
    let app = spawn_app(pool).await;
    let start = app.outbox_head().await;
    let mut first = app.events_as(ADMIN_KEY, None).await;
    create_flag(&app, "checkout").await; // two messages
    configure(&app, "production", "checkout", true).await;
    configure(&app, "production", "checkout", false).await;
    let seen = first.next_changes(2, "the first two events").await;
    drop(first);
    // Changes while disconnected.
    configure(&app, "development", "checkout", true).await;
    create_flag(&app, "search").await; // two messages

    let last_seen = seen[1].id;
    let mut second = app.events_as(ADMIN_KEY, Some(last_seen)).await;
    let expected = expected_after(&app, last_seen).await;
    assert_eq!(
        expected.len(),
        5,
        "two unread plus three while disconnected"
    );
    let resumed = second
        .next_changes(expected.len(), "the events after Last-Event-ID")
        .await;
    assert_eq!(
        received(&resumed),
        expected,
        "exactly the events after {last_seen}, in order"
    );
    let mut all: Vec<i64> = seen.iter().chain(&resumed).map(|e| e.id).collect();
    let outbox: Vec<i64> = expected_after(&app, start)
        .await
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        all, outbox,
        "no gap and no duplicate across the reconnection"
    );
    all.dedup();
    assert_eq!(all.len(), outbox.len());

    // Nothing else is pending on the resumed feed: the next event is the next change.
    configure(&app, "development", "search", true).await;
    let next = second.next_change("the change after resuming").await;
    assert_eq!(next.id, app.outbox_head().await, "{}", next.data);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn last_event_id_zero_replays_the_whole_outbox(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_flag(&app, "checkout").await;
    let expected = expected_after(&app, 0).await;
    assert_eq!(
        expected.len(),
        4,
        "two environments created, one flag in both"
    );
    let mut feed = app.events_as(ADMIN_KEY, Some(0)).await;
    let events = feed.next_changes(expected.len(), "the whole outbox").await;
    assert_eq!(received(&events), expected);
    assert_eq!(change_types(&events[0])[0], "environment_created");
    assert_eq!(events[0].message["revision"], 1);
    assert_eq!(events[0].message["base_revision"], 0);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn environment_creation_and_deletion_appear_in_the_feed(pool: PgPool) {
    let app = spawn_app(pool).await;
    create_flag(&app, "checkout").await;
    let mut feed = app.events_as(ADMIN_KEY, None).await;
    let (status, body) = app
        .json(
            Method::POST,
            "/api/admin/environments",
            &json!({"key": "staging"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app
        .send_as(ADMIN_KEY, Method::DELETE, "/api/admin/environments/staging")
        .await;
    assert_eq!(status, 204);
    let events = feed.next_changes(2, "staging created and deleted").await;
    assert_eq!(
        summary(&events),
        [("staging".to_owned(), 1), ("staging".to_owned(), 2)]
    );
    assert_eq!(
        change_types(&events[0]),
        ["environment_created", "flag_upserted"]
    );
    assert_eq!(events[0].message["epoch"], body["epoch"]);
    assert_eq!(change_types(&events[1]), ["environment_deleted"]);
    assert_eq!(events[1].message["base_revision"], 1);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn changes_through_another_instance_appear(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let other = spawn_app(pool).await;
    let mut feed = app.events_as(ADMIN_KEY, None).await;
    create_flag(&other, "elsewhere").await;
    let events = feed.next_changes(2, "the other instance's change").await;
    assert_eq!(
        summary(&events),
        [("development".to_owned(), 2), ("production".to_owned(), 2)]
    );
    assert_eq!(
        events[0].message["changes"][0]["flag"]["flag"]["key"],
        "elsewhere"
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn viewers_may_subscribe_and_unknown_callers_may_not(pool: PgPool) {
    let app = spawn_app(pool).await;
    let viewer = app.token("viewer").await;
    let mut feed = app.events_as(&viewer, None).await;
    create_flag(&app, "seen-by-viewer").await;
    let event = feed.next_change("a change, as a viewer").await;
    assert_eq!(
        event.message["changes"][0]["flag"]["flag"]["key"],
        "seen-by-viewer"
    );

    let response = app
        .client
        .get(app.url("/api/admin/events"))
        .send()
        .await
        .expect("request sent");
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .cloned();
    let result = read(response).await;
    assert_error(&result, 401, "unauthorized");
    assert!(challenge.is_some(), "a 401 carries WWW-Authenticate");

    let unknown = app
        .send_as("hal_adm_unknown", Method::GET, "/api/admin/events")
        .await;
    assert_error(&unknown, 401, "unauthorized");
}

/// Outbox ids are taken at insert time, so a writer can commit a message
/// with a lower id after another writer's higher one. The feed must still
/// deliver both, in id order (what `Last-Event-ID` resumes from): delivering
/// the higher id first and moving its cursor past the lower one loses it.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_message_committed_after_a_later_id_is_not_skipped(pool: PgPool) {
    use halyard_common::ChangeMessage;

    let app = spawn_app(pool).await;
    create_flag(&app, "checkout").await;
    let start = app.outbox_head().await;
    let mut feed = app.events_as(ADMIN_KEY, None).await;

    // A slow writer: its change message is inserted (taking the next outbox
    // id) but not committed yet.
    let mut slow = app.store.begin().await.expect("transaction");
    let mut production = slow
        .environment_for_update("production")
        .await
        .expect("readable")
        .expect("production exists");
    let message = ChangeMessage {
        environment: production.key.clone(),
        epoch: production.epoch.clone(),
        revision: production.revision + 1,
        base_revision: production.revision,
        committed_at: halyard_control_plane::service::now(),
        changes: Vec::new(),
    };
    production.revision += 1;
    slow.update_environment(&production).await.expect("updated");
    slow.insert_outbox(production.id, &message)
        .await
        .expect("inserted");

    // A fast writer on another environment. Outbox ids are handed out in
    // commit order, so it may not take (and commit) a higher id while the
    // slow writer's row is uncommitted: it runs concurrently and finishes
    // only after the slow writer commits.
    let fast = {
        let (client, url) = (
            app.client.clone(),
            app.url("/api/admin/environments/development/flags/checkout"),
        );
        let (status, current) = app
            .get("/api/admin/environments/development/flags/checkout")
            .await;
        assert_eq!(status, 200, "{current}");
        let mut config = current["config"].clone();
        config["enabled"] = serde_json::Value::Bool(true);
        tokio::spawn(async move {
            client
                .put(url)
                .header("X-Admin-API-Key", ADMIN_KEY)
                .json(&config)
                .send()
                .await
                .map(|r| r.status())
        })
    };
    let mut events = Vec::new();
    // Give a feed that delivers out of order, or a writer that overtakes,
    // the chance to show it; with commit-ordered ids nothing arrives here.
    if let Ok(event) = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        feed.next_change("the fast writer's change"),
    )
    .await
    {
        events.push(event);
    }
    slow.commit().await.expect("the slow writer commits");
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), fast)
        .await
        .expect("the fast writer finishes once the slow one commits")
        .expect("task")
        .expect("request");
    assert_eq!(status, 200, "the fast writer succeeds");
    configure(&app, "development", "checkout", false).await;

    let head = app.outbox_head().await;
    while !events.iter().any(|e| e.id == head) {
        events.push(feed.next_change("every message up to the newest").await);
    }
    let delivered: Vec<i64> = events.iter().map(|e| e.id).collect();
    let committed: Vec<i64> = expected_after(&app, start)
        .await
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(committed.len(), 3, "slow, fast and the last change");
    assert_eq!(
        delivered, committed,
        "every committed message exactly once, in id order (the slow writer's is {})",
        committed[0]
    );
}
