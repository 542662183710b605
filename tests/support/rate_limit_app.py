"""The app that ``tests/rate_limit/test_rate_limit_workers.py`` serves with several uvicorn workers.

``uvicorn --factory tests.rate_limit_app:create_app``; ``RATE_LIMIT_APP_STORE`` is the store URL,
``RATE_LIMIT_APP_LIMIT`` the requests per minute. The budget is the ``X-Round`` header, so every round of a test
starts afresh; every response names the worker process in ``X-Worker-Pid``.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from litestar_kvstores import KVStoresConfig, KVStoresPlugin
from litestar_kvstores.rate_limit import KVRateLimitConfig
from tests.support.rate_limit import route_a, route_b


def by_round(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("X-Round", "none")


def name_the_worker(message: Message, scope: Scope) -> None:
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)["X-Worker-Pid"] = str(os.getpid())


def create_app() -> Litestar:
    limit = int(os.environ.get("RATE_LIMIT_APP_LIMIT", "10"))
    config = KVRateLimitConfig(limits=[("minute", limit), ("hour", 100 * limit)], store="limits", scope=by_round)
    stores = {"limits": os.environ["RATE_LIMIT_APP_STORE"]}
    plugin = KVStoresPlugin(KVStoresConfig(stores=stores, cleanup_interval=None))
    return Litestar([route_a, route_b], middleware=[config.middleware], plugins=[plugin], before_send=[name_the_worker])
