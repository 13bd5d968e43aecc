#!/usr/bin/env bash
# Installs LocalStack into its own venv, localstack/.venv, apart from the project's .venv
# (LocalStack pins its own boto3/botocore and moto). Idempotent: a stamp holding the interpreter
# version and the hashes of requirements.txt and constraints.txt makes a second run return at
# once. Installs with uv (about 30 s from nothing) and falls back to pip (about 2 min).
#
# Env: LOCALSTACK_PYTHON  interpreter to build the venv with (default: python3, needs >= 3.10)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${LOCALSTACK_PYTHON:-python3}"
uv_requirement="uv==0.13.9"
stamp="$venv/.bucketstream-installed"
install_log="$here/.state/install.log"

log() { printf 'localstack/setup: %s\n' "$*" >&2; }

if ! command -v "$python" >/dev/null 2>&1; then
    log "no '$python' on PATH (set LOCALSTACK_PYTHON)"
    exit 1
fi
if ! version="$("$python" -c 'import sys; print(sys.version.split()[0]); sys.exit(sys.version_info < (3, 10))')"; then
    log "LocalStack needs Python >= 3.10; '$python' is $version"
    exit 1
fi

want="Python $version $(cat "$here/requirements.txt" "$here/constraints.txt" | sha256sum | cut -d' ' -f1)"
installed() { [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; }

if installed; then
    exit 0
fi

mkdir -p "$here/.state"
# One installer at a time: two test runs started together would otherwise both install.
exec 9>"$here/.state/setup.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
    if installed; then # another run finished the install while this one waited
        exit 0
    fi
fi

log "installing LocalStack into $venv (log: $install_log)"
started=$SECONDS
rm -rf "$venv"
"$python" -m venv --without-pip "$venv" >"$install_log" 2>&1
vpython="$venv/bin/python"

# pip inside the venv only when needed: ensurepip alone takes ~10 s.
venv_pip() {
    if ! "$vpython" -m pip --version >/dev/null 2>&1; then
        "$vpython" -m ensurepip --default-pip >>"$install_log" 2>&1 || return 1
    fi
    "$vpython" -m pip install --quiet --disable-pip-version-check "$@" >>"$install_log" 2>&1
}

install_uv() {
    # The outer interpreter's pip can install into the venv directly (pip >= 22.3).
    "$python" -m pip --python "$vpython" install --quiet --disable-pip-version-check \
        "$uv_requirement" >>"$install_log" 2>&1 || venv_pip "$uv_requirement"
}

# uv resolves and installs the ~120 packages in seconds where pip takes minutes; pip is the
# fallback for machines where uv cannot be had or cannot reach the index pip is set up for.
if install_uv && "$venv/bin/uv" pip install --quiet --python "$vpython" \
    -r "$here/requirements.txt" -c "$here/constraints.txt" >>"$install_log" 2>&1; then
    how=uv
else
    log "uv install failed; falling back to pip (see $install_log)"
    if ! venv_pip --no-compile -r "$here/requirements.txt" -c "$here/constraints.txt"; then
        log "pip install failed; last lines of $install_log:"
        grep -v 'is ignored: it is neither a file nor a directory' "$install_log" | tail -n 20 >&2
        exit 1
    fi
    how=pip
fi

# Check the server can load, and compile what LocalStack imports at start-up (this also works
# where PYTHONDONTWRITEBYTECODE is set): byte-compiling the whole venv would take ~40 s more.
if ! env -u PYTHONDONTWRITEBYTECODE "$vpython" -c \
    'import localstack.runtime.main, localstack.services.s3.provider, localstack.services.sqs.provider' \
    >>"$install_log" 2>&1; then
    log "LocalStack was installed but cannot be imported; last lines of $install_log:"
    tail -n 20 "$install_log" >&2
    exit 1
fi
printf '%s\n' "$want" >"$stamp"
log "installed with $how in $((SECONDS - started)) s"
