"""Argument validation shared by every store: one place that states what the contract accepts.

Each helper either returns the normalised value or raises ``TypeError`` (wrong type) or ``ValueError``
(right type, invalid value). Backends call these before touching their storage, so bad input never reaches it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, NoReturn

__all__ = (
    "DEFAULT_NAMESPACE",
    "INT64_MAX",
    "INT64_MIN",
    "NAMESPACE_PATTERN",
    "add_to_counter",
    "check_amount",
    "check_counters",
    "check_distinct",
    "check_expected",
    "check_expected_value",
    "check_item",
    "check_key",
    "check_namespace",
    "check_namespace_path",
    "encode_value",
    "first_namespace",
    "parse_counter",
    "remaining_whole_seconds",
    "ttl_seconds",
)

DEFAULT_NAMESPACE = "LITESTAR"
"""The root namespace of the server-backed stores when none is given, as in Litestar."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""The range of a counter of :meth:`~litestar_kvstores.base.KVStore.incr` and of its ``amount`` on every backend."""

NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9_.\-]+")
"""What a namespace name may contain: letters, digits, ``_``, ``-`` and ``.`` (but not only dots)."""


def _raise_bad_key(key: object) -> NoReturn:
    if isinstance(key, str):
        raise ValueError("Store keys must be non-empty strings")
    raise TypeError(f"Store keys must be str, not {type(key).__name__}")


def check_key(key: object) -> str:
    """Return ``key`` if it is a non-empty ``str``.

    Raises:
        TypeError: ``key`` is not a ``str``.
        ValueError: ``key`` is empty.
    """
    if type(key) is str and key:
        return key
    if isinstance(key, str) and key:
        return str(key)
    _raise_bad_key(key)


def check_prefix(prefix: object) -> str:
    """Return ``prefix``, the start of counter keys whose ends are checked elsewhere, if it is a ``str`` (it may be
    empty).

    Raises:
        TypeError: ``prefix`` is not a ``str``.
    """
    if isinstance(prefix, str):
        return str(prefix)
    _raise_bad_key(prefix)


def encode_value(value: object) -> bytes:
    """Return ``value`` as ``bytes``: ``bytes`` as is, ``str`` UTF-8 encoded.

    Raises:
        TypeError: ``value`` is of any other type (including ``bytearray``, which could change after the call).
    """
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return bytes(value)
    raise TypeError(f"Store values must be bytes or str, not {type(value).__name__}")


def check_item(key: object, value: object) -> tuple[str, bytes]:
    """Return ``(check_key(key), encode_value(value))``: a checked key and its value as ``bytes``.

    A hot path may test ``type(key) is str and key and type(value) is bytes`` inline and call this only when the
    test fails: exactly those arguments are returned unchanged, so the inline test accepts nothing this rejects
    (``tests/backends/memory`` checks the two agree). ``MemoryStore.set`` does, for ``set 100 B`` of
    ``benchmarks/bench_memory.py``, where a call per write costs more than the rest of the write.

    Raises:
        TypeError: ``key`` is not a ``str``, or ``value`` is not ``bytes``/``str``.
        ValueError: ``key`` is empty.
    """
    return check_key(key), encode_value(value)


def ttl_seconds(expires_in: Any, name: str = "expires_in") -> float | None:
    """Normalise a time-to-live to seconds.

    Args:
        expires_in: ``None``, or a positive ``int``, ``float`` or ``timedelta``.
        name: The argument's name, used in error messages.

    Returns:
        ``None`` for ``None``, else the number of seconds as a ``float`` (sub-second parts kept).

    Raises:
        TypeError: not ``None``, a number or a ``timedelta`` (``bool`` is rejected too).
        ValueError: zero, negative, NaN or infinite.
    """
    if expires_in is None:
        return None
    if type(expires_in) is int and expires_in > 0:  # the common case first (bench_rate_limit, memory)
        return float(expires_in)
    if isinstance(expires_in, timedelta):
        seconds = expires_in.total_seconds()
    elif isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        seconds = float(expires_in)
    else:
        raise TypeError(f"{name} must be None, int, float or timedelta, not {type(expires_in).__name__}")
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"{name} must be a positive, finite duration, got {expires_in!r}")
    return seconds


def remaining_whole_seconds(remaining: float) -> int | None:
    """Return ``remaining`` seconds rounded up to a whole number, or ``None`` if nothing remains (expired)."""
    if remaining <= 0:
        return None
    return math.ceil(remaining)


def check_namespace(name: object) -> str:
    """Return ``name`` if it is a valid namespace name.

    Valid names are non-empty and contain only letters, digits, ``_``, ``-`` and ``.``; ``.`` and ``..`` are
    rejected because they name directories on a file system.

    Raises:
        TypeError: ``name`` is not a ``str``.
        ValueError: ``name`` is empty or contains any other character.
    """
    if not isinstance(name, str):
        raise TypeError(f"Namespace names must be str, not {type(name).__name__}")
    if not NAMESPACE_PATTERN.fullmatch(name) or name in {".", ".."}:
        raise ValueError(f"Invalid namespace name {name!r}: use a non-empty name of letters, digits, '_', '-' and '.'")
    return name


