use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::*;

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

    // Only server keys; an unknown dialect is refused with a clear error.
    let client = stack
        .http
        .get(format!("{}/api/client/stream?dialect=v2", stack.edge))
        .header("X-SDK-Key", &client_key)
        .send()
        .await
        .unwrap();
    assert_eq!(client.status(), 403);
    let unknown = stack
        .http
        .get(format!("{}/api/client/stream?dialect=v3", stack.edge))
        .header("X-SDK-Key", &server_key)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dialect");

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

/// What the old SDK holds after applying legacy events: key -> legacy JSON.
#[derive(Default)]
struct LegacyClient {
    flags: std::collections::BTreeMap<String, Value>,
}

impl LegacyClient {
    fn apply(&mut self, frame: &Frame) {
        let key = frame.data["key"].as_str().expect("a key").to_owned();
        match frame.event.as_str() {
            "flag_updated" => {
                self.flags.insert(key, frame.data.clone());
            }
            "flag_deleted" => {
                self.flags.remove(&key);
            }
            other => panic!("the legacy dialect sent {other}"),
        }
    }

    /// Applies frames until `key` arrives as `event`; returns that frame.
    async fn until(&mut self, stream: &mut Frames, event: &str, key: &str) -> Frame {
        loop {
            let frame = stream.next(&format!("{event} {key}")).await.expect("open");
            self.apply(&frame);
            if frame.event == event && frame.data["key"] == key {
                return frame;
            }
        }
    }
}

