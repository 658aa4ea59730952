//! The SSE clients: half v2 (`?dialect=v2`), half legacy, all through
//! nginx, each a bare TCP connection read continuously with the shared
//! decoder. A change is recognised on a stream by its description
//! (`<marker><n>`) in the data of a v2 `patch` or a legacy `flag_updated`;
//! each (stream, change) pair counts once, at its first arrival.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use halyard_benches::event_stream::{Decoder, SseEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

/// Bytes of each event's data kept: enough for a legacy flag or a v2
/// `patch` of one flag (a `put` is cut, which is fine: it is not searched).
const DATA_LIMIT: usize = 8 * 1024;

/// The two SSE dialects of `GET /api/client/stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    V2,
    Legacy,
}

impl Dialect {
    pub(crate) const BOTH: [Dialect; 2] = [Dialect::V2, Dialect::Legacy];

    pub(crate) fn index(self) -> usize {
        match self {
            Dialect::V2 => 0,
            Dialect::Legacy => 1,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::V2 => "v2",
            Dialect::Legacy => "legacy",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Dialect::V2 => "/api/client/stream?dialect=v2",
            Dialect::Legacy => "/api/client/stream",
        }
    }
}

/// What a stream reports.
enum Event {
    /// Its initial state arrived (v2 `put`, legacy: the first `flag_updated`).
    Opened { dialect: Dialect },
    /// Change `change` arrived at `at`.
    Arrival {
        dialect: Dialect,
        change: usize,
        at: Instant,
    },
    /// An event the run does not expect (a later `put`, a `flag_deleted`, …).
    Unexpected { what: String },
    /// The stream failed or ended (after its initial state, if `opened`).
    Failed {
        dialect: Dialect,
        message: String,
        opened: bool,
    },
}

/// Everything the streams reported, per dialect where it matters (indexed
/// by [`Dialect::index`]).
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) requested: [usize; 2],
    pub(crate) opened: [usize; 2],
    /// Failed before their initial state.
    pub(crate) failed_to_open: [usize; 2],
    /// Failed (or ended) after it.
    pub(crate) closed: [usize; 2],
    pub(crate) first_failure: Option<String>,
    /// (dialect, change, arrival).
    pub(crate) arrivals: Vec<(Dialect, usize, Instant)>,
    pub(crate) unexpected: BTreeMap<String, usize>,
    /// From the first connection to the last initial state.
    pub(crate) open_time: Duration,
}

impl Collected {
    fn apply(&mut self, event: Event, started: Instant) {
        match event {
            Event::Opened { dialect } => {
                self.opened[dialect.index()] += 1;
                self.open_time = started.elapsed();
            }
            Event::Arrival {
                dialect,
                change,
                at,
            } => self.arrivals.push((dialect, change, at)),
            Event::Unexpected { what } => *self.unexpected.entry(what).or_default() += 1,
            Event::Failed {
                dialect,
                message,
                opened,
            } => {
                if opened {
                    self.closed[dialect.index()] += 1;
                } else {
                    self.failed_to_open[dialect.index()] += 1;
                }
                self.first_failure.get_or_insert(message);
            }
        }
    }

    /// Streams that have received their initial state or failed.
    pub(crate) fn settled(&self) -> usize {
        self.opened.iter().sum::<usize>() + self.failed_to_open.iter().sum::<usize>()
    }
}

/// The open streams and what they reported so far.
pub(crate) struct Streams {
    tasks: Vec<JoinHandle<()>>,
    events: mpsc::UnboundedReceiver<Event>,
    started: Instant,
    pub(crate) collected: Collected,
}

/// Where and how many.
pub(crate) struct StreamOptions {
    pub(crate) addr: SocketAddr,
    pub(crate) server_key: String,
    pub(crate) streams: usize,
    pub(crate) open_concurrency: usize,
    /// The change descriptions' common prefix; the change number follows.
    pub(crate) marker: String,
}

impl Streams {
    /// Starts opening the streams (`open_concurrency` at a time; a stream
    /// holds its permit until its initial state arrived): the first half
    /// (rounded up) v2, the rest legacy, interleaved.
    pub(crate) fn open(options: &StreamOptions) -> Self {
        let (sender, events) = mpsc::unbounded_channel();
        let opening = Arc::new(Semaphore::new(options.open_concurrency.max(1)));
        let marker: Arc<[u8]> = options.marker.as_bytes().into();
        let mut collected = Collected::default();
        let tasks = (0..options.streams)
            .map(|i| {
                let dialect = if i % 2 == 0 {
                    Dialect::V2
                } else {
                    Dialect::Legacy
                };
                collected.requested[dialect.index()] += 1;
                let request = format!(
                    "GET {} HTTP/1.1\r\nHost: {}\r\nX-SDK-Key: {}\r\nAccept: text/event-stream\r\n\r\n",
                    dialect.path(),
                    options.addr,
                    options.server_key
                );
                let (opening, marker, sender) =
                    (Arc::clone(&opening), Arc::clone(&marker), sender.clone());
                let addr = options.addr;
                tokio::spawn(async move {
                    let mut opened = false;
                    let result = stream(
                        Connection {
                            addr,
                            dialect,
                            request: request.as_bytes(),
                            marker: &marker,
                        },
                        opening,
                        &sender,
                        &mut opened,
                    )
                    .await;
                    if let Err(e) = result {
                        let _ = sender.send(Event::Failed {
                            dialect,
                            message: format!("{} stream: {e:#}", dialect.name()),
                            opened,
                        });
                    }
                })
            })
            .collect();
        Self {
            tasks,
            events,
            started: Instant::now(),
            collected,
        }
    }

