//! The load generator: keep-alive HTTP/1.1 connections on hyper's client,
//! one request at a time per connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One kind of request and the status it must get.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) method: Method,
    pub(crate) path: String,
    headers: HeaderMap,
    body: Bytes,
    expect: StatusCode,
}

/// A whole response.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// How long and how wide a load run is.
#[derive(Debug, Clone)]
pub(crate) struct LoadOptions {
    pub(crate) connections: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) max_requests: usize,
}

/// The result of one load run (or the median of several).
#[derive(Debug, Clone, Default)]
pub(crate) struct Measured {
    /// Requests completed in the measured window, per second.
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Requests completed in the measured window.
    pub(crate) requests: usize,
    /// Unexpected statuses and transport errors (warm-up included).
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
}

impl Measured {
    /// The round with the median req/s; errors summed over all rounds.
    pub(crate) fn median(mut rounds: Vec<Measured>) -> Measured {
        let errors = rounds.iter().map(|r| r.errors).sum();
        let first_error = rounds.iter().find_map(|r| r.first_error.clone());
        rounds.sort_by(|a, b| a.rps.total_cmp(&b.rps));
        let mut median = rounds.swap_remove(rounds.len() / 2);
        median.errors = errors;
        median.first_error = first_error;
        median
    }
}

impl Target {
    pub(crate) fn new(
        addr: SocketAddr,
        method: Method,
        path: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
        expect: StatusCode,
    ) -> Self {
        let mut map = HeaderMap::new();
        map.insert(
            HOST,
            HeaderValue::from_str(&addr.to_string()).expect("an address is a valid host"),
        );
        for (name, value) in headers {
            map.append(name, value);
        }
        Self {
            addr,
            method,
            path: path.to_owned(),
            headers: map,
            body,
            expect,
        }
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.path.parse().expect("a valid path");
        *request.headers_mut() = self.headers.clone();
        request
    }

    /// One request on a fresh connection.
    pub(crate) async fn fetch(&self) -> anyhow::Result<Fetched> {
        let mut sender = connect(self.addr).await?;
        send(&mut sender, self.request()).await
    }
}

/// A keep-alive connection (its driver runs on its own task).
pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<Fetched> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Fetched {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

#[derive(Default)]
struct WorkerResult {
    /// Latencies in microseconds of the requests completed in the window.
    latencies: Vec<u32>,
    /// When the last request of the window completed.
    last: Option<Instant>,
    errors: usize,
    first_error: Option<String>,
}

impl WorkerResult {
    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }
}

/// Runs `target` with `options.connections` connections: a warm-up, then the
/// measured window; stops at the window's end or after `max_requests`.
pub(crate) async fn load(target: Arc<Target>, options: &LoadOptions) -> Measured {
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let issued = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..options.connections)
        .map(|_| {
            let (target, issued) = (Arc::clone(&target), Arc::clone(&issued));
            let max = options.max_requests;
            tokio::spawn(async move {
                let mut result = WorkerResult::default();
                'connection: while Instant::now() < end {
                    let mut sender = match connect(target.addr).await {
                        Ok(sender) => sender,
                        Err(e) => {
                            result.error(format!("{e:#}"));
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    loop {
                        if Instant::now() >= end || issued.fetch_add(1, Ordering::Relaxed) >= max {
                            break 'connection;
                        }
                        let sent = Instant::now();
                        let response = send(&mut sender, target.request()).await;
                        let done = Instant::now();
                        match response {
                            Ok(r) if r.status == target.expect => {
                                if done >= measure_from && done < end {
                                    let micros = (done - sent).as_micros();
                                    result.latencies.push(micros.min(u32::MAX as u128) as u32);
                                    result.last = Some(done);
                                }
                            }
                            Ok(r) => result.error(format!(
                                "status {} (expected {}): {}",
                                r.status,
                                target.expect,
                                String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                            )),
                            Err(e) => {
                                result.error(format!("{e:#}"));
                                continue 'connection;
                            }
                        }
                    }
                }
                result
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    let mut last = measure_from;
    for worker in workers {
        let result = worker.await.expect("a load worker does not panic");
        latencies.extend(result.latencies);
        last = last.max(result.last.unwrap_or(measure_from));
        errors += result.errors;
        if first_error.is_none() {
            first_error = result.first_error;
        }
    }
    latencies.sort_unstable();
    let percentile = |p: f64| {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[index]) / 1000.0
    };
    // The window, shorter when `max_requests` ended the run early.
    let window = if issued.load(Ordering::Relaxed) > options.max_requests {
        (last - measure_from).as_secs_f64()
    } else {
        options.duration.as_secs_f64()
    };
    Measured {
        rps: latencies.len() as f64 / window,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        requests: latencies.len(),
        errors,
        first_error,
    }
}
