"""The atomic primitives of DESIGN.md (``add``, ``compare_and_set``, ``compare_and_delete``) on SQLite and PostgreSQL,
and the edges of ``incr`` that each of them computes in SQL.

The primitives join :class:`~litestar_kvstores.testing.StoreContract` in a later issue; until then these tests hold
the two SQL stores to the contract's rows, across tasks and across processes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

import pytest

from litestar_kvstores.testing import ContractTraits


class PrimitiveStore(Protocol):
    async def get(self, key: str, renew_for: Any = None) -> bytes | None: ...
    async def set(self, key: str, value: str | bytes, expires_in: Any = None) -> None: ...
    async def expires_in(self, key: str) -> int | None: ...
    async def incr(self, key: str, amount: int = 1, expires_in: Any = None) -> int: ...
    async def add(self, key: str, value: str | bytes, expires_in: Any = None) -> bool: ...
    async def compare_and_set(self, key: str, expected: Any, value: str | bytes, expires_in: Any = None) -> bool: ...
    async def compare_and_delete(self, key: str, expected: Any) -> bool: ...


@pytest.fixture(params=["sqlite", "postgres"])
def sql_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(sql_backend: str, request: pytest.FixtureRequest) -> PrimitiveStore:
    resolved: PrimitiveStore = request.getfixturevalue(f"{sql_backend}_store")
    return resolved


@pytest.fixture
def opener(sql_backend: str, request: pytest.FixtureRequest) -> Callable[[], Any]:
    traits: ContractTraits = request.getfixturevalue(f"{sql_backend}_traits")
    assert traits.opener is not None
    return traits.opener


# --- add --------------------------------------------------------------------------------------------------------


async def test_add_writes_only_a_missing_key(store: PrimitiveStore) -> None:
    assert await store.add("key", b"first") is True
    assert await store.add("key", "second", expires_in=100) is False
    assert await store.get("key") == b"first"
    assert await store.expires_in("key") is None


async def test_add_replaces_an_expired_key_with_its_own_expiry(store: PrimitiveStore) -> None:
    await store.set("key", b"old", expires_in=0.2)
    await asyncio.sleep(0.4)
    assert await store.add("key", b"new", expires_in=timedelta(seconds=50)) is True
    assert await store.get("key") == b"new"
    assert await store.expires_in("key") == 50


@pytest.mark.parametrize(("value", "expires_in", "error"), [(1, None, TypeError), (b"v", 0, ValueError)])
async def test_add_rejects_bad_input_without_writing(
    store: PrimitiveStore, value: Any, expires_in: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await store.add("key", value, expires_in=expires_in)
    assert await store.get("key") is None


async def test_add_has_one_winner_among_concurrent_tasks(store: PrimitiveStore) -> None:
    results = await asyncio.gather(*(store.add("key", str(i)) for i in range(50)))
    assert results.count(True) == 1
    assert await store.get("key") == str(results.index(True)).encode()


# --- compare_and_set --------------------------------------------------------------------------------------------


async def test_compare_and_set_replaces_an_equal_value(store: PrimitiveStore) -> None:
    await store.set("key", b"old", expires_in=100)
    assert await store.compare_and_set("key", b"old", b"new") is True
    assert await store.get("key") == b"new"
    assert await store.expires_in("key") is None  # as with set: no expires_in, no expiry
    assert await store.compare_and_set("key", "new", "newer", expires_in=30) is True
    assert await store.get("key") == b"newer"
    assert await store.expires_in("key") == 30


async def test_compare_and_set_leaves_a_different_value(store: PrimitiveStore) -> None:
    await store.set("key", b"current", expires_in=100)
    assert await store.compare_and_set("key", b"other", b"new") is False
    assert await store.compare_and_set("missing", b"other", b"new") is False
    assert await store.get("key") == b"current"
    assert await store.expires_in("key") == 100
    assert await store.get("missing") is None


async def test_compare_and_set_with_none_means_missing_or_expired(store: PrimitiveStore) -> None:
    assert await store.compare_and_set("key", None, b"created") is True
    assert await store.compare_and_set("key", None, b"again") is False
    await store.set("short", b"old", expires_in=0.2)
    await asyncio.sleep(0.4)
    assert await store.compare_and_set("short", b"old", b"new") is False  # expired: not equal to anything
    assert await store.compare_and_set("short", None, b"new") is True
    assert await store.get("key") == b"created"
    assert await store.get("short") == b"new"


@pytest.mark.parametrize("expected", [1, ["a"], bytearray(b"x")])
async def test_compare_and_set_rejects_other_expected_types(store: PrimitiveStore, expected: Any) -> None:
    await store.set("key", b"1")
    with pytest.raises(TypeError, match="expected"):
        await store.compare_and_set("key", expected, b"new")
    assert await store.get("key") == b"1"


async def test_compare_and_set_counts_exactly_under_concurrent_tasks(store: PrimitiveStore) -> None:
    await store.set("counter", b"0")

    async def increment() -> None:
        while True:
            current = await store.get("counter")
            assert current is not None
            if await store.compare_and_set("counter", current, str(int(current) + 1)):
                return

    await asyncio.gather(*(increment() for _ in range(20)))
    assert await store.get("counter") == b"20"


# --- compare_and_delete -----------------------------------------------------------------------------------------


async def test_compare_and_delete(store: PrimitiveStore) -> None:
    await store.set("key", b"token")
    assert await store.compare_and_delete("key", b"other") is False
    assert await store.get("key") == b"token"
    assert await store.compare_and_delete("key", "token") is True
    assert await store.get("key") is None
    assert await store.compare_and_delete("key", b"token") is False


async def test_compare_and_delete_treats_an_expired_key_as_missing(store: PrimitiveStore) -> None:
    await store.set("key", b"token", expires_in=0.2)
    await asyncio.sleep(0.4)
    assert await store.compare_and_delete("key", b"token") is False


@pytest.mark.parametrize("expected", [None, 1, bytearray(b"token")])
async def test_compare_and_delete_rejects_other_expected_types(store: PrimitiveStore, expected: Any) -> None:
    await store.set("key", b"token")
    with pytest.raises(TypeError, match="expected"):
        await store.compare_and_delete("key", expected)
    assert await store.get("key") == b"token"


# --- namespaces (in the contract on main since this branch started) ----------------------------------------------


async def test_namespaces_lists_direct_children_holding_keys(store: Any) -> None:
    await store.set("own", b"1")
    await store.with_namespace("a").set("k", b"1")
    await store.with_namespace("a").with_namespace("deep").set("k", b"1")
    await store.with_namespace("a-b").set("k", b"1")  # sorts between "a" and "a/deep"
    await store.with_namespace("a.c").with_namespace("x").set("k", b"1")
    await store.with_namespace("b.1").with_namespace("c").set("k:with/separators", b"1")
    await store.with_namespace("emptied").set("k", b"1")
    await store.with_namespace("emptied").delete("k")
    await store.with_namespace("expired").set("k", b"1", expires_in=0.2)
    await asyncio.sleep(0.5)
    await store.with_namespace("n").with_namespace("deep").set("k", b"1")  # "n" itself holds no key
    await store.with_namespace("n-x").set("k", b"1")
    names = [name async for name in store.namespaces()]
    assert sorted(names) == ["a", "a-b", "a.c", "b.1", "n", "n-x"]
    assert [name async for name in store.with_namespace("a").namespaces()] == ["deep"]
    assert [name async for name in store.with_namespace("b.1").namespaces()] == ["c"]
    assert [name async for name in store.with_namespace("nothing").namespaces()] == []


# --- incr computed by the database ------------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "amount"), [(b"9223372036854775807", 1), (b"-9223372036854775808", -1)])
async def test_incr_refuses_to_overflow(store: PrimitiveStore, stored: bytes, amount: int) -> None:
    await store.set("counter", stored)
    with pytest.raises(ValueError, match="overflow"):
        await store.incr("counter", amount)
    assert await store.get("counter") == stored


@pytest.mark.parametrize("stored", [b"007", b"+5", b"1.5", b" 1", b"-0", b"99999999999999999999", b"\xff\\"])
async def test_incr_refuses_values_that_are_not_canonical_integers(store: PrimitiveStore, stored: bytes) -> None:
    await store.set("counter", stored)
    with pytest.raises(ValueError, match="not a 64-bit integer"):
        await store.incr("counter")
    assert await store.get("counter") == stored


async def test_incr_counts_on_to_the_extremes(store: PrimitiveStore) -> None:
    await store.set("high", b"9223372036854775806")
    assert await store.incr("high") == 2**63 - 1
    await store.set("low", b"-9223372036854775807")
    assert await store.incr("low", -1) == -(2**63)
    assert await store.incr("low", 2**63 - 1) == -1


@pytest.mark.parametrize(("amount", "error"), [(1.5, TypeError), (True, TypeError), (2**63, ValueError)])
async def test_incr_checks_the_amount(store: PrimitiveStore, amount: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="amount"):
        await store.incr("counter", amount)
    assert await store.get("counter") is None


# --- across processes -------------------------------------------------------------------------------------------


def _add_in_process(opener: Callable[[], Any], keys: int) -> None:
    """Child-process body: try to ``add`` every key; count each win with ``incr``."""

    async def run() -> None:
        async with opener() as store:
            for i in range(keys):
                if await store.add(f"key{i}", b"mine"):
                    await store.incr("wins")

    asyncio.run(run())


async def test_add_has_one_winner_per_key_across_processes(store: PrimitiveStore, opener: Callable[[], Any]) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_in_process, args=(opener, 40)) for _ in range(3)]

    def run_all() -> None:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)

    await asyncio.to_thread(run_all)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert await store.get("wins") == b"40"
