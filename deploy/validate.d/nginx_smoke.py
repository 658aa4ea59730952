"""Runs deploy/nginx/halyard.conf (rewritten to loopback ports) in front of
fake edges and checks what the configuration promises, on this machine only
(127.0.0.1; bounded: every wait has a timeout, the run takes a few seconds).

Usage: nginx_smoke.py NGINX PREFIX WRAPPER_CONF LISTEN_PORT LIVE_PORT,LIVE_PORT DEAD_PORT

The wrapper's upstreams are LIVE_PORT x2 (fake edges started here) and
DEAD_PORT (nothing listens: an edge that is down). Checked:
  - SSE (/api/client/stream, /api/client/events): each stream reaches an
    edge as the FIRST request of a fresh connection, with `Connection:
    close`; the first event arrives before the second is sent; never
    gzipped (`proxy_buffering off` itself is checked statically, by
    check_nginx.py: nginx 1.22 forwards these small chunks promptly either
    way);
  - other requests reuse upstream keep-alive connections (no Connection
    header upstream);
  - X-Forwarded-For / X-Forwarded-Proto reach the edge (a proto set by a
    TLS terminator in front is kept);
  - JSON from the edges is gzipped for clients that accept it;
  - a dead edge costs nothing: every request and stream still succeeds;
  - /nginx-health answers.
"""

import asyncio
import gzip
import http.client
import itertools
import json
import socket
import subprocess
import sys
import threading
import time

nginx, prefix, wrapper, listen_port, live_ports, dead_port = sys.argv[1:7]
listen_port = int(listen_port)
live_ports = [int(p) for p in live_ports.split(",")]
STREAM_GAP = 0.6  # seconds between a fake stream's two events
TIMEOUT = 5

records = []  # one per request an edge received
records_lock = threading.Lock()
connection_ids = itertools.count(1)
JSON_BODY = json.dumps({"flags": [{"key": f"flag-{i}", "enabled": i % 2 == 0, "rollout_percentage": i} for i in range(120)]}).encode()


async def handle(reader, writer, edge):
    connection = next(connection_ids)
    index = 0
    try:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                return
            index += 1
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await reader.readexactly(length) if length else b""
            path = target.split("?", 1)[0]
            with records_lock:
                records.append({"edge": edge, "connection": connection, "index": index, "method": method,
                                "path": path, "headers": headers, "body": body})
            if path in ("/api/client/stream", "/api/client/events"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                             b"connection: close\r\ntransfer-encoding: chunked\r\n\r\n")
                for n, event in enumerate((b"data: first\n\n", b"data: second\n\n")):
                    if n:
                        await asyncio.sleep(STREAM_GAP)
                    writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
                await writer.drain()
                return
            body = JSON_BODY
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                         b"x-fake-edge: %d\r\n\r\n%s" % (len(body), edge, body))
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    finally:
        writer.close()


def run_edges(ready):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    for port in live_ports:
        loop.run_until_complete(asyncio.start_server(lambda r, w, e=port: handle(r, w, e), "127.0.0.1", port))
    ready.set()
    loop.run_forever()


failures = []
checks = 0


def check(condition, message):
    global checks
    checks += 1
    if not condition:
        failures.append(message)


