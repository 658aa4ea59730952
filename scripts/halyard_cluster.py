"""A production-shaped Halyard cluster on loopback, for tests, load runs and
trying things out: a private PostgreSQL (its own data directory), a private
Redis, the control plane, N edges and nginx in front of the edges, each on a
free port of 127.0.0.1. Everything lives in one work directory and is torn
down on `stop()` (also after a failure: use it as a context manager).

Only the standard library; the binaries come from the machine (PostgreSQL's
initdb/pg_ctl, redis-server, nginx) and from this repository's build
(`target/debug/halyard`, or `release=True`).

    with Cluster(edges=3) as cluster:
        cluster.admin("POST", "/api/admin/flags", {...})
        cluster.kill_edge(0)
"""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Every wait in the cluster is bounded by this (seconds).
DEADLINE = 60.0


class ClusterError(RuntimeError):
    """Something in the cluster did not start or answer in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: str, check, deadline: float = DEADLINE, interval: float = 0.05) -> float:
    """Polls `check()` until it is truthy; returns the seconds it took."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < deadline:
        try:
            if check():
                return time.monotonic() - started
        except Exception as err:  # noqa: BLE001 - reported if the deadline passes
            last = err
        time.sleep(interval)
    raise ClusterError(f"{what}: not within {deadline:.0f} s (last error: {last})")


