//! `halyard export` and `halyard import`: a backup that round-trips, and
//! the way from the all-in-one node's SQLite to PostgreSQL.

use serde_json::{Value, json};

use crate::support::{Database, Halyard, create_legacy_flag, json_of, run, url, wait_ready};

fn without_epochs(mut document: Value) -> Value {
    for environment in document["environments"].as_array_mut().unwrap() {
        environment.as_object_mut().unwrap().remove("epoch");
    }
    document
}

fn epochs(document: &Value) -> Vec<Value> {
    document["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["epoch"].clone())
        .collect()
}

fn export(store: &[&str]) -> Value {
    let mut args = vec!["export"];
    args.extend_from_slice(store);
    let (status, output) = run(&args, &[]);
    assert!(status.success(), "{output}");
    serde_json::from_str(&output).unwrap_or_else(|e| panic!("{e}: {output}"))
}

#[tokio::test]
async fn an_export_restores_exactly_into_sqlite_and_postgres() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let http = reqwest::Client::new();
    let mut halyard = Halyard::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data-dir",
            dir,
        ],
        &[],
    );
    let base = url(&halyard.wait_for_log("halyard listening"), "address");
    let admin = halyard.printed_key("admin token").unwrap();
    let server = halyard.printed_key("production server SDK key").unwrap();
    wait_ready(&http, &format!("{base}/readyz")).await;
    create_legacy_flag(
        &http,
        &base,
        &admin,
        json!({"key": "new-checkout", "description": "New checkout flow",
               "enabled": true, "rollout_percentage": 30, "targeted_users": ["alice"]}),
    )
    .await;
    assert!(halyard.terminate().success());

    let original = export(&["--data-dir", dir]);
    assert_eq!(original["format"], "halyard-backup/1");
    assert!(
        !original.to_string().contains(&server),
        "an export holds key hashes, never keys"
    );
    let file = data.path().join("backup.json");
    std::fs::write(&file, original.to_string()).unwrap();
    let file = file.to_str().unwrap();

    // Into a new SQLite node: the same document but for new epochs.
    let restored = tempfile::tempdir().unwrap();
    let restored_dir = restored.path().to_str().unwrap();
    let (status, output) = run(&["import", file, "--data-dir", restored_dir], &[]);
    assert!(status.success(), "{output}");
    assert!(
        output.contains("restored 2 environments, 1 flags"),
        "{output}"
    );
    let again = export(&["--data-dir", restored_dir]);
    assert_eq!(
        without_epochs(again.clone()),
        without_epochs(original.clone())
    );
    assert!(
        epochs(&again)
            .iter()
            .zip(epochs(&original))
            .all(|(new, old)| *new != old),
        "each restored environment starts a new epoch"
    );

    // Into a non-empty one: refused, nothing changed.
    let (status, output) = run(&["import", file, "--data-dir", restored_dir], &[]);
    assert!(!status.success());
    assert!(output.contains("not empty"), "{output}");
    assert_eq!(export(&["--data-dir", restored_dir]), again);

    // The restored node serves the flag to the old keys.
    let mut halyard = Halyard::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data-dir",
            restored_dir,
        ],
        &[],
    );
    let base = url(&halyard.wait_for_log("halyard listening"), "address");
    assert_eq!(halyard.printed_key("admin token"), None);
    wait_ready(&http, &format!("{base}/readyz")).await;
    let flags = json_of(
        http.get(format!("{base}/api/client/flags"))
            .header("X-SDK-Key", &server),
    )
    .await;
    assert_eq!(flags["flags"][0]["key"], "new-checkout", "{flags}");
    assert!(halyard.terminate().success());

    // Growing up: the same document into PostgreSQL.
    let database = Database::create().await;
    let database_url = database.url();
    let (status, output) = run(&["import", file, "--database-url", &database_url], &[]);
    assert!(status.success(), "{output}");
    let from_postgres = export(&["--database-url", &database_url]);
    assert_eq!(without_epochs(from_postgres), without_epochs(original));
    database.drop_now().await;
}

#[test]
fn a_document_that_is_not_an_export_is_refused_clearly() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("flags.json");
    std::fs::write(&file, r#"{"flags": []}"#).unwrap();
    let (status, output) = run(
        &[
            "import",
            file.to_str().unwrap(),
            "--data-dir",
            data.path().join("new").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!status.success());
    assert!(output.contains("is not a Halyard export"), "{output}");
}

/// A hand-edited backup with a configuration edges could not build is
/// refused whole.
#[test]
fn a_backup_with_invalid_content_restores_nothing() {
    let data = tempfile::tempdir().unwrap();
    let source = data.path().join("source");
    let mut document = export(&["--data-dir", source.to_str().unwrap()]);
    let production = document["environments"]
        .as_array()
        .unwrap()
        .iter()
        .position(|e| e["key"] == "production")
        .unwrap();
    document["flags"] = json!([{
        "id": "3f1c2a54-8a53-4d8b-9d57-1f0f5c1b2a09", "key": "broken", "kind": "boolean",
        "variations": [{"key": "true", "value": true}, {"key": "false", "value": false}],
        "version": 1, "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "configs": {"production": {"enabled": true, "off_variation": "nope",
                                   "default": {"variation": "true"}, "version": 1,
                                   "updated_at": "2024-01-01T00:00:00Z"}}
    }]);
    assert_eq!(document["environments"][production]["key"], "production");
    let file = data.path().join("broken.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let target = data.path().join("target");
    let (status, output) = run(
        &[
            "import",
            file.to_str().unwrap(),
            "--data-dir",
            target.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!status.success());
    assert!(
        output.contains("environments.production") && output.contains("nope"),
        "{output}"
    );
    let after = export(&["--data-dir", target.to_str().unwrap()]);
    assert_eq!(after["flags"], json!([]), "nothing was restored: {after}");
}
