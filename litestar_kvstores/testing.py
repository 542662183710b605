"""The store contract as a reusable pytest suite.

Run it against any store by subclassing :class:`StoreContract` in a test module and providing two fixtures::

    import pytest
    from litestar_kvstores.testing import ContractTraits, StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        async def store(self):
            async with MyStore(...).with_namespace("contract") as store:  # fresh and empty
                yield store

        @pytest.fixture
        def contract_traits(self) -> ContractTraits:
            return ContractTraits(opener=functools.partial(MyStore, ..., namespace="contract"))

The tests are ``async def`` and need ``pytest-asyncio`` in ``auto`` mode (``asyncio_mode = "auto"``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from .base import KVStore
from .errors import LockTimeoutError, StoreError

__all__ = ("AWKWARD_KEYS", "ContractTraits", "StoreContract")


@dataclass(frozen=True)
class ContractTraits:
    """What the contract suite needs to know about a backend.

    Attributes:
        expires_natively: The backend removes expired entries by itself (Redis, MongoDB), so ``delete_expired``
            may find nothing left to remove.
        opener: A picklable, zero-argument callable returning a new (not yet entered) store on the same data and
            namespace as the ``store`` fixture, for the tests that run several OS processes. ``None`` for stores
            that are not shared across processes (the cross-process tests are then reported as skipped).
    """

    expires_natively: bool = False
    opener: Callable[[], Any] | None = None


async def _count_with_incr(store: KVStore, key: str, times: int) -> None:
    for _ in range(times):
        await store.incr(key)


async def _race_to_add(store: KVStore, key: str, times: int) -> None:
    """Try to ``add`` each of ``times`` keys; count every win in a counter per key."""
    token = uuid.uuid4().hex
    for i in range(times):
        if await store.add(f"{key}:{i}", token):
            await store.incr(f"{key}:wins:{i}")


async def _count_with_compare_and_set(store: KVStore, key: str, times: int) -> None:
    """Add one to the decimal in ``key`` ``times`` times by read, then ``compare_and_set``, retried when beaten."""
    for _ in range(times):
        while True:
            current = await store.get(key)
            assert current is not None
            if await store.compare_and_set(key, current, str(int(current) + 1)):
                break


async def _count_under_lock(store: KVStore, key: str, times: int) -> None:
    """Add one to the decimal in ``key`` ``times`` times by a plain read and write, each under ``store.lock``."""
    for _ in range(times):
        async with store.lock(f"{key}:lock", ttl=30):
            current = await store.get(key)
            assert current is not None
            await asyncio.sleep(0.001)  # let the others try to get in
            await store.set(key, str(int(current) + 1))


_BODIES: dict[str, Callable[[KVStore, str, int], Awaitable[None]]] = {
    "incr": _count_with_incr,
    "add": _race_to_add,
    "compare_and_set": _count_with_compare_and_set,
    "lock": _count_under_lock,
}


def _child_process(opener: Callable[[], Any], body: str, key: str, times: int) -> None:
    """Child-process body of the cross-process tests: open the store and run ``_BODIES[body]`` on it."""

    async def run() -> None:
        async with opener() as store:
            await _BODIES[body](store, key, times)

    asyncio.run(run())


def _run_in_processes(opener: Callable[[], Any], body: str, key: str, processes: int, times: int) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_child_process, args=(opener, body, key, times)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0, f"a worker process failed with exit code {worker.exitcode}"


async def _across_processes(traits: ContractTraits, body: str, key: str, processes: int, times: int) -> None:
    if traits.opener is None:
        pytest.skip("this store is not shared across processes")
    await asyncio.to_thread(_run_in_processes, traits.opener, body, key, processes, times)


async def _collect(store: KVStore) -> set[str]:
    return {key async for key in store.keys()}  # noqa: SIM118  (KVStore.keys, not dict.keys)


# Keys that must survive any encoding a backend applies, and never collide across namespaces.
AWKWARD_KEYS = [
    "plain",
    "with:colon",
    "with/slash",
    "../dot-dot",
    "glob*?[x]",
    "back\\slash",
    "spaces and\ttabs",
    "ünïcødé-ключ-鍵-🔑",
    "%2F-looks-encoded",
    "k" * 1024,
]


class StoreContract:
    """The store contract (docs: "The store contract"), one test per rule, for any store (see the module docstring)."""

    # --- set --------------------------------------------------------------------------------------------------

    async def test_set_then_get_returns_bytes(self, store: KVStore) -> None:
        await store.set("key", b"value")
        assert await store.get("key") == b"value"

    async def test_set_encodes_str_as_utf8(self, store: KVStore) -> None:
        await store.set("key", "välüe ✓")
        assert await store.get("key") == "välüe ✓".encode()

    async def test_set_stores_empty_and_binary_values(self, store: KVStore) -> None:
        binary = bytes(range(256)) * 4
        await store.set("empty", b"")
        await store.set("binary", binary)
        assert await store.get("empty") == b""
        assert await store.get("binary") == binary

    async def test_set_replaces_previous_value(self, store: KVStore) -> None:
        await store.set("key", b"one", expires_in=100)
        await store.set("key", b"two")
        assert await store.get("key") == b"two"
        assert await store.expires_in("key") is None

    @pytest.mark.parametrize("value", [1, 1.5, None, ["a"], {"a": 1}, bytearray(b"x"), object()])
    async def test_set_rejects_other_value_types(self, store: KVStore, value: Any) -> None:
        with pytest.raises(TypeError):
            await store.set("key", value)
        assert await store.get("key") is None

    @pytest.mark.parametrize("key", [1, b"key", None, ("a",)])
    async def test_operations_reject_non_str_keys(self, store: KVStore, key: Any) -> None:
        with pytest.raises(TypeError):
            await store.set(key, b"value")
        with pytest.raises(TypeError):
            await store.get(key)
        with pytest.raises(TypeError):
            await store.delete(key)
        with pytest.raises(TypeError):
            await store.exists(key)
        with pytest.raises(TypeError):
            await store.expires_in(key)

    async def test_operations_reject_empty_keys(self, store: KVStore) -> None:
        with pytest.raises(ValueError, match="non-empty"):
            await store.set("", b"value")
        with pytest.raises(ValueError, match="non-empty"):
            await store.get("")
        with pytest.raises(ValueError, match="non-empty"):
            await store.incr("")

    @pytest.mark.parametrize("expires_in", [0, -1, 0.0, -0.5, timedelta(0), timedelta(seconds=-3), float("nan")])
    async def test_set_rejects_non_positive_expiry(self, store: KVStore, expires_in: Any) -> None:
        await store.set("key", b"old")
        with pytest.raises(ValueError, match="expires_in"):
            await store.set("key", b"new", expires_in=expires_in)
        assert await store.get("key") == b"old"

    @pytest.mark.parametrize("expires_in", ["10", True, b"1", [1]])
    async def test_set_rejects_other_expiry_types(self, store: KVStore, expires_in: Any) -> None:
        with pytest.raises(TypeError, match="expires_in"):
            await store.set("key", b"value", expires_in=expires_in)
        assert await store.get("key") is None

    @pytest.mark.parametrize("expires_in", [60, 60.0, timedelta(minutes=1)])
    async def test_set_with_expiry_types(self, store: KVStore, expires_in: Any) -> None:
        await store.set("key", b"value", expires_in=expires_in)
        assert await store.expires_in("key") == 60

    async def test_set_keeps_sub_second_expiry(self, store: KVStore) -> None:
        # a backend that rounded 0.4 s up to a whole second would still hold the key 0.9 s after the set began
        started = time.monotonic()
        await store.set("key", b"value", expires_in=0.4)
        value = await store.get("key")
        if time.monotonic() - started < 0.4:  # else a loaded machine let the entry expire before the read
            assert value == b"value"
        await asyncio.sleep(max(started + 0.9 - time.monotonic(), 0))
        assert await store.get("key") is None
        assert not await store.exists("key")

    async def test_set_without_expiry_never_expires(self, store: KVStore) -> None:
        await store.set("key", b"value")
        assert await store.expires_in("key") is None
        assert await store.exists("key")

    # --- get --------------------------------------------------------------------------------------------------

    async def test_get_missing_returns_none(self, store: KVStore) -> None:
        assert await store.get("missing") is None
        assert await store.get("missing", renew_for=10) is None

    async def test_get_expired_returns_none(self, store: KVStore) -> None:
        await store.set("key", b"value", expires_in=0.2)
        await asyncio.sleep(0.5)
        assert await store.get("key") is None
        assert await store.get("key", renew_for=100) is None

    @pytest.mark.parametrize(
        ("renew_for", "expected"),
        [(100, 100), (50.5, 51), (timedelta(days=2), 172_800), (timedelta(seconds=90.25), 91)],
    )
    async def test_get_renews_expiry(self, store: KVStore, renew_for: Any, expected: int) -> None:
        await store.set("key", b"value", expires_in=5)
        assert await store.get("key", renew_for=renew_for) == b"value"
        remaining = await store.expires_in("key")
        assert remaining is not None
        assert expected - 1 <= remaining <= expected

    async def test_renewal_keeps_the_key_alive(self, store: KVStore) -> None:
        await store.set("key", b"value", expires_in=0.6)
        await asyncio.sleep(0.3)
        assert await store.get("key", renew_for=1.5) == b"value"
        await asyncio.sleep(0.6)  # past the original expiry
        assert await store.get("key") == b"value"

    async def test_renewal_leaves_keys_without_expiry_unexpiring(self, store: KVStore) -> None:
        await store.set("key", b"value")
        assert await store.get("key", renew_for=10) == b"value"
        assert await store.expires_in("key") is None

    @pytest.mark.parametrize(("renew_for", "error"), [(0, ValueError), (-5, ValueError), ("10", TypeError)])
    async def test_get_rejects_invalid_renewal(self, store: KVStore, renew_for: Any, error: type[Exception]) -> None:
        await store.set("key", b"value", expires_in=100)
        with pytest.raises(error, match="renew_for"):
            await store.get("key", renew_for=renew_for)
        assert await store.get("key") == b"value"

    # --- delete -----------------------------------------------------------------------------------------------

    async def test_delete_removes_key(self, store: KVStore) -> None:
        await store.set("key", b"value")
        await store.set("other", b"value")
        await store.delete("key")
        assert await store.get("key") is None
        assert await store.get("other") == b"value"

    async def test_delete_missing_is_noop(self, store: KVStore) -> None:
        await store.delete("missing")
        assert await store.get("missing") is None

    # --- delete_all -------------------------------------------------------------------------------------------

    async def test_delete_all_clears_namespace_and_children_only(self, store: KVStore) -> None:
        parent = store.with_namespace("parent")
        app = parent.with_namespace("app")
        apple = parent.with_namespace("apple")
        app_child = app.with_namespace("child")
        app_dotted = parent.with_namespace("app.x")
        for ns in (store, parent, app, apple, app_child, app_dotted):
            await ns.set("key", b"value")
            await ns.set("app:key", b"value")
        await app.set("other", b"value", expires_in=100)

        await app.delete_all()

        for cleared in (app, app_child):
            assert await cleared.get("key") is None
            assert await cleared.get("app:key") is None
            assert await cleared.count() == 0
        assert await app.get("other") is None
        for kept in (store, parent, apple, app_dotted):
            assert await kept.get("key") == b"value"
            assert await kept.get("app:key") == b"value"

    async def test_delete_all_of_empty_namespace(self, store: KVStore) -> None:
        await store.with_namespace("empty").delete_all()
        await store.set("key", b"value")
        await store.with_namespace("empty").delete_all()
        assert await store.get("key") == b"value"

    # --- exists / expires_in ----------------------------------------------------------------------------------

    async def test_exists(self, store: KVStore) -> None:
        assert not await store.exists("key")
        await store.set("key", b"")
        assert await store.exists("key")

    async def test_exists_is_false_for_expired_keys(self, store: KVStore) -> None:
        await store.set("key", b"value", expires_in=0.2)
        await asyncio.sleep(0.5)
        assert not await store.exists("key")

    async def test_expires_in_is_none_for_missing_expired_and_unexpiring(self, store: KVStore) -> None:
        await store.set("forever", b"value")
        await store.set("short", b"value", expires_in=0.2)
        await asyncio.sleep(0.5)
        assert await store.expires_in("missing") is None
        assert await store.expires_in("forever") is None
        assert await store.expires_in("short") is None

    async def test_expires_in_rounds_up(self, store: KVStore) -> None:
        await store.set("fraction", b"value", expires_in=10.3)
        await store.set("whole", b"value", expires_in=10)
        await store.set("tiny", b"value", expires_in=0.5)
        assert await store.expires_in("fraction") == 11
        assert await store.expires_in("whole") == 10
        assert await store.expires_in("tiny") == 1

    # --- namespaces -------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("name", ["rate_limit", "response_cache", "a-b.c", "UPPER", "0", "x" * 100])
    async def test_with_namespace_accepts_valid_names(self, store: KVStore, name: str) -> None:
        child = store.with_namespace(name)
        await child.set("key", b"value")
        assert await child.get("key") == b"value"
        assert await store.get("key") is None

    @pytest.mark.parametrize("name", ["", "a:b", "a/b", "a b", "ä", ".", "..", "a*", "a\n", "{tag}"])
    def test_with_namespace_rejects_invalid_names(self, store: KVStore, name: str) -> None:
        with pytest.raises(ValueError, match="namespace"):
            store.with_namespace(name)

    def test_with_namespace_rejects_non_str(self, store: KVStore) -> None:
        with pytest.raises(TypeError):
            store.with_namespace(1)  # type: ignore[arg-type]

    async def test_keys_never_collide_across_namespaces(self, store: KVStore) -> None:
        spaces = {
            "root": store,
            "a": store.with_namespace("a"),
            "ab": store.with_namespace("ab"),
            "a.b": store.with_namespace("a.b"),
            "a/b": store.with_namespace("a").with_namespace("b"),
            "a/with": store.with_namespace("a").with_namespace("with"),
        }
        for label, ns in spaces.items():
            for key in AWKWARD_KEYS:
                await ns.set(key, f"{label}|{key}")
        # keys that spell out another namespace's key after prefixing
        await spaces["a"].set("b:plain", b"a|b:plain")
        await spaces["a"].set("b/plain", b"a|b/plain")
        for label, ns in spaces.items():
            for key in AWKWARD_KEYS:
                assert await ns.get(key) == f"{label}|{key}".encode(), (label, key)
            assert await _collect(ns) == set(AWKWARD_KEYS) | ({"b:plain", "b/plain"} if label == "a" else set())

    # --- delete_expired ---------------------------------------------------------------------------------------

    async def test_delete_expired_removes_due_entries_and_counts_them(
        self, store: KVStore, contract_traits: ContractTraits
    ) -> None:
        child = store.with_namespace("child")
        for i in range(3):
            await store.set(f"due{i}", b"value", expires_in=0.2)
        await child.set("due", b"value", expires_in=0.2)
        await store.set("live", b"value", expires_in=100)
        await store.set("forever", b"value")
        await asyncio.sleep(0.5)

        removed = await store.delete_expired()

        if contract_traits.expires_natively:
            assert 0 <= removed <= 4
        else:
            assert removed == 4
        assert await _collect(store) == {"live", "forever"}
        assert await child.count() == 0
        assert await store.delete_expired() == 0

    # --- extensions -------------------------------------------------------------------------------------------

    async def test_get_many(self, store: KVStore) -> None:
        await store.set("a", b"1")
        await store.set("b", b"2")
        await store.set("gone", b"3", expires_in=0.2)
        await asyncio.sleep(0.5)
        assert await store.get_many(["a", "b", "missing", "gone"]) == {
            "a": b"1",
            "b": b"2",
            "missing": None,
            "gone": None,
        }
        assert await store.get_many([]) == {}

    async def test_set_many(self, store: KVStore) -> None:
        await store.set_many({"a": b"1", "b": "2"}, expires_in=100)
        assert await store.get_many(["a", "b"]) == {"a": b"1", "b": b"2"}
        assert await store.expires_in("a") == 100
        await store.set_many({})

    async def test_set_many_rejects_bad_items_before_writing(self, store: KVStore) -> None:
        with pytest.raises(TypeError):
            await store.set_many({"a": b"1", "b": 2})  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="expires_in"):
            await store.set_many({"a": b"1"}, expires_in=0)
        assert await store.get("a") is None

    async def test_delete_many(self, store: KVStore) -> None:
        await store.set_many({"a": b"1", "b": b"2", "c": b"3"})
        await store.delete_many(["a", "b", "missing"])
        assert await _collect(store) == {"c"}
        await store.delete_many([])

    async def test_incr_creates_and_adds(self, store: KVStore) -> None:
        assert await store.incr("counter") == 1
        assert await store.incr("counter") == 2
        assert await store.incr("counter", 10) == 12
        assert await store.incr("counter", -20) == -8
        assert await store.get("counter") == b"-8"

    async def test_incr_on_a_stored_integer(self, store: KVStore) -> None:
        await store.set("counter", b"41")
        assert await store.incr("counter") == 42

    async def test_incr_rejects_non_integer_values(self, store: KVStore) -> None:
        await store.set("text", b"not a number")
        with pytest.raises(ValueError, match="integer"):
            await store.incr("text")
        assert await store.get("text") == b"not a number"

    @pytest.mark.parametrize("stored", [b" 5", b"5 ", b"+5", b"1_0", b"", b"-", "\u0663".encode()])
    async def test_incr_reads_only_ascii_decimal_integers(self, store: KVStore, stored: bytes) -> None:
        await store.set("text", stored)
        with pytest.raises(ValueError, match="integer"):
            await store.incr("text")
        assert await store.get("text") == stored

    @pytest.mark.parametrize(("stored", "amount"), [(b"9223372036854775807", 1), (b"-9223372036854775808", -1)])
    async def test_incr_refuses_a_sum_outside_64_bits(self, store: KVStore, stored: bytes, amount: int) -> None:
        await store.set("counter", stored)
        with pytest.raises(ValueError, match="overflow"):
            await store.incr("counter", amount)
        assert await store.get("counter") == stored
        assert await store.incr("counter", -amount) == int(stored) - amount

    async def test_incr_sets_expiry_only_on_creation(self, store: KVStore) -> None:
        assert await store.incr("counter", expires_in=10) == 1
        assert await store.incr("counter", expires_in=1000) == 2
        assert await store.incr("counter") == 3
        remaining = await store.expires_in("counter")
        assert remaining is not None
        assert remaining <= 10

    async def test_incr_restarts_an_expired_counter(self, store: KVStore) -> None:
        assert await store.incr("counter", 5, expires_in=0.2) == 5
        await asyncio.sleep(0.5)
        assert await store.incr("counter", expires_in=100) == 1
        remaining = await store.expires_in("counter")
        assert remaining is not None
        assert remaining > 10

    async def test_incr_is_atomic_under_concurrent_tasks(self, store: KVStore) -> None:
        await asyncio.gather(*(store.incr("counter") for _ in range(200)))
        assert await store.get("counter") == b"200"

    async def test_incr_is_atomic_across_processes(self, store: KVStore, contract_traits: ContractTraits) -> None:
        await store.set("counter", b"0")
        await _across_processes(contract_traits, "incr", "counter", 4, 250)
        assert await store.get("counter") == b"1000"

    async def test_keys_lists_this_namespace_only(self, store: KVStore) -> None:
        await store.set_many({"a": b"1", "b": b"2"})
        await store.set("gone", b"3", expires_in=0.2)
        await store.with_namespace("child").set("c", b"3")
        await asyncio.sleep(0.5)
        assert await _collect(store) == {"a", "b"}
        assert await store.count() == 2
        assert await _collect(store.with_namespace("child")) == {"c"}

    async def test_namespaces_lists_direct_children_holding_keys(self, store: KVStore) -> None:
        await store.set("own", b"1")
        await store.with_namespace("a").set("k", b"1")
        await store.with_namespace("a").with_namespace("deep").set("k", b"1")
        await store.with_namespace("b.1").with_namespace("c").set("k:with/separators", b"1")
        await store.with_namespace("emptied").set("k", b"1")
        await store.with_namespace("emptied").delete("k")
        await store.with_namespace("expired").set("k", b"1", expires_in=0.2)
        await asyncio.sleep(0.5)
        assert sorted([name async for name in store.namespaces()]) == ["a", "b.1"]
        assert [name async for name in store.with_namespace("a").namespaces()] == ["deep"]
        assert [name async for name in store.with_namespace("b.1").namespaces()] == ["c"]
        assert [name async for name in store.with_namespace("nothing").namespaces()] == []

    async def test_ping(self, store: KVStore) -> None:
        assert await store.ping() is True

    # --- atomic primitives ------------------------------------------------------------------------------------

    async def test_add_writes_only_when_the_key_is_missing(self, store: KVStore) -> None:
        assert await store.add("key", b"first", expires_in=100) is True
        assert await store.add("key", b"second") is False
        assert await store.add("key", "third", expires_in=5) is False
        assert await store.get("key") == b"first"
        assert await store.expires_in("key") == 100

    async def test_add_without_expiry_never_expires(self, store: KVStore) -> None:
        assert await store.add("key", "välüe")
        assert await store.get("key") == "välüe".encode()
        assert await store.expires_in("key") is None

    async def test_add_over_an_expired_entry(self, store: KVStore) -> None:
        await store.set("key", b"old", expires_in=0.2)
        await asyncio.sleep(0.5)
        assert await store.add("key", b"new", expires_in=0.4) is True
        assert await store.get("key") == b"new"
        await asyncio.sleep(0.8)  # the new entry has the new, sub-second expiry
        assert await store.get("key") is None

    async def test_add_of_an_empty_value_counts_as_present(self, store: KVStore) -> None:
        assert await store.add("key", b"")
        assert not await store.add("key", b"x")
        assert await store.get("key") == b""

    @pytest.mark.parametrize("value", [1, None, bytearray(b"x"), ["a"]])
    async def test_add_rejects_other_value_types(self, store: KVStore, value: Any) -> None:
        with pytest.raises(TypeError):
            await store.add("key", value)
        assert await store.get("key") is None

    @pytest.mark.parametrize(("expires_in", "error"), [(0, ValueError), (-1, ValueError), ("10", TypeError)])
    async def test_add_rejects_invalid_expiry(self, store: KVStore, expires_in: Any, error: type[Exception]) -> None:
        with pytest.raises(error, match="expires_in"):
            await store.add("key", b"value", expires_in=expires_in)
        assert await store.get("key") is None

    @pytest.mark.parametrize("key", [1, b"key", None, ""])
    async def test_primitives_reject_invalid_keys(self, store: KVStore, key: Any) -> None:
        error = ValueError if key == "" else TypeError
        with pytest.raises(error):
            await store.add(key, b"value")
        with pytest.raises(error):
            await store.compare_and_set(key, None, b"value")
        with pytest.raises(error):
            await store.compare_and_delete(key, b"value")

    async def test_add_is_atomic_under_concurrent_tasks(self, store: KVStore) -> None:
        results = await asyncio.gather(*(store.add("key", f"writer {i}") for i in range(50)))
        assert results.count(True) == 1
        assert await store.get("key") == f"writer {results.index(True)}".encode()

    async def test_add_is_atomic_across_processes(self, store: KVStore, contract_traits: ContractTraits) -> None:
        await _across_processes(contract_traits, "add", "slot", 4, 40)
        wins = await store.get_many([f"slot:wins:{i}" for i in range(40)])
        assert set(wins.values()) == {b"1"}

    async def test_compare_and_set_replaces_only_the_expected_value(self, store: KVStore) -> None:
        await store.set("key", b"one")
        assert await store.compare_and_set("key", b"two", b"three") is False
        assert await store.get("key") == b"one"
        assert await store.compare_and_set("key", b"one", b"two") is True
        assert await store.get("key") == b"two"
        assert await store.compare_and_set("key", "two", "drei ✓") is True  # str compared UTF-8 encoded
        assert await store.compare_and_set("key", "drei ✓", b"four") is True
        assert await store.get("key") == b"four"

    async def test_compare_and_set_with_none_expects_a_missing_key(self, store: KVStore) -> None:
        assert await store.compare_and_set("key", None, b"created", expires_in=50) is True
        assert await store.compare_and_set("key", None, b"again") is False
        assert await store.get("key") == b"created"
        assert await store.expires_in("key") == 50
        await store.set("empty", b"")
        assert await store.compare_and_set("empty", None, b"x") is False  # an empty value is a value
        assert await store.compare_and_set("empty", b"", b"x") is True

    async def test_compare_and_set_and_delete_on_an_incr_counter(self, store: KVStore) -> None:
        await store.incr("counter", 7)
        assert await store.compare_and_set("counter", b"007", b"8") is False
        assert await store.compare_and_set("counter", b"7", b"8") is True
        assert await store.incr("counter") == 9
        assert await store.compare_and_delete("counter", "9") is True
        assert not await store.exists("counter")

    async def test_compare_and_set_of_a_missing_key_with_a_value_fails(self, store: KVStore) -> None:
        assert await store.compare_and_set("key", b"anything", b"value") is False
        assert await store.get("key") is None

    async def test_compare_and_set_treats_an_expired_key_as_missing(self, store: KVStore) -> None:
        await store.set("key", b"old", expires_in=0.2)
        await asyncio.sleep(0.5)
        assert await store.compare_and_set("key", b"old", b"new") is False
        assert await store.get("key") is None
        assert await store.compare_and_set("key", None, b"new") is True
        assert await store.get("key") == b"new"

    async def test_compare_and_set_gives_the_new_value_its_own_expiry(self, store: KVStore) -> None:
        await store.set("key", b"one", expires_in=100)
        assert await store.compare_and_set("key", b"one", b"two", expires_in=timedelta(seconds=30))
        assert await store.expires_in("key") == 30
        assert await store.compare_and_set("key", b"two", b"three")  # None: no expiry, as with set
        assert await store.expires_in("key") is None
        assert await store.compare_and_set("key", b"three", b"four", expires_in=0.4)
        await asyncio.sleep(0.8)
        assert await store.get("key") is None

    @pytest.mark.parametrize("expected", [1, 1.5, bytearray(b"one"), ["one"], object()])
    async def test_compare_and_set_rejects_other_expected_types(self, store: KVStore, expected: Any) -> None:
        await store.set("key", b"one")
        with pytest.raises(TypeError, match="expected"):
            await store.compare_and_set("key", expected, b"two")
        assert await store.get("key") == b"one"

    @pytest.mark.parametrize(
        ("value", "expires_in", "error"),
        [(2, None, TypeError), (None, None, TypeError), (b"two", 0, ValueError), (b"two", "1", TypeError)],
    )
    async def test_compare_and_set_rejects_invalid_values_and_expiry(
        self, store: KVStore, value: Any, expires_in: Any, error: type[Exception]
    ) -> None:
        await store.set("key", b"one")
        with pytest.raises(error):
            await store.compare_and_set("key", b"one", value, expires_in=expires_in)
        assert await store.get("key") == b"one"

    async def test_compare_and_set_is_atomic_under_concurrent_tasks(self, store: KVStore) -> None:
        await store.set("counter", b"0")
        await asyncio.gather(*(_count_with_compare_and_set(store, "counter", 3) for _ in range(20)))
        assert await store.get("counter") == b"60"

    async def test_compare_and_set_is_atomic_across_processes(
        self, store: KVStore, contract_traits: ContractTraits
    ) -> None:
        await store.set("counter", b"0")
        await _across_processes(contract_traits, "compare_and_set", "counter", 3, 40)
        assert await store.get("counter") == b"120"

    async def test_compare_and_delete_deletes_only_the_expected_value(self, store: KVStore) -> None:
        await store.set("key", "välüe")
        assert await store.compare_and_delete("key", b"other") is False
        assert await store.get("key") == "välüe".encode()
        assert await store.compare_and_delete("key", "välüe") is True
        assert await store.get("key") is None
        assert await store.compare_and_delete("key", "välüe") is False

    async def test_compare_and_delete_of_an_expired_key_is_false(self, store: KVStore) -> None:
        await store.set("key", b"value", expires_in=0.2)
        await asyncio.sleep(0.5)
        assert await store.compare_and_delete("key", b"value") is False
        assert await store.get("key") is None

    @pytest.mark.parametrize("expected", [None, 1, bytearray(b"value"), ["value"]])
    async def test_compare_and_delete_rejects_other_expected_types(self, store: KVStore, expected: Any) -> None:
        await store.set("key", b"value")
        with pytest.raises(TypeError, match="expected"):
            await store.compare_and_delete("key", expected)
        assert await store.get("key") == b"value"

    async def test_compare_and_delete_is_atomic_under_concurrent_tasks(self, store: KVStore) -> None:
        await store.set("key", b"value")
        results = await asyncio.gather(*(store.compare_and_delete("key", b"value") for _ in range(20)))
        assert results.count(True) == 1

    # --- locks ------------------------------------------------------------------------------------------------

    async def test_lock_excludes_concurrent_tasks(self, store: KVStore) -> None:
        inside = 0
        most = 0

        async def work() -> None:
            nonlocal inside, most
            for _ in range(3):
                async with store.lock("lock", ttl=30):
                    inside += 1
                    most = max(most, inside)
                    await asyncio.sleep(0.002)
                    inside -= 1

        await asyncio.gather(*(work() for _ in range(8)))
        assert most == 1
        assert not await store.exists("lock")

    async def test_lock_excludes_other_processes(self, store: KVStore, contract_traits: ContractTraits) -> None:
        await store.set("counter", b"0")
        await _across_processes(contract_traits, "lock", "counter", 3, 15)
        assert await store.get("counter") == b"45"

    async def test_lock_timeout_zero_tries_once(self, store: KVStore) -> None:
        async with store.lock("lock", ttl=30):
            with pytest.raises(LockTimeoutError, match="'lock'") as raised:
                await store.lock("lock", ttl=30, timeout=0).acquire()
        assert isinstance(raised.value, StoreError)
        async with store.lock("lock", ttl=30, timeout=0) as lock:
            assert lock.held

    async def test_lock_waits_for_the_holder_to_release(self, store: KVStore) -> None:
        holder = store.lock("lock", ttl=30)
        await holder.acquire()
        waiter = asyncio.ensure_future(store.lock("lock", ttl=30, timeout=10).acquire())
        await asyncio.sleep(0.2)
        assert not waiter.done()
        assert await holder.release() is True
        await asyncio.wait_for(waiter, 5)

    async def test_lock_timeout_raises_after_waiting(self, store: KVStore) -> None:
        async with store.lock("lock", ttl=30):
            started = asyncio.get_running_loop().time()
            with pytest.raises(LockTimeoutError):
                await store.lock("lock", ttl=30, timeout=0.3).acquire()
            assert asyncio.get_running_loop().time() - started >= 0.3

    async def test_lapsed_lock_is_taken_over_and_never_released_by_the_old_holder(self, store: KVStore) -> None:
        old = store.lock("lock", ttl=0.3)
        await old.acquire()
        await asyncio.sleep(0.6)  # the old holder ran past its ttl
        new = store.lock("lock", ttl=30, timeout=0)
        await new.acquire()
        assert await old.extend(30) is False
        assert await old.release() is False
        assert await store.exists("lock")
        with pytest.raises(LockTimeoutError):
            await store.lock("lock", ttl=30, timeout=0).acquire()
        assert await new.extend(30) is True
        assert await new.release() is True
        assert not await store.exists("lock")

    async def test_lock_extend_keeps_it_held(self, store: KVStore) -> None:
        async with store.lock("lock", ttl=0.5) as lock:
            await asyncio.sleep(0.2)
            assert await lock.extend(2) is True
            await asyncio.sleep(0.5)  # past the first ttl
            with pytest.raises(LockTimeoutError):
                await store.lock("lock", ttl=30, timeout=0).acquire()
            assert 1 <= (await store.expires_in("lock") or 0) <= 2

    async def test_lock_is_released_when_the_body_raises(self, store: KVStore) -> None:
        with pytest.raises(KeyError):
            async with store.lock("lock", ttl=30):
                raise KeyError("boom")
        assert not await store.exists("lock")

    @pytest.mark.parametrize(
        ("ttl", "timeout", "error"),
        [
            (None, None, TypeError),
            (0, None, ValueError),
            ("1", None, TypeError),
            (1, -1, ValueError),
            (1, "1", TypeError),
        ],
    )
    def test_lock_rejects_invalid_arguments(
        self, store: KVStore, ttl: Any, timeout: Any, error: type[Exception]
    ) -> None:
        with pytest.raises(error):
            store.lock("lock", ttl=ttl, timeout=timeout)

    # --- concurrency ------------------------------------------------------------------------------------------

    async def test_concurrent_writers_never_expose_partial_values(self, store: KVStore) -> None:
        values = [bytes([i]) * 65_536 for i in range(8)]

        async def write(value: bytes) -> None:
            for _ in range(5):
                await store.set("key", value)

        async def read() -> None:
            for _ in range(20):
                seen = await store.get("key")
                assert seen is None or seen in values

        await asyncio.gather(*(write(v) for v in values), *(read() for _ in range(4)))
        assert await store.get("key") in values
