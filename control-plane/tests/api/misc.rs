//! Health, readiness and the OpenAPI document.

use sqlx::PgPool;

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "halyard_control_plane::store::postgres::MIGRATOR")]
async fn health_readiness_and_openapi(pool: PgPool) {
    let app = spawn_app(pool).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "a migrated database is ready");
    let (status, doc) = crate::helpers::read(
        app.client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1: {}",
        doc["openapi"]
    );
    for path in [
        "/api/admin/flags",
        "/api/admin/flags/{id}/toggle",
        "/api/admin/environments/{env}/flags/{key}",
        "/api/admin/events",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}
