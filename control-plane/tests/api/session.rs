//! Dashboard sign-in: an admin token exchanged for an HttpOnly,
//! SameSite=Strict session cookie; CSRF tokens on cookie-authenticated
//! writes; sessions ending with sign-out, expiry and their token. And the
//! dashboard's files served at `/`.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{ADMIN_KEY, TestApp, assert_error, read, spawn_app};

/// A signed-in browser: its cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
    session: Value,
}

async fn sign_in(app: &TestApp, token: &str) -> Browser {
    let response = app
        .client
        .post(app.url("/api/admin/session"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 201);
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let (_, session) = read(response).await;
    Browser {
        cookie,
        csrf: session["csrf_token"]
            .as_str()
            .expect("a CSRF token")
            .to_owned(),
        session,
    }
}

impl Browser {
    fn request(&self, app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
        app.client
            .request(method, app.url(path))
            .header(COOKIE, &self.cookie)
    }

    /// A state-changing request as the dashboard sends it.
    async fn send(&self, app: &TestApp, method: Method, path: &str, body: Value) -> (u16, Value) {
        send(
            self.request(app, method, path)
                .header("X-CSRF-Token", &self.csrf)
                .json(&body),
        )
        .await
    }
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    read(request.send().await.expect("request sent")).await
}

fn flag(key: &str) -> Value {
    json!({ "key": key, "kind": "boolean" })
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn a_token_becomes_an_http_only_strict_cookie_that_signs_requests_in(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app
        .client
        .post(app.url("/api/admin/session"))
        .json(&json!({ "token": ADMIN_KEY }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/api", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP without a proxy saying otherwise: {cookie}"
    );
    let body = response.text().await.unwrap();
    assert!(!body.contains(ADMIN_KEY), "the token is not echoed: {body}");
    assert!(
        !cookie.contains(ADMIN_KEY),
        "the cookie is not the token: {cookie}"
    );

    let browser = sign_in(&app, ADMIN_KEY).await;
    assert_eq!(browser.session["name"], "bootstrap");
    assert_eq!(browser.session["role"], "admin");
    // After a reload the page reads its session (and CSRF token) back.
    let (status, current) = send(browser.request(&app, Method::GET, "/api/admin/session")).await;
    assert_eq!(status, 200);
    assert_eq!(current["csrf_token"], browser.session["csrf_token"]);
    assert_eq!(current["role"], "admin");
    // Reads need no CSRF token; writes with it work.
    let (status, _) = send(browser.request(&app, Method::GET, "/api/admin/environments")).await;
    assert_eq!(status, 200);
    let (status, created) = browser
        .send(
            &app,
            Method::POST,
            "/api/admin/flag-definitions",
            flag("by-cookie"),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    // The audit log names the token the session was opened with.
    let (_, audit) = app.get("/api/admin/audit?flag=by-cookie").await;
    assert_eq!(audit["items"][0]["actor_name"], "bootstrap", "{audit}");

    // Behind a proxy that terminated TLS, the cookie is Secure.
    let response = app
        .client
        .post(app.url("/api/admin/session"))
        .header("X-Forwarded-Proto", "https")
        .json(&json!({ "token": ADMIN_KEY }))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn cookie_writes_without_the_csrf_token_are_refused_and_change_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let browser = sign_in(&app, ADMIN_KEY).await;
    let head = app.outbox_head().await;

    let missing = send(
        browser
            .request(&app, Method::POST, "/api/admin/flag-definitions")
            .json(&flag("forged")),
    )
    .await;
    assert_error(&missing, 403, "csrf_token_invalid");
    assert!(
        missing.1["message"]
            .as_str()
            .unwrap()
            .contains("X-CSRF-Token")
    );
    let wrong = send(
        browser
            .request(&app, Method::POST, "/api/admin/flag-definitions")
            .header("X-CSRF-Token", "0".repeat(64))
            .json(&flag("forged")),
    )
    .await;
    assert_error(&wrong, 403, "csrf_token_invalid");
    // Another session's token is no good either.
    let other = sign_in(&app, ADMIN_KEY).await;
    assert_ne!(other.csrf, browser.csrf);
    let crossed = send(
        browser
            .request(
                &app,
                Method::PUT,
                "/api/admin/environments/production/flags/x",
            )
            .header("X-CSRF-Token", &other.csrf)
            .json(&json!({})),
    )
    .await;
    assert_error(&crossed, 403, "csrf_token_invalid");
    let signed_out = send(browser.request(&app, Method::DELETE, "/api/admin/session")).await;
    assert_error(&signed_out, 403, "csrf_token_invalid");

    let (_, flags) = app.get("/api/admin/flag-definitions").await;
    assert_eq!(flags["total"], 0, "nothing was created: {flags}");
    assert_eq!(app.outbox_head().await, head, "nothing was published");
    let (status, _) = send(browser.request(&app, Method::GET, "/api/admin/session")).await;
    assert_eq!(status, 200, "the session is still open");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn sessions_carry_their_tokens_role_and_end_with_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (viewer_id, viewer_token) = app
        .create_key(json!({"name": "pm", "kind": "admin", "role": "viewer"}))
        .await;
    let viewer = sign_in(&app, &viewer_token).await;
    assert_eq!(viewer.session["role"], "viewer");
    assert_eq!(viewer.session["name"], "pm");
    let (status, _) = send(viewer.request(&app, Method::GET, "/api/admin/flag-definitions")).await;
    assert_eq!(status, 200);
    let refused = viewer
        .send(
            &app,
            Method::POST,
            "/api/admin/flag-definitions",
            flag("nope"),
        )
        .await;
    assert_error(&refused, 403, "forbidden");

    // Revoking the token ends its sessions.
    let (status, body) =
        send(app.admin(Method::DELETE, &format!("/api/admin/keys/{viewer_id}"))).await;
    assert!((200..300).contains(&status), "revoked: {body}");
    let ended = send(viewer.request(&app, Method::GET, "/api/admin/session")).await;
    assert_error(&ended, 401, "unauthorized");
    let ended = send(viewer.request(&app, Method::GET, "/api/admin/flag-definitions")).await;
    assert_error(&ended, 401, "unauthorized");

    // Signing out ends the session and clears the cookie.
    let admin = sign_in(&app, ADMIN_KEY).await;
    let response = admin
        .request(&app, Method::DELETE, "/api/admin/session")
        .header("X-CSRF-Token", &admin.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let cleared = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("halyard_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let ended = send(admin.request(&app, Method::GET, "/api/admin/session")).await;
    assert_error(&ended, 401, "unauthorized");

    // A session past its end is refused, and forgotten at the next sign-in.
    let secret = "an-expired-session-secret";
    let expired = halyard_control_plane::store::SessionRecord {
        sha256: halyard_control_plane::auth::sha256_hex(secret),
        key_sha256: halyard_control_plane::auth::sha256_hex(ADMIN_KEY),
        created_at: time::OffsetDateTime::now_utc() - time::Duration::hours(13),
        expires_at: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
    };
    app.store.insert_session(&expired).await.unwrap();
    let refused = send(
        app.client
            .get(app.url("/api/admin/session"))
            .header(COOKIE, format!("halyard_session={secret}")),
    )
    .await;
    assert_error(&refused, 401, "unauthorized");
    sign_in(&app, ADMIN_KEY).await;
    assert_eq!(app.store.session(&expired.sha256).await.unwrap(), None);
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn bad_sign_ins_get_clear_errors_and_no_cookie(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (_, sdk_key) = app
        .create_key(json!({"name": "srv", "kind": "server", "environment": "production"}))
        .await;
    let attempt = |body: Value| {
        app.client
            .post(app.url("/api/admin/session"))
            .json(&body)
            .send()
    };
    let check = |response: Response| {
        assert!(response.headers().get(SET_COOKIE).is_none(), "no cookie");
        read(response)
    };
    let unknown = check(attempt(json!({"token": "hal_adm_guess"})).await.unwrap()).await;
    assert_error(&unknown, 401, "unauthorized");
    let sdk = check(attempt(json!({"token": sdk_key})).await.unwrap()).await;
    assert_error(&sdk, 403, "forbidden");
    let missing = check(attempt(json!({})).await.unwrap()).await;
    assert_eq!(missing.0, 400, "{}", missing.1);
    assert!(
        missing.1["message"].as_str().unwrap().contains("token"),
        "{}",
        missing.1
    );
    let extra = check(
        attempt(json!({"token": ADMIN_KEY, "remember": true}))
            .await
            .unwrap(),
    )
    .await;
    assert_error(&extra, 400, "unknown_field");
    let no_cookie = send(app.client.get(app.url("/api/admin/session"))).await;
    assert_error(&no_cookie, 401, "unauthorized");
    let forged = send(
        app.client
            .get(app.url("/api/admin/flag-definitions"))
            .header(COOKIE, "halyard_session=made-up"),
    )
    .await;
    assert_error(&forged, 401, "unauthorized");
}

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn the_dashboard_is_served_at_the_root_and_unknown_api_routes_stay_json(pool: PgPool) {
    let app = spawn_app(pool).await;
    let page = |path: &str| {
        app.client
            .get(app.url(path))
            .header("Accept", "text/html,application/xhtml+xml")
            .send()
    };
    for path in ["/", "/flags/checkout?env=production", "/audit"] {
        let response = page(path).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(headers["cache-control"], "no-cache");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        let html = response.text().await.unwrap();
        assert!(!html.contains(ADMIN_KEY));
        if halyard_control_plane::api::dashboard::built() {
            assert!(html.contains("<div id=\"root\">"), "{path}: {html}");
            // Every file the page loads is served, immutable, with its type.
            let assets: Vec<&str> = html
                .split('"')
                .filter(|part| part.starts_with("/assets/"))
                .collect();
            assert!(!assets.is_empty(), "{html}");
            for asset in assets {
                let response = app.client.get(app.url(asset)).send().await.unwrap();
                assert_eq!(response.status(), 200, "{asset}");
                let cache = response.headers()["cache-control"].to_str().unwrap();
                assert!(cache.contains("immutable"), "{asset}: {cache}");
                let kind = response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let expected = if asset.ends_with(".js") {
                    "text/javascript"
                } else {
                    "text/css"
                };
                assert!(kind.starts_with(expected), "{asset}: {kind}");
            }
        } else {
            assert!(html.contains("built without the dashboard"), "{html}");
        }
    }
    let missing = send(app.client.get(app.url("/assets/missing-0000.js"))).await;
    assert_error(&missing, 404, "not_found");
    let api = send(app.admin(Method::GET, "/api/admin/nothing-here")).await;
    assert_error(&api, 404, "not_found");
    let posted = send(app.client.post(app.url("/"))).await;
    assert_error(&posted, 404, "not_found");
}
