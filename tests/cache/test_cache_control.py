"""Response cache control: the index (invalidation by path, prefix, handler, tag) and single flight, in one process.

The stores are MemoryStores, which are bound to no event loop, so the tests use them directly.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from litestar_kvstores import (
    KVStoresConfig,
    KVStoresPlugin,
    MemoryStore,
    invalidate_handler,
    invalidate_path,
    invalidate_path_prefix,
    invalidate_tags,
)
from litestar_kvstores import cache as cache_module
from litestar_kvstores.cache import INDEX_NAMESPACE, KVResponseCacheConfig, check_response_cache


class CountingStore(MemoryStore):
    """A MemoryStore that counts the keys its operations touch (shared by its namespaces) and calls to ``keys``."""

    touched: list[int]

    def __init__(self) -> None:
        super().__init__()
        self.touched = [0, 0]  # [keys touched, listings]

    def with_namespace(self, namespace: str) -> Any:
        child = super().with_namespace(namespace)
        child.touched = self.touched
        return child

    async def get(self, key: str, renew_for: Any = None) -> bytes | None:
        self.touched[0] += 1
        return await super().get(key, renew_for)

    async def exists(self, key: str) -> bool:
        self.touched[0] += 1
        return await super().exists(key)

    async def keys(self) -> Any:
        self.touched[1] += 1
        async for key in super().keys():
            yield key


def make_app(store: MemoryStore, **config: Any) -> tuple[Litestar, dict[str, int]]:
    calls: dict[str, int] = {"item": 0, "page": 0, "other": 0}
    counter = itertools.count(1)

    @get("/items/{item_id:int}", cache=60, opt={"cache_tags": ["items", "catalog"]}, sync_to_thread=False)
    def item(item_id: FromPath[int]) -> dict[str, int]:
        calls["item"] += 1
        return {"item": item_id, "run": next(counter)}

    @get("/pages/{name:str}", cache=60, name="page", opt={"cache_tags": ["catalog"]}, sync_to_thread=False)
    def page(name: FromPath[str]) -> dict[str, Any]:
        calls["page"] += 1
        return {"page": name, "run": next(counter)}

    @get("/other", cache=True, sync_to_thread=False)
    def other() -> dict[str, int]:
        calls["other"] += 1
        return {"run": next(counter)}

    plugin = KVStoresPlugin(KVStoresConfig(stores={"response_cache": store}, cleanup_interval=None, **config))
    app = Litestar([item, page, other], plugins=[plugin])
    app.state.handlers = {"item": item, "page": page}
    return app, calls


async def fill(client: AsyncTestClient[Litestar], paths: list[str]) -> dict[str, Any]:
    return {path: (await client.get(path)).json() for path in paths}


async def changed(client: AsyncTestClient[Litestar], before: dict[str, Any]) -> list[str]:
    return [path for path, body in before.items() if (await client.get(path)).json() != body]


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending requests concurrently to ``app`` on this loop (the test client runs them one by one)."""
    transport = httpx.ASGITransport(app)  # type: ignore[arg-type]  # Litestar's ASGI types are narrower than httpx's
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        yield client


PATHS = ["/items/1", "/items/1?lang=de", "/items/2", "/pages/a", "/pages/b", "/other"]


async def test_invalidate_handler_by_object_and_by_name() -> None:
    app, _ = make_app(MemoryStore())
    async with AsyncTestClient(app) as client:
        before = await fill(client, PATHS)
        assert await invalidate_handler(app, app.state.handlers["item"]) == 3
        assert await changed(client, before) == ["/items/1", "/items/1?lang=de", "/items/2"]
        before = await fill(client, PATHS)
        assert await invalidate_handler(app, "page") == 2
        assert await changed(client, before) == ["/pages/a", "/pages/b"]


async def test_invalidate_handler_rejects_unknown_names_and_other_types() -> None:
    app, _ = make_app(MemoryStore())
    async with AsyncTestClient(app):
        with pytest.raises(ValueError, match="'nope'"):
            await invalidate_handler(app, "nope")
        with pytest.raises(TypeError, match="route handler"):
            await invalidate_handler(app, 42)  # type: ignore[arg-type]


async def test_invalidate_tags() -> None:
    app, _ = make_app(MemoryStore())
    async with AsyncTestClient(app) as client:
        before = await fill(client, PATHS)
        assert await invalidate_tags(app, "items") == 3
        assert await changed(client, before) == ["/items/1", "/items/1?lang=de", "/items/2"]
        before = await fill(client, PATHS)
        # a response under two of the tags is deleted once
        assert await invalidate_tags(app, "catalog", "items", "unused") == 5
        assert await changed(client, before) == PATHS[:5]
        with pytest.raises(ValueError, match="non-empty"):
            await invalidate_tags(app, "")
        with pytest.raises(TypeError, match="tag"):
            await invalidate_tags(app, 1)  # type: ignore[arg-type]


async def test_invalidate_path_and_prefix_through_the_index() -> None:
    app, _ = make_app(MemoryStore())
    async with AsyncTestClient(app) as client:
        before = await fill(client, PATHS)
        assert await invalidate_path(app, "/items/1", methods=["POST"]) == 0
        assert await invalidate_path(app, "/items/1") == 2
        assert await changed(client, before) == ["/items/1", "/items/1?lang=de"]
        before = await fill(client, PATHS)
        assert await invalidate_path_prefix(app, "/pages/") == 2
        assert await invalidate_path_prefix(app, "/") == 4  # the others
        assert await changed(client, before) == PATHS


