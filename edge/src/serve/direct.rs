//! Streams served without hyper's connection buffers.
//!
//! hyper keeps an 8 KiB read buffer and an 8 KiB header buffer for the life
//! of every HTTP/1 connection. An SSE stream lives for hours and reads
//! nothing after its request, so at 10,000 streams per edge those buffers
//! are most of the edge's memory. A connection whose first request is a
//! plain `GET` of a stream route is therefore answered here: its head is
//! parsed with `httparse` (hyper's own parser), the request goes through
//! the same router (authentication, CORS, metrics), and the response is
//! written straight to the socket: the head once, then each event as an
//! HTTP/1.1 chunk. The connection closes when the stream ends (it says
//! `Connection: close`). Anything else, including a stream requested on a
//! keep-alive connection after another request, goes to hyper.

use std::io::{self, IoSlice};
use std::time::SystemTime;

use axum::body::{Body, Bytes, HttpBody as _};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, Version};
use futures::StreamExt as _;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::App;

/// The routes served here.
const STREAM_PATHS: [&str; 2] = ["/api/client/stream", "/api/client/events"];
/// Request headers considered; a request with more goes to hyper.
const MAX_HEADERS: usize = 48;

/// The request in `head` if it is one this module serves: a complete
/// HTTP/1.1 `GET` of a stream route, without a body or an upgrade.
pub(super) fn stream_request(head: &[u8]) -> Option<Request<Body>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(_) = parsed.parse(head).ok()? else {
        return None;
    };
    let path = parsed.path?;
    let route = path.split_once('?').map_or(path, |(route, _)| route);
    if parsed.method != Some("GET") || parsed.version != Some(1) || !STREAM_PATHS.contains(&route) {
        return None;
    }
    let mut request = Request::builder()
        .method(Method::GET)
        .version(Version::HTTP_11)
        .uri(path);
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        let has_body =
            (name == "content-length" && header.value != b"0") || name == "transfer-encoding";
        if has_body || name == "upgrade" || name == "expect" {
            return None;
        }
        request = request.header(name, HeaderValue::from_bytes(header.value).ok()?);
    }
    request.body(Body::empty()).ok()
}

/// Answers `request` on `socket` and closes it.
pub(super) async fn serve(mut socket: TcpStream, app: impl App, request: Request<Body>) {
    let Ok(response) = ServiceExt::<Request<Body>>::oneshot(app, request).await;
    if let Err(err) = write_response(&mut socket, response).await {
        tracing::debug!(error = %err, "stream connection ended with an error");
    }
    let _ = socket.shutdown().await;
}

async fn write_response(socket: &mut TcpStream, response: Response<Body>) -> io::Result<()> {
    let (parts, body) = response.into_parts();
    let length = body.size_hint().exact();
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(parts.status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\ndate: ");
    head.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
    for (name, value) in &parts.headers {
        if matches!(
            name.as_str(),
            "connection" | "content-length" | "transfer-encoding"
        ) {
            continue;
        }
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
    }
    head.extend_from_slice(b"\r\nconnection: close\r\n");
    match length {
        Some(length) => {
            head.extend_from_slice(format!("content-length: {length}\r\n\r\n").as_bytes());
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .map_err(io::Error::other)?;
            return write_all(socket, &mut [IoSlice::new(&head), IoSlice::new(&body)]).await;
        }
        None => head.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n"),
    }
    socket.write_all(&head).await?;
    drop(head);
    let mut events = body.into_data_stream();
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => write_chunk(socket, &event).await?,
                Some(Err(err)) => return Err(io::Error::other(err)),
                None => return socket.write_all(b"0\r\n\r\n").await,
            },
            readable = socket.readable() => {
                readable?;
                if client_left(socket)? {
                    return Ok(());
                }
            }
        }
    }
}

/// Whether the client closed the connection. Anything it sends after its
/// request is discarded: the response said `Connection: close`.
fn client_left(socket: &TcpStream) -> io::Result<bool> {
    let mut discard = [0u8; 256];
    match socket.try_read(&mut discard) {
        Ok(0) => Ok(true),
        Ok(_) => Ok(false),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(err) => Err(err),
    }
}

/// One event as one HTTP/1.1 chunk, in one vectored write.
async fn write_chunk(socket: &mut TcpStream, event: &Bytes) -> io::Result<()> {
    if event.is_empty() {
        return Ok(());
    }
    let mut size = [0u8; 18];
    let size = chunk_size_line(event.len(), &mut size);
    write_all(
        socket,
        &mut [
            IoSlice::new(size),
            IoSlice::new(event),
            IoSlice::new(b"\r\n"),
        ],
    )
    .await
}

/// `{len:x}\r\n` in `buffer`, without allocating (this runs per event per
/// subscriber).
fn chunk_size_line(len: usize, buffer: &mut [u8; 18]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 16;
    let mut rest = len;
    loop {
        start -= 1;
        buffer[start] = HEX[rest % 16];
        rest /= 16;
        if rest == 0 {
            break;
        }
    }
    buffer[16] = b'\r';
    buffer[17] = b'\n';
    &buffer[start..]
}

async fn write_all(socket: &mut TcpStream, mut parts: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !parts.is_empty() {
        let written = socket.write_vectored(parts).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut parts, written);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_lines_are_lower_hex() {
        for len in [1, 9, 10, 255, 248_314, usize::MAX] {
            let mut buffer = [0u8; 18];
            assert_eq!(
                chunk_size_line(len, &mut buffer),
                format!("{len:x}\r\n").as_bytes()
            );
        }
    }

    #[test]
    fn takes_plain_stream_gets_and_leaves_everything_else_to_hyper() {
        let request = stream_request(
            b"GET /api/client/stream?dialect=v2&key=k HTTP/1.1\r\nHost: edge\r\nLast-Event-ID: 7\r\n\r\n",
        )
        .expect("a stream request");
        assert_eq!(request.uri().query(), Some("dialect=v2&key=k"));
        assert_eq!(request.headers()["last-event-id"], "7");
        assert!(stream_request(b"GET /api/client/events HTTP/1.1\r\n\r\n").is_some());

        for other in [
            // Not (yet) complete.
            &b"GET /api/client/stream HTTP/1.1\r\nHost: e"[..],
            b"GET /api/client/flags HTTP/1.1\r\n\r\n",
            b"GET /api/client/streams HTTP/1.1\r\n\r\n",
            b"HEAD /api/client/stream HTTP/1.1\r\n\r\n",
            b"OPTIONS /api/client/stream HTTP/1.1\r\n\r\n",
            // HTTP/1.0 cannot take chunks.
            b"GET /api/client/stream HTTP/1.0\r\n\r\n",
            b"GET /api/client/stream HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"GET /api/client/stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /api/client/stream HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            b"not http at all\r\n\r\n",
        ] {
            assert!(
                stream_request(other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
