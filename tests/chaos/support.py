"""Load, SSE clients and waits for the chaos tests (standard library only)."""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from halyard_cluster import DEADLINE, Cluster, wait_until  # noqa: E402,F401
from halyard_cluster import http as call  # noqa: E402

FLAG = "chaos-flag"


def report(what: str, **figures: object) -> None:
    """One line of what a test checked and the figures it saw."""
    shown = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"    {what}: {shown}", flush=True)


def waited(what: str, check) -> float:
    """wait_until with the 60 s deadline, reporting the time it took."""
    took = wait_until(what, check, DEADLINE)
    report(f"waited for {what}", seconds=took)
    return took


def create_flag(cluster: Cluster) -> str:
    status, body = cluster.admin("POST", "/api/admin/flags", {
        "key": FLAG, "description": "change-0", "enabled": True, "rollout_percentage": 50,
        "targeted_users": []})
    assert status == 201, (status, body)
    return body["id"]


def change_flag(cluster: Cluster, flag_id: str, n: int) -> tuple[int, object]:
    """Change n: the description says which one (clients check they saw it)."""
    return cluster.admin("PUT", f"/api/admin/flags/{flag_id}", {
        "key": FLAG, "description": f"change-{n}", "enabled": True, "rollout_percentage": n % 100,
        "targeted_users": []})


def production_revision(base_url: str) -> int | None:
    """The revision of production an edge (or the control plane) holds."""
    try:
        _, body = call("GET", base_url + "/readyz", timeout=2)
        return body["revisions"]["production"]
    except Exception:  # noqa: BLE001 - not answering is "no revision"
        return None


def control_plane_revision(cluster: Cluster) -> int:
    status, body = cluster.admin("GET", "/api/admin/environments/production")
    assert status == 200, (status, body)
    return body["revision"]


@dataclass
class Outcome:
    started: float
    ended: float
    ok: bool
    what: str


class Load:
    """Threads sending SDK requests (configuration fetches, server-side
    evaluations, OFREP bulk evaluations) to `base_url` until stopped; every
    request's outcome is recorded."""

    def __init__(self, cluster: Cluster, base_url: str, threads: int = 4) -> None:
        self.cluster = cluster
        self.target = urllib.parse.urlsplit(base_url)
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]
        self.descriptions: set[str] = set()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(15)

    def _request(self, connection: http.client.HTTPConnection, n: int) -> str:
        kind = n % 3
        if kind == 0:
            connection.request("GET", "/api/client/flags", headers={"X-SDK-Key": self.cluster.server_key})
        elif kind == 1:
            body = json.dumps({"flag": FLAG, "context": {"targetingKey": f"user-{n}"}})
            connection.request("POST", "/api/evaluate", body=body, headers={
                "X-SDK-Key": self.cluster.server_key, "Content-Type": "application/json"})
        else:
            body = json.dumps({"context": {"targetingKey": f"user-{n}"}})
            connection.request("POST", "/ofrep/v1/evaluate/flags", body=body, headers={
                "X-API-Key": self.cluster.client_key, "Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        if kind == 0:
            for flag in json.loads(data)["flags"]:
                if flag["key"] == FLAG:
                    with self.lock:
                        self.descriptions.add(flag["description"])
        return ("config", "evaluate", "ofrep")[kind]

    def _run(self, index: int) -> None:
        n = index
        connection = None
        while not self.stopping.is_set():
            if connection is None:
                connection = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=10)
            started = time.monotonic()
            try:
                what = self._request(connection, n)
                ok = True
            except Exception as err:  # noqa: BLE001 - counted
                what, ok = repr(err), False
                connection.close()
                connection = None
            with self.lock:
                self.outcomes.append(Outcome(started, time.monotonic(), ok, what))
            n += len(self.threads)
        if connection:
            connection.close()

    def failures(self) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if not o.ok]

    def count(self) -> int:
        with self.lock:
            return len(self.outcomes)


class StreamClient(threading.Thread):
    """An SDK-like v2 SSE client through `base_url`: applies `put`, `patch`
    and `delete` in order, reconnects with `Last-Event-ID` when its stream
    ends, and records gaps (a `patch` that is not the next revision)."""

    def __init__(self, cluster: Cluster, base_url: str) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.target = urllib.parse.urlsplit(base_url)
        self.last_id: int | None = None
        self.description: str | None = None
        self.seen: set[str] = set()
        self.gaps: list[tuple[int, int]] = []
        self.connects = 0
        self.puts = 0
        self.stopping = threading.Event()
        self.connection: http.client.HTTPConnection | None = None

    def stop(self) -> None:
        self.stopping.set()
        if self.connection and self.connection.sock:
            try:
                self.connection.sock.shutdown(2)
            except OSError:
                pass
        self.join(10)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._session()
            except Exception:  # noqa: BLE001 - a broken stream is reconnected
                pass
            finally:
                if self.connection:
                    self.connection.close()
            if not self.stopping.is_set():
                time.sleep(0.1)

    def _session(self) -> None:
        self.connection = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=30)
        headers = {"X-SDK-Key": self.cluster.server_key, "Accept": "text/event-stream"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        self.connection.request("GET", "/api/client/stream?dialect=v2", headers=headers)
        response = self.connection.getresponse()
        if response.status != 200:
            response.read()
            raise RuntimeError(f"stream HTTP {response.status}")
        self.connects += 1
        event, data, event_id = "message", [], None
        while not self.stopping.is_set():
            line = response.readline()
            if not line:
                return
            line = line.decode().rstrip("\r\n")
            if line == "":
                if data:
                    self._apply(event, "\n".join(data), event_id)
                event, data, event_id = "message", [], None
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    event = value
                elif name == "data":
                    data.append(value)
                elif name == "id":
                    event_id = int(value)

    def _apply(self, event: str, data: str, event_id: int | None) -> None:
        body = json.loads(data)
        if event == "put":
            self.puts += 1
            self.last_id = body["revision"]
            self.description = None
            for flag in body["flags"]:
                if flag["flag"]["key"] == FLAG:
                    self._saw(flag["flag"].get("description", ""))
        elif event in ("patch", "delete"):
            revision = body["revision"]
            if self.last_id is not None and revision != self.last_id + 1:
                self.gaps.append((self.last_id, revision))
            self.last_id = revision
            for change in body["changes"]:
                if change["type"] == "flag_upserted" and change["flag"]["flag"]["key"] == FLAG:
                    self._saw(change["flag"]["flag"].get("description", ""))

    def _saw(self, description: str) -> None:
        self.description = description
        self.seen.add(description)
