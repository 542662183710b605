"""The compiled hot path (``litestar_kvstores._native``): compiled where the build compiled it, from source when the
sources changed since or when ``LITESTAR_KVSTORES_PURE_PYTHON`` is set, all modules or none."""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import litestar_kvstores
from litestar_kvstores import _native

PACKAGE_DIR = Path(litestar_kvstores.__file__).parent


def test_the_hot_path_runs_compiled_exactly_when_the_build_compiled_its_current_sources() -> None:
    reason = _native.why_from_source()
    assert _native.compiled() is (reason is None), reason
    for module in _native.COMPILED_MODULES:
        loader = sys.modules[module].__spec__.loader  # type: ignore[union-attr]
        assert isinstance(loader, importlib.machinery.ExtensionFileLoader) is (reason is None), module


def test_the_test_command_runs_the_compiled_hot_path() -> None:
    """``scripts/test.sh`` (what CI runs) builds the package with a C compiler and asks for the compiled modules."""
    if os.environ.get("KVSTORES_TEST_EXPECT_COMPILED") != "1":
        pytest.skip("KVSTORES_TEST_EXPECT_COMPILED=1 is set by scripts/test.sh")
    assert _native.compiled(), _native.status()


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without ``LITESTAR_KVSTORES_PURE_PYTHON``, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if key != _native.PURE_PYTHON_ENV}
    env.update(extra)
    return env


def status_in_subprocess(root: Path, **extra: str) -> list[str]:
    """The hot path's status and where each compiled module loads from, in a fresh interpreter importing the
    package under ``root``."""
    script = (
        "import importlib, litestar_kvstores._native as n\n"
        "print(n.status())\n"
        "for m in n.COMPILED_MODULES: print(importlib.import_module(m).__file__.rsplit('.', 1)[-1])\n"
    )
    env = environment(PYTHONPATH=str(root), **extra)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.splitlines()


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the package as it is installed here (with its compiled modules, if any)."""
    shutil.copytree(PACKAGE_DIR, tmp_path / "litestar_kvstores", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_a_source_changed_after_the_build_makes_every_compiled_module_load_from_source(package_copy: Path) -> None:
    windows = package_copy / "litestar_kvstores" / "rate_limit" / "_windows.py"
    windows.write_text(windows.read_text() + "\n# changed after the build\n")
    lines = status_in_subprocess(package_copy)
    assert lines[0].startswith("pure Python: "), lines
    assert lines[1:] == ["py"] * len(_native.COMPILED_MODULES)


def test_the_environment_variable_makes_every_compiled_module_load_from_source(package_copy: Path) -> None:
    lines = status_in_subprocess(package_copy, LITESTAR_KVSTORES_PURE_PYTHON="1")
    assert lines[0] == "pure Python: LITESTAR_KVSTORES_PURE_PYTHON is set"
    assert lines[1:] == ["py"] * len(_native.COMPILED_MODULES)


def test_an_unchanged_copy_runs_as_the_build_left_it(package_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = status_in_subprocess(package_copy)  # without LITESTAR_KVSTORES_PURE_PYTHON
    monkeypatch.delenv(_native.PURE_PYTHON_ENV, raising=False)
    expected = "so" if _native.why_from_source() is None else "py"
    assert lines[1:] == [expected] * len(_native.COMPILED_MODULES), lines


ROOT = PACKAGE_DIR.parent
UV = ROOT / ".tools" / "uv" / "bin" / "uv"


@pytest.mark.parametrize("pure", [False, True])
def test_a_wheel_carries_the_compiled_modules_unless_told_not_to(tmp_path: Path, pure: bool) -> None:
    """``hatch_build.py`` end to end: the wheel of these sources (built offline, from the build dependencies
    ``scripts/test.sh`` fetched) holds an extension module per compiled module and the digests of their sources, or,
    with ``LITESTAR_KVSTORES_PURE_PYTHON=1``, none of them and a pure-Python tag."""
    if not UV.exists():
        pytest.skip("uv is installed into .tools/ by scripts/test.sh")
    env = environment(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", **({_native.PURE_PYTHON_ENV: "1"} if pure else {}))
    command = [str(UV), "build", "--wheel", "--python", sys.executable, "-o", str(tmp_path), str(ROOT)]
    subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, check=True, timeout=300)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        digests = json.loads(archive.read(f"litestar_kvstores/{_native.DIGESTS_FILE}")) if not pure else None
    compiled = sorted(name.split(".")[0].replace("/", ".") for name in names if name.endswith(".so"))
    if pure:
        assert wheel.name.endswith("-py3-none-any.whl")
        assert compiled == []
        assert f"litestar_kvstores/{_native.DIGESTS_FILE}" not in names
    else:
        assert sorted([*_native.COMPILED_MODULES, "litestar_kvstores._hot__mypyc"]) == compiled
        assert digests == _native.source_digests(ROOT)
