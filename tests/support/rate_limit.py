"""Apps and helpers of the rate-limiting tests (``tests/rate_limit/``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.exceptions import ImproperlyConfiguredException
from litestar.testing import AsyncTestClient
from litestar.types import Middleware

from litestar_kvstores import KVStoresConfig, KVStoresPlugin
from litestar_kvstores.rate_limit import KVRateLimitConfig
from litestar_kvstores.rate_limit._windows import RequestCounter, Usage

STORE = "limits"


@get("/a", sync_to_thread=False)
def route_a() -> str:
    return "a"


@get("/b", sync_to_thread=False)
def route_b() -> str:
    return "b"


@get("/free", sync_to_thread=False, opt={"no_limit": True})
def free() -> str:
    return "free"


def limited_app(url: str, middleware: Sequence[Middleware] = (), **config: Any) -> Litestar:
    """An app on the store ``url`` (through the plugin) with routes ``/a``, ``/b`` and ``/free``.

    ``config`` are :class:`KVRateLimitConfig`'s fields (``store`` defaults to the app's store); without
    ``limits`` the app has no rate limiting.
    """
    plugin = KVStoresPlugin(KVStoresConfig(stores={STORE: url}, cleanup_interval=None))
    if "limits" in config:
        middleware = [KVRateLimitConfig(store=config.pop("store", STORE), **config).middleware, *middleware]
    return Litestar([route_a, route_b, free], middleware=middleware, plugins=[plugin])


async def startup_error(app: Litestar) -> ImproperlyConfiguredException:
    """Start ``app`` and return the ``ImproperlyConfiguredException`` its start-up raised (failing if none did)."""
    with pytest.raises((ImproperlyConfiguredException, BaseExceptionGroup)) as caught:
        async with AsyncTestClient(app):
            pytest.fail("the application started")
    error: BaseException = caught.value
    while isinstance(error, BaseExceptionGroup):  # the test client's task group wraps it
        (error,) = error.exceptions
    assert isinstance(error, ImproperlyConfiguredException)
    return error


def statuses(responses: Sequence[httpx.Response]) -> list[int]:
    return [response.status_code for response in responses]


async def sleep_until_fraction(low: float, high: float, period: float = 1.0) -> None:
    """Sleep until ``time.time() % period`` lies within ``[low, high)``."""
    while not low <= time.time() % period < high:
        now = time.time() % period
        await asyncio.sleep(((low - now) % period) + 0.001)


async def count_once(counter: RequestCounter, store: Any, key: str) -> Usage:
    """Count one request with ``counter`` (which answers at once for a store that never waits)."""
    counted = counter.count(store, key)
    return counted if isinstance(counted, Usage) else await counted
