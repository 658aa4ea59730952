//! `halyard import --flags`: flags as code, planned and validated whole,
//! then applied change by change; twice is a no-op; a bad document changes
//! nothing.

use serde_json::{Value, json};

use crate::support::{Halyard, evaluate, run, url, wait_ready};

fn document(description: &str, segment: &str) -> Value {
    json!({
        "environments": [{"key": "production", "segments": [
            {"key": "beta-testers", "description": "Opted in", "included": ["alice", "bob"]}
        ]}],
        "flags": [{
            "key": "checkout-v2", "kind": "boolean", "description": description, "tags": ["payments"],
            "variations": [{"key": "true", "value": true}, {"key": "false", "value": false}],
            "configs": {"production": {
                "enabled": true, "off_variation": "false",
                "rules": [{"id": "beta", "serve": {"variation": "true"},
                           "clauses": [{"operator": "in_segment", "values": [segment]}]}],
                "default": {"variation": "false"}
            }}
        }]
    })
}

fn import(dir: &str, document: &Value, extra: &[&str]) -> (bool, String) {
    let file = std::path::Path::new(dir).join("flags.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let mut args = vec![
        "import",
        "--flags",
        file.to_str().unwrap(),
        "--data-dir",
        dir,
    ];
    args.extend_from_slice(extra);
    let (status, output) = run(&args, &[]);
    (status.success(), output)
}

fn export(dir: &str) -> String {
    let (status, output) = run(&["export", "--data-dir", dir], &[]);
    assert!(status.success(), "{output}");
    output
}

#[tokio::test]
async fn a_flags_document_is_planned_applied_once_and_served() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let first = document("New checkout", "beta-testers");

    let (ok, output) = import(dir, &first, &["--dry-run"]);
    assert!(ok, "{output}");
    assert!(
        output.contains("create segment beta-testers in production"),
        "{output}"
    );
    assert!(
        output.contains("create flag checkout-v2 (on in production)"),
        "{output}"
    );
    assert!(
        output.contains("2 changes planned (--dry-run: none made)"),
        "{output}"
    );
    assert!(
        !export(dir).contains("checkout-v2"),
        "a dry run changes nothing"
    );

    let (ok, output) = import(dir, &first, &[]);
    assert!(ok, "{output}");
    assert!(output.contains("2 changes made"), "{output}");
    let (ok, output) = import(dir, &first, &[]);
    assert!(ok && output.contains("nothing to change"), "{output}");

    let (ok, output) = import(dir, &document("New checkout, faster", "beta-testers"), &[]);
    assert!(ok, "{output}");
    assert!(
        output.contains("update flag checkout-v2: description"),
        "{output}"
    );
    assert!(output.contains("1 changes made"), "{output}");

    // Renamed variations with the configuration that uses them: valid only
    // together, so applied together.
    let theme = |night: &str| {
        json!({"flags": [{
            "key": "theme", "kind": "string",
            "variations": [{"key": "light", "value": "light"}, {"key": night, "value": night}],
            "configs": {"production": {"enabled": true, "off_variation": "light",
                                       "default": {"variation": night}}}
        }]})
    };
    let (ok, output) = import(dir, &theme("dark"), &[]);
    assert!(ok, "{output}");
    let (ok, output) = import(dir, &theme("night"), &[]);
    assert!(ok, "{output}");
    assert!(output.contains("update flag theme: variations"), "{output}");
    assert!(
        output.contains("configure flag theme in production"),
        "{output}"
    );

    // A rule on a segment that does not exist: refused before any write.
    let before = export(dir);
    let (ok, output) = import(dir, &document("Broken", "nobody"), &[]);
    assert!(!ok);
    assert!(output.contains("flags[0].configs.production"), "{output}");
    assert!(output.contains("nobody"), "{output}");
    assert_eq!(export(dir), before, "a bad document changes nothing");

    let mut halyard = Halyard::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data-dir",
            dir,
        ],
        &[("HALYARD_LEGACY_SDK_KEY", "sdk-secret-key")],
    );
    let base = url(&halyard.wait_for_log("halyard listening"), "address");
    let http = reqwest::Client::new();
    wait_ready(&http, &format!("{base}/readyz")).await;
    for (user, expected) in [("alice", true), ("carol", false)] {
        assert_eq!(
            evaluate(&http, &base, "sdk-secret-key", "checkout-v2", user).await,
            json!(expected),
            "{user}"
        );
    }
    assert_eq!(
        evaluate(&http, &base, "sdk-secret-key", "theme", "carol").await,
        json!("night")
    );
    assert!(halyard.terminate().success());
}
