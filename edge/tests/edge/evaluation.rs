use serde_json::json;
use sqlx::PgPool;

use crate::support::*;

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn evaluate_returns_halyard_results_for_both_key_kinds(pool: PgPool) {
    let (stack, server_key, client_key) = evaluation_stack(pool).await;
    for key in [&server_key, &client_key] {
        let (status, headers, body) = stack
            .edge_post(
                "/api/evaluate",
                key,
                r#"{"context": {"targetingKey": "u1", "country": "FR"}}"#,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(headers.contains_key("x-halyard-revision"));
        assert_eq!(
            body["results"]["checkout"],
            json!({"value": true, "variation": "true", "reason": "SPLIT"})
        );
        assert_eq!(
            body["results"]["dormant"],
            json!({"value": false, "variation": "false", "reason": "DISABLED"})
        );
        assert_eq!(
            body["results"]["banner"],
            json!({"value": "A", "variation": "a", "reason": "PREREQUISITE_FAILED", "prerequisite": "dormant"})
        );
    }
    let (_, _, one) = stack
        .edge_post(
            "/api/evaluate",
            &server_key,
            r#"{"context": {"targetingKey": "u1"}, "flag": "missing"}"#,
            None,
        )
        .await;
    assert_eq!(
        one["results"],
        json!({"missing": {"value": null, "variation": null, "reason": "ERROR", "error_code": "FLAG_NOT_FOUND"}})
    );
    let (status, _, _) = stack
        .edge_post(
            "/api/evaluate",
            "hal_cli_unknown",
            r#"{"context": {}}"#,
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn ofrep_single_and_bulk_follow_the_spec(pool: PgPool) {
    let (stack, _, client_key) = evaluation_stack(pool).await;
    let context = r#"{"context": {"targetingKey": "u1", "country": "FR"}}"#;

    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags/checkout",
            &client_key,
            context,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_valid("serverEvaluationSuccess", &body);
    assert_eq!(
        (
            body["key"].clone(),
            body["reason"].clone(),
            body["variant"].clone(),
            body["value"].clone()
        ),
        (
            json!("checkout"),
            json!("SPLIT"),
            json!("true"),
            json!(true)
        )
    );

    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags/banner",
            &client_key,
            context,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_valid("serverEvaluationSuccess", &body);
    assert_eq!(
        body["reason"], "DISABLED",
        "PREREQUISITE_FAILED has no OFREP twin"
    );
    assert_eq!(
        body["metadata"],
        json!({"halyardReason": "PREREQUISITE_FAILED", "prerequisite": "dormant"})
    );

    let (status, _, body) = stack
        .edge_post("/ofrep/v1/evaluate/flags/nope", &client_key, context, None)
        .await;
    assert_eq!(status, 404);
    assert_valid("flagNotFound", &body);
    assert_eq!(body["errorCode"], "FLAG_NOT_FOUND");

    // A missing targeting key fails only the flags that need one.
    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags/checkout",
            &client_key,
            r#"{"context": {"country": "FR"}}"#,
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_valid("evaluationFailure", &body);
    assert_eq!(body["errorCode"], "TARGETING_KEY_MISSING");
    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags/dormant",
            &client_key,
            r#"{"context": {"country": "FR"}}"#,
            None,
        )
        .await;
    assert_eq!(
        (status, body["reason"].clone()),
        (200, json!("DISABLED")),
        "a disabled flag needs no key: {body}"
    );

    for (input, code) in [
        ("{", "PARSE_ERROR"),
        (r#"{"ctx": {}}"#, "PARSE_ERROR"),
        (r#"{"context": {"targetingKey": 7}}"#, "INVALID_CONTEXT"),
    ] {
        let (status, _, body) = stack
            .edge_post(
                "/ofrep/v1/evaluate/flags/checkout",
                &client_key,
                input,
                None,
            )
            .await;
        assert_eq!(
            (status, body["errorCode"].clone()),
            (400, json!(code)),
            "{input}: {body}"
        );
        assert_valid("evaluationFailure", &body);
    }
    let big = format!(
        r#"{{"context": {{"targetingKey": "u1", "pad": "{}"}}}}"#,
        "x".repeat(65 * 1024)
    );
    let (status, _, _) = stack
        .edge_post("/ofrep/v1/evaluate/flags/checkout", &client_key, &big, None)
        .await;
    assert_eq!(status, 413, "a 65 KiB context");

    // Bulk: every flag, schema-valid, with an ETag that yields 304.
    let (status, headers, body) = stack
        .edge_post("/ofrep/v1/evaluate/flags", &client_key, context, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_valid("bulkEvaluationSuccess", &body);
    let keys: Vec<&str> = body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["banner", "checkout", "dormant"]);
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, _) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags",
            &client_key,
            context,
            Some(&etag),
        )
        .await;
    assert_eq!(status, 304, "same epoch, revision and context");
    let (status, _, _) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags",
            &client_key,
            r#"{"context": {"targetingKey": "u2"}}"#,
            Some(&etag),
        )
        .await;
    assert_eq!(status, 200, "another context is another ETag");
    let (status, _, body) = stack
        .edge_post(
            "/ofrep/v1/evaluate/flags",
            &client_key,
            r#"{"context": {"targetingKey": 1}}"#,
            None,
        )
        .await;
    assert_eq!(
        (status, body["errorCode"].clone()),
        (400, json!("INVALID_CONTEXT"))
    );
    assert_valid("bulkEvaluationFailure", &body);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn cors_preflight_needs_no_key_and_exposes_revision_headers(pool: PgPool) {
    let (stack, _, client_key) = evaluation_stack(pool).await;
    let preflight = stack
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/ofrep/v1/evaluate/flags", stack.edge),
        )
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "x-api-key, content-type")
        .send()
        .await
        .unwrap();
    assert!(
        preflight.status().is_success(),
        "preflight without a key: {}",
        preflight.status()
    );
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("x-api-key"), "{allowed}");

    let response = stack
        .http
        .post(format!("{}/ofrep/v1/evaluate/flags", stack.edge))
        .header("Origin", "https://app.example")
        .header("X-API-Key", &client_key)
        .header("Content-Type", "application/json")
        .body(r#"{"context": {"targetingKey": "u1"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("x-halyard-revision"),
        "{exposed}"
    );
}