    /// Applies the streams' reports until `done` holds or `deadline` passes.
    pub(crate) async fn pump_until(
        &mut self,
        done: impl Fn(&Collected) -> bool,
        deadline: tokio::time::Instant,
    ) {
        while !done(&self.collected) {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => self.collected.apply(event, self.started),
                    None => return,
                },
                () = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// Closes every stream; returns what they reported.
    pub(crate) fn close(mut self) -> Collected {
        for task in &self.tasks {
            task.abort();
        }
        // What was reported before the abort (an aborted task reports nothing).
        while let Ok(event) = self.events.try_recv() {
            self.collected.apply(event, self.started);
        }
        self.collected
    }
}

/// The change number in `data`: the digits after `marker`.
fn change_in(data: &[u8], marker: &[u8]) -> Option<usize> {
    let at = data.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let digits = data[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&data[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

struct Connection<'a> {
    addr: SocketAddr,
    dialect: Dialect,
    request: &'a [u8],
    marker: &'a [u8],
}

/// One stream: connects (holding an `opening` permit until its initial
/// state), then reads until aborted.
async fn stream(
    connection: Connection<'_>,
    opening: Arc<Semaphore>,
    events: &mpsc::UnboundedSender<Event>,
    opened: &mut bool,
) -> anyhow::Result<()> {
    let Connection {
        addr,
        dialect,
        request,
        marker,
    } = connection;
    let mut permit = Some(opening.acquire_owned().await?);
    let mut socket = TcpStream::connect(addr).await.context("connecting")?;
    socket.set_nodelay(true)?;
    socket.write_all(request).await?;
    let mut decoder = Decoder::new(DATA_LIMIT);
    let mut buffer = vec![0u8; 16 * 1024];
    let mut seen = HashSet::new();
    // A legacy stream's full resend: `flag_updated` for every flag, all with
    // the revision it started at.
    let mut initial_revision = None;
    loop {
        let n = socket.read(&mut buffer).await?;
        anyhow::ensure!(n > 0, "the server closed the stream");
        let at = Instant::now();
        let mut reports = Vec::new();
        decoder.feed(&buffer[..n], &mut |event: SseEvent<'_>| {
            let name = event.name;
            let initial = match dialect {
                Dialect::V2 => name == b"put",
                Dialect::Legacy => name == b"flag_updated",
            };
            if initial && !*opened {
                *opened = true;
                initial_revision = event.id;
                reports.push(Event::Opened { dialect });
                return;
            }
            if dialect == Dialect::Legacy && event.id.is_some() && event.id == initial_revision {
                return;
            }
            let change = match (dialect, name) {
                (Dialect::V2, b"patch") | (Dialect::Legacy, b"flag_updated") => {
                    change_in(event.data, marker)
                }
                (Dialect::V2, b"ping") => return,
                _ => None,
            };
            match change {
                Some(change) if seen.insert(change) => reports.push(Event::Arrival {
                    dialect,
                    change,
                    at,
                }),
                Some(change) => reports.push(Event::Unexpected {
                    what: format!("{}: change {change} again", dialect.name()),
                }),
                // A legacy full resend repeats unchanged flags; v2 patches
                // of other flags are not expected either.
                None => reports.push(Event::Unexpected {
                    what: format!(
                        "{}: event {:?} without a change",
                        dialect.name(),
                        String::from_utf8_lossy(name)
                    ),
                }),
            }
        })?;
        for report in reports {
            if matches!(report, Event::Opened { .. }) {
                permit = None;
            }
            events
                .send(report)
                .map_err(|_| anyhow::anyhow!("the run is over"))?;
        }
        if permit.is_none() && buffer.len() > 4096 {
            // Past the initial state: the rest are small frames.
            buffer = vec![0u8; 4096];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_found_by_its_marker() {
        let marker = b"load-change-ab12-";
        assert_eq!(
            change_in(
                br#"{"key":"k","description":"load-change-ab12-17","enabled":true}"#,
                marker
            ),
            Some(17)
        );
        assert_eq!(change_in(br#"{"description":"seed"}"#, marker), None);
        assert_eq!(change_in(b"load-change-ab12-", marker), None);
    }
}
