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
        # the build environment has none of the package's dependencies: their types are Any to the compiler
        options = ["--ignore-missing-imports", "--follow-imports=silent"]
        extensions = mypycify([*options, *sources], opt_level="3", group_name=f"{PACKAGE}._hot")
        distribution = Distribution({"name": PACKAGE, "ext_modules": extensions})
        build_ext = distribution.get_command_obj("build_ext")
        build_ext.inplace = True  # type: ignore[attr-defined]
        distribution.run_command("build_ext")
    finally:
        os.chdir(previous)
    suffixes = (".so", ".pyd")
    return sorted(path for path in (work / PACKAGE).rglob("*") if path.suffix in suffixes)


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        native = _native_module(root)
        digests_in_tree = root / PACKAGE / native.DIGESTS_FILE
        if version == "editable":  # a failed or skipped build below must leave no stale compiled modules in use
            digests_in_tree.unlink(missing_ok=True)
        if os.environ.get(native.PURE_PYTHON_ENV, "") not in ("", "0"):
            self.app.display_info(f"{native.PURE_PYTHON_ENV} is set: not compiling the hot path")
            return
        work = Path(tempfile.mkdtemp(prefix="kvstores-mypyc-"))
        try:
            try:
                built = compile_modules(root, native.COMPILED_MODULES, work)
            except (Exception, SystemExit) as exc:  # mypy exits on a type error
                if os.environ.get("LITESTAR_KVSTORES_REQUIRE_COMPILED", "") not in ("", "0"):
                    raise
                self.app.display_warning(f"Could not compile the hot path with mypyc, building pure Python: {exc!r}")
                return
            digests = json.dumps(native.source_digests(root), indent=2, sort_keys=True) + "\n"
            if version == "editable":
                for path in built:
                    target = root / path.relative_to(work)
                    target.unlink(missing_ok=True)  # a running process may have the old one mapped
                    shutil.copy2(path, target)
                digests_in_tree.write_text(digests)
            else:
                for path in built:
                    build_data["force_include"][str(path)] = str(path.relative_to(work))
                (work / PACKAGE / native.DIGESTS_FILE).write_text(digests)
                build_data["force_include"][str(work / PACKAGE / native.DIGESTS_FILE)] = (
                    f"{PACKAGE}/{native.DIGESTS_FILE}"
                )
                self._work = work  # the files stay until the wheel is written (finalize)
                work = None  # type: ignore[assignment]
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
            self.app.display_info(f"Compiled the hot path with mypyc ({len(built)} extension modules)")
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
