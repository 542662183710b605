"""A cached, slow route served by several uvicorn workers on one Redis, for the cross-process single-flight test.

``KVSTORES_TEST_CACHE_URL`` names the shared store; ``KVSTORES_TEST_SINGLE_FLIGHT=1`` turns single flight on. Every
run of the handler counts itself in the store (``calls:<n>``), and every response names the worker that sent it in
the ``x-worker-pid`` header (added outside the cache, so a cached response still names the worker that replays it).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from litestar import Litestar, Request, get
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from litestar_kvstores import KVStore, KVStoresConfig, KVStoresPlugin


@get("/cold", cache=60)
async def cold(request: Request[Any, Any, Any], n: int) -> dict[str, int]:
    calls = request.app.stores.get("calls")
    assert isinstance(calls, KVStore)
    await calls.incr(f"calls:{n}")
    await asyncio.sleep(0.3)
    return {"n": n, "computed_by": os.getpid()}


def worker_header(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["x-worker-pid"] = str(os.getpid())
            await send(message)

        await app(scope, receive, send_with_pid)

    return middleware


config = KVStoresConfig(
    default=os.environ["KVSTORES_TEST_CACHE_URL"],
    cache_single_flight=os.environ.get("KVSTORES_TEST_SINGLE_FLIGHT") == "1",
    cache_lock_timeout=30,
    cleanup_interval=None,
)
app = Litestar([cold], middleware=[worker_header], plugins=[KVStoresPlugin(config)])
