#!/usr/bin/env bash
# Benchmark S3Dict against the raw aws-sdk-s3 calls doing the same requests and against
# Python persidict 0.309.0 (BasicS3Dict), all on one fresh local SeaweedFS.
#
# Usage: bench/compare.sh [--rtt MS]   (from anywhere; about 5 minutes after the build)
#
# --rtt MS puts the server behind the latency proxy (examples/latency_proxy.rs), MS/2 ms
# each way, so that it answers like a distant S3; the figures then go to
# target/bench/compare-rtt<MS>.{json,md}, every row with "rtt_ms", and the memory
# sections are left out. The proxy's accepted connections are reported, and two more
# sections run (examples/bench_sweep.rs): bulk reads and writes at 32, 64, 128 and 256
# requests in flight, counting the new connections of each, and len/keys over 100,000
# hierarchical and 100,000 flat keys against raw sequential listing.
#
# Also streams one 1 GiB value up and down and records the peak RSS of each direction, and
# times one small GET after the machine idled for 0 to 40 ms (examples/idle_latency.rs).
#
# Starts its own SeaweedFS (ports below, fresh data dir under target/bench/s3) and stops
# it by PID on exit; builds the release benchmark; prints a Markdown table and writes the
# raw figures to target/bench/compare.json.
#
# Environment (optional): BENCH_S3_PORT (default 28333) and the internal SeaweedFS ports
# BENCH_SEAWEEDFS_{MASTER,VOLUME,FILER,ADMIN}_PORT (defaults 29333, 29340, 28888, 24646;
# each also uses port+10000), chosen apart from the test servers' defaults;
# BENCH_SEAWEEDFS_VOLUME_MB (default 1024), the size of a SeaweedFS volume.

set -euo pipefail

RTT=0
while [ $# -gt 0 ]; do
    case $1 in
        --rtt) RTT=${2:?--rtt needs milliseconds}; shift 2 ;;
        *) echo "usage: bench/compare.sh [--rtt MS]" >&2; exit 2 ;;
    esac
done

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
# Volumes of 1 GiB, not the tests' 64 MiB: a write that fills a volume waits up to a few
# hundred ms for the next one, and with 64 MiB volumes that happened every 64 writes of
# 1 MiB, at the same points of every run (the 1 MiB inserts of one client lost a third
# of their rate to it).
export PERSIDICT_SEAWEEDFS_VOLUME_MB=${BENCH_SEAWEEDFS_VOLUME_MB:-1024}
ENDPOINT=http://127.0.0.1:$PERSIDICT_SEAWEEDFS_PORT
BUCKET=bench

t0=$SECONDS
log() { printf 'compare: %s\n' "$*" >&2; }

log "building the benchmark (release)"
cargo build --release --quiet --example bench_compare --example bench_sweep --example latency_proxy \
    --example idle_latency
BIN=$OUT_DIR/release/examples/bench_compare
# The Rust peers (object_store, opendal): a package of their own, built apart.
cargo build --release --quiet --manifest-path bench/peers/Cargo.toml --target-dir "$OUT_DIR/peers"
PEERS=$OUT_DIR/peers/release/persidict-bench-peers

PROXY_PID=
stop_all() {
    if [ -n "$PROXY_PID" ]; then kill "$PROXY_PID" 2>/dev/null || true; fi
    scripts/s3-servers.sh stop
}
# The server and the proxy are stopped (by their PIDs) and the data removed on any exit.
trap stop_all EXIT
scripts/s3-servers.sh start seaweedfs
# shellcheck disable=SC1091
source "$PERSIDICT_S3_RUN_DIR/env.sh"
# The server's PID, so that the benchmarks can read its CPU time from /proc.
read -r BENCH_SERVER_PID _ <"$PERSIDICT_S3_RUN_DIR/seaweedfs.pid"
export BENCH_SERVER_PID
PY=$PERSIDICT_TEST_PYTHON
SUFFIX=
if [ "$RTT" != 0 ]; then
    PROXY_PORT=${BENCH_PROXY_PORT:-28401}
    ONE_WAY=$(python3 -c "print($RTT / 2)")
    "$OUT_DIR/release/examples/latency_proxy" "$PROXY_PORT" "127.0.0.1:$PERSIDICT_SEAWEEDFS_PORT" \
        "$ONE_WAY" "$BENCH_DIR/proxy-connections" &
    PROXY_PID=$!
    ENDPOINT=http://127.0.0.1:$PROXY_PORT
    SUFFIX=-rtt$RTT
    sleep 0.5
    log "behind the latency proxy: $ONE_WAY ms each way ($ENDPOINT)"
