#!/usr/bin/env bash
# Runs the given test command. (LocalStack start-up is added by the localstack work.)
set -euo pipefail
exec "$@"
