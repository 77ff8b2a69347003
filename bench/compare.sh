#!/usr/bin/env bash
# Benchmark S3Dict against the raw aws-sdk-s3 calls doing the same requests and against
# Python persidict 0.309.0 (BasicS3Dict), all on one fresh local SeaweedFS.
#
# Usage: bench/compare.sh          (from anywhere; about 5 minutes after the build)
#
# Also streams one 1 GiB value up and down and records the peak RSS of each direction.
#
# Starts its own SeaweedFS (ports below, fresh data dir under target/bench/s3) and stops
# it by PID on exit; builds the release benchmark; prints a Markdown table and writes the
# raw figures to target/bench/compare.json.
#
# Environment (optional): BENCH_S3_PORT (default 28333) and the internal SeaweedFS ports
# BENCH_SEAWEEDFS_{MASTER,VOLUME,FILER,ADMIN}_PORT (defaults 29333, 29340, 28888, 24646;
# each also uses port+10000), chosen apart from the test servers' defaults.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH_DIR=$ROOT/target/bench
mkdir -p "$BENCH_DIR"

export PERSIDICT_S3_RUN_DIR=$BENCH_DIR/s3
export PERSIDICT_SEAWEEDFS_PORT=${BENCH_S3_PORT:-28333}
export PERSIDICT_SEAWEEDFS_MASTER_PORT=${BENCH_SEAWEEDFS_MASTER_PORT:-29333}
export PERSIDICT_SEAWEEDFS_VOLUME_PORT=${BENCH_SEAWEEDFS_VOLUME_PORT:-29340}
export PERSIDICT_SEAWEEDFS_FILER_PORT=${BENCH_SEAWEEDFS_FILER_PORT:-28888}
export PERSIDICT_SEAWEEDFS_ADMIN_PORT=${BENCH_SEAWEEDFS_ADMIN_PORT:-24646}
ENDPOINT=http://127.0.0.1:$PERSIDICT_SEAWEEDFS_PORT
BUCKET=bench

t0=$SECONDS
log() { printf 'compare: %s\n' "$*" >&2; }

log "building the benchmark (release)"
cargo build --release --quiet --example bench_compare
BIN=$OUT_DIR/release/examples/bench_compare

# The server is stopped (by the PID recorded in the run dir) and its data removed on any exit.
trap 'scripts/s3-servers.sh stop' EXIT
scripts/s3-servers.sh start seaweedfs
# shellcheck disable=SC1091
source "$PERSIDICT_S3_RUN_DIR/env.sh"
export AWS_ENDPOINT_URL=$ENDPOINT
PY=$PERSIDICT_TEST_PYTHON

log "rust: persidict-rs and aws-sdk-s3, interleaved"
"$BIN" run "$ENDPOINT" "$BUCKET" "$BENCH_DIR/rust.json"

log "python: persidict $("$PY" -c 'import importlib.metadata as m; print(m.version("persidict"))')"
"$PY" bench/persidict_bench.py "$BUCKET" "$BENCH_DIR/persidict.json"

log "memory: 100k keys, iterated by separate processes"
"$BIN" fill "$ENDPOINT" "$BUCKET" rss 100000
: >"$BENCH_DIR/rss.jsonl"
"$BIN" rss "$ENDPOINT" "$BUCKET" rss keys >>"$BENCH_DIR/rss.jsonl"
# Values fetch 100k objects (32 GETs in flight while the listing goes on): about 30 s here.
"$BIN" rss "$ENDPOINT" "$BUCKET" rss values >>"$BENCH_DIR/rss.jsonl"

log "memory: one 1 GiB value streamed up and down (multipart upload, ranged GETs)"
"$BIN" large "$ENDPOINT" "$BUCKET" large 1024 >"$BENCH_DIR/large.jsonl"

"$PY" bench/report.py "$BENCH_DIR/compare.json" "$BENCH_DIR/rust.json" \
    "$BENCH_DIR/persidict.json" "$BENCH_DIR/rss.jsonl" "$BENCH_DIR/large.jsonl" \
    | tee "$BENCH_DIR/compare.md"
log "raw figures: $BENCH_DIR/compare.json; took $((SECONDS - t0)) s"
