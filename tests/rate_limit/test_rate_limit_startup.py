"""Misconfigured rate limiting fails when the configuration is made or the application starts, never per request."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.exceptions import ImproperlyConfiguredException
from litestar.middleware import ASGIMiddleware, DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.memory import MemoryStore as LitestarMemoryStore
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from litestar_kvstores import KVStoresConfig, KVStoresPlugin, MemoryStore, StoreRegistry
from litestar_kvstores.rate_limit import AtomicRateLimitMiddleware, KVRateLimitConfig
from tests.support.rate_limit import route_a, route_b, startup_error


@pytest.mark.parametrize(
    ("limits", "error", "message"),
    [
        ([("week", 10)], ValueError, "Unknown rate limit unit 'week'"),
        ([("second", 0)], ValueError, "The limit per second must be positive, got 0"),
        ([("minute", -5)], ValueError, "The limit per minute must be positive, got -5"),
        ([("second", 1), ("second", 2)], ValueError, "Two limits per second"),
        ([], ValueError, "limits is empty"),
        ([("second", 1.5)], TypeError, "The limit per second must be an int, not float"),
        ([("second", True)], TypeError, "The limit per second must be an int, not bool"),
        ([("second",)], TypeError, r"A limit must be a \(unit, count\) pair"),
        (("second", 10), TypeError, "limits must be a list of"),
    ],
)
def test_bad_limits_are_refused_naming_the_problem(limits: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        KVRateLimitConfig(limits=limits)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"strategy": "leaky"}, ValueError, "Unknown rate limit strategy 'leaky'"),
        ({"scope": "user"}, ValueError, "Unknown rate limit scope 'user'"),
        ({"scope": 42}, TypeError, "scope must be a str or a callable, not int"),
        ({"store": ""}, TypeError, "store must be the name of a store"),
    ],
)
def test_bad_options_are_refused_naming_the_problem(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        KVRateLimitConfig(limits=[("second", 1)], **options)


@pytest.mark.parametrize(
    ("rate_limit", "message"),
    [
        (("week", 10), "unknown rate limit unit 'week'"),
        (("minute", 0), "the limit per minute must be a positive int, got 0"),
        (("minute", "10"), "the limit per minute must be a positive int, got '10'"),
    ],
)
def test_litestars_config_with_a_bad_limit_fails_when_the_app_is_built(rate_limit: Any, message: str) -> None:
    config = RateLimitConfig(rate_limit=rate_limit, middleware_class=AtomicRateLimitMiddleware)
    with pytest.raises(ImproperlyConfiguredException, match=message):
        Litestar([route_a], middleware=[config.middleware])


async def test_kv_config_over_a_store_without_incr_fails_at_startup() -> None:
    config = KVRateLimitConfig(limits=[("second", 1)], store="counters")
    app = Litestar([route_a], middleware=[config.middleware], stores={"counters": LitestarMemoryStore()})
    error = await startup_error(app)
    assert "KVRateLimitMiddleware needs a store with an atomic incr" in str(error)
    assert "'counters' is a litestar.stores.memory.MemoryStore" in str(error)


async def test_litestars_default_store_is_refused_at_startup() -> None:
    # Litestar's registry hands out its own MemoryStore for a name nobody registered
    app = Litestar([route_a], middleware=[KVRateLimitConfig(limits=[("second", 1)]).middleware])
    error = await startup_error(app)
    assert "'rate_limit' is a litestar.stores.memory.MemoryStore" in str(error)


async def test_a_store_with_incr_starts_and_the_check_runs_once() -> None:
    config = KVRateLimitConfig(limits=[("minute", 1)])
    plugin = KVStoresPlugin(KVStoresConfig(cleanup_interval=None))
    app = Litestar([route_a], middleware=[config.middleware], plugins=[plugin])
    app.register(route_b)  # builds every route's middleware again
    assert len([hook for hook in app.on_startup if "StoreCheck" in type(hook).__name__]) == 1
    async with AsyncTestClient(app) as client:
        assert [(await client.get("/a")).status_code for _ in range(2)] == [200, 429]
    assert isinstance(app.stores.get("rate_limit"), MemoryStore)


class Passthrough(ASGIMiddleware):
    """A middleware of Litestar's newer kind: its next app hides in a closure."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        await next_app(scope, receive, send)


class HiddenNext:
    """A middleware that keeps its next app under a name nobody can guess."""

    def __init__(self, app: ASGIApp) -> None:
        self._next = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._next(scope, receive, send)


def passthrough_factory(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)

    return middleware


@pytest.mark.parametrize("inner", [Passthrough(), passthrough_factory], ids=["ASGIMiddleware", "function"])
async def test_the_startup_check_sees_through_other_middleware(inner: Any) -> None:
    config = KVRateLimitConfig(limits=[("second", 1)])
    app = Litestar([route_a], middleware=[config.middleware, inner], stores={"rate_limit": LitestarMemoryStore()})
    await startup_error(app)


async def test_when_the_app_cannot_be_found_the_first_request_is_refused() -> None:
    config = KVRateLimitConfig(limits=[("second", 1)])
    app = Litestar(
        [route_a],
        middleware=[config.middleware, DefineMiddleware(HiddenNext)],
        stores=StoreRegistry({"rate_limit": LitestarMemoryStore()}),
        debug=True,
    )
    async with AsyncTestClient(app) as client:
        response = await client.get("/a")
    assert response.status_code == 500
    assert "KVRateLimitMiddleware needs a store with an atomic incr" in response.text
