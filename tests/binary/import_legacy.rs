//! `halyard import-legacy`: the old system's `feature_flags` table (its
//! schema as the old Go server created it) into a new all-in-one node.

use serde_json::json;
use sqlx::Connection as _;

use crate::support::{Database, Halyard, json_of, run, url, wait_ready};

const OLD_SCHEMA: &str = "CREATE TABLE feature_flags (
    id UUID PRIMARY KEY,
    key VARCHAR(64) UNIQUE NOT NULL,
    description TEXT,
    enabled BOOLEAN NOT NULL DEFAULT false,
    rollout_percentage INTEGER NOT NULL DEFAULT 0,
    targeted_users TEXT[] NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

const OLD_ROWS: &str = "INSERT INTO feature_flags VALUES
    ('3f1c2a54-8a53-4d8b-9d57-1f0f5c1b2a01', 'new-checkout', 'New checkout flow', true, 30,
     '{alice,josé}', '2024-03-01 10:00:00.123456+00', '2024-05-02 11:30:00.654321+00'),
    ('3f1c2a54-8a53-4d8b-9d57-1f0f5c1b2a02', 'dark-mode', NULL, false, 0,
     '{}', '2024-03-02 09:00:00+00', '2024-03-02 09:00:00+00'),
    ('3f1c2a54-8a53-4d8b-9d57-1f0f5c1b2a03', 'bad key!', 'not a valid key', true, 10,
     '{}', '2024-03-03 09:00:00+00', '2024-03-03 09:00:00+00')";

async fn old_database() -> (Database, sqlx::PgConnection) {
    let database = Database::create().await;
    let mut conn = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    sqlx::query(OLD_SCHEMA).execute(&mut conn).await.unwrap();
    sqlx::query(OLD_ROWS).execute(&mut conn).await.unwrap();
    (database, conn)
}

#[tokio::test]
async fn the_old_flags_arrive_with_their_ids_and_times_and_twice_changes_nothing() {
    let (database, mut old) = old_database().await;
    let from = database.url();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let import = || run(&["import-legacy", "--from", &from, "--data-dir", dir], &[]);

    let (status, output) = import();
    assert!(
        !status.success(),
        "a row that cannot be imported fails the run"
    );
    assert!(output.contains("created    new-checkout"), "{output}");
    assert!(output.contains("created    dark-mode"), "{output}");
    assert!(output.contains("failed     bad key!: "), "{output}");
    assert!(
        output.contains(
            "2 created, 0 unchanged, 0 differing (left as is), 0 with a key taken, 1 failed"
        ),
        "{output}"
    );

    sqlx::query("DELETE FROM feature_flags WHERE key = 'bad key!'")
        .execute(&mut old)
        .await
        .unwrap();
    let (status, output) = import();
    assert!(status.success(), "{output}");
    assert!(
        output.contains("0 created, 2 unchanged"),
        "twice changes nothing: {output}"
    );

    // The old system moves on after the import: reported, not overwritten.
    sqlx::query("UPDATE feature_flags SET enabled = true WHERE key = 'dark-mode'")
        .execute(&mut old)
        .await
        .unwrap();
    let (status, output) = import();
    assert!(status.success(), "{output}");
    assert!(output.contains("differs    dark-mode: enabled"), "{output}");

    // What the old API showed is what Halyard's legacy API shows.
    let mut halyard = Halyard::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data-dir",
            dir,
        ],
        &[("HALYARD_ADMIN_API_KEY", "admin-secret-key")],
    );
    let base = url(&halyard.wait_for_log("halyard listening"), "address");
    let http = reqwest::Client::new();
    wait_ready(&http, &format!("{base}/readyz")).await;
    let flags = json_of(
        http.get(format!("{base}/api/admin/flags"))
            .header("X-Admin-API-Key", "admin-secret-key"),
    )
    .await;
    let flag = |key: &str| {
        flags["flags"]
            .as_array()
            .unwrap_or_else(|| panic!("{flags}"))
            .iter()
            .find(|f| f["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {flags}"))
            .clone()
    };
    assert_eq!(
        flag("new-checkout"),
        json!({"id": "3f1c2a54-8a53-4d8b-9d57-1f0f5c1b2a01", "key": "new-checkout",
               "description": "New checkout flow", "enabled": true, "rollout_percentage": 30,
               "targeted_users": ["alice", "josé"],
               "created_at": "2024-03-01T10:00:00.123456Z", "updated_at": "2024-05-02T11:30:00.654321Z"})
    );
    assert_eq!(flag("dark-mode")["enabled"], false, "left as imported");
    assert_eq!(flag("dark-mode")["description"], "");
    assert!(halyard.terminate().success());
    drop(old);
    database.drop_now().await;
}
