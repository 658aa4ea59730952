//! The production shape: `halyard control-plane` on the machine's
//! PostgreSQL (a database of its own) and two `halyard edge` processes on
//! Redis (a key prefix of its own).

use crate::support::{
    Database, Events, create_legacy_flag, create_server_key, evaluate, start_control_plane,
    start_edge,
};
use serde_json::json;

async fn clear_redis(redis_url: &str, prefix: &str) {
    let client = redis::Client::open(redis_url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_control_plane_and_two_edges_serve_the_same_flags() {
    let database = Database::create().await;
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("halyard-bin-{}", uuid::Uuid::new_v4().simple());
    let http = reqwest::Client::new();
    let shared = [
        ("HALYARD_REDIS_URL", redis_url.as_str()),
        ("HALYARD_REDIS_PREFIX", prefix.as_str()),
    ];

    let database_url = database.url();
    let mut env = shared.to_vec();
    env.push(("HALYARD_DATABASE_URL", &database_url));
    env.push(("HALYARD_ADMIN_API_KEY", "admin-secret-key"));
    let (control_plane, admin) = start_control_plane(&http, &env).await;
    let server_key = create_server_key(&http, &admin, "admin-secret-key", "checkout service").await;

    let mut edges = Vec::new();
    for _ in 0..2 {
        edges.push(start_edge(&http, &shared).await);
    }
    let mut streams = Vec::new();
    for (_, base) in &edges {
        streams
            .push(Events::open(&http, &format!("{base}/api/client/stream?key={server_key}")).await);
    }

    create_legacy_flag(
        &http,
        &admin,
        "admin-secret-key",
        json!({"key": "new-checkout", "description": "New checkout flow",
               "enabled": true, "rollout_percentage": 0, "targeted_users": ["alice"]}),
    )
    .await;
    for stream in &mut streams {
        stream
            .until("flag_updated", |f| f["key"] == "new-checkout")
            .await;
    }
    for (_, base) in &edges {
        for (user, expected) in [("alice", true), ("bob", false)] {
            assert_eq!(
                evaluate(&http, base, &server_key, "new-checkout", user).await,
                json!(expected),
                "{base}, {user}"
            );
        }
    }

    for (edge, _) in edges {
        assert!(edge.terminate().success());
    }
    assert!(control_plane.terminate().success());
    clear_redis(&redis_url, &prefix).await;
    database.drop_now().await;
}
