use serde_json::json;
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
