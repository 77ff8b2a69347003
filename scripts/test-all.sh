#!/usr/bin/env bash
# Runs the whole test suite: starts the local S3 servers (installing them on first use),
# runs every test against memory and every server, runs the examples, and stops the servers
# by PID even when something fails.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build outputs live outside the clone so that fresh clones reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/persidict/target}"
log_dir="target/test-all"
mkdir -p "$log_dir"

echo "== starting the local S3 servers"
trap 'scripts/s3-servers.sh stop' EXIT
scripts/s3-servers.sh start
# shellcheck disable=SC1091
source target/s3-servers/env.sh
# A server missing from PERSIDICT_TEST_S3 is a failure, never a silent skip.
export PERSIDICT_REQUIRE_S3=1

echo "== cargo test (memory, SeaweedFS, moto, rclone)"
cargo test --all-features --no-fail-fast 2>&1 | tee "$log_dir/cargo-test.log"

echo "== examples"
cargo run --quiet --example quickstart
cargo run --quiet --example quickstart -- \
    "s3://persidict-examples/quickstart-$RANDOM?endpoint=http://127.0.0.1:8333"
cargo run --quiet --example cas_counter -- \
    "s3://persidict-examples/cas-$RANDOM?endpoint=http://127.0.0.1:8333" 4 25
cargo run --quiet --example cas_counter -- \
    "s3://persidict-examples/cas-$RANDOM?endpoint=http://127.0.0.1:5000" 4 25
for example in cas_cache audit_log; do
    cargo run --quiet --example "$example"
    for endpoint in http://127.0.0.1:8333 http://127.0.0.1:5000; do
        cargo run --quiet --example "$example" -- \
            "s3://persidict-examples/$example-$RANDOM?endpoint=$endpoint"
    done
done
# On a server that ignores conditional headers the counter must refuse to run.
if cargo run --quiet --example cas_counter -- \
    "s3://persidict-examples/cas-$RANDOM?endpoint=http://127.0.0.1:8090" 2 2; then
    echo "cas_counter should have refused rclone (no conditional writes)" >&2
    exit 1
fi

echo "== command-line tool"
cargo run --quiet --all-features --bin persidict -- probe \
    "s3://persidict-examples/cli-$RANDOM?endpoint=http://127.0.0.1:8333&create_bucket=true"

echo "== tests passed per backend"
for backend in memory file seaweedfs moto rclone; do
    n=$(grep -cE "^test .*${backend}.* \.\.\. ok$" "$log_dir/cargo-test.log" || true)
    echo "$backend: $n tests passed"
done
