#!/usr/bin/env bash
# Edge load benchmark on this machine: builds the release binary, seeds the
# 200-flag fixture under a unique prefix on Redis (REDIS_URL, default the
# local one), starts an edge and a minimal hyper baseline as child processes,
# loads both, opens the SSE fan-out, prints the report and removes everything
# it created. See benches/README.md.
#   benches/scripts/edge-load.sh [--connections 64] [--duration 5] [--rounds 3]
#                                [--streams 10000] [--changes 10] [--scenarios config,...]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p halyard-benches --bin edge-load
# The binary raises its own (and its children's) open files limit to the hard
# limit; 10,000 streams need about 10,000 descriptors in each process.
exec "${CARGO_TARGET_DIR:-target}/release/edge-load" "$@"
