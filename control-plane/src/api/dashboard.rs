//! The dashboard: the admin UI's files, built into the binary by
//! `build.rs`, served at `/` on the admin API's origin (so its session
//! cookie and the API share it). Paths that are not files get `index.html`
//! (the app routes in the browser), except under `/api/`, where an unknown
//! route is a JSON 404.

use axum::Router;
use axum::extract::Request;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tower_http::compression::CompressionLayer;

use crate::error::Error;
use crate::state::AppState;

/// One built file.
#[derive(Debug)]
pub(crate) struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

/// Whether this binary carries the dashboard (`HALYARD_SKIP_DASHBOARD`
/// builds one without it).
pub fn built() -> bool {
    !ASSETS.is_empty()
}

/// Scripts and styles only from this origin (Mantine sets inline style
/// attributes), no framing, no referrer.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

const WITHOUT_UI: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Halyard</title></head>\
<body><h1>Halyard</h1><p>This <code>halyard</code> binary was built without the dashboard \
(<code>HALYARD_SKIP_DASHBOARD</code>). Build it with Node.js 20+ installed to get the admin UI here.</p>\
<p>The admin API is at <code>/api/admin/</code>; its description at <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p></body></html>";

/// `router` with the dashboard as its fallback (compressed: the bundle is
/// text).
pub fn router(router: Router<AppState>) -> Router<AppState> {
    router.fallback_service(any(serve).layer(CompressionLayer::new()))
}

fn wants_html(request: &Request) -> bool {
    request
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html") || accept.contains("*/*"))
}

async fn serve(request: Request) -> Response {
    let path = request.uri().path();
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    if !readable || path.starts_with("/api/") || path == "/api" {
        return Error::NotFound(format!("route {} {path}", request.method())).into_response();
    }
    if let Some(asset) = ASSETS
        .iter()
        .find(|a| a.path == path && a.path != "/index.html")
    {
        // Vite names built files by content hash: they never change.
        let cache = if path.starts_with("/assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return respond(asset.content_type, asset.bytes, cache);
    }
    if path.starts_with("/assets/") || !wants_html(&request) {
        return Error::NotFound(format!("file {path}")).into_response();
    }
    match ASSETS.iter().find(|a| a.path == "/index.html") {
        Some(index) => respond(index.content_type, index.bytes, "no-cache"),
        None => respond(
            "text/html; charset=utf-8",
            WITHOUT_UI.as_bytes(),
            "no-cache",
        ),
    }
}

fn respond(content_type: &'static str, bytes: &'static [u8], cache: &'static str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    response
}
