#!/usr/bin/env bash
# Runs a test command with LocalStack (S3 + SQS) up for the integration tests, e.g.
#   bash localstack/run-tests.sh .venv/bin/python -m pytest -q
#
# - Installs LocalStack into localstack/.venv (setup.sh; instant once done), starts it on
#   127.0.0.1 (start.sh), exports BUCKETSTREAM_LOCALSTACK_URL, runs the command, stops LocalStack
#   when the command ends (or is interrupted), and exits with the command's exit code.
# - Port: LOCALSTACK_PORT, else 4566, else (4566 taken) any free port. Each run has its own state
#   dir, so runs side by side do not share or stop each other's LocalStack. The LocalStack log of
#   the last run is kept in localstack/.state/last-run.log.
# - BUCKETSTREAM_LOCALSTACK_URL already set (e.g. a LocalStack from docker-compose.yml): that one
#   is used, and nothing is started or stopped.
# - If LocalStack cannot be installed or started: a warning, then the command runs anyway and the
#   integration tests skip, saying why. Under CI=true that is an error instead: the script fails
#   before running the command, and the integration tests are told (by
#   BUCKETSTREAM_LOCALSTACK_REQUIRED=1) to fail rather than skip if LocalStack goes away.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${LOCALSTACK_PYTHON:-python3}"

log() { printf 'localstack/run-tests: %s\n' "$*" >&2; }

if [[ $# -eq 0 ]]; then
    log "usage: bash localstack/run-tests.sh COMMAND [ARG...]"
    exit 2
fi

command_line="$*"
case "${CI:-}" in
    true | TRUE | True | 1) in_ci=true ;;
    *) in_ci=false ;;
esac

# LocalStack is not available: fail under CI; elsewhere warn and run the command without it.
unavailable() {
    if [[ "$in_ci" == true ]]; then
        log "ERROR: $1"
        log "ERROR: CI=true and the integration tests need LocalStack; not running: $command_line"
        exit 1
    fi
    log "WARNING: $1"
    log "WARNING: running the command without LocalStack; the integration tests will be skipped"
    export BUCKETSTREAM_LOCALSTACK_UNAVAILABLE="localstack/run-tests.sh: $1"
}

if [[ "$in_ci" == true ]]; then
    export BUCKETSTREAM_LOCALSTACK_REQUIRED=1
fi

healthy() {
    "$python" - "$1" <<'PY'
import json, sys, urllib.request

try:
    with urllib.request.urlopen(sys.argv[1].rstrip("/") + "/_localstack/health", timeout=2) as r:
        services = json.load(r).get("services", {})
except Exception:
    sys.exit(1)
sys.exit(0 if all(services.get(s) in ("available", "running") for s in ("s3", "sqs")) else 1)
PY
}

# A LocalStack the caller runs: use it as it is.
if [[ -n "${BUCKETSTREAM_LOCALSTACK_URL:-}" ]]; then
    if healthy "$BUCKETSTREAM_LOCALSTACK_URL"; then
        log "using the LocalStack at $BUCKETSTREAM_LOCALSTACK_URL (BUCKETSTREAM_LOCALSTACK_URL)"
    else
        unavailable "BUCKETSTREAM_LOCALSTACK_URL=$BUCKETSTREAM_LOCALSTACK_URL does not answer with s3 and sqs up"
    fi
    exec "$@"
fi

if ! bash "$here/setup.sh"; then
    unavailable "LocalStack could not be installed (see localstack/.state/install.log)"
    exec "$@"
fi

mkdir -p "$here/.state"
# Stop what an earlier run left behind when it was killed before its EXIT trap could run.
for stale in "$here"/.state/run.*; do
    [[ -d "$stale" ]] || continue
    owner="$(cat "$stale/owner.pid" 2>/dev/null || true)"
    if [[ "$owner" =~ ^[0-9]+$ ]] && ! kill -0 "$owner" 2>/dev/null; then
        LOCALSTACK_STATE_DIR="$stale" bash "$here/stop.sh" || true
        rm -rf -- "$stale"
    fi
done

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# LocalStack binds its port only ~10 s after it starts, so runs started together would all see
# 4566 free: the first one takes a machine-wide lock on it (held until this script and the
# LocalStack it started are gone), the others fall back to a free port.
claim_4566() {
    command -v flock >/dev/null 2>&1 || return 0
    exec 8>"${TMPDIR:-/tmp}/bucketstream-localstack-4566.lock"
    flock -n 8
}
port="${LOCALSTACK_PORT:-}"
if [[ -z "$port" ]]; then
    port=4566
    if ! claim_4566 || ! port_free "$port"; then
        port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
        log "127.0.0.1:4566 is taken; using port $port"
    fi
fi

run_state="$(mktemp -d "$here/.state/run.XXXXXX")"
printf '%s\n' "$$" >"$run_state/owner.pid"
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    LOCALSTACK_STATE_DIR="$run_state" bash "$here/stop.sh" || true
    if [[ -f "$run_state/localstack.log" ]]; then
        mv -f "$run_state/localstack.log" "$here/.state/last-run.log" || true
    fi
    rm -rf -- "$run_state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if endpoint="$(LOCALSTACK_STATE_DIR="$run_state" LOCALSTACK_PORT="$port" bash "$here/start.sh")"; then
    export BUCKETSTREAM_LOCALSTACK_URL="$endpoint"
    log "LocalStack is up at $endpoint; running: $*"
else
    unavailable "LocalStack could not be started (log: localstack/.state/last-run.log)"
fi

set +e
"$@"
status=$?
set -e
exit "$status"
