//! A private `redis-server` for tests that stop and restart Redis: its own
//! process on a free port, without persistence, killed on drop. Tests that
//! only need *a* Redis should use the machine's with a per-test prefix
//! instead; this one exists for outages.
#![allow(unreachable_pub, dead_code, reason = "shared by several test binaries")]

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long `redis-server` may take to accept connections.
const READY_DEADLINE: Duration = Duration::from_secs(20);

/// A running (or stopped) private `redis-server`.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port.
    #[allow(clippy::new_without_default, reason = "starts a process")]
    pub fn new() -> Self {
        // A port found free can be taken before redis-server binds it; try
        // a few, since another test may be doing the same.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            match spawn(port) {
                Ok(child) => {
                    return Self {
                        port,
                        child: Some(child),
                    };
                }
                Err(err) => last_error = err,
            }
        }
        panic!("cannot start a private redis-server: {last_error}");
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (its data is gone: it has no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same port, empty.
    pub fn start(&mut self) {
        self.stop();
        let child = spawn(self.port)
            .unwrap_or_else(|err| panic!("cannot restart redis-server on {}: {err}", self.port));
        self.child = Some(child);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a free port");
    listener
        .local_addr()
        .expect("bound socket has an address")
        .port()
}

/// Spawns `redis-server` on `port` and waits until it says it accepts
/// connections (its own readiness line, then a PING to be sure).
fn spawn(port: u16) -> Result<Child, String> {
    // Without persistence, a restart is an empty server: the worst case
    // the relay must recover from.
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .args(["--protected-mode", "no"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                panic!(
                    "redis-server is not on PATH; these tests start a private one. \
                     Install it (Debian/Ubuntu: apt-get install redis-server; \
                     macOS: brew install redis)"
                )
            }
            panic!("cannot run redis-server: {err}")
        });

    // Read the log on a thread (it must keep being drained so the server
    // never blocks on a full pipe) and signal the readiness line.
    let stdout = child.stdout.take().expect("stdout is piped");
    let (ready_tx, ready_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut ready = Some(ready_tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("Ready to accept connections")
                && let Some(tx) = ready.take()
            {
                let _ = tx.send(Ok(()));
            }
        }
        if let Some(tx) = ready {
            let _ = tx.send(Err("redis-server exited before it was ready".to_owned()));
        }
    });

    match ready_rx.recv_timeout(READY_DEADLINE) {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("port {port}: {reason}"));
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "port {port}: not ready within {} s",
                READY_DEADLINE.as_secs()
            ));
        }
    }
    ping(port)?;
    Ok(child)
}

fn ping(port: u16) -> Result<(), String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .map_err(|e| format!("port {port}: {e}"))?;
    let mut conn = client
        .get_connection_with_timeout(READY_DEADLINE)
        .map_err(|e| format!("port {port}: cannot connect: {e}"))?;
    let pong: String = redis::cmd("PING")
        .query(&mut conn)
        .map_err(|e| format!("port {port}: PING failed: {e}"))?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(format!("port {port}: PING answered {pong}"))
    }
}
