#!/usr/bin/env bash
# Admin write throughput and publish lag, end to end, on this machine:
# builds release binaries, starts a private control plane on free ports over a
# fresh database (local PostgreSQL) and a unique prefix on the local Redis,
# runs benches/src/bin/admin-load.rs, and tears everything down.
#   benches/scripts/admin-load.sh [--updates N] [--concurrency C] [--flags F]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --bin halyard -p halyard --bin admin-load -p halyard-benches >/dev/null 2>&1 || \
  cargo build --release -p halyard -p halyard-benches
db="halyard_load_$$"
prefix="halyard-load-$$"
key="load-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=$(free_port); metrics=$(free_port)
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" postgres
cleanup() {
  [ -n "${cp:-}" ] && kill "$cp" 2>/dev/null && wait "$cp" 2>/dev/null
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres
  redis-cli --scan --pattern "$prefix:*" | xargs -r redis-cli del >/dev/null
}
trap cleanup EXIT
HALYARD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" HALYARD_REDIS_URL=redis://127.0.0.1:6379 \
HALYARD_REDIS_PREFIX="$prefix" HALYARD_ADMIN_API_KEY="$key" HALYARD_LISTEN="127.0.0.1:$api" \
HALYARD_METRICS_LISTEN="127.0.0.1:$metrics" RUST_LOG=warn ./target/release/halyard control-plane &
cp=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$api/readyz" >/dev/null && break; sleep 0.2; done
./target/release/admin-load --url "http://127.0.0.1:$api" --admin-key "$key" --prefix "$prefix" "$@"
