"""Counting one request against several limits with a store's atomic public operations.

Two strategies:

- ``fixed``: one counter per limit, created by ``incr`` with an expiry of one window, so the window starts at the
  first counted request and ends one unit later.
- ``sliding``: a sliding-window counter. Windows are aligned to the clock; the request is counted in the current
  window's counter (kept for two windows) and the previous window's count is weighted by the part of it that
  still overlaps the last unit: ``estimate = previous * (1 - elapsed / window) + current``.

A store with ``incr_and_read`` (memory, file, Redis, Valkey) counts every limit of a request in one call; a memory
store does it without a coroutine (a ``counter_group`` for fixed windows, ``incr_and_read_nowait`` for sliding ones).
On others every operation of one request is issued at once (``asyncio.gather``), or one after another on an in-process
store, which never waits.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import sub
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TypeGuard, cast

from ..base import IN_PROCESS

if TYPE_CHECKING:
    from litestar.stores.base import Store

__all__ = (
    "DURATIONS",
    "Counter",
    "DurationUnit",
    "Limit",
    "RequestCounter",
    "Strategy",
    "Usage",
    "WindowEnds",
    "has_atomic_incr",
    "reported",
)

Strategy = Literal["fixed", "sliding"]
DurationUnit = Literal["second", "minute", "hour", "day"]

DURATIONS: dict[str, int] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
"""Seconds per unit, the units of Litestar's ``RateLimitConfig``."""


class Counter(Protocol):
    """The part of a store the rate limiter uses: Litestar's ``get`` plus an atomic ``incr``."""

    async def get(self, key: str, renew_for: Any = None) -> bytes | None: ...

    async def incr(self, key: str, amount: int = 1, expires_in: Any = None) -> int: ...

    async def expires_in(self, key: str) -> int | None: ...


class BatchCounter(Protocol):
    """A store that counts several counters and reads several keys in one call (Redis/Valkey: one script, one
    round trip)."""

    async def incr_and_read(
        self, counters: Sequence[tuple[str, int | None]], reads: Sequence[str] = ()
    ) -> tuple[Sequence[int], Sequence[bytes | None]]: ...


def has_atomic_incr(store: Store) -> TypeGuard[Counter]:
    """Return whether ``store`` offers the contract's atomic ``incr`` (Litestar's own stores do not)."""
    return callable(getattr(store, "incr", None))


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``max_requests`` per ``unit``."""

    unit: DurationUnit
    max_requests: int
    seconds: int = field(init=False)
    """The window's length in seconds."""
    policy: str = field(init=False)
    """The limit as the ``RateLimit-Policy`` header states it: ``"10; w=60"``."""
    encoded_policy: bytes = field(init=False, repr=False)
    """:attr:`policy` as a header value."""
    encoded_max: bytes = field(init=False, repr=False)
    """:attr:`max_requests` as a header value."""
    fixed_suffix: str = field(init=False, repr=False)
    """What a budget's key gets appended for this limit's fixed-window counter."""

    def __post_init__(self) -> None:
        # computed once: read on every request (bench_rate_limit)
        object.__setattr__(self, "seconds", DURATIONS[self.unit])
        object.__setattr__(self, "policy", f"{self.max_requests}; w={self.seconds}")
        object.__setattr__(self, "encoded_policy", self.policy.encode())
        object.__setattr__(self, "encoded_max", b"%d" % self.max_requests)
        object.__setattr__(self, "fixed_suffix", f"::fixed::{self.unit}")


class Usage(NamedTuple):
    """Where one limit stands after counting the request (a tuple: built on every request, bench_rate_limit).

    Attributes:
        limit: The limit.
        used: Requests counted in the window (the weighted estimate for ``sliding``).
        reset: Whole seconds until the window ends (``RateLimit-Reset``).
        retry_after: Whole seconds until a new request would be admitted, if none is sent meanwhile.
        remaining: Requests left in the window, never negative.
        allowed: Whether the request is within the limit (``used`` at most ``limit.max_requests``).
    """

    limit: Limit
    used: float
    reset: int
    retry_after: int
    # fields rather than properties: read on every request, and a property is a call (bench_rate_limit)
    remaining: int
    allowed: bool

    @classmethod
    def of(cls, limit: Limit, used: float, reset: int, retry_after: int) -> Usage:
        """The usage of ``limit`` at ``used``, with ``remaining`` and ``allowed`` computed."""
        return cls(
            limit, used, reset, retry_after, max(limit.max_requests - math.ceil(used), 0), used <= limit.max_requests
        )


