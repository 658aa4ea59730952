#!/usr/bin/env bash
# Cluster load run on this machine: builds the release `halyard` binary and
# `cluster-load`, starts the production-shaped cluster on loopback
# (scripts/cluster: PostgreSQL, Redis, the control plane, 3 edges, nginx),
# runs `cluster-load` against it with the arguments given, prints the
# Markdown report and tears the cluster down. See benches/README.md.
#   benches/scripts/cluster-load.sh [--duration 30] [--connections 64]
#                                   [--streams 1000] [--changes 50] [--mix 20,20,30,30]
set -euo pipefail
cd "$(dirname "$0")/../.."
# Two packages: `halyard` (the root package) and `halyard-benches`.
cargo build --release -p halyard --bin halyard -p halyard-benches --bin cluster-load
# 1,000 streams through nginx need a descriptor per stream in the client, two
# in nginx (client and edge side) and one in an edge: raise the soft limit to
# the hard limit here, so every process of the cluster inherits it (nginx's
# generated configuration also sets worker_rlimit_nofile 65536, and
# cluster-load raises its own limit again).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# For the report (the binary only sees its own arguments).
export CLUSTER_LOAD_COMMAND="benches/scripts/cluster-load.sh${*:+ $*}"
exec scripts/cluster run --release -- "${CARGO_TARGET_DIR:-target}/release/cluster-load" "$@"
