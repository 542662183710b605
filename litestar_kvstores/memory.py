"""An in-process, namespaced store: the embedded default.

Entries live in plain dictionaries, one per namespace, shared by a root store and all its namespaces. No operation
awaits while it touches them, so every operation is atomic within the event loop without a lock. The store is not
shared across processes or threads: use the file, Redis, Valkey or MongoDB stores for that.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from functools import partial
from time import monotonic
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ._memory_counting import Entry, add_counts
from .base import IN_PROCESS, TTL, KVStore
from .urls import namespace_option, positive_int, redact_url, reject_unknown, split_options, split_url
from .validation import (
    check_amount,
    check_counters,
    check_distinct,
    check_expected,
    check_expected_value,
    check_item,
    check_key,
    check_namespace,
    check_prefix,
    encode_value,
    remaining_whole_seconds,
    ttl_seconds,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = ("MemoryCounterGroup", "MemoryStore")

_SCAN_CHUNK = 10_000
"""How many entries ``delete_expired`` inspects before it lets other tasks run."""


def _due(entry: Entry, now: float) -> bool:
    return entry[1] is not None and entry[1] <= now


class _SharedState:
    """What a root store and all its namespaces share: the entries and the optional LRU bounds."""

    __slots__ = ("lru", "max_bytes", "max_entries", "spaces", "total_bytes")

    def __init__(self, max_entries: int | None, max_bytes: int | None) -> None:
        self.spaces: dict[str, dict[str, Entry]] = {}
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.total_bytes = 0
        # (namespace path, key) -> value size, least recently used first; kept only when bounded.
        self.lru: OrderedDict[tuple[str, str], int] | None = (
            OrderedDict() if max_entries is not None or max_bytes is not None else None
        )

    def entries(self, path: str) -> dict[str, Entry]:
        """Return the (possibly new) entry dictionary of the namespace ``path``."""
        return self.spaces.setdefault(path, {})

    def paths_under(self, path: str) -> list[str]:
        """Return ``path`` and the paths of all its child namespaces."""
        if not path:
            return list(self.spaces)
        prefix = path + "/"
        return [p for p in self.spaces if p == path or p.startswith(prefix)]

    def forget(self, path: str, key: str) -> None:
        """Drop ``key`` of ``path`` from the LRU bookkeeping (the caller removes the entry itself)."""
        if self.lru is not None:
            self.total_bytes -= self.lru.pop((path, key), 0)

    def touch_read(self, path: str, key: str) -> None:
        """Record a read of ``key`` of ``path``: it becomes the most recently used entry."""
        if self.lru is not None:
            self.lru.move_to_end((path, key))

    def touch(self, path: str, key: str, size: int) -> None:
        """Record a write of ``size`` bytes to ``key`` of ``path`` and evict least recently used entries."""
        lru = self.lru
        if lru is None:
            return
        slot = (path, key)
        self.total_bytes += size - lru.get(slot, 0)
        lru[slot] = size
        lru.move_to_end(slot)
        while (self.max_entries is not None and len(lru) > self.max_entries) or (
            self.max_bytes is not None and self.total_bytes > self.max_bytes
        ):
            (old_path, old_key), old_size = lru.popitem(last=False)
            self.total_bytes -= old_size
            self.spaces[old_path].pop(old_key, None)


class MemoryStore(KVStore):
    """In-memory, namespaced, asynchronous key/value store with optional LRU bounds.

    Args:
        max_entries: Keep at most this many entries across the root and all namespaces, evicting the least
            recently used (read or written) first. ``None``: unbounded.
        max_bytes: Keep the sum of value lengths across the root and all namespaces at most this large, evicting
            the least recently used first. A single value larger than this raises ``ValueError``.

    Raises:
        ValueError: a bound is not a positive ``int``.
    """

    __slots__ = ("_entries", "_path", "_state", "_unbounded")

    def __init__(self, max_entries: int | None = None, max_bytes: int | None = None) -> None:
        for name, bound in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool) or bound < 1):
                raise ValueError(f"{name} must be a positive int or None, got {bound!r}")
        self._state = _SharedState(max_entries, max_bytes)
        self._unbounded = self._state.lru is None
        self._path = ""
        self._entries = self._state.entries("")
        self.namespace: str | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``memory://?max_entries=N&max_bytes=N&namespace=NAME``: a new, empty store.

        ``max_entries`` and ``max_bytes`` are the bounds of :class:`MemoryStore`; ``namespace=NAME`` returns
        ``with_namespace(NAME)`` of the new store. Keyword ``options`` win over the query's.

        Raises:
            ValueError: an unknown option (named), a bound that is not a positive integer, an empty or invalid
                namespace, or a URL with a host or path.
        """
        stripped, own, unknown = split_options(url, options, ("max_entries", "max_bytes", "namespace"))
        parts = split_url(stripped)
        reject_unknown("memory", [*unknown, *(name for name, _ in parse_qsl(parts.query, keep_blank_values=True))], ())
        if parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"A memory:// URL has no host or path, got {redact_url(url)!r}")
        namespace = namespace_option(own.get("namespace"))
        store = cls(
            max_entries=positive_int("max_entries", own.get("max_entries")),
            max_bytes=positive_int("max_bytes", own.get("max_bytes")),
        )
        return store if namespace is None else store.with_namespace(namespace)

    @property
    def address(self) -> str:
        """``in-process``: the entries live in this process's memory."""
        return IN_PROCESS

    def __repr__(self) -> str:
        bounds = f", max_entries={self._state.max_entries}, max_bytes={self._state.max_bytes}"
        return f"MemoryStore(address={self.address!r}, namespace={self.namespace!r}{bounds})"

    def with_namespace(self, namespace: str) -> Self:
        """Return a store for the child namespace ``namespace``, sharing this store's entries and bounds.

        Raises:
            ValueError: ``namespace`` is not a valid namespace name.
        """
        name = check_namespace(namespace)
        child = object.__new__(type(self))
        child._state = self._state
        child._unbounded = self._unbounded
        child._path = f"{self._path}/{name}" if self._path else name
        child._entries = self._state.entries(child._path)
        child.namespace = child._path
        return child

    def _remove(self, key: str) -> None:
        self._entries.pop(key, None)
        self._state.forget(self._path, key)

    def _live(self, key: str) -> Entry | None:
        """Return the entry of ``key`` unless it is missing or expired (an expired one is removed)."""
        entry = self._entries.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= monotonic():
            self._remove(key)
            return None
        return entry

    def _check_fits(self, data: bytes) -> bytes:
        max_bytes = self._state.max_bytes
        if max_bytes is not None and len(data) > max_bytes:
            raise ValueError(f"A value of {len(data)} bytes cannot fit in a store of max_bytes={max_bytes}")
        return data

    def _store(self, key: str, data: bytes, ttl: float | None) -> None:
        self._put(key, data, None if ttl is None else monotonic() + ttl)

    def _put(self, key: str, data: bytes, expires_at: float | None) -> None:
        self._entries[key] = (data, expires_at)
        self._state.touch(self._path, key, len(data))

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Store ``value`` under ``key``; see :meth:`KVStore.set`.

        Raises:
            TypeError: a wrong type of key, value or expiry.
            ValueError: an empty key, a non-positive expiry, or a value larger than ``max_bytes``.
        """
        # One inline test instead of two validator calls and one flag instead of ``self._state.lru``: both keep
        # ``set 100 B`` of benchmarks/bench_memory.py within 1.2x of its dict floor (see check_item).
        if type(key) is not str or not key or type(value) is not bytes:
            key, value = check_item(key, value)
        if expires_in is None and self._unbounded:  # unbounded and without expiry: nothing else to do
            self._entries[key] = (value, None)
            return
        self._store(key, self._check_fits(value), ttl_seconds(expires_in))

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value of ``key`` or ``None``; with ``renew_for``, an expiring entry gets a new expiry."""
        if type(key) is not str or not key:
            key = check_key(key)
        entry = self._entries.get(key)
        renew_seconds = None if renew_for is None else ttl_seconds(renew_for, "renew_for")
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None:
            now = monotonic()
            if expires_at <= now:
                self._remove(key)
                return None
            if renew_seconds is not None:
                self._entries[key] = (value, now + renew_seconds)
        if not self._unbounded:
            self._state.touch_read(self._path, key)
        return value

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op."""
        self._remove(check_key(key))

    async def delete_all(self) -> None:
        """Delete every entry of this namespace and its child namespaces."""
        state = self._state
        for path in state.paths_under(self._path):
            entries = state.spaces[path]
            if state.lru is not None:
                for key in entries:
                    state.forget(path, key)
            entries.clear()

    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""
        if type(key) is not str or not key:
            check_key(key)
        return self._live(key) is not None

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires, ``None`` if missing/expired/no expiry."""
        entry = self._live(check_key(key))
        if entry is None or entry[1] is None:
            return None
        return remaining_whole_seconds(entry[1] - monotonic())

    async def delete_expired(self) -> int:
        """Remove the expired entries of this namespace and its children and return how many were removed.

        Finds the expired entries in one pass, then removes them in chunks, letting other tasks run between
        chunks, so a large store does not hold up the event loop; it never rebuilds a dictionary.
        """
        removed = 0
        state = self._state
        for path in state.paths_under(self._path):
            entries = state.spaces[path]
            now = monotonic()
            expired = [key for key, (_, expires_at) in entries.items() if expires_at is not None and expires_at <= now]
            for start in range(0, len(expired), _SCAN_CHUNK):
                chunk = expired[start : start + _SCAN_CHUNK]
                if start:
                    await asyncio.sleep(0)
                    # other tasks ran: keep only the entries that are still there and still expired
                    chunk = [key for key in chunk if (entry := entries.get(key)) is not None and _due(entry, now)]
                for key in chunk:
                    del entries[key]
                if state.lru is not None:
                    for key in chunk:
                        state.forget(path, key)
                removed += len(chunk)
        return removed

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Add ``amount`` to the integer counter ``key`` and return the new value.

        Raises:
            TypeError: ``amount`` is not an ``int``.
            ValueError: ``amount`` or the new value does not fit in a signed 64-bit integer, or the stored value is
                not a decimal integer.
        """
        return self._count(((key, expires_in),), check_amount(amount))[0]

    async def incr_and_read(
        self, counters: Sequence[tuple[str, TTL | None]], reads: Sequence[str] = ()
    ) -> tuple[list[int], list[bytes | None]]:
        """Add 1 to each counter and read each key of ``reads`` in one call that never waits (nothing else runs in
        between); the rate limiter counts a request against all its limits with this.

        Each counter is a ``(key, expires_in)`` pair; ``expires_in`` (``None``: never) applies only when this call
        creates the counter, as with :meth:`incr`.

        Returns:
            The counters' new values in order, and the values read in order (``None`` for a missing key).

        Raises:
            TypeError, ValueError: a bad key or expiry, a counter given twice, a counter that holds no integer or
                would overflow (nothing is written).
        """
        return self.incr_and_read_nowait(counters, reads)

    def incr_and_read_nowait(
        self, counters: Sequence[tuple[str, TTL | None]], reads: Sequence[str] = ()
    ) -> tuple[list[int], list[bytes | None]]:
        """:meth:`incr_and_read` without a coroutine (a memory store never waits): the same result and errors. The
        rate limiter counts sliding windows with it where a store offers it."""
        if not reads:
            return self._count(counters, 1), []
        wanted = [check_key(key) for key in reads]
        values = self._count(counters, 1)
        return values, [None if (entry := self._live(key)) is None else entry[0] for key in wanted]

    def counter_group(self, counters: Sequence[tuple[str, TTL | None]]) -> MemoryCounterGroup:
        """Return counters of this store that are counted together: for a key, ``key + suffix`` for each
        ``(suffix, expires_in)`` of ``counters`` (``expires_in``, ``None`` for never, applies to a counter a count
        creates). The rate limiter counts a request's fixed windows with one.

        The suffixes and expiries are checked here, once; a count checks only its key.

        Raises:
            TypeError: a suffix is not a ``str``, or an expiry is of a wrong type.
            ValueError: no counters, a suffix given twice, or a non-positive expiry.
        """
        return MemoryCounterGroup(self, counters)

    def _count(self, counters: Iterable[tuple[object, object]], amount: int) -> list[int]:
        """Add ``amount`` to each ``(key, expires_in)`` counter and return the new values (see :meth:`_add`).

        Raises:
            TypeError, ValueError: a bad key or expiry, a counter given twice, or as :meth:`_add`.
        """
        return self._add(check_counters(counters), amount, "")[0]

    def _add(
        self, counters: Iterable[tuple[str, float | None]], amount: int, prefix: str
    ) -> tuple[list[int], list[float | None]]:
        """Add ``amount`` to the counter ``prefix + key`` of each checked, distinct ``(key, ttl)`` (``key`` non-empty)
        and return the new values and the seconds until each counter expires (``None``: never). An expired counter
        counts as missing; ``ttl`` applies only to a counter this call creates. Nothing is written unless all can be.

        Raises:
            TypeError: ``prefix`` is not a ``str``.
            ValueError: a stored value that is not a decimal integer, a sum outside the signed 64-bit range, or a
                counter larger than ``max_bytes``.
        """
        if type(prefix) is not str:
            prefix = check_prefix(prefix)
        unbounded = self._unbounded  # bounded: every new value is checked to fit before one is written
        values, seconds_left, updates = add_counts(self._entries, counters, amount, prefix, monotonic(), unbounded)
        if not unbounded:
            for _, (data, _) in updates:
                self._check_fits(data)
            for key, (data, expiry) in updates:
                self._put(key, data, expiry)
        return values, seconds_left

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Store ``value`` under ``key`` unless a live entry is there; return whether it wrote.

        Raises:
            TypeError, ValueError: as :meth:`set`.
        """
        return await self.compare_and_set(key, None, value, expires_in)

    async def compare_and_set(
        self, key: str, expected: str | bytes | None, value: str | bytes, expires_in: TTL | None = None
    ) -> bool:
        """Replace the value of ``key`` with ``value`` if it equals ``expected`` (``None``: missing or expired).

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``/``None``, or as :meth:`set`.
            ValueError: as :meth:`set`.
        """
        check_key(key)
        wanted = check_expected(expected)
        data = self._check_fits(encode_value(value))
        ttl = ttl_seconds(expires_in)
        entry = self._live(key)
        if (None if entry is None else entry[0]) != wanted:
            return False
        self._store(key, data, ttl)
        return True

    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        """Delete ``key`` if its value equals ``expected``; return whether it did.

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``, or ``key`` is not a ``str``.
            ValueError: ``key`` is empty.
        """
        check_key(key)
        wanted = check_expected_value(expected)
        entry = self._live(key)
        if entry is None or entry[0] != wanted:
            return False
        self._remove(key)
        return True

    async def keys(self) -> AsyncIterator[str]:
        """Yield the keys of this namespace (not of its children) that are not expired, as of each step."""
        for key in list(self._entries):
            if self._live(key) is not None:
                yield key

    async def namespaces(self) -> AsyncIterator[str]:
        """Yield the names of the direct child namespaces whose tree holds a key that is not expired, each once."""
        prefix = f"{self._path}/" if self._path else ""
        now = monotonic()
        found: set[str] = set()
        for path, entries in list(self._state.spaces.items()):
            if not path.startswith(prefix) or path == self._path:
                continue
            name = path[len(prefix) :].partition("/")[0]
            if name not in found and any(not _due(entry, now) for entry in entries.values()):
                found.add(name)
                yield name

    async def count(self) -> int:
        """Return the number of keys of this namespace (not of its children) that are not expired."""
        now = monotonic()
        return sum(1 for _, expires_at in self._entries.values() if expires_at is None or expires_at > now)

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value, ``None`` for missing or expired keys."""
        return {key: await self.get(key) for key in keys}

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every item of ``mapping`` with the same expiry; all arguments are checked before any write."""
        ttl = ttl_seconds(expires_in)
        items = [(check_key(key), self._check_fits(encode_value(value))) for key, value in mapping.items()]
        for key, data in items:
            self._store(key, data, ttl)