_new_usage: Callable[[tuple[Limit, float, int, int, int, bool]], Usage] = partial(tuple.__new__, Usage)
"""``Usage`` from a tuple of its fields, without the Python-level ``__new__`` of a named tuple: one call less on every
rate-limited request (bench_rate_limit)."""


class RequestCounter:
    """Counts a budget's requests against several limits with one strategy, and reports the limit the headers
    describe.

    Args:
        limits: The limits (distinct units).
        strategy: ``"fixed"`` or ``"sliding"``.
        want_reset: For ``fixed``, make the reported ``reset`` exact even when the request is admitted: a counter
            whose window end this process does not know has its lifetime read (``expires_in``) in a second batch.
        ends: For ``fixed``, the window ends this process knows (a new one by default); a store with a
            ``counter_group`` (memory) tells them itself.
    """

    __slots__ = ("_fixed", "_maxima", "_sliding", "ends", "limits", "want_reset")

    def __init__(
        self, limits: Sequence[Limit], strategy: Strategy, *, want_reset: bool, ends: WindowEnds | None = None
    ) -> None:
        self.limits = tuple(limits)
        self.want_reset = want_reset
        self.ends = WindowEnds() if ends is None else ends
        self._fixed = tuple((limit.fixed_suffix, limit.seconds) for limit in self.limits)
        self._maxima = tuple(limit.max_requests for limit in self.limits)
        self._sliding = strategy == "sliding"

    def count(self, store: Counter, key: str) -> Usage | Awaitable[Usage]:
        """Count one request under the budget's ``key`` (each limit appends its own suffix) in ``store``, which has
        an atomic ``incr``; return the usage of the limit :func:`reported` picks, or an awaitable of it when the
        store must be waited for (every store but one with a ``counter_group``, for fixed windows).

        Raises:
            StoreError: the store failed (``StoreUnavailableError`` when it is unreachable).
        """
        return self.counting(store)(key)

    def counting(self, store: Counter) -> Callable[[str], Usage | Awaitable[Usage]]:
        """Return :meth:`count` for ``store``, prepared once for the many requests it counts.

        Fixed windows are counted with one counter group, without a coroutine, where the store makes them (memory:
        the counters are checked once, here, and the store tells each one's expiry); else with one
        ``incr_and_read`` (or the calls that stand for it) and the window ends this process knows. Sliding windows
        are counted with ``incr_and_read_nowait`` where the store has it (memory), else with ``incr_and_read``.

        Raises:
            TypeError, ValueError: the store refused the limits' counters (not with limits built by :class:`Limit`).
        """
        if self._sliding:
            incr_and_read_nowait = getattr(store, "incr_and_read_nowait", None)
            if incr_and_read_nowait is None:
                return partial(self._count_sliding, store)
            return partial(self._count_sliding_nowait, incr_and_read_nowait)
        counter_group = getattr(store, "counter_group", None)
        if counter_group is None:
            return partial(self._count_fixed_waiting, store)
        return partial(self._count_fixed_nowait, counter_group(self._fixed).incr_nowait)

    def _count_fixed_nowait(
        self, incr_nowait: Callable[[str], tuple[list[int], list[float | None]]], key: str
    ) -> Usage:
        # no coroutine and no window ends to remember: a memory store never waits and knows its counters' expiries
        # (bench_rate_limit, memory)
        return self._fixed_usage(incr_nowait(key))

    async def _count_fixed_waiting(self, store: Counter, key: str) -> Usage:
        counters = [(key + suffix, seconds) for suffix, seconds in self._fixed]
        counts, _ = await _incr_and_read(store, counters, ())
        now = time.monotonic()
        ends = self.ends
        for (counter, seconds), count in zip(counters, counts, strict=True):
            if count == 1:  # this request created the counter: its window is a whole unit from now
                ends.remember(counter, now + seconds)
        seconds_left = [ends.seconds_left(counter, now) for counter, _ in counters]
        usage = self._fixed_usage((counts, seconds_left))
        if usage.allowed and not self.want_reset:  # an end this process does not know is taken as a whole window
            return usage
        # Retry-After (and with want_reset the reset) is exact: the ends this process does not know of the limits the
        # headers may describe are read, once per window and key in this process (or after it forgot), in one batch
        deciding = [self.limits.index(usage.limit)] if usage.allowed else self._refusing(counts)
        unknown = [i for i in deciding if seconds_left[i] is None]
        if not unknown:
            return usage
        lifetimes = await _gather(store, [store.expires_in(counters[i][0]) for i in unknown])
        for i, lifetime in zip(unknown, lifetimes, strict=True):
            counter, seconds = counters[i]
            left = lifetime or seconds
            seconds_left[i] = left
            ends.remember(counter, now + left)
        return self._fixed_usage((counts, seconds_left))

    def _fixed_usage(self, counted: tuple[Sequence[int], Sequence[float | None]]) -> Usage:
        """The usage :func:`reported` picks among the fixed windows ``counted``: each limit's count and the seconds
        until its window ends (``None``: unknown, taken as a whole window)."""
        counts, seconds_left = counted
        # The common case inline, every limit admitting: the one with the fewest left (the first of equals), found
        # with built-ins rather than a loop, and no Usage of each (bench_rate_limit, memory).
        lefts = list(map(sub, self._maxima, counts))
        fewest_left = min(lefts)
        if fewest_left < 0:
            return reported([self._usage(i, counts[i], seconds_left[i]) for i in self._refusing(counts)])
        fewest = lefts.index(fewest_left)
        reset = _reset(seconds_left[fewest], self._fixed[fewest][1])
        return _new_usage((self.limits[fewest], counts[fewest], reset, reset, fewest_left, True))

    def _refusing(self, counts: Sequence[int]) -> list[int]:
        """The indexes of the limits ``counts`` are over."""
        return [i for i, count in enumerate(counts) if count > self._maxima[i]]

    def _usage(self, index: int, count: int, seconds_left: float | None) -> Usage:
        """The usage of limit ``index`` at ``count``, whose window ends in ``seconds_left`` (``None``: unknown, taken as
        a whole window)."""
        reset = _reset(seconds_left, self._fixed[index][1])
        return Usage.of(self.limits[index], count, reset, reset)

    async def _count_sliding(self, store: Counter, key: str) -> Usage:
        windows = self._sliding_windows(key)
        counted = await _incr_and_read(store, *_sliding_calls(windows))
        return self._sliding_usage(windows, counted)

    def _count_sliding_nowait(self, incr_and_read_nowait: Callable[..., SlidingCounted], key: str) -> Usage:
        # no coroutine: a memory store never waits
        windows = self._sliding_windows(key)
        return self._sliding_usage(windows, incr_and_read_nowait(*_sliding_calls(windows)))

    def _sliding_windows(self, key: str) -> list[tuple[str, str, float, Limit]]:
        """Each limit's current and previous window counter for the budget ``key`` now, the seconds elapsed in the
        current window, and the limit."""
        now = time.time()
        return [(*_sliding_keys(key, limit, now), limit) for limit in self.limits]

    def _sliding_usage(self, windows: Sequence[tuple[str, str, float, Limit]], counted: SlidingCounted) -> Usage:
        """The usage :func:`reported` picks once the current windows are counted and the previous ones read."""
        counts, previous_values = counted
        usages = []
        for current, previous_raw, (_, _, elapsed, limit) in zip(counts, previous_values, windows, strict=True):
            previous = _as_count(previous_raw)
            period = limit.seconds
            used = previous * (1 - elapsed / period) + current
            retry_after = _sliding_retry_after(limit, previous, current, elapsed)
            usages.append(Usage.of(limit, used, max(math.ceil(period - elapsed), 1), retry_after))
        return reported(usages)


