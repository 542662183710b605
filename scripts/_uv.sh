# Sourced by the scripts: finds Python >= 3.11 ($python_bin) and uv ($UV), installing the pinned uv from PyPI into
# .tools/uv when it is missing. uv never downloads a Python of its own here: it uses $python_bin.
uv_version="0.13.9"

python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "litestar-kvstores needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2; exit 1; }

export UV_PYTHON_DOWNLOADS=never
# Trust the platform's certificate store (where a proxy's CA is installed), as pip does, not only uv's bundled roots.
export UV_SYSTEM_CERTS=1
tools=".tools/uv"
if [ ! -x "$tools/bin/uv" ] || [ "$("$tools/bin/uv" --version | cut -d' ' -f2)" != "$uv_version" ]; then
  echo "== installing uv $uv_version into $tools"
  rm -rf "$tools"
  "$python_bin" -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$uv_version"
fi
UV="$PWD/$tools/bin/uv"
