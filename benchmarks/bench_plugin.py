"""Litestar features through the package vs Litestar's own: requests per second through a real app (in process).

Subjects: ``kvstores`` (our MemoryStore, ``AtomicRateLimitMiddleware``, the plugin) and ``litestar`` (Litestar's
MemoryStore and ``RateLimitMiddleware``). Requests go through httpx's ASGI transport on one event loop, so the
figures include Litestar's whole request path; what differs between the columns is the store and the middleware.

Run: ``python -m benchmarks.bench_plugin``
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar, get
from litestar.config.response_cache import ResponseCacheConfig
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore as LitestarMemoryStore

from litestar_kvstores import AtomicRateLimitMiddleware, KVStoresConfig, KVStoresPlugin, MemoryStore, invalidate_path

from .harness import Row, format_table, ops_per_second

REQUESTS = 500
SUBJECTS = ("kvstores", "litestar")
CACHED_RESPONSES = 10_000


@get("/", sync_to_thread=False)
def index() -> str:
    return "ok"


@get("/items/{item_id:int}", cache=3600, sync_to_thread=False)
def item(item_id: int) -> dict[str, int]:
    return {"item": item_id}


def build(subject: str, rate_limited: bool) -> Litestar:
    middleware_class = AtomicRateLimitMiddleware if subject == "kvstores" else RateLimitMiddleware
    # a limit no run reaches: every request is counted and admitted
    rate_limit = RateLimitConfig(rate_limit=("hour", 10**9), middleware_class=middleware_class)
    middleware = [rate_limit.middleware] if rate_limited else []
    cache = ResponseCacheConfig(store="response_cache")
    if subject == "kvstores":
        plugin = KVStoresPlugin(KVStoresConfig(default=MemoryStore(), cleanup_interval=None))
        return Litestar([index, item], middleware=middleware, plugins=[plugin], response_cache_config=cache)
    stores: dict[str, Store] = {"rate_limit": LitestarMemoryStore(), "response_cache": LitestarMemoryStore()}
    return Litestar([index, item], middleware=middleware, stores=stores, response_cache_config=cache)


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar's scope types are narrower
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client


async def requests_per_second(rate_limited: bool, path: str, rounds: int = 7) -> dict[str, float]:
    """Median requests/s of each subject; the subjects take turns round by round, so load on the machine hits both."""
    samples: dict[str, list[float]] = {subject: [] for subject in SUBJECTS}
    async with serving(build("kvstores", rate_limited)) as ours, serving(build("litestar", rate_limited)) as theirs:
        clients = {"kvstores": ours, "litestar": theirs}
        for _ in range(rounds):
            for subject, client in clients.items():

                async def request(_: int, client: httpx.AsyncClient = client) -> None:
                    response = await client.get(path)
                    assert response.status_code == 200

                samples[subject].append(await ops_per_second(request, REQUESTS, rounds=1))
    return {subject: statistics.median(values) for subject, values in samples.items()}


async def invalidate_seconds() -> float:
    """Seconds for one ``invalidate_path`` among ``CACHED_RESPONSES`` cached responses (the cache filled directly)."""
    app = build("kvstores", rate_limited=False)
    async with serving(app) as client:
        await client.get("/items/0")
        store = app.stores.get("response_cache")
        cached = await store.get("GET/items/0")
        assert cached is not None
        for item_id in range(1, CACHED_RESPONSES):
            await store.set(f"GET/items/{item_id}", cached)
        started = time.perf_counter()
        removed = await invalidate_path(app, "/items/1")
        elapsed = time.perf_counter() - started
        assert removed == 1
        return elapsed


async def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Litestar's logging set-up logs every request at INFO
    rows = []
    for operation, rate_limited, path in (
        ("GET, no middleware", False, "/"),
        ("GET, rate limited", True, "/"),
        ("GET, cached response", False, "/items/1"),
    ):
        rows.append(Row(operation, await requests_per_second(rate_limited, path)))
    rows.append(
        Row(f"invalidate_path among {CACHED_RESPONSES:,} cached", {"kvstores": await invalidate_seconds()}, "s")
    )
    print(format_table("Litestar features, requests/s through the app", rows, "kvstores", ["litestar"]))


if __name__ == "__main__":
    asyncio.run(main())