SlidingCounted = tuple[Sequence[int], Sequence[bytes | None]]
"""The counts of the current windows and the values of the previous ones, as ``incr_and_read`` returns them (any
sequences: a store of another package may answer with tuples, and compiled code checks a ``list``)."""


def _sliding_calls(windows: Sequence[tuple[str, str, float, Limit]]) -> tuple[list[tuple[str, int]], list[str]]:
    """The counters (each current window, kept two windows: still readable as "previous" in the next one) and the
    reads (each previous window) of one request."""
    counters = [(current, 2 * limit.seconds) for current, _, _, limit in windows]
    return counters, [previous for _, previous, _, _ in windows]


def reported(usages: Sequence[Usage]) -> Usage:
    """The usage the headers describe: the refusing limit that frees up last, else the one with fewest left
    (ties: the first in the order of the limits)."""
    chosen = usages[0]
    for usage in usages[1:]:
        if chosen.allowed:
            if not usage.allowed or usage.remaining < chosen.remaining:
                chosen = usage
        elif not usage.allowed and usage.retry_after > chosen.retry_after:
            chosen = usage
    return chosen


async def _gather(store: Counter, calls: Sequence[Awaitable[Any]]) -> list[Any]:
    """Await ``calls`` concurrently, or one after another on an in-process store, which never waits for I/O.

    One after another saves a task per call and an event-loop turn (``bench_rate_limit``, memory); concurrently,
    the calls of a server store share one round trip (automatic pipelining).
    """
    if len(calls) == 1 or getattr(store, "address", None) == IN_PROCESS:
        return [await call for call in calls]
    return list(await asyncio.gather(*calls))


