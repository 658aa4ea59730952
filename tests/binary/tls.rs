//! TLS to PostgreSQL and Redis, as managed services require: a control
//! plane on `sslmode=require` and a private Redis that speaks only TLS
//! (`rediss://`, its certificate verified against `SSL_CERT_FILE`), with an
//! edge on it serving what the control plane wrote.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;

use crate::support::{
    Database, create_legacy_flag, create_server_key, evaluate, start_control_plane, start_edge,
};

/// A redis-server listening only on a TLS port, with a certificate from a
/// private CA (clients trust the CA through `SSL_CERT_FILE`); killed on
/// drop.
struct TlsRedis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private CA (`ca.pem`) and a certificate for localhost signed by it
/// (`cert.pem`, `key.pem`), made with the `openssl` command.
fn openssl(dir: &Path) {
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=halyard-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "cert.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "cert.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "cert.pem",
        ],
    ];
    for args in steps {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs (apt-get install openssl)");
        assert!(status.success(), "openssl {args:?}");
    }
}

impl TlsRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        openssl(dir.path());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args(["--tls-cert-file", "cert.pem", "--tls-key-file", "key.pem"])
            .args(["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "redis-server did not listen on its TLS port (was it built with TLS?)"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("rediss://localhost:{}", self.port)
    }

    /// The CA, for `SSL_CERT_FILE`: the server's certificate is verified.
    fn ca_file(&self) -> String {
        self._dir.path().join("ca.pem").display().to_string()
    }
}

#[tokio::test]
async fn the_control_plane_and_edges_reach_postgresql_and_redis_over_tls() {
    let database = Database::create().await;
    let redis = TlsRedis::start();
    let redis_url = redis.url();
    let ca_file = redis.ca_file();
    let http = reqwest::Client::new();
    let database_url = format!("{}?sslmode=require", database.url());

    let (control_plane, admin) = start_control_plane(
        &http,
        &[
            ("HALYARD_DATABASE_URL", &database_url),
            ("HALYARD_REDIS_URL", &redis_url),
            ("SSL_CERT_FILE", &ca_file),
            ("HALYARD_ADMIN_API_KEY", "admin-secret-key"),
        ],
    )
    .await;

    // Every connection of this database is encrypted.
    let mut probe = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    let (connections, encrypted): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s USING (pid) WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()",
    )
    .fetch_one(&mut probe)
    .await
    .unwrap();
    probe.close().await.unwrap();
    assert!(connections > 0, "the control plane holds connections");
    assert_eq!(
        encrypted, connections,
        "sslmode=require encrypts every connection (does this PostgreSQL have ssl = on?)"
    );

    let server_key = create_server_key(&http, &admin, "admin-secret-key", "tls service").await;
    let (edge, base) = start_edge(
        &http,
        &[
            ("HALYARD_REDIS_URL", &redis_url),
            ("SSL_CERT_FILE", &ca_file),
        ],
    )
    .await;

    create_legacy_flag(
        &http,
        &admin,
        "admin-secret-key",
        json!({"key": "over-tls", "description": "", "enabled": true,
               "rollout_percentage": 0, "targeted_users": ["alice"]}),
    )
    .await;
    // The key and the flag reach the edge through Redis over TLS.
    let started = Instant::now();
    while evaluate(&http, &base, &server_key, "over-tls", "alice").await != json!(true) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the flag did not reach the edge through Redis over TLS"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert!(edge.terminate().success());
    assert!(control_plane.terminate().success());
    database.drop_now().await;
}
