#!/usr/bin/env bash
# Run the example app (example_app/) on the embedded in-memory default: no server needed.
# Syncs .venv to uv.lock if needed (see scripts/test.sh) and prints the URL to open.
# Set KVSTORES_DEFAULT (e.g. redis://localhost:6379/0 or file://./data) to run it on another backend.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_uv.sh
venv="${KVSTORES_VENV:-.venv}"
UV_PROJECT_ENVIRONMENT="$venv" "$UV" sync --quiet --frozen --inexact --python "$python_bin" --extra example
exec "$venv/bin/python" -m example_app "$@"