def _incr_and_read(
    store: Counter, counters: Sequence[tuple[str, int]], reads: Sequence[str]
) -> Awaitable[SlidingCounted]:
    """Add 1 to each ``(key, expires_in)`` counter and read each key of ``reads`` in the fewest round trips the
    store allows: one call of its ``incr_and_read``, else ``incr`` and ``get_many`` (or ``get``) issued together."""
    if getattr(store, "incr_and_read", None) is not None:  # its coroutine, without one of ours around it
        return cast(BatchCounter, store).incr_and_read(counters, reads)  # (bench_rate_limit, memory)
    return _incr_and_read_apart(store, counters, reads)


async def _incr_and_read_apart(
    store: Counter, counters: Sequence[tuple[str, int]], reads: Sequence[str]
) -> SlidingCounted:
    """:func:`_incr_and_read` for a store without ``incr_and_read``."""
    increments = [store.incr(counter, 1, expires_in=expires_in) for counter, expires_in in counters]
    if not reads:
        return await _gather(store, increments), []
    get_many = getattr(store, "get_many", None)
    if get_many is not None:
        results = await _gather(store, [*increments, get_many(reads)])
        return results[:-1], [results[-1].get(read) for read in reads]
    results = await _gather(store, [*increments, *(store.get(read) for read in reads)])
    return results[: len(counters)], results[len(counters) :]


class WindowEnds(dict[str, float]):
    """When fixed windows end (``time.monotonic()``), by counter key, remembered in this process (the longest
    remembered first out).

    A counter's expiry is set when it is created and never moved, so its end, once known, stays true until it
    passes: the reset time is read from the store once per window and key, not once per request. A forgotten end
    costs one read of the counter's lifetime. A plain dictionary, without recency order, whose own ``get`` serves
    the look-up every request makes (bench_rate_limit, memory): an end that has passed is the reader's to ignore.
    """

    __slots__ = ("max_entries",)

    def __init__(self, max_entries: int = 10_000) -> None:
        super().__init__()
        self.max_entries = max_entries

    def end_of(self, key: str, now: float) -> float | None:
        """Return the end of ``key``'s window, or ``None`` when it is unknown or has passed by ``now`` (then it is
        forgotten)."""
        end = self.get(key)
        if end is None or end > now:
            return end
        del self[key]
        return None

    def seconds_left(self, key: str, now: float) -> float | None:
        """Return the seconds from ``now`` until ``key``'s window ends, or ``None`` when it is unknown or has passed
        (see :meth:`end_of`)."""
        end = self.end_of(key, now)
        return None if end is None else end - now

    def remember(self, key: str, end: float) -> None:
        """Remember that ``key``'s window ends at ``end``."""
        self[key] = end
        if len(self) > self.max_entries:
            del self[next(iter(self))]


def _reset(seconds_left: float | None, window: int) -> int:
    """Whole seconds until a window of ``window`` seconds ends in ``seconds_left`` (``None``: unknown, taken as a
    whole window): at least 1, at most ``window``."""
    if seconds_left is None:
        return window
    reset = math.ceil(seconds_left)
    return 1 if reset < 1 else window if reset > window else reset


def _sliding_keys(key: str, limit: Limit, now: float) -> tuple[str, str, float]:
    """Return the current and the previous window's counter keys and the seconds elapsed in the current window."""
    window = int(now // limit.seconds)
    base = f"{key}::sliding::{limit.unit}::"
    return f"{base}{window}", f"{base}{window - 1}", now - window * limit.seconds


def _as_count(raw: Any) -> int:  # Any: what a store of another package reads may not be bytes
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:  # not written by us; count nothing rather than fail every request
        return 0


def _sliding_retry_after(limit: Limit, previous: int, current: int, elapsed: float) -> int:
    """Seconds until one more request would be admitted if none is sent meanwhile (at least 1).

    The next request adds one to ``current``: it is admitted once ``previous`` has decayed enough in this window,
    or, when ``current`` alone fills the limit, once ``current`` (then the previous window) has decayed in the next.
    """
    period, allowed = limit.seconds, limit.max_requests
    if current + 1 <= allowed:
        # previous * (1 - t / period) + current + 1 <= allowed, solved for t
        at = period * (1 - (allowed - current - 1) / previous) if previous else elapsed
        wait = max(at - elapsed, 0.0)
    else:
        # in the next window: current * (1 - t / period) + 1 <= allowed
        wait = period - elapsed + period * (1 - (allowed - 1) / current)
    return max(math.ceil(wait), 1)
