"""Static checks of deploy/nginx/halyard.conf: what `nginx -t` accepts but
the smoke test cannot tell apart (buffering, timeouts, no keep-alive pool for
streams).

Usage: check_nginx.py halyard.conf
"""

import re
import sys

text = re.sub(r"#[^\n]*", "", open(sys.argv[1], encoding="utf-8").read())
errors = []


def block(header):
    """The body of the first `header { ... }` block (braces balanced)."""
    match = re.search(re.escape(header) + r"\s*\{", text)
    if not match:
        errors.append(f"no `{header} {{ }}` block")
        return ""
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    errors.append(f"`{header}` is not closed")
    return ""


def directives(body):
    """Top-level directives of a block body, whitespace-normalized."""
    depth, current, found = 0, "", []
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            if ch == ";":
                found.append(" ".join(current.split()))
                current = ""
            else:
                current += ch
    return found


def require(where, body, wanted):
    have = directives(body)
    for directive in wanted:
        if directive not in have:
            errors.append(f"{where}: missing `{directive};`")
    return have


pool = require("upstream halyard_edges", block("upstream halyard_edges"), ["least_conn"])
streams = require("upstream halyard_edge_streams", block("upstream halyard_edge_streams"), ["least_conn"])
if not any(d.startswith("keepalive ") for d in pool):
    errors.append("upstream halyard_edges: no keepalive pool")
if any(d.split()[0] == "keepalive" for d in streams):
    errors.append("upstream halyard_edge_streams: `keepalive` would reuse connections for streams")
servers = lambda ds: sorted(d.split()[1] for d in ds if d.startswith("server "))
if servers(pool) != servers(streams) or len(servers(pool)) != 3:
    errors.append(f"the two upstreams list different edges: {servers(pool)} / {servers(streams)}")

server = block("server")
have = require("server", server, ["proxy_http_version 1.1", "gzip on", "proxy_next_upstream_tries 3"])
next_upstream = next((d for d in have if d.startswith("proxy_next_upstream ")), "")
for condition in ("error", "timeout", "http_502", "http_503"):
    if condition not in next_upstream.split()[1:]:
        errors.append(f"server: proxy_next_upstream lacks {condition}")
gzip_types = next((d for d in have if d.startswith("gzip_types ")), "")
if "application/json" not in gzip_types or "text/event-stream" in gzip_types:
    errors.append(f"server: gzip_types should include application/json and not text/event-stream: {gzip_types!r}")

forwarded = ["proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for",
             "proxy_set_header X-Forwarded-Proto $halyard_forwarded_proto"]
for path in ("/api/client/stream", "/api/client/events"):
    require(f"location = {path}", block(f"location = {path}"), [
        "proxy_pass http://halyard_edge_streams", "proxy_set_header Connection close",
        "proxy_buffering off", "proxy_cache off", "proxy_read_timeout 1h", *forwarded])
require("location /", block("location /"),
        ["proxy_pass http://halyard_edges", 'proxy_set_header Connection ""', *forwarded])

if errors:
    for e in errors:
        print(f"nginx: {e}", file=sys.stderr)
    sys.exit(1)
print("nginx static checks: streams unbuffered on a pool-less upstream, 1 h read timeout, "
      "keep-alive elsewhere, retries on error/timeout/502/503, gzip for JSON")
