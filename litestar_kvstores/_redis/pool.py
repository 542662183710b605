"""A connection pool that waits for a free connection instead of failing, without a per-command cost."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, ClassVar

__all__ = ("WaitingPoolMixin",)


class WaitingPoolMixin:
    """Makes a library's ``ConnectionPool`` wait for a free connection when all ``max_connections`` are in use.

    The library's own ``BlockingConnectionPool`` takes a condition lock and arms a timer on every command, which
    costs about a sixth of a GET's client time; this pool costs nothing until the pool is exhausted. Mixed in
    before the library's ``ConnectionPool``, whose exhaustion error is ``exhausted_error``.

    Waiting longer than ``timeout`` seconds raises the library's ``connection_error``.
    """

    exhausted_error: ClassVar[type[Exception]]
    connection_error: ClassVar[type[Exception]]

    def __init__(self, *args: Any, timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout = timeout
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        """Return a connection, waiting up to ``timeout`` seconds for one when all are in use."""
        try:
            return await super().get_connection(*args, **kwargs)  # type: ignore[misc]
        except self.exhausted_error:
            if not self._exhausted():
                raise  # the same class means a failed connection in some libraries
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                raise self.connection_error(f"No free connection within {self.timeout} s") from None
            finally:
                if not waiter.done():
                    waiter.cancel()
            try:
                return await super().get_connection(*args, **kwargs)  # type: ignore[misc]
            except self.exhausted_error:
                if not self._exhausted():
                    raise

    def _exhausted(self) -> bool:
        in_use: set[object] = self._in_use_connections  # type: ignore[attr-defined]
        limit: int = self.max_connections  # type: ignore[attr-defined]
        return len(in_use) >= limit

    async def release(self, connection: Any) -> None:
        """Return ``connection`` to the pool and wake one task waiting for a connection."""
        await super().release(connection)  # type: ignore[misc]
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break
