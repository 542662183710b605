"""Rate limiting that holds across workers: one atomic ``incr`` per request instead of read-modify-write.

Litestar's :class:`~litestar.middleware.rate_limit.RateLimitMiddleware` reads a JSON history, appends to it and
writes it back under a per-process lock, so concurrent requests in several workers can all pass the limit.
:class:`AtomicRateLimitMiddleware` counts with the store's atomic :meth:`~litestar_kvstores.base.KVStore.incr`
instead; use it as the ``middleware_class`` of Litestar's own config::

    RateLimitConfig(rate_limit=("minute", 100), middleware_class=AtomicRateLimitMiddleware, store="redis")

The window is fixed and starts with the first counted request (when the counter is created with an expiry of one
unit), never at a clock boundary, so a burst across a minute's edge cannot get twice the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import DURATION_VALUES, RateLimitMiddleware

from .base import KVStore

if TYPE_CHECKING:
    from litestar.connection import Request
    from litestar.types import Message, Receive, Scope, Send

__all__ = ("AtomicRateLimitMiddleware",)


class AtomicRateLimitMiddleware(RateLimitMiddleware):
    """A ``RateLimitMiddleware`` whose limit holds across processes sharing the store.

    Sends Litestar's ``RateLimit-Policy`` / ``-Limit`` / ``-Remaining`` / ``-Reset`` headers (when the config asks for
    them): Remaining is the limit minus the count so far (``0`` on a 429), Reset the whole seconds until the window
    ends.

    Raises:
        TypeError: on a request, when the configured store is not one of this package's stores (it has no atomic
            ``incr``).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request, answer 429 past the limit, else call the application with the headers added."""
        app = scope["litestar_app"]
        request: Request[Any, Any, Any] = app.request_class(scope)
        if not await self.should_check_request(request=request):
            await self.app(scope, receive, send)
            return
        store = self.config.get_store_from_app(app)
        if not isinstance(store, KVStore):
            raise TypeError(f"AtomicRateLimitMiddleware needs a store with an atomic incr, not {type(store).__name__}")
        window = DURATION_VALUES[self.unit]
        key = self.cache_key_from_request(request)
        count = await store.incr(key, 1, expires_in=window)
        headers: dict[str, str] = {}
        if self.config.set_rate_limit_headers:  # the reset time costs a second round trip: only when it is sent
            headers = self._headers(count, await store.expires_in(key) or window)
        if count > self.max_requests:
            raise TooManyRequestsException(headers=headers)
        if headers:
            send = self._send_with_headers(send, headers)
        await self.app(scope, receive, send)

    def _headers(self, count: int, reset_in: int) -> dict[str, str]:
        config = self.config
        return {
            config.rate_limit_policy_header_key: f"{self.max_requests}; w={DURATION_VALUES[self.unit]}",
            config.rate_limit_limit_header_key: str(self.max_requests),
            config.rate_limit_remaining_header_key: str(max(self.max_requests - count, 0)),
            config.rate_limit_reset_header_key: str(reset_in),
        }

    @staticmethod
    def _send_with_headers(send: Send, headers: dict[str, str]) -> Send:
        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                response_headers = MutableScopeHeaders(message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        return send_wrapper
