#!/usr/bin/env bash
# Run the example app (example_app/) on the embedded in-memory default: no server needed.
# Creates .venv if missing and installs the package with a web server; prints the URL to open.
# Set KVSTORES_DEFAULT (e.g. redis://localhost:6379/0 or file://./data) to run it on another backend.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
venv="${KVSTORES_VENV:-.venv}"
[ -x "$venv/bin/python" ] || "$python_bin" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e . "uvicorn>=0.30"
exec "$venv/bin/python" -m example_app "$@"
