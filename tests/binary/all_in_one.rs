//! `halyard` with no subcommand: the all-in-one node on SQLite.

use serde_json::{Value, json};

use crate::support::{
    Events, Halyard, create_legacy_flag, evaluate, json_of, run, url, wait_ready,
};

fn start(data: &std::path::Path) -> (Halyard, Value) {
    let mut halyard = Halyard::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("HALYARD_LEGACY_SDK_KEY", "sdk-secret-key")],
    );
    let listening = halyard.wait_for_log("halyard listening");
    (halyard, listening)
}

/// The quickstart's promise: start with nothing installed, create a flag,
/// see it on the stream, evaluate it; restart and keep everything.
#[tokio::test]
async fn all_in_one_serves_streams_evaluates_and_keeps_state_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (halyard, listening) = start(data.path());
    let base = url(&listening, "address");
    let admin = halyard
        .printed_key("admin token")
        .expect("the first start prints an admin token");
    let server = halyard
        .printed_key("production server SDK key")
        .expect("the first start prints a production server key");
    assert!(halyard.printed_key("development client SDK key").is_some());
    wait_ready(&http, &format!("{base}/readyz")).await;

    // The old SDK's stream, with the old shared key.
    let mut stream = Events::open(
        &http,
        &format!("{base}/api/client/stream?key=sdk-secret-key"),
    )
    .await;
    create_legacy_flag(
        &http,
        &base,
        &admin,
        json!({"key": "new-checkout", "description": "New checkout flow",
               "enabled": true, "rollout_percentage": 0, "targeted_users": ["alice"]}),
    )
    .await;
    let seen = stream
        .until("flag_updated", |f| f["key"] == "new-checkout")
        .await;
    assert_eq!(seen["targeted_users"], json!(["alice"]));

    for (user, expected) in [("alice", true), ("bob", false)] {
        assert_eq!(
            evaluate(&http, &base, &server, "new-checkout", user).await,
            json!(expected),
            "{user}"
        );
    }
    assert!(halyard.terminate().success(), "a clean exit on SIGTERM");

    // Restart on the same data: no new keys, the old ones and the flag kept.
    let (halyard, listening) = start(data.path());
    let base = url(&listening, "address");
    assert_eq!(halyard.printed_key("admin token"), None, "keys print once");
    wait_ready(&http, &format!("{base}/readyz")).await;
    let flags = json_of(
        http.get(format!("{base}/api/client/flags"))
            .header("X-SDK-Key", &server),
    )
    .await;
    assert_eq!(flags["flags"][0]["key"], "new-checkout", "{flags}");
    let listed = http
        .get(format!("{base}/api/admin/flags"))
        .header("X-Admin-API-Key", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200, "the admin token survives a restart");
    let legacy = http
        .get(format!("{base}/api/client/flags"))
        .header("X-SDK-Key", "sdk-secret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), 200, "the legacy key survives a restart");
    assert!(halyard.terminate().success());
}

/// The old README's example works verbatim with its admin key.
#[tokio::test]
async fn the_old_admin_key_works_verbatim() {
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let mut halyard = Halyard::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[("HALYARD_ADMIN_API_KEY", "admin-secret-key")],
    );
    let listening = halyard.wait_for_log("halyard listening");
    let base = url(&listening, "address");
    let response = http
        .post(format!("{base}/api/admin/flags"))
        .header("X-Admin-API-Key", "admin-secret-key")
        .header("Content-Type", "application/json")
        .body(r#"{"key": "dark-mode", "description": "Dark mode", "enabled": true, "rollout_percentage": 25, "targeted_users": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let metrics = http
        .get(format!("{}/metrics", url(&listening, "metrics")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("halyard_control_plane_"),
        "control plane metrics"
    );
    assert!(metrics.contains("halyard_edge_"), "edge metrics");
}

/// Bad configuration: a clear message naming the setting, a non-zero exit.
#[test]
fn bad_configuration_fails_clearly() {
    let (status, output) = run(&["--listen", "not-an-address"], &[]);
    assert!(!status.success());
    assert!(output.contains("--listen"), "{output}");

    let file = tempfile::NamedTempFile::new().unwrap();
    let (status, output) = run(
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            file.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(!status.success());
    assert!(output.contains("data directory"), "{output}");

    // A second node on a data directory in use.
    let data = tempfile::tempdir().unwrap();
    let (first, _) = start(data.path());
    let (status, output) = run(
        &[
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(!status.success());
    assert!(
        output.contains("another halyard node is running"),
        "{output}"
    );
    drop(first);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let (status, output) = run(
        &[
            "--listen",
            &address,
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(!status.success());
    assert!(output.contains(&format!("binding {address}")), "{output}");
}

/// `halyard keys` on the data directory of a running node: a new key works
/// on the node's SDK routes within a sweep, and stops when revoked.
#[tokio::test]
async fn keys_made_on_the_command_line_reach_the_running_node() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let http = reqwest::Client::new();
    let (halyard, listening) = start(data.path());
    let base = url(&listening, "address");
    wait_ready(&http, &format!("{base}/readyz")).await;

    let (status, output) = run(
        &[
            "keys",
            "create",
            "--kind",
            "server",
            "--environment",
            "production",
            "--name",
            "checkout",
            "--json",
            "--data-dir",
            dir,
        ],
        &[],
    );
    assert!(status.success(), "{output}");
    let created: Value = serde_json::from_str(output.lines().last().unwrap()).unwrap();
    let plaintext = created["plaintext"].as_str().unwrap().to_owned();
    let id = created["key"]["id"].as_str().unwrap().to_owned();
    let status_with = |key: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.get(format!("{base}/api/client/flags"))
                .header("X-SDK-Key", key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let waited = std::time::Instant::now();
    while status_with(plaintext.clone()).await != 200 {
        assert!(
            waited.elapsed() < crate::support::DEADLINE,
            "the new key never worked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let (status, output) = run(&["keys", "list", "--json", "--data-dir", dir], &[]);
    assert!(status.success(), "{output}");
    let listed: Value = serde_json::from_str(&output).unwrap();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .expect("the new key is listed");
    assert_eq!(entry["status"], "active");
    assert!(!output.contains(&plaintext), "listings never show a key");

    let (status, output) = run(&["keys", "revoke", &id, "--data-dir", dir], &[]);
    assert!(status.success(), "{output}");
    let waited = std::time::Instant::now();
    while status_with(plaintext.clone()).await != 401 {
        assert!(
            waited.elapsed() < crate::support::DEADLINE,
            "the revoked key kept working"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let (status, output) = run(
        &[
            "keys",
            "create",
            "--kind",
            "server",
            "--name",
            "x",
            "--data-dir",
            dir,
        ],
        &[],
    );
    assert!(!status.success());
    assert!(output.contains("--environment"), "{output}");
    drop(halyard);
}
