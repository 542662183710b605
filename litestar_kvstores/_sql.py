"""What :class:`~litestar_kvstores.sqlite.SQLiteStore` and :class:`~litestar_kvstores.postgres.PostgresStore` share.

Both keep one table per store root with one row per entry: ``(namespace, key)`` is the primary key, ``value`` the
bytes and ``expires_at`` the expiry (``NULL``: never), with an index on ``expires_at`` so that expired rows are found
without reading live ones. ``namespace`` is the namespace path: the names from the root down, joined by ``/``
(``LITESTAR/app``). Names consist of ``A-Z a-z 0-9 _ - .``, which all sort below ``0`` except the digits and
letters, and ``/`` sorts just below ``0``; so the child namespaces of ``P`` are exactly the paths in the range
``[P/, P0)`` of a binary (byte-wise) ordering, and a namespace with its children is ``namespace = P OR namespace in
[P/, P0)``: two ranges of the primary key, whatever else the table holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from .validation import INT64_MAX, INT64_MIN, check_namespace, check_namespace_path, ttl_seconds

__all__ = (
    "DEFAULT_TABLE",
    "INTEGER_VALUE",
    "Scope",
    "check_expected",
    "check_table",
    "counter_bounds",
    "not_a_counter",
    "seconds_option",
)

DEFAULT_TABLE: Final = "kvstores"

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

INTEGER_VALUE: Final = re.compile(rb"0|-?[1-9][0-9]{0,18}")
"""A counter's value as :meth:`~litestar_kvstores.base.KVStore.incr` reads it: a decimal integer in canonical form."""


@dataclass(frozen=True)
class Scope:
    """A namespace path and the bounds of its children's paths (see the module documentation)."""

    path: str
    children_from: str
    children_to: str

    @classmethod
    def root(cls, path: object) -> Scope:
        """The scope of a constructor's ``namespace``: one name or a path of names joined by ``/``.

        Raises:
            TypeError: ``path`` is not a ``str``.
            ValueError: a name of the path is empty or invalid.
        """
        return cls._of(check_namespace_path(path))

    def child(self, name: object) -> Scope:
        """The scope of the child namespace ``name``.

        Raises:
            TypeError, ValueError: ``name`` is not a valid namespace name.
        """
        return self._of(f"{self.path}/{check_namespace(name)}")

    @classmethod
    def _of(cls, path: str) -> Scope:
        return cls(path, f"{path}/", f"{path}0")


def check_table(table: object) -> str:
    """Return ``table`` if it is a plain SQL identifier (letters, digits, ``_``; at most 63 characters).

    Raises:
        TypeError: ``table`` is not a ``str``.
        ValueError: ``table`` is not such an identifier.
    """
    if not isinstance(table, str):
        raise TypeError(f"table must be str, not {type(table).__name__}")
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"Invalid table name {table!r}: use letters, digits and '_' (63 at most), not a digit first")
    return table


def check_expected(expected: object) -> bytes | None:
    """Return the ``expected`` value of ``compare_and_set`` / ``compare_and_delete`` as bytes (``None`` kept).

    Raises:
        TypeError: ``expected`` is not ``None``, ``bytes`` or ``str``.
    """
    if expected is None or type(expected) is bytes:
        return expected
    if isinstance(expected, str):
        return expected.encode()
    if isinstance(expected, bytes):
        return bytes(expected)
    raise TypeError(f"expected must be bytes, str or None, not {type(expected).__name__}")


def counter_bounds(amount: int) -> tuple[int, int]:
    """The range a counter must be in for ``counter + amount`` to fit in a signed 64-bit integer."""
    return (INT64_MIN - amount if amount < 0 else INT64_MIN, INT64_MAX - amount if amount > 0 else INT64_MAX)


def not_a_counter(key: str, value: object, amount: int) -> ValueError:
    """The error of an ``incr`` that the database refused: ``value`` is no integer, or the sum would overflow."""
    if isinstance(value, bytes) and INTEGER_VALUE.fullmatch(value) and INT64_MIN <= int(value) <= INT64_MAX:
        return ValueError(f"incr of {key!r} by {amount} would overflow a signed 64-bit integer")
    return ValueError(f"The value of {key!r} is not a 64-bit integer")


def seconds_option(name: str, value: Any) -> float:
    """Return a duration option (``timeout=2.5`` or the query string ``"2.5"``) as positive seconds.

    Raises:
        ValueError: the value is not a positive, finite number (the message names the option).
    """
    problem = ValueError(f"The option {name!r} must be a positive number of seconds, got {value!r}")
    try:
        seconds = ttl_seconds(float(value) if isinstance(value, str) else value, name)
    except (TypeError, ValueError):
        raise problem from None
    if seconds is None:
        raise problem
    return seconds
