#!/usr/bin/env bash
# Refresh uv.lock: the newest releases that pyproject.toml's version ranges allow. Commit the new uv.lock once
# ./scripts/test.sh passes with it. Arguments go to `uv lock` (e.g. --upgrade-package redis for one package only).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_uv.sh
if [ "$#" -eq 0 ]; then
  set -- --upgrade
fi
exec "$UV" lock --python "$python_bin" "$@"
