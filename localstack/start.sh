#!/usr/bin/env bash
# Starts LocalStack (S3 + SQS) on the host, without Docker, in the background, bound to
# 127.0.0.1 only, and waits until both services are up. Prints the endpoint URL on stdout.
#
# Env: LOCALSTACK_PORT            gateway port (default 4566)
#      LOCALSTACK_START_TIMEOUT   seconds to wait for the health check (default 120)
#      LOCALSTACK_STATE_DIR       where the pid, port, data dir name and log go
#                                 (default localstack/.state; stop.sh must get the same)
# stop.sh undoes it all.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${LOCALSTACK_STATE_DIR:-$here/.state}"
python="$here/.venv/bin/python"
port="${LOCALSTACK_PORT:-4566}"
timeout="${LOCALSTACK_START_TIMEOUT:-120}"
endpoint="http://127.0.0.1:$port"
log_file="$state/localstack.log"

log() { printf 'localstack/start: %s\n' "$*" >&2; }

if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    log "LOCALSTACK_PORT must be a port number, got '$port'"
    exit 2
fi
if [[ ! -x "$python" ]]; then
    log "LocalStack is not installed; run localstack/setup.sh first"
    exit 1
fi

# Succeeds when /_localstack/health reports both s3 and sqs available or running.
health_ok() {
    "$python" - "$endpoint" <<'PY'
import json, sys, urllib.request

try:
    with urllib.request.urlopen(sys.argv[1] + "/_localstack/health", timeout=2) as response:
        services = json.load(response).get("services", {})
except Exception:
    sys.exit(1)
ok = all(services.get(name) in ("available", "running") for name in ("s3", "sqs"))
sys.exit(0 if ok else 1)
PY
}

# LocalStack accepts any credentials: it must not be reachable from beyond this machine.
listens_on_loopback_only() {
    local exposed
    command -v ss >/dev/null 2>&1 || return 0
    exposed="$(ss -Hltnp "sport = :$port" | grep -F "pid=$1," \
        | awk '$4 !~ /^127\./ && $4 !~ /^\[::1\]/ {print $4}' || true)"
    if [[ -n "$exposed" ]]; then
        log "LocalStack (pid $1) listens on $exposed, not only on 127.0.0.1"
        return 1
    fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

mkdir -p "$state"

# Already started by us (e.g. a developer ran start.sh before make test): reuse it.
if [[ -f "$state/localstack.pid" ]]; then
    old_pid="$(cat "$state/localstack.pid")"
    if kill -0 "$old_pid" 2>/dev/null && [[ "$(cat "$state/port" 2>/dev/null)" == "$port" ]] \
        && health_ok && listens_on_loopback_only "$old_pid"; then
        log "already running (pid $old_pid)"
        echo "$endpoint"
        exit 0
    fi
    log "a previous LocalStack is stale or on another port; stopping it"
    LOCALSTACK_STATE_DIR="$state" bash "$here/stop.sh"
fi

if port_in_use; then
    log "127.0.0.1:$port is already in use by another process; set LOCALSTACK_PORT to a free port"
    exit 1
fi

data_dir="$(mktemp -d "${TMPDIR:-/tmp}/bucketstream-localstack.XXXXXX")"
printf '%s\n' "$data_dir" >"$state/data_dir"
printf '%s\n' "$port" >"$state/port"

# launch.py is `python -m localstack.runtime.main` with the gateway bound to GATEWAY_LISTEN's host
# (LocalStack's twisted server would otherwise listen on 0.0.0.0; see launch.py).
# setsid: LocalStack leads its own process group, so stop.sh can end it with all its children.
# DNS_ADDRESS=0: no DNS server (it would bind 0.0.0.0:53). DISABLE_EVENTS / SKIP_SSL_CERT_DOWNLOAD:
# no calls out to the internet at start-up. EAGER_SERVICE_LOADING: s3 and sqs load before the
# health check passes, so the first test does not pay for it. PYTHONDONTWRITEBYTECODE is dropped so
# the modules LocalStack loads are compiled once into its own venv and later starts are faster.
started=$SECONDS
env -u PYTHONDONTWRITEBYTECODE \
    OVERRIDE_IN_DOCKER=0 \
    GATEWAY_LISTEN="127.0.0.1:$port" \
    LOCALSTACK_HOST="127.0.0.1:$port" \
    SQS_ENDPOINT_STRATEGY=path \
    SERVICES=s3,sqs \
    EAGER_SERVICE_LOADING=1 \
    FILESYSTEM_ROOT="$data_dir" \
    DNS_ADDRESS=0 \
    DISABLE_EVENTS=1 \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    PERSISTENCE=0 \
    setsid "$python" "$here/launch.py" >"$log_file" 2>&1 </dev/null &
pid=$!
printf '%s\n' "$pid" >"$state/localstack.pid"

log "started (pid $pid), waiting up to ${timeout}s for s3 and sqs at $endpoint (log: $log_file)"
deadline=$((SECONDS + timeout))
until health_ok; do
    if ! kill -0 "$pid" 2>/dev/null; then
        log "LocalStack exited during start-up; last lines of $log_file:"
        tail -n 30 "$log_file" >&2 || true
        LOCALSTACK_STATE_DIR="$state" bash "$here/stop.sh"
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        log "LocalStack did not become healthy within ${timeout}s; last lines of $log_file:"
        tail -n 30 "$log_file" >&2 || true
        LOCALSTACK_STATE_DIR="$state" bash "$here/stop.sh"
        exit 1
    fi
    sleep 0.5
done
log "ready in $((SECONDS - started)) s"

if ! listens_on_loopback_only "$pid"; then
    LOCALSTACK_STATE_DIR="$state" bash "$here/stop.sh"
    exit 1
fi
echo "$endpoint"
