"""The document layout of MongoStore: one document per key, expiry filters and counter values (no I/O here).

``{_id: "<namespace path>:<key>", v: <value>, exp: <date> | null}``. ``v`` is BSON binary, or a 64-bit integer for
counters made by ``incr``; ``exp`` a UTC date, or ``null`` (or missing) for no expiry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bson import Int64

from ..validation import INT64_MAX, INT64_MIN

__all__ = (
    "EXPIRY_ONLY",
    "VALUE_ONLY",
    "counter_value",
    "expiry_at",
    "is_live",
    "live_filter",
    "utc_now",
    "value_filter",
)

VALUE_ONLY: Final = {"_id": 0, "v": 1}
"""Projection of a document's value."""

EXPIRY_ONLY: Final = {"_id": 0, "exp": 1}
"""Projection of a document's expiry."""

_INTEGER_VALUE = re.compile(rb"-?[0-9]+")


def utc_now() -> datetime:
    """The current time as an aware UTC ``datetime`` (what ``exp`` is compared with)."""
    return datetime.now(UTC)


def live_filter(at: datetime) -> dict[str, Any]:
    """Filter for documents that have not expired at ``at``: no expiry (null or missing), or one after ``at``.

    ``$not``/``$lte`` rather than an ``$or`` of both cases: some wire-compatible servers scan the whole collection
    for an ``$or`` even next to an ``_id`` equality.
    """
    return {"exp": {"$not": {"$lte": at}}}


def is_live(document: Mapping[str, Any], at: datetime) -> bool:
    """Whether a fetched document has not expired at ``at`` (the same rule as :func:`live_filter`)."""
    expiry = document.get("exp")
    return not isinstance(expiry, datetime) or expiry > at


def expiry_at(seconds: float | None, start: datetime) -> datetime | None:
    """The ``exp`` of an entry living ``seconds`` from ``start``; ``None`` (no expiry) for ``None``."""
    return None if seconds is None else start + timedelta(seconds=seconds)


def counter_value(key: str, value: object) -> int:
    """Return the integer held by a stored value, for ``incr``.

    Raises:
        ValueError: the value is not a decimal integer that fits in 64 bits.
    """
    if isinstance(value, int):
        return value
    if isinstance(value, bytes) and _INTEGER_VALUE.fullmatch(value) and INT64_MIN <= int(value) <= INT64_MAX:
        return int(value)
    raise ValueError(f"The value of {key!r} is not a 64-bit integer")


def value_filter(expected: bytes) -> Any:
    """Filter for a stored value equal to ``expected``: the bytes, or the counter ``incr`` keeps as a 64-bit int."""
    if not _INTEGER_VALUE.fullmatch(expected):
        return expected
    number = int(expected)
    # b"007" is not what a counter of 7 reads as
    if INT64_MIN <= number <= INT64_MAX and str(number).encode() == expected:
        return {"$in": [expected, Int64(number)]}
    return expected
