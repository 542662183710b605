"""KVStoresPlugin: config, environment, lifecycle, background clean-up, injection."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore as LitestarMemoryStore
from litestar.testing import AsyncTestClient

from litestar_kvstores import (
    KVStore,
    KVStoresConfig,
    KVStoresPlugin,
    MemoryStore,
    StoreRegistry,
    provide_store,
)
from litestar_kvstores.plugin import build_registry
from litestar_kvstores.wrappers import InstrumentedStore
from tests.support.plugin import BlockingCleanupStore, FailingCleanupStore, RecordingMemoryStore, in_app


def test_from_env_reads_default_and_named_stores_over_arguments() -> None:
    config = KVStoresConfig.from_env(
        default="memory://?namespace=arg",
        stores={"sessions": "memory://", "keep": "memory://?namespace=keep"},
        environ={
            "KVSTORES_DEFAULT": "memory://?namespace=env",
            "KVSTORES_SESSIONS": "memory://?max_entries=5",
            "KVSTORES_RESPONSE_CACHE": "memory://?namespace=rc",
            "KVSTORES_TEST_REDIS_URL": "redis://127.0.0.1:1",  # the test suite's own variable: not a store
            "OTHER": "ignored",
        },
        cleanup_interval=5,
    )
    assert config.default == "memory://?namespace=env"
    assert dict(config.stores) == {
        "sessions": "memory://?max_entries=5",
        "keep": "memory://?namespace=keep",
        "response_cache": "memory://?namespace=rc",
    }
    assert config.cleanup_interval == 5


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("Off", False), ("no", False)])
def test_kvstores_instrument_switches_instrumentation_over_the_argument(value: str, expected: bool) -> None:
    config = KVStoresConfig.from_env(
        default="memory://", instrument=not expected, environ={"KVSTORES_INSTRUMENT": value}
    )
    assert config.instrument is expected
    assert "instrument" not in config.stores  # the switch is not a store


def test_a_bad_kvstores_instrument_is_named() -> None:
    with pytest.raises(ValueError, match="KVSTORES_INSTRUMENT must be true or false, got 'maybe'"):
        KVStoresConfig.from_env(environ={"KVSTORES_INSTRUMENT": "maybe"})


def test_kvstores_instrument_instruments_every_store() -> None:
    config = KVStoresConfig.from_env(
        default="memory://", stores={"sessions": "memory://"}, environ={"KVSTORES_INSTRUMENT": "true"}
    )
    registry = build_registry(config)
    assert isinstance(registry.get("sessions"), InstrumentedStore)
    assert isinstance(registry.get("anything"), InstrumentedStore)


def test_from_env_keeps_arguments_without_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVSTORES_DEFAULT", raising=False)
    monkeypatch.setenv("KVSTORES_RATE_LIMIT", "memory://?namespace=rl")
    config = KVStoresConfig.from_env(default="memory://?namespace=arg")
    assert config.default == "memory://?namespace=arg"
    assert config.stores["rate_limit"] == "memory://?namespace=rl"


@pytest.mark.parametrize(
    ("interval", "error"), [(0, ValueError), (-1, ValueError), ("5", TypeError), (True, TypeError)]
)
def test_cleanup_interval_is_validated(interval: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="cleanup_interval"):
        KVStoresConfig(cleanup_interval=interval)


def test_the_config_repr_shows_no_credentials() -> None:
    config = KVStoresConfig(
        default="redis://alice:s3cret@127.0.0.1:9/0", stores={"a": "memory://", "b": "redis://:pw0rd@h/0"}
    )
    shown = repr(config)
    assert "s3cret" not in shown
    assert "pw0rd" not in shown
    assert "alice" not in shown
    assert "redis://***@127.0.0.1:9/0" in shown
    assert "'a': 'memory://'" in shown


def test_bad_store_values_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="'nosuch'"):
        KVStoresPlugin(KVStoresConfig(stores={"a": "nosuch://x"}))
    with pytest.raises(TypeError, match="store URL or a store"):
        KVStoresPlugin(KVStoresConfig(stores={"a": 42}))  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="must support namespaces"):
        KVStoresPlugin(KVStoresConfig(default=LitestarMemoryStore()))


def test_the_app_gets_the_registry_with_named_and_default_stores() -> None:
    named = MemoryStore()
    plugin = KVStoresPlugin(KVStoresConfig(default="memory://?namespace=root", stores={"sessions": named}))
    app = Litestar(plugins=[plugin])
    assert app.stores is plugin.registry
    assert app.stores.get("sessions") is named
    cache = app.stores.get("response_cache")
    assert isinstance(cache, MemoryStore)
    assert cache.namespace == "root/response_cache"


def test_stores_given_to_litestar_join_the_registry() -> None:
    extra = MemoryStore()
    plugin = KVStoresPlugin(KVStoresConfig(stores={"a": "memory://"}))
    app = Litestar(plugins=[plugin], stores={"extra": extra})
    assert app.stores.get("extra") is extra
    with pytest.raises(ValueError, match="'a' is defined by stores= and by KVStoresConfig"):
        Litestar(plugins=[KVStoresPlugin(KVStoresConfig(stores={"a": "memory://"}))], stores={"a": MemoryStore()})
    with pytest.raises(ValueError, match="not a registry of your own"):
        Litestar(plugins=[KVStoresPlugin()], stores=StoreRegistry())


async def test_every_store_is_entered_and_closed_exactly_once() -> None:
    log: list[str] = []
    named = RecordingMemoryStore(log, "named")
    plugin = KVStoresPlugin(
        KVStoresConfig(default=RecordingMemoryStore(log, "root"), stores={"named": named}, cleanup_on_startup=False)
    )

    @get("/touch/{name:str}", sync_to_thread=False)
    def touch(name: FromPath[str], stores: NamedDependency[StoreRegistry]) -> str:
        stores.get(name)  # created by the default factory while serving
        return name

    app = Litestar([touch], plugins=[plugin])
    app.stores.get("before_start")  # created after the app was built, before start-up
    async with AsyncTestClient(app) as client:
        assert sorted(log) == ["enter named", "enter root", "enter root/before_start"]
        assert (await client.get("/touch/during")).text == "during"
        await asyncio.sleep(0.05)  # the new store is entered in a task
        assert "enter root/during" in log
        log.clear()
    assert sorted(log) == ["close named", "close root", "close root/before_start", "close root/during"]
    assert log[-1] == "close root"  # the shared root closes after its namespaces


async def test_delete_expired_runs_on_startup_over_root_and_named_stores() -> None:
    root, named = MemoryStore(), MemoryStore()
    plugin = KVStoresPlugin(KVStoresConfig(default=root, stores={"named": named}, cleanup_interval=None))
    app = Litestar(plugins=[plugin])
    namespace = app.stores.get("ns")
    assert isinstance(namespace, KVStore)
    await namespace.set("a", b"1", expires_in=0.01)
    await named.set("b", b"2", expires_in=0.01)
    await named.set("c", b"3", expires_in=0.01)
    await named.set("kept", b"4")
    await asyncio.sleep(0.05)
    async with AsyncTestClient(app):
        assert plugin.last_cleanup == {"(default)": 1, "named": 2}
        assert plugin.cleanup_runs == 1
    assert await named.get("kept") == b"4"


async def test_no_startup_cleanup_when_disabled() -> None:
    plugin = KVStoresPlugin(KVStoresConfig(cleanup_on_startup=False, cleanup_interval=None))
    async with AsyncTestClient(Litestar(plugins=[plugin])):
        assert plugin.cleanup_runs == 0


async def test_background_cleanup_removes_expired_entries_without_access() -> None:
    named = MemoryStore()
    plugin = KVStoresPlugin(KVStoresConfig(stores={"named": named}, cleanup_interval=0.05))
    async with AsyncTestClient(Litestar(plugins=[plugin])):
        await named.set("short", b"x", expires_in=0.01)
        runs = plugin.cleanup_runs
        for _ in range(200):
            await asyncio.sleep(0.05)
            if plugin.cleanup_runs >= runs + 2:
                break
        assert plugin.cleanup_runs >= runs + 2
        assert await named.delete_expired() == 0  # nothing left: the background task removed it
    runs = plugin.cleanup_runs
    await asyncio.sleep(0.15)
    assert plugin.cleanup_runs == runs  # stopped on shutdown


async def test_cleanup_is_never_in_the_path_of_a_response() -> None:
    slow = BlockingCleanupStore()
    plugin = KVStoresPlugin(KVStoresConfig(stores={"slow": slow}, cleanup_on_startup=False, cleanup_interval=0.01))

    @get("/", sync_to_thread=False)
    def index() -> str:
        return "ok"

    async with AsyncTestClient(Litestar([index], plugins=[plugin])) as client:
        assert await asyncio.to_thread(slow.started.wait, 10)
        response = await asyncio.wait_for(client.get("/"), 10)  # served while the clean-up is stuck
        assert response.text == "ok"
        slow.release.set()


class _ListHandler(logging.Handler):
    """Collects records itself: Litestar's logging set-up replaces the root handlers pytest's caplog relies on."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_cleanup_failures_are_logged_and_the_app_keeps_running() -> None:
    good = MemoryStore()
    plugin = KVStoresPlugin(
        KVStoresConfig(stores={"broken": FailingCleanupStore(), "good": good}, cleanup_interval=0.02)
    )

    @get("/", sync_to_thread=False)
    def index() -> str:
        return "ok"

    records: list[logging.LogRecord] = []
    handler = _ListHandler(records)
    logging.getLogger("litestar_kvstores").addHandler(handler)
    try:
        async with AsyncTestClient(Litestar([index], plugins=[plugin])) as client:
            for _ in range(200):
                if plugin.cleanup_runs >= 3:
                    break
                await asyncio.sleep(0.02)
            assert plugin.cleanup_runs >= 3
            assert "good" in plugin.last_cleanup
            assert "broken" not in plugin.last_cleanup
            assert (await client.get("/")).text == "ok"
    finally:
        logging.getLogger("litestar_kvstores").removeHandler(handler)
    failures = [r for r in records if "delete_expired failed on the store broken" in r.getMessage()]
    assert len(failures) >= 3
    assert failures[0].exc_info is not None
    assert "the disk is on fire" in str(failures[0].exc_info[1])


