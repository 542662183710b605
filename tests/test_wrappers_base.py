"""StoreWrapper and ReadOnlyStore: every operation delegated in one place, namespaces, lifecycle, refused writes."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from litestar_kvstores import MemoryStore, StoreError
from litestar_kvstores.base import KVStore
from litestar_kvstores.wrappers import OPERATIONS, InstrumentedStore, ReadOnlyStore, StoreWrapper

PUBLIC_METHODS = {
    name
    for name, member in inspect.getmembers(KVStore)
    if not name.startswith("_") and (inspect.isfunction(member) or inspect.iscoroutinefunction(member))
}
NOT_OPERATIONS = {"with_namespace", "keys", "namespaces", "aclose", "from_url", "lock"}
INHERITED = {"from_url", "lock"}
"""``lock`` is KVStore's default built on the wrapper's own primitives, so it needs no delegation."""


def test_every_store_operation_is_classified_and_delegated_by_the_base() -> None:
    # a new KVStore operation fails here until it has an OPERATIONS entry and a StoreWrapper method
    assert set(OPERATIONS) == PUBLIC_METHODS - NOT_OPERATIONS
    for name in PUBLIC_METHODS - INHERITED:
        assert name in vars(StoreWrapper), f"StoreWrapper does not delegate {name}"


def test_wraps_only_stores_of_this_package() -> None:
    with pytest.raises(TypeError, match="not dict"):
        StoreWrapper({})  # type: ignore[arg-type]


async def test_namespaces_wrap_the_child_with_the_same_settings_and_shared_state() -> None:
    root = MemoryStore()
    store = InstrumentedStore(root, name="shared", prometheus=False, opentelemetry=False)
    child = store.with_namespace("app").with_namespace("sessions")
    assert isinstance(child, InstrumentedStore)
    assert child.name == "shared"
    assert child.namespace == "app/sessions"
    await child.set("k", b"v")
    assert await root.with_namespace("app").with_namespace("sessions").get("k") == b"v"
    assert await store.get("k") is None
    assert store.stats()["sets"] == 1  # counted once, for both
    assert store.stats()["misses"] == 1
    with pytest.raises(ValueError, match="namespace"):
        store.with_namespace("a/b")


async def test_address_and_closing_delegate(redis_store: KVStore) -> None:
    store = StoreWrapper(StoreWrapper(redis_store))
    assert store.address == redis_store.address
    await store.set("k", b"v")
    child = store.with_namespace("child")
    await child.aclose()  # a namespace never closes the shared connection
    assert await store.get("k") == b"v"
    await store.aclose()
    with pytest.raises(StoreError):
        await redis_store.get("k")


# --- ReadOnlyStore ----------------------------------------------------------------------------------------------

WRITES: dict[str, Any] = {
    "set": lambda s: s.set("k", b"new"),
    "set_many": lambda s: s.set_many({"k": b"new"}),
    "delete": lambda s: s.delete("k"),
    "delete_many": lambda s: s.delete_many(["k"]),
    "delete_all": lambda s: s.delete_all(),
    "incr": lambda s: s.incr("n"),
    "add": lambda s: s.add("new-key", b"v"),
    "compare_and_set": lambda s: s.compare_and_set("k", b"old", b"new"),
    "compare_and_delete": lambda s: s.compare_and_delete("k", b"old"),
    "get with renew_for": lambda s: s.get("k", renew_for=100),
}


def test_read_only_tests_cover_every_write() -> None:
    assert {name for name, op in OPERATIONS.items() if op.writes} - {"delete_expired"} <= set(WRITES)


@pytest.fixture(params=["memory", "redis"])
def inner(request: pytest.FixtureRequest) -> KVStore:
    store = request.getfixturevalue(f"{request.param}_store")
    assert isinstance(store, KVStore)
    return store


@pytest.mark.parametrize("write", list(WRITES))
async def test_read_only_refuses_every_write(inner: KVStore, write: str) -> None:
    await inner.set("k", b"old", expires_in=50)
    store = ReadOnlyStore(inner)
    with pytest.raises(StoreError, match=f"read-only: {write} refused"):
        await WRITES[write](store)
    assert await inner.get("k") == b"old"
    assert await inner.expires_in("k") == 50
    assert await inner.get("n") is None


async def test_read_only_reads_pass_and_clean_up_removes_nothing(memory_store: KVStore) -> None:
    await memory_store.set("k", b"v")
    await memory_store.set("gone", b"v", expires_in=0.01)
    store = ReadOnlyStore(memory_store)
    assert await store.get("k") == b"v"
    assert await store.get_many(["k", "x"]) == {"k": b"v", "x": None}
    assert await store.exists("k")
    assert await store.count() >= 1
    assert [key async for key in store.keys()]  # noqa: SIM118
    assert await store.delete_expired() == 0
    assert await store.ping()
