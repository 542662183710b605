"""``KVRateLimitMiddleware``: what runs on every rate-limited request, and the headers of its responses.

Kept apart from :mod:`._config` (the configuration and its checks): this module is the whole per-request path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from litestar.enums import ScopeType
from litestar.exceptions import ServiceUnavailableException, TooManyRequestsException
from litestar.middleware._utils import build_exclude_path_pattern, should_bypass_middleware
from litestar.middleware.rate_limit import get_remote_address
from litestar.utils import ensure_async_callable

from ..errors import StoreUnavailableError
from ._startup import CheckedStore
from ._windows import RequestCounter, Usage

if TYPE_CHECKING:
    from litestar.connection import Request
    from litestar.types import ASGIApp, Message, Receive, Scope, Scopes, Send

    from ._config import KVRateLimitConfig

__all__ = (
    "KEY_PREFIX",
    "UNREACHABLE",
    "KVRateLimitMiddleware",
    "encoded_names",
    "header_names",
    "header_values",
    "refusal",
    "with_headers",
)

KEY_PREFIX = "KVRateLimit"
UNREACHABLE = (StoreUnavailableError, OSError)
"""What an unreachable store raises: ours raise ``StoreUnavailableError``, others an ``OSError`` of their client."""


def header_names(config: Any) -> tuple[str, str, str, str]:
    """The names ``config`` (ours or Litestar's) gives the policy, limit, remaining and reset headers."""
    return (
        config.rate_limit_policy_header_key,
        config.rate_limit_limit_header_key,
        config.rate_limit_remaining_header_key,
        config.rate_limit_reset_header_key,
    )


def header_values(usage: Usage) -> tuple[str, str, str, str]:
    """The values of the policy, limit, remaining and reset headers that describe ``usage``."""
    limit = usage.limit
    return limit.policy, str(limit.max_requests), str(usage.remaining), str(usage.reset)


def refusal(config: Any, usage: Usage) -> TooManyRequestsException:
    """The 429 for ``usage``, which is over its limit: ``Retry-After``, and the ``RateLimit-*`` headers if
    configured."""
    headers: dict[str, str] = {}
    if config.set_rate_limit_headers:
        headers.update(zip(header_names(config), header_values(usage), strict=True))
    headers["Retry-After"] = str(usage.retry_after)
    return TooManyRequestsException(headers=headers)


def encoded_names(config: Any) -> tuple[bytes, ...]:
    """:func:`header_names` as :func:`with_headers` takes them: lower case, encoded."""
    return tuple(name.lower().encode("latin-1") for name in header_names(config))


def with_headers(send: Send, names: tuple[bytes, ...], usage: Usage) -> Send:
    """Return a ``send`` that sets the headers ``names`` (see :func:`encoded_names`) to the values that describe
    ``usage`` (see :func:`header_values`) on the response's start message, replacing same-named ones."""
    # raw pairs instead of MutableScopeHeaders, whose four look-ups cost about 20 µs a request, and values encoded
    # once per limit where they can be (bench_rate_limit)
    limit = usage.limit
    policy, maximum, remaining, reset = names
    added = [
        (policy, limit.encoded_policy),
        (maximum, limit.encoded_max),
        (remaining, b"%d" % usage.remaining),
        (reset, b"%d" % usage.reset),
    ]

    def send_wrapper(message: Message) -> Awaitable[None]:
        # send's own awaitable, without a coroutine of ours around it, and a loop rather than a comprehension (a
        # call): this runs for every message of every response (bench_rate_limit)
        if message["type"] == "http.response.start":
            headers = message.get("headers") or []
            if type(headers) is not list:  # any iterable of pairs (ASGI), read once
                headers = list(headers)
            for pair in headers:
                if pair[0] in names:  # ASGI: lower case
                    headers = [pair for pair in headers if pair[0] not in names]
                    break
            message["headers"] = [*headers, *added]
        return send(message)

    return send_wrapper


def _request_of(scope: Scope) -> Request[Any, Any, Any]:
    """The application's request object for ``scope``."""
    request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope)
    return request


def _route_id(scope: Scope) -> str:
    """The route handler as a key part that is the same in every process: its methods and paths."""
    handler = scope["route_handler"]
    methods = ",".join(sorted(getattr(handler, "http_methods", ()) or ()))
    return f"{methods} {','.join(sorted(handler.paths))}"