_FIRST_NAME = re.compile(NAMESPACE_PATTERN.pattern + r"(?=[/:])")


def first_namespace(stored_path: str, start: int = 0) -> str | None:
    """Return the namespace name at ``start`` of a stored ``<names joined by "/">:<key>`` path, or ``None``.

    ``first_namespace("app/sessions:k", 4)`` is ``"sessions"``; names never contain ``/`` or ``:``, so the name ends
    at the first of them. Backends use it to list child namespaces from stored keys.
    """
    found = _FIRST_NAME.match(stored_path, start)
    return None if found is None else found.group()


def check_namespace_path(path: object) -> str:
    """Return ``path`` if it is valid namespace names joined by ``/`` (``"app"``, ``"app/sessions"``).

    Raises:
        TypeError: ``path`` is not a ``str``.
        ValueError: a name of the path is empty or invalid (see :func:`check_namespace`).
    """
    if not isinstance(path, str):
        raise TypeError(f"A namespace path must be str, not {type(path).__name__}")
    for name in path.split("/"):
        check_namespace(name)
    return path


def check_amount(amount: object) -> int:
    """Return ``amount`` if it is an ``int`` (not a ``bool``) that fits in a signed 64-bit integer.

    Raises:
        TypeError: ``amount`` is not an ``int``.
        ValueError: ``amount`` is outside the signed 64-bit range.
    """
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"amount must be int, not {type(amount).__name__}")
    if not INT64_MIN <= amount <= INT64_MAX:
        raise ValueError(f"amount must fit in a signed 64-bit integer, got {amount}")
    return amount


def check_counters(counters: Iterable[tuple[object, object]]) -> list[tuple[str, float | None]]:
    """Return ``incr_and_read``'s ``(key, expires_in)`` counters checked: each key, and its expiry in seconds
    (``None``: never).

    Raises:
        TypeError, ValueError: as :func:`check_key` and :func:`ttl_seconds`.
        ValueError: a key appears twice (each counter is counted once per call).
    """
    checked = [(check_key(key), ttl_seconds(expires_in)) for key, expires_in in counters]
    check_distinct([key for key, _ in checked])
    return checked


def check_distinct(counter_keys: Sequence[str], within: str = "one incr_and_read call") -> None:
    """Check that no key of one ``incr_and_read`` call's counters (or of what ``within`` names) repeats.

    Raises:
        ValueError: a key appears twice (each counter is counted once per call); the message names ``within``.
    """
    if len(set(counter_keys)) != len(counter_keys):
        raise ValueError(f"A counter appears twice in {within}")


def add_to_counter(key: str, data: bytes, amount: int) -> int:
    """Return the counter ``key``, stored as ``data``, plus ``amount``.

    Raises:
        ValueError: ``data`` is not a decimal integer (the message names ``key``), or the sum leaves the signed
            64-bit range.
    """
    try:
        value = parse_counter(data) + amount
    except ValueError:
        raise ValueError(f"The value of {key!r} is not an integer and cannot be incremented") from None
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"incr would overflow a 64-bit integer: {value}")
    return value


def parse_counter(data: bytes) -> int:
    """Return the integer a stored counter holds: ASCII digits with an optional leading ``-``, as every backend reads
    it (Redis and SQLite refuse ``b" 5"``, ``b"+5"`` and ``b"1_0"``, which Python's ``int`` would take).

    Raises:
        ValueError: ``data`` is anything else.
    """
    digits = data[1:] if data[:1] == b"-" else data
    if not digits.isdigit():  # bytes.isdigit: ASCII digits only, False when empty
        raise ValueError(f"Not a decimal integer: {data[:40]!r}")
    return int(data)


def check_expected(expected: object) -> bytes | None:
    """Return the ``expected`` value of ``compare_and_set``: ``None`` ("missing or expired") or ``bytes``.

    Raises:
        TypeError: ``expected`` is not ``bytes``, ``str`` (UTF-8 encoded) or ``None``.
    """
    if expected is None:
        return None
    if isinstance(expected, bytes | str):
        return encode_value(expected)
    raise TypeError(f"expected must be bytes, str or None, not {type(expected).__name__}")


def check_expected_value(expected: object) -> bytes:
    """Return the ``expected`` value of ``compare_and_delete`` as ``bytes``.

    Raises:
        TypeError: ``expected`` is not ``bytes`` or ``str`` (UTF-8 encoded).
    """
    if isinstance(expected, bytes | str):
        return encode_value(expected)
    raise TypeError(f"expected must be bytes or str, not {type(expected).__name__}")
