"""Litestar's own sessions, rate limiting and response caching over every backend, by store name.

Each test runs twice per backend: with the store from the plugin (a URL in ``KVStoresConfig.stores``) and with a
store object passed as plain ``stores=``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

import pytest
from litestar import Litestar, Request, get, post
from litestar.config.response_cache import ResponseCacheConfig
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.params import FromPath, FromQuery
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler, Middleware

from litestar_kvstores import KVStoresConfig, KVStoresPlugin, invalidate_path, invalidate_path_prefix, store_from_url
from tests.support.plugin import in_app

STORE = "kv"  # a store name that is not one of Litestar's defaults, so nothing falls back silently


@pytest.fixture(params=["plugin", "stores"])
def via(request: pytest.FixtureRequest) -> str:
    """How the app gets its store: through ``KVStoresPlugin`` or through plain ``stores=``."""
    return str(request.param)


def make_app(
    via: str, url: str, handlers: Sequence[ControllerRouterHandler], middleware: Sequence[Middleware] = (), **app: Any
) -> Litestar:
    if via == "plugin":
        config = KVStoresConfig(stores={STORE: url}, cleanup_interval=None)
        return Litestar(handlers, middleware=middleware, plugins=[KVStoresPlugin(config)], **app)
    return Litestar(handlers, middleware=middleware, stores={STORE: store_from_url(url)}, **app)


@post("/session/{value:str}", sync_to_thread=False)
def remember(request: Request[Any, Any, Any], value: FromPath[str]) -> None:
    request.session["value"] = value


@get("/session", sync_to_thread=False)
def recall(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return dict(request.session)


@post("/logout", sync_to_thread=False)
def logout(request: Request[Any, Any, Any]) -> None:
    request.clear_session()


@pytest.mark.parametrize("renew", [False, True], ids=["plain", "renew_on_access"])
async def test_server_side_sessions(via: str, store_url: str, renew: bool) -> None:
    session = ServerSideSessionConfig(store=STORE, renew_on_access=renew, max_age=60)
    app = make_app(via, store_url, [remember, recall, logout], [session.middleware])
    async with AsyncTestClient(app) as client:
        assert (await client.post("/session/hello")).status_code == 201
        assert (await client.get("/session")).json() == {"value": "hello"}
        store = app.stores.get(STORE)
        session_id = client.cookies["session"]
        assert await in_app(client, store.get, session_id) is not None
        assert 55 <= (await in_app(client, store.expires_in, session_id) or 0) <= 60
        await client.post("/logout")
        assert await in_app(client, store.get, session_id) is None
        assert (await client.get("/session")).json() == {}


async def test_sessions_expire_unless_used(store_url: str) -> None:
    # Litestar writes the session back (with a new expiry) after every response, with or without renew_on_access,
    # so one mode shows the expiry behaviour of both.
    session = ServerSideSessionConfig(store=STORE, renew_on_access=True, max_age=1)
    app = make_app("plugin", store_url, [remember, recall], [session.middleware])
    async with AsyncTestClient(app) as client:
        await client.post("/session/hello")
        # sent explicitly: the client's cookie jar drops a cookie up to a second early (whole-second clock)
        session_id = client.cookies["session"]
        cookie = {"Cookie": f"session={session_id}"}
        client.cookies.clear()
        for _ in range(2):  # used every 0.7 s, the session outlives its one-second max_age
            await asyncio.sleep(0.7)
            assert (await client.get("/session", headers=cookie)).json() == {"value": "hello"}
        await asyncio.sleep(1.3)  # unused for longer than max_age: gone from the store
        assert await in_app(client, app.stores.get(STORE).get, session_id) is None
        assert (await client.get("/session", headers=cookie)).json() == {}


async def test_rate_limit(via: str, store_url: str) -> None:
    @get("/limited", sync_to_thread=False)
    def limited() -> str:
        return "ok"

    rate_limit = RateLimitConfig(rate_limit=("minute", 2), store=STORE)
    app = make_app(via, store_url, [limited], [rate_limit.middleware])
    async with AsyncTestClient(app) as client:
        statuses = [(await client.get("/limited")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert (await client.get("/limited")).headers["RateLimit-Remaining"] == "0"


def cached_counter_app(via: str, url: str) -> Litestar:
    """An app whose cached handlers return a fresh number each time they actually run."""
    counter = itertools.count(1)

    @get("/items/{item_id:int}", cache=60, sync_to_thread=False)
    def item(item_id: FromPath[int]) -> dict[str, int]:
        return {"item": item_id, "run": next(counter)}

    @get("/items", cache=True, sync_to_thread=False)
    def items() -> dict[str, int]:
        return {"run": next(counter)}

    @get("/items2", cache=True, sync_to_thread=False)
    def items2() -> dict[str, int]:
        return {"run": next(counter)}

    @post("/invalidate/path")
    async def invalidate_one(request: Request[Any, Any, Any], path: FromQuery[str]) -> int:
        return await invalidate_path(request.app, path)

    @post("/invalidate/prefix")
    async def invalidate_many(request: Request[Any, Any, Any], prefix: FromQuery[str]) -> int:
        return await invalidate_path_prefix(request.app, prefix)

    handlers = [item, items, items2, invalidate_one, invalidate_many]
    return make_app(via, url, handlers, response_cache_config=ResponseCacheConfig(store=STORE))


async def test_response_cache(via: str, store_url: str) -> None:
    app = cached_counter_app(via, store_url)
    async with AsyncTestClient(app) as client:
        first = (await client.get("/items/1")).json()
        assert (await client.get("/items/1")).json() == first
        assert (await client.get("/items/2")).json() != first
        store = app.stores.get(STORE)
        assert 55 <= (await in_app(client, store.expires_in, "GET/items/1") or 0) <= 60


async def test_invalidate_by_path(via: str, store_url: str) -> None:
    app = cached_counter_app(via, store_url)
    async with AsyncTestClient(app) as client:
        one, one_query, two = [(await client.get(path)).json() for path in ("/items/1", "/items/1?x=1", "/items/2")]
        assert (await client.post("/invalidate/path", params={"path": "/items/1"})).json() == 2
        assert (await client.get("/items/1")).json() != one
        assert (await client.get("/items/1?x=1")).json() != one_query
        assert (await client.get("/items/2")).json() == two  # another path stays cached


async def test_invalidate_by_prefix(via: str, store_url: str) -> None:
    app = cached_counter_app(via, store_url)
    async with AsyncTestClient(app) as client:
        paths = ["/items", "/items/1", "/items/2?page=3", "/items2"]
        before = {path: (await client.get(path)).json() for path in paths}
        assert (await client.post("/invalidate/prefix", params={"prefix": "/items"})).json() == 3
        after = {path: (await client.get(path)).json() for path in paths}
        assert [path for path in paths if after[path] != before[path]] == ["/items", "/items/1", "/items/2?page=3"]
        assert (await client.post("/invalidate/prefix", params={"prefix": "/"})).json() == 4
