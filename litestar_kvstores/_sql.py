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

import copy
import re
from abc import abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .base import TTL, KVStore
from .validation import (
    INT64_MAX,
    INT64_MIN,
    check_amount,
    check_key,
    check_namespace,
    check_namespace_path,
    encode_value,
    ttl_seconds,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = (
    "DEFAULT_TABLE",
    "INTEGER_VALUE",
    "SQLStore",
    "Scope",
    "check_expected",
    "check_table",
    "counter_bounds",
    "namespaced",
    "not_a_counter",
    "seconds_option",
)

DEFAULT_TABLE: Final = "kvstores"

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_AFTER_EVERY_NAME: Final = "~"
"""Sorts after every name character (``~`` > ``z``): ``P/N/~`` is above every path of ``P/N``'s subtree and below
``P/N0``."""

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


class SQLStore(KVStore):
    """The part of both SQL stores that does not depend on the database: namespaces, and the validation and
    documentation of ``incr``, the atomic primitives and ``keys``, each of which runs one ``_hook`` of the backend.
    """

    __slots__ = ("_is_root", "_scope")

    def _enter_scope(self, scope: Scope, is_root: bool) -> None:
        self._scope = scope
        self._is_root = is_root
        self.namespace: str | None = scope.path

    def with_namespace(self, namespace: str) -> Self:
        """Return the store of the child namespace ``namespace``, sharing this store's table and connections.

        Raises:
            TypeError, ValueError: ``namespace`` is not a valid namespace name.
        """
        child = copy.copy(self)
        child._enter_scope(self._scope.child(namespace), is_root=False)
        return child

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Atomically add ``amount`` to the counter ``key`` and return the new value (one ``INSERT ... ON CONFLICT``).

        A missing or expired counter starts at ``amount`` with the expiry ``expires_in``; an existing one keeps its
        expiry. A value that is a decimal integer (``b"41"``, as :meth:`set` may have stored it) counts on.

        Raises:
            TypeError: ``amount`` is not an ``int``, or invalid ``key`` / ``expires_in``.
            ValueError: the stored value is not a 64-bit integer, or the sum would not fit in one.
            StoreUnavailableError, StoreError: the database cannot be reached, or failed.
        """
        return await self._incr(check_key(key), check_amount(amount), ttl_seconds(expires_in))

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Store ``value`` only if ``key`` is missing or expired (one statement); return whether it was stored.

        Raises:
            TypeError, ValueError: invalid ``key``, ``value`` or ``expires_in``.
            StoreUnavailableError, StoreError: the database cannot be reached, or failed.
        """
        return await self._add(check_key(key), encode_value(value), ttl_seconds(expires_in))

    async def compare_and_set(
        self, key: str, expected: str | bytes | None, value: str | bytes, expires_in: TTL | None = None
    ) -> bool:
        """Replace the value of ``key`` with ``value`` only if it currently equals ``expected`` (one statement).

        ``expected=None`` means "missing or expired" (the same as :meth:`add`). The new value gets the expiry
        ``expires_in`` gives (none for ``None``), as with :meth:`set`.

        Returns:
            Whether the value was replaced.

        Raises:
            TypeError: ``expected`` or ``value`` is not ``bytes``/``str`` (``expected`` may be ``None``), or an invalid
                ``key`` / ``expires_in``.
            ValueError: invalid ``key`` or ``expires_in``.
            StoreUnavailableError, StoreError: the database cannot be reached, or failed.
        """
        checked = check_key(key)
        old = check_expected(expected)
        new = encode_value(value)
        seconds = ttl_seconds(expires_in)
        if old is None:
            return await self._add(checked, new, seconds)
        return await self._compare_and_set(checked, old, new, seconds)

    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        """Delete ``key`` only if its value equals ``expected`` (one statement); return whether it was deleted.

        An expired key is missing: ``False``.

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``, or ``key`` is not a ``str``.
            ValueError: ``key`` is empty.
            StoreUnavailableError, StoreError: the database cannot be reached, or failed.
        """
        checked = check_key(key)
        old = check_expected(expected)
        if old is None:
            raise TypeError("expected must be bytes or str, not None")
        return await self._compare_and_delete(checked, old)

    async def keys(self) -> AsyncIterator[str]:
        """Iterate over the keys of this namespace (not of its children) that are not expired, in key order.

        Fetches them a page at a time (keyset pagination on the primary key).
        """
        after = ""
        while True:
            page, more = await self._keys_after(after)
            for key in page:
                yield key
            if not more or not page:
                return
            after = page[-1]

    async def namespaces(self) -> AsyncIterator[str]:
        """Iterate over the names of the direct child namespaces that hold at least one live key (or hold namespaces
        that do), each once.

        Walks the children's paths through the primary key, skipping the subtree of every child already named: one
        indexed lookup per child and grandchild path met, however many keys they hold.
        """
        prefix = self._scope.children_from
        after = prefix
        named: set[str] = set()
        while True:
            path = await self._next_namespace(after, self._scope.children_to)
            if path is None:
                return
            name = path[len(prefix) :].partition("/")[0]
            if name in named:
                # a descendant of a child already named (siblings such as N-x sort between N and N/...)
                after = f"{prefix}{name}/{_AFTER_EVERY_NAME}"
                continue
            named.add(name)
            yield name
            after = path

    @abstractmethod
    async def _next_namespace(self, after: str, before: str) -> str | None:
        """The smallest namespace path ``> after`` and ``< before`` that holds a live key, or ``None``."""

    @abstractmethod
    async def _incr(self, key: str, amount: int, seconds: float | None) -> int:
        """The counter's new value; raises ``ValueError`` (:func:`not_a_counter`) when the database refused."""

    @abstractmethod
    async def _add(self, key: str, value: bytes, seconds: float | None) -> bool: ...

    @abstractmethod
    async def _compare_and_set(self, key: str, expected: bytes, value: bytes, seconds: float | None) -> bool: ...

    @abstractmethod
    async def _compare_and_delete(self, key: str, expected: bytes) -> bool: ...

    @abstractmethod
    async def _keys_after(self, after: str) -> tuple[list[str], bool]:
        """The next page of live keys greater than ``after``, and whether more may follow."""


def namespaced(store: SQLStore, namespace: Any) -> Any:
    """The store of a URL's ``namespace`` option: ``store`` itself for ``None``, else its child ``namespace``.

    Raises:
        ValueError: ``namespace`` is empty or invalid.
    """
    if namespace is None:
        return store
    if not namespace:
        raise ValueError("The option 'namespace' must not be empty")
    return store.with_namespace(namespace)
