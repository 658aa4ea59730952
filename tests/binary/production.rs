//! The production shape: `halyard control-plane` on the machine's
//! PostgreSQL (a database of its own) and two `halyard edge` processes on
//! Redis (a key prefix of its own).

use crate::support::{
    Database, Events, Halyard, create_legacy_flag, evaluate, json_of, url, wait_ready,
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
    let mut control_plane = Halyard::start(
        &[
            "control-plane",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        &env,
    );
    let admin = url(
        &control_plane.wait_for_log("control plane listening"),
        "api",
    );
    wait_ready(&http, &format!("{admin}/readyz")).await;
    let key = json_of(
        http.post(format!("{admin}/api/admin/keys"))
            .header("X-Admin-API-Key", "admin-secret-key")
            .json(
                &json!({"name": "checkout service", "kind": "server", "environment": "production"}),
            ),
    )
    .await;
    let server_key = key["plaintext"]
        .as_str()
        .unwrap_or_else(|| panic!("{key}"))
        .to_owned();

    let mut edges = Vec::new();
    for _ in 0..2 {
        let mut edge = Halyard::start(
            &[
                "edge",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
            ],
            &shared,
        );
        let base = url(&edge.wait_for_log("edge listening"), "address");
        wait_ready(&http, &format!("{base}/readyz")).await;
        edges.push((edge, base));
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
