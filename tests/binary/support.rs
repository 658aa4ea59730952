//! Runs the built `halyard` binary as a subprocess: JSON logs on stdout
//! are read line by line on a thread, so a test can wait for a given line
//! (every wait bounded) and read what the process printed.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection as _;

/// Every wait gives up after this long.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A running `halyard` process; killed when dropped.
pub struct Halyard {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stdout line read so far.
    pub seen: Vec<String>,
}

impl Halyard {
    /// Starts `halyard args...` with `env` (JSON logs, nothing inherited
    /// that starts with `HALYARD_`).
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_halyard"));
        command
            .args(args)
            .env("HALYARD_LOG_FORMAT", "json")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, _) in std::env::vars() {
            if name.starts_with("HALYARD_") && name != "HALYARD_LOG_FORMAT" {
                command.env_remove(name);
            }
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the halyard binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a JSON log line whose message contains `message`; returns
    /// its fields.
    pub fn wait_for_log(&mut self, message: &str) -> Value {
        let started = Instant::now();
        loop {
            let remaining = DEADLINE.checked_sub(started.elapsed()).unwrap_or_else(|| {
                panic!("no log {message:?} within {DEADLINE:?}: {:#?}", self.seen)
            });
            let line = self
                .lines
                .recv_timeout(remaining)
                .unwrap_or_else(|_| panic!("no log {message:?} (output: {:#?})", self.seen));
            self.seen.push(line.clone());
            if let Ok(log) = serde_json::from_str::<Value>(&line)
                && log["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(message))
            {
                return log["fields"].clone();
            }
        }
    }

    /// The plaintext printed next to `label` at first start, if any.
    pub fn printed_key(&self, label: &str) -> Option<String> {
        self.seen.iter().find_map(|line| {
            let rest = line.trim_start().strip_prefix(label)?;
            rest.split_whitespace().last().map(str::to_owned)
        })
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for halyard") {
                return status;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "halyard did not stop within {DEADLINE:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Halyard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `halyard args...` to completion; returns its status and stderr
/// and stdout together.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_halyard"));
    command.args(args).stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("HALYARD_") {
            command.env_remove(name);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("the halyard binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    (output.status, text)
}

/// `http://` + the address a log line's `field` names.
pub fn url(fields: &Value, field: &str) -> String {
    format!(
        "http://{}",
        fields[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {fields}"))
    )
}

/// Waits until `GET url` answers 200.
pub async fn wait_ready(http: &reqwest::Client, url: &str) {
    let started = Instant::now();
    loop {
        if http.get(url).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{url} not ready within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An SSE stream's frames, read with a bounded wait.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// Opens `url` (a stream route with `?key=`).
    pub async fn open(http: &reqwest::Client, url: &str) -> Self {
        let response = http.get(url).send().await.expect("the stream opens");
        assert_eq!(response.status(), 200, "{url}");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// Reads until an event of type `event` whose data satisfies `wanted`.
    pub async fn until(&mut self, event: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let kind = frame
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or("message");
                let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
                if kind == event
                    && let Some(data) = data.and_then(|d| serde_json::from_str(d).ok())
                    && wanted(&data)
                {
                    return data;
                }
            }
            let remaining = DEADLINE
                .checked_sub(started.elapsed())
                .unwrap_or_else(|| panic!("no {event} within {DEADLINE:?}"));
            let chunk = tokio::time::timeout(remaining, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {event} within {DEADLINE:?}"))
                .expect("the stream reads")
                .unwrap_or_else(|| panic!("the stream ended before {event}"));
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: point it at PostgreSQL, e.g. \
             postgres://postgres@127.0.0.1:5432/postgres (scripts/test sets it; \
             ./scripts/services starts the server)"
        )
    })
}

/// A PostgreSQL database of this test's own, dropped at the end.
pub struct Database {
    admin_url: String,
    name: String,
}

impl Database {
    pub async fn create() -> Self {
        let admin_url = database_url();
        let name = format!("halyard_bin_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|err| {
                panic!("cannot reach PostgreSQL at {admin_url} ({err}); start it with ./scripts/services")
            });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        Self { admin_url, name }
    }

    pub fn url(&self) -> String {
        let (base, _) = self
            .admin_url
            .rsplit_once('/')
            .expect("DATABASE_URL names a database");
        format!("{base}/{}", self.name)
    }

    pub async fn drop_now(self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("DROP DATABASE");
    }
}

/// Sends `request` and reads its JSON body.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("the request is answered");
    let status = response.status();
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"))
}

/// Creates a flag through the old system's admin API as `admin`.
pub async fn create_legacy_flag(http: &reqwest::Client, base: &str, admin: &str, flag: Value) {
    let response = http
        .post(format!("{base}/api/admin/flags"))
        .header("X-Admin-API-Key", admin)
        .json(&flag)
        .send()
        .await
        .expect("the control plane answers");
    assert_eq!(response.status(), 201, "creating {flag}");
}

/// The value `key` evaluates to for `user` on `base`, with SDK key `sdk`.
pub async fn evaluate(
    http: &reqwest::Client,
    base: &str,
    sdk: &str,
    key: &str,
    user: &str,
) -> Value {
    let evaluated = json_of(
        http.post(format!("{base}/api/evaluate"))
            .header("X-SDK-Key", sdk)
            .json(&serde_json::json!({"flag": key, "context": {"targetingKey": user}})),
    )
    .await;
    evaluated["results"][key]["value"].clone()
}

/// `halyard control-plane` on free ports with `env`, once ready: the process
/// and the admin API's base URL.
pub async fn start_control_plane(
    http: &reqwest::Client,
    env: &[(&str, &str)],
) -> (Halyard, String) {
    let mut process = Halyard::start(
        &[
            "control-plane",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        env,
    );
    let base = url(&process.wait_for_log("control plane listening"), "api");
    wait_ready(http, &format!("{base}/readyz")).await;
    (process, base)
}

/// `halyard edge` on free ports with `env`, once ready: the process and its
/// base URL.
pub async fn start_edge(http: &reqwest::Client, env: &[(&str, &str)]) -> (Halyard, String) {
    let mut process = Halyard::start(
        &[
            "edge",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        env,
    );
    let base = url(&process.wait_for_log("edge listening"), "address");
    wait_ready(http, &format!("{base}/readyz")).await;
    (process, base)
}

/// Creates a `production` server key through the admin API; its plaintext.
pub async fn create_server_key(
    http: &reqwest::Client,
    admin: &str,
    admin_key: &str,
    name: &str,
) -> String {
    let key = json_of(
        http.post(format!("{admin}/api/admin/keys"))
            .header("X-Admin-API-Key", admin_key)
            .json(
                &serde_json::json!({"name": name, "kind": "server", "environment": "production"}),
            ),
    )
    .await;
    key["plaintext"]
        .as_str()
        .unwrap_or_else(|| panic!("a server key: {key}"))
        .to_owned()
}
