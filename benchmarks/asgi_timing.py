"""An application's own CPU time per request, called in process without a server: what a middleware adds to it.

Over HTTP the server's share (about 37 µs a request for uvicorn with uvloop and httptools on this machine) hides
small differences, and the load generator's noise is larger than them; in process the same requests are repeated
without either. The loop runs on uvloop, as the server does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import uvloop

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import Message

_BODY: dict[str, Any] = {"type": "http.request", "body": b"", "more_body": False}


def _scope(path: str) -> dict[str, Any]:
    """A fresh scope of a ``GET`` from 127.0.0.1 (Litestar writes into it, so each request gets its own)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def cpu_per_request(app: Litestar, path: str = "/", requests: int = 20_000, rounds: int = 5) -> float:
    """Start ``app``, send it ``rounds`` times ``requests`` requests for ``path`` one after another, and return the
    fewest CPU microseconds per request of a round (after a warm-up of 2,000 requests).

    Raises:
        RuntimeError: a response was not a 2xx.
    """

    async def receive() -> dict[str, Any]:
        return _BODY

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start" and not 200 <= message["status"] < 300:
            raise RuntimeError(f"{path} answered {message['status']}")

    async def measure() -> float:
        async with app.lifespan():
            for _ in range(2_000):
                await app(_scope(path), receive, send)  # type: ignore[arg-type]
            best = float("inf")
            for _ in range(rounds):
                started = time.process_time()
                for _ in range(requests):
                    await app(_scope(path), receive, send)  # type: ignore[arg-type]
                best = min(best, (time.process_time() - started) / requests * 1e6)
            return best

    return uvloop.run(measure())