async fn flags_of(
    stack: &Stack,
    base: &str,
    key: &str,
) -> std::collections::BTreeMap<String, Value> {
    let body: Value = stack
        .http
        .get(format!("{base}/api/client/flags"))
        .header("X-SDK-Key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["key"].as_str().unwrap().to_owned(), f.clone()))
        .collect()
}

async fn make_unrepresentable(stack: &Stack, key: &str) {
    let view = stack
        .admin(
            reqwest::Method::GET,
            &format!("/api/admin/environments/production/flags/{key}"),
            None,
        )
        .await;
    let mut config = view["config"].clone();
    config["rules"] = json!([{"id": "nl", "clauses": [{"attribute": "country", "operator": "in", "values": ["NL"]}], "serve": {"variation": "true"}}]);
    stack
        .admin(
            reqwest::Method::PUT,
            &format!("/api/admin/environments/production/flags/{key}"),
            Some(config),
        )
        .await;
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn legacy_and_v2_subscribers_on_two_edges_follow_every_change(pool: PgPool) {
    let mut stack = control_plane(pool).await;
    stack.start_edge().await;
    let second = stack.spawn_edge(EdgeOptions::default()).await;
    let edges = [stack.edge.clone(), second.url.clone()];
    stack.adopt(second);
    let (_, key) = stack.sdk_key("server").await;

    // History before the legacy client connects: legacy flags, a flag the
    // old SDK cannot evaluate, and a deleted flag.
    let mut ids = std::collections::HashMap::new();
    for body in [
        json!({"key": "alpha", "enabled": true, "rollout_percentage": 30, "targeted_users": ["ana"]}),
        json!({"key": "beta", "description": "Beta", "enabled": false}),
        json!({"key": "doomed", "enabled": true}),
    ] {
        let created = stack
            .admin(reqwest::Method::POST, "/api/admin/flags", Some(body))
            .await;
        ids.insert(
            created["key"].as_str().unwrap().to_owned(),
            created["id"].as_str().unwrap().to_owned(),
        );
    }
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flag-definitions",
            Some(json!({"key": "rich", "kind": "string", "variations": [{"key": "a", "value": "A"}]})),
        )
        .await;
    let doomed_id = &ids["doomed"];
    let deleted = stack
        .http
        .delete(format!(
            "{}/api/admin/flags/{doomed_id}",
            stack.control_plane
        ))
        .header("X-Admin-API-Key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    stack
        .wait_for(&key, "the history", |b| {
            flag(b, "beta").is_some() && flag(b, "doomed").is_none()
        })
        .await;

    // Legacy clients connecting mid-way, on both edges, end with exactly the
    // legacy-representable flags (the full resend, then live changes).
    let mut legacy = Vec::new();
    let mut v2 = Vec::new();
    for edge in &edges {
        let mut stream =
            Frames::open_at(&stack, &format!("{edge}/api/client/stream"), &key, None).await;
        let mut client = LegacyClient::default();
        // The resend: every representable flag, and deletions for the rest.
        let first = stream.next("the resend").await.unwrap();
        client.apply(&first);
        legacy.push((stream, client));
        let mut stream = Frames::open_at(
            &stack,
            &format!("{edge}/api/client/stream?dialect=v2"),
            &key,
            None,
        )
        .await;
        assert_eq!(stream.next("the put").await.unwrap().event, "put");
        v2.push(stream);
    }
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "sentinel"})),
        )
        .await;
    let mut sentinel = Vec::new();
    for (stream, client) in &mut legacy {
        let frame = client.until(stream, "flag_updated", "sentinel").await;
        sentinel.push(frame.id.expect("an id"));
    }
    assert_eq!(sentinel[0], sentinel[1], "the same revision on both edges");
    for (edge, (_, client)) in edges.iter().zip(&legacy) {
        let served = flags_of(&stack, edge, &key).await;
        assert_eq!(client.flags, served, "the legacy client's state on {edge}");
        assert!(!served.contains_key("rich") && !served.contains_key("doomed"));
    }

    // A change reaches all four subscribers with the same revision.
    let alpha = &ids["alpha"];
    stack
        .admin(
            reqwest::Method::PUT,
            &format!("/api/admin/flags/{alpha}"),
            Some(json!({"rollout_percentage": 55})),
        )
        .await;
    let mut revisions = Vec::new();
    for (stream, client) in &mut legacy {
        let frame = client.until(stream, "flag_updated", "alpha").await;
        assert_eq!(frame.data["rollout_percentage"], 55);
        revisions.push(frame.id.unwrap());
    }
    for stream in &mut v2 {
        let mut frame = stream.next("alpha's patch").await.unwrap();
        while frame.data["changes"][0]["flag"]["flag"]["key"] != "alpha" {
            frame = stream.next("alpha's patch").await.unwrap();
        }
        assert_eq!(frame.event, "patch");
        assert_eq!(frame.data["revision"], frame.id.unwrap());
        revisions.push(frame.id.unwrap());
    }
    assert!(revisions.windows(2).all(|w| w[0] == w[1]), "{revisions:?}");

    // A flag that stops being representable is deleted for legacy clients.
    make_unrepresentable(&stack, "alpha").await;
    for (stream, client) in &mut legacy {
        let frame = client.until(stream, "flag_deleted", "alpha").await;
        assert_eq!(frame.id, Some(revisions[0] + 1));
        assert!(!client.flags.contains_key("alpha"));
    }
    for (edge, (_, client)) in edges.iter().zip(&legacy) {
        assert_eq!(client.flags, flags_of(&stack, edge, &key).await);
    }

    // A legacy client reconnecting without Last-Event-ID is told about the
    // unrepresentable flag and about the tombstones this edge keeps.
    let mut fresh = Frames::open_at(
        &stack,
        &format!("{}/api/client/stream", edges[0]),
        &key,
        None,
    )
    .await;
    let mut client = LegacyClient::default();
    let mut deleted = Vec::new();
    while deleted.len() < 3 {
        let frame = fresh.next("the resend").await.unwrap();
        if frame.event == "flag_deleted" {
            deleted.push(frame.data["key"].as_str().unwrap().to_owned());
        }
        client.apply(&frame);
    }
    deleted.sort();
    assert_eq!(deleted, ["alpha", "doomed", "rich"]);
    assert_eq!(client.flags, flags_of(&stack, &edges[0], &key).await);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn last_event_id_replays_or_resends_and_an_epoch_change_resyncs(pool: PgPool) {
    let (stack, server_key, _) = evaluation_stack(pool).await;
    let mut stream = Frames::open(&stack, &server_key, None).await;
    let base = stream.next("the put").await.unwrap().id.unwrap();
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "later", "enabled": true})),
        )
        .await;
    assert_eq!(stream.next("the patch").await.unwrap().id, Some(base + 1));

    // Legacy: Last-Event-ID within the log replays only what was missed.
    let url = format!("{}/api/client/stream", stack.edge);
    let mut legacy = Frames::open_at(&stack, &url, &server_key, Some(base)).await;
    let replayed = legacy.next("the replay").await.unwrap();
    assert_eq!(
        (replayed.event.as_str(), replayed.id, &replayed.data["key"]),
        ("flag_updated", Some(base + 1), &json!("later"))
    );
    // A Last-Event-ID from another history (ahead of the edge) gets the
    // full resend, at the current revision.
    let mut resent = Frames::open_at(&stack, &url, &server_key, Some(base + 1000)).await;
    assert_eq!(resent.next("the resend").await.unwrap().id, Some(base + 1));
    let mut put = Frames::open(&stack, &server_key, Some(base + 1000)).await;
    assert_eq!(put.next("the put").await.unwrap().event, "put");

    // The environment's history restarts (a restore, say): Redis gets a
    // snapshot of a new epoch and a message of that epoch. The edge cannot
    // apply it to what it holds, so it resyncs and subscribers get a put.
    let client = redis::Client::open(stack.redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let snapshot_key = format!("{}:snapshot:production", stack.prefix);
    let data: String = redis::cmd("HGET")
        .arg(&snapshot_key)
        .arg("data")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut data: Value = serde_json::from_str(&data).unwrap();
    data["epoch"] = json!("restored-history");
    data["revision"] = json!(3);
    data["flags"] = json!(
        data["flags"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["flag"]["key"] != "later")
            .collect::<Vec<_>>()
    );
    let _: () = redis::cmd("HSET")
        .arg(&snapshot_key)
        .arg("epoch")
        .arg("restored-history")
        .arg("revision")
        .arg(3)
        .arg("data")
        .arg(data.to_string())
        .query_async(&mut conn)
        .await
        .unwrap();
    let message = json!({"environment": "production", "epoch": "restored-history", "revision": 4,
        "base_revision": 3, "committed_at": "2026-11-24T12:00:00Z", "changes": []});
    let _: () = redis::cmd("PUBLISH")
        .arg(format!("{}:changes", stack.prefix))
        .arg(message.to_string())
        .query_async(&mut conn)
        .await
        .unwrap();
    let resync = stream.next("the put after the resync").await.unwrap();
    assert_eq!((resync.event.as_str(), resync.id), ("put", Some(3)));
    assert_eq!(resync.data["epoch"], "restored-history");
    let keys: Vec<&str> = resync.data["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"]["key"].as_str().unwrap())
        .collect();
    assert!(!keys.contains(&"later"), "{keys:?}");
    let first = legacy.next("the legacy resend").await.unwrap();
    assert_eq!(first.id, Some(3), "the legacy stream resends too");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn the_client_event_stream_tells_ofrep_providers_to_refetch(pool: PgPool) {
    let (stack, _, client_key) = evaluation_stack(pool).await;
    let (status, headers, bulk) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags",
            &client_key,
            r#"{"context": {"targetingKey": "u1"}}"#,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_valid("bulkEvaluationSuccess", &bulk);
    let endpoint = &bulk["eventStreams"][0];
    assert_eq!(endpoint["type"], "sse");
    let uri = endpoint["endpoint"]["requestUri"].as_str().unwrap();
    assert_eq!(uri, "/api/client/events");
    let revision: u64 = headers["x-halyard-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();

    let url = format!("{}{uri}", stack.edge);
    let mut events = Frames::open_at(&stack, &url, &client_key, None).await;
    let first = events.next("the first notice").await.unwrap();
    assert_eq!(first.event, "message");
    assert_eq!(first.id, Some(revision));
    assert_eq!(first.data["type"], "refetchEvaluation");
    let etag = first.data["etag"].as_str().unwrap().to_owned();
    assert!(etag.ends_with(&format!("-{revision}")), "{etag}");

    // Up to date (Last-Event-ID = the revision): nothing until a change.
    let mut current = Frames::open_at(&stack, &url, &client_key, Some(revision)).await;
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "new-one"})),
        )
        .await;
    for stream in [&mut events, &mut current] {
        let notice = stream.next("the change notice").await.unwrap();
        assert_eq!(notice.id, Some(revision + 1));
        assert_eq!(notice.data["type"], "refetchEvaluation");
        assert_ne!(notice.data["etag"], json!(etag));
    }
    // The refetch the notice asks for sees the change.
    let (status, _, refetched) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags",
            &client_key,
            r#"{"context": {"targetingKey": "u1"}}"#,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        refetched["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "new-one")
    );
    // Client keys may not read configurations or their streams.
    let denied = stack
        .http
        .get(format!("{}/api/client/stream", stack.edge))
        .header("X-SDK-Key", &client_key)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
}
