"""The contract suite can fail: run it against stores with Litestar's known defects and check it catches each one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _package_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the pytest subprocess import this checkout's package, installed or not."""
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))


MUTANTS = {
    # Litestar's MemoryStore/FileStore: exists() ignores expiry
    "exists_ignores_expiry": (
        """
        async def exists(self, key):
            return key in self._entries
        """,
        "test_exists_is_false_for_expired_keys",
    ),
    # Litestar's Redis/Valkey stores: timedelta renewals use .seconds, so two days become zero
    "renewal_uses_timedelta_seconds": (
        """
        async def get(self, key, renew_for=None):
            if isinstance(renew_for, timedelta):
                renew_for = renew_for.seconds or 0.001
            return await super().get(key, renew_for)
        """,
        "test_get_renews_expiry",
    ),
    # Litestar's Redis/Valkey stores: delete_all matches by prefix, so "app" also clears "apple"
    "delete_all_by_prefix": (
        """
        async def delete_all(self):
            state = self._state
            for path in list(state.spaces):
                if path.startswith(self._path):
                    state.spaces[path].clear()
        """,
        "test_delete_all_clears_namespace_and_children_only",
    ),
    # Litestar's stores: expires_in returns -1 for "no expiry"
    "expires_in_minus_one": (
        """
        async def expires_in(self, key):
            result = await super().expires_in(key)
            return -1 if result is None else result
        """,
        "test_expires_in_is_none_for_missing_expired_and_unexpiring",
    ),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_contract_fails_on_defective_store(pytester: pytest.Pytester, mutant: str) -> None:
    body, failing_test = MUTANTS[mutant]
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_mutant=textwrap.dedent(
            """
            from datetime import timedelta

            import pytest

            from litestar_kvstores import MemoryStore
            from litestar_kvstores.testing import ContractTraits, StoreContract


            class DefectiveStore(MemoryStore):
            {body}


            class TestDefective(StoreContract):
                @pytest.fixture
                async def store(self):
                    return DefectiveStore().with_namespace("contract")

                @pytest.fixture
                def contract_traits(self):
                    return ContractTraits()
            """
        ).format(body=textwrap.indent(textwrap.dedent(body), "    "))
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-k", failing_test)
    # "FAILED <nodeid>" (with " - <reason>" appended when pytest runs under CI=true)
    failed = {line.split()[1].split("::")[-1].split("[")[0] for line in result.outlines if line.startswith("FAILED")}
    assert failing_test in failed, result.stdout.str()[-3000:]


def test_contract_passes_on_the_unmodified_store(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_plain="""
        import pytest

        from litestar_kvstores import MemoryStore
        from litestar_kvstores.testing import ContractTraits, StoreContract


        class TestPlain(StoreContract):
            @pytest.fixture
            async def store(self):
                return MemoryStore().with_namespace("contract")

            @pytest.fixture
            def contract_traits(self):
                return ContractTraits()
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()[-3000:]
    assert outcomes["passed"] > 50
