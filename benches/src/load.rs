//! The load generator of the load runs (`edge-load`, `cluster-load`):
//! keep-alive HTTP/1.1 connections on hyper's client, one request at a time
//! per connection, with latency percentiles.
//!
//! [`load`] sends one kind of request; [`load_mix`] interleaves several
//! kinds by weight on every connection and measures each kind and the whole.
//! A connection the server closes (`Connection: close`, e.g. nginx's
//! `keepalive_requests`) is replaced without counting as an error; an
//! unexpected status, a transport error after the request was sent, or no
//! response by 10 s after the measured window counts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONNECTION, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One request and the status it must get.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server.
    pub addr: SocketAddr,
    /// The request method.
    pub method: Method,
    /// The request path (with the query).
    pub path: String,
    headers: HeaderMap,
    body: Bytes,
    expect: StatusCode,
}

/// A whole response.
#[derive(Debug)]
pub struct Fetched {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, as received (not decompressed).
    pub body: Bytes,
}

/// How long and how wide a load run is.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Requests before the measured window are not measured.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Most requests sent (warm-up included), a bound besides the time.
    pub max_requests: usize,
}

/// The result of one load run (or the median of several), for one kind of
/// request or for all of them.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Requests completed in the measured window, per second.
    pub rps: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile latency, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Highest latency, milliseconds.
    pub max_ms: f64,
    /// Requests completed in the measured window.
    pub requests: usize,
    /// Unexpected statuses and transport errors (warm-up included).
    pub errors: usize,
    /// The first of them.
    pub first_error: Option<String>,
}

impl Measured {
    /// The round with the median req/s; errors summed over all rounds.
    pub fn median(mut rounds: Vec<Measured>) -> Measured {
        let errors = rounds.iter().map(|r| r.errors).sum();
        let first_error = rounds.iter().find_map(|r| r.first_error.clone());
        rounds.sort_by(|a, b| a.rps.total_cmp(&b.rps));
        let mut median = rounds.swap_remove(rounds.len() / 2);
        median.errors = errors;
        median.first_error = first_error;
        median
    }

    fn from_latencies(mut latencies: Vec<u32>, window: f64, errors: usize) -> Self {
        latencies.sort_unstable();
        let percentile = |p: f64| {
            if latencies.is_empty() {
                return f64::NAN;
            }
            let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
            f64::from(latencies[index]) / 1000.0
        };
        Measured {
            rps: latencies.len() as f64 / window,
            p50_ms: percentile(0.50),
            p90_ms: percentile(0.90),
            p99_ms: percentile(0.99),
            max_ms: latencies
                .last()
                .map_or(f64::NAN, |&max| f64::from(max) / 1000.0),
            requests: latencies.len(),
            errors,
            first_error: None,
        }
    }
}