class KVRateLimitMiddleware:
    """The middleware of :class:`KVRateLimitConfig` (use ``config.middleware``).

    Counts each HTTP request not excluded with :class:`~litestar_kvstores.rate_limit._windows.RequestCounter`;
    answers 429 with ``Retry-After`` and the ``RateLimit-*`` headers of the refusing limit, 503 when the store is
    unreachable and ``fail_open`` is false. Other scopes (websockets) pass through.

    Raises:
        ImproperlyConfiguredException: at start-up (or at the first request when the application could not be
            found while it was being built), the store has no atomic ``incr``.
    """

    # A plain ASGI class rather than Litestar's AbstractMiddleware, whose wrapper costs every request a call and the
    # exclusion checks even when nothing is excluded (bench_rate_limit, memory).
    __slots__ = (
        "_counter",
        "_counting",
        "_excluded",
        "_header_names",
        "_route_ids",
        "app",
        "check_throttle_handler",
        "config",
    )

    def __init__(self, app: ASGIApp, config: KVRateLimitConfig) -> None:
        self.app = app
        self.config = config
        self._excluded = _exclusion(config, type(self))
        # The user's callables answer with object, not what their annotations say: compiled, a declared type would
        # be checked on every call (see litestar_kvstores._native).
        self.check_throttle_handler = (
            cast(
                "Callable[[Request[Any, Any, Any]], Awaitable[object]]",
                ensure_async_callable(config.check_throttle_handler),
            )
            if config.check_throttle_handler
            else None
        )
        self._counter = RequestCounter(
            config.checked_limits, config.strategy, want_reset=config.set_rate_limit_headers, ends=config.window_ends
        )
        self._counting = CheckedStore(app, config.store, type(self).__name__, self._counter.counting)
        """The store's counting, prepared once per store (bench_rate_limit)."""
        self._header_names = encoded_names(config) if config.set_rate_limit_headers else None
        self._route_ids: dict[int, str] = {}

    def key_for(self, request: Request[Any, Any, Any]) -> str:
        """Return the budget's key of ``request`` (before each limit's suffix), in braces: the counters of one budget
        share a Redis/Valkey cluster hash slot, so one script counts them all."""
        return self._key_for(request.scope, request)

    def _key_for(self, scope: Scope, request: Request[Any, Any, Any] | None) -> str:
        """:meth:`key_for` from the ASGI ``scope``; the request (built when ``request`` is ``None``) is only handed to
        the user's callables: building Litestar's ``Request`` costs about 2 µs a request (bench_rate_limit)."""
        budget: object = self.config.scope
        if callable(budget):
            return f"{{{KEY_PREFIX}::{budget(request or _request_of(scope))}}}"
        identify: Callable[..., object] = self.config.identifier_for_request
        identifier: object
        if identify is get_remote_address:  # its result without building the request's Address
            client: Any = scope.get("client")  # a tuple or a list, as the server gives it
            identifier = client[0] if client else "127.0.0.1"
        else:
            identifier = identify(request or _request_of(scope))
        if budget == "client":
            return f"{{{KEY_PREFIX}::{identifier}}}"
        handler_id = id(scope["route_handler"])
        route = self._route_ids.get(handler_id)
        if route is None:
            route = self._route_ids[handler_id] = _route_id(scope)
        return f"{{{KEY_PREFIX}::{identifier}::{route}}}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request against every limit; answer 429 past one, else call the application."""
        if scope["type"] != ScopeType.HTTP or (self._excluded is not None and self._excluded(scope)):
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] | None = None
        if self.check_throttle_handler is not None:
            request = _request_of(scope)
            if not await self.check_throttle_handler(request):
                await self.app(scope, receive, send)
                return
        config = self.config
        app = scope["litestar_app"]
        try:
            counted = self._counting.get(app)(self._key_for(scope, request))
            usage = counted if isinstance(counted, Usage) else await counted
        except UNREACHABLE as error:
            config.outage.failed(config.store, app.stores.get(config.store), config.fail_open, error)
            if not config.fail_open:
                raise ServiceUnavailableException("Rate limiting is unavailable") from error
            await self.app(scope, receive, send)
            return
        if config.outage.down:
            config.outage.recovered(config.store)
        if not usage.allowed:
            raise refusal(config, usage)
        if self._header_names is not None:
            send = with_headers(send, self._header_names, usage)
        await self.app(scope, receive, send)


_HTTP_ONLY: Scopes = {ScopeType.HTTP}


def _exclusion(config: Any, middleware: type) -> Callable[[Scope], bool] | None:
    """Return whether a request of an HTTP scope is excluded by ``config.exclude`` (path patterns, as Litestar's
    middleware match them) or ``config.exclude_opt_key``, or ``None`` when the config excludes nothing."""
    pattern = build_exclude_path_pattern(exclude=config.exclude, middleware_cls=middleware)
    opt_key = config.exclude_opt_key
    if pattern is None and not opt_key:
        return None

    def excluded(scope: Scope) -> bool:
        return should_bypass_middleware(
            scope=scope, scopes=_HTTP_ONLY, exclude_opt_key=opt_key, exclude_path_pattern=pattern
        )

    return excluded
