"""``AtomicRateLimitMiddleware``: Litestar's own ``RateLimitConfig``, counting with one atomic ``incr``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.exceptions import ImproperlyConfiguredException
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware

from ._middleware import encoded_names, refusal, with_headers
from ._startup import CheckedStore
from ._windows import DURATIONS, Limit, RequestCounter, Usage

if TYPE_CHECKING:
    from litestar.connection import Request
    from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ("AtomicRateLimitMiddleware",)


class AtomicRateLimitMiddleware(RateLimitMiddleware):
    """A ``RateLimitMiddleware`` whose limit holds across processes sharing the store.

    Use it as the ``middleware_class`` of Litestar's own config::

        RateLimitConfig(rate_limit=("minute", 100), middleware_class=AtomicRateLimitMiddleware, store="redis")

    Litestar's middleware reads a JSON history, appends to it and writes it back under a per-process lock, so
    concurrent requests in several workers can all pass the limit; this one counts with the store's atomic
    ``incr``. The window is fixed and starts with the first counted request (the counter is created with an
    expiry of one unit), never at a clock boundary.

    Sends Litestar's ``RateLimit-Policy`` / ``-Limit`` / ``-Remaining`` / ``-Reset`` headers (when the config asks
    for them): Remaining is the limit minus the count so far (``0`` on a 429), Reset the whole seconds until the
    window ends. A 429 always carries ``Retry-After``.

    Raises:
        ImproperlyConfiguredException: when the application is built, the unit is unknown or the limit is not a
            positive ``int``; when it starts (or, if the application could not be found while it was being built,
            at the first request), the configured store has no atomic ``incr`` (Litestar's own stores have none).
    """

    def __init__(self, app: ASGIApp, config: RateLimitConfig) -> None:
        unit, max_requests = config.rate_limit
        if unit not in DURATIONS:
            raise ImproperlyConfiguredException(
                f"{type(self).__name__}: unknown rate limit unit {unit!r}, use one of {', '.join(DURATIONS)}"
            )
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests <= 0:
            raise ImproperlyConfiguredException(
                f"{type(self).__name__}: the limit per {unit} must be a positive int, got {max_requests!r}"
            )
        super().__init__(app, config)
        self.limit = Limit(unit, max_requests)
        self._counter = RequestCounter([self.limit], "fixed", want_reset=config.set_rate_limit_headers)
        self._counting = CheckedStore(app, config.store, type(self).__name__, self._counter.counting)
        self._header_names = encoded_names(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request, answer 429 past the limit, else call the application with the headers added."""
        app = scope["litestar_app"]
        request: Request[Any, Any, Any] = app.request_class(scope)
        if not await self.should_check_request(request=request):
            await self.app(scope, receive, send)
            return
        counted = self._counting.get(app)(self.cache_key_from_request(request))
        usage = counted if isinstance(counted, Usage) else await counted
        if not usage.allowed:
            raise refusal(self.config, usage)
        if self.config.set_rate_limit_headers:
            send = with_headers(send, self._header_names, usage)
        await self.app(scope, receive, send)