async def keys_touched_by_invalidation(cached_items: int) -> list[int]:
    """Cache ``cached_items`` item responses plus two others, invalidate the two others; return what was touched."""
    store = CountingStore()
    app, _ = make_app(store)
    async with AsyncTestClient(app) as client:
        for i in range(cached_items):
            await client.get(f"/items/{i}")
        await fill(client, ["/pages/a", "/other"])
        store.touched[:] = [0, 0]
        assert await invalidate_handler(app, "page") == 1
        assert await invalidate_path_prefix(app, "/pages") == 0
        assert await invalidate_path(app, "/other") == 1
        assert await invalidate_tags(app, "unused") == 0
        return store.touched


async def test_invalidation_touches_what_it_removes_not_the_whole_cache() -> None:
    small, large = await keys_touched_by_invalidation(5), await keys_touched_by_invalidation(300)
    assert small[1] == large[1] == 0  # never lists the cache
    assert small[0] == large[0]  # the same keys read, whatever else the cache holds


async def test_concurrent_writes_lose_no_index_member() -> None:
    app, calls = make_app(MemoryStore())
    async with serving(app) as client:
        await asyncio.gather(*(client.get(f"/items/{i}") for i in range(60)))
        assert calls["item"] == 60
        assert await invalidate_handler(app, app.state.handlers["item"]) == 60


async def test_index_entries_expire_with_their_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "_GRACE", 0.0)
    store = MemoryStore()

    @get("/short", cache=1, sync_to_thread=False)
    def short() -> str:
        return "x"

    app = Litestar(
        [short], plugins=[KVStoresPlugin(KVStoresConfig(stores={"response_cache": store}, cleanup_interval=None))]
    )
    async with AsyncTestClient(app) as client:
        await client.get("/short")
        index = store.with_namespace(INDEX_NAMESPACE)
        assert await index.count() > 0
        await asyncio.sleep(2.5)  # the response's second, recorded for twice as long
        assert await index.count() == 0
        assert await invalidate_path(app, "/short") == 0  # nothing stale is found


async def test_handlers_with_invalid_cache_tags_fail_at_start_up() -> None:
    @get("/bad", cache=True, opt={"cache_tags": "not-a-list"}, sync_to_thread=False)
    def bad() -> str:
        return "x"

    app = Litestar([bad], plugins=[KVStoresPlugin(KVStoresConfig(cleanup_interval=None))])
    assert check_response_cache in app.on_startup
    with pytest.raises(TypeError, match="cache_tags"):
        await check_response_cache(app)


async def test_handler_and_tag_invalidation_need_the_index() -> None:
    app = Litestar([], stores={"response_cache": MemoryStore()})
    with pytest.raises(ValueError, match="KVStoresPlugin"):
        await invalidate_tags(app, "x")


@pytest.mark.parametrize("lock_timeout", [0, -1, float("inf")])
def test_lock_timeout_must_be_positive(lock_timeout: float) -> None:
    with pytest.raises(ValueError, match="lock_timeout"):
        KVResponseCacheConfig(lock_timeout=lock_timeout)


# --- single flight ---------------------------------------------------------------------------------------------------


def slow_app(single_flight: bool, lock_timeout: float = 10.0, delay: float = 0.2, fail_first: bool = False) -> Any:
    calls = [0]

    @get("/slow", cache=60)
    async def slow() -> dict[str, int]:
        calls[0] += 1
        run = calls[0]
        await asyncio.sleep(delay)
        if fail_first and run == 1:
            raise RuntimeError("the first computation fails")
        return {"run": run}

    config = KVStoresConfig(cleanup_interval=None, cache_single_flight=single_flight, cache_lock_timeout=lock_timeout)
    return Litestar([slow], plugins=[KVStoresPlugin(config)]), calls


async def test_single_flight_runs_the_handler_once_for_concurrent_misses() -> None:
    app, calls = slow_app(single_flight=True)
    async with serving(app) as client:
        responses = await asyncio.gather(*(client.get("/slow") for _ in range(20)))
        assert [response.json() for response in responses] == [{"run": 1}] * 20
        assert calls[0] == 1


async def test_without_single_flight_every_concurrent_miss_runs_the_handler() -> None:
    app, calls = slow_app(single_flight=False)
    async with serving(app) as client:
        await asyncio.gather(*(client.get("/slow") for _ in range(20)))
        assert calls[0] == 20


async def test_single_flight_waiters_compute_themselves_after_the_lock_timeout() -> None:
    app, calls = slow_app(single_flight=True, lock_timeout=0.2, delay=1.0)
    async with serving(app) as client:
        responses = await asyncio.gather(*(client.get("/slow") for _ in range(3)))
        assert calls[0] == 3
        assert sorted(response.json()["run"] for response in responses) == [1, 2, 3]


async def test_a_handler_that_raises_releases_the_lock_at_once() -> None:
    app, calls = slow_app(single_flight=True, lock_timeout=60, fail_first=True)
    async with serving(app) as client:
        responses = await asyncio.wait_for(asyncio.gather(*(client.get("/slow") for _ in range(5))), 30)
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 200, 200, 200, 500]
        assert calls[0] == 2  # the failed run, then one waiter computed for the others
        lock_store = app.stores.get("response_cache").with_namespace(INDEX_NAMESPACE)
        assert not await lock_store.exists("lock:GET/slow")
