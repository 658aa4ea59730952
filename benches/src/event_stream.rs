//! A streaming decoder of an HTTP/1.1 response carrying server-sent events,
//! for load runs that hold many streams: it decodes the chunked body and
//! just enough of each event (`id:`, `event:` and, up to a limit, `data:`)
//! to tell events apart, keeping at most a few bytes per line otherwise.

use anyhow::Context as _;

/// One decoded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// Its `id:` as a number (revisions), if it had one that parsed.
    pub id: Option<u64>,
    /// Its `event:` name (empty for the default type).
    pub name: &'a [u8],
    /// Its `data:` lines joined by `\n`, cut at the decoder's data limit
    /// (empty with a limit of 0).
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    Size { value: u64, extension: bool },
    Data(u64),
    DataEnd,
    Done,
}

/// Longest prefix kept of a line other than `data:` (enough for `id:` and
/// `event:` lines).
const LINE: usize = 64;

/// The decoder of one stream: feed it what the connection reads.
#[derive(Debug)]
pub struct Decoder {
    head: Option<Vec<u8>>,
    chunked: bool,
    chunk: Chunk,
    line: Vec<u8>,
    id: Option<u64>,
    event: Vec<u8>,
    data: Vec<u8>,
    data_limit: usize,
}

impl Decoder {
    /// A decoder keeping up to `data_limit` bytes of each event's data
    /// (0: none).
    pub fn new(data_limit: usize) -> Self {
        Self {
            head: Some(Vec::new()),
            chunked: false,
            chunk: Chunk::Size {
                value: 0,
                extension: false,
            },
            line: Vec::with_capacity(LINE),
            id: None,
            event: Vec::new(),
            data: Vec::new(),
            data_limit,
        }
    }

    /// Feeds bytes read from the connection; calls `on_event` per complete
    /// event. Fails on a response other than 200, a malformed chunked body,
    /// or the end of the body.
    pub fn feed(
        &mut self,
        input: &[u8],
        on_event: &mut dyn FnMut(SseEvent<'_>),
    ) -> anyhow::Result<()> {
        let Some(head) = &mut self.head else {
            return self.body(input, on_event);
        };
        head.extend_from_slice(input);
        let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
            anyhow::ensure!(head.len() < 64 * 1024, "response head too long");
            return Ok(());
        };
        let head = self.head.take().expect("checked above");
        let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
        let status = text.lines().next().unwrap_or_default();
        anyhow::ensure!(
            status.split_whitespace().nth(1) == Some("200"),
            "the stream answered {status:?}: {}",
            String::from_utf8_lossy(&head[end + 4..])
        );
        self.chunked = text
            .lines()
            .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
        self.body(&head[end + 4..], on_event)
    }

