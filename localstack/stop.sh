#!/usr/bin/env bash
# Stops the LocalStack started by start.sh (its whole process group) and removes its data dir.
# Safe to run when nothing is running.
# Env: LOCALSTACK_STATE_DIR (as given to start.sh), LOCALSTACK_STOP_GRACE (seconds, default 3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${LOCALSTACK_STATE_DIR:-$here/.state}"
grace="${LOCALSTACK_STOP_GRACE:-3}" # seconds between SIGTERM and SIGKILL

log() { printf 'localstack/stop: %s\n' "$*" >&2; }

# True when $1 is alive and is the LocalStack that start.sh launched (not a reused pid).
ours() { kill -0 "$1" 2>/dev/null && ps -o args= -p "$1" 2>/dev/null | grep -q 'localstack/launch\.py'; }
# True until $1 has fully exited (a zombie has released its port and files).
running() {
    local stat
    stat="$(ps -o stat= -p "$1" 2>/dev/null || true)"
    [[ -n "$stat" && "$stat" != Z* ]]
}

if [[ -f "$state/localstack.pid" ]]; then
    pid="$(cat "$state/localstack.pid")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && ours "$pid"; then
        # start.sh runs LocalStack under setsid, so its pid is also its process group id.
        # LocalStack's own shutdown then waits 10 s for its idle gateway threads; it keeps no state
        # (PERSISTENCE=0, data in a temp dir), so after a short grace the group is killed.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 $((grace * 10))); do
            running "$pid" || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            running "$pid" || break
            sleep 0.1
        done
        log "stopped (pid $pid)"
    fi
    rm -f "$state/localstack.pid"
fi

if [[ -f "$state/data_dir" ]]; then
    data_dir="$(cat "$state/data_dir")"
    # Only ever remove a directory that start.sh made.
    if [[ "$data_dir" == */bucketstream-localstack.* && -d "$data_dir" ]]; then
        rm -rf -- "$data_dir"
    fi
    rm -f "$state/data_dir"
fi
rm -f "$state/port"
