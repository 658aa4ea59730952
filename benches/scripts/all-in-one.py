#!/usr/bin/env python3
"""All-in-one node figures: start-up time, idle memory, and the time from an
admin write to its arrival on an SSE stream.

Starts target/release/halyard (build it first: cargo build --release) on a
fresh data directory and free loopback ports, then makes --changes changes
through the old admin API, one at a time, each timed from just before the
request to the arrival of its flag_updated event. Only the standard library.

    python3 benches/scripts/all-in-one.py [--changes 200]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "halyard")
DEADLINE = 30


def request(method, url, headers=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=DEADLINE) as response:
        return response.status, response.read()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    if not os.path.exists(BINARY):
        sys.exit(f"{BINARY} is missing: run cargo build --release first")

    data = tempfile.mkdtemp(prefix="halyard-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALYARD_")}
    env.update({"HALYARD_LOG_FORMAT": "json", "HALYARD_ADMIN_API_KEY": "bench-admin",
                "HALYARD_LEGACY_SDK_KEY": "bench-sdk", "RUST_LOG": "warn,halyard=info"})
    started = time.monotonic()
    process = subprocess.Popen(
        [BINARY, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir", data],
        stdout=subprocess.PIPE, env=env, text=True)
    try:
        address = None
        for line in process.stdout:
            try:
                fields = json.loads(line).get("fields", {})
            except ValueError:
                continue
            if "halyard listening" in fields.get("message", ""):
                address = fields["address"]
                break
        if address is None:
            sys.exit("halyard did not start")
        base = f"http://{address}"
        while True:
            try:
                if request("GET", f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - started > DEADLINE:
                sys.exit("halyard did not get ready")
            time.sleep(0.005)
        ready = time.monotonic() - started
        with open(f"/proc/{process.pid}/status") as status:
            rss_kib = next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))

        admin = {"X-Admin-API-Key": "bench-admin"}
        _, body = request("POST", f"{base}/api/admin/flags", admin,
                          {"key": "bench", "description": "", "enabled": True,
                           "rollout_percentage": 0, "targeted_users": []})
        flag_id = json.loads(body)["id"]

        stream = socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1])), timeout=DEADLINE)
        stream.sendall(b"GET /api/client/stream?key=bench-sdk HTTP/1.1\r\nHost: bench\r\n\r\n")
        buffer = b""

        def wait_for(marker):
            nonlocal buffer
            while marker not in buffer:
                chunk = stream.recv(65536)
                if not chunk:
                    sys.exit("the stream closed")
                buffer += chunk
            buffer = buffer[buffer.index(marker) + len(marker):]

        wait_for(b'"key":"bench"')
        lags = []
        for i in range(1, args.changes + 1):
            percentage = i % 100 + 1
            marker = f'"rollout_percentage":{percentage},'.encode()
            t0 = time.monotonic()
            request("PUT", f"{base}/api/admin/flags/{flag_id}", admin,
                    {"description": "", "enabled": True, "rollout_percentage": percentage,
                     "targeted_users": []})
            wait_for(marker)
            lags.append((time.monotonic() - t0) * 1000)
        print(f"all-in-one: {args.changes} changes through the admin API to one legacy SSE stream")
        print(f"  start-up to /readyz: {ready * 1000:.0f} ms; idle RSS after start: {rss_kib / 1024:.1f} MiB")
        print(f"  admin write -> event on the stream: p50 {percentile(lags, 50):.2f} ms, "
              f"p99 {percentile(lags, 99):.2f} ms, max {max(lags):.2f} ms "
              "(includes the write's own request and commit)")
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE)
        subprocess.run(["rm", "-rf", data], check=False)


if __name__ == "__main__":
    main()