    fn body(&mut self, input: &[u8], on_event: &mut dyn FnMut(SseEvent<'_>)) -> anyhow::Result<()> {
        if !self.chunked {
            self.payload(input, on_event);
            return Ok(());
        }
        let mut i = 0;
        while i < input.len() {
            match self.chunk {
                Chunk::Size { value, extension } => {
                    let byte = input[i];
                    i += 1;
                    self.chunk = match byte {
                        b'\n' if value == 0 => Chunk::Done,
                        b'\n' => Chunk::Data(value),
                        b'\r' => self.chunk,
                        b';' => Chunk::Size {
                            value,
                            extension: true,
                        },
                        _ if extension => self.chunk,
                        _ => {
                            let digit = char::from(byte)
                                .to_digit(16)
                                .context("a malformed chunk size")?;
                            Chunk::Size {
                                value: value * 16 + u64::from(digit),
                                extension,
                            }
                        }
                    };
                }
                Chunk::Data(remaining) => {
                    let take = remaining.min((input.len() - i) as u64) as usize;
                    self.chunk = if take as u64 == remaining {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(remaining - take as u64)
                    };
                    self.payload(&input[i..i + take], on_event);
                    i += take;
                }
                Chunk::DataEnd => {
                    if input[i] == b'\n' {
                        self.chunk = Chunk::Size {
                            value: 0,
                            extension: false,
                        };
                    }
                    i += 1;
                }
                Chunk::Done => anyhow::bail!("the stream's body ended"),
            }
        }
        Ok(())
    }

    fn payload(&mut self, mut data: &[u8], on_event: &mut dyn FnMut(SseEvent<'_>)) {
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.keep(&data[..end]);
                    self.end_line(on_event);
                    data = &data[end + 1..];
                }
                None => {
                    self.keep(data);
                    return;
                }
            }
        }
    }

    /// Keeps the start of the current line: `LINE` bytes, or for a `data:`
    /// line the data limit.
    fn keep(&mut self, mut part: &[u8]) {
        const DATA: &[u8] = b"data:";
        if self.line.len() < DATA.len() {
            let take = (DATA.len() - self.line.len()).min(part.len());
            self.line.extend_from_slice(&part[..take]);
            part = &part[take..];
        }
        let limit = if self.line.starts_with(DATA) {
            DATA.len() + 1 + self.data_limit
        } else {
            LINE
        };
        let room = limit.saturating_sub(self.line.len());
        self.line.extend_from_slice(&part[..part.len().min(room)]);
    }

    fn end_line(&mut self, on_event: &mut dyn FnMut(SseEvent<'_>)) {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        if line.is_empty() {
            if self.id.is_some() || !self.event.is_empty() || !self.data.is_empty() {
                on_event(SseEvent {
                    id: self.id,
                    name: &self.event,
                    data: &self.data,
                });
            }
            self.id = None;
            self.event.clear();
            self.data.clear();
        } else if let Some(value) = line.strip_prefix(b"id:") {
            self.id = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
        } else if let Some(value) = line.strip_prefix(b"event:") {
            self.event = value.trim_ascii().to_vec();
        } else if let Some(value) = line.strip_prefix(b"data:")
            && self.data_limit > 0
        {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if !self.data.is_empty() && self.data.len() < self.data_limit {
                self.data.push(b'\n');
            }
            let room = self.data_limit.saturating_sub(self.data.len());
            self.data.extend_from_slice(&value[..value.len().min(room)]);
        }
        self.line.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seen = Vec<(Option<u64>, Vec<u8>, Vec<u8>)>;

    fn decode(response: &str, piece: usize, data_limit: usize) -> Seen {
        let mut decoder = Decoder::new(data_limit);
        let mut seen = Vec::new();
        for part in response.as_bytes().chunks(piece) {
            decoder
                .feed(part, &mut |e| {
                    seen.push((e.id, e.name.to_vec(), e.data.to_vec()));
                })
                .unwrap();
        }
        seen
    }

    fn chunked(body: &str) -> String {
        let (first, second) = body.split_at(20);
        format!(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n",
            first.len(),
            second.len()
        )
    }

    #[test]
    fn events_across_chunks_and_reads() {
        let body = "id: 1\nevent: put\ndata: {\"a\": 1}\n\nid: 2\nevent: patch\ndata: {}\n\n";
        let seen = decode(&chunked(body), 7, 0);
        assert_eq!(
            seen,
            vec![
                (Some(1), b"put".to_vec(), Vec::new()),
                (Some(2), b"patch".to_vec(), Vec::new())
            ]
        );
    }

    #[test]
    fn data_is_kept_up_to_the_limit() {
        let body = "id: 3\nevent: flag_updated\ndata: {\"key\": \"a\", \"description\": \"load-change-7\"}\n\n: ping\n\nevent: x\ndata: 0123456789\ndata: more\n\n";
        for piece in [1, 3, 4, 5, 6, 1000] {
            let seen = decode(&chunked(body), piece, 12);
            assert_eq!(
                seen,
                vec![
                    (
                        Some(3),
                        b"flag_updated".to_vec(),
                        b"{\"key\": \"a\",".to_vec()
                    ),
                    (None, b"x".to_vec(), b"0123456789\nm".to_vec()),
                ],
                "read in pieces of {piece}"
            );
        }
        let seen = decode(&chunked(body), 5, 1000);
        assert_eq!(
            seen[0].2,
            b"{\"key\": \"a\", \"description\": \"load-change-7\"}".to_vec()
        );
        assert_eq!(seen[1].2, b"0123456789\nmore".to_vec());
    }

    #[test]
    fn a_status_other_than_200_fails() {
        let mut decoder = Decoder::new(0);
        let error = decoder
            .feed(b"HTTP/1.1 401 Unauthorized\r\n\r\n", &mut |_| {})
            .unwrap_err();
        assert!(error.to_string().contains("401"), "{error}");
    }
}