def request(method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", listen_port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def stream(path, extra=b""):
    """Opens a stream; returns (head, seconds to the first event, whole body)."""
    with socket.create_connection(("127.0.0.1", listen_port), timeout=TIMEOUT) as s:
        started = time.monotonic()
        s.sendall(b"GET %s HTTP/1.1\r\nHost: halyard.test\r\nAccept: text/event-stream\r\n"
                  b"Accept-Encoding: gzip\r\nConnection: close\r\n%s\r\n" % (path.encode(), extra))
        data, first_at = b"", None
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if first_at is None and b"data: first" in data:
                first_at = time.monotonic() - started
        head, _, body = data.partition(b"\r\n\r\n")
        return head.decode("latin-1").lower(), first_at, body


def wait_for_port(port):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


ready = threading.Event()
threading.Thread(target=run_edges, args=(ready,), daemon=True).start()
if not ready.wait(TIMEOUT):
    sys.exit("nginx smoke: the fake edges did not start")

proc = subprocess.Popen([nginx, "-p", prefix, "-c", wrapper, "-e", f"{prefix}/logs/error.log"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
try:
    if not wait_for_port(listen_port):
        proc.terminate()
        _, err = proc.communicate(timeout=TIMEOUT)
        sys.exit(f"nginx smoke: nginx did not listen on 127.0.0.1:{listen_port}: {err.decode(errors='replace')}")

    status, _, body = request("GET", "/nginx-health")
    check(status == 200 and body == b"ok\n", f"/nginx-health answered {status} {body!r}")

    # Ordinary requests: pooled upstream connections, failover, forwarding, gzip.
    before = len(records)
    for _ in range(8):
        status, headers, body = request("GET", "/api/client/flags", {"X-SDK-Key": "k"})
        check(status == 200 and body == JSON_BODY, f"GET /api/client/flags answered {status}")
    status, headers, body = request("POST", "/ofrep/v1/evaluate/flags", {"Content-Type": "application/json"},
                                    b'{"context": {"targetingKey": "u1"}}')
    check(status == 200, f"POST /ofrep/v1/evaluate/flags answered {status}")
    status, headers, body = request("GET", "/api/client/flags", {"Accept-Encoding": "gzip"})
    check(status == 200 and headers.get("content-encoding") == "gzip" and gzip.decompress(body) == JSON_BODY,
          f"JSON was not gzipped for a client that accepts it ({headers.get('content-encoding')})")
    status, _, _ = request("GET", "/readyz", {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    check(status == 200, f"GET /readyz answered {status}")
    plain = [r for r in records[before:]]
    check(len(plain) == 11, f"the edges saw {len(plain)} of 11 ordinary requests")
    check(all("connection" not in r["headers"] for r in plain),
          "ordinary requests reached an edge with a Connection header (no upstream keep-alive)")
    check(max((r["index"] for r in plain), default=0) >= 2,
          "no upstream connection carried a second request (keep-alive pool unused)")
    check(any(r["method"] == "POST" and r["body"] for r in plain), "the OFREP POST body did not reach an edge")
    check(all(r["headers"].get("x-forwarded-for", "").endswith("127.0.0.1") for r in plain),
          "X-Forwarded-For missing upstream")
    forwarded = plain[-1]["headers"]
    check(forwarded.get("x-forwarded-for") == "203.0.113.7, 127.0.0.1",
          f"X-Forwarded-For was {forwarded.get('x-forwarded-for')!r}")
    check(forwarded.get("x-forwarded-proto") == "https", f"X-Forwarded-Proto from the front was {forwarded.get('x-forwarded-proto')!r}")
    check(plain[0]["headers"].get("x-forwarded-proto") == "http", "X-Forwarded-Proto missing upstream")

    # Streams: a fresh upstream connection each, first request on it, unbuffered.
    before = len(records)
    for path in ("/api/client/stream", "/api/client/stream?dialect=v2", "/api/client/events", "/api/client/stream"):
        head, first_at, body = stream(path, b"X-SDK-Key: k\r\n")
        check(head.startswith("http/1.1 200"), f"{path}: {head.splitlines()[:1]}")
        check("content-type: text/event-stream" in head, f"{path}: not an event stream")
        check("content-encoding" not in head, f"{path}: the event stream was compressed")
        check(b"data: first" in body and b"data: second" in body, f"{path}: events missing")
        check(first_at is not None and first_at < STREAM_GAP * 0.8,
              f"{path}: the first event took {first_at} s (buffered until the second, {STREAM_GAP} s later?)")
    streams = records[before:]
    check(len(streams) == 4, f"the edges saw {len(streams)} of 4 streams")
    check(all(r["index"] == 1 for r in streams), "a stream reached an edge on a reused connection")
    check(all(r["headers"].get("connection", "").lower() == "close" for r in streams),
          "a stream reached an edge without Connection: close")
    check(len({(r["edge"], r["connection"]) for r in streams}) == len(streams), "two streams shared a connection")
    check(all(r["headers"].get("x-forwarded-proto") == "http" and r["headers"].get("x-forwarded-for") for r in streams),
          "X-Forwarded-* missing on streams")
    check({r["edge"] for r in records} == set(live_ports), "least_conn did not use both live edges")
finally:
    proc.terminate()
    try:
        proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(TIMEOUT)

if failures:
    for f in failures:
        print(f"nginx smoke: {f}", file=sys.stderr)
    sys.exit(1)
print(f"nginx smoke (loopback, 2 fake edges + 1 down): {checks} checks passed")
