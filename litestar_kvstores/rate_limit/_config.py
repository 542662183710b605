"""``KVRateLimitConfig``: several limits, fixed or sliding windows, per-route budgets, a defined store outage."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import get_remote_address

from ._middleware import KVRateLimitMiddleware
from ._windows import DURATIONS, DurationUnit, Limit, Strategy, WindowEnds

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.connection import Request
    from litestar.stores.base import Store
    from litestar.types import SyncOrAsyncUnion

__all__ = ("KVRateLimitConfig",)

logger = logging.getLogger("litestar_kvstores.rate_limit")

RateLimitScope = Literal["client", "route"] | Callable[["Request[Any, Any, Any]"], str]


def _check_limits(limits: Sequence[tuple[str, int]]) -> tuple[Limit, ...]:
    if isinstance(limits, str) or (isinstance(limits, tuple) and limits and isinstance(limits[0], str)):
        raise TypeError('limits must be a list of (unit, count) pairs, e.g. [("second", 10), ("hour", 1000)]')
    checked: list[Limit] = []
    for item in limits:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise TypeError(f"A limit must be a (unit, count) pair, not {item!r}")
        unit, count = item
        if unit not in DURATIONS:
            raise ValueError(f"Unknown rate limit unit {unit!r}: use one of {', '.join(DURATIONS)}")
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"The limit per {unit} must be an int, not {type(count).__name__}")
        if count <= 0:
            raise ValueError(f"The limit per {unit} must be positive, got {count}")
        if any(limit.unit == unit for limit in checked):
            raise ValueError(f"Two limits per {unit}: give each unit once")
        checked.append(Limit(cast(DurationUnit, unit), count))
    if not checked:
        raise ValueError("limits is empty: give at least one (unit, count) pair")
    return tuple(checked)


class _Outage:
    """Logs one WARNING when the store becomes unreachable and one INFO when it answers again."""

    __slots__ = ("down",)

    def __init__(self) -> None:
        self.down = False

    def failed(self, store_name: str, store: object, fail_open: bool, error: BaseException) -> None:
        if not self.down:
            self.down = True
            outcome = "lets requests through unlimited" if fail_open else "answers 503"
            address = getattr(store, "address", type(store).__name__)
            logger.warning(
                "Rate limiting store %r (%s) is unreachable, rate limiting %s until it answers again: %s",
                store_name,
                address,
                outcome,
                error,
            )

    def recovered(self, store_name: str) -> None:
        if self.down:
            self.down = False
            logger.info("Rate limiting store %r answers again", store_name)


@dataclass
class KVRateLimitConfig:
    """Rate limiting with several limits at once, exact across processes sharing the store.

    ``app = Litestar(..., middleware=[KVRateLimitConfig(limits=[("second", 10), ("hour", 1000)]).middleware])``

    Every limit must pass, and every request counts against every limit, refused or not.

    Attributes:
        limits: ``(unit, count)`` pairs, units ``"second"``, ``"minute"``, ``"hour"``, ``"day"``, each unit once.
        store: The name of the application's store that holds the counters; it needs an atomic ``incr`` (every
            store of this package has one). Checked when the application starts.
        strategy: ``"fixed"``: a window starts at the first counted request and lasts one unit. ``"sliding"``: the
            previous (clock-aligned) window's count weighted by how much of it still overlaps the last unit, so a
            burst across a window's edge gets little more than the limit.
        scope: Whose budget a request draws on: ``"client"`` (one per identifier, across all routes),
            ``"route"`` (one per identifier and route handler), or a callable ``request -> key``.
        fail_open: When the store is unreachable: ``True`` lets requests through (one WARNING per outage),
            ``False`` answers 503.
        exclude: Path patterns that are not rate limited (as Litestar's ``RateLimitConfig``).
        exclude_opt_key: A route handler ``opt`` key that switches rate limiting off for the handler.
        identifier_for_request: The client's identifier (its address by default; behind a proxy see
            :func:`forwarded_for_identifier`).
        check_throttle_handler: A sync or async callable ``request -> bool``; ``False`` skips rate limiting.
        set_rate_limit_headers: Send the ``RateLimit-*`` headers (a 429 always has ``Retry-After``).

    Raises:
        TypeError: a field has the wrong type.
        ValueError: a unit is unknown, a count is not positive, a unit repeats, or a field has an unknown value.
    """

    limits: Sequence[tuple[str, int]]
    store: str = "rate_limit"
    strategy: Strategy = "fixed"
    scope: RateLimitScope = "client"
    fail_open: bool = False
    exclude: str | list[str] | None = None
    exclude_opt_key: str | None = None
    identifier_for_request: Callable[[Request[Any, Any, Any]], str] = get_remote_address
    check_throttle_handler: Callable[[Request[Any, Any, Any]], SyncOrAsyncUnion[bool]] | None = None
    set_rate_limit_headers: bool = True
    rate_limit_policy_header_key: str = "RateLimit-Policy"
    rate_limit_remaining_header_key: str = "RateLimit-Remaining"
    rate_limit_reset_header_key: str = "RateLimit-Reset"
    rate_limit_limit_header_key: str = "RateLimit-Limit"
    checked_limits: tuple[Limit, ...] = field(init=False, repr=False, compare=False)
    """The validated limits."""
    outage: _Outage = field(init=False, repr=False, compare=False, default_factory=_Outage)
    window_ends: WindowEnds = field(init=False, repr=False, compare=False, default_factory=WindowEnds)

    def __post_init__(self) -> None:
        self.checked_limits = _check_limits(self.limits)
        if self.strategy not in ("fixed", "sliding"):
            raise ValueError(f'Unknown rate limit strategy {self.strategy!r}: use "fixed" or "sliding"')
        if isinstance(self.scope, str) and self.scope not in ("client", "route"):
            raise ValueError(f'Unknown rate limit scope {self.scope!r}: use "client", "route" or a callable')
        if not isinstance(self.scope, str) and not callable(self.scope):
            raise TypeError(f"scope must be a str or a callable, not {type(self.scope).__name__}")
        if not isinstance(self.store, str) or not self.store:
            raise TypeError("store must be the name of a store of the application")

    @property
    def middleware(self) -> DefineMiddleware:
        """The middleware to put in ``Litestar(middleware=[...])`` (or a router's or handler's ``middleware``)."""
        return DefineMiddleware(KVRateLimitMiddleware, config=self)

    def get_store_from_app(self, app: Litestar) -> Store:
        """Return the application's store named :attr:`store`."""
        return app.stores.get(self.store)