impl Target {
    /// A request to `addr` (also its `Host`) with `headers` and `body`,
    /// expected to answer `expect`.
    pub fn new(
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
    pub async fn fetch(&self) -> anyhow::Result<Fetched> {
        let mut sender = connect(self.addr).await?;
        sender.ready().await?;
        send(&mut sender, self.request()).await
    }
}

/// A keep-alive connection (its driver runs on its own task).
pub async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
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
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Fetched {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// One kind of request in a mix: its share, and the requests it cycles through.
#[derive(Debug, Clone)]
pub struct Kind {
    /// Its name in reports.
    pub name: String,
    /// Its share of the requests (relative to the other kinds' weights).
    pub weight: usize,
    /// The requests of this kind, sent in turn (e.g. different contexts).
    pub targets: Vec<Target>,
}

/// The result of [`load_mix`].
#[derive(Debug, Clone)]
pub struct Mixed {
    /// One per kind, in the order given.
    pub kinds: Vec<Measured>,
    /// All kinds together (its errors include connections that could not
    /// be opened, which no kind is blamed for).
    pub overall: Measured,
    /// Connections opened (the initial ones and their replacements).
    pub connections_opened: usize,
}

#[derive(Default)]
struct WorkerResult {
    /// Per kind: latencies in microseconds of the requests completed in the window.
    latencies: Vec<Vec<u32>>,
    /// Per kind: unexpected statuses and transport errors.
    errors: Vec<usize>,
    first_errors: Vec<Option<String>>,
    /// When the last request of the window completed.
    last: Option<Instant>,
    connections: usize,
    /// Connections that could not be opened (no request kind to blame).
    connect_errors: usize,
    first_connect_error: Option<String>,
}

impl WorkerResult {
    fn new(kinds: usize) -> Self {
        Self {
            latencies: vec![Vec::new(); kinds],
            errors: vec![0; kinds],
            first_errors: vec![None; kinds],
            ..Self::default()
        }
    }

    fn error(&mut self, kind: usize, message: String) {
        self.errors[kind] += 1;
        self.first_errors[kind].get_or_insert(message);
    }
}

/// Runs `target` with `options.connections` connections: a warm-up, then the
/// measured window; stops at the window's end or after `max_requests`.
pub async fn load(target: Arc<Target>, options: &LoadOptions) -> Measured {
    let kind = Kind {
        name: String::new(),
        weight: 1,
        targets: vec![(*target).clone()],
    };
    load_mix(vec![kind], options).await.overall
}

/// Which kind, and which of its targets, the `n`th request of a run is:
/// kinds interleave by weight (a fixed schedule of `sum(weights)` slots),
/// and each kind cycles through its targets.
fn pick<'a>(kinds: &'a [Kind], slots: &[usize], n: usize) -> (usize, &'a Target) {
    let kind = slots[n % slots.len()];
    let targets = &kinds[kind].targets;
    (kind, &targets[(n / slots.len()) % targets.len()])
}

/// The kinds' slots of the schedule, spread out: slot `i` goes to the kind
/// furthest behind its share (so 40/30/30 is not 40 in a row).
fn schedule(kinds: &[Kind]) -> Vec<usize> {
    let total: usize = kinds.iter().map(|k| k.weight).sum();
    let mut given = vec![0usize; kinds.len()];
    (0..total)
        .map(|slot| {
            let kind = (0..kinds.len())
                .filter(|&k| given[k] < kinds[k].weight)
                .max_by(|&a, &b| {
                    let behind = |k: usize| {
                        (slot + 1) as f64 * kinds[k].weight as f64 / total as f64 - given[k] as f64
                    };
                    behind(a).total_cmp(&behind(b)).then(b.cmp(&a))
                })
                .expect("a kind has slots left");
            given[kind] += 1;
            kind
        })
        .collect()
}

/// How long after the measured window a request may still take (it then
/// counts as an error): keeps every run bounded in time.
const LATE: Duration = Duration::from_secs(10);

/// Runs the `kinds` interleaved by weight on each of `options.connections`
/// connections (one request at a time each): a warm-up, then the measured
/// window; stops at the window's end or after `max_requests`. A request
/// still unanswered 10 s after the window's end counts as an error.
///
/// # Panics
///
/// When no kind has a positive weight and a target.
pub async fn load_mix(kinds: Vec<Kind>, options: &LoadOptions) -> Mixed {
    let kinds: Arc<[Kind]> = kinds.into();
    assert!(
        kinds.iter().any(|k| k.weight > 0) && kinds.iter().all(|k| !k.targets.is_empty()),
        "a load needs a kind with a positive weight, and every kind a target"
    );
    let slots: Arc<[usize]> = schedule(&kinds).into();
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    // Nothing waits past this: a request still unanswered is an error.
    let late = tokio::time::Instant::from_std(end + LATE);
    let issued = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..options.connections)
        .map(|_| {
            let (kinds, slots, issued) =
                (Arc::clone(&kinds), Arc::clone(&slots), Arc::clone(&issued));
            let max = options.max_requests;
            tokio::spawn(async move {
                let mut result = WorkerResult::new(kinds.len());
                'connection: while Instant::now() < end {
                    let connected =
                        tokio::time::timeout_at(late, connect(kinds[0].targets[0].addr)).await;
                    let mut sender = match connected {
                        Ok(Ok(sender)) => sender,
                        Err(_) => {
                            result.connect_errors += 1;
                            result.first_connect_error.get_or_insert(format!(
                                "connecting: not within {LATE:?} after the window's end"
                            ));
                            break;
                        }
                        Ok(Err(e)) => {
                            result.connect_errors += 1;
                            result.first_connect_error.get_or_insert(format!("{e:#}"));
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    result.connections += 1;
                    loop {
                        // Closed by the server after its last response: nothing
                        // was sent on it, so this is not an error.
                        match tokio::time::timeout_at(late, sender.ready()).await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => continue 'connection,
                            Err(_) => break 'connection,
                        }
                        if Instant::now() >= end {
                            break 'connection;
                        }
                        let n = issued.fetch_add(1, Ordering::Relaxed);
                        if n >= max {
                            break 'connection;
                        }
                        let (kind, target) = pick(&kinds, &slots, n);
                        let sent = Instant::now();
                        let response =
                            tokio::time::timeout_at(late, send(&mut sender, target.request()))
                                .await
                                .unwrap_or_else(|_| {
                                    Err(anyhow::anyhow!(
                                        "no response within {LATE:?} after the window's end"
                                    ))
                                });
                        let done = Instant::now();
                        match response {
                            Ok(r) if r.status == target.expect => {
                                if done >= measure_from && done < end {
                                    let micros = (done - sent).as_micros();
                                    result.latencies[kind]
                                        .push(micros.min(u128::from(u32::MAX)) as u32);
                                    result.last = Some(done);
                                }
                                let closing = r
                                    .headers
                                    .get(CONNECTION)
                                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                                if closing {
                                    continue 'connection;
                                }
                            }
                            Ok(r) => result.error(
                                kind,
                                format!(
                                    "{} {}: status {} (expected {}): {}",
                                    target.method,
                                    target.path,
                                    r.status,
                                    target.expect,
                                    String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                                ),
                            ),
                            Err(e) => {
                                result.error(
                                    kind,
                                    format!("{} {}: {e:#}", target.method, target.path),
                                );
                                continue 'connection;
                            }
                        }
                    }
                }
                result
            })
        })
        .collect();
    let mut total = WorkerResult::new(kinds.len());
    let mut last = measure_from;
    for worker in workers {
        let result = worker.await.expect("a load worker does not panic");
        for kind in 0..kinds.len() {
            total.latencies[kind].extend(&result.latencies[kind]);
            total.errors[kind] += result.errors[kind];
            if total.first_errors[kind].is_none() {
                total.first_errors[kind].clone_from(&result.first_errors[kind]);
            }
        }
        last = last.max(result.last.unwrap_or(measure_from));
        total.connections += result.connections;
        total.connect_errors += result.connect_errors;
        if total.first_connect_error.is_none() {
            total.first_connect_error = result.first_connect_error;
        }
    }
    // The window, shorter when `max_requests` ended the run early.
    let window = if issued.load(Ordering::Relaxed) > options.max_requests {
        (last - measure_from).as_secs_f64()
    } else {
        options.duration.as_secs_f64()
    };
    let all: Vec<u32> = total.latencies.iter().flatten().copied().collect();
    let errors = total.errors.iter().sum::<usize>() + total.connect_errors;
    let mut overall = Measured::from_latencies(all, window, errors);
    overall.first_error = total
        .first_connect_error
        .clone()
        .or_else(|| total.first_errors.iter().flatten().next().cloned());
    let per_kind = total
        .latencies
        .into_iter()
        .zip(total.errors)
        .zip(total.first_errors)
        .map(|((latencies, errors), first_error)| Measured {
            first_error,
            ..Measured::from_latencies(latencies, window, errors)
        })
        .collect();
    Mixed {
        kinds: per_kind,
        overall,
        connections_opened: total.connections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(weight: usize) -> Kind {
        Kind {
            name: String::new(),
            weight,
            targets: vec![Target::new(
                "127.0.0.1:1".parse().unwrap(),
                Method::GET,
                "/",
                Vec::new(),
                Bytes::new(),
                StatusCode::OK,
            )],
        }
    }

    #[test]
    fn the_schedule_gives_each_kind_its_share_interleaved() {
        let kinds = [kind(20), kind(20), kind(30), kind(30)];
        let slots = schedule(&kinds);
        assert_eq!(slots.len(), 100);
        for (k, kind) in kinds.iter().enumerate() {
            assert_eq!(slots.iter().filter(|&&s| s == k).count(), kind.weight);
        }
        // Interleaved: no kind gets more than two slots in a row.
        assert!(slots.windows(3).all(|w| !(w[0] == w[1] && w[1] == w[2])));
    }

    #[test]
    fn a_zero_weight_kind_gets_no_slot() {
        let slots = schedule(&[kind(0), kind(3)]);
        assert_eq!(slots, vec![1, 1, 1]);
    }
}
