"""The counting loop of :class:`~litestar_kvstores.memory.MemoryStore`: ``incr``, ``incr_and_read`` and counter groups.

A module of its own so that it can be compiled (see :mod:`litestar_kvstores._native`): every rate-limited request on a
memory store runs it (bench_rate_limit, memory). It sees only checked input: the store checks keys, expiries and the
prefix before it calls in.
"""

from __future__ import annotations

from collections.abc import Iterable

from .validation import INT64_MAX, add_to_counter

__all__ = ("Entry", "add_counts")

Entry = tuple[bytes, float | None]
"""A stored value and its expiry as a ``time.monotonic()`` deadline (``None``: never expires)."""


def add_counts(
    entries: dict[str, Entry],
    counters: Iterable[tuple[str, float | None]],
    amount: int,
    prefix: str,
    now: float,
    write: bool,
) -> tuple[list[int], list[float | None], list[tuple[str, Entry]]]:
    """Add ``amount`` to the counter ``prefix + key`` of ``entries`` for each checked, distinct ``(key, ttl)`` as of the
    monotonic time ``now``; write the new entries into ``entries`` when ``write`` (in one ``dict.update``).

    An expired counter counts as missing; ``ttl`` (seconds, ``None``: never) applies only to a counter this call
    creates, an existing one keeps its expiry.

    Returns:
        The new values, the seconds until each counter expires (``None``: never), and the new entries.

    Raises:
        ValueError: a stored value that is not a decimal integer, or a sum outside the signed 64-bit range (nothing
            is written).
    """
    values: list[int] = []
    seconds_left: list[float | None] = []
    updates: list[tuple[str, Entry]] = []
    for suffix, ttl in counters:
        key = prefix + suffix
        entry = entries.get(key)
        expiry: float | None
        if entry is None or (entry[1] is not None and entry[1] <= now):
            value = amount
            expiry = None if ttl is None else now + ttl
        else:  # the counter keeps the expiry it was created with
            data, expiry = entry
            # a non-negative counter: add_to_counter's common case, which checks every other one in full
            value = int(data) + amount if data.isdigit() else INT64_MAX + 1
            if value > INT64_MAX:
                value = add_to_counter(key, data, amount)
        values.append(value)
        seconds_left.append(None if expiry is None else expiry - now)
        updates.append((key, (b"%d" % value, expiry)))
    if write:
        entries.update(updates)
    return values, seconds_left, updates
