"""AtomicRateLimitMiddleware: Litestar's RateLimitConfig counting with the store's atomic incr."""

from __future__ import annotations

import asyncio

import pytest
from litestar import Litestar, get
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.memory import MemoryStore as LitestarMemoryStore
from litestar.testing import AsyncTestClient

from litestar_kvstores import KVStoresConfig, KVStoresPlugin
from litestar_kvstores.rate_limit import AtomicRateLimitMiddleware
from tests.support.backends import SHARED_BACKENDS
from tests.support.rate_limit import startup_error

"""Backends that several worker processes can share (an in-process store is not)."""


@get("/", sync_to_thread=False)
def index() -> str:
    return "ok"


def limited_app(url: str, limit: int, headers: bool = True) -> Litestar:
    rate_limit = RateLimitConfig(
        rate_limit=("minute", limit),
        middleware_class=AtomicRateLimitMiddleware,
        store="limits",
        set_rate_limit_headers=headers,
    )
    plugin = KVStoresPlugin(KVStoresConfig(stores={"limits": url}, cleanup_interval=None))
    return Litestar([index], middleware=[rate_limit.middleware], plugins=[plugin])


async def test_limit_and_headers(store_url: str) -> None:
    async with AsyncTestClient(limited_app(store_url, 3)) as client:
        responses = [await client.get("/") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert {r.headers["RateLimit-Policy"] for r in responses} == {"3; w=60"}
    assert {r.headers["RateLimit-Limit"] for r in responses} == {"3"}
    assert all(55 <= int(r.headers["RateLimit-Reset"]) <= 60 for r in responses)


async def test_headers_can_be_turned_off(store_url: str) -> None:
    async with AsyncTestClient(limited_app(store_url, 1, headers=False)) as client:
        responses = [await client.get("/") for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 429]
    assert not any("RateLimit-Remaining" in r.headers for r in responses)


async def test_concurrent_requests_never_pass_the_limit(store_url: str) -> None:
    async with AsyncTestClient(limited_app(store_url, 5)) as client:
        responses = await asyncio.gather(*(client.get("/") for _ in range(40)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 35


@pytest.mark.parametrize("backend", SHARED_BACKENDS)
async def test_two_workers_on_one_shared_store_never_pass_the_limit(store_url: str) -> None:
    # Two applications with their own clients on one store, as two worker processes would have.
    async with (
        AsyncTestClient(limited_app(store_url, 5)) as first,
        AsyncTestClient(limited_app(store_url, 5)) as second,
    ):
        responses = await asyncio.gather(*(client.get("/") for client in (first, second) * 20))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 35


async def test_a_store_without_incr_is_refused_at_startup() -> None:
    rate_limit = RateLimitConfig(rate_limit=("minute", 1), middleware_class=AtomicRateLimitMiddleware)
    app = Litestar([index], middleware=[rate_limit.middleware], stores={"rate_limit": LitestarMemoryStore()})
    error = await startup_error(app)
    assert "AtomicRateLimitMiddleware needs a store with an atomic incr" in str(error)
    assert "'rate_limit' is a litestar.stores.memory.MemoryStore" in str(error)
    assert "litestar_kvstores.MemoryStore" in str(error)