fi
export AWS_ENDPOINT_URL=$ENDPOINT BENCH_RTT_MS=$RTT

log "rust: persidict-rs and aws-sdk-s3, interleaved"
"$BIN" run "$ENDPOINT" "$BUCKET" "$BENCH_DIR/rust$SUFFIX.json"

log "rust peers: object_store and opendal"
"$PEERS" "$ENDPOINT" "$BUCKET" "$BENCH_DIR/peers$SUFFIX.json"

log "python: persidict $("$PY" -c 'import importlib.metadata as m; print(m.version("persidict"))')"
"$PY" bench/persidict_bench.py "$BUCKET" "$BENCH_DIR/persidict$SUFFIX.json"

if [ "$RTT" != 0 ]; then
    log "the proxy accepted $(cat "$BENCH_DIR/proxy-connections") connections"
    SWEEP=$OUT_DIR/release/examples/bench_sweep
    log "bulk: 32, 64, 128 and 256 requests in flight over 10,000 keys"
    "$SWEEP" concurrency "$ENDPOINT" "$BUCKET" 10000 32,64,128,256 "$BENCH_DIR/proxy-connections" \
        >"$BENCH_DIR/sweep$SUFFIX.jsonl"
    log "listing 100,000 keys, hierarchical and flat (filled without the proxy)"
    "$SWEEP" listing "$ENDPOINT" "$BUCKET" 100000 "http://127.0.0.1:$PERSIDICT_SEAWEEDFS_PORT" \
        >>"$BENCH_DIR/sweep$SUFFIX.jsonl"
    SWEEP_JSONL="$BENCH_DIR/sweep$SUFFIX.jsonl" PEERS_JSON="$BENCH_DIR/peers$SUFFIX.json" "$PY" bench/report.py "$BENCH_DIR/compare$SUFFIX.json" \
        "$BENCH_DIR/rust$SUFFIX.json" "$BENCH_DIR/persidict$SUFFIX.json" | tee "$BENCH_DIR/compare$SUFFIX.md"
    log "raw figures: $BENCH_DIR/compare$SUFFIX.json; took $((SECONDS - t0)) s"
    exit 0
fi

log "memory: 100k keys, iterated by separate processes"
"$BIN" fill "$ENDPOINT" "$BUCKET" rss 100000
: >"$BENCH_DIR/rss.jsonl"
"$BIN" rss "$ENDPOINT" "$BUCKET" rss keys >>"$BENCH_DIR/rss.jsonl"
# Values fetch 100k objects (the default requests in flight while the listing goes on).
"$BIN" rss "$ENDPOINT" "$BUCKET" rss values >>"$BENCH_DIR/rss.jsonl"

log "memory: one 1 GiB value streamed up and down (multipart upload, ranged GETs)"
"$BIN" large "$ENDPOINT" "$BUCKET" large 1024 >"$BENCH_DIR/large.jsonl"

log "one small GET after the machine idled 0-40 ms (examples/idle_latency.rs)"
"$OUT_DIR/release/examples/idle_latency" "$ENDPOINT" "$BUCKET" >"$BENCH_DIR/idle-latency.md"

PEERS_JSON="$BENCH_DIR/peers.json" "$PY" bench/report.py "$BENCH_DIR/compare.json" "$BENCH_DIR/rust.json" \
    "$BENCH_DIR/persidict.json" "$BENCH_DIR/rss.jsonl" "$BENCH_DIR/large.jsonl" \
    | tee "$BENCH_DIR/compare.md"
printf '\nOne 100-byte GET after the machine idled (raw aws-sdk-s3, 200 per gap):\n\n' \
    | cat - "$BENCH_DIR/idle-latency.md" | tee -a "$BENCH_DIR/compare.md"
log "raw figures: $BENCH_DIR/compare.json; took $((SECONDS - t0)) s"