def http(method: str, url: str, body: object | None = None, headers: dict[str, str] | None = None,
         timeout: float = 10.0) -> tuple[int, object]:
    """One HTTP request; returns (status, parsed JSON or text). Network errors raise."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _pg_bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not candidates:
        raise ClusterError("PostgreSQL's server binaries (initdb, pg_ctl) were not found: "
                           "apt-get install postgresql (or ./scripts/services)")
    return Path(candidates[-1]).parent


def _require(binary: str, how: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    if not path:
        raise ClusterError(f"{binary} was not found: {how}")
    return path


@dataclass
class Service:
    """One process of the cluster."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self, logs: Path) -> None:
        log = open(logs / f"{self.name}.log", "ab")
        self.process = subprocess.Popen(
            self.argv, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def stop(self, sig: int = signal.SIGTERM, grace: float = 15.0) -> None:
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


class Cluster:
    """See the module documentation."""

    def __init__(self, edges: int = 3, release: bool = False, workdir: str | None = None,
                 keep: bool = False) -> None:
        self.edge_count = edges
        self.keep = keep
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        self.binary = target / ("release" if release else "debug") / "halyard"
        if not self.binary.exists():
            build = "cargo build --release --bin halyard" if release else "cargo build --bin halyard"
            raise ClusterError(f"{self.binary} does not exist: run `{build}` in {REPO}")
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="halyard-cluster-"))
        self.logs = self.dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.admin_key = "hal_adm_cluster_" + secrets.token_hex(16)
        self.ports = {
            "postgres": free_port(), "redis": free_port(), "control_plane": free_port(),
            "control_plane_metrics": free_port(), "nginx": free_port(),
        }
        self.edge_ports = [(free_port(), free_port()) for _ in range(edges)]
        self.pg_bin = _pg_bindir()
        self.pg_data = self.dir / "postgres"
        self.redis = Service("redis", [
            _require("redis-server", "apt-get install redis-server"), "--port", str(self.ports["redis"]),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"])
        self.nginx_bin = _require("nginx", "apt-get install nginx")
        self.control_plane = Service("control-plane", [
            str(self.binary), "control-plane", "--listen", f"127.0.0.1:{self.ports['control_plane']}",
            "--metrics-listen", f"127.0.0.1:{self.ports['control_plane_metrics']}"], {
            "HALYARD_DATABASE_URL": self.database_url,
            "HALYARD_REDIS_URL": self.redis_url,
            "HALYARD_ADMIN_API_KEY": self.admin_key,
            "HALYARD_SHUTDOWN_GRACE_SECONDS": "2",
        })
        self.edges: list[Service] = []
        self.nginx = Service("nginx", [self.nginx_bin, "-p", str(self.dir / "nginx"),
                                       "-c", str(self.dir / "nginx" / "nginx.conf"), "-e", "stderr"])
        self.server_key = ""
        self.client_key = ""
        self.edge_token = ""

    # -- addresses -----------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.ports['postgres']}/halyard"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['control_plane']}"

    @property
    def url(self) -> str:
        """nginx, in front of the edges: what SDKs use."""
        return f"http://127.0.0.1:{self.ports['nginx']}"

    def edge_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.edge_ports[index][0]}"

    def edge_metrics_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.edge_ports[index][1]}/metrics"

    def describe(self) -> dict:
        return {
            "dir": str(self.dir),
            "url": self.url,
            "admin_url": self.admin_url,
            "admin_key": self.admin_key,
            "server_key": self.server_key,
            "client_key": self.client_key,
            "edges": [self.edge_url(i) for i in range(self.edge_count)],
            "edge_metrics": [self.edge_metrics_url(i) for i in range(self.edge_count)],
            "control_plane_metrics": f"http://127.0.0.1:{self.ports['control_plane_metrics']}/metrics",
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "pids": self.pids(),
        }

    def pids(self) -> dict[str, int | None]:
        pids = {"control-plane": self.control_plane.pid, "redis": self.redis.pid,
                "nginx": self.nginx.pid, "postgres": self._postgres_pid()}
        for index, edge in enumerate(self.edges):
            pids[f"edge-{index}"] = edge.pid
        return pids

    # -- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.start_postgres(initialise=True)
        self.start_redis()
        self.start_control_plane()
        self.server_key = self._create_key({"name": "cluster server key", "kind": "server",
                                            "environment": "production"})
        self.client_key = self._create_key({"name": "cluster client key", "kind": "client",
                                            "environment": "production"})
        self.edge_token = self._create_key({"name": "cluster edges", "kind": "edge"})
        for index in range(self.edge_count):
            self.edges.append(Service(f"edge-{index}", [
                str(self.binary), "edge", "--listen", f"127.0.0.1:{self.edge_ports[index][0]}",
                "--metrics-listen", f"127.0.0.1:{self.edge_ports[index][1]}"], {
                "HALYARD_REDIS_URL": self.redis_url,
                "HALYARD_CONTROL_PLANE_URL": self.admin_url,
                "HALYARD_EDGE_TOKEN": self.edge_token,
                "HALYARD_SHUTDOWN_GRACE_SECONDS": "2",
            }))
            self.start_edge(index)
        self.start_nginx()
        (self.dir / "cluster.json").write_text(json.dumps(self.describe(), indent=2) + "\n")

    def stop(self) -> None:
        """Stops everything (idempotent) and removes the work directory unless `keep`."""
        self.nginx.stop()
        for edge in self.edges:
            edge.stop()
        self.control_plane.stop()
        self.redis.stop()
        self.stop_postgres()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- PostgreSQL ----------------------------------------------------------------

    def _as_postgres(self, argv: list[str]) -> list[str]:
        # PostgreSQL refuses to run as root: run its tools as the postgres user.
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        log = self.logs / "postgres.log"
        return subprocess.run(self._as_postgres([
            str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_data), "-l", str(log), "-w", "-t", "60", *args]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=check, text=True)

    def start_postgres(self, initialise: bool = False) -> float:
        started = time.monotonic()
        if initialise:
            self.pg_data.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.dir, "postgres")
                shutil.chown(self.pg_data, "postgres")
                shutil.chown(self.logs, "postgres")
            subprocess.run(self._as_postgres([
                str(self.pg_bin / "initdb"), "-D", str(self.pg_data), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--no-sync"]), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        options = (f"-p {self.ports['postgres']} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.pg_data} -c max_connections=200")
        result = self._pg_ctl("-o", options, "start", check=False)
        if result.returncode != 0:
            raise ClusterError(f"PostgreSQL did not start: {result.stdout}")
        if initialise:
            subprocess.run(self._as_postgres([
                str(self.pg_bin / "createdb") if (self.pg_bin / "createdb").exists() else "createdb",
                "-h", "127.0.0.1", "-p", str(self.ports["postgres"]), "-U", "postgres", "halyard"]), check=True)
        return time.monotonic() - started

    def stop_postgres(self, mode: str = "fast") -> None:
        if (self.pg_data / "postmaster.pid").exists():
            self._pg_ctl("-m", mode, "stop", check=False)

    def _postgres_pid(self) -> int | None:
        try:
            return int((self.pg_data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    # -- Redis ---------------------------------------------------------------------

    def start_redis(self) -> float:
        self.redis.start(self.logs)

        def pong() -> bool:
            with socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        return wait_until("Redis answers PING", pong)

    def stop_redis(self) -> None:
        self.redis.stop()

    # -- Halyard -------------------------------------------------------------------

    def _ready(self, base: str) -> bool:
        status, _ = http("GET", base + "/readyz", timeout=2)
        return status == 200

    def start_control_plane(self) -> float:
        self.control_plane.start(self.logs)
        return wait_until("the control plane's /readyz", lambda: self._exited_check(self.control_plane)
                          or self._ready(self.admin_url))

    def kill_control_plane(self) -> None:
        self.control_plane.stop(signal.SIGKILL)

    def start_edge(self, index: int) -> float:
        self.edges[index].start(self.logs)
        return wait_until(f"edge {index}'s /readyz", lambda: self._exited_check(self.edges[index])
                          or self._ready(self.edge_url(index)))

    def kill_edge(self, index: int) -> None:
        self.edges[index].stop(signal.SIGKILL)

    def _exited_check(self, service: Service) -> bool:
        if service.process and service.process.poll() is not None:
            log = (self.logs / f"{service.name}.log").read_text(errors="replace")[-3000:]
            raise ClusterError(f"{service.name} exited with {service.process.returncode}:\n{log}")
        return False

    def _create_key(self, body: dict) -> str:
        status, created = self.admin("POST", "/api/admin/keys", body)
        if status != 201:
            raise ClusterError(f"creating key {body}: {status} {created}")
        return created["plaintext"]

    def admin(self, method: str, path: str, body: object | None = None) -> tuple[int, object]:
        """An admin API call to the control plane with the bootstrap key."""
        return http(method, self.admin_url + path, body, {"X-Admin-API-Key": self.admin_key})

    # -- nginx ---------------------------------------------------------------------

    def start_nginx(self) -> float:
        prefix = self.dir / "nginx"
        (prefix / "temp").mkdir(parents=True, exist_ok=True)
        (prefix / "nginx.conf").write_text(self.nginx_config())
        test = subprocess.run([self.nginx_bin, "-t", "-q", "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                               "-e", "stderr"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if test.returncode != 0:
            raise ClusterError(f"nginx rejects its configuration: {test.stdout}")
        self.nginx.start(self.logs)
        return wait_until("nginx in front of the edges", lambda: self._exited_check(self.nginx)
                          or http("GET", self.url + "/healthz", timeout=2)[0] == 200)

    def nginx_config(self) -> str:
        """deploy/nginx/halyard.conf, the configuration that ships, with this
        cluster's edges, wrapped in a main configuration for a private
        prefix (HALYARD_NGINX_TEMPLATE names another file)."""
        template = Path(os.environ.get("HALYARD_NGINX_TEMPLATE", REPO / "deploy" / "nginx" / "halyard.conf")).read_text()
        edges = [f"127.0.0.1:{port}" for port, _ in self.edge_ports]
        rendered = render_nginx_template(template, edges, self.ports["nginx"], self.admin_url)
        prefix = self.dir / "nginx"
        user = "user root;\n" if os.geteuid() == 0 else ""
        return (f"{user}daemon off;\nworker_processes 2;\npid {prefix}/nginx.pid;\n"
                f"error_log {self.logs}/nginx-error.log warn;\n"
                "worker_rlimit_nofile 65536;\n"
                "events { worker_connections 16384; }\n"
                "http {\n"
                "  access_log off;\n"
                f"  client_body_temp_path {prefix}/temp/body;\n  proxy_temp_path {prefix}/temp/proxy;\n"
                f"  fastcgi_temp_path {prefix}/temp/fastcgi;\n  uwsgi_temp_path {prefix}/temp/uwsgi;\n"
                f"  scgi_temp_path {prefix}/temp/scgi;\n"
                f"{rendered}\n}}\n")


def render_nginx_template(template: str, edges: list[str], listen_port: int, control_plane: str) -> str:
    """deploy/nginx/halyard.conf (an http-context file: upstreams and a
    server) with this cluster's addresses: in each upstream the
    `server edge-N:…` lines become one line per address of `edges`, with the
    first line's parameters; `listen <port>` listens on loopback; the
    control plane's compose address becomes `control_plane`'s."""
    out: list[str] = []
    replaced_in_block = False
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("upstream "):
            replaced_in_block = False
        server = re.match(r"(\s*)server\s+edge-\d+(?::\d+)?\s*([^;]*);", line)
        if server:
            if not replaced_in_block:
                indent, parameters = server.group(1), server.group(2).strip()
                out.extend(f"{indent}server {edge} {parameters};".replace(" ;", ";") for edge in edges)
                replaced_in_block = True
            continue
        if re.match(r"^\s*listen\s+\[::\]", line):
            continue
        line = re.sub(r"^(\s*)listen\s+\d+(\s[^;]*)?;", rf"\g<1>listen 127.0.0.1:{listen_port};", line)
        out.append(re.sub(r"http://control-plane:\d+", control_plane, line))
    return "\n".join(out)