async def test_registry_and_named_stores_are_injectable() -> None:
    sessions = MemoryStore()
    plugin = KVStoresPlugin(KVStoresConfig(stores={"sessions": sessions}, inject={"session_store": "sessions"}))

    @get("/registry", sync_to_thread=False)
    def registry_handler(stores: NamedDependency[StoreRegistry]) -> list[str]:
        return stores.names()

    @get("/named")
    async def named_handler(session_store: NamedDependency[Store]) -> str:
        await session_store.set("seen", b"yes")
        return "ok"

    @get("/provided", dependencies={"cache": provide_store("response_cache")})
    async def provided_handler(cache: NamedDependency[Store]) -> str:
        await cache.set("k", b"cached")
        return "ok"

    app = Litestar([registry_handler, named_handler, provided_handler], plugins=[plugin])
    async with AsyncTestClient(app) as client:
        assert (await client.get("/registry")).json() == ["sessions"]
        assert (await client.get("/named")).text == "ok"
        assert await sessions.get("seen") == b"yes"
        assert (await client.get("/provided")).text == "ok"
        cache = app.stores.get("response_cache")
        assert await cache.get("k") == b"cached"


async def test_plugin_over_every_backend_url(store_url: str) -> None:
    plugin = KVStoresPlugin(KVStoresConfig(default=store_url, stores={"named": store_url}, cleanup_interval=None))

    @get("/{name:str}")
    async def write(name: FromPath[str], stores: NamedDependency[StoreRegistry]) -> str:
        await stores.get(name).set("k", name)
        return name

    app = Litestar([write], plugins=[plugin])
    async with AsyncTestClient(app) as client:
        for name in ("named", "a", "b"):
            assert (await client.get(f"/{name}")).text == name
        for name in ("named", "a", "b"):
            assert await in_app(client, app.stores.get(name).get, "k") == name.encode()
        await in_app(client, app.stores.get("named").delete_all)
        await in_app(client, plugin.registry.owned_stores[0].delete_all)


async def test_stores_created_in_worker_threads_are_entered_too() -> None:
    log: list[str] = []
    plugin = KVStoresPlugin(KVStoresConfig(default=RecordingMemoryStore(log, "root"), cleanup_on_startup=False))

    @get("/threaded", sync_to_thread=True)
    def threaded(stores: NamedDependency[StoreRegistry]) -> str:
        stores.get("from_thread")  # asked for in a worker thread, not on the event loop
        return "ok"

    async with AsyncTestClient(Litestar([threaded], plugins=[plugin])) as client:
        assert (await client.get("/threaded")).text == "ok"
        for _ in range(100):
            if "enter root/from_thread" in log:
                break
            await asyncio.sleep(0.02)
        assert "enter root/from_thread" in log
    assert "close root/from_thread" in log
