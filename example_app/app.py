"""The example application.

Every store the app uses comes from one registry whose default factory hands out namespaces of one root store:
the embedded :class:`~litestar_kvstores.MemoryStore` unless ``KVSTORES_DEFAULT`` names another backend.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Litestar, Request, get
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.stores.registry import StoreRegistry

from litestar_kvstores import MemoryStore

root_store = MemoryStore(max_entries=100_000)


@get("/")
async def index() -> dict[str, str]:
    """List what the app offers."""
    return {
        "/counter": "a per-visitor counter kept in a server-side session",
        "/limited": "at most 5 requests per minute per client (HTTP 429 beyond)",
        "/cached": "a response cached for 10 seconds",
    }


@get("/counter")
async def counter(request: Request[Any, Any, Any]) -> dict[str, int]:
    """Count this visitor's requests in their server-side session."""
    count = int(request.session.get("count", 0)) + 1
    request.set_session({"count": count})
    return {"count": count}


@get("/limited")
async def limited() -> dict[str, str]:
    """A route behind the rate limit."""
    return {"status": "ok"}


@get("/cached", cache=10)
async def cached() -> dict[str, float]:
    """A response computed once per 10 seconds: the timestamp stays the same while cached."""
    return {"computed_at": time.time()}


def create_app() -> Litestar:
    """Build the app: sessions, rate limiting (``/limited`` only) and response caching over one registry."""
    return Litestar(
        [index, counter, limited, cached],
        stores=StoreRegistry(default_factory=root_store.with_namespace),
        middleware=[
            ServerSideSessionConfig().middleware,
            RateLimitConfig(("minute", 5), exclude=["^/$", "^/counter", "^/cached", "^/schema"]).middleware,
        ],
    )


app = create_app()
