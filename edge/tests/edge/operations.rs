//! Operating an edge: the key matrix, rate limits, metrics, compression,
//! staleness and saved snapshots through an outage, graceful shutdown.

use std::io::Read as _;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::*;

/// Every SDK route with a body to send (GET when `None`).
const ROUTES: [(&str, Option<&str>); 8] = [
    ("/api/client/flags", None),
    ("/api/client/flags?format=full", None),
    ("/api/client/stream", None),
    ("/api/client/stream?dialect=v2", None),
    ("/api/client/events", None),
    (
        "/api/evaluate",
        Some(r#"{"context": {"targetingKey": "u1"}}"#),
    ),
    (
        "/ofrep/v1/evaluate/flags",
        Some(r#"{"context": {"targetingKey": "u1"}}"#),
    ),
    (
        "/ofrep/v1/evaluate/flags/checkout",
        Some(r#"{"context": {"targetingKey": "u1"}}"#),
    ),
];

async fn call(
    stack: &Stack,
    route: &str,
    body: Option<&str>,
    key: Option<&str>,
) -> reqwest::Response {
    let url = format!("{}{route}", stack.edge);
    let mut request = match body {
        Some(body) => stack
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_owned()),
        None => stack.http.get(url),
    };
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    request.send().await.expect("edge answers")
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn the_key_matrix(pool: PgPool) {
    let (stack, server_key, client_key) = evaluation_stack(pool).await;
    let development = stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/keys",
            Some(json!({"name": "dev", "kind": "server", "environment": "development"})),
        )
        .await;
    let development_key = development["plaintext"].as_str().unwrap().to_owned();
    let (revoked_id, revoked_key) = stack.sdk_key("server").await;
    stack
        .http
        .delete(format!(
            "{}/api/admin/keys/{revoked_id}",
            stack.control_plane
        ))
        .header("X-Admin-API-Key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    // Wait until the revocation and the development key are on the edge.
    let started = tokio::time::Instant::now();
    while call(&stack, "/api/client/flags", None, Some(&revoked_key))
        .await
        .status()
        != 401
        || call(&stack, "/api/client/flags", None, Some(&development_key))
            .await
            .status()
            != 200
    {
        assert!(
            started.elapsed() < DEADLINE,
            "the revocation did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Every route is in the OpenAPI document the edge serves.
    let openapi: Value = stack
        .http
        .get(format!("{}/api/openapi.json", stack.edge))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (route, _) in ROUTES {
        let path = route
            .split('?')
            .next()
            .unwrap()
            .replace("/checkout", "/{key}");
        assert!(
            openapi["paths"].get(&path).is_some(),
            "{path} is documented"
        );
    }

    for (route, body) in ROUTES {
        let client_allowed = body.is_some() || route == "/api/client/events";
        for (who, key, expected) in [
            ("server key", Some(server_key.as_str()), 200),
            (
                "client key",
                Some(client_key.as_str()),
                if client_allowed { 200 } else { 403 },
            ),
            ("no key", None, 401),
            ("revoked key", Some(revoked_key.as_str()), 401),
            ("unknown key", Some("hal_srv_not-a-key"), 401),
        ] {
            let response = call(&stack, route, body, key).await;
            assert_eq!(response.status(), expected, "{who} on {route}");
            if expected != 200 {
                let error: Value = response.json().await.unwrap();
                let code = if expected == 401 {
                    "unauthorized"
                } else {
                    "forbidden"
                };
                assert_eq!(error["error"], code, "{who} on {route}");
                assert!(error["message"].as_str().unwrap().contains("key"));
            }
        }
    }
    // A key only ever sees its own environment.
    let config: Value = call(
        &stack,
        "/api/client/flags?format=full",
        None,
        Some(&development_key),
    )
    .await
    .json()
    .await
    .unwrap();
    let production: Value = call(
        &stack,
        "/api/client/flags?format=full",
        None,
        Some(&server_key),
    )
    .await
    .json()
    .await
    .unwrap();
    let checkout = |body: &Value| {
        body["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["flag"]["key"] == "checkout")
            .expect("checkout is in every environment")["config"]["enabled"]
            .clone()
    };
    assert_eq!(
        (&production["environment"], checkout(&production)),
        (&json!("production"), json!(true))
    );
    assert_eq!(
        (&config["environment"], checkout(&config)),
        (&json!("development"), json!(false))
    );
    let response = call(
        &stack,
        "/ofrep/v1/evaluate/flags/checkout",
        ROUTES[7].1,
        Some(&development_key),
    )
    .await;
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["reason"], "DISABLED", "{result}");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_rate_limited_key_gets_429_with_retry_after(pool: PgPool) {
    let mut stack = control_plane(pool).await;
    let edge = stack
        .spawn_edge(EdgeOptions {
            rate_limit: Some(2),
            ..EdgeOptions::default()
        })
        .await;
    stack.adopt(edge);
    let (_, limited) = stack.sdk_key("server").await;
    let (_, other) = stack.sdk_key("server").await;
    stack.wait_for(&other, "the keys", |_| true).await;
    let mut refused = None;
    for _ in 0..20 {
        let response = stack
            .edge_get("/api/client/flags", Some(&limited), None)
            .await;
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("a key over 2 requests/s is refused within 20 requests");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("an integer Retry-After");
    assert_eq!(retry_after, 1, "2 requests/s: the next one within a second");
    assert!(refused.headers().contains_key("x-halyard-revision"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // The limit is per key.
    let response = stack
        .edge_get("/api/client/flags", Some(&other), None)
        .await;
    assert_eq!(response.status(), 200);
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn metrics_compression_and_graceful_shutdown(pool: PgPool) {
    let (stack, server_key, client_key) = evaluation_stack(pool).await;
    let edge = stack.spawn_edge(EdgeOptions::default()).await;
    let base = edge.url.clone();
    edge.ready(&stack.http).await;
    let mut stream = Frames::open_at(
        &stack,
        &format!("{base}/api/client/stream?dialect=v2"),
        &server_key,
        None,
    )
    .await;
    assert_eq!(stream.next("the put").await.unwrap().event, "put");
    for _ in 0..3 {
        let response = stack
            .http
            .post(format!("{base}/ofrep/v1/evaluate/flags/checkout"))
            .header("X-API-Key", &client_key)
            .body(r#"{"context": {"targetingKey": "u1"}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Compression: the same configuration in brotli and gzip.
    let plain = stack
        .http
        .get(format!("{base}/api/client/flags?format=full"))
        .header("X-SDK-Key", &server_key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    for coding in ["br", "gzip"] {
        let response = stack
            .http
            .get(format!("{base}/api/client/flags?format=full"))
            .header("X-SDK-Key", &server_key)
            .header("Accept-Encoding", coding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-encoding"], coding);
        let compressed = response.bytes().await.unwrap();
        assert!(compressed.len() < plain.len());
        let mut decoded = Vec::new();
        if coding == "br" {
            brotli::Decompressor::new(&compressed[..], 4096)
                .read_to_end(&mut decoded)
                .unwrap();
        } else {
            flate2::read::GzDecoder::new(&compressed[..])
                .read_to_end(&mut decoded)
                .unwrap();
        }
        assert_eq!(decoded, plain, "{coding} decodes to the same configuration");
    }
    // A change, so the propagation lag has an observation.
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "measured"})),
        )
        .await;
    assert_eq!(stream.next("the patch").await.unwrap().event, "patch");

    let text = stack
        .http
        .get(&edge.metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let revision = metric(
        &text,
        "halyard_edge_snapshot_revision{environment=\"production\"}",
    )
    .expect("the revision gauge");
    assert!(revision >= 1.0, "{text}");
    assert_eq!(
        metric(&text, "halyard_edge_sse_open_streams{dialect=\"v2\"}"),
        Some(1.0)
    );
    assert!(metric(&text, "halyard_edge_propagation_lag_seconds_count").unwrap() >= 1.0);
    assert_eq!(
        metric(
            &text,
            "halyard_edge_evaluations_total{environment=\"production\",flag=\"checkout\",variation=\"true\"}"
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "halyard_edge_http_requests_total{method=\"POST\",route=\"/ofrep/v1/evaluate/flags/{key}\",status=\"200\"}"
        ),
        Some(3.0)
    );
    assert!(text.contains("halyard_edge_http_request_duration_seconds_bucket"));
    assert_eq!(metric(&text, "halyard_edge_stale_seconds"), Some(0.0));

    // Shutdown: the stream gets a retry and ends; the edge drains and stops.
    let stopping = tokio::spawn(edge.shut_down());
    let retry = stream.next("the retry").await.expect("a retry frame");
    assert_eq!(retry.retry, Some(1000));
    assert!(stream.next("the end").await.is_none(), "the stream closes");
    stopping.await.unwrap();
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn saved_snapshots_serve_through_an_outage_with_their_age(pool: PgPool) {
    let mut redis = crate::redis_server::RedisServer::new();
    let stack = control_plane_on(pool, redis.url()).await;
    let dir = std::env::temp_dir().join(format!("halyard-edge-{}", uuid::Uuid::now_v7().simple()));
    let redis_url = redis.url();
    let options = || EdgeOptions {
        redis: Some(redis_url.clone()),
        snapshot_dir: Some(dir.clone()),
        ..EdgeOptions::default()
    };
    let edge = stack.spawn_edge(options()).await;
    let (_, key) = stack.sdk_key("server").await;
    stack
        .admin(
            reqwest::Method::POST,
            "/api/admin/flags",
            Some(json!({"key": "kept", "enabled": true, "rollout_percentage": 40})),
        )
        .await;
    let get = |base: String| {
        let key = key.clone();
        let http = stack.http.clone();
        async move {
            http.get(format!("{base}/api/client/flags"))
                .header("X-SDK-Key", key)
                .send()
                .await
                .unwrap()
        }
    };
    // In sync: no age header; the snapshot reaches the disk within a second or so.
    let started = tokio::time::Instant::now();
    loop {
        let response = get(edge.url.clone()).await;
        let saved =
            std::fs::read_to_string(dir.join("production.snapshot.json")).unwrap_or_default();
        if response.status() == 200 && saved.contains("\"kept\"") {
            assert!(!response.headers().contains_key("x-halyard-snapshot-age"));
            break;
        }
        assert!(started.elapsed() < DEADLINE, "the snapshot was not saved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Redis goes away: the edge keeps serving and says how stale it may be.
    redis.stop();
    let started = tokio::time::Instant::now();
    loop {
        let response = get(edge.url.clone()).await;
        assert_eq!(response.status(), 200, "served during the outage");
        if let Some(age) = response.headers().get("x-halyard-snapshot-age") {
            age.to_str().unwrap().parse::<u64>().expect("whole seconds");
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no staleness header during the outage"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    edge.shut_down().await;

    // A new edge with Redis and the control plane both unreachable starts
    // from the saved snapshot.
    let restarted = stack.spawn_edge(options()).await;
    let started = tokio::time::Instant::now();
    let body: Value = loop {
        let response = get(restarted.url.clone()).await;
        if response.status() == 200 {
            assert!(response.headers().contains_key("x-halyard-snapshot-age"));
            break response.json().await.unwrap();
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the saved snapshot was not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(flag(&body, "kept").unwrap()["rollout_percentage"], 40);
    let ready = stack
        .http
        .get(format!("{}/readyz", restarted.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // Redis returns: the edge catches up and is no longer stale.
    redis.start();
    let started = tokio::time::Instant::now();
    loop {
        let response = get(restarted.url.clone()).await;
        if !response.headers().contains_key("x-halyard-snapshot-age") {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the edge did not resync after the outage"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(restarted);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `request` on a new connection and reads until `until` arrives (or
/// the connection closes); returns what was read, and the connection.
async fn raw(edge: &str, request: &str, until: &str) -> (String, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = edge.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut read = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    while !String::from_utf8_lossy(&read).contains(until) {
        let n = tokio::time::timeout(DEADLINE, socket.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("no {until:?} within {DEADLINE:?}: {request}"))
            .unwrap();
        if n == 0 {
            break;
        }
        read.extend_from_slice(&chunk[..n]);
    }
    (String::from_utf8_lossy(&read).into_owned(), socket)
}

/// Stream connections are served without hyper's buffers when the stream
/// is the connection's first request (docs/protocol.md §7.4); every other
/// way a client may ask for one still works, and a client that goes away
/// frees its stream.
#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn streams_arrive_every_way_and_leave_when_the_client_does(pool: PgPool) {
    let (stack, server_key, _) = evaluation_stack(pool).await;
    let edge = stack.spawn_edge(EdgeOptions::default()).await;
    edge.ready(&stack.http).await;
    let stream = format!("/api/client/stream?dialect=v2&key={server_key}");
    let open_streams = || async {
        let text = stack
            .http
            .get(&edge.metrics)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metric(&text, "halyard_edge_sse_open_streams{dialect=\"v2\"}").unwrap_or(0.0)
    };

    // The first request of a connection: chunked, and the connection closes
    // when the stream does.
    let (head, socket) = raw(
        &edge.url,
        &format!("GET {stream} HTTP/1.1\r\nHost: edge\r\n\r\n"),
        "event: put",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    for header in [
        "content-type: text/event-stream",
        "transfer-encoding: chunked",
        "connection: close",
        "x-halyard-revision: ",
        "access-control-allow-origin: *",
    ] {
        assert!(head.contains(header), "{header} in {head}");
    }
    assert_eq!(open_streams().await, 1.0);
    drop(socket);
    let started = tokio::time::Instant::now();
    while open_streams().await != 0.0 {
        assert!(
            started.elapsed() < DEADLINE,
            "the closed stream was not freed"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Refused on the same path: a complete JSON error.
    let (refused, _) = raw(
        &edge.url,
        "GET /api/client/stream HTTP/1.1\r\nHost: edge\r\nX-SDK-Key: hal_srv_not-a-key\r\n\r\n",
        "}",
    )
    .await;
    assert!(
        refused.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{refused}"
    );
    let (head, body) = refused.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    let error: Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["error"], "unauthorized");

    // After another request on a keep-alive connection, and over HTTP/1.0.
    let (pipelined, _) = raw(
        &edge.url,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\nGET {stream} HTTP/1.1\r\nHost: edge\r\n\r\n"
        ),
        "event: put",
    )
    .await;
    assert!(pipelined.contains("event: put"), "{pipelined}");
    let (old, _) = raw(
        &edge.url,
        &format!("GET {stream} HTTP/1.0\r\n\r\n"),
        "event: put",
    )
    .await;
    assert!(old.starts_with("HTTP/1.0 200 OK\r\n"), "{old}");
    assert!(old.contains("event: put"), "{old}");
}
