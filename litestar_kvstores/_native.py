"""The compiled hot path: which modules run as mypyc-compiled extensions, and when they run from source instead.

Building the package (``hatch_build.py``) compiles :data:`COMPILED_MODULES` with mypyc where a C compiler is present,
and records the SHA-256 of each module's source in :data:`DIGESTS_FILE` beside this module. Every rate-limited
request runs them (``benchmarks/RESULTS.md``: a third of the rate limiter's cost in process).

:func:`install`, which runs when the package is imported (before any compiled module), makes all of them load from
their ``.py`` source when:

- ``LITESTAR_KVSTORES_PURE_PYTHON`` is set (to anything but an empty string or ``0``);
- the package was not compiled (no digests file: built without a compiler, or a checkout before its first build);
- a source changed after the build (a digest differs): the compiled code would no longer be the code that is read.

All or none: the compiled modules call each other directly, so one of them from source beside the others compiled
would see classes of another identity.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

__all__ = (
    "COMPILED_MODULES",
    "DIGESTS_FILE",
    "PURE_PYTHON_ENV",
    "compiled",
    "install",
    "source_digests",
    "source_path",
    "status",
    "why_from_source",
)

COMPILED_MODULES: tuple[str, ...] = (
    "litestar_kvstores._memory_counting",
    "litestar_kvstores.rate_limit._windows",
    "litestar_kvstores.rate_limit._middleware",
)
"""The modules the build compiles: the rate limiter's per-request path and the memory store's counting."""

DIGESTS_FILE = "_native_digests.json"
"""Beside this module: ``{module: SHA-256 of its source}`` as compiled; written by the build."""

PURE_PYTHON_ENV = "LITESTAR_KVSTORES_PURE_PYTHON"
"""The environment variable that makes the compiled modules load from source."""

_PACKAGE_DIR = Path(__file__).resolve().parent


def source_path(module: str) -> Path:
    """Return the ``.py`` file of ``module``, one of :data:`COMPILED_MODULES`."""
    return _PACKAGE_DIR.joinpath(*module.split(".")[1:]).with_suffix(".py")


def source_digests(root: Path = _PACKAGE_DIR.parent) -> dict[str, str]:
    """Return the SHA-256 of each compiled module's source under ``root`` (the folder holding the package)."""
    return {
        module: hashlib.sha256(root.joinpath(*module.split(".")).with_suffix(".py").read_bytes()).hexdigest()
        for module in COMPILED_MODULES
    }


def why_from_source() -> str | None:
    """Return why the compiled modules must load from source, or ``None`` when the compiled ones are current."""
    if os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0"):
        return f"{PURE_PYTHON_ENV} is set"
    try:
        built = json.loads((_PACKAGE_DIR / DIGESTS_FILE).read_text())
    except (OSError, ValueError):
        return "the package was built without compiling them"
    if built != source_digests():
        return "their sources changed after they were compiled (build the package again)"
    return None


class _FromSource(importlib.abc.MetaPathFinder):
    """Finds the compiled modules' ``.py`` sources, ahead of the compiled extensions beside them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED_MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


_installed = False
_reason: str | None = None
"""Why the compiled modules load from source in this process (``None``: they do not), as :func:`install` found."""


def install() -> None:
    """Make the compiled modules load from source when :func:`why_from_source` says so (once; the package calls
    it before importing them)."""
    global _installed, _reason
    if _installed:
        return
    _installed = True
    _reason = why_from_source()
    if _reason is not None:
        sys.meta_path.insert(0, _FromSource())


def compiled() -> bool:
    """Return whether the hot path runs compiled: every module of :data:`COMPILED_MODULES` is an extension module.

    Imports them.
    """
    install()
    for module in COMPILED_MODULES:
        spec = importlib.import_module(module).__spec__
        if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            return False
    return True


def status() -> str:
    """Return a line saying whether the hot path runs compiled and, if not, why."""
    if compiled():
        return "compiled (mypyc)"
    return f"pure Python: {_reason or 'the compiled modules are missing'}"


if __name__ == "litestar_kvstores._native":  # not when the build hook reads this file
    install()  # on import: the package imports this module before any compiled one
