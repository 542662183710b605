"""Every code example of Litestar's stores guide, ported to litestar-kvstores and asserted on behaviour.

The guide (docs/usage/stores.rst of Litestar) is where our users start. Examples that only touch a store run on
the ``store`` fixture of every backend; examples that build an application take a store URL of every backend, so
the store's client lives on the application's event loop. Where the guide's code does not do what its text says,
the port does what the text says and the comment names the difference.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.config.response_cache import ResponseCacheConfig
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.testing import AsyncTestClient

from litestar_kvstores import KVStore, MemoryStore, StoreRegistry, store_from_url
from tests.support.backends import BACKENDS
from tests.support.plugin import in_app
from tests.support.stores import url_for

NOT_NATIVELY_EXPIRING = [backend for backend in BACKENDS if backend in ("memory", "file")]


# -- Interacting with a store ------------------------------------------------------------------------------------


async def test_getting_and_setting_values(store: KVStore) -> None:
    assert await store.get("key") is None  # nothing stored under this key yet
    await store.set("key", b"value")
    assert await store.get("key") == b"value"


async def test_setting_an_expiry_time(store: KVStore) -> None:
    await store.set("foo", b"bar", expires_in=1)
    assert await store.get("foo") == b"bar"
    await asyncio.sleep(1.1)
    assert await store.get("foo") is None  # expired


async def test_renewing_on_access(store: KVStore) -> None:
    await store.set("foo", b"bar", expires_in=1)
    await asyncio.sleep(0.5)
    # The guide renews for 1 s and reads at exactly 1.5 s, the moment the renewed entry expires; renewing for 2 s
    # keeps the point (without renewal the entry would be gone at 1 s) without the race.
    await store.get("foo", renew_for=2)
    await asyncio.sleep(1)
    assert await store.get("foo") == b"bar"


async def test_strings_are_stored_as_utf8_bytes(store: KVStore) -> None:
    await store.set("greeting", "grüß dich")
    assert await store.get("greeting") == "grüß dich".encode()


# -- Deleting expired values -------------------------------------------------------------------------------------


async def test_after_response_cleanup() -> None:
    memory_store = MemoryStore()
    interval = timedelta(milliseconds=100)

    async def after_response(request: Request[Any, Any, Any]) -> None:
        # The guide stores "now" after every response, so its 30 s never pass and it never cleans up; this port
        # records the time of the last clean-up instead. KVStoresPlugin(cleanup_interval=...) does this for you,
        # outside of the responses' path.
        now = datetime.now(UTC)
        last_cleared = request.app.state.get("store_last_cleared", now)
        if now - last_cleared > interval:
            await memory_store.delete_expired()
            request.app.state["store_last_cleared"] = now
        else:
            request.app.state.setdefault("store_last_cleared", now)

    @get("/", sync_to_thread=False)
    def index() -> str:
        return "ok"

    app = Litestar([index], after_response=after_response)
    async with AsyncTestClient(app) as client:
        await memory_store.set("old", b"x", expires_in=0.01)
        await client.get("/")  # starts the clock
        await asyncio.sleep(0.2)
        await client.get("/")  # more than the interval later: cleans up
        assert await memory_store.delete_expired() == 0  # already removed by the hook


@pytest.mark.parametrize("backend", NOT_NATIVELY_EXPIRING)
async def test_on_startup_cleanup(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> None:
    url = url_for(backend, request, tmp_path / "data")
    file_store = store_from_url(url)  # the guide uses FileStore(Path("data"))
    assert isinstance(file_store, KVStore)
    await file_store.set("old", b"x", expires_in=0.01)
    await file_store.set("kept", b"y")
    await asyncio.sleep(0.05)
    removed: list[int] = []

    async def on_startup() -> None:
        removed.append(await file_store.delete_expired())

    async with AsyncTestClient(Litestar(on_startup=[on_startup])) as client:
        assert removed == [1]
        assert await in_app(client, file_store.get, "kept") == b"y"


# -- Namespacing -------------------------------------------------------------------------------------------------


async def test_namespacing_and_delete_all(backend: str, store_url: str) -> None:
    root_store = store_from_url(store_url)
    assert isinstance(root_store, KVStore)
    cache_store = root_store.with_namespace("cache")
    session_store = root_store.with_namespace("sessions")

    async def before_shutdown() -> None:  # Litestar 2 runs these as on_shutdown hooks
        await cache_store.delete_all()

    # The guide leaves the root open; closing it after the hook is the "store lifetime" advice of the same guide.
    app = Litestar(on_shutdown=[before_shutdown, root_store.aclose])
    async with AsyncTestClient(app) as client:
        await in_app(client, cache_store.set, "k", b"cached")
        await in_app(client, session_store.set, "k", b"session")
    # After shutdown, look through a new store on the same data (an in-memory store is its own data).
    async with root_store if backend == "memory" else store_from_url(store_url) as reopened:
        assert isinstance(reopened, KVStore)
        assert await reopened.with_namespace("cache").get("k") is None  # cleared by the shutdown hook
        assert await reopened.with_namespace("sessions").get("k") == b"session"  # untouched
        await reopened.delete_all()  # the root clears everything
        assert await reopened.with_namespace("sessions").get("k") is None


# -- Managing stores with the registry ---------------------------------------------------------------------------


def test_registry_hands_out_registered_and_new_stores() -> None:
    app = Litestar([], stores={"memory": MemoryStore()})
    memory_store = app.stores.get("memory")
    assert isinstance(memory_store, MemoryStore)  # the previously defined store
    some_other_store = app.stores.get("something_else")  # a newly created instance
    assert some_other_store is not memory_store
    assert app.stores.get("something_else") is some_other_store  # and the same one from now on


async def test_rate_limit_store_through_the_registry(store_url: str) -> None:
    @get("/", sync_to_thread=False)
    def index() -> str:
        return "ok"

    root_store = store_from_url(store_url)
    assert isinstance(root_store, KVStore)
    registry = StoreRegistry.from_root(root_store)
    app = Litestar([index], middleware=[RateLimitConfig(("second", 1)).middleware], stores=registry)
    rate_limit_store = app.stores.get("rate_limit")
    async with AsyncTestClient(app) as client:
        assert (await client.get("/")).status_code == 200
        assert isinstance(rate_limit_store, KVStore)
        assert await in_app(client, rate_limit_store.count) == 1  # the middleware used this very store
        await in_app(client, registry.aclose)


def test_custom_default_factory() -> None:
    memory_store = MemoryStore()

    def default_factory(name: str) -> MemoryStore:
        return memory_store

    app = Litestar([], stores=StoreRegistry(default_factory=default_factory))
    assert app.stores.get("one") is memory_store
    assert app.stores.get("two") is memory_store


# -- Using the registry to configure integrations ----------------------------------------------------------------


@get("/session", sync_to_thread=False)
def start_session(request: Request[Any, Any, Any]) -> str:
    request.session["user"] = "alice"
    return "ok"


@get("/cached", cache=True, sync_to_thread=False)
def cached_handler() -> str:
    return "Hello, world!"


async def _count(client: AsyncTestClient[Any], store: Store) -> int:
    assert isinstance(store, KVStore)
    return await in_app(client, store.count)


async def test_stores_for_integrations(store_url: str, request: pytest.FixtureRequest, tmp_path: Any) -> None:
    sessions = store_from_url(store_url)
    response_cache = store_from_url(url_for(NOT_NATIVELY_EXPIRING[-1], request, tmp_path / "response-cache"))
    app = Litestar(
        [start_session, cached_handler],
        stores={"sessions": sessions, "response_cache": response_cache},
        middleware=[ServerSideSessionConfig().middleware],
    )
    async with AsyncTestClient(app) as client:
        await client.get("/session")
        await client.get("/cached")
        assert await _count(client, sessions) == 1
        assert await _count(client, response_cache) == 1


async def test_integrations_share_stores_by_name(store_url: str, request: pytest.FixtureRequest, tmp_path: Any) -> None:
    redis, file = store_from_url(store_url), store_from_url(url_for(NOT_NATIVELY_EXPIRING[-1], request, tmp_path))
    app = Litestar(
        [start_session, cached_handler],
        stores={"redis": redis, "file": file},
        response_cache_config=ResponseCacheConfig(store="redis"),
        middleware=[
            ServerSideSessionConfig(store="file").middleware,
            RateLimitConfig(rate_limit=("second", 10), store="redis").middleware,
        ],
    )
    async with AsyncTestClient(app) as client:
        await client.get("/session")
        await client.get("/cached")
        assert await _count(client, file) == 1  # the session
        assert await _count(client, redis) == 2  # the rate limit history and the cached response


async def test_default_factory_with_namespacing(store_url: str) -> None:
    root_store = store_from_url(store_url)
    assert isinstance(root_store, KVStore)
    app = Litestar(
        [cached_handler, start_session],
        stores=StoreRegistry(default_factory=root_store.with_namespace),
        middleware=[RateLimitConfig(("second", 1)).middleware, ServerSideSessionConfig().middleware],
    )
    async with AsyncTestClient(app) as client:
        assert (await client.get("/cached")).text == "Hello, world!"
        await client.get("/session")
        for name in ("response_cache", "rate_limit", "sessions"):
            namespace = app.stores.get(name)
            assert isinstance(namespace, KVStore)
            assert await in_app(client, namespace.count) >= 1
        assert await in_app(client, root_store.count) == 0  # everything went into the namespaces
        await in_app(client, root_store.delete_all)
        assert await in_app(client, app.stores.get("sessions").get, client.cookies["session"]) is None
        await in_app(client, root_store.aclose)  # the guide's "store lifetime": nobody else closes the root