class MemoryCounterGroup:
    """Counters of one :class:`MemoryStore` counted together, without a coroutine: for a key, ``key + suffix`` for
    each suffix. What :meth:`MemoryStore.counter_group` returns.

    Args:
        store: The store (or namespace) that holds the counters.
        counters: ``(suffix, expires_in)`` pairs; ``expires_in`` (``None``: never) applies to a counter a count
            creates, as with :meth:`MemoryStore.incr`.

    Raises:
        TypeError: a suffix is not a ``str``, or an expiry is of a wrong type.
        ValueError: no counters, an empty suffix or one given twice, or a non-positive expiry.
    """

    __slots__ = ("_store", "incr_nowait", "suffixes")

    def __init__(self, store: MemoryStore, counters: Sequence[tuple[str, TTL | None]]) -> None:
        checked: list[tuple[str, float | None]] = []
        for suffix, expires_in in counters:
            if not isinstance(suffix, str):
                raise TypeError(f"A counter's suffix must be a str, not {type(suffix).__name__}")
            if not suffix:
                raise ValueError("A counter's suffix must not be empty")
            checked.append((str(suffix), ttl_seconds(expires_in)))
        if not checked:
            raise ValueError("A counter group needs at least one counter")
        check_distinct([suffix for suffix, _ in checked], within="one counter group")
        self._store = store
        self.suffixes = tuple(suffix for suffix, _ in checked)
        """The suffixes, in order."""
        self.incr_nowait: Callable[[str], tuple[list[int], list[float | None]]] = partial(store._add, tuple(checked), 1)
        """``incr_nowait(key)``: add 1 to each counter ``key + suffix`` at once (nothing else runs in between). A
        counter this call creates (or finds expired) gets its expiry; an existing one keeps the expiry it has.

        Returns:
            The counters' new values, and the seconds until each expires (``None``: never), in the order of the
            suffixes.

        Raises:
            TypeError: ``key`` is not a ``str``.
            ValueError: a counter holds no decimal integer or would leave the signed 64-bit range (nothing is
                written)."""
        # a partial of the store's own counting: one call less on every rate-limited request (bench_rate_limit)

    def __repr__(self) -> str:
        return f"MemoryCounterGroup({self._store!r}, suffixes={list(self.suffixes)!r})"
