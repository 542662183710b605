"""StoreRegistry: Litestar's registry with names, listeners, a root's namespaces and closing what it created."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from litestar import Litestar
from litestar.stores.base import Store

from litestar_kvstores import KVStore, MemoryStore, StoreRegistry
from tests.support.plugin import RecordingMemoryStore


class FalsyMemoryStore(MemoryStore):
    """A store that is falsy (as a mapping-like store with no entries might be)."""

    def __bool__(self) -> bool:
        return False


def test_get_creates_once_with_the_default_factory() -> None:
    made: list[str] = []

    def factory(name: str) -> Store:
        made.append(name)
        return MemoryStore()

    registry = StoreRegistry(default_factory=factory)
    first = registry.get("cache")
    assert registry.get("cache") is first
    assert made == ["cache"]
    assert registry.created_stores == [first]


def test_a_falsy_registered_store_is_returned_not_replaced() -> None:
    falsy = FalsyMemoryStore()
    registry = StoreRegistry({"sessions": falsy})
    assert registry.get("sessions") is falsy
    assert registry.created_stores == []


def test_register_refuses_a_taken_name_unless_overriding() -> None:
    registry = StoreRegistry({"a": MemoryStore()})
    replacement = MemoryStore()
    with pytest.raises(ValueError, match="'a' already exists"):
        registry.register("a", replacement)
    registry.register("a", replacement, allow_override=True)
    assert registry.get("a") is replacement


def test_deferred_stores_are_handed_out_but_hidden_from_litestar() -> None:
    deferred = MemoryStore()
    registry = StoreRegistry(deferred={"late": deferred})
    app = Litestar(stores=registry)
    assert app.stores is registry
    assert deferred not in registry._stores.values()  # what Litestar enters on start-up
    assert "late" in registry
    assert registry.get("late") is deferred
    with pytest.raises(ValueError, match="already exists"):
        registry.defer("late", MemoryStore())


def test_registering_over_a_deferred_name_needs_override() -> None:
    registry = StoreRegistry(deferred={"late": MemoryStore()})
    replacement = MemoryStore()
    with pytest.raises(ValueError, match="already exists"):
        registry.register("late", replacement)
    registry.register("late", replacement, allow_override=True)
    assert registry.get("late") is replacement


def test_names_contains_and_iteration_never_create() -> None:
    registry = StoreRegistry({"b": MemoryStore()}, deferred={"a": MemoryStore()})
    assert "c" not in registry
    assert registry.names() == ["a", "b"]
    registry.get("c")
    assert list(registry) == ["a", "b", "c"]
    assert "c" in registry
    assert 42 not in registry


def test_listeners_hear_of_created_stores_only() -> None:
    heard: list[tuple[str, Store]] = []
    registry = StoreRegistry({"given": MemoryStore()})

    def listener(name: str, store: Store) -> None:
        heard.append((name, store))

    registry.add_listener(listener)
    registry.get("given")
    made = registry.get("made")
    assert heard == [("made", made)]
    registry.remove_listener(listener)
    registry.remove_listener(listener)  # removing twice is harmless
    registry.get("other")
    assert len(heard) == 1


async def test_from_root_hands_out_isolated_namespaces(store: KVStore) -> None:
    registry = StoreRegistry.from_root(store, close_root=False)
    sessions, cache = registry.get("sessions"), registry.get("response_cache")
    assert isinstance(sessions, KVStore)
    assert isinstance(cache, KVStore)
    await sessions.set("k", b"session")
    await cache.set("k", b"cache")
    assert await sessions.get("k") == b"session"
    assert await cache.get("k") == b"cache"
    await cache.delete_all()
    assert await cache.get("k") is None
    assert await sessions.get("k") == b"session"
    await store.delete_all()  # the root clears every namespace
    assert await sessions.get("k") is None


async def test_aclose_closes_created_stores_and_the_root_once() -> None:
    log: list[str] = []
    given = RecordingMemoryStore(log, "given")
    registry = StoreRegistry.from_root(RecordingMemoryStore(log, "root"), {"given": given})
    registry.get("a")
    registry.get("b")
    await registry.aclose()
    await registry.aclose()
    assert log == ["close root/b", "close root/a", "close root"]


async def test_aclose_leaves_the_root_open_when_asked() -> None:
    log: list[str] = []
    registry = StoreRegistry.from_root(RecordingMemoryStore(log, "root"), close_root=False)
    registry.get("a")
    await registry.aclose()
    assert log == ["close root/a"]


def test_litestar_takes_it_as_stores() -> None:
    registry = StoreRegistry.from_root(MemoryStore())
    app = Litestar(stores=registry)
    assert app.stores is registry
    assert app.stores.get("rate_limit") is registry.get("rate_limit")


def test_threads_asking_for_a_new_name_at_once_get_one_store() -> None:
    made: list[Store] = []
    start = threading.Barrier(8)

    def slow_factory(name: str) -> Store:
        time.sleep(0.01)  # widen the window in which a second thread could create another store
        made.append(MemoryStore())
        return made[-1]

    registry = StoreRegistry(default_factory=slow_factory)

    def ask() -> Store:
        start.wait()
        return registry.get("shared")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: ask(), range(8)))
    assert len(made) == 1
    assert all(result is made[0] for result in results)


def test_without_a_default_factory_every_name_gets_a_memory_store_of_this_package() -> None:
    registry = StoreRegistry()
    sessions = registry.get("sessions")
    assert isinstance(sessions, MemoryStore)
    assert registry.get("rate_limit") is not sessions


def test_managed_stores_lists_named_stores_then_the_default_root() -> None:
    root = MemoryStore()
    named = MemoryStore()
    registry = StoreRegistry.from_root(root, {"b": named})
    created = registry.get("a")
    assert registry.managed_stores() == {"a": created, "b": named, "(default)": root}


def test_cleanup_targets_leave_out_created_namespaces_and_duplicates() -> None:
    root = MemoryStore()
    shared = MemoryStore()
    registry = StoreRegistry.from_root(root, {"one": shared, "two": shared})
    registry.get("sessions")
    assert registry.cleanup_targets() == {"one": shared, "(default)": root}
