"""The example application.

Every store comes from :class:`~litestar_kvstores.KVStoresPlugin`: each name Litestar asks for (``sessions``,
``rate_limit``, ``response_cache``) becomes a namespace of one default store, the embedded in-memory store unless
``KVSTORES_DEFAULT`` names another backend (``file://./data``, ``redis://localhost:6379/0``, ``mongodb://...``).
The plugin enters the stores, cleans expired entries in the background and closes them on shutdown.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Litestar, Request, get
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.server_side import ServerSideSessionConfig

from litestar_kvstores import AtomicRateLimitMiddleware, KVStoresConfig, KVStoresPlugin

EMBEDDED_DEFAULT = "memory://?max_entries=100000"


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
    """Build the app: sessions, an atomic rate limit on ``/limited`` and response caching, all via the plugin."""
    rate_limit = RateLimitConfig(
        ("minute", 5),
        exclude=["^/$", "^/counter", "^/cached", "^/schema"],
        middleware_class=AtomicRateLimitMiddleware,
    )
    return Litestar(
        [index, counter, limited, cached],
        plugins=[KVStoresPlugin(KVStoresConfig.from_env(default=EMBEDDED_DEFAULT, cleanup_interval=30))],
        middleware=[ServerSideSessionConfig().middleware, rate_limit.middleware],
    )


app = create_app()
