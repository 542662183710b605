"""Build hook: compiles the hot path (``litestar_kvstores._native.COMPILED_MODULES``) with mypyc.

Runs for wheels and editable installs (``uv sync``). It compiles the modules in a temporary copy of the package and
puts the extension modules, with the digests of the sources they were compiled from, into the wheel (or, for an
editable install, beside the sources). Without a C compiler, or when the compilation fails, it warns and the package
stays pure Python (the same behaviour, slower); ``LITESTAR_KVSTORES_REQUIRE_COMPILED=1`` makes that an error (CI),
``LITESTAR_KVSTORES_PURE_PYTHON=1`` skips the compilation.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "litestar_kvstores"
GROUP = f"{PACKAGE}._hot"
"""The compiled modules' group: mypyc puts their shared code in one library, :data:`GROUP_LIBRARY`."""
GROUP_LIBRARY = Path(PACKAGE, "_hot__mypyc")


def _native_module(root: Path) -> Any:
    """The package's ``_native`` module, loaded from ``root`` without importing the package (its dependencies are not
    in the build environment)."""
    spec = importlib.util.spec_from_file_location(f"_{PACKAGE}_native_for_build", root / PACKAGE / "_native.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"{PACKAGE}/_native.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_modules(root: Path, modules: tuple[str, ...], work: Path) -> list[Path]:
    """Compile ``modules`` (of the package under ``root``) in a copy under ``work``; return the extension files built,
    under ``work``."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    shutil.copytree(root / PACKAGE, work / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"))
    sources = [str(Path(*module.split(".")).with_suffix(".py")) for module in modules]
    previous = Path.cwd()
    os.chdir(work)  # mypyc names modules by their paths and writes its C sources under ./build
    try:
        # the package's dependencies are Any to the compiler, whatever the build environment has installed: the
        # compiled code checks no type of theirs, so it behaves as the source does
        options = ["--ignore-missing-imports", "--follow-imports=silent", "--no-site-packages"]
        extensions = mypycify([*options, *sources], opt_level="3", group_name=GROUP)
        distribution = Distribution({"name": PACKAGE, "ext_modules": extensions})
        build_ext = distribution.get_command_obj("build_ext")
        build_ext.inplace = True  # type: ignore[attr-defined]
        distribution.run_command("build_ext")
    finally:
        os.chdir(previous)
    suffixes = (".so", ".pyd")
    return sorted(path for path in (work / PACKAGE).rglob("*") if path.suffix in suffixes)


def _compiled_files(root: Path, modules: tuple[str, ...]) -> list[Path]:
    """The extension files of ``modules`` and of their shared library under ``root``, for any Python version."""
    stems = [Path(*module.split(".")) for module in modules] + [GROUP_LIBRARY]
    return [
        path
        for stem in stems
        for pattern in ("*.so", "*.pyd")
        for path in (root / stem.parent).glob(stem.name + "." + pattern)
    ]


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]  # generic in hatchling, its config unused here
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        native = _native_module(root)
        digests_in_tree = root / PACKAGE / native.DIGESTS_FILE
        if version == "editable":  # a failed or skipped build below must leave no stale compiled modules beside
            digests_in_tree.unlink(missing_ok=True)  # the sources (of any Python version)
            for path in _compiled_files(root, native.COMPILED_MODULES):
                path.unlink()
        if os.environ.get(native.PURE_PYTHON_ENV, "") not in ("", "0"):
            self.app.display_info(f"{native.PURE_PYTHON_ENV} is set: not compiling the hot path")
            return
        self._work = Path(tempfile.mkdtemp(prefix="kvstores-mypyc-"))  # removed in finalize, once the wheel is written
        try:
            built = compile_modules(root, native.COMPILED_MODULES, self._work)
        except (Exception, SystemExit) as exc:  # mypy exits on a type error
            if os.environ.get("LITESTAR_KVSTORES_REQUIRE_COMPILED", "") not in ("", "0"):
                raise
            self.app.display_warning(f"Could not compile the hot path with mypyc, building pure Python: {exc!r}")
            return
        digests = self._work / PACKAGE / native.DIGESTS_FILE
        digests.write_text(json.dumps(native.source_digests(self._work), indent=2, sort_keys=True) + "\n")
        for path in [*built, digests]:
            in_package = path.relative_to(self._work)
            if version == "editable":  # beside the sources, which the editable install imports
                (root / in_package).unlink(missing_ok=True)  # a running process may have the old one mapped
                shutil.copy2(path, root / in_package)
            else:
                build_data["force_include"][str(path)] = str(in_package)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        self.app.display_info(f"Compiled the hot path with mypyc ({len(built)} extension modules)")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
